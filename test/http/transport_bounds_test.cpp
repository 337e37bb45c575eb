// The transport bounds everything a server controls, as the server bounds its clients: chunk
// framing far beyond its data (Go #64433, on the client side too), trailers past the response
// header limit, 1xx responses (Go's max1xxResponses: 5), and a 101 nobody asked for. Each server
// here is scripted to send without end; the client must fail with a clear error after a bounded
// amount of input, and close the connection.
#include <atomic>
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include <ringo/http.hpp>
#include <ringo/http/transport.hpp>
#include <ringo/runtime.hpp>

#include "client_test_support.hpp"
#include "ringo_test.hpp"

namespace ringo::http {
namespace {

using namespace std::chrono_literals;

class ClientBounds : public ringo::test::RingoTest {};

// Sends `head`, then `filler` over and over (at most 64 MiB) until the client hangs up; counts
// what it sent in *sent.
void flood(int fd, std::string_view head, std::string_view filler, std::atomic<std::size_t>* sent) {
  if (read_request(fd).empty()) return;
  send_all(fd, head);
  std::string block;
  while (block.size() < 65536) block += filler;
  for (std::size_t total = 0; total < (64u << 20); total += block.size()) {
    if (::send(fd, block.data(), block.size(), MSG_NOSIGNAL) <= 0) return;
    *sent += block.size();
  }
}

// The body read to its end; the error's message when it fails.
task<std::string> read_body_error(transport* t, std::string url, transport_options) {
  result<response, client_error> r = co_await t->round_trip(get(url));
  if (!r) co_return "round trip: " + r.error().message();
  result<std::string> body = co_await r->body->read_all(256 << 20);
  co_await t->close();
  if (body) co_return "no error: " + std::to_string(body->size()) + " bytes";
  co_return body.error().message();
}

TEST_F(ClientBounds, AnEndlessChunkExtensionFailsAfterTheGuardsAllowance) {
  std::atomic<std::size_t> sent{0};
  script_server srv([&](int fd, int) {
    flood(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;", "aaaaaaaa", &sent);
  });
  transport t;
  std::string error = ringo::run(read_body_error(&t, srv.url(), {}));
  EXPECT_EQ(error, "http: chunked encoding contains too much non-data");
  EXPECT_LT(sent.load(), 8u << 20) << "the client read on through the extension";
}

TEST_F(ClientBounds, TrailersPastTheHeaderLimitFail) {
  std::atomic<std::size_t> sent{0};
  script_server srv([&](int fd, int) {
    flood(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Big: ",
          "vvvvvvvv", &sent);
  });
  transport t({.max_response_header_bytes = 64 << 10});
  std::string error = ringo::run(read_body_error(&t, srv.url(), {}));
  EXPECT_EQ(error, "http: header too large");
  EXPECT_LT(sent.load(), 8u << 20) << "the client read on through the trailer";
}

TEST_F(ClientBounds, ManySmallTrailersPastTheHeaderLimitFailToo) {
  std::atomic<std::size_t> sent{0};
  script_server srv([&](int fd, int) {
    flood(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n", "X-T: 1\r\n", &sent);
  });
  transport t({.max_response_header_bytes = 64 << 10});
  std::string error = ringo::run(read_body_error(&t, srv.url(), {}));
  EXPECT_NE(error.find("http: "), std::string::npos) << error;
  EXPECT_EQ(error.find("no error"), std::string::npos) << error;
  EXPECT_LT(sent.load(), 8u << 20);
}

// Go's transport stops after five 1xx responses; a server could otherwise keep a client reading
// them for ever.
TEST_F(ClientBounds, AtMostFiveInformationalResponses) {
  for (int count : {5, 6, 1000}) {
    SCOPED_TRACE(count);
    script_server srv([count](int fd, int) {
      if (read_request(fd).empty()) return;
      for (int i = 0; i < count; ++i) send_all(fd, "HTTP/1.1 102 Processing\r\n\r\n");
      send_all(fd, ok_hello);
    });
    transport t;
    std::string got = ringo::run([](transport* tr, std::string u) -> task<std::string> {
      std::string text = co_await fetch(tr, get(u));
      co_await tr->close();
      co_return text;
    }(&t, srv.url()));
    if (count <= 5)
      EXPECT_EQ(got, "hello");
    else
      EXPECT_EQ(got, "error: net/http: too many 1xx informational responses");
  }
}

// A 101 is an answer to an Upgrade; without one, the bytes after it are not HTTP and the caller
// would wait for a response that never comes.
TEST_F(ClientBounds, AnUnsolicitedSwitchingProtocolsIsAnError) {
  script_server srv([](int fd, int) {
    if (read_request(fd).empty()) return;
    send_all(fd,
             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\nraw");
    char c;
    (void)::recv(fd, &c, 1, 0);  // until the client hangs up
  });
  transport t;
  std::string got = ringo::run([](transport* tr, std::string u) -> task<std::string> {
    std::string text = co_await fetch(tr, get(u));
    EXPECT_EQ(tr->conns_per_host(parse_url(u)->authority()), 0u);  // closed, not pooled
    co_await tr->close();
    co_return text;
  }(&t, srv.url()));
  EXPECT_EQ(got, "error: net/http: server sent 101 Switching Protocols without an Upgrade request");
}

}  // namespace
}  // namespace ringo::http
