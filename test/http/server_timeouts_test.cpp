// server: each timeout, started where Go starts it. read_header_timeout runs from a new
// connection's start or a kept-alive one's first byte and cuts a head that trickles in;
// read_timeout covers the body too, without ever stopping a handler that does not read (Go
// #18447); write_timeout runs from the head's end and cuts a response that is late or not read;
// idle_timeout (or read_timeout) closes a kept-alive connection nobody uses.
//
// Timeouts are short (100-250 ms) and the bounds generous on the slow side: a loaded CI machine
// may be late, but never early.
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "server_test_support.hpp"

namespace ringo::http {
namespace {

using namespace test;

using ReadHeaderTimeout = ringo::test::RingoTest;
using ReadTimeout = ringo::test::RingoTest;
using WriteTimeout = ringo::test::RingoTest;
using IdleTimeout = ringo::test::RingoTest;

task<void> hello(response_writer& w, request&) {
  co_await w.write("hello");
}

// Sends `head` a line at a time, one line every `every`, until the server closes the connection.
// Returns when it closed (measured from `start`), or nullopt if it did not within `limit`.
std::optional<double> trickle_until_closed(raw_client& c, std::string_view head,
                                           std::chrono::milliseconds every,
                                           steady::time_point start,
                                           std::chrono::milliseconds limit = 3s) {
  while (steady::now() - start < limit) {
    auto eol = head.find('\n');
    std::string_view line = head.substr(0, eol == std::string_view::npos ? head.size() : eol + 1);
    head.remove_prefix(line.size());
    if (!line.empty()) c.try_send(line);
    if (c.closed_within(every)) return ms(steady::now() - start);
  }
  return std::nullopt;
}

// A head that never ends: the request line, then a field every `every`.
std::string endless_head() {
  std::string h = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 1000; ++i) h += "X-Slow-" + std::to_string(i) + ": v\r\n";
  return h;
}

// --- read_header_timeout -------------------------------------------------------------------------

TEST_F(ReadHeaderTimeout, CutsAHeadThatTricklesIn) {
  std::atomic<int> calls{0};
  http::server srv([&](response_writer&, request&) -> task<void> {
    ++calls;
    co_return;
  });
  srv.read_header_timeout = 150ms;
  server_thread t(srv);
  auto start = steady::now();
  raw_client c(t.port());
  // Bytes keep coming every 30 ms: only a deadline for the whole head can end this.
  auto closed = trickle_until_closed(c, endless_head(), 30ms, start);
  ASSERT_TRUE(closed) << "a trickled head was never cut";
  EXPECT_GE(*closed, 140);
  EXPECT_LT(*closed, 1000);
  EXPECT_EQ(c.unread(), "") << "Go sends nothing on a header timeout";
  EXPECT_EQ(calls, 0);
}

// On a kept-alive connection the head's clock starts at its first byte, not when the connection
// went idle (Go: the idle wait, then the header deadline).
TEST_F(ReadHeaderTimeout, StartsAtTheFirstByteOnAKeptAliveConnection) {
  http::server srv(hello);
  srv.read_header_timeout = 150ms;
  srv.idle_timeout = 5s;
  server_thread t(srv);
  raw_client c(t.port());
  c.send(get_request());
  ASSERT_TRUE(c.read_response());
  std::this_thread::sleep_for(300ms);  // idle longer than the header timeout
  c.send(get_request());
  auto r = c.read_response();
  ASSERT_TRUE(r) << "the header timeout ran while the connection was idle";
  EXPECT_EQ(r->body, "hello");
  std::this_thread::sleep_for(300ms);
  auto start = steady::now();
  auto closed = trickle_until_closed(c, endless_head(), 30ms, start);
  ASSERT_TRUE(closed);
  EXPECT_GE(*closed, 140);
  EXPECT_LT(*closed, 1000);
}

// read_header_timeout 0 falls back to read_timeout (Go).
TEST_F(ReadHeaderTimeout, FallsBackToReadTimeout) {
  http::server srv(hello);
  srv.read_header_timeout = {};
  srv.read_timeout = 150ms;
  server_thread t(srv);
  auto start = steady::now();
  raw_client c(t.port());
  auto closed = trickle_until_closed(c, endless_head(), 30ms, start);
  ASSERT_TRUE(closed);
  EXPECT_GE(*closed, 140);
  EXPECT_LT(*closed, 1000);
}

// Beyond Go, which has no timeout unless one is set (gosec G112): nginx's defaults, so that a
// client trickling its head or holding an idle connection cannot keep it for ever.
TEST_F(ReadHeaderTimeout, DefaultsToSixtySecondsAndIdleToSeventyFive) {
  http::server srv;
  EXPECT_EQ(srv.read_header_timeout, 60s);
  EXPECT_EQ(srv.idle_timeout, 75s);
  EXPECT_EQ(srv.read_timeout, duration::zero());
  EXPECT_EQ(srv.write_timeout, duration::zero());
}

// A slowloris client: one byte of head at a time, each well within any per-read timeout. The
// header deadline (here shortened from its 60 s default) closes it, and the handler never runs.
TEST_F(ReadHeaderTimeout, ClosesAConnectionTricklingItsHeadAByteAtATime) {
  std::atomic<int> calls{0};
  http::server srv([&](response_writer&, request&) -> task<void> {
    ++calls;
    co_return;
  });
  srv.read_header_timeout = 300ms;
  srv.idle_timeout = 300ms;
  server_thread t(srv);
  auto start = steady::now();
  raw_client c(t.port());
  std::string head = endless_head();
  std::optional<double> closed;
  for (std::size_t i = 0; i < head.size() && steady::now() - start < 5s; ++i) {
    c.try_send(head.substr(i, 1));
    if (c.closed_within(20ms)) {
      closed = ms(steady::now() - start);
      break;
    }
  }
  ASSERT_TRUE(closed) << "a head trickled a byte at a time was never cut";
  EXPECT_GE(*closed, 280);
  EXPECT_LT(*closed, 2000);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(t.connections(), 0u);
}

// --- read_timeout --------------------------------------------------------------------------------

TEST_F(ReadTimeout, CutsASlowBody) {
  moment failed;
  std::mutex m;
  std::error_code error;
  http::server srv([&](response_writer& w, request& r) -> task<void> {
    auto body = co_await r.body->read_all();
    if (body) {
      co_await w.write("got " + *body);
      co_return;
    }
    {
      std::lock_guard lock(m);
      error = body.error();
    }
    failed.mark();
    w.write_header(status::request_timeout);
  });
  srv.read_timeout = 200ms;
  server_thread t(srv);
  raw_client c(t.port());
  auto start = steady::now();
  c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
  std::thread dribble([&] {
    for (int i = 0; i < 20 && !failed.marked(); ++i) {
      std::this_thread::sleep_for(50ms);
      if (!failed.marked()) c.try_send("d");  // a byte now and then: still too slow
    }
  });
  auto when = failed.wait_for(3s);
  dribble.join();
  ASSERT_TRUE(when) << "the body read never timed out";
  EXPECT_GE(ms(*when - start), 190);
  EXPECT_LT(ms(*when - start), 1000);
  {
    std::lock_guard lock(m);
    EXPECT_EQ(error, std::errc::timed_out) << error.message();
  }
  // The handler's answer still goes out (the write side has no deadline), then the connection
  // closes: what follows in the stream cannot be trusted as a request (Go #11930).
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  EXPECT_TRUE(r->has_token("Connection", "close"));
  EXPECT_TRUE(c.closed_within(2s));
}

// Go #18447: read_timeout bounds reading the request, not the handler's work: a handler that runs
// past it is not stopped, and the connection stays usable with a fresh deadline.
TEST_F(ReadTimeout, DoesNotStopAHandlerThatRunsPastIt) {
  std::atomic<int> stopped{0};
  http::server srv([&](response_writer& w, request& r) -> task<void> {
    if (!co_await sleep_for(300ms, r.stop)) ++stopped;
    co_await w.write("slept");
  });
  srv.read_timeout = 100ms;
  srv.idle_timeout = 5s;
  server_thread t(srv);
  raw_client c(t.port());
  for (int i = 0; i < 2; ++i) {
    c.send(get_request());
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "slept");
  }
  EXPECT_EQ(stopped, 0) << "the read deadline stopped the request";
}

// A body that arrives in time is read, even when the handler only starts reading it after
// read_timeout would have passed had the deadline been armed per read rather than per request.
TEST_F(ReadTimeout, ABodyAlreadyReceivedIsReadAfterwards) {
  http::server srv([](response_writer& w, request& r) -> task<void> {
    (void)co_await sleep_for(50ms);
    auto body = co_await r.body->read_all();
    std::string text = body ? *body : body.error().message();
    co_await w.write(text);
  });
  srv.read_timeout = 200ms;
  server_thread t(srv);
  raw_client c(t.port());
  c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hello");
}

// --- write_timeout -------------------------------------------------------------------------------

// The deadline runs from the head's end: a handler that answers after it gets an error, and the
// client gets no response at all, only the closed connection (as in Go).
TEST_F(WriteTimeout, CutsAResponseThatComesTooLate) {
  moment flushed;
  std::mutex m;
  std::error_code error;
  http::server srv([&](response_writer& w, request& r) -> task<void> {
    (void)co_await sleep_for(250ms, r.stop);
    co_await w.write("too late");
    auto sent = co_await w.flush();
    {
      std::lock_guard lock(m);
      error = sent.error();
    }
    flushed.mark();
  });
  srv.write_timeout = 100ms;
  server_thread t(srv);
  raw_client c(t.port());
  c.send(get_request());
  EXPECT_EQ(c.read_until_close(2s), "");
  ASSERT_TRUE(flushed.wait_for(2s));
  std::lock_guard lock(m);
  EXPECT_EQ(error, std::errc::timed_out) << error.message();
}

// A client that does not read: the send blocks on a full socket, and the deadline ends it; the
// handler's write fails and its stop token fires.
TEST_F(WriteTimeout, CutsAResponseTheClientDoesNotRead) {
  moment failed, stopped;
  std::mutex m;
  std::error_code error;
  http::server srv([&](response_writer& w, request& r) -> task<void> {
    std::stop_callback on_stop(r.stop, [&] { stopped.mark(); });
    std::string block(64 << 10, 'w');
    for (int i = 0; i < 4096; ++i) {  // 256 MiB: far more than the socket buffers hold
      auto sent = co_await w.write(block);
      if (!sent) {
        std::lock_guard lock(m);
        error = sent.error();
        break;
      }
    }
    failed.mark();
  });
  srv.write_timeout = 200ms;
  server_thread t(srv);
  raw_client c(t.port());
  auto start = steady::now();
  c.send(get_request());
  auto when = failed.wait_for(5s);
  ASSERT_TRUE(when) << "the write never timed out";
  EXPECT_GE(ms(*when - start), 190);
  EXPECT_LT(ms(*when - start), 2000);
  EXPECT_TRUE(stopped.wait_for(1s)) << "a failed write stops the request";
  {
    std::lock_guard lock(m);
    EXPECT_EQ(error, std::errc::timed_out) << error.message();
  }
  c.reset();
}

// A response that makes it in time is unaffected, on every request of a connection: the deadline
// is per request.
TEST_F(WriteTimeout, RestartsForEachRequest) {
  http::server srv([](response_writer& w, request&) -> task<void> {
    (void)co_await sleep_for(60ms);
    co_await w.write("in time");
  });
  srv.write_timeout = 150ms;
  server_thread t(srv);
  raw_client c(t.port());
  for (int i = 0; i < 4; ++i) {  // 240 ms in all: more than one timeout
    c.send(get_request());
    auto r = c.read_response();
    ASSERT_TRUE(r) << "request " << i;
    EXPECT_EQ(r->body, "in time");
  }
}

// --- idle_timeout --------------------------------------------------------------------------------

double idle_close_ms(http::server& srv) {
  server_thread t(srv);
  raw_client c(t.port());
  c.send(get_request());
  EXPECT_TRUE(c.read_response());
  auto start = steady::now();
  EXPECT_TRUE(c.closed_within(3s)) << "an idle connection was never closed";
  EXPECT_EQ(c.unread(), "");
  return ms(steady::now() - start);
}

TEST_F(IdleTimeout, ClosesAKeptAliveConnectionNobodyUses) {
  http::server srv(hello);
  srv.idle_timeout = 150ms;
  srv.read_timeout = 10s;
  double closed = idle_close_ms(srv);
  EXPECT_GE(closed, 140);
  EXPECT_LT(closed, 1000);
}

// A connection that came back for another request waits for the next one in a recv with its
// buffers for a moment (server_conn::idle_grace), then in a poll: the idle timeout still counts
// from the answer, whichever of the two ends it, and a request in either wait is served.
TEST_F(IdleTimeout, CountsFromTheAnswerOnAConnectionThatCameBack) {
  http::server srv(hello);
  srv.idle_timeout = 150ms;
  srv.read_timeout = 10s;
  server_thread t(srv);
  raw_client c(t.port());
  for (auto pause : {30ms, 1ms, 30ms}) {  // back after the poll, within the grace, after it
    c.send(get_request());
    ASSERT_TRUE(c.read_response());
    std::this_thread::sleep_for(pause);
  }
  c.send(get_request());
  ASSERT_TRUE(c.read_response());
  auto start = steady::now();
  ASSERT_TRUE(c.closed_within(3s)) << "an idle connection was never closed";
  EXPECT_GE(ms(steady::now() - start), 140);
  EXPECT_LT(ms(steady::now() - start), 1000);
}

TEST_F(IdleTimeout, AShortOneEndsTheWaitWithTheBuffersToo) {
  http::server srv(hello);
  srv.idle_timeout = 3ms;  // shorter than the grace
  srv.read_timeout = 10s;
  server_thread t(srv);
  raw_client c(t.port());
  c.send(get_request());
  ASSERT_TRUE(c.read_response());
  c.send(get_request());  // within 3 ms: the connection came back
  ASSERT_TRUE(c.read_response());
  EXPECT_TRUE(c.closed_within(1s));
}

TEST_F(IdleTimeout, FallsBackToReadTimeout) {
  http::server srv(hello);
  srv.idle_timeout = {};
  srv.read_timeout = 150ms;
  double closed = idle_close_ms(srv);
  EXPECT_GE(closed, 140);
  EXPECT_LT(closed, 1000);
}

TEST_F(IdleTimeout, RestartsAfterEachRequest) {
  http::server srv(hello);
  srv.idle_timeout = 200ms;
  server_thread t(srv);
  raw_client c(t.port());
  for (int i = 0; i < 5; ++i) {  // 600 ms in all, never 200 ms idle
    c.send(get_request());
    ASSERT_TRUE(c.read_response()) << "request " << i;
    std::this_thread::sleep_for(120ms);
  }
}

TEST_F(IdleTimeout, NoneMeansTheConnectionStays) {
  http::server srv(hello);
  srv.idle_timeout = {};
  server_thread t(srv);
  raw_client c(t.port());
  c.send(get_request());
  ASSERT_TRUE(c.read_response());
  EXPECT_TRUE(c.quiet_for(300ms));
  c.send(get_request());
  EXPECT_TRUE(c.read_response());
}

}  // namespace
}  // namespace ringo::http
