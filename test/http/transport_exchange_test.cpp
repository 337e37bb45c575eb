// One exchange on a conn, against scripted servers on 127.0.0.1: Expect: 100-continue (the wait,
// its timeout, a refusal, a stop), 101 hand-over, trailers, a streamed chunked request body, the
// request deadline over every phase, and what the traces report (got_conn, put_idle_conn).
#include <chrono>
#include <cstring>
#include <string>
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

class TransportExchangeTest : public ringo::test::RingoTest {};

// Reads a request head only (the body, if any, is left in the socket).
std::string read_head_only(int fd) {
  std::string got;
  char c;
  while (!got.ends_with("\r\n\r\n")) {
    if (::recv(fd, &c, 1, 0) != 1) return {};
    got += c;
  }
  return got;
}

std::string read_exactly(int fd, std::size_t n) {
  std::string got(n, '\0');
  std::size_t at = 0;
  while (at < n) {
    ssize_t r = ::recv(fd, got.data() + at, n - at, 0);
    if (r <= 0) return got.substr(0, at);
    at += std::size_t(r);
  }
  return got;
}

// Whether the client sent anything within `wait` (the socket stays usable).
bool sent_within(int fd, std::chrono::milliseconds wait) {
  std::this_thread::sleep_for(wait);
  char c;
  return ::recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) > 0;
}

client_request post_expecting_continue(const std::string& u, std::string body) {
  client_request r = get(u, "POST");
  r.body = std::move(body);
  r.header.add("Expect", "100-continue");
  return r;
}

TEST_F(TransportExchangeTest, ExpectContinueSendsTheBodyAfter100) {
  std::atomic<bool> early_body{true};
  script_server srv([&](int fd, int) {
    if (read_head_only(fd).empty()) return;
    early_body = sent_within(fd, 50ms);
    send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n");
    std::string body = read_exactly(fd, 7);
    send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n" + body);
  });
  transport_options o;
  o.expect_continue_timeout = 10s;  // the 100 must end the wait, not this
  transport tr(o);
  std::string events;
  client_trace trace;
  trace.wait_100_continue = [&] { events += "wait "; };
  trace.got_100_continue = [&] { events += "got "; };
  auto start = clock::now();
  ringo::run([](transport* t, client_request req) -> task<void> {
    std::string got = co_await fetch(t, std::move(req));
    EXPECT_EQ(got, "payload");
    co_await t->close();
  }(&tr, [&] {
               client_request r = post_expecting_continue(srv.url(), "payload");
               r.trace = &trace;
               return r;
             }()));
  EXPECT_FALSE(early_body.load()) << "the body went out before the 100 Continue";
  EXPECT_EQ(events, "wait got ");
  EXPECT_LT(clock::now() - start, 5s);
}

TEST_F(TransportExchangeTest, ExpectContinueTimeoutSendsTheBodyAnyway) {
  script_server srv([](int fd, int) {
    if (read_head_only(fd).empty()) return;
    std::string body = read_exactly(fd, 7);  // never sends a 100
    send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n" + body);
  });
  transport_options o;
  o.expect_continue_timeout = 150ms;
  transport tr(o);
  auto start = clock::now();
  ringo::run([](transport* t, client_request req) -> task<void> {
    std::string got = co_await fetch(t, std::move(req));
    EXPECT_EQ(got, "payload");
    co_await t->close();
  }(&tr, post_expecting_continue(srv.url(), "payload")));
  expect_took_at_least(start, 150ms);
}

TEST_F(TransportExchangeTest, ExpectContinueRefusedSendsNoBodyAndRetiresTheConn) {
  std::atomic<bool> got_body{false};
  script_server srv([&](int fd, int index) {
    if (index > 0) return serve_hello(fd, index);
    if (read_head_only(fd).empty()) return;
    send_all(fd, "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 4\r\n\r\nnope");
    got_body = sent_within(fd, 100ms);
    read_request(fd);  // until the client closes
  });
  transport tr;
  ringo::run([](transport* t, client_request req, std::string u) -> task<void> {
    result<response, client_error> r = co_await t->round_trip(std::move(req));
    EXPECT_TRUE(r.has_value());
    if (!r) co_return;
    EXPECT_EQ(r->status, 417);
    result<std::string> body = co_await r->body->read_all();
    EXPECT_EQ(body.value_or(""), "nope");
    EXPECT_EQ(t->idle_count(), 0u);  // the server waits for a body that will never come
    std::string again = co_await fetch(t, get(u));
    EXPECT_EQ(again, "hello");
    co_await t->close();
  }(&tr, post_expecting_continue(srv.url(), "payload"), srv.url()));
  EXPECT_FALSE(got_body.load());
  EXPECT_EQ(srv.accepts(), 2);
}

TEST_F(TransportExchangeTest, StopWhileWaitingFor100Continue) {
  script_server srv([](int fd, int) {
    read_head_only(fd);
    read_request(fd);  // waits for the client to go
  });
  transport_options o;
  o.expect_continue_timeout = 30s;
  transport tr(o);
  auto start = clock::now();
  ringo::run([](transport* t, client_request req) -> task<void> {
    const std::string key = req.url.authority();
    std::stop_source ss;
    auto [r, ignored] = co_await when_all(t->round_trip(std::move(req), ss.get_token()),
                                          test::stop_after(&ss, 50ms));
    EXPECT_FALSE(r.has_value());
    if (!r) {
      EXPECT_EQ(r.error().code(), ringo::errc::operation_canceled);
    }
    EXPECT_EQ(t->conns_per_host(key), 0u);
    co_await t->close();
  }(&tr, post_expecting_continue(srv.url(), "payload")));
  EXPECT_LT(clock::now() - start, 5s);
}

TEST_F(TransportExchangeTest, SwitchingProtocolsHandsTheConnOver) {
  script_server srv([](int fd, int) {
    if (read_request(fd).empty()) return;
    send_all(fd,
             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nhi");
    char buf[64];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) send_all(fd, std::string_view(buf, size_t(n)));
  });
  transport tr;
  ringo::run([](transport* t, std::string u) -> task<void> {
    client_request req = get(u);
    req.header.add("Connection", "Upgrade");
    req.header.add("Upgrade", "echo");
    result<response, client_error> r = co_await t->round_trip(std::move(req));
    EXPECT_TRUE(r.has_value());
    if (!r) co_return;
    EXPECT_EQ(r->status, 101);
    EXPECT_EQ(r->upgraded_bytes, "hi");
    EXPECT_TRUE(r->upgraded != nullptr);
    EXPECT_EQ(t->conns_per_host(parse_url(u)->authority()), 0u);  // the transport forgot it
    EXPECT_EQ(t->idle_count(), 0u);
    if (!r->upgraded) co_return;
    (void)co_await r->upgraded->write_all(const_buffer("ping", 4));
    char buf[4];
    result<std::size_t> n = co_await r->upgraded->read_full(mutable_buffer(buf, 4));
    EXPECT_EQ(std::string_view(buf, n.value_or(0)), "ping");
    r->upgraded->close();
    co_await t->close();
  }(&tr, srv.url()));
}

TEST_F(TransportExchangeTest, ChunkedTrailersAreReadAndTheConnReused) {
  script_server srv([](int fd, int) {
    while (!read_request(fd).empty())
      send_all(fd,
               "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"
               "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n");
  });
  transport tr;
  ringo::run([](transport* t, std::string u) -> task<void> {
    for (int i = 0; i < 2; ++i) {
      result<response, client_error> r = co_await t->round_trip(get(u));
      EXPECT_TRUE(r.has_value());
      if (!r) co_return;
      EXPECT_TRUE(r->trailer().empty());  // not before the body's end
      result<std::string> body = co_await r->body->read_all();
      EXPECT_EQ(body.value_or(""), "hello");
      EXPECT_EQ(r->trailer().get("x-checksum").value_or(""), "abc");
      EXPECT_EQ(r->trailer().get("X-Other").value_or(""), "1");
      EXPECT_FALSE(r->header.contains("X-Checksum"));
    }
    co_await t->close();
  }(&tr, srv.url()));
  EXPECT_EQ(srv.accepts(), 1);
}

// A body of unknown length, in pieces.
class pieces_source final : public body_source {
 public:
  explicit pieces_source(std::vector<std::string> p) : pieces_(std::move(p)) {}
  task<result<std::size_t>> read(mutable_buffer buf, std::stop_token) override {
    if (at_ == pieces_.size()) co_return 0;
    const std::string& p = pieces_[at_++];
    std::memcpy(buf.data, p.data(), p.size());
    co_return p.size();
  }
  result<void> rewind() override {
    at_ = 0;
    return {};
  }

 private:
  std::vector<std::string> pieces_;
  std::size_t at_ = 0;
};

TEST_F(TransportExchangeTest, StreamedBodyIsChunked) {
  std::string received;
  script_server srv([&](int fd, int) {
    std::string head = read_head_only(fd);
    std::string body;
    char c;
    while (!body.ends_with("0\r\n\r\n") && ::recv(fd, &c, 1, 0) == 1) body += c;
    received = head + body;
    send_all(fd, ok_hello);
  });
  transport tr;
  ringo::run([](transport* t, std::string u) -> task<void> {
    client_request req = get(u, "PUT");
    req.source = std::make_shared<pieces_source>(std::vector<std::string>{"ab", "cdefghijklmnopq"});
    std::string got = co_await fetch(t, std::move(req));
    EXPECT_EQ(got, "hello");
    co_await t->close();
  }(&tr, srv.url()));
  EXPECT_NE(received.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << received;
  EXPECT_TRUE(received.ends_with("\r\n\r\n2\r\nab\r\nf\r\ncdefghijklmnopq\r\n0\r\n\r\n"))
      << received;
}

TEST_F(TransportExchangeTest, DeadlineCoversReadingTheBody) {
  script_server srv([](int fd, int) {
    if (read_request(fd).empty()) return;
    send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello");
    read_request(fd);  // stalls until the client goes
  });
  transport tr;
  auto start = clock::now();
  ringo::run([](transport* t, std::string u) -> task<void> {
    client_request req = get(u);
    req.deadline = clock::now() + 200ms;
    result<response, client_error> r = co_await t->round_trip(std::move(req));
    EXPECT_TRUE(r.has_value());
    if (!r) co_return;
    result<std::string> body = co_await r->body->read_all();
    EXPECT_FALSE(body.has_value());
    if (!body) {
      EXPECT_EQ(body.error(), ringo::errc::timed_out);
    }
    EXPECT_EQ(t->conns_per_host(parse_url(u)->authority()), 0u);
    co_await t->close();
  }(&tr, srv.url()));
  expect_took_at_least(start, 200ms);
}

TEST_F(TransportExchangeTest, DeadlineWhileWaitingForAConnSlot) {
  script_server srv([](int fd, int) {
    if (read_request(fd).empty()) return;
    std::this_thread::sleep_for(400ms);
    send_all(fd, ok_hello);
    serve_hello(fd, 0);
  });
  transport_options o;
  o.max_conns_per_host = 1;
  transport tr(o);
  ringo::run([](transport* t, std::string u) -> task<void> {
    auto late = [](transport* tp, std::string url) -> task<std::string> {
      (void)co_await sleep_for(20ms);  // the first request holds the only slot
      client_request req = get(url);
      req.deadline = clock::now() + 100ms;
      result<response, client_error> r = co_await tp->round_trip(std::move(req));
      co_return r ? std::string("response") : r.error().message();
    };
    auto [first, second] = co_await when_all(fetch(t, get(u)), late(t, u));
    EXPECT_EQ(first, "hello");
    EXPECT_EQ(second, "context deadline exceeded");
    EXPECT_EQ(t->waiter_count(), 0u);
    co_await t->close();
  }(&tr, srv.url()));
  EXPECT_EQ(srv.accepts(), 1);
}

TEST_F(TransportExchangeTest, GotConnReportsReuseAndIdleTime) {
  script_server srv(serve_hello);
  transport tr;
  std::vector<got_conn_info> seen;
  client_trace trace;
  trace.got_conn = [&](const got_conn_info& i) { seen.push_back(i); };
  ringo::run([](transport* t, std::string u, const client_trace* tc) -> task<void> {
    for (int i = 0; i < 2; ++i) {
      client_request req = get(u);
      req.trace = tc;
      std::string got = co_await fetch(t, std::move(req));
      EXPECT_EQ(got, "hello");
      (void)co_await sleep_for(60ms);
    }
    co_await t->close();
  }(&tr, srv.url(), &trace));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_FALSE(seen[0].reused);
  EXPECT_FALSE(seen[0].was_idle);
  EXPECT_EQ(seen[0].idle_time, duration::zero());
  EXPECT_TRUE(seen[1].reused);
  EXPECT_TRUE(seen[1].was_idle);
  EXPECT_GE(seen[1].idle_time, 50ms);
  EXPECT_LT(seen[1].idle_time, 5s);
}

TEST_F(TransportExchangeTest, DialEventsReachTheRequestThatStartedTheDial) {
  script_server srv(serve_hello);
  transport tr;
  std::vector<std::string> events;
  net::dial_trace dial;
  dial.connect_start = [&](time_point, const net::address& a) {
    events.push_back("connect " + a.to_string());
  };
  dial.connect_done = [&](time_point, const net::address&, std::error_code ec) {
    events.push_back(ec ? "failed" : "connected");
  };
  client_trace trace;
  trace.dial = &dial;
  ringo::run([](transport* t, std::string u, const client_trace* tc) -> task<void> {
    for (int i = 0; i < 2; ++i) {  // the second reuses the conn: no dial
      client_request req = get(u);
      req.trace = tc;
      std::string got = co_await fetch(t, std::move(req));
      EXPECT_EQ(got, "hello");
    }
    co_await t->close();
  }(&tr, srv.url(), &trace));
  std::string addr = srv.url().substr(7, srv.url().size() - 8);
  EXPECT_EQ(events, (std::vector<std::string>{"connect " + addr, "connected"}));
}

// put_idle_conn reports why a conn was not pooled (Go commit d89e46d's tryPutIdleConn reasons).
TEST_F(TransportExchangeTest, PutIdleConnReportsTheReason) {
  struct row {
    const char* name;
    transport_options options;
    int concurrent;
    std::error_code last;
  };
  transport_options disabled;
  disabled.disable_keep_alives = true;
  transport_options one_per_host;
  one_per_host.max_idle_conns_per_host = 1;
  row rows[] = {
      {"pooled", {}, 1, {}},
      {"keep-alives disabled", disabled, 1, errc::keep_alives_disabled},
      {"too many for host", one_per_host, 2, errc::too_many_idle_for_host},
  };
  script_server srv([](int fd, int) {
    if (read_request(fd).empty()) return;
    std::this_thread::sleep_for(50ms);  // concurrent requests overlap: two conns
    send_all(fd, ok_hello);
    serve_hello(fd, 0);
  });
  for (row& r : rows) {
    SCOPED_TRACE(r.name);
    transport tr(r.options);
    std::vector<std::error_code> reasons;
    client_trace trace;
    trace.put_idle_conn = [&](std::error_code ec) { reasons.push_back(ec); };
    ringo::run([](transport* t, std::string u, const client_trace* tc, int n) -> task<void> {
      client_request a = get(u), b = get(u);
      a.trace = b.trace = tc;
      if (n == 1) {
        (void)co_await fetch(t, std::move(a));
      } else {
        (void)co_await when_all(fetch(t, std::move(a)), fetch(t, std::move(b)));
      }
      co_await t->close();
    }(&tr, srv.url(), &trace, r.concurrent));
    ASSERT_EQ(reasons.size(), std::size_t(r.concurrent));
    EXPECT_EQ(reasons.back(), r.last) << reasons.back().message();
    if (r.concurrent > 1) {
      EXPECT_EQ(reasons.front(), std::error_code{});
    }
  }
}

}  // namespace
}  // namespace ringo::http
