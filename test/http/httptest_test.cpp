// httptest: handlers and the mux tested through a response_recorder, with no socket (what the
// response_writer decides: status, fields, the body's length, HEAD, 1xx, the mux's own answers),
// and httptest::server serving a handler to ringo's client.
#include <string>

#include <gtest/gtest.h>

#include <ringo/http.hpp>
#include <ringo/http/httptest.hpp>
#include <ringo/runtime.hpp>

#include "ringo_test.hpp"

namespace ringo::http {
namespace {

using Recorder = ringo::test::RingoTest;
using TestServer = ringo::test::RingoTest;
using httptest::new_request;
using httptest::response_recorder;

task<void> hello(response_writer& w, request& r) {
  w.header().set("Content-Type", "text/plain");
  co_await w.write("hello, " + std::string(r.path_value("name")) + "\n");
}

TEST_F(Recorder, RecordsWhatAHandlerAnswers) {
  mux m;
  m.handle("GET /hello/{name}", hello);
  response_recorder rec;
  auto req = new_request("GET", "/hello/gopher");
  ringo::run(m(rec.writer(), req));
  EXPECT_EQ(rec.code(), 200);
  EXPECT_EQ(rec.body(), "hello, gopher\n");
  EXPECT_EQ(rec.header().get("Content-Type"), "text/plain");
  EXPECT_EQ(rec.header().get("Content-Length"), "14");  // what the server would add
  EXPECT_FALSE(rec.flushed());
}

TEST_F(Recorder, SeesTheMuxsOwnAnswers) {
  mux m;
  m.handle("GET /items/{id}", hello);
  m.handle("/dir/", hello);
  struct {
    const char* method;
    const char* target;
    int code;
    const char* field;
    const char* value;
  } cases[] = {
      {"GET", "/nowhere", 404, "Content-Type", "text/plain; charset=utf-8"},
      {"POST", "/items/1", 405, "Allow", "GET, HEAD"},
      {"GET", "/dir", 301, "Location", "/dir/"},
      {"GET", "/items/../dir/x", 301, "Location", "/dir/x"},
      {"GET", "/dir?q=a%20b", 301, "Location", "/dir/?q=a%20b"},
      {"HEAD", "/dir", 301, "Content-Type", "text/html; charset=utf-8"},
      {"FOO", "/items/1", 405, "Allow", "GET, HEAD"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.method) + " " + c.target);
    response_recorder rec;
    auto req = new_request(c.method, c.target);
    ringo::run(m(rec.writer(), req));
    EXPECT_EQ(rec.code(), c.code);
    EXPECT_EQ(rec.header().get(c.field), c.value);
  }
  response_recorder rec;
  auto req = new_request("GET", "/nowhere");
  ringo::run(m(rec.writer(), req));
  EXPECT_EQ(rec.body(), "404 page not found\n");
  // The redirect's note for agents that ignore Location (Go's Redirect, which its mux calls).
  response_recorder moved;
  auto dir = new_request("GET", "/dir?a=<b>");
  ringo::run(m(moved.writer(), dir));
  EXPECT_EQ(moved.body(), "<a href=\"/dir/?a=&lt;b&gt;\">Moved Permanently</a>.\n\n");
}

TEST_F(Recorder, AHandlerReadsTheRequestBody) {
  response_recorder rec;
  auto req = new_request("POST", "http://api.test/echo", "ping");
  EXPECT_EQ(req.host, "api.test");
  EXPECT_EQ(req.content_length, 4u);
  ringo::run([](response_writer& w, request& r) -> task<void> {
    auto body = co_await r.body->read_all();
    co_await w.write(r.target + " " + body.value_or("<error>"));
  }(rec.writer(), req));
  EXPECT_EQ(rec.body(), "/echo ping");
}

TEST_F(Recorder, TheFirstStatusCountsAndABodyNeedsOne) {
  response_recorder rec;
  auto req = new_request("GET", "/");
  ringo::run([](response_writer& w) -> task<void> {
    w.write_header(204);
    w.write_header(500);  // too late: the first counts
    auto wrote = co_await w.write("no body on a 204");
    EXPECT_EQ(wrote.error(), errc::body_not_allowed);
  }(rec.writer()));
  EXPECT_EQ(rec.code(), 204);
  EXPECT_EQ(rec.body(), "");
  EXPECT_FALSE(rec.header().contains("Content-Length"));
}

TEST_F(Recorder, HeadGetsTheLengthAGetWouldGetAndNoBody) {
  mux m;
  m.handle("GET /hello/{name}", hello);
  response_recorder rec(/*head_request=*/true);
  auto req = new_request("HEAD", "/hello/x");
  ringo::run(m(rec.writer(), req));
  EXPECT_EQ(rec.code(), 200);
  EXPECT_EQ(rec.body(), "");
  EXPECT_EQ(rec.header().get("Content-Length"), "9");
}

TEST_F(Recorder, AFlushSendsTheHeadAndTheBodySoFar) {
  response_recorder rec;
  ringo::run([](response_writer& w) -> task<void> {
    co_await w.write("first ");
    EXPECT_FALSE(w.header_written());
    co_await w.flush();
    EXPECT_TRUE(w.header_written());
    w.header().set("X-Late", "ignored");  // after the head: no effect
    co_await w.write("second");
  }(rec.writer()));
  EXPECT_TRUE(rec.flushed());
  EXPECT_EQ(rec.body(), "first second");
  EXPECT_FALSE(rec.header().contains("Content-Length"));  // streamed: the length was unknown
  EXPECT_FALSE(rec.header().contains("X-Late"));
}

// Moved here from the socket tests: what write_informational refuses is the writer's rule.
TEST_F(Recorder, WriteInformationalRefusesNon1xxAnd101AndLateCalls) {
  response_recorder rec;
  ringo::run([](response_writer& w) -> task<void> {
    EXPECT_EQ((co_await w.write_informational(200)).error(), std::errc::invalid_argument);
    EXPECT_EQ((co_await w.write_informational(101)).error(), std::errc::invalid_argument);
    EXPECT_TRUE(co_await w.write_informational(103));
    co_await w.write("done");
    co_await w.flush();
    EXPECT_EQ((co_await w.write_informational(103)).error(), errc::header_already_sent);
  }(rec.writer()));
  EXPECT_EQ(rec.informational(), std::vector<int>{103});
  EXPECT_EQ(rec.body(), "done");
}

TEST_F(Recorder, ErrorWritesGosPlainTextAnswer) {
  response_recorder rec;
  ringo::run([](response_writer& w) -> task<void> {
    co_await error(w, 418, "short and stout");
  }(rec.writer()));
  EXPECT_EQ(rec.code(), 418);
  EXPECT_EQ(rec.body(), "short and stout\n");
  EXPECT_EQ(rec.header().get("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(rec.header().get("X-Content-Type-Options"), "nosniff");
}

// Trailers follow the body, which then gets no automatic Content-Length (it goes out chunked).
TEST_F(Recorder, KeepsTrailersAndGivesTheirResponseNoLength) {
  response_recorder rec;
  ringo::run([](response_writer& w) -> task<void> {
    w.header().set("Trailer", "X-Checksum");
    co_await w.write("body");
    w.trailer().set("X-Checksum", "abc");
  }(rec.writer()));
  EXPECT_EQ(rec.body(), "body");
  EXPECT_EQ(rec.header().get("Content-Length"), std::nullopt);
  EXPECT_EQ(rec.trailer().get("X-Checksum"), "abc");
  EXPECT_FALSE(rec.aborted());
}

// abort() gives a response up: nothing more is written, and the recorder says so.
TEST_F(Recorder, AnAbortedResponseTakesNoMoreWrites) {
  response_recorder rec;
  ringo::run([](response_writer& w) -> task<void> {
    co_await w.write("part");
    co_await w.flush();
    w.abort();
    auto late = co_await w.write("more");
    EXPECT_FALSE(late);
  }(rec.writer()));
  EXPECT_TRUE(rec.aborted());
  EXPECT_EQ(rec.body(), "part");
}

TEST_F(Recorder, HijackIsRefused) {
  response_recorder rec;
  ringo::run([](response_writer& w) -> task<void> {
    auto h = co_await w.hijack();
    EXPECT_FALSE(h);
  }(rec.writer()));
}

TEST_F(TestServer, ServesAHandlerToAClientUntilClosed) {
  mux m;
  m.handle("GET /hello/{name}", hello);
  httptest::server srv(m.as_handler());
  EXPECT_TRUE(srv.url().starts_with("http://127.0.0.1:"));
  std::string got = ringo::run([](std::string url) -> task<std::string> {
    auto body = co_await fetch(url + "/hello/client");
    co_return body ? *body : body.error().message();
  }(srv.url()));
  EXPECT_EQ(got, "hello, client\n");
  srv.close();
  srv.close();  // idempotent
  std::string after = ringo::run([](std::string url) -> task<std::string> {
    auto body = co_await fetch(url + "/hello/client");
    co_return body ? *body : body.error().message();
  }(srv.url()));
  EXPECT_NE(after.find("connection refused"), std::string::npos) << after;
}

TEST_F(TestServer, ClosingStopsAHandlerStillRunning) {
  std::atomic<bool> stopped{false};
  {
    httptest::server srv([&](response_writer&, request& r) -> task<void> {
      auto slept = co_await sleep_for(std::chrono::hours(1), r.stop);
      stopped = !slept;
    });
    std::thread client([url = srv.url()] {
      (void)ringo::run(fetch(url + "/slow"));  // fails when the server closes
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    srv.close();
    client.join();
  }
  EXPECT_TRUE(stopped);
}

}  // namespace
}  // namespace ringo::http
