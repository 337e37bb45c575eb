// server: nothing of one connection reaches the next. The server lends each connection's heavy
// part (buffers, parser, request, writer) from a pool of spares and takes it back when the
// connection goes idle or ends; an answer left queued when a client reset its connection was once
// sent to the next client served with the same spare. Each test abandons a connection in one way
// (RST or FIN while a handler sleeps, streams, ignores its stop token, waits behind pipelined
// requests, or hijacks), then checks that the connections after it get their own answers and
// nothing else. The pool is LIFO, so the next connection takes the spare the last one gave back.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "server_test_support.hpp"

namespace ringo::http {
namespace {

using namespace test;

using CrossConnection = ringo::test::RingoTest;

// Routes of the test server. /own/<id> answers "answer for <id>"; the others misbehave.
struct routes {
  counter finished;  // handlers of the abandoned requests that have returned
  task<void> operator()(response_writer& w, request& r) {
    std::string_view path = r.path();
    if (path.starts_with("/own/")) {
      w.header().set("X-Id", std::string(path.substr(5)));
      co_await w.write("answer for " + std::string(path.substr(5)));
    } else if (path == "/delay") {  // httpbin's /delay: sleeps on its stop token, then answers
      (void)co_await sleep_for(std::chrono::milliseconds(1000), r.stop);
      co_await w.write("slept");
    } else if (path == "/stream") {  // httpbin's /stream: chunk after chunk until stopped
      for (int i = 0; i < 100000 && !r.stop.stop_requested(); ++i) {
        co_await w.write("chunk " + std::to_string(i) + "\n");
        if (!co_await w.flush()) break;
      }
    } else if (path == "/oblivious") {  // ignores its token: sleeps, then writes a secret
      (void)co_await sleep_for(std::chrono::milliseconds(150));
      w.header().set("X-Secret", "token-of-the-first-client");
      co_await w.write("{\"account\": \"first\", \"token\": \"s3cr3t\"}");
    } else if (path == "/hijack") {
      auto h = co_await w.hijack();
      if (h) (void)co_await h->conn->write_all("raw bytes from a hijacker\r\n");
    }
    if (!path.starts_with("/own/")) finished.bump();
  }
};

// `n` connections one after the other, each asking for its own answer twice (keep-alive).
void expect_own_answers(std::uint16_t port, int n, std::string_view after) {
  for (int i = 0; i < n; ++i) {
    raw_client c(port);
    for (int k = 0; k < 2; ++k) {
      std::string id = std::to_string(i) + "." + std::to_string(k);
      c.send(get_request("/own/" + id));
      auto r = c.read_response(false, 2s);
      ASSERT_TRUE(r) << "after " << after << ": connection " << i;
      EXPECT_EQ(r->status, 200) << after << "\n" << r->head;
      EXPECT_EQ(r->get("X-Id"), id) << "after " << after << ": another request's answer\n"
                                    << r->head;
      EXPECT_EQ(r->body, "answer for " + id) << after;
      EXPECT_FALSE(r->get("X-Secret")) << after << ": another client's secret";
    }
    EXPECT_TRUE(c.quiet_for(20ms))
        << "after " << after << ": more bytes than asked for: " << c.read_some(10ms);
  }
}

void leave(raw_client& c, bool rst) {
  if (rst)
    c.reset();
  else
    c.close();
}

// The reproduction: a client resets while /delay sleeps; the handler wakes on its stop
// token and answers into a broken connection. That answer must die with it.
TEST_F(CrossConnection, AnAnswerForAClientThatResetIsNeverSentToTheNext) {
  routes rt;
  http::server srv(std::ref(rt));
  server_thread t(srv);
  int abandoned = 0;
  for (bool rst : {true, false}) {
    for (int round = 0; round < 5; ++round) {
      raw_client a(t.port());
      a.send(get_request("/delay"));
      std::this_thread::sleep_for(20ms);
      leave(a, rst);
      ASSERT_TRUE(rt.finished.wait_for(++abandoned));
      expect_own_answers(t.port(), 2, rst ? "a reset during /delay" : "a FIN during /delay");
    }
  }
}

// A chunked stream read in part, then reset: the chunks queued behind the failed send, and the
// last chunk, must not start the next connection's output ("0\r\n\r\n" did).
TEST_F(CrossConnection, AStreamCutByAResetLeavesNothingForTheNext) {
  routes rt;
  http::server srv(std::ref(rt));
  server_thread t(srv);
  for (int round = 0; round < 5; ++round) {
    raw_client a(t.port());
    a.send(get_request("/stream"));
    std::string got;
    while (got.size() < 100) {
      std::string more = a.read_some(2s);
      ASSERT_FALSE(more.empty());
      got += more;
    }
    a.reset();
    ASSERT_TRUE(rt.finished.wait_for(round + 1));
    expect_own_answers(t.port(), 2, "a stream cut by a reset");
  }
}

// A handler that does not watch its stop token writes after its client left: what it wrote goes
// nowhere, and certainly not to whoever connects next.
TEST_F(CrossConnection, AHandlerThatIgnoresItsStopWritesToNobody) {
  routes rt;
  http::server srv(std::ref(rt));
  server_thread t(srv);
  int abandoned = 0;
  for (bool rst : {true, false}) {
    for (int round = 0; round < 3; ++round) {
      raw_client a(t.port());
      a.send(get_request("/oblivious"));
      std::this_thread::sleep_for(20ms);
      leave(a, rst);
      ASSERT_TRUE(rt.finished.wait_for(++abandoned));
      expect_own_answers(t.port(), 2, "a handler that ignored its stop");
    }
  }
}

// Answers to pipelined requests wait in the output queue behind a slow handler; the client resets
// in the middle of them.
TEST_F(CrossConnection, PipelinedAnswersOfAClientThatResetStayWithIt) {
  routes rt;
  http::server srv(std::ref(rt));
  server_thread t(srv);
  for (int round = 0; round < 5; ++round) {
    raw_client a(t.port());
    a.send(get_request("/own/p1") + get_request("/oblivious") + get_request("/own/p2") +
           get_request("/delay") + get_request("/own/p3"));
    auto first = a.read_response(false, 2s);
    ASSERT_TRUE(first);
    a.reset();
    ASSERT_TRUE(rt.finished.wait_for(round + 1));
    std::this_thread::sleep_for(10ms);
    expect_own_answers(t.port(), 2, "pipelined requests and a reset");
  }
}

// A connection taken over by its handler: the spare it used goes back clean.
TEST_F(CrossConnection, AHijackedConnectionLeavesNothingBehind) {
  routes rt;
  http::server srv(std::ref(rt));
  server_thread t(srv);
  for (int round = 0; round < 3; ++round) {
    raw_client a(t.port());
    a.send(get_request("/hijack") + "bytes for the hijacker");
    EXPECT_EQ(a.read_until_close(), "raw bytes from a hijacker\r\n");
    ASSERT_TRUE(rt.finished.wait_for(round + 1));
    expect_own_answers(t.port(), 2, "a hijack");
  }
}

// Twenty connections, each left mid-request (a head or a body cut short, by RST or FIN), each
// followed by connections that must get exactly their own answers. `returning`: the abandoned
// connection first makes a whole request, so that it comes back (and then receives through a
// multishot recv whose ring buffers every connection on the thread shares: bytes of its cut
// request left in one must reach nobody else).
void abandon_mid_request(bool returning) {
  routes rt;
  http::server srv(std::ref(rt));
  server_thread t(srv);
  const std::string partial_head = "GET /own/never HTTP/1.1\r\nX-Secret: token-of-a\r\nHost: te";
  const std::string partial_body =
      "POST /own/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nX-Secret: 12";
  for (int round = 0; round < 20; ++round) {
    raw_client a(t.port());
    if (returning) {
      a.send(get_request("/own/first"));
      auto first = a.read_response(false, 2s);
      ASSERT_TRUE(first);
      EXPECT_EQ(first->body, "answer for first");
    }
    a.send(round % 2 ? partial_head : partial_body);
    std::this_thread::sleep_for(2ms);
    leave(a, round % 4 < 2);
    expect_own_answers(t.port(), 2, round % 2 ? "a partial head" : "a partial body");
  }
}

TEST_F(CrossConnection, AbandonedExchangesOfEveryKindLeaveTheNextConnectionClean) {
  abandon_mid_request(false);
}

TEST_F(CrossConnection, ReceiveBuffersLeftMidRequestHoldNothingForTheNext) {
  abandon_mid_request(true);
}

// The request object is the spare's too: whatever a handler changed in it (its version, method,
// fields, framing) is the next request's own again, on the same connection and the next one.
TEST_F(CrossConnection, WhatAHandlerChangesInItsRequestIsGoneForTheNext) {
  http::server srv([](response_writer& w, request& r) -> task<void> {
    const std::string seen = r.method + " " + r.target + " " + std::to_string(r.version_major) +
                             "." + std::to_string(r.version_minor) + " host=" + r.host +
                             " leak=" + (r.header.contains("X-Leak") ? "yes" : "no") + " length=" +
                             (r.content_length ? std::to_string(*r.content_length) : "none");
    r.version_major = 3;
    r.version_minor = 7;
    r.method = "MUTATED";
    r.target = "/elsewhere";
    r.host = "attacker.example";
    r.header.set("X-Leak", "1");
    r.content_length = 99;
    r.chunked = true;
    co_await w.write(seen);
  });
  server_thread t(srv);
  for (int conn = 0; conn < 2; ++conn) {
    raw_client c(t.port());
    for (int k = 0; k < 2; ++k) {
      c.send(get_request("/" + std::to_string(conn) + std::to_string(k)));
      auto r = c.read_response(false, 2s);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->body, "GET /" + std::to_string(conn) + std::to_string(k) +
                             " 1.1 host=test leak=no length=none");
    }
  }
}

}  // namespace
}  // namespace ringo::http
