// server over TLS (serve_tls, Go's ServeTLS): real clients (curl over HTTP/1.1 and HTTP/2 by
// ALPN, Python's ssl and http.client, openssl s_client) and ringo's own TLS client; plaintext HTTP
// and garbage on the TLS port; the handshake's timeout and its stop by a shutdown; request::stop
// and hijack over TLS; request::tls, client certificates included. Certificates are made at test
// time (test/support/tls_certs); a test whose peer program is missing is skipped.
#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include <ringo/net/tls.hpp>

#include "server_test_support.hpp"
#include "tls_certs.hpp"

namespace ringo::http {
namespace {

using namespace test;
using ringo::test::have_program;

constexpr const char* python = "/usr/bin/python3";  // Debian's: a pyenv one may lack ssl bits
constexpr const char* openssl = "/usr/bin/openssl";

// What the handlers saw, for the tests to check.
struct observations {
  counter started;
  moment stopped;
  string_log errors;  // the server's error_log
  string_log states;  // the conn_state hook's calls
};

// "TLS 1.3 h2 localhost CN=..." for request::tls, "-" for what is empty; "plaintext" without it.
std::string describe_tls(const request& r) {
  if (!r.tls) return "plaintext";
  auto or_dash = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
  return r.tls->version_name() + " " + or_dash(r.tls->negotiated_protocol) + " " +
         or_dash(r.tls->server_name) + " " + or_dash(r.tls->peer_subject) + " HTTP/" +
         std::to_string(r.version_major);
}

// /hello, /tls (request::tls described), /echo (the body back, streamed), /n/K ("n=K"),
// /delay/MS (stops on request::stop), /hijack (the TLS stream taken over).
http::handler tls_handler(observations* seen) {
  return [seen](response_writer& w, request& r) -> task<void> {
    std::string_view path = r.path();
    if (path == "/hello") {
      co_await w.write("Hello, TLS!");
    } else if (path == "/tls") {
      co_await w.write(describe_tls(r));
    } else if (path == "/echo") {
      std::string buf(64 << 10, '\0');
      for (;;) {
        auto n = co_await r.body->read(mutable_buffer(buf.data(), buf.size()));
        if (!n || *n == 0) break;
        if (!co_await w.write(std::string_view(buf.data(), *n))) break;
      }
    } else if (path.starts_with("/n/")) {
      co_await w.write("n=" + std::string(path.substr(3)));
    } else if (path.starts_with("/delay/")) {
      seen->started.bump();
      auto slept = co_await sleep_for(10s, r.stop);
      if (!slept) seen->stopped.mark();
      co_await w.write("slept");
    } else if (path == "/hijack") {
      auto h = co_await w.hijack();
      if (!h) co_return;
      net::stream& s = *h->conn;
      std::string hello = "buffered=" + h->buffered + "\n";
      (void)co_await s.write_all(hello, {}, clock::now() + 5s);
      char ping[5];
      auto n = co_await s.read_full(ping, {}, clock::now() + 5s);
      if (n && std::string_view(ping, 5) == "ping\n")
        (void)co_await s.write_all("pong\n", {}, clock::now() + 5s);
      (void)co_await s.close_write({}, clock::now() + 5s);
      s.close();
    } else {
      w.write_header(status::not_found);
    }
  };
}

class ServerTls : public ringo::test::RingoTest {
 protected:
  void SetUp() override {
    std::string why;
    certs_ = ringo::test::tls_test_certs(&why);  // (made before the fd count starts)
    if (!certs_) GTEST_SKIP() << why;
    RingoTest::SetUp();
  }
  const ringo::test::test_certs& certs() const { return *certs_; }
  net::tls_config server_config() const {
    return {.certificates = {{net::pem::file(certs_->leaf), net::pem::file(certs_->leaf_key)}}};
  }
  net::tls_config client_config() const { return {.root_cas = {net::pem::file(certs_->ca)}}; }

 private:
  const ringo::test::test_certs* certs_ = nullptr;
};

// A server over TLS on its own thread, its errors logged into `seen.errors`.
struct tls_server {
  observations seen;
  http::server srv;
  std::optional<server_thread> thread;
  explicit tls_server(net::tls_config config, duration read_header_timeout = 60s,
                      bool http2 = true) {
    srv.handler = tls_handler(&seen);
    srv.http2.over_tls = http2;
    srv.read_header_timeout = read_header_timeout;
    srv.error_log = [this](std::string_view m) { seen.errors.add(std::string(m)); };
    srv.conn_state_hook = [this](const net::stream&, conn_state st) {
      seen.states.add(std::string(to_string(st)));
    };
    thread.emplace(srv, std::move(config));
  }
  std::string url(std::string_view path) const { return thread->url(path); }
  std::uint16_t port() const { return thread->port(); }
};

// Reads `s` until the end of the stream (or an error, or 10 s).
task<std::string> read_all(net::stream& s) {
  std::string out;
  char buf[16384];
  for (;;) {
    auto n = co_await s.read(buf, {}, clock::now() + 10s);
    if (!n || *n == 0) break;
    out.append(buf, *n);
  }
  co_return out;
}

// Reads `s` until `needle` arrived (or the end, or 10 s).
task<std::string> read_until(net::stream& s, std::string_view needle) {
  std::string out;
  char buf[4096];
  while (out.find(needle) == std::string::npos) {
    auto n = co_await s.read(buf, {}, clock::now() + 10s);
    if (!n || *n == 0) break;
    out.append(buf, *n);
  }
  co_return out;
}

std::size_t count_of(std::string_view text, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

// --- Real clients ------------------------------------------------------------------------------

TEST_F(ServerTls, CurlGetsRoutesOverHttp11AndOverHttp2ByAlpn) {
  auto curl = find_program("curl");
  if (curl.empty()) GTEST_SKIP() << "curl is not installed";
  tls_server s(server_config());
  const std::string port = std::to_string(s.port());
  const std::string base = "https://localhost:" + port;
  const std::string resolve = "localhost:" + port + ":127.0.0.1";  // SNI "localhost", on loopback
  auto r = run_process({curl, "-sS", "--http1.1", "--cacert", certs().ca, "--resolve", resolve,
                        base + "/hello", base + "/tls"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Hello, TLS!TLS 1.3 http/1.1 localhost - HTTP/1");
  auto h2 = run_process({curl, "-sS", "--http2", "-w", " %{http_version}", "--cacert", certs().ca,
                         "--resolve", resolve, base + "/tls"});
  ASSERT_EQ(h2.exit_code, 0) << h2.err;
  EXPECT_EQ(h2.out, "TLS 1.3 h2 localhost - HTTP/2 2");
  // An IP literal: no SNI, the certificate's IP SAN verified.
  auto ip = run_process({curl, "-sS", "--http1.1", "--cacert", certs().ca, s.url("/tls")});
  ASSERT_EQ(ip.exit_code, 0) << ip.err;
  EXPECT_EQ(ip.out, "TLS 1.3 http/1.1 - - HTTP/1");
}

TEST_F(ServerTls, Http2OverTlsCanBeTurnedOff) {
  auto curl = find_program("curl");
  if (curl.empty()) GTEST_SKIP() << "curl is not installed";
  tls_server s(server_config(), 60s, /*http2=*/false);
  auto r = run_process(
      {curl, "-sS", "--http2", "-w", " %{http_version}", "--cacert", certs().ca, s.url("/tls")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "TLS 1.3 http/1.1 - - HTTP/1 1.1");
}

TEST_F(ServerTls, CurlSendsAndGets20MiBByteExactOverBothProtocols) {
  auto curl = find_program("curl");
  if (curl.empty()) GTEST_SKIP() << "curl is not installed";
  tls_server s(server_config());
  temp_dir dir;
  std::string body(20 << 20, '\0');
  for (std::size_t i = 0; i < body.size(); ++i)
    body[i] = static_cast<char>((i * 2654435761u) >> 13);
  const std::string in = (dir.path / "in").string(), out = (dir.path / "out").string();
  std::ofstream(in, std::ios::binary) << body;
  for (const char* version : {"--http1.1", "--http2"}) {
    auto r = run_process({curl, "-sS", version, "--cacert", certs().ca, "-H",
                          "Content-Type: application/octet-stream", "--data-binary", "@" + in, "-o",
                          out, s.url("/echo")},
                         {}, "", 120s);
    ASSERT_EQ(r.exit_code, 0) << version << ": " << r.err;
    std::ifstream f(out, std::ios::binary);
    std::string got((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    EXPECT_EQ(got.size(), body.size()) << version;
    EXPECT_TRUE(got == body) << version << ": the echoed body differs";
  }
}

constexpr const char* python_pipelining = R"(
import socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
ctx.set_alpn_protocols(["http/1.1"])
with socket.create_connection(("127.0.0.1", port)) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        reqs = b"".join(b"GET /n/%d HTTP/1.1\r\nHost: localhost\r\n\r\n" % i for i in range(5))
        s.sendall(reqs + b"GET /tls HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        sys.stdout.write(data.decode())
)";

TEST_F(ServerTls, PythonSslSocketPipelinesRequests) {
  if (!have_program(python)) GTEST_SKIP() << "no " << python;
  tls_server s(server_config());
  auto r = run_process({python, "-c", python_pipelining, std::to_string(s.port()), certs().ca});
  ASSERT_EQ(r.exit_code, 0) << r.err;  // (a close without close_notify raises SSLEOFError)
  EXPECT_EQ(count_of(r.out, "HTTP/1.1 200 OK\r\n"), 6u) << r.out;
  std::size_t at = 0;
  for (int i = 0; i < 5; ++i) {
    at = r.out.find("n=" + std::to_string(i), at);
    ASSERT_NE(at, std::string::npos) << i << ": " << r.out;
  }
  EXPECT_NE(r.out.find("TLS 1.3 http/1.1 localhost - HTTP/1", at), std::string::npos) << r.out;
}

constexpr const char* python_http_client = R"(
import http.client, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
c = http.client.HTTPSConnection("localhost", port, context=ctx)
for path in ["/hello", "/tls"]:
    c.request("GET", path)
    r = c.getresponse()
    print(r.status, r.read().decode())
c.request("POST", "/echo", body=b"x" * 100000)
r = c.getresponse()
print(r.status, len(r.read()))
c.close()
)";

TEST_F(ServerTls, PythonHttpClientKeepsAlive) {
  if (!have_program(python)) GTEST_SKIP() << "no " << python;
  tls_server s(server_config());
  auto r = run_process({python, "-c", python_http_client, std::to_string(s.port()), certs().ca});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // (http.client offers no ALPN when given a context of its own.)
  EXPECT_EQ(r.out, "200 Hello, TLS!\n200 TLS 1.3 - localhost - HTTP/1\n200 100000\n");
}

TEST_F(ServerTls, OpensslSClientGetsAnAnswer) {
  if (!have_program(openssl)) GTEST_SKIP() << "no " << openssl;
  tls_server s(server_config());
  auto r = run_process({openssl, "s_client", "-connect", s.thread->address(), "-CAfile", certs().ca,
                        "-verify_return_error", "-servername", "localhost", "-alpn", "http/1.1",
                        "-tls1_2", "-quiet"},
                       {}, "GET /tls HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("HTTP/1.1 200 OK\r\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("TLS 1.2 http/1.1 localhost - HTTP/1"), std::string::npos) << r.out;
}

// --- What is not TLS ---------------------------------------------------------------------------

TEST_F(ServerTls, PlaintextHttpGetsGosAnswerAndAClose) {
  tls_server s(server_config());
  raw_client c(s.port());
  c.send(get_request("/hello"));
  EXPECT_EQ(c.read_until_close(),
            "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n");
  ASSERT_TRUE(s.seen.errors.wait_for_size(1));
  EXPECT_NE(s.seen.errors.joined().find("TLS handshake error from 127.0.0.1:" /* port */),
            std::string::npos);
  EXPECT_NE(s.seen.errors.joined().find("client sent an HTTP request to an HTTPS server"),
            std::string::npos)
      << s.seen.errors.joined();
  EXPECT_EQ(s.thread->connections(), 0u);
}

TEST_F(ServerTls, GarbageIsClosedWithoutAnAnswer) {
  tls_server s(server_config());
  raw_client c(s.port());
  c.send("hello there, not TLS at all\r\n\r\n");
  EXPECT_EQ(c.read_until_close(), "");
  ASSERT_TRUE(s.seen.errors.wait_for_size(1));
  EXPECT_NE(s.seen.errors.joined().find("TLS handshake error"), std::string::npos);
}

// --- The handshake's limits --------------------------------------------------------------------

TEST_F(ServerTls, AClientThatSendsNothingIsDroppedAfterTheReadHeaderTimeout) {
  tls_server s(server_config(), 300ms);
  raw_client c(s.port());
  const auto t0 = steady::now();
  EXPECT_TRUE(c.closed_within(5s));
  const auto took = steady::now() - t0;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 3s);
  EXPECT_EQ(c.unread(), "");
  EXPECT_TRUE(s.seen.errors.wait_for_size(1));
  EXPECT_EQ(s.thread->connections(), 0u);
}

TEST_F(ServerTls, AShutdownStopsHandshakesInFlight) {
  tls_server s(server_config(), 60s);
  raw_client silent(s.port());  // connected, no ClientHello
  raw_client partial(s.port());
  partial.send(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));  // a start
  while (s.thread->connections() < 2) std::this_thread::sleep_for(1ms);
  const auto t0 = steady::now();
  auto done = s.thread->shutdown();
  ASSERT_EQ(done.wait_for(5s), std::future_status::ready);
  EXPECT_LT(steady::now() - t0, 2s);
  EXPECT_TRUE(silent.closed_within(2s));
  EXPECT_TRUE(partial.closed_within(2s));
  EXPECT_TRUE(s.thread->wait_served(5s));
  EXPECT_EQ(s.seen.errors.lines().size(), 0u) << s.seen.errors.joined();  // a stop is no error
}

TEST_F(ServerTls, ACloseStopsHandshakesInFlight) {
  tls_server s(server_config(), 60s);
  raw_client silent(s.port());
  while (s.thread->connections() < 1) std::this_thread::sleep_for(1ms);
  s.thread->close();
  EXPECT_TRUE(silent.closed_within(2s));
  EXPECT_TRUE(s.thread->wait_served(5s));
}

// --- ringo's own client: what the handler sees of the connection --------------------------------

TEST_F(ServerTls, RequestStopFiresWhenATlsClientLeavesMidHandler) {
  tls_server s(server_config());
  net::tls_context ctx(client_config());
  const std::string where = s.thread->address();
  observations* seen = &s.seen;
  ringo::run([&]() -> task<void> {
    auto c = co_await net::dial_tls("tcp", where, ctx);
    EXPECT_TRUE(c) << c.error().message();
    if (!c) co_return;
    EXPECT_TRUE(co_await c->write_all(get_request("/delay/10000")));
    EXPECT_TRUE(seen->started.wait_for(1));
    c->close();  // (no close_notify: a client that vanished)
  }());
  EXPECT_TRUE(s.seen.stopped.wait_for(3s)) << "request::stop did not fire";
}

TEST_F(ServerTls, HijackHandsOverTheTlsStreamWithItsBufferedBytes) {
  tls_server s(server_config());
  net::tls_context ctx(client_config());
  const std::string where = s.thread->address();
  ringo::run([&]() -> task<void> {
    auto c = co_await net::dial_tls("tcp", where, ctx);
    EXPECT_TRUE(c) << c.error().message();
    if (!c) co_return;
    EXPECT_TRUE(co_await c->write_all(get_request("/hijack") + "early"));
    std::string hello = co_await read_until(*c, "\n");
    EXPECT_EQ(hello, "buffered=early\n");
    EXPECT_TRUE(co_await c->write_all("ping\n"));
    EXPECT_EQ(co_await read_all(*c), "pong\n");  // then close_notify: a clean end
  }());
  EXPECT_EQ(s.thread->connections(), 0u);
}

TEST_F(ServerTls, RequestTlsDescribesTheConnection) {
  tls_server s(server_config());
  net::tls_config cc = client_config();
  cc.next_protos = {"http/1.1"};
  net::tls_context ctx(cc);
  const std::string where = s.thread->address();
  ringo::run([&]() -> task<void> {
    auto raw = co_await net::dial("tcp", where);
    EXPECT_TRUE(raw);
    if (!raw) co_return;
    auto c = co_await net::tls_client(std::move(*raw), ctx, {}, clock::now() + 10s, "localhost");
    EXPECT_TRUE(c) << c.error().message();
    if (!c) co_return;
    std::string req = "GET /tls HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    EXPECT_TRUE(co_await c->write_all(req));
    std::string answer = co_await read_all(*c);
    EXPECT_NE(answer.find("\r\n\r\nTLS 1.3 http/1.1 localhost - HTTP/1"), std::string::npos)
        << answer;
  }());
  // The conn_state hook hears of the connection from the handshake's end.
  EXPECT_TRUE(s.seen.states.wait_for_size(3));
  EXPECT_EQ(s.seen.states.joined(), "new active closed");
  EXPECT_EQ(s.thread->connections(), 0u);
}

TEST_F(ServerTls, ClientCertificatesReachTheHandler) {
  net::tls_config sc = server_config();
  sc.client_auth = net::client_auth_type::require_and_verify_client_cert;
  sc.client_cas = {net::pem::file(certs().ca)};
  tls_server s(sc);
  net::tls_config with = client_config();
  with.certificates = {{net::pem::file(certs().client), net::pem::file(certs().client_key)}};
  net::tls_context ctx(with), without(client_config());
  const std::string where = s.thread->address();
  ringo::run([&]() -> task<void> {
    auto c = co_await net::dial_tls("tcp", where, ctx);
    EXPECT_TRUE(c) << c.error().message();
    if (!c) co_return;
    EXPECT_TRUE(
        co_await c->write_all("GET /tls HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
    std::string answer = co_await read_all(*c);
    EXPECT_NE(answer.find("CN=ringo client"), std::string::npos) << answer;
    // Without a certificate the server refuses (TLS 1.3: the client learns it on its first read).
    auto refused = co_await net::dial_tls("tcp", where, without);
    if (refused) {
      (void)co_await refused->write_all(get_request("/tls"));
      char buf[64];
      auto n = co_await refused->read(buf, {}, clock::now() + 10s);
      EXPECT_FALSE(n && *n > 0) << "served without a client certificate";
    }
  }());
  EXPECT_TRUE(s.seen.errors.wait_for_size(1));
}

TEST_F(ServerTls, PlaintextRequestsHaveNoTlsState) {
  observations seen;
  http::server srv(tls_handler(&seen));
  server_thread t(srv);
  raw_client c(t.port());
  c.send(get_request("/tls"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "plaintext");
}

TEST_F(ServerTls, AConfigThatDoesNotBuildFailsServeTls) {
  http::server srv(tls_handler(nullptr));
  ringo::run([&]() -> task<void> {
    auto l = net::listen("tcp", "127.0.0.1:0");
    EXPECT_TRUE(l);
    if (!l) co_return;
    const std::string where = l->addr().to_string();
    net::tls_config bad{.certificates = {{net::pem::file("/nonexistent/cert.pem"),
                                          net::pem::file("/nonexistent/key.pem")}}};
    auto r = co_await srv.serve_tls(*l, bad);
    EXPECT_FALSE(r);
    if (r) co_return;
    EXPECT_EQ(r.error().message().rfind("listen tcp " + where + ": tls: ", 0), 0u)
        << r.error().message();
    EXPECT_NE(r.error().message().find("no such file or directory"), std::string::npos)
        << r.error().message();
    EXPECT_FALSE(l->is_open());
  }());
}

}  // namespace
}  // namespace ringo::http
