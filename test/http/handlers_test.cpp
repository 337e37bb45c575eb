// Go's handler helpers on a response_recorder: redirect (Go's TestRedirect table), strip_prefix,
// not_found, timeout_handler (in time, and past it: 503 at once and the handler's token stopped),
// and max_bytes_reader (the bytes within the limit, then the error, and the connection marked to
// close); then max_bytes_reader on a real connection, which the server closes after the answer.
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include <ringo/http.hpp>
#include <ringo/http/httptest.hpp>

#include "server_test_support.hpp"

namespace ringo::http {
namespace {

using httptest::new_request;
using httptest::response_recorder;
using namespace std::chrono_literals;

class Handlers : public ringo::test::RingoTest {};

TEST_F(Handlers, RedirectResolvesRelativeTargetsAsGoDoes) {
  struct {
    const char* in;
    const char* want;
  } cases[] = {
      {"http://foobar.com/baz", "http://foobar.com/baz"},
      {"https://foobar.com/baz", "https://foobar.com/baz"},
      {"test://foobar.com/baz", "test://foobar.com/baz"},
      {"//foobar.com/baz", "//foobar.com/baz"},
      {"/foobar.com/baz", "/foobar.com/baz"},
      {"foobar.com/baz", "/qux/foobar.com/baz"},
      {"../quux/foobar.com/baz", "/quux/foobar.com/baz"},
      {"///foobar.com/baz", "/foobar.com/baz"},
      {"/foo?next=http://bar.com/", "/foo?next=http://bar.com/"},
      {"http://localhost:8080/_ah/login?continue=http://localhost:8080/",
       "http://localhost:8080/_ah/login?continue=http://localhost:8080/"},
      {"/фубар", "/%d1%84%d1%83%d0%b1%d0%b0%d1%80"},
      {"http://foo.com/фубар", "http://foo.com/%d1%84%d1%83%d0%b1%d0%b0%d1%80"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    response_recorder rec;
    auto req = new_request("GET", "http://example.com/qux/");
    ringo::run(redirect(rec.writer(), req, c.in, 301));
    EXPECT_EQ(rec.code(), 301);
    EXPECT_EQ(rec.header().get("Location"), c.want);
  }
}

TEST_F(Handlers, RedirectSendsAShortHtmlBodyOnlyForGet) {
  response_recorder get;
  auto req = new_request("GET", "/a/b");
  ringo::run(redirect(get.writer(), req, "/x&y", 302));
  EXPECT_EQ(get.header().get("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(get.body(), "<a href=\"/x&amp;y\">Found</a>.\n\n");
  response_recorder post;
  auto p = new_request("POST", "/a/b");
  ringo::run(redirect(post.writer(), p, "/x", 303));
  EXPECT_EQ(post.body(), "");
  EXPECT_FALSE(post.header().contains("Content-Type"));
  response_recorder typed;
  typed.writer().header().set("Content-Type", "text/plain");
  auto t = new_request("GET", "/");
  ringo::run(redirect(typed.writer(), t, "/x", 307));
  EXPECT_EQ(typed.body(), "");  // the handler chose its own body
}

task<void> echo_target(response_writer& w, request& r) {
  co_await w.write(r.target);
}

TEST_F(Handlers, StripPrefixServesTheRestOr404s) {
  handler h = strip_prefix("/static", echo_target);
  struct {
    const char* target;
    int code;
    const char* body;
  } cases[] = {
      {"/static/a/b?x=1", 200, "/a/b?x=1"},
      {"/static", 200, ""},
      {"/statics/a", 200, "s/a"},  // a prefix, not a segment: as Go
      {"/other/a", 404, "404 page not found\n"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.target);
    response_recorder rec;
    auto req = new_request("GET", c.target);
    ringo::run(h(rec.writer(), req));
    EXPECT_EQ(rec.code(), c.code);
    EXPECT_EQ(rec.body(), c.body);
    EXPECT_EQ(req.target, c.target);  // restored
  }
}

TEST_F(Handlers, NotFoundAnswers404) {
  response_recorder rec;
  auto req = new_request("GET", "/x");
  ringo::run(not_found_handler()(rec.writer(), req));
  EXPECT_EQ(rec.code(), 404);
  EXPECT_EQ(rec.body(), "404 page not found\n");
}

TEST_F(Handlers, TimeoutHandlerPassesAnAnswerMadeInTime) {
  handler h = timeout_handler(
      [](response_writer& w, request&) -> task<void> {
        w.header().set("X-Made", "in time");
        w.write_header(201);
        co_await w.write("done");
      },
      5s, "too slow");
  response_recorder rec;
  auto req = new_request("GET", "/");
  ringo::run(h(rec.writer(), req));
  EXPECT_EQ(rec.code(), 201);
  EXPECT_EQ(rec.header().get("X-Made"), "in time");
  EXPECT_EQ(rec.body(), "done");
}

TEST_F(Handlers, TimeoutHandlerAnswers503AndStopsTheHandler) {
  bool saw_stop = false;
  std::error_code late_write;
  handler h = timeout_handler(
      [&](response_writer& w, request& r) -> task<void> {
        co_await w.write("partial");
        auto slept = co_await sleep_for(10s, r.stop);  // stopped by the timeout
        saw_stop = !slept && slept.error() == ringo::errc::operation_canceled;
        late_write = (co_await w.write("more")).error();
      },
      50ms, "too slow");
  response_recorder rec;
  auto req = new_request("GET", "/");
  const auto start = std::chrono::steady_clock::now();
  ringo::run(h(rec.writer(), req));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(rec.code(), 503);
  EXPECT_EQ(rec.body(), "too slow");
  EXPECT_TRUE(saw_stop);
  EXPECT_EQ(late_write, errc::handler_timeout);
}

TEST_F(Handlers, TimeoutHandlerStopsWhenTheRequestIsStopped) {
  std::stop_source client_left;
  bool saw_stop = false;
  handler h = timeout_handler(
      [&](response_writer&, request& r) -> task<void> {
        auto slept = co_await sleep_for(10s, r.stop);
        saw_stop = !slept;
      },
      10s);
  response_recorder rec;
  auto req = new_request("GET", "/");
  req.stop = client_left.get_token();
  auto body = [&]() -> task<void> {
    scope s;
    s.spawn([&](std::stop_token) -> task<void> {
      (void)co_await sleep_for(20ms);
      client_left.request_stop();
    });
    co_await h(rec.writer(), req);
    co_await s.join();
  };
  ringo::run(body());
  EXPECT_TRUE(saw_stop);
  EXPECT_EQ(rec.code(), 503);
  EXPECT_EQ(rec.body(), "");  // Go: the message is for a timeout, not for a client that left
}

TEST_F(Handlers, TimeoutHandlersDefaultMessageIsGos) {
  handler h = timeout_handler(
      [](response_writer&, request& r) -> task<void> { (void)co_await sleep_for(10s, r.stop); },
      20ms);
  response_recorder rec;
  auto req = new_request("GET", "/");
  ringo::run(h(rec.writer(), req));
  EXPECT_EQ(rec.code(), 503);
  EXPECT_EQ(rec.body(),
            "<html><head><title>Timeout</title></head><body><h1>Timeout</h1></body></html>");
}

TEST_F(Handlers, MaxBytesReaderReturnsTheLimitThenFailsAndClosesTheConnection) {
  for (std::size_t limit : {std::size_t(0), std::size_t(5), std::size_t(10), std::size_t(64)}) {
    SCOPED_TRACE(limit);
    response_recorder rec;
    auto req = new_request("POST", "/", "0123456789");
    auto body = [&]() -> task<result<std::string>> {
      max_bytes_reader limited(rec.writer(), *req.body, limit);
      co_return co_await limited.read_all();
    };
    auto got = ringo::run(body());
    if (limit >= 10) {
      EXPECT_EQ(got.value_or(""), "0123456789");
      EXPECT_FALSE(rec.close_after());
    } else {
      EXPECT_EQ(got.error(), errc::body_too_large);
      EXPECT_TRUE(rec.close_after());
    }
  }
}

TEST_F(Handlers, MaxBytesReaderMakesTheServerCloseTheConnection) {
  http::server srv([](response_writer& w, request& r) -> task<void> {
    max_bytes_reader limited(w, *r.body, 4);
    auto got = co_await limited.read_all();
    co_await w.write(got ? "ok" : "too large");
  });
  test::server_thread t(srv);
  test::raw_client c(t.port());
  c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "too large");
  EXPECT_TRUE(r->has_token("Connection", "close"));
  EXPECT_TRUE(c.closed_within(2s));
}

}  // namespace
}  // namespace ringo::http
