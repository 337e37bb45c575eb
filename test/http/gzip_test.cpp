// The transport's transparent gzip (Go's rule): asked for and decoded only when the caller set no
// Accept-Encoding or Range; the raw bytes for a caller that set it; nothing with
// disable_compression; a corrupt or cut stream is an error; a gzip bomb is bounded by read_all's
// limit. Against ringo's own server and, when installed, nginx with `gzip on`.
#include <fstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <zlib.h>

#include <gtest/gtest.h>

#include <ringo/http.hpp>
#include <ringo/http/httptest.hpp>

#include "server_test_support.hpp"

namespace ringo::http {
namespace {

using namespace std::chrono_literals;

class Gzip : public ringo::test::RingoTest {};

std::uint16_t free_port() {
  unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

std::string gzip(std::string_view data) {
  z_stream s{};
  deflateInit2(&s, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&s, data.size()) + 64, '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  s.avail_in = static_cast<uInt>(data.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  deflate(&s, Z_FINISH);
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

std::string text() {
  std::string t;
  for (int i = 0; i < 20000; ++i) t += "line " + std::to_string(i) + " of a compressible text\n";
  return t;
}

// Answers gzip when asked (the Accept-Encoding it saw goes in X-Saw-Accept-Encoding); /corrupt
// and /cut send broken streams; /bomb 64 MiB of zeros in ~64 KB.
task<void> gzip_handler(response_writer& w, request& r) {
  w.header().set("X-Saw-Accept-Encoding",
                 std::string(r.header.get("Accept-Encoding").value_or("")));
  std::string body = r.path() == "/bomb" ? std::string(64 << 20, '\0') : text();
  if (!r.header.has_token("Accept-Encoding", "gzip")) co_return (void) co_await w.write(body);
  std::string z = gzip(body);
  if (r.path() == "/corrupt") z[z.size() / 2] ^= 0x55, z[z.size() / 2 + 1] ^= 0x55;
  if (r.path() == "/cut") z.resize(z.size() / 2);
  if (r.path() == "/twice") z += gzip("and a second member\n");
  if (r.path() == "/stall") {  // half the stream, then nothing until the client leaves
    z.resize(z.size() / 2);
    w.header().set("Content-Encoding", "gzip");
    co_await w.write(z);
    co_await w.flush();
    (void)co_await sleep_for(10s, r.stop);
    co_return;
  }
  w.header().set("Content-Encoding", "gzip");
  w.header().set("Content-Length", std::to_string(z.size()));
  co_await w.write(z);
}

struct got {
  int status = 0;
  std::string body;
  std::error_code error;
  bool uncompressed = false;
  std::string content_encoding, saw;
  bool has_length = false;
};

task<got> get(std::string url, headers extra, transport_options o, std::size_t limit) {
  transport t(std::move(o));
  client_request req;
  req.url = parse_url(url).value();
  req.header = std::move(extra);
  got g;
  auto r = co_await t.round_trip(std::move(req));
  if (r) {
    g.status = r->status;
    g.uncompressed = r->uncompressed;
    g.content_encoding = std::string(r->header.get("Content-Encoding").value_or(""));
    g.saw = std::string(r->header.get("X-Saw-Accept-Encoding").value_or(""));
    g.has_length = r->header.contains("Content-Length");
    auto b = co_await r->body->read_all(limit);
    if (b)
      g.body = std::move(*b);
    else
      g.error = b.error();
  } else {
    g.error = r.error().code();
  }
  co_await t.close();
  co_return g;
}

got fetch_with(const std::string& url, headers extra = {}, transport_options o = {},
               std::size_t limit = 64 << 20) {
  return ringo::run(get(url, std::move(extra), std::move(o), limit));
}

TEST_F(Gzip, TheTransportAsksForGzipAndDecodesIt) {
  httptest::server srv(gzip_handler);
  got g = fetch_with(srv.url() + "/text");
  EXPECT_EQ(g.saw, "gzip");
  EXPECT_TRUE(g.uncompressed);
  EXPECT_EQ(g.content_encoding, "");
  EXPECT_FALSE(g.has_length);
  EXPECT_TRUE(g.body == text()) << g.error.message();
  got twice = fetch_with(srv.url() + "/twice");  // concatenated members, as Go reads them
  EXPECT_EQ(twice.body, text() + "and a second member\n");
}

TEST_F(Gzip, ACallerThatSetAcceptEncodingGetsTheRawBytes) {
  httptest::server srv(gzip_handler);
  headers h;
  h.set("Accept-Encoding", "gzip");
  got g = fetch_with(srv.url() + "/text", h);
  EXPECT_FALSE(g.uncompressed);
  EXPECT_EQ(g.content_encoding, "gzip");
  EXPECT_TRUE(g.body == gzip(text()));
}

TEST_F(Gzip, DisableCompressionAndRangeAskForNothing) {
  httptest::server srv(gzip_handler);
  got off = fetch_with(srv.url() + "/text", {}, {.disable_compression = true});
  EXPECT_EQ(off.saw, "");
  EXPECT_TRUE(off.body == text());
  headers range;
  range.set("Range", "bytes=0-9");
  got ranged = fetch_with(srv.url() + "/text", range);
  EXPECT_EQ(ranged.saw, "");
}

TEST_F(Gzip, ACorruptOrCutStreamIsAnError) {
  httptest::server srv(gzip_handler);
  got corrupt = fetch_with(srv.url() + "/corrupt");
  EXPECT_EQ(corrupt.error, errc::gzip_invalid) << corrupt.error.message();
  EXPECT_EQ(corrupt.error.message(), "gzip: invalid compressed data");
  got cut = fetch_with(srv.url() + "/cut");
  EXPECT_EQ(cut.error, net::errc::unexpected_eof) << cut.error.message();
}

TEST_F(Gzip, ABombIsBoundedByTheReadersLimit) {
  httptest::server srv(gzip_handler);
  got g = fetch_with(srv.url() + "/bomb", {}, {}, 1 << 20);
  EXPECT_EQ(g.error, errc::body_too_large);
}

TEST_F(Gzip, ReadingIsStoppedByItsToken) {
  httptest::server srv(gzip_handler);
  auto body = [](std::string url) -> task<std::error_code> {
    transport t;
    client_request req;
    req.url = parse_url(url).value();
    std::error_code ec;
    if (auto r = co_await t.round_trip(std::move(req))) {
      std::stop_source s;
      s.request_stop();
      char buf[4096];
      // Reads that decode bytes already buffered succeed; the first that must wait for the
      // server (which stalls) sees the stop.
      for (int i = 0; i < 100000 && !ec; ++i) {
        auto n = co_await r->body->read(mutable_buffer(buf, sizeof buf), s.get_token());
        if (!n)
          ec = n.error();
        else if (*n == 0)
          break;
      }
    }
    co_await t.close();
    co_return ec;
  };
  std::error_code ec = ringo::run(body(srv.url() + "/stall"));
  EXPECT_EQ(ec, ringo::errc::operation_canceled) << ec.message();
}

TEST_F(Gzip, DecodesWhatNginxCompresses) {
  const std::string nginx = test::find_program("nginx").empty()
                                ? (access("/usr/sbin/nginx", X_OK) == 0 ? "/usr/sbin/nginx" : "")
                                : test::find_program("nginx");
  if (nginx.empty()) GTEST_SKIP() << "nginx is not installed";
  test::temp_dir dir;
  std::filesystem::permissions(dir.path, std::filesystem::perms(0755));
  std::filesystem::create_directories(dir.path / "www");
  std::ofstream(dir.path / "www" / "text.txt") << text();
  std::filesystem::permissions(dir.path / "www" / "text.txt", std::filesystem::perms(0644));
  const std::uint16_t port = free_port();
  std::ofstream(dir.path / "nginx.conf")
      << "worker_processes 1; daemon off; pid " << dir.path.string() << "/nginx.pid;\n"
      << "error_log " << dir.path.string() << "/error.log;\n"
      << "events {}\nhttp { access_log off; gzip on; gzip_min_length 0; gzip_types text/plain;\n"
      << "  client_body_temp_path " << dir.path.string() << "/b; proxy_temp_path "
      << dir.path.string() << "/p; fastcgi_temp_path " << dir.path.string() << "/f;\n"
      << "  uwsgi_temp_path " << dir.path.string() << "/u; scgi_temp_path " << dir.path.string()
      << "/s;\n  types { text/plain txt; }\n"
      << "  server { listen 127.0.0.1:" << port << "; root " << dir.path.string() << "/www; } }\n";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl(nginx.c_str(), "nginx", "-p", dir.path.c_str(), "-c", (dir.path / "nginx.conf").c_str(),
            "-e", "stderr", nullptr);
    ::_exit(127);
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/text.txt";
  got g;
  for (int i = 0; i < 100; ++i) {
    g = fetch_with(url);
    if (g.status == 200) break;
    std::this_thread::sleep_for(50ms);
  }
  got raw;
  headers h;
  h.set("Accept-Encoding", "gzip");
  raw = fetch_with(url, h);
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  ASSERT_EQ(g.status, 200) << g.error.message();
  EXPECT_TRUE(g.uncompressed);
  EXPECT_TRUE(g.body == text()) << g.body.size();
  EXPECT_EQ(raw.content_encoding, "gzip");
  EXPECT_LT(raw.body.size(), text().size() / 4);
}

}  // namespace
}  // namespace ringo::http
