// The client transport against raw-socket scripted servers on 127.0.0.1: connection reuse, the
// idle watcher, the wait queues, max_conns_per_host, late binding of dials and the retry rules,
// each a Go regression case.
#include <arpa/inet.h>
#include <atomic>
#include <cstring>
#include <functional>
#include <mutex>
#include <netinet/in.h>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include <ringo/http.hpp>
#include <ringo/http/transport.hpp>
#include <ringo/runtime.hpp>

#include "client_test_support.hpp"
#include "ringo_test.hpp"

namespace ringo::http {
namespace {

using namespace std::chrono_literals;

class TransportTest : public ringo::test::RingoTest {};

TEST_F(TransportTest, ParseUrl) {
  auto u = parse_url("http://example.com:8080/a/b?x=1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->target, "/a/b?x=1");
  EXPECT_EQ(parse_url("http://h")->target, "/");
  auto secure = parse_url("https://example.com/x");
  ASSERT_TRUE(secure);
  EXPECT_EQ(secure->port, 443);
  EXPECT_EQ(secure->host_header(), "example.com");
  auto bad = parse_url("ftp://example.com/");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "unsupported protocol scheme \"ftp\"");
}

TEST_F(TransportTest, SequentialRequestsUseOneDial) {
  script_server srv(serve_hello);
  transport tr;
  std::vector<got_conn_info> seen;
  client_trace ct;
  ct.got_conn = [&](const got_conn_info& i) { seen.push_back(i); };
  ringo::run([](transport* t, std::string u, const client_trace* trace) -> task<void> {
    for (int i = 0; i < 20; ++i) {
      client_request req = get(u);
      req.trace = trace;
      {
        std::string got_ = co_await fetch(t, std::move(req));
        EXPECT_EQ(got_, "hello");
      }
    }
    co_await t->close();
  }(&tr, srv.url(), &ct));
  EXPECT_EQ(tr.dial_count(), 1u);
  EXPECT_EQ(srv.accepts(), 1);
  ASSERT_EQ(seen.size(), 20u);
  EXPECT_FALSE(seen[0].reused);
  EXPECT_TRUE(seen[1].reused);
  EXPECT_TRUE(seen[1].was_idle);
}

TEST_F(TransportTest, ServerClosingIdleConnIsInvisibleToGet) {
  // Each conn serves one request and closes.
  script_server srv([](int fd, int) {
    if (!read_request(fd).empty()) send_all(fd, ok_hello);
  });
  transport tr;
  ringo::run([](transport* t, std::string u) -> task<void> {
    {
      std::string got_ = co_await fetch(t, get(u));
      EXPECT_EQ(got_, "hello");
    }
    (void)co_await sleep_for(50ms);  // the watcher sees the EOF and drops the conn
    EXPECT_EQ(t->idle_count(), 0u);
    {
      std::string got_ = co_await fetch(t, get(u));
      EXPECT_EQ(got_, "hello");
    }
    // No pause: the conn may still look idle; the GET is retried on a new conn.
    {
      std::string got_ = co_await fetch(t, get(u));
      EXPECT_EQ(got_, "hello");
    }
    co_await t->close();
  }(&tr, srv.url()));
}

// Requests stop once the round trip is queued as a waiter.
task<void> stop_when_queued(transport* t, std::stop_source* ss) {
  for (int i = 0; i < 100 && t->waiter_count() == 0; ++i) co_await ringo::yield();
  EXPECT_EQ(t->waiter_count(), 1u);
  ss->request_stop();
}

task<void> cancelled_trip(transport* t, std::string u) {
  std::stop_source ss;
  ringo::scope sc;
  sc.spawn(stop_when_queued(t, &ss));
  result<response, client_error> r = co_await t->round_trip(get(u), ss.get_token());
  EXPECT_FALSE(r);
  if (!r) {
    EXPECT_EQ(r.error().code(), make_error_code(ringo::errc::operation_canceled));
  }
  co_await sc.join();
}

TEST_F(TransportTest, CancelledWaitersRetainNothing) {  // Go #43966, #50798
  std::atomic<bool> rel{false};
  script_server srv([&](int fd, int) {
    while (!read_request(fd).empty()) {
      while (!rel.load()) std::this_thread::sleep_for(1ms);
      send_all(fd, ok_hello);
    }
  });
  transport_options o;
  o.max_conns_per_host = 1;
  transport tr(o);
  ringo::run([](transport* t, std::string u, std::atomic<bool>* release) -> task<void> {
    ringo::scope sc;
    std::string first;
    sc.spawn([](transport* tt, std::string uu, std::string* o2) -> task<void> {
      *o2 = co_await fetch(tt, get(uu));
    }(t, u, &first));
    (void)co_await sleep_for(20ms);  // the first request holds the only slot
    for (int i = 0; i < 10000; ++i) co_await cancelled_trip(t, u);
    EXPECT_EQ(t->waiter_count(), 0u);
    EXPECT_EQ(t->conns_per_host("127.0.0.1:" + u.substr(u.rfind(':') + 1, 5)), 1u);
    EXPECT_EQ(t->dial_count(), 1u);
    release->store(true);
    co_await sc.join();
    EXPECT_EQ(first, "hello");
    {
      std::string got_ = co_await fetch(t, get(u));
      EXPECT_EQ(got_, "hello");
    }
    co_await t->close();
  }(&tr, srv.url().substr(0, srv.url().size() - 1), &rel));
  EXPECT_EQ(srv.accepts(), 1);
}

// Conns that are never idle (the server closes each after one response) are not pinned by the
// wait queues, and leave no slot taken (Go #33849).
TEST_F(TransportTest, ConnsThatNeverBecomeIdleLeaveNothingBehind) {
  script_server srv([](int fd, int) {
    if (read_request(fd).empty()) return;
    send_all(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello");
  });
  transport_options o;
  o.max_conns_per_host = 2;  // four at a time: two always wait for a slot
  transport tr(o);
  ringo::run([](transport* t, std::string u) -> task<void> {
    for (int round = 0; round < 50; ++round) {
      auto [a, b, c, d] =
          co_await when_all(fetch(t, get(u)), fetch(t, get(u)), fetch(t, get(u)), fetch(t, get(u)));
      EXPECT_EQ(a + b + c + d, "hellohellohellohello");
    }
    EXPECT_EQ(t->waiter_count(), 0u);
    EXPECT_EQ(t->idle_count(), 0u);
    EXPECT_EQ(t->conns_per_host(parse_url(u)->authority()), 0u);
    EXPECT_EQ(t->dial_count(), 200u);
    co_await t->close();
  }(&tr, srv.url()));
  EXPECT_EQ(srv.accepts(), 200);
}

TEST_F(TransportTest, MaxConnsPerHostNeverExceeded) {  // Go #32336, #29889
  std::atomic<int> live{0}, peak{0};
  script_server srv([&](int fd, int) {
    int now = live.fetch_add(1) + 1;
    int p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
    while (!read_request(fd).empty()) {
      std::this_thread::sleep_for(10ms);
      send_all(fd, ok_hello);
    }
    live.fetch_sub(1);
  });
  transport_options o;
  o.max_conns_per_host = 2;
  transport tr(o);
  ringo::run([](transport* t, std::string u) -> task<void> {
    ringo::scope sc;
    std::vector<std::string> out(12);
    for (auto& s : out)
      sc.spawn([](transport* tt, std::string uu, std::string* o2) -> task<void> {
        *o2 = co_await fetch(tt, get(uu));
      }(t, u, &s));
    co_await sc.join();
    for (auto& s : out) EXPECT_EQ(s, "hello");
    EXPECT_LE(t->dial_count(), 2u);
    co_await t->close();
  }(&tr, srv.url()));
  EXPECT_LE(peak.load(), 2);
  EXPECT_LE(srv.accepts(), 2);
}

task<result<net::conn, net::op_error>> slow_dial(std::string network, std::string addr,
                                                 std::stop_token stop) {
  (void)co_await sleep_for(100ms, stop);
  co_return co_await net::dial(std::move(network), std::move(addr), stop);
}

TEST_F(TransportTest, DialOutlivesCancelledRequestAndIsPooled) {  // Go #59017, #66442
  script_server srv(serve_hello);
  transport_options o;
  o.dial = slow_dial;
  transport tr(o);
  ringo::run([](transport* t, std::string u) -> task<void> {
    std::stop_source ss;
    ringo::scope sc;
    sc.spawn(ringo::test::stop_after(&ss, 20ms));
    result<response, client_error> r = co_await t->round_trip(get(u), ss.get_token());
    co_await sc.join();
    EXPECT_FALSE(r);
    EXPECT_EQ(t->idle_count(), 0u);
    (void)co_await sleep_for(200ms);
    EXPECT_EQ(t->idle_count(), 1u);  // the late conn went to the pool
    {
      std::string got_ = co_await fetch(t, get(u));
      EXPECT_EQ(got_, "hello");
    }
    EXPECT_EQ(t->dial_count(), 1u);
    co_await t->close();
  }(&tr, srv.url()));
  EXPECT_EQ(srv.accepts(), 1);
}

// Conn 0 answers one request, then reads the next and closes without answering; later conns
// answer everything.
void serve_then_die(int fd, int index) {
  if (index == 0) {
    if (read_request(fd).empty()) return;
    send_all(fd, ok_hello);
    (void)read_request(fd);
    return;
  }
  serve_hello(fd, index);
}

TEST_F(TransportTest, IdempotentRequestRetriedOnReusedConn) {  // Go #19943, #22158
  script_server srv(serve_then_die);
  transport tr;
  ringo::run([](transport* t, std::string u) -> task<void> {
    {
      std::string got_ = co_await fetch(t, get(u));
      EXPECT_EQ(got_, "hello");
    }
    {
      std::string got_ = co_await fetch(t, get(u));
      EXPECT_EQ(got_, "hello");  // fails on conn 0 after writing, retried
    }
    co_await t->close();
  }(&tr, srv.url()));
  EXPECT_EQ(srv.accepts(), 2);
}

TEST_F(TransportTest, PostNotRetriedOnceWritten) {
  script_server srv(serve_then_die);
  transport tr;
  ringo::run([](transport* t, std::string u) -> task<void> {
    {
      std::string got_ = co_await fetch(t, get(u));
      EXPECT_EQ(got_, "hello");
    }
    client_request post = get(u, "POST");
    post.body = "data";
    std::string got = co_await fetch(t, std::move(post));
    EXPECT_EQ(got, "error: http: server closed idle connection");
    client_request keyed = get(u, "POST");
    keyed.body = "data";
    keyed.header.set("Idempotency-Key", "1");
    {
      std::string got_ = co_await fetch(t, std::move(keyed));
      EXPECT_EQ(got_, "hello");  // conn 1 is fresh
    }
    co_await t->close();
  }(&tr, srv.url()));
}

TEST_F(TransportTest, NoRetryOnFreshConn) {
  script_server srv([](int fd, int) { (void)read_request(fd); });
  transport tr;
  ringo::run([](transport* t, std::string u) -> task<void> {
    std::string got = co_await fetch(t, get(u));
    EXPECT_EQ(got, "error: connection broken: EOF");
    co_await t->close();
  }(&tr, srv.url()));
  EXPECT_EQ(srv.accepts(), 1);
}

TEST_F(TransportTest, Idle408IsSwallowed) {  // Go #32310
  script_server srv([](int fd, int) {
    if (read_request(fd).empty()) return;
    send_all(fd, ok_hello);
    std::this_thread::sleep_for(20ms);
    send_all(fd, "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  });
  transport tr;
  ringo::run([](transport* t, std::string u) -> task<void> {
    {
      std::string got_ = co_await fetch(t, get(u));
      EXPECT_EQ(got_, "hello");
    }
    (void)co_await sleep_for(80ms);
    EXPECT_EQ(t->idle_count(), 0u);
    {
      std::string got_ = co_await fetch(t, get(u));
      EXPECT_EQ(got_, "hello");
    }
    co_await t->close();
  }(&tr, srv.url()));
  EXPECT_EQ(srv.accepts(), 2);
}

TEST_F(TransportTest, UnsolicitedBytesOnIdleConnCloseIt) {
  script_server srv([](int fd, int index) {
    if (read_request(fd).empty()) return;
    send_all(fd, ok_hello);
    if (index == 0) send_all(fd, "garbage");
    serve_hello(fd, index);
  });
  transport tr;
  ringo::run([](transport* t, std::string u) -> task<void> {
    {
      std::string got_ = co_await fetch(t, get(u));
      EXPECT_EQ(got_, "hello");
    }
    (void)co_await sleep_for(50ms);
    EXPECT_EQ(t->idle_count(), 0u);
    {
      std::string got_ = co_await fetch(t, get(u));
      EXPECT_EQ(got_, "hello");
    }
    co_await t->close();
  }(&tr, srv.url()));
  EXPECT_EQ(srv.accepts(), 2);
}

TEST_F(TransportTest, RequestBodyClosedExactlyOnce) {  // Go #49621
  script_server srv(serve_then_die);
  transport tr;
  int cl[4] = {};
  ringo::run([](transport* t, std::string u, int* closes) -> task<void> {
    client_request a = get(u, "PUT");
    a.source = std::make_shared<counting_source>("payload", true, nullptr, &closes[0]);
    {
      std::string got_ = co_await fetch(t, std::move(a));
      EXPECT_EQ(got_, "hello");  // succeeds on conn 0
    }
    client_request b = get(u, "PUT");
    b.source = std::make_shared<counting_source>("payload", true, nullptr, &closes[1]);
    b.header.set("Idempotency-Key", "x");
    {
      std::string got_ = co_await fetch(t, std::move(b));
      EXPECT_EQ(got_, "hello");  // fails on conn 0, retried (rewind)
    }
    client_request c = get(u, "PUT");
    c.url.scheme = "ftp";
    c.source = std::make_shared<counting_source>("payload", true, nullptr, &closes[2]);
    {
      std::string got_ = co_await fetch(t, std::move(c));
      EXPECT_NE(got_, "hello");  // never sent
    }
    std::stop_source stopped;
    stopped.request_stop();
    client_request d = get(u, "PUT");
    d.source = std::make_shared<counting_source>("payload", true, nullptr, &closes[3]);
    {
      std::string got_ = co_await fetch(t, std::move(d), stopped.get_token());
      EXPECT_NE(got_, "hello");  // canceled
    }
    co_await t->close();
  }(&tr, srv.url(), cl));
  for (int c : cl) EXPECT_EQ(c, 1);
}

TEST_F(TransportTest, HeadAnd204PutConnBackBeforeReturning) {
  script_server srv([](int fd, int) {
    for (int i = 0;; ++i) {
      std::string req = read_request(fd);
      if (req.empty()) return;
      if (req.starts_with("HEAD"))
        send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
      else
        send_all(fd, "HTTP/1.1 204 No Content\r\n\r\n");
    }
  });
  transport tr;
  ringo::run([](transport* t, std::string u) -> task<void> {
    result<response, client_error> h = co_await t->round_trip(get(u, "HEAD"));
    EXPECT_TRUE(h);
    if (h) {
      EXPECT_EQ(h->content_length, 1000u);
    }
    EXPECT_EQ(t->idle_count(), 1u);
    result<response, client_error> n = co_await t->round_trip(get(u));
    EXPECT_TRUE(n);
    if (n) {
      EXPECT_EQ(n->status, 204);
    }
    EXPECT_EQ(t->idle_count(), 1u);
    co_await t->close();
  }(&tr, srv.url()));
  EXPECT_EQ(srv.accepts(), 1);
}

TEST_F(TransportTest, BodyClosedEarlyClosesConn) {
  script_server srv(serve_hello);
  transport tr;
  ringo::run([](transport* t, std::string u) -> task<void> {
    {
      result<response, client_error> r = co_await t->round_trip(get(u));
      EXPECT_TRUE(r);
    }
    EXPECT_EQ(t->idle_count(), 0u);
    {
      std::string got_ = co_await fetch(t, get(u));
      EXPECT_EQ(got_, "hello");
    }
    EXPECT_EQ(t->dial_count(), 2u);
    co_await t->close();
  }(&tr, srv.url()));
}

task<void> chunked_handler(response_writer& w, request&) {
  std::string piece(25000, 'x');
  for (int i = 0; i < 8; ++i) {
    piece[0] = char('a' + i);
    (void)co_await w.write(const_buffer(piece.data(), piece.size()));
    (void)co_await w.flush();
  }
}

task<void> against_ringo_server(transport* t, server* srv, net::listener* l, bool keep_alive) {
  ringo::scope sc;
  sc.spawn(
      [](server* s, net::listener* li) -> task<void> { (void)co_await s->serve(*li); }(srv, l));
  std::string u = "http://127.0.0.1:" + std::to_string(l->addr().port()) + "/big";
  for (int i = 0; i < 5; ++i) {
    std::string got = co_await fetch(t, get(u));
    EXPECT_EQ(got.size(), 200000u);
    if (got.size() == 200000u) {
      EXPECT_EQ(got[0], 'a');
      EXPECT_EQ(got[175000], 'h');
    }
  }
  EXPECT_EQ(t->dial_count(), keep_alive ? 1u : 5u);
  co_await t->close();
  co_await srv->shutdown();
  co_await sc.join();
}

TEST_F(TransportTest, ChunkedBodiesFromRingoServerReuseOneConn) {
  auto l = net::listen("tcp", "127.0.0.1:0");
  ASSERT_TRUE(l);
  server srv(chunked_handler);
  transport tr;
  ringo::run(against_ringo_server(&tr, &srv, &*l, true));
}

TEST_F(TransportTest, DisableKeepAlivesDialsEachTime) {
  auto l = net::listen("tcp", "127.0.0.1:0");
  ASSERT_TRUE(l);
  server srv(chunked_handler);
  transport_options o;
  o.disable_keep_alives = true;
  transport tr(o);
  ringo::run(against_ringo_server(&tr, &srv, &*l, false));
}

TEST_F(TransportTest, ResponseHeaderTimeout) {
  std::atomic<bool> done{false};
  script_server srv([&](int fd, int) {
    (void)read_request(fd);
    while (!done.load()) std::this_thread::sleep_for(1ms);
  });
  transport_options o;
  o.response_header_timeout = 50ms;
  transport tr(o);
  ringo::run([](transport* t, std::string u) -> task<void> {
    auto start = clock::now();
    std::string got = co_await fetch(t, get(u));
    EXPECT_EQ(got, "error: net/http: timeout awaiting response headers");
    EXPECT_GE(clock::now() - start, 50ms);
    co_await t->close();
  }(&tr, srv.url()));
  done.store(true);
}

TEST_F(TransportTest, CloseIdleConnectionsStopsDialsNobodyWaitsFor) {
  script_server srv(serve_hello);
  transport_options o;
  o.dial = slow_dial;
  transport tr(o);
  ringo::run([](transport* t, std::string u) -> task<void> {
    std::stop_source ss;
    ringo::scope sc;
    sc.spawn(ringo::test::stop_after(&ss, 20ms));
    result<response, client_error> r = co_await t->round_trip(get(u), ss.get_token());
    co_await sc.join();
    EXPECT_FALSE(r);
    t->close_idle_connections();
    (void)co_await sleep_for(150ms);
    EXPECT_EQ(t->idle_count(), 0u);
    EXPECT_EQ(t->conns_per_host("127.0.0.1:" + u.substr(u.rfind(':') + 1, 5)), 0u);
    co_await t->close();
  }(&tr, srv.url().substr(0, srv.url().size() - 1)));
  EXPECT_EQ(srv.accepts(), 0);
}

TEST_F(TransportTest, ConnDyingMidBodyLeavesNothingBehind) {  // Go #10457, #61708
  script_server srv([](int fd, int index) {
    if (read_request(fd).empty()) return;
    if (index == 0) {
      send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b");
      return;
    }
    send_all(fd, ok_hello);
    serve_hello(fd, index);
  });
  transport tr;
  ringo::run([](transport* t, std::string u) -> task<void> {
    std::string got = co_await fetch(t, get(u));
    EXPECT_TRUE(got.starts_with("error: body:")) << got;
    EXPECT_EQ(t->idle_count(), 0u);
    EXPECT_EQ(t->conns_per_host("127.0.0.1:" + u.substr(u.rfind(':') + 1, 5)), 0u);
    std::string again = co_await fetch(t, get(u));
    EXPECT_EQ(again, "hello");
    co_await t->close();
  }(&tr, srv.url().substr(0, srv.url().size() - 1)));
}

// The caller's own "Connection: close" (Go's Request.Close) closes the conn after the response,
// whether or not the server says so: a server may close without echoing it (RFC 9112 §9.6), and
// a conn pooled then would fail the next request (a POST, not retried once written).
TEST_F(TransportTest, TheCallersConnectionCloseIsHonoured) {
  script_server srv([](int fd, int) {
    for (;;) {
      std::string req = read_request(fd);
      if (req.empty()) return;
      send_all(fd, ok_hello);
      if (req.find("Connection: close") != std::string::npos) return;  // closes, says nothing
    }
  });
  transport tr;
  ringo::run([](transport* t, std::string u) -> task<void> {
    client_request first = get(u);
    first.header.set("Connection", "close");
    EXPECT_EQ(co_await fetch(t, std::move(first)), "hello");
    EXPECT_EQ(t->idle_count(), 0u);
    (void)co_await sleep_for(20ms);  // the server's FIN is there
    client_request post = get(u, "POST");
    post.body = "data";
    EXPECT_EQ(co_await fetch(t, std::move(post)), "hello");
    const transport_stats st = t->stats();
    bool counted = false;
    for (const auto& [reason, n] : st.closed)
      counted |= reason == "http: request asked to close the connection" && n == 1;
    EXPECT_TRUE(counted) << "the close is counted under its reason";
    co_await t->close();
  }(&tr, srv.url()));
  EXPECT_EQ(srv.accepts(), 2);
}

// A body cut short reads its error on every later read, never a clean end (Go's bodyEOFSignal
// keeps rerr): a caller that reads again after an error must not take a truncated body.
TEST_F(TransportTest, ABodyCutShortNeverReadsAsEnded) {
  script_server srv([](int fd, int) {
    if (read_request(fd).empty()) return;
    send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  });
  transport tr;
  ringo::run([](transport* t, std::string u) -> task<void> {
    auto r = co_await t->round_trip(get(u));
    EXPECT_TRUE(r);
    if (!r) co_return;
    char buf[64];
    std::string got;
    std::error_code first;
    for (int i = 0; i < 4 && !first; ++i) {
      auto n = co_await r->body->read(mutable_buffer(buf, sizeof buf));
      if (n)
        got.append(buf, *n);
      else
        first = n.error();
    }
    EXPECT_EQ(got, "abc");
    EXPECT_TRUE(first) << "the cut went unnoticed";
    for (int i = 0; i < 2; ++i) {
      auto again = co_await r->body->read(mutable_buffer(buf, sizeof buf));
      EXPECT_FALSE(again) << "a read after the error reads " << (again ? *again : 0) << " bytes";
      if (!again) {
        EXPECT_EQ(again.error(), first);
      }
    }
    co_await t->close();
  }(&tr, srv.url()));
}

// A response that outlives its transport (which the docs forbid, but a user may do) closes its
// conn at the body's end instead of pooling it into the dropped transport: that left an idle
// watcher in a scope nobody joins, and dropping the response then aborted.
TEST_F(TransportTest, AResponseThatOutlivesItsTransportPoolsNothing) {
  script_server srv([](int fd, int index) { serve_hello(fd, index); });
  ringo::run([](std::string u) -> task<void> {
    std::optional<response> kept;
    {
      transport t;
      auto r = co_await t.round_trip(get(u));
      EXPECT_TRUE(r);
      if (!r) co_return;
      kept = std::move(*r);
    }
    auto body = co_await kept->body->read_all();
    EXPECT_EQ(body.value_or("<error>"), "hello");
    (void)co_await sleep_for(50ms);  // past the idle watch's delay
    kept.reset();
  }(srv.url()));
}

task<void> fetch_into(transport* t, std::string u, std::stop_token stop, std::string* out) {
  *out = co_await fetch(t, get(u), stop);
}

// A waiter stopped in the same turn as a conn is handed to it gives the conn back (Go's
// wantConn.cancel: putOrCloseIdleConn): the stop is the request's end, not the conn's.
TEST_F(TransportTest, AConnHandedToAWaiterStoppedInTheSameTurnGoesBack) {
  script_server srv([](int fd, int index) { serve_hello(fd, index); });
  transport_options o;
  o.max_conns_per_host = 1;
  transport tr(o);
  ringo::run([](transport* t, std::string u) -> task<void> {
    auto first = co_await t->round_trip(get(u));  // holds the only conn until its body is read
    EXPECT_TRUE(first);
    if (!first) co_return;
    std::stop_source stop;
    std::string waited;
    scope s;
    s.spawn(fetch_into(t, u, stop.get_token(), &waited));
    (void)co_await sleep_for(20ms);  // it waits for the conn
    stop.request_stop();
    auto body = co_await first->body->read_all();  // buffered: the conn goes back in this turn
    EXPECT_EQ(body.value_or("<error>"), "hello");
    co_await s.join();
    EXPECT_TRUE(waited.starts_with("error: ")) << waited;
    EXPECT_EQ(t->idle_count(), 1u) << "the conn was closed";
    EXPECT_EQ(co_await fetch(t, get(u)), "hello");
    EXPECT_EQ(t->dial_count(), 1u);
    co_await t->close();
  }(&tr, srv.url()));
}

// The request's body goes out while the answer is awaited (Go's persistConn.roundTrip): a server
// that answers before reading it all (a 413) ends the upload, and the answer is the response,
// whether the server then waits or closes; the conn is not pooled (the server expects a body it
// never got). The upload is 64 MiB: far more than the socket buffers hold.
void answer_413_early(int fd, bool close_after) {
  std::string got;  // the head, and whatever of the body came with it
  char buf[4096];
  while (got.find("\r\n\r\n") == std::string::npos) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    got.append(buf, std::size_t(n));
  }
  send_all(fd, "HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n");
  if (!close_after) std::this_thread::sleep_for(1500ms);  // reads nothing more, keeps the socket
}

void expect_early_413(bool close_after) {
  script_server srv([close_after](int fd, int index) {
    if (index == 0) return answer_413_early(fd, close_after);
    serve_hello(fd, index);
  });
  transport tr;
  ringo::run([](transport* t, std::string u) -> task<void> {
    client_request post = get(u, "POST");
    post.body = std::string(64 << 20, 'u');
    const time_point start = clock::now();
    auto r = co_await t->round_trip(std::move(post));
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    if (!r) co_return;
    EXPECT_EQ(r->status, 413);
    EXPECT_LT(clock::now() - start, 1s) << "the answer waited for the upload";
    (void)co_await r->body->read_all();
    EXPECT_EQ(t->idle_count(), 0u) << "a conn whose body was cut was pooled";
    EXPECT_EQ(co_await fetch(t, get(u)), "hello");  // on a new conn, its own answer only
    EXPECT_EQ(t->dial_count(), 2u);
    co_await t->close();
  }(&tr, srv.url()));
}

TEST_F(TransportTest, AnAnswerBeforeTheBodyIsSentEndsTheUpload) {
  expect_early_413(false);
}

TEST_F(TransportTest, AnAnswerBeforeTheServerClosesBeatsTheWriteError) {
  expect_early_413(true);
}

// A stop during an upload the server neither reads nor answers ends both the write and the wait
// for the answer at once (RingoTest counts the descriptors after).
TEST_F(TransportTest, StoppingAnUploadNobodyReadsEndsItAtOnce) {
  script_server srv([](int, int) { std::this_thread::sleep_for(1500ms); });  // reads nothing
  transport tr;
  ringo::run([](transport* t, std::string u) -> task<void> {
    std::stop_source stop;
    client_request post = get(u, "POST");
    post.body = std::string(64 << 20, 'u');
    scope s;
    s.spawn(ringo::test::stop_after(&stop, 100ms));
    const time_point start = clock::now();
    std::string got = co_await fetch(t, std::move(post), stop.get_token());
    EXPECT_LT(clock::now() - start, 1s) << "the stop did not end the upload";
    EXPECT_TRUE(got.starts_with("error: ")) << got;
    EXPECT_EQ(t->idle_count(), 0u);
    co_await s.join();
    co_await t->close();
  }(&tr, srv.url()));
}

}  // namespace
}  // namespace ringo::http
