// HTTP/2's known attacks against the server, each from a peer written with Python's h2, hpack
// and hyperframe (test/http/h2_peer.py), and each with a normal client beside it on a second
// connection whose request latency must stay low: rapid reset (CVE-2023-44487), the CONTINUATION
// flood (CVE-2024-27316), the HPACK bomb, SETTINGS and PING floods from a client that reads
// nothing, a zero window, and more streams than the limit.
//
// Latency bounds are loose on purpose: the suite runs under ASan on a shared 2-core machine. What
// they catch is a server that stops answering (seconds), not one that slows down.
#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "server_test_support.hpp"

namespace ringo::http {
namespace {

using namespace test;

using H2Attack = ringo::test::RingoTest;

constexpr const char* python = "/usr/bin/python3";
// A normal request's latency during an attack: the median, and the worst one.
constexpr double max_p50_ms = 100;
constexpr double max_latency_ms = 2000;

std::map<std::string, std::string> parse_lines(const std::string& out) {
  std::map<std::string, std::string> m;
  std::size_t at = 0;
  while (at < out.size()) {
    std::size_t eol = out.find('\n', at);
    if (eol == std::string::npos) eol = out.size();
    std::string_view line(out.data() + at, eol - at);
    at = eol + 1;
    std::size_t sp = line.find(' ');
    if (sp != std::string_view::npos)
      m[std::string(line.substr(0, sp))] = std::string(line.substr(sp + 1));
  }
  return m;
}

bool have_h2_python() {
  return run_process({python, "-c", "import h2, hpack, hyperframe"}).exit_code == 0;
}

#define REQUIRE_H2_PYTHON() \
  if (!have_h2_python())    \
  GTEST_SKIP() << "Python's h2 is not installed (test/run installs python3-h2)"

// What the handlers saw: how many ran, how many at once at most.
struct load {
  std::atomic<int> started{0};
  std::atomic<int> peak{0};
  int now = 0;  // (server thread)
};

// /hello answers at once; /slow runs 100 ms whatever its stop says (a handler that is slow to
// notice), /bytes/N sends N bytes, /delay/MS sleeps (stopped by its token).
handler attack_routes(load* l) {
  return [l](response_writer& w, request& r) -> task<void> {
    std::string_view path = r.path();
    if (path == "/hello") {
      co_await w.write("Hello, World!");
    } else if (path == "/slow") {
      ++l->started;
      int now = ++l->now;
      if (now > l->peak) l->peak = now;
      (void)co_await sleep_for(std::chrono::milliseconds(100));
      --l->now;
      co_await w.write("slow");
    } else if (path.starts_with("/bytes/")) {
      std::string data(static_cast<std::size_t>(std::stoi(std::string(path.substr(7)))), 'b');
      co_await w.write(data);
    } else if (path.starts_with("/delay/")) {
      (void)co_await sleep_for(std::chrono::milliseconds(std::stoi(std::string(path.substr(7)))),
                               r.stop);
      co_await w.write("slept");
    } else {
      w.write_header(404);
    }
  };
}

struct attacked_server {
  load seen;
  http::server srv;
  std::optional<server_thread> thread;
  explicit attacked_server(std::function<void(http::server&)> configure = {}) {
    srv.handler = attack_routes(&seen);
    srv.error_log = [](std::string_view) {};
    if (configure) configure(srv);
    thread.emplace(srv);
  }
  // Runs a scenario of h2_peer.py against the server; its "key value" lines.
  std::map<std::string, std::string> attack(std::vector<std::string> args) {
    std::vector<std::string> argv{python, std::string(RINGO_SOURCE_DIR) + "/test/http/h2_peer.py",
                                  args.at(0), "127.0.0.1", std::to_string(thread->port())};
    argv.insert(argv.end(), args.begin() + 1, args.end());
    process_result r = run_process(argv, {}, "", 120s);
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    auto m = parse_lines(r.out);
    m["_out"] = r.out + r.err;
    return m;
  }
  // After an attack: the server still answers, and the attacker's connection is gone.
  void expect_healthy() {
    raw_client c(thread->port());
    c.send(get_request("/hello"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    c.close();
    for (int i = 0; i < 200 && thread->connections() > 0; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(thread->connections(), 0u) << "a connection outlived its client";
  }
};

void expect_responsive(std::map<std::string, std::string>& m) {
  const std::string& out = m["_out"];
  ASSERT_FALSE(m["latency_requests"].empty()) << out;
  EXPECT_GT(std::stoi(m["latency_requests"]), 0) << out;
  EXPECT_EQ(m["latency_errors"], "0") << out;
  EXPECT_LT(std::stod(m["latency_p50_ms"]), max_p50_ms) << out;
  EXPECT_LT(std::stod(m["latency_max_ms"]), max_latency_ms) << out;
}

// CVE-2023-44487 with handlers that are slow to notice their stop: the streams are reset at once,
// but their handlers still run, and no more of them at once than the stream limit; the rest wait,
// and a client that makes more than four times the limit wait is told to calm down (Go's fix).
TEST_F(H2Attack, RapidResetRunsNoMoreHandlersAtOnceThanTheStreamLimit) {
  REQUIRE_H2_PYTHON();
  attacked_server s([](http::server& srv) { srv.http2.max_concurrent_streams = 50; });
  auto m = s.attack({"rapid_reset", "5000"});
  EXPECT_EQ(m["goaway"], "ENHANCE_YOUR_CALM") << m["_out"];
  EXPECT_NE(m["closed_after_s"], "never") << m["_out"];
  EXPECT_LE(s.seen.peak, 50) << "resets bought more concurrent handlers than the limit";
  EXPECT_GT(s.seen.peak, 0);
  EXPECT_LT(s.seen.started, 5000) << "every reset stream got its handler";
  expect_responsive(m);
  s.expect_healthy();
}

// Handlers that stop at once cannot hold slots: then the rate does it. Past nghttp2's bucket
// (1,000 resets, then 33 a second) the client gets ENHANCE_YOUR_CALM.
TEST_F(H2Attack, RapidResetPastTheRateIsToldToCalmDown) {
  REQUIRE_H2_PYTHON();
  attacked_server s;
  std::vector<std::string> args{"rapid_reset", "3000"};
  auto m = s.attack(args);
  EXPECT_EQ(m["goaway"], "ENHANCE_YOUR_CALM") << m["_out"];
  EXPECT_NE(m["closed_after_s"], "never") << m["_out"];
  EXPECT_LE(s.seen.peak, 250);
  expect_responsive(m);
  s.expect_healthy();
}

// CVE-2024-27316: a header block that never ends. Large CONTINUATION frames pass what is left of
// the header list (Go's rule: twice the rest) and end the connection with PROTOCOL_ERROR.
TEST_F(H2Attack, ContinuationFloodOfLargeFramesIsClosed) {
  REQUIRE_H2_PYTHON();
  attacked_server s([](http::server& srv) { srv.max_header_bytes = 64 << 10; });
  auto m = s.attack({"continuation_flood", "60000", "200"});
  EXPECT_EQ(m["goaway"], "PROTOCOL_ERROR") << m["_out"];
  EXPECT_NE(m["closed_after_s"], "never") << m["_out"];
  EXPECT_LT(std::stoi(m["continuations_sent"]), 200) << "the server read the whole flood";
  EXPECT_EQ(s.seen.started, 0);
  expect_responsive(m);
  s.expect_healthy();
}

// Small CONTINUATION frames: nghttp2 allows 8 after a HEADERS, then closes the connection.
TEST_F(H2Attack, ContinuationFloodOfSmallFramesIsClosed) {
  REQUIRE_H2_PYTHON();
  attacked_server s;
  auto m = s.attack({"continuation_flood", "100", "100000"});
  EXPECT_NE(m["closed_after_s"], "never") << m["_out"];
  EXPECT_LT(std::stoi(m["continuations_sent"]), 100000) << "the server read the whole flood";
  EXPECT_EQ(s.seen.started, 0);
  expect_responsive(m);
  s.expect_healthy();
}

// A 4 KB field referenced 100,000 times by its one-byte index: 100 KB on the wire, 400 MB as a
// header list. Past max_header_bytes the list is cut and the request answered 431 (Go's
// handleHeaderListTooLong); the CONTINUATION frames beyond the limit end the connection.
TEST_F(H2Attack, HpackBombIsAnswered431OrClosedWithoutDecodingItAll) {
  REQUIRE_H2_PYTHON();
  attacked_server s;
  auto m = s.attack({"hpack_bomb", "100000"});
  const std::string& status = m["status"];
  EXPECT_TRUE(status == "431" || status == "closed") << m["_out"];
  EXPECT_TRUE(m["goaway"] == "none" || m["goaway"] == "PROTOCOL_ERROR") << m["_out"];
  EXPECT_EQ(s.seen.started, 0);
  expect_responsive(m);
  s.expect_healthy();
}

// One HEADERS frame's worth (15 KB: 11,000 references, 44 MB decoded): answered 431, and the
// connection goes on.
TEST_F(H2Attack, HpackBombInOneFrameIsAnswered431) {
  REQUIRE_H2_PYTHON();
  attacked_server s;
  auto m = s.attack({"hpack_bomb", "11000"});
  EXPECT_EQ(m["status"], "431") << m["_out"];
  EXPECT_EQ(m["goaway"], "none") << m["_out"];
  expect_responsive(m);
  s.expect_healthy();
}

// A client that sends SETTINGS and reads none of the ACKs: nghttp2 gives up once 1,000 ACKs wait
// to be sent (NGHTTP2_ERR_FLOODED), and the connection is dropped.
TEST_F(H2Attack, SettingsFloodFromAClientThatReadsNothingIsClosed) {
  REQUIRE_H2_PYTHON();
  attacked_server s;
  auto m = s.attack({"settings_flood", "2000000", "0"});
  EXPECT_NE(m["closed_after_s"], "never") << m["_out"];
  EXPECT_LT(std::stod(m["closed_after_s"]), 5.0) << m["_out"];
  expect_responsive(m);
  s.expect_healthy();
}

// PINGs the same; here the kernel's socket buffers take the ACKs for a while (megabytes on
// loopback) before the ACKs wait in nghttp2: the flood is served until then, and others with it.
TEST_F(H2Attack, PingFloodFromAClientThatReadsNothingIsClosed) {
  REQUIRE_H2_PYTHON();
  attacked_server s;
  auto m = s.attack({"ping_flood", "2000000", "0"});
  EXPECT_NE(m["closed_after_s"], "never") << m["_out"];
  EXPECT_LT(std::stoi(m["frames_sent"]), 2000000) << m["_out"];
  expect_responsive(m);
  s.expect_healthy();
}

// A client that reads what it is sent can ping all it likes: it costs it as much as the server.
TEST_F(H2Attack, PingFloodFromAClientThatReadsIsServedAndOthersStillAre) {
  REQUIRE_H2_PYTHON();
  attacked_server s;
  auto m = s.attack({"ping_flood", "200000", "1"});
  EXPECT_EQ(m["frames_sent"], "200000") << m["_out"];
  EXPECT_GT(std::stoll(m["bytes_read"]), 0) << m["_out"];
  expect_responsive(m);
  s.expect_healthy();
}

// A zero window on one stream: it is reset after write_byte_timeout, the other stream and the
// connection go on (h2_peer.py's slow_reader; h2_server_test has it too, without the timing).
TEST_F(H2Attack, ZeroWindowStreamsTimeOut) {
  REQUIRE_H2_PYTHON();
  attacked_server s([](http::server& srv) { srv.http2.write_byte_timeout = 300ms; });
  auto m = s.attack({"slow_reader"});
  EXPECT_EQ(m["flowing_status"], "200") << m["_out"];
  EXPECT_EQ(m["stalled_reset"], "INTERNAL_ERROR") << m["_out"];
  EXPECT_EQ(m["then_status"], "200") << m["_out"];
  s.expect_healthy();
}

// More streams than the limit, opened before the client acknowledged the server's SETTINGS: the
// ones beyond the limit are refused (REFUSED_STREAM, which tells the client it may retry them),
// the others answered.
TEST_F(H2Attack, StreamsBeyondTheLimitAreRefused) {
  REQUIRE_H2_PYTHON();
  attacked_server s([](http::server& srv) { srv.http2.max_concurrent_streams = 10; });
  auto m = s.attack({"too_many_streams", "10"});
  EXPECT_EQ(m["answered"], "10") << m["_out"];
  EXPECT_EQ(m["refused"], "5") << m["_out"];
  EXPECT_EQ(m["first_refused"], "21") << m["_out"];
  s.expect_healthy();
}

// The same once the client has acknowledged the limit: nghttp2 treats it as a connection error
// (GOAWAY PROTOCOL_ERROR), where Go resets the stream (PROTOCOL_ERROR) and goes on. Either way
// the client gets no more than the limit.
TEST_F(H2Attack, StreamsBeyondAnAcknowledgedLimitEndTheConnection) {
  REQUIRE_H2_PYTHON();
  attacked_server s([](http::server& srv) { srv.http2.max_concurrent_streams = 10; });
  auto m = s.attack({"too_many_streams", "10", "1"});
  EXPECT_EQ(m["goaway"], "PROTOCOL_ERROR") << m["_out"];
  EXPECT_LE(std::stoi(m["answered"]), 10) << m["_out"];
  s.expect_healthy();
}

}  // namespace
}  // namespace ringo::http
