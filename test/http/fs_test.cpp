// Serving files: serve_content's ranges and conditionals (Go's fs_test.go tables), sniffing (Go's
// sniff_test.go), file_server's redirects, index.html, listings and the paths that must never
// leave its root, all on a response_recorder; then over a socket: a 1 GiB sparse file at full
// speed with the process's memory flat, and curl's ranges compared with the file.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>

#include <ringo/http.hpp>
#include <ringo/http/httptest.hpp>

#include "range.hpp"
#include "server_test_support.hpp"

namespace ringo::http {
namespace {

using httptest::new_request;
using httptest::response_recorder;
using namespace std::chrono_literals;

class ServeContent : public ringo::test::RingoTest {};
class FileServer : public ringo::test::RingoTest {};
class Sniff : public ringo::test::RingoTest {};

constexpr std::string_view content = "0123456789\n";  // Go's testdata/file is 11 bytes too
const sys_time modtime = std::chrono::sys_days(std::chrono::year(2012) / 3 / 4) + 5h + 6min;
constexpr const char* modtime_text = "Sun, 04 Mar 2012 05:06:00 GMT";

struct fields {
  std::vector<std::pair<std::string, std::string>> list;
};

// Runs serve_content on a recorder for a request with `request_fields`, the response's ETag
// `etag` ("" for none).
void serve(response_recorder& rec, std::string_view method, const fields& request_fields,
           std::string etag = {}, std::string name = "file.txt") {
  auto req = new_request(method, "/file.txt");
  for (const auto& [k, v] : request_fields.list) req.header.add(k, v);
  if (!etag.empty()) rec.writer().header().set("Etag", etag);
  string_content c{std::string(content)};
  ringo::run(serve_content(rec.writer(), req, name, modtime, c));
}

TEST_F(ServeContent, ServesTheWholeContentWithTypeLengthAndLastModified) {
  response_recorder rec;
  serve(rec, "GET", {});
  EXPECT_EQ(rec.code(), 200);
  EXPECT_EQ(rec.body(), content);
  EXPECT_EQ(rec.header().get("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(rec.header().get("Content-Length"), "11");
  EXPECT_EQ(rec.header().get("Accept-Ranges"), "bytes");
  EXPECT_EQ(rec.header().get("Last-Modified"), modtime_text);
  EXPECT_FALSE(rec.header().contains("Etag"));  // as Go: none made up
}

TEST_F(ServeContent, HeadSendsTheFieldsAndNoBody) {
  response_recorder rec(/*head_request=*/true);
  serve(rec, "HEAD", {});
  EXPECT_EQ(rec.code(), 200);
  EXPECT_EQ(rec.body(), "");
  EXPECT_EQ(rec.header().get("Content-Length"), "11");
}

// Go's ServeFileRangeTests, on 11 bytes.
TEST_F(ServeContent, AnswersRangesAsGoDoes) {
  struct {
    const char* range;
    int code;
    std::vector<std::pair<int, int>> ranges;  // [start, end) of each part
  } cases[] = {
      {"", 200, {{0, 11}}},
      {"bytes=0-4", 206, {{0, 5}}},
      {"bytes=2-", 206, {{2, 11}}},
      {"bytes=-5", 206, {{6, 11}}},
      {"bytes=3-7", 206, {{3, 8}}},
      {"bytes=0-0,-2", 206, {{0, 1}, {9, 11}}},
      {"bytes=0-1,5-8", 206, {{0, 2}, {5, 9}}},
      {"bytes=0-1,5-", 206, {{0, 2}, {5, 11}}},
      {"bytes=5-1000", 206, {{5, 11}}},
      {"bytes=0,5", 416, {}},
      {"bytes=-", 416, {}},
      {"bytes=5-1", 416, {}},
      {"bytes=20-30", 416, {}},
      {"bytes=0-10,0-10,0-10", 200, {{0, 11}}},  // more than the file: sent whole
      {"items=0-5", 416, {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.range);
    response_recorder rec;
    fields f;
    if (*c.range) f.list.emplace_back("Range", c.range);
    serve(rec, "GET", f);
    ASSERT_EQ(rec.code(), c.code);
    if (c.code == 416) {
      if (std::string_view(c.range) == "bytes=20-30") {
        EXPECT_EQ(rec.header().get("Content-Range"), "bytes */11");
      }
      continue;
    }
    if (c.ranges.size() == 1) {
      const auto [b, e] = c.ranges.front();
      EXPECT_EQ(rec.body(), content.substr(b, e - b));
      if (c.code == 206) {
        EXPECT_EQ(rec.header().get("Content-Range"),
                  "bytes " + std::to_string(b) + "-" + std::to_string(e - 1) + "/11");
      }
      continue;
    }
    // multipart/byteranges: each part's Content-Range and bytes, in order.
    std::string_view type = rec.header().get("Content-Type").value_or("");
    ASSERT_TRUE(type.starts_with("multipart/byteranges; boundary=")) << type;
    const std::string boundary(type.substr(type.find('=') + 1));
    EXPECT_EQ(rec.header().get("Content-Length"), std::to_string(rec.body().size()));
    std::string want;
    for (const auto& [b, e] : c.ranges) {
      want += (want.empty() ? "--" : "\r\n--") + boundary + "\r\nContent-Range: bytes " +
              std::to_string(b) + "-" + std::to_string(e - 1) +
              "/11\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
              std::string(content.substr(b, e - b));
    }
    want += "\r\n--" + boundary + "--\r\n";
    EXPECT_EQ(rec.body(), want);
  }
}

TEST_F(ServeContent, AnEmptyFileIgnoresARangeInsteadOfA416) {
  response_recorder rec;
  auto req = new_request("GET", "/empty");
  req.header.add("Range", "bytes=0-10");
  string_content c{""};
  ringo::run(serve_content(rec.writer(), req, "empty.txt", modtime, c));
  EXPECT_EQ(rec.code(), 200);
}

// Go's TestServeContent cases for the conditional fields.
TEST_F(ServeContent, AnswersConditionalRequestsAsGoDoes) {
  struct {
    const char* name;
    const char* method;
    std::string etag;
    fields request;
    int code;
  } cases[] = {
      {"no conditions", "GET", "", {}, 200},
      {"if-none-match matches", "GET", "\"foo\"", {{{"If-None-Match", "\"foo\""}}}, 304},
      {"if-none-match weak", "GET", "W/\"foo\"", {{{"If-None-Match", "\"foo\""}}}, 304},
      {"if-none-match star", "GET", "\"foo\"", {{{"If-None-Match", "*"}}}, 304},
      {"if-none-match list", "GET", "\"foo\"", {{{"If-None-Match", "\"bar\", \"foo\""}}}, 304},
      {"if-none-match other", "GET", "\"foo\"", {{{"If-None-Match", "\"bar\""}}}, 200},
      {"if-none-match on POST", "POST", "\"foo\"", {{{"If-None-Match", "\"foo\""}}}, 412},
      {"if-modified-since equal", "GET", "", {{{"If-Modified-Since", modtime_text}}}, 304},
      {"if-modified-since later",
       "GET",
       "",
       {{{"If-Modified-Since", "Mon, 05 Mar 2012 05:06:00 GMT"}}},
       304},
      {"if-modified-since earlier",
       "GET",
       "",
       {{{"If-Modified-Since", "Sat, 03 Mar 2012 05:06:00 GMT"}}},
       200},
      {"if-modified-since unparsable", "GET", "", {{{"If-Modified-Since", "yesterday"}}}, 200},
      {"if-none-match wins over if-modified-since",
       "GET",
       "\"foo\"",
       {{{"If-None-Match", "\"bar\""}, {"If-Modified-Since", modtime_text}}},
       200},
      {"if-match matches", "GET", "\"foo\"", {{{"If-Match", "\"foo\""}}}, 200},
      {"if-match weak never matches", "GET", "W/\"foo\"", {{{"If-Match", "W/\"foo\""}}}, 412},
      {"if-match other", "GET", "\"foo\"", {{{"If-Match", "\"bar\""}}}, 412},
      {"if-match star", "GET", "", {{{"If-Match", "*"}}}, 200},
      {"if-unmodified-since earlier",
       "GET",
       "",
       {{{"If-Unmodified-Since", "Sat, 03 Mar 2012 05:06:00 GMT"}}},
       412},
      {"if-unmodified-since equal", "GET", "", {{{"If-Unmodified-Since", modtime_text}}}, 200},
      {"if-range etag matches",
       "GET",
       "\"foo\"",
       {{{"Range", "bytes=0-4"}, {"If-Range", "\"foo\""}}},
       206},
      {"if-range etag differs",
       "GET",
       "\"foo\"",
       {{{"Range", "bytes=0-4"}, {"If-Range", "\"bar\""}}},
       200},
      {"if-range date matches",
       "GET",
       "",
       {{{"Range", "bytes=0-4"}, {"If-Range", modtime_text}}},
       206},
      {"if-range date differs",
       "GET",
       "",
       {{{"Range", "bytes=0-4"}, {"If-Range", "Sat, 03 Mar 2012 05:06:00 GMT"}}},
       200},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    response_recorder rec(std::string_view(c.method) == "HEAD");
    serve(rec, c.method, c.request, c.etag);
    EXPECT_EQ(rec.code(), c.code);
    if (c.code == 304) {
      EXPECT_EQ(rec.body(), "");
      EXPECT_FALSE(rec.header().contains("Content-Type"));
      EXPECT_FALSE(rec.header().contains("Content-Length"));
      EXPECT_EQ(rec.header().contains("Last-Modified"), c.etag.empty());
    }
  }
}

TEST_F(ServeContent, KeepsAContentTypeTheHandlerSetAndSniffsWithoutAnExtension) {
  response_recorder rec;
  rec.writer().header().set("Content-Type", "application/x-mine");
  serve(rec, "GET", {});
  EXPECT_EQ(rec.header().get("Content-Type"), "application/x-mine");
  response_recorder sniffed;
  auto req = new_request("GET", "/x");
  string_content html{"<!DOCTYPE html><p>hi"};
  ringo::run(serve_content(sniffed.writer(), req, "noext", modtime, html));
  EXPECT_EQ(sniffed.header().get("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(type_by_extension(".HTML"), "text/html; charset=utf-8");
  EXPECT_EQ(type_by_extension(".js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(type_by_extension(".nosuchext"), "");
}

// Go's sniff_test.go table (a selection).
TEST_F(Sniff, DetectsContentTypesAsGoDoes) {
  struct {
    std::string data;
    std::string_view type;
  } cases[] = {
      {"", "text/plain; charset=utf-8"},
      {std::string(1, '\0'), "application/octet-stream"},
      {"\x01\x02\x03", "application/octet-stream"},
      {"<HtMl><bOdY>blah blah blah</body></html>", "text/html; charset=utf-8"},
      {"\n<html>blah</html>", "text/html; charset=utf-8"},
      {"   <!DOCTYPE HTML>...", "text/html; charset=utf-8"},
      {"<html", "text/plain; charset=utf-8"},  // no tag-terminating byte
      {"<?xml version=\"1.0\"?>", "text/xml; charset=utf-8"},
      {"%PDF-1.4", "application/pdf"},
      {"%!PS-Adobe-3.0", "application/postscript"},
      {std::string("\xFE\xFF\x00\x00", 4), "text/plain; charset=utf-16be"},
      {"\xEF\xBB\xBFhello", "text/plain; charset=utf-8"},
      {"GIF87a", "image/gif"},
      {"GIF89a...", "image/gif"},
      {"\x89PNG\x0D\x0A\x1A\x0A", "image/png"},
      {"\xFF\xD8\xFF", "image/jpeg"},
      {"BM...", "image/bmp"},
      {std::string("RIFF\x00\x00\x00\x00WEBPVP", 14), "image/webp"},
      {std::string("\x00\x00\x01\x00", 4), "image/x-icon"},
      {std::string("FORM\x00\x00\x00\x00"
                   "AIFF",
                   12),
       "audio/aiff"},
      {"ID3...", "audio/mpeg"},
      {std::string("OggS\x00", 5), "application/ogg"},
      {std::string("MThd\x00\x00\x00\x06", 8), "audio/midi"},
      {std::string("RIFF\x00\x00\x00\x00"
                   "AVI ",
                   12),
       "video/avi"},
      {std::string("RIFF\x00\x00\x00\x00WAVE", 12), "audio/wave"},
      {std::string("\x00\x00\x00\x18"
                   "ftypmp42\x00\x00\x00\x00mp42isom",
                   24),
       "video/mp4"},
      {"\x1A\x45\xDF\xA3", "video/webm"},
      {"wOFF", "font/woff"},
      {"\x1F\x8B\x08", "application/x-gzip"},
      {"PK\x03\x04", "application/zip"},
      {std::string("Rar!\x1A\x07\x00", 7), "application/x-rar-compressed"},
      {std::string("\x00"
                   "asm",
                   4),
       "application/wasm"},
      {"hello, world", "text/plain; charset=utf-8"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.data);
    EXPECT_EQ(detect_content_type(c.data), c.type);
  }
}

// A root with a file, a directory with an index.html, one without, names that need escaping, and
// things outside the root that must never be served.
struct site {
  test::temp_dir dir;
  std::filesystem::path root;
  site() : root(dir.path / "root") {
    std::filesystem::create_directories(root / "docs");
    std::filesystem::create_directories(root / "list");
    std::ofstream(root / "hello.txt") << "hello\n";
    std::ofstream(root / "docs" / "index.html") << "<p>index</p>";
    std::ofstream(root / "list" / "a<b>&\"c'.txt") << "x";
    std::ofstream(root / "list" / "q?x#y") << "x";
    std::filesystem::create_directories(root / "list" / "sub");
    std::ofstream(dir.path / "secret.txt") << "SECRET";
    std::filesystem::create_symlink(dir.path / "secret.txt", root / "escape");
    std::filesystem::create_symlink("hello.txt", root / "inside");
  }
};

response_recorder& get(response_recorder& rec, const handler& h, std::string_view target,
                       std::string_view method = "GET") {
  auto req = new_request(method, target);
  ringo::run(h(rec.writer(), req));
  return rec;
}

TEST_F(FileServer, ServesFilesIndexPagesAndRedirectsAsGoDoes) {
  site s;
  handler h = file_server(s.root.string());
  {
    response_recorder rec;
    EXPECT_EQ(get(rec, h, "/hello.txt").body(), "hello\n");
    EXPECT_EQ(rec.header().get("Content-Type"), "text/plain; charset=utf-8");
  }
  struct {
    const char* target;
    int code;
    const char* location;
  } redirects[] = {
      {"/docs", 301, "docs/"},
      {"/docs/index.html", 301, "./"},
      {"/hello.txt/", 301, "../hello.txt"},
      {"/docs?x=1", 301, "docs/?x=1"},
  };
  for (const auto& c : redirects) {
    SCOPED_TRACE(c.target);
    response_recorder rec;
    EXPECT_EQ(get(rec, h, c.target).code(), c.code);
    EXPECT_EQ(rec.header().get("Location"), c.location);
  }
  response_recorder index;
  EXPECT_EQ(get(index, h, "/docs/").body(), "<p>index</p>");
  EXPECT_EQ(index.header().get("Content-Type"), "text/html; charset=utf-8");
}

TEST_F(FileServer, ListsADirectoryWithEscapedNames) {
  site s;
  handler h = file_server(s.root.string());
  response_recorder rec;
  get(rec, h, "/list/");
  EXPECT_EQ(rec.code(), 200);
  EXPECT_EQ(rec.header().get("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(rec.body(),
            "<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n"
            "<a href=\"a%3Cb%3E&%22c%27.txt\">a&lt;b&gt;&amp;&#34;c&#39;.txt</a>\n"
            "<a href=\"q%3Fx%23y\">q?x#y</a>\n"
            "<a href=\"sub/\">sub/</a>\n"
            "</pre>\n");
  response_recorder off;
  get(off, file_server(s.root.string(), {.list_directories = false}), "/list/");
  EXPECT_EQ(off.code(), 404);
}

TEST_F(FileServer, NoPathLeavesTheRoot) {
  site s;
  handler h = file_server(s.root.string());
  struct {
    const char* target;
    int code;
  } attempts[] = {
      {"/../secret.txt", 404},         {"/..%2fsecret.txt", 404},
      {"/%2e%2e/secret.txt", 404},     {"/%2E%2E%2Fsecret.txt", 404},
      {"/docs/../../secret.txt", 404}, {"/escape", 404},
      {"/hello.txt%00.png", 400},      {"/..\\secret.txt", 400},
      {"/%5c..%5csecret.txt", 400},    {"/%zz", 400},
      {"//etc/passwd", 404},
  };
  for (const auto& c : attempts) {
    SCOPED_TRACE(c.target);
    response_recorder rec;
    get(rec, h, c.target);
    EXPECT_EQ(rec.code(), c.code);
    EXPECT_EQ(rec.body().find("SECRET"), std::string::npos);
    EXPECT_EQ(rec.body().find("root:"), std::string::npos);
  }
  response_recorder inside;
  EXPECT_EQ(get(inside, h, "/inside").body(), "hello\n");  // a link within the root is fine
  response_recorder allowed;
  get(allowed, file_server(s.root.string(), {.follow_symlinks = true}), "/escape");
  EXPECT_EQ(allowed.body(), "SECRET");  // when the option allows it
}

TEST_F(FileServer, ServeFileRefusesDotDotInTheRequest) {
  site s;
  const std::string path = (s.root / "hello.txt").string();
  response_recorder rec;
  auto req = new_request("GET", "/a/../hello.txt");
  ringo::run(serve_file(rec.writer(), req, path));
  EXPECT_EQ(rec.code(), 400);
  response_recorder ok;
  auto good = new_request("GET", "/hello.txt");
  ringo::run(serve_file(ok.writer(), good, path));
  EXPECT_EQ(ok.body(), "hello\n");
}

TEST_F(FileServer, ARootThatCannotBeOpenedAnswers404) {
  response_recorder rec;
  EXPECT_EQ(get(rec, file_server("/no/such/root"), "/x").code(), 404);
}

// --- Over a socket ----------------------------------------------------------------------------

std::size_t vm_rss_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("VmRSS:")) return std::stoul(line.substr(6));
  return 0;
}

TEST_F(FileServer, ServesAGibibyteSparseFileWithMemoryFlat) {
  site s;
  const std::uint64_t size = std::uint64_t(1) << 30;
  {
    std::ofstream(s.root / "big.bin");
    std::filesystem::resize_file(s.root / "big.bin", size);
  }
  http::server srv(file_server(s.root.string()));
  test::server_thread t(srv);
  test::raw_client c(t.port());
  c.send(test::get_request("/big.bin"));
  // Read the head, then drain the body through a small buffer, watching the process's RSS.
  std::string head;
  char buf[1 << 16];
  while (head.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = ::recv(c.fd(), buf, 1, 0);
    ASSERT_GT(n, 0);
    head.append(buf, 1);
  }
  ASSERT_NE(head.find("Content-Length: 1073741824"), std::string::npos) << head;
  const std::size_t rss_before = vm_rss_kb();
  std::size_t rss_max = rss_before;
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t got = 0;
  while (got < size) {
    ssize_t n = ::recv(c.fd(), buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    for (ssize_t i = 0; i < n; i += 4096) ASSERT_EQ(buf[i], 0);
    got += std::uint64_t(n);
    if ((got & ((64 << 20) - 1)) < std::uint64_t(n)) rss_max = std::max(rss_max, vm_rss_kb());
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(got, size);
  // A GiB never passes through user memory: the server's RSS does not grow with it.
  EXPECT_LT(rss_max - rss_before, 16u << 10)
      << "RSS grew from " << rss_before << " to " << rss_max << " kB";
  // "Full speed" on a loaded 2-core machine, sanitizers on: well above 100 MB/s.
  EXPECT_GT(double(size) / secs, 100e6) << secs << " s";
  RecordProperty("MBps", int(double(size) / secs / 1e6));
}

TEST_F(FileServer, CurlsRangesAndConditionalsMatchTheFile) {
  const std::string curl = test::find_program("curl");
  if (curl.empty()) GTEST_SKIP() << "curl is not installed";
  site s;
  std::string data;
  for (int i = 0; i < 100000; ++i) data += char('a' + i % 26);
  std::ofstream(s.root / "data.txt") << data;
  http::server srv(file_server(s.root.string()));
  test::server_thread t(srv);
  const std::string url = t.url("/data.txt");
  auto whole = test::run_process({curl, "-sf", url});
  EXPECT_EQ(whole.out, data);
  auto range = test::run_process({curl, "-sf", "-r", "1000-65999", url});
  EXPECT_EQ(range.out, data.substr(1000, 65000));
  auto tail = test::run_process({curl, "-sf", "-r", "-10", url});
  EXPECT_EQ(tail.out, data.substr(data.size() - 10));
  auto head = test::run_process({curl, "-sfI", url});
  EXPECT_NE(head.out.find("Content-Length: 100000"), std::string::npos) << head.out;
  auto lm = head.out.substr(head.out.find("Last-Modified: ") + 15);
  lm = lm.substr(0, lm.find("\r\n"));
  auto cond = test::run_process(
      {curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "If-Modified-Since: " + lm, url});
  EXPECT_EQ(cond.out, "304");
  auto trav = test::run_process({curl, "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                 "--path-as-is", t.url("/../secret.txt")});
  EXPECT_EQ(trav.out, "404");
}

}  // namespace
}  // namespace ringo::http
