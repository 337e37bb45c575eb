// server: what it answers to requests it must not serve, as tables (Go's readRequestErrorTests and
// the smuggling fixes: #34540 space before colon, #16490 conflicting Content-Length, #71988 bare LF
// in chunk lines, #64433 chunk-extension overhead). Every bad request gets its status and a closed
// connection; none reaches the handler with a head it cannot trust. A handler that throws gets a
// 500 (when nothing was sent), a line in the error log, and the server keeps serving.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "server_test_support.hpp"

namespace ringo::http {
namespace {

using namespace test;

using BadHead = ringo::test::RingoTest;
using BadBody = ringo::test::RingoTest;
using HeaderLimit = ringo::test::RingoTest;
using ThrowingHandler = ringo::test::RingoTest;

struct bad_case {
  const char* name;
  std::string request;
  int status;
};

// Sends `request` on a fresh connection; expects `status`, Connection: close, and the connection
// closed after it.
void expect_rejected(std::uint16_t port, const bad_case& c) {
  SCOPED_TRACE(c.name);
  raw_client client(port);
  client.try_send(c.request);
  auto r = client.read_response();
  ASSERT_TRUE(r) << c.name;
  EXPECT_EQ(r->status, c.status) << c.name;
  EXPECT_TRUE(r->has_token("Connection", "close")) << c.name << "\n" << r->head;
  EXPECT_EQ(r->get("Content-Type"), "text/plain; charset=utf-8") << c.name;
  EXPECT_TRUE(client.closed_within(2s)) << c.name << ": the connection stayed open";
}

const std::string host = "Host: example.com\r\n";

// Heads the server must refuse before any handler runs.
std::vector<bad_case> bad_heads() {
  return {
      {"not HTTP at all", "GARBAGE\r\n\r\n", 400},
      {"no method", " / HTTP/1.1\r\n" + host + "\r\n", 400},
      {"lower-case version token", "GET / http/1.1\r\n" + host + "\r\n", 400},
      // llhttp reads a request line without a version as HTTP/0.9; Go: 400, malformed (an explicit
      // "HTTP/0.9" is a version it does not speak: 505, below).
      {"no version", "GET /\r\n" + host + "\r\n", 400},
      {"no version and no header", "GET /\r\n\r\n", 400},
      {"no version after an empty line", "\r\nGET /x\r\n\r\n", 400},
      {"space in a header name", "GET / HTTP/1.1\r\n" + host + "Bad Name: v\r\n\r\n", 400},
      // Go #34540 (CVE-2019-16276): accepted and normalised, this smuggles behind proxies.
      {"space before the colon", "GET / HTTP/1.1\r\n" + host + "X-Foo : bar\r\n\r\n", 400},
      {"tab before the colon", "GET / HTTP/1.1\r\n" + host + "X-Foo\t: bar\r\n\r\n", 400},
      {"a control byte in a value", "GET / HTTP/1.1\r\n" + host + "X-Foo: a\x01z\r\n\r\n", 400},
      {"a header line without a colon", "GET / HTTP/1.1\r\n" + host + "NoColon\r\n\r\n", 400},
      // Go #16490: two different lengths; which one a proxy believes is a smuggling vector.
      {"conflicting Content-Length",
       "POST / HTTP/1.1\r\n" + host + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
      // Identical duplicates: Go keeps one, llhttp's strict mode refuses them (RFC 9110 §8.6
      // allows either; refusing is the safe side).
      {"a duplicated Content-Length",
       "POST / HTTP/1.1\r\n" + host + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400},
      {"a Content-Length list", "POST / HTTP/1.1\r\n" + host + "Content-Length: 3, 4\r\n\r\nabcd",
       400},
      {"a negative Content-Length", "POST / HTTP/1.1\r\n" + host + "Content-Length: -1\r\n\r\n",
       400},
      {"a Content-Length that is not a number",
       "POST / HTTP/1.1\r\n" + host + "Content-Length: abc\r\n\r\n", 400},
      {"a Content-Length past 2^64",
       "POST / HTTP/1.1\r\n" + host + "Content-Length: 99999999999999999999999\r\n\r\n", 400},
      // RFC 9112 §6.3: a server may reject it, and must if it forwards; Go rejects.
      {"Content-Length with Transfer-Encoding",
       "POST / HTTP/1.1\r\n" + host +
           "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       400},
      {"Transfer-Encoding with Content-Length",
       "POST / HTTP/1.1\r\n" + host +
           "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
       400},
      // Go 1.15: more than one Transfer-Encoding field is refused, as a coding it does not
      // implement ("too many transfer encodings", 501).
      {"two Transfer-Encoding fields",
       "POST / HTTP/1.1\r\n" + host +
           "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       501},
      // Every field is checked, not only the first: llhttp frames this as chunked, and a proxy
      // that read the second field would not (Go: 501, nginx: 400).
      {"chunked, then an empty Transfer-Encoding",
       "POST / HTTP/1.1\r\n" + host +
           "Transfer-Encoding: chunked\r\nTransfer-Encoding:\r\n\r\n0\r\n\r\n" +
           "GET /smuggled HTTP/1.1\r\n" + host + "\r\n",
       501},
      // RFC 9112 §6.1: faulty framing in an HTTP/1.0 message, whatever its Connection says.
      {"Transfer-Encoding on HTTP/1.0",
       "POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
       "0\r\n\r\n",
       400},
      // Go's parseContentLength takes lengths below 2^63 (nginx the same); beyond, no body can be
      // that long, and waiting for it would hold the connection.
      {"Content-Length 2^64-1",
       "POST / HTTP/1.1\r\n" + host + "Content-Length: 18446744073709551615\r\n\r\n", 400},
      {"Content-Length 2^63",
       "POST / HTTP/1.1\r\n" + host + "Content-Length: 9223372036854775808\r\n\r\n", 400},
      {"a method that is not a token", "G(T / HTTP/1.1\r\n" + host + "\r\n", 400},
      {"a method longer than 32 bytes", std::string(33, 'M') + " / HTTP/1.1\r\n" + host + "\r\n",
       400},
      // Go's readRequest: unknown codings are 501 Not Implemented.
      {"Transfer-Encoding gzip", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\n\r\n",
       501},
      {"Transfer-Encoding identity",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: identity\r\n\r\n", 501},
      {"Transfer-Encoding gzip, chunked",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
      // llhttp's strict mode refuses a coding after chunked; Go: 501, an unsupported coding.
      {"Transfer-Encoding chunked, gzip",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 501},
      {"HTTP/2.0 without the preface", "GET / HTTP/2.0\r\n" + host + "\r\n", 505},
      {"HTTP/3.0", "GET / HTTP/3.0\r\n" + host + "\r\n", 505},
      {"HTTP/0.9 with a version", "GET / HTTP/0.9\r\n" + host + "\r\n", 505},
      {"HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 400},
      {"two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"a Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
      {"Expect on HTTP/1.0", "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
       417},
  };
}

TEST_F(BadHead, EveryClassGetsItsStatusAndACloseWithoutReachingTheHandler) {
  std::atomic<int> calls{0};
  http::server srv([&](response_writer& w, request& r) -> task<void> {
    ++calls;
    co_await w.write("served " + r.target);
  });
  server_thread t(srv);
  for (const auto& c : bad_heads()) {
    int before = calls;
    expect_rejected(t.port(), c);
    EXPECT_EQ(calls, before) << c.name << ": the handler ran";
  }
}

// The good neighbours of the table: near misses that must be served.
TEST_F(BadHead, NearMissesAreServed) {
  http::server srv([](response_writer& w, request& r) -> task<void> {
    auto body = co_await r.body->read_all();
    // Built before the co_await: GCC 12 miscompiles a ?: over temporaries inside one.
    std::string text = r.method + " " + (body ? *body : "<error>");
    co_await w.write(text);
  });
  server_thread t(srv);
  struct good_case {
    const char* name;
    std::string request;
    std::string body;
  };
  std::vector<good_case> cases = {
      {"HTTP/1.0 without Host", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET "},
      {"a header value with spaces around it", "GET / HTTP/1.1\r\nHost:   x  \r\n\r\n", "GET "},
      {"Transfer-Encoding in another case",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
       "POST abc"},
      {"a chunk extension",
       "POST / HTTP/1.1\r\n" + host +
           "Transfer-Encoding: chunked\r\n\r\n3;name=value\r\nabc\r\n0\r\n\r\n",
       "POST abc"},
      {"a trailer",
       "POST / HTTP/1.1\r\n" + host +
           "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n",
       "POST abc"},
      // RFC 9112 §2.2: a recipient may take a bare LF for the end of a head line (Go does).
      {"bare LF ending the request line", "GET / HTTP/1.1\n" + host + "\r\n", "GET "},
      {"Content-Length 0 on a GET", "GET / HTTP/1.1\r\n" + host + "Content-Length: 0\r\n\r\n",
       "GET "},
      // RFC 9110 §2.5: a higher minor version is handled as the highest one spoken (llhttp's
      // strict mode refused it with 505).
      {"HTTP/1.2", "GET / HTTP/1.2\r\n" + host + "\r\n", "GET "},
      // Go hands any token method to the handler (llhttp knows a fixed set; 400 before).
      {"a method llhttp does not know", "FOO / HTTP/1.1\r\n" + host + "\r\n", "FOO "},
      {"an unknown method with a body",
       "BREW / HTTP/1.1\r\n" + host + "Content-Length: 3\r\n\r\ntea", "BREW tea"},
      {"an unknown method after empty lines", "\r\n\r\nFOO / HTTP/1.1\r\n" + host + "\r\n", "FOO "},
      {"a lower-case method", "get / HTTP/1.1\r\n" + host + "\r\n", "get "},
      {"a method of 32 bytes", std::string(32, 'M') + " / HTTP/1.1\r\n" + host + "\r\n",
       std::string(32, 'M') + " "},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    raw_client client(t.port());
    client.send(c.request + "GET /again HTTP/1.1\r\nHost: x\r\n\r\n");
    auto r = client.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, c.body);
    auto again = client.read_response();
    ASSERT_TRUE(again) << "the framing of the first request was misread";
    EXPECT_EQ(again->body, "GET ");
  }
}

// --- Bodies that break their framing
// ---------------------------------------------------------------

std::string chunked_post(std::string_view body) {
  return "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n" + std::string(body);
}

std::vector<bad_case> bad_bodies() {
  return {
      // Go #71988 (CVE-2025-22871): a bare LF ending a chunk-size line.
      {"bare LF after a chunk size", chunked_post("5\nhello\r\n0\r\n\r\n"), 400},
      {"bare LF after a chunk extension", chunked_post("5;a=b\nhello\r\n0\r\n\r\n"), 400},
      {"bare LF after chunk data", chunked_post("5\r\nhello\n0\r\n\r\n"), 400},
      {"bare LF after the last chunk", chunked_post("5\r\nhello\r\n0\n\r\n"), 400},
      {"a chunk size that is not hex", chunked_post("zz\r\nhello\r\n0\r\n\r\n"), 400},
      {"a chunk size past 2^64", chunked_post("10000000000000000\r\nhello\r\n0\r\n\r\n"), 400},
      {"chunk data longer than its size", chunked_post("3\r\nhello\r\n0\r\n\r\n"), 400},
      // Trailer fields count against max_header_bytes (1 MiB by default), as the head does.
      {"a trailer past max_header_bytes",
       chunked_post("5\r\nhello\r\n0\r\nX-Big: " + std::string(1100 << 10, 'v') + "\r\n\r\n"), 400},
  };
}

// The body is decoded as it is read, so the handler runs; its read fails, and the client gets a
// 400 and a closed connection instead of whatever the handler had meant to send.
TEST_F(BadBody, ABrokenChunkedBodyIsRefusedWhenTheHandlerReadsIt) {
  std::atomic<int> read_errors{0};
  http::server srv([&](response_writer& w, request& r) -> task<void> {
    auto body = co_await r.body->read_all();
    if (!body) {
      ++read_errors;
      EXPECT_TRUE(body.error() == errc::malformed || body.error() == errc::header_too_large)
          << body.error().message();
      co_return;
    }
    co_await w.write("read " + *body);
  });
  server_thread t(srv);
  auto cases = bad_bodies();
  for (const auto& c : cases) expect_rejected(t.port(), c);
  EXPECT_EQ(read_errors, static_cast<int>(cases.size()));
}

// A handler that never reads the body: its answer goes out first (as in Go and nginx); the server
// finds the broken framing while discarding the rest, and closes the connection instead of
// reading what follows as another request.
TEST_F(BadBody, ABrokenChunkedBodyNobodyReadsClosesTheConnectionAfterTheAnswer) {
  std::atomic<int> calls{0};
  http::server srv([&](response_writer& w, request&) -> task<void> {
    ++calls;
    co_await w.write("ignored");
  });
  server_thread t(srv);
  for (const auto& c : bad_bodies()) {
    SCOPED_TRACE(c.name);
    int before = calls;
    raw_client client(t.port());
    client.try_send(c.request + get_request("/smuggled"));
    auto r = client.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "ignored");
    EXPECT_TRUE(client.closed_within(2s)) << "the connection stayed open";
    EXPECT_EQ(client.unread(), "") << "what followed the broken body was answered";
    EXPECT_EQ(calls, before + 1);
  }
}

// Go #64433 (CVE-2023-39326): chunk extensions make the server read far more bytes than the body
// holds. Discarding an unread body stops after a bounded amount of input, not of body.
TEST_F(BadBody, ChunkExtensionsDoNotMakeTheServerReadWithoutBound) {
  http::server srv([](response_writer& w, request&) -> task<void> { co_await w.write("ignored"); });
  server_thread t(srv);
  raw_client c(t.port());
  const std::string ext(4000, 'e');
  const std::size_t chunks = 4000;  // 16 MB of framing around 4 KB of body
  std::atomic<std::size_t> sent{0};
  std::thread sender([&] {
    c.try_send("POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n");
    std::string chunk = "1;" + ext + "\r\nx\r\n";
    for (std::size_t i = 0; i < chunks; ++i) {
      if (!c.try_send(chunk)) return;
      sent += chunk.size();
    }
    c.try_send("0\r\n\r\n");
  });
  auto r = c.read_response();
  bool closed = c.closed_within(3s);
  c.reset();  // unblocks the sender
  sender.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "ignored");
  EXPECT_TRUE(closed);
  EXPECT_LT(sent.load(), 8u << 20) << "the server read on through the chunk extensions";
}

// A body shorter than its Content-Length, cut by the client's FIN: the handler's read fails with
// unexpected EOF; what it answers still reaches the half-closed client (as in Go), and the
// connection closes after it.
TEST_F(BadBody, ABodyCutShortByTheClientFailsTheRead) {
  counter failed;
  std::string error;
  http::server srv([&](response_writer& w, request& r) -> task<void> {
    auto body = co_await r.body->read_all();
    if (!body) {
      error = body.error().message();
      failed.bump();
      co_return;
    }
    co_await w.write("unexpected");
  });
  server_thread t(srv);
  raw_client c(t.port());
  c.send("POST / HTTP/1.1\r\n" + host + "Content-Length: 100\r\n\r\nonly this");
  c.shutdown_write();
  std::string answer = c.read_until_close();
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 200 OK\r\n")) << answer;
  EXPECT_NE(answer.find("Connection: close\r\n"), std::string::npos) << answer;
  ASSERT_TRUE(failed.wait_for(1));
  t.stop();
  EXPECT_EQ(error, "unexpected EOF");
}

// --- The header size limit -----------------------------------------------------------------------

TEST_F(HeaderLimit, HeadsPastMaxHeaderBytesGet431) {
  std::atomic<int> calls{0};
  http::server srv([&](response_writer&, request&) -> task<void> {
    ++calls;
    co_return;
  });
  srv.max_header_bytes = 1024;
  server_thread t(srv);
  // Go allows 4 KiB of slop over the limit (bufio's buffer): 1024 + 4096 is the real bound.
  expect_rejected(
      t.port(),
      {"one large field",
       "GET / HTTP/1.1\r\n" + host + "X-Big: " + std::string(6000, 'a') + "\r\n\r\n", 431});
  std::string many = "GET / HTTP/1.1\r\n" + host;
  for (int i = 0; i < 1000; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  expect_rejected(t.port(), {"many small fields", many + "\r\n", 431});
  expect_rejected(
      t.port(),
      {"a long target", "GET /" + std::string(6000, 'p') + " HTTP/1.1\r\n" + host + "\r\n", 431});
  EXPECT_EQ(calls, 0);
  // Within the limit: served.
  raw_client ok(t.port());
  ok.send("GET / HTTP/1.1\r\n" + host + "X-Ok: " + std::string(900, 'a') + "\r\n\r\n");
  auto r = ok.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HeaderLimit, TheDefaultIsOneMebibyte) {
  http::server srv([](response_writer&, request&) -> task<void> { co_return; });
  server_thread t(srv);
  std::string big = "GET / HTTP/1.1\r\n" + host;
  for (int i = 0; i < 70; ++i)
    big += "X-" + std::to_string(i) + ": " + std::string(16 << 10, 'v') + "\r\n";
  expect_rejected(t.port(), {"1 MiB and more of fields", big + "\r\n", 431});
  raw_client ok(t.port());
  ok.send("GET / HTTP/1.1\r\n" + host + "X-Ok: " + std::string(512 << 10, 'a') + "\r\n\r\n");
  auto r = ok.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// --- Handlers that throw -------------------------------------------------------------------------

TEST_F(ThrowingHandler, Gets500WhenNothingWasSentIsLoggedAndTheServerKeepsServing) {
  string_log log;
  http::server srv([](response_writer& w, request& r) -> task<void> {
    if (r.target == "/throw") {
      w.header().set("X-Partial", "dropped");
      co_await w.write("half a body");  // held in the buffer: replaced by the 500
      throw std::runtime_error("handler exploded");
    }
    co_await w.write("fine");
  });
  srv.error_log = [&](std::string_view line) { log.add(std::string(line)); };
  server_thread t(srv);
  raw_client c(t.port());
  c.send(get_request("/throw"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_FALSE(r->get("X-Partial")) << "the handler's fields went with its body";
  EXPECT_EQ(r->body.find("half a body"), std::string::npos) << r->body;
  EXPECT_TRUE(r->has_token("Connection", "close"));
  EXPECT_TRUE(c.closed_within(2s));
  ASSERT_TRUE(log.wait_for_size(1));
  auto lines = log.lines();
  EXPECT_NE(lines[0].find("handler exploded"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("127.0.0.1"), std::string::npos) << "names the client: " << lines[0];
  for (int i = 0; i < 3; ++i) {
    raw_client next(t.port());
    next.send(get_request("/fine"));
    auto ok = next.read_response();
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200);
    EXPECT_EQ(ok->body, "fine");
  }
}

// Once the head is out a 500 cannot be sent: the response is cut and the connection closed, so the
// client sees a truncated body rather than a complete-looking one.
TEST_F(ThrowingHandler, AfterTheHeadWasSentCutsTheResponse) {
  string_log log;
  http::server srv([](response_writer& w, request&) -> task<void> {
    co_await w.write("first part");
    co_await w.flush();
    throw std::logic_error("late failure");
  });
  srv.error_log = [&](std::string_view line) { log.add(std::string(line)); };
  server_thread t(srv);
  raw_client c(t.port());
  c.send(get_request());
  std::string all = c.read_until_close();
  EXPECT_NE(all.find("HTTP/1.1 200 OK"), std::string::npos) << all;
  EXPECT_NE(all.find("first part"), std::string::npos) << all;
  EXPECT_EQ(all.find("0\r\n\r\n"), std::string::npos)
      << "a chunked body must not end cleanly: " << all;
  ASSERT_TRUE(log.wait_for_size(1));
  EXPECT_NE(log.lines()[0].find("late failure"), std::string::npos);
}

TEST_F(ThrowingHandler, ANonStandardExceptionIsLoggedToo) {
  string_log log;
  http::server srv([](response_writer&, request&) -> task<void> {
    co_await yield();
    throw 42;
  });
  srv.error_log = [&](std::string_view line) { log.add(std::string(line)); };
  server_thread t(srv);
  raw_client c(t.port());
  c.send(get_request());
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  ASSERT_TRUE(log.wait_for_size(1));
  EXPECT_NE(log.lines()[0].find("unknown exception"), std::string::npos) << log.lines()[0];
}

}  // namespace
}  // namespace ringo::http
