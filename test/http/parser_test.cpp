// message_parser (lib/http/parser.hpp) on its own: the checks layered on llhttp's strict mode, each
// a request_fuzz or server_fuzz finding (test/fuzz/), so that the gcc sanitizer suite keeps them.
#include "h1/parser.hpp"

#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace {

using ringo::http::h1::message_parser;
using event = message_parser::event;

// Feeds `input` until the head is complete or the parser fails; returns the last event.
event parse_head(message_parser& p, std::string_view input, std::size_t* used = nullptr) {
  std::size_t begin = 0;
  for (;;) {
    auto step = p.feed(input.substr(begin));
    begin += step.consumed;
    if (used) *used = begin;
    if (step.what != event::need_more || step.consumed == 0) return step.what;
  }
}

// The whole body, or an error.
std::string read_body(message_parser& p, std::string_view input, std::size_t begin, bool* ok) {
  std::string body;
  *ok = false;
  for (;;) {
    auto step = p.feed(input.substr(begin));
    begin += step.consumed;
    if (step.what == event::body) body.append(step.body);
    if (step.what == event::message_done) {
      *ok = true;
      return body;
    }
    if (step.what == event::error) return body;
    if (step.what == event::need_more && step.consumed == 0) return body;
  }
}

TEST(MessageParser, RejectsAFieldWithoutAName) {
  // llhttp takes ": value" even in strict mode; a field name is a token of one byte or more.
  for (std::string_view head :
       {"GET / HTTP/1.1\r\nHost: h\r\n: chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nX:\r\n: 5\r\n\r\n", "GET / HTTP/1.1\r\n:\r\n\r\n"}) {
    message_parser p(HTTP_REQUEST);
    EXPECT_EQ(parse_head(p, head), event::error) << head;
    EXPECT_FALSE(p.head_complete()) << head;
  }
}

TEST(MessageParser, TrimsWhitespaceAroundFieldValues) {
  message_parser p(HTTP_REQUEST);
  ASSERT_EQ(parse_head(p,
                       "POST / HTTP/1.1\r\nHost:  h \t\r\nX: \t a b  \r\n"
                       "Transfer-Encoding: chunked \r\n\r\n"),
            event::head_done);
  EXPECT_EQ(p.fields.get("Host"), "h");
  EXPECT_EQ(p.fields.get("X"), "a b");
  EXPECT_EQ(p.fields.get("Transfer-Encoding"), "chunked");  // what the server checks
  EXPECT_TRUE(p.chunked());                                 // and how llhttp frames it
}

TEST(MessageParser, RejectsARequestWhoseTransferEncodingIsNotChunkedAtTheHead) {
  // llhttp refuses these only on the feed after the head; the server decides at the head.
  for (std::string_view head :
       {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\t\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n"}) {
    message_parser p(HTTP_REQUEST);
    EXPECT_EQ(parse_head(p, head), event::error) << head;
    EXPECT_TRUE(p.head_complete()) << head;  // so the server can still answer 501 for gzip
    EXPECT_NE(p.error(), HPE_OK) << head;
  }
  message_parser p(HTTP_REQUEST);
  EXPECT_EQ(parse_head(p, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            event::head_done);
  EXPECT_TRUE(p.chunked());
}

TEST(MessageParser, FramesAConnectRequestByItsContentLength) {
  // llhttp ends a CONNECT request at its head and leaves the rest to a tunnel; a body it declares
  // would then be parsed as the next request (server_fuzz).
  std::string_view input =
      "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nContent-Length: 36\r\n\r\n"
      "GET /admin HTTP/1.1\r\nHost: admin\r\n\r\n";
  message_parser p(HTTP_REQUEST);
  std::size_t used = 0;
  ASSERT_EQ(parse_head(p, input, &used), event::head_done);
  bool ok = false;
  EXPECT_EQ(read_body(p, input, used, &ok), "GET /admin HTTP/1.1\r\nHost: admin\r\n\r\n");
  EXPECT_TRUE(ok);
}

TEST(MessageParser, UpgradeRequestsWithoutABodyEndAtTheirHead) {
  std::string_view input =
      "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x05";
  message_parser p(HTTP_REQUEST);
  std::size_t used = 0;
  ASSERT_EQ(parse_head(p, input, &used), event::head_done);
  bool ok = false;
  EXPECT_EQ(read_body(p, input, used, &ok), "");
  EXPECT_TRUE(ok);  // the bytes after the head stay unparsed, for the next request or a hijacker
}

// Feeds `input` one byte at a time as a connection's reads would bring it (the unconsumed bytes
// stay buffered) until the head is complete or the parser fails.
event parse_head_bytewise(message_parser& p, std::string_view input) {
  std::string buffered;
  for (char c : input) {
    buffered += c;
    auto step = p.feed(buffered);
    buffered.erase(0, step.consumed);
    if (step.what != event::need_more) return step.what;
  }
  return event::need_more;
}

TEST(MessageParser, HandsOnAMethodLlhttpDoesNotKnowHoweverItsBytesArrive) {
  // Go passes any token method to the handler; llhttp knows a fixed set.
  for (std::string_view input :
       {"FOO /x HTTP/1.1\r\nHost: h\r\n\r\n", "\r\n\r\nFOO /x HTTP/1.1\r\nHost: h\r\n\r\n"}) {
    message_parser whole(HTTP_REQUEST), bytewise(HTTP_REQUEST);
    EXPECT_EQ(parse_head(whole, input), event::head_done) << input;
    EXPECT_EQ(parse_head_bytewise(bytewise, input), event::head_done) << input;
    for (message_parser* p : {&whole, &bytewise}) {
      EXPECT_EQ(p->method, "FOO") << input;
      EXPECT_EQ(p->url, "/x") << input;
      EXPECT_EQ(p->fields.get("Host"), "h") << input;
    }
  }
  message_parser p(HTTP_REQUEST);
  ASSERT_EQ(parse_head(p, "GETS / HTTP/1.1\r\nHost: h\r\n\r\n"), event::head_done);
  EXPECT_EQ(p.method, "GETS");  // a known method's prefix is no help
  p.reset();
  ASSERT_EQ(parse_head(p, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), event::head_done);
  EXPECT_EQ(p.method, "GET");  // and the next request's is its own
}

TEST(MessageParser, WaitsForTheWholeMethodButNotForANonToken) {
  message_parser p(HTTP_REQUEST);
  EXPECT_EQ(p.feed("PROPFI").what, event::need_more);
  EXPECT_EQ(p.feed("PROPFI").consumed, 0u);
  message_parser q(HTTP_REQUEST);
  EXPECT_EQ(parse_head(q, "G\x01T / HTTP/1.1\r\n\r\n"), event::error);
  message_parser r(HTTP_REQUEST);
  EXPECT_EQ(parse_head(r, std::string(40, 'A') + " / HTTP/1.1\r\n\r\n"), event::error);
}

TEST(MessageParser, TakesAHigherMinorVersionAndLeavesOtherVersionsToTheCaller) {
  message_parser p(HTTP_REQUEST);
  ASSERT_EQ(parse_head(p, "GET / HTTP/1.2\r\nHost: h\r\n\r\n"), event::head_done);
  EXPECT_EQ(p.version_major, 1);
  EXPECT_EQ(p.version_minor, 2);
  EXPECT_TRUE(p.keep_alive());
  message_parser q(HTTP_REQUEST);
  ASSERT_EQ(parse_head(q, "GET / HTTP/3.0\r\nHost: h\r\n\r\n"), event::head_done);
  EXPECT_EQ(q.version_major, 3);  // the server answers 505
}

TEST(MessageParser, RefusesAContentLengthNoBodyCanHave) {
  message_parser ok(HTTP_REQUEST);
  EXPECT_EQ(parse_head(ok, "POST / HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\n"),
            event::head_done);
  for (std::string_view len : {"9223372036854775808", "18446744073709551615"}) {
    message_parser p(HTTP_REQUEST);
    EXPECT_EQ(parse_head(p, "POST / HTTP/1.1\r\nContent-Length: " + std::string(len) + "\r\n\r\n"),
              event::error)
        << len;
    message_parser r(HTTP_RESPONSE);
    EXPECT_EQ(parse_head(r, "HTTP/1.1 200 OK\r\nContent-Length: " + std::string(len) + "\r\n\r\n"),
              event::error)
        << len;
  }
}

TEST(MessageParser, CountsTrailerBytesAsTheyArrive) {
  std::string input = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-A: ";
  input += std::string(1000, 'v');
  message_parser p(HTTP_REQUEST);
  std::size_t used = 0;
  ASSERT_EQ(parse_head(p, input, &used), event::head_done);
  bool ok = false;
  read_body(p, input, used, &ok);
  EXPECT_FALSE(ok);                       // the trailer has not ended
  EXPECT_GE(p.trailer_bytes, 1003u);      // but it is counted: a caller can bound it
  EXPECT_LT(p.head_bytes, input.size());  // (not as head)
}

}  // namespace
