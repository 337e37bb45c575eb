// dialer: Go's dial tests (src/net/dial_test.go as of Go commits aa25921 and 23fa2b6) ported to
// loopback, and the items ringo adds beyond Go.
//
// Go's slowDst4/slowDst6 (RFC 6890 addresses that a hook keeps hanging) become blackholes: loopback
// listeners with a full accept queue, whose connects hang until cancelled. Names come from a
// static_resolver (Go's testHookLookupIP), never from DNS. Every row checks that no descriptor
// leaked, and every TestDialParallel row is repeated with a stop requested 5 ms in.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <iostream>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include <ringo/net.hpp>

#include "net_test.hpp"

namespace ringo::net {
namespace {

using namespace std::chrono_literals;
using ringo::test::value_or;
using test::at;
using test::ms;
using dial_result = dialer::dial_result;

class DialParallel : public test::RingoTest {};
class DialSerial : public test::RingoTest {};
class Dialer : public test::RingoTest {};
class DialTrace : public test::RingoTest {};
class HappyEyeballsV2 : public test::RingoTest {};

constexpr duration instant{};

std::string addr_of(const dial_result& r) {
  return r ? value_or(r->remote_address(), socket_address()).to_string() : "error";
}

std::string describe(const dial_result& r) {
  return r ? "connected to " + addr_of(r) : r.error().full_message();
}

// --- timing a dial, and stopping one -----------------------------------------------------------

struct timed_dial {
  dial_result result = op_error{};
  time_point start{};
  time_point returned{};
  time_point stopped = no_deadline;  // when the stop was requested, if it was before the return
  duration elapsed() const { return returned - start; }
  bool was_stopped() const { return stopped != no_deadline; }
  duration stop_latency() const { return returned - stopped; }
};

// A dial to run: a function from a stop token to the dial's task (a dialer method bound to its
// arguments). Plain lambdas returning the task, so no coroutine lambda outlives its closure.
using dial_fn = std::function<task<dial_result>(std::stop_token)>;

task<timed_dial> timed(dial_fn dial) {
  timed_dial t;
  t.start = clock::now();
  t.result = co_await dial({});
  t.returned = clock::now();
  co_return t;
}

task<void> request_stop_after(std::stop_source* src, duration after, time_point* stopped,
                              std::stop_token quit) {
  auto slept = co_await sleep_for(after, std::move(quit));
  if (!slept) co_return;  // the dial returned first
  *stopped = clock::now();
  src->request_stop();
}

// Runs `dial` with a stop requested `after` its start by a sibling coroutine (Go's cancel
// repetition); records when the stop came and when dial returned.
task<timed_dial> stopped_after(dial_fn dial, duration after) {
  timed_dial t;
  std::stop_source src;
  scope stopper;
  t.start = clock::now();
  stopper.spawn(request_stop_after(&src, after, &t.stopped, stopper.get_token()));
  t.result = co_await dial(src.get_token());
  t.returned = clock::now();
  stopper.request_stop();
  co_await stopper.join();
  co_return t;
}

task<timed_dial> timed_with_stop(dial_fn dial, std::stop_token stop, std::promise<time_point>* go) {
  timed_dial t;
  t.start = clock::now();
  go->set_value(t.start);
  t.result = co_await dial(std::move(stop));
  t.returned = clock::now();
  co_return t;
}

// The same, with the stop requested by another thread (through the loop's eventfd).
timed_dial stopped_from_thread(dial_fn dial, duration after) {
  std::stop_source src;
  std::promise<time_point> started;
  time_point stopped{};
  std::thread stopper([&, f = started.get_future()]() mutable {
    std::this_thread::sleep_until(f.get() + after);
    stopped = clock::now();
    src.request_stop();
  });
  timed_dial t = run(timed_with_stop(std::move(dial), src.get_token(), &started));
  stopper.join();
  if (stopped < t.returned) t.stopped = stopped;
  return t;
}

// Prints the stop-to-return latencies of some cancelled dials (the issue's figure).
void report_latencies(const char* what, std::vector<double> v) {
  if (v.empty()) return;
  std::sort(v.begin(), v.end());
  std::cout << "[ latency  ] " << what << ": stop -> dial returned, " << v.size() << " dials: min "
            << v.front() << " ms, p50 " << test::median(v) << " ms, max " << v.back() << " ms\n";
}

// The issue asks for 5 ms from stop to return; a loaded 2-core CI machine can stall any thread
// that long, so each dial is held to a generous bound and the median to the real one.
constexpr double stop_bound_ms = 50;
constexpr double stop_goal_ms = 5;

// --- Go's TestDialParallel --------------------------------------------------------------------

// Go's dialClosedPort: how long a refused connect takes here (the second of two tries).
duration dial_closed_port() {
  auto refused = test::refused_address();
  duration elapsed{};
  for (int i = 0; i < 2; ++i) {
    dialer d;
    auto t = run(timed([&](std::stop_token st) { return d.dial_serial("tcp", {refused}, st); }));
    elapsed = t.elapsed();
  }
  return elapsed;
}

struct parallel_case {
  std::vector<std::string> primaries;  // "127.0.0.1", "::1", or "slow4"/"slow6" (blackholes)
  std::vector<std::string> fallbacks;
  std::string teardown_network;  // "tcp4"/"tcp6": that listener closes, so its port refuses
  bool expect_ok;
  duration expect_elapsed;
};

std::vector<std::string> n_copies(const std::string& s, int n) {
  return std::vector<std::string>(static_cast<std::size_t>(n), s);
}

TEST_F(DialParallel, RacesTheFamiliesLikeGo) {
  if (!test::has_ipv6()) GTEST_SKIP() << "both IPv4 and IPv6 are required";
  auto slow4 = test::make_blackhole_on("127.0.0.2");
  auto slow6 = test::make_blackhole_on("::1");
  if (!slow4 || !slow6) GTEST_SKIP() << "the kernel does not drop SYNs to a full accept queue";

  duration closed_port_delay = dial_closed_port();
  EXPECT_LE(closed_port_delay, 95ms) << "a refused connect should be instantaneous";
  constexpr duration fallback_delay = 200ms;
  duration closed_port_or_fallback_delay = std::min(closed_port_delay, fallback_delay);

  const parallel_case cases[] = {
      // These should just work on the first try.
      {{"127.0.0.1"}, {}, "", true, instant},
      {{"::1"}, {}, "", true, instant},
      {{"127.0.0.1", "::1"}, {"slow6"}, "tcp6", true, instant},
      {{"::1", "127.0.0.1"}, {"slow4"}, "tcp4", true, instant},
      // Primary is slow; fallback should kick in.
      {{"slow4"}, {"::1"}, "", true, fallback_delay},
      // Skip a "connection refused" in the primary thread.
      {{"127.0.0.1", "::1"}, {}, "tcp4", true, closed_port_delay},
      {{"::1", "127.0.0.1"}, {}, "tcp6", true, closed_port_delay},
      // Skip a "connection refused" in the fallback thread.
      {{"slow4", "slow6"}, {"::1", "127.0.0.1"}, "tcp6", true, fallback_delay + closed_port_delay},
      // Primary refused, fallback without delay.
      {{"127.0.0.1"}, {"::1"}, "tcp4", true, closed_port_or_fallback_delay},
      {{"::1"}, {"127.0.0.1"}, "tcp6", true, closed_port_or_fallback_delay},
      // Everything is refused.
      {{"127.0.0.1"}, {}, "tcp4", false, closed_port_delay},
      // Nothing to do; fail instantly.
      {{}, {}, "", false, instant},
      // Connecting to tons of addresses should not trip the deadline.
      {n_copies("::1", 1000), {}, "", true, instant},
  };

  std::vector<double> latencies, thread_latencies;
  for (std::size_t i = 0; i < std::size(cases); ++i) {
    const parallel_case& tt = cases[i];
    SCOPED_TRACE("row #" + std::to_string(i));
    std::size_t fds_before = test::count_open_fds();
    {
      auto dss = test::same_port_server::open({"127.0.0.1", "::1"}).value();
      if (!tt.teardown_network.empty()) dss.teardown(tt.teardown_network);
      auto make_addrs = [&](const std::vector<std::string>& names) {
        std::vector<address> out;
        for (const std::string& n : names)
          out.push_back(n == "slow4"   ? slow4->listener.address
                        : n == "slow6" ? slow6->listener.address
                                       : dss.address(n));
        return out;
      };
      auto primaries = make_addrs(tt.primaries);
      auto fallbacks = make_addrs(tt.fallbacks);
      dialer d{.fallback_delay = fallback_delay};
      dial_fn dial = [&](std::stop_token st) {
        return d.dial_parallel("tcp", primaries, fallbacks, std::move(st));
      };

      timed_dial t = run(timed(dial));
      EXPECT_EQ(bool(t.result), tt.expect_ok) << describe(t.result);
      // Go allows ±95 ms. A row that should be instant is held to Go's bound; a row that waits
      // for the fallback timer may not finish early and gets more room on a busy machine.
      double elapsed = ms(t.elapsed());
      double expect = ms(tt.expect_elapsed);
      EXPECT_GE(elapsed, std::max(0.0, expect - 50)) << describe(t.result);
      EXPECT_LE(elapsed, tt.expect_elapsed == instant ? 95.0 : expect + 250) << describe(t.result);
      if (!tt.expect_ok && !t.result && !tt.primaries.empty()) {
        EXPECT_EQ(t.result.error().message(),
                  "dial tcp " + primaries[0].to_string() + ": connect: connection refused");
      }

      // Repeat the case, ensuring that it can be cancelled quickly (Go: within 100 ms of the
      // start; the issue: within 5 ms of the stop). A few times, for a median.
      for (int rep = 0; rep < 5; ++rep) {
        timed_dial c = run(stopped_after(dial, 5ms));
        EXPECT_LE(ms(c.elapsed()), 5 + stop_bound_ms) << describe(c.result);
        // (On a loaded machine the 5 ms stop may come after the 200 ms fallback won the race:
        // a connection made before the stop is handed back, never dropped.)
        const bool raced = c.result && c.elapsed() >= fallback_delay;
        if (c.was_stopped() && !raced) {
          EXPECT_TRUE(!c.result && c.result.error().canceled()) << describe(c.result);
          EXPECT_LE(ms(c.stop_latency()), stop_bound_ms);
          latencies.push_back(ms(c.stop_latency()));
        }
        // And with the stop from another thread.
        timed_dial x = stopped_from_thread(dial, 5ms);
        EXPECT_LE(ms(x.elapsed()), 5 + stop_bound_ms) << describe(x.result);
        const bool x_raced = x.result && x.elapsed() >= fallback_delay;
        if (x.was_stopped() && !x_raced) {
          EXPECT_TRUE(!x.result && x.result.error().canceled()) << describe(x.result);
          EXPECT_LE(ms(x.stop_latency()), stop_bound_ms);
          thread_latencies.push_back(ms(x.stop_latency()));
        }
      }
    }
    EXPECT_EQ(test::count_open_fds(), fds_before) << "the row leaked file descriptors";
  }
  // Rows that hang on a blackhole until the fallback are the ones the stop interrupts.
  EXPECT_GE(latencies.size(), 10u);
  report_latencies("DialParallel (stop from a sibling coroutine)", latencies);
  EXPECT_LE(test::median(latencies), stop_goal_ms);
  report_latencies("DialParallel (stop from another thread)", thread_latencies);
  EXPECT_LE(test::median(thread_latencies), stop_goal_ms);
}

// --- Go's TestDialParallelSpuriousConnection --------------------------------------------------

// A connect that first sleeps and then ignores cancellation (Go's hook sets cancel = nil), so
// both racers end up connected.
task<dial_result> uncancellable_dial(address ra, duration sleep, time_point deadline) {
  (void)co_await sleep_for(sleep);
  op_error err{.op = "dial", .network = "tcp", .address = ra.to_string()};
  auto fd = open_socket(ra.family(), SOCK_STREAM);
  if (!fd) {
    err.err = fd.error();
    co_return err;
  }
  auto connected = co_await ringo::connect(fd->get(), ra, {}, deadline);
  if (!connected) {
    err.syscall = "connect";
    err.err = connected.error();
    co_return err;
  }
  co_return conn(std::move(*fd));
}

TEST_F(DialParallel, ClosesTheSpareWhenBothRacersConnect) {
  if (!test::has_ipv6()) GTEST_SKIP() << "both IPv4 and IPv6 are required";
  auto dss = test::same_port_server::open({"127.0.0.1", "::1"}).value();
  static constexpr duration fallback_delay = 100ms;
  dialer d{.fallback_delay = fallback_delay};
  // Sleep long enough for Happy Eyeballs to kick in, and inhibit cancellation. This forces
  // dial_parallel to juggle two successful connections.
  d.dial_hook = [](const address& ra, time_point deadline, std::stop_token) {
    return uncancellable_dial(ra, fallback_delay * 2, deadline);
  };
  auto primary = dss.address("127.0.0.1");
  auto fallback = dss.address("::1");
  timed_dial t = run(timed([&](std::stop_token st) {
    return d.dial_parallel("tcp", {primary}, {fallback}, std::move(st));
  }));
  ASSERT_TRUE(t.result) << describe(t.result);
  // dial_parallel returns the primary connection, after awaiting the fallback (which connected
  // at 300 ms, ignoring the stop).
  EXPECT_EQ(addr_of(t.result), primary.to_string());
  EXPECT_GE(ms(t.elapsed()), 299.0);

  // The server sees both connections; the spare one is already closed, without data.
  auto spare = test::accept_within(dss.fd("::1"), 1s);
  ASSERT_TRUE(spare) << "the fallback never connected";
  EXPECT_EQ(test::read_within(spare.get(), 1s), std::optional<std::string>(""))
      << "the spare should be closed, with no data";
  auto winner = test::accept_within(dss.fd("127.0.0.1"), 1s);
  ASSERT_TRUE(winner);
  EXPECT_EQ(test::read_within(winner.get(), 50ms), std::nullopt) << "the winner stays open";
  t.result->close();
  EXPECT_EQ(test::read_within(winner.get(), 1s), std::optional<std::string>(""));
}

// --- Go's TestDialerPartialDeadline ------------------------------------------------------------

TEST_F(Dialer, PartialDeadlineSharesTheTimeLeft) {
  const time_point now = time_point{} + 24h * 365 * 30;
  struct partial_case {
    time_point now;
    time_point deadline;
    std::size_t addrs;
    time_point expect_deadline;
    bool expect_timeout;
  };
  const partial_case cases[] = {
      // Regular division.
      {now, now + 12s, 1, now + 12s, false},
      {now, now + 12s, 2, now + 6s, false},
      {now, now + 12s, 3, now + 4s, false},
      // Bump against the 2-second sane minimum.
      {now, now + 12s, 999, now + 2s, false},
      // Total available is now below the sane minimum.
      {now, now + 1900ms, 999, now + 1900ms, false},
      // Null deadline.
      {now, no_deadline, 1, no_deadline, false},
      // Step the clock forward and cross the deadline.
      {now - 1ms, now, 1, now, false},
      {now + 0ms, now, 1, no_deadline, true},
      {now + 1ms, now, 1, no_deadline, true},
  };
  for (std::size_t i = 0; i < std::size(cases); ++i) {
    const partial_case& tt = cases[i];
    SCOPED_TRACE("row #" + std::to_string(i));
    auto deadline = partial_deadline(tt.now, tt.deadline, tt.addrs);
    if (tt.expect_timeout) {
      ASSERT_FALSE(deadline);
      EXPECT_EQ(deadline.error(), std::errc::timed_out);
      EXPECT_EQ(error_text(deadline.error()), "i/o timeout");
    } else {
      ASSERT_TRUE(deadline) << deadline.error().message();
      EXPECT_EQ(*deadline, tt.expect_deadline)
          << ms(*deadline - tt.now) << " ms instead of " << ms(tt.expect_deadline - tt.now);
    }
  }
}

TEST_F(Dialer, EffectiveDelaysApplyDefaultsAndClamps) {
  EXPECT_EQ(dialer{}.effective_fallback_delay(), 300ms);  // 0 means 300 ms
  EXPECT_EQ(dialer{.fallback_delay = 1ns}.effective_fallback_delay(), 1ns);
  EXPECT_EQ(dialer{.fallback_delay = 200ms}.effective_fallback_delay(), 200ms);
  EXPECT_EQ(dialer{}.effective_attempt_delay(), 250ms);  // RFC 8305's recommended default
  EXPECT_EQ(dialer{.connection_attempt_delay = 1ms}.effective_attempt_delay(), 10ms);
  EXPECT_EQ(dialer{.connection_attempt_delay = 0ms}.effective_attempt_delay(), 10ms);
  EXPECT_EQ(dialer{.connection_attempt_delay = 5s}.effective_attempt_delay(), 2s);
  EXPECT_EQ(dialer{.connection_attempt_delay = 100ms}.effective_attempt_delay(), 100ms);
}

// --- Go's TestDialerFallbackDelay -------------------------------------------------------------

TEST_F(Dialer, FallbackDelayStartsTheFallbackLikeGo) {
  if (!test::has_ipv6()) GTEST_SKIP() << "both IPv4 and IPv6 are required";
  // "slow6loopback4": a blackholed IPv6 address and a live IPv4 one, on one port.
  auto site = test::same_port_server::open({"127.0.0.1"}, {"::1"});
  if (!site) GTEST_SKIP() << "the kernel does not drop SYNs to a full accept queue";
  static_resolver names;
  names.add("slow6loopback4", {.ipv4 = {at("127.0.0.1", 0)}, .ipv6 = {at("::1", 0)}});
  std::string target = join_host_port("slow6loopback4", std::to_string(site->port));

  struct fallback_case {
    bool dual_stack;
    duration delay;
    duration timeout;
    bool expect_ok;
    duration expect_elapsed;
  };
  const fallback_case cases[] = {
      // Use a very brief delay, which should fallback immediately.
      {true, 1ns, {}, true, instant},
      // Use a 200ms explicit timeout.
      {true, 200ms, {}, true, 200ms},
      // The default is 300ms.
      {true, 0ms, {}, true, 300ms},
      // Without Happy Eyeballs (Go's removed last row, and ringo's negative delay) the blackhole
      // takes the whole timeout: the IPv4 address is never tried.
      {false, 0ms, 250ms, false, 250ms},
      {true, -1ms, 250ms, false, 250ms},
  };
  for (std::size_t i = 0; i < std::size(cases); ++i) {
    const fallback_case& tt = cases[i];
    SCOPED_TRACE("row #" + std::to_string(i));
    // (Go's DualStack false is a negative fallback delay here.)
    dialer d{.timeout = tt.timeout,
             .fallback_delay = tt.dual_stack ? tt.delay : -std::chrono::milliseconds(1),
             .name_resolver = &names};
    timed_dial t = run(timed([&](std::stop_token st) { return d.dial("tcp", target, st); }));
    EXPECT_EQ(bool(t.result), tt.expect_ok) << describe(t.result);
    if (t.result) {
      EXPECT_EQ(addr_of(t.result), "127.0.0.1:" + std::to_string(site->port));
    }
    if (!t.result && !tt.expect_ok) {
      EXPECT_TRUE(t.result.error().timeout());
      EXPECT_EQ(t.result.error().message(),
                "dial tcp [::1]:" + std::to_string(site->port) + ": i/o timeout");
    }
    // Go: [-1 ms, +95 ms]. Timers never fire early, so the lower bound stays Go's.
    EXPECT_GE(ms(t.elapsed()), ms(tt.expect_elapsed) - 1);
    EXPECT_LE(ms(t.elapsed()), ms(tt.expect_elapsed) + (tt.expect_elapsed == instant ? 95 : 250));
  }
}

// --- Go's TestDialerDualStack -----------------------------------------------------------------

TEST_F(Dialer, DualStackFindsTheOtherFamilyWhenOneGoesAway) {
  if (!test::has_ipv6()) GTEST_SKIP() << "both IPv4 and IPv6 are required";
  static_resolver names;
  names.add("dualstack.test", {.ipv4 = {at("127.0.0.1", 0)}, .ipv6 = {at("::1", 0)}});
  constexpr duration timeout = 100ms;
  for (bool dual_stack : {false, true}) {
    SCOPED_TRACE(dual_stack ? "dual stack" : "serial");
    auto dss = test::same_port_server::open({"127.0.0.1", "::1"}).value();
    dialer d{.timeout = timeout,
             .fallback_delay = dual_stack ? duration::zero() : -std::chrono::milliseconds(1),
             .name_resolver = &names};
    std::string target = join_host_port("dualstack.test", std::to_string(dss.port));
    std::vector<int> families;
    for (int round = 0; round < 2; ++round) {
      timed_dial t = run(timed([&](std::stop_token st) { return d.dial("tcp", target, st); }));
      ASSERT_TRUE(t.result) << describe(t.result);
      EXPECT_LE(ms(t.elapsed()), 95.0);
      auto local = t.result->local_address().value();
      families.push_back(local.family());
      dss.teardown(local.is_ipv4() ? "tcp4" : "tcp6");
    }
    // The first dial prefers IPv6 (the resolver's first answer); the second finds IPv4.
    EXPECT_EQ(families, (std::vector<int>{AF_INET6, AF_INET}));
  }
}

// --- Go's TestDialerLocalAddr -----------------------------------------------------------------

TEST_F(Dialer, BindsTheLocalAddress) {
  bool v6 = test::has_ipv6();
  std::vector<std::string> hosts{"127.0.0.1"};
  if (v6) hosts.push_back("::1");
  auto dss = test::same_port_server::open(hosts).value();
  // A fixed local port: one nobody uses right now.
  std::uint16_t fixed_port = test::refused_address("127.0.0.2").port();

  struct local_case {
    std::string network;
    std::string raddr;
    std::optional<address> laddr;
    std::string expect_local_host;  // empty: the dial fails with mismatched_local
  };
  std::vector<local_case> cases = {
      {"tcp", "127.0.0.1", at("127.0.0.1", 0), "127.0.0.1"},
      {"tcp", "127.0.0.1", at("127.0.0.3", 0), "127.0.0.3"},
      {"tcp4", "127.0.0.1", at("127.0.0.2", fixed_port), "127.0.0.2"},
      {"tcp", "127.0.0.1", std::nullopt, "127.0.0.1"},
  };
  if (v6) {
    cases.push_back({"tcp", "::1", at("::1", 0), "::1"});
    cases.push_back({"tcp6", "::1", at("::1", 0), "::1"});
    cases.push_back({"tcp", "::1", at("127.0.0.1", 0), ""});
    cases.push_back({"tcp", "127.0.0.1", at("::1", 0), ""});
  }
  for (const local_case& tt : cases) {
    SCOPED_TRACE(tt.network + " " + tt.raddr + " from " +
                 (tt.laddr ? tt.laddr->to_string() : "any"));
    dialer d{.local_address = tt.laddr};
    auto raddr = dss.address(tt.raddr);
    auto r = run(d.dial(tt.network, raddr.to_string()));
    if (tt.expect_local_host.empty()) {
      ASSERT_FALSE(r) << describe(r);
      EXPECT_EQ(r.error(), errc::mismatched_local);
      EXPECT_EQ(r.error().message(), "dial " + tt.network + " " + tt.laddr->to_string() + "->" +
                                         raddr.to_string() + ": mismatched local address type");
      continue;
    }
    ASSERT_TRUE(r) << describe(r);
    auto local = r->local_address().value();
    EXPECT_EQ(local.host(), tt.expect_local_host);
    if (tt.laddr && tt.laddr->port() != 0) {
      EXPECT_EQ(local.port(), tt.laddr->port());
    }
    // The server sees the connection coming from there.
    auto accepted = test::accept_within(dss.fd(tt.raddr), 1s);
    ASSERT_TRUE(accepted);
    EXPECT_EQ(peer_address(accepted.get()).value(), local);
  }
}

// --- keep-alive, unix, networks ------------------------------------------------------------

TEST_F(Dialer, AppliesKeepAliveToTheConn) {
  auto dss = test::same_port_server::open({"127.0.0.1"}).value();
  std::string target = dss.address("127.0.0.1").to_string();
  struct keepalive_case {
    duration keep_alive;
    int expect_on;
    int expect_period;
  };
  const keepalive_case cases[] = {
      {0s, 1, 15},     // Go's default: 15 s
      {30s, 1, 30},    //
      {1500ms, 1, 2},  // whole seconds, rounded up
      {-1s, 0, -1},    // negative: off
  };
  for (const keepalive_case& tt : cases) {
    SCOPED_TRACE(ms(tt.keep_alive));
    dialer d{.keep_alive = tt.keep_alive};
    auto r = run(d.dial("tcp", target));
    ASSERT_TRUE(r) << describe(r);
    int fd = r->native_handle();
    EXPECT_EQ(test::get_option(fd, SOL_SOCKET, SO_KEEPALIVE), tt.expect_on);
    if (tt.expect_on) {
      EXPECT_EQ(test::get_option(fd, IPPROTO_TCP, TCP_KEEPIDLE), tt.expect_period);
      EXPECT_EQ(test::get_option(fd, IPPROTO_TCP, TCP_KEEPINTVL), tt.expect_period);
    }
    EXPECT_EQ(test::get_option(fd, IPPROTO_TCP, TCP_NODELAY), 1);
  }
  // The free function uses a default dialer.
  auto r = run(dial("tcp", target));
  ASSERT_TRUE(r) << describe(r);
  EXPECT_EQ(test::get_option(r->native_handle(), SOL_SOCKET, SO_KEEPALIVE), 1);
}

TEST_F(Dialer, DialsUnixSockets) {
  auto dir = std::filesystem::temp_directory_path() / ("ringo-dial-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "d.sock").string();
  auto l = listen_stream(socket_address::unix_path(path).value(), {.backlog = 8}).value();
  auto r = run(dial("unix", path));
  ASSERT_TRUE(r) << describe(r);
  EXPECT_EQ(r->network(), "unix");
  EXPECT_EQ(addr_of(r), path);
  r->close();

  std::string missing = (dir / "missing.sock").string();
  auto none = run(dial("unix", missing));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message(),
            "dial unix " + missing + ": connect: no such file or directory");
  EXPECT_EQ(run(dial("unix", "")).error(), errc::invalid_address);
  l.reset();
  std::filesystem::remove_all(dir);
}

TEST_F(Dialer, NetworkChoosesTheFamily) {
  if (!test::has_ipv6()) GTEST_SKIP() << "both IPv4 and IPv6 are required";
  auto dss = test::same_port_server::open({"127.0.0.1", "::1"}).value();
  static_resolver names;
  names.add("both.test", {.ipv4 = {at("127.0.0.1", 0)}, .ipv6 = {at("::1", 0)}});
  dialer d{.name_resolver = &names};
  std::string port = std::to_string(dss.port);
  auto v4 = run(d.dial("tcp4", "both.test:" + port));
  EXPECT_EQ(addr_of(v4), "127.0.0.1:" + port);
  auto v6 = run(d.dial("tcp6", "both.test:" + port));
  EXPECT_EQ(addr_of(v6), "[::1]:" + port);
  auto any = run(d.dial("tcp", "both.test:" + port));
  EXPECT_EQ(addr_of(any), "[::1]:" + port);
  // A literal of the wrong family is an error, not a dial.
  auto wrong = run(d.dial("tcp4", "[::1]:" + port));
  EXPECT_EQ(wrong.error(), errc::invalid_address);
  wrong = run(d.dial("tcp6", "127.0.0.1:" + port));
  EXPECT_EQ(wrong.error(), errc::invalid_address);
  // An empty host dials the local system (Go: ":80" is localhost), in the network's family.
  auto local = run(d.dial("tcp", ":" + port));
  EXPECT_EQ(addr_of(local), "127.0.0.1:" + port);
  auto local4 = run(d.dial("tcp4", ":" + port));
  EXPECT_EQ(addr_of(local4), "127.0.0.1:" + port);
  auto local6 = run(d.dial("tcp6", ":" + port));
  EXPECT_EQ(addr_of(local6), "[::1]:" + port) << describe(local6);
}

// --- errors ------------------------------------------------------------------------------------

TEST_F(Dialer, ErrorsNameOpNetworkAndAddress) {
  auto refused = test::refused_address();
  auto r = run(dial("tcp", refused.to_string()));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::connection_refused);
  EXPECT_EQ(r.error().message(),
            "dial tcp " + refused.to_string() + ": connect: connection refused");
  EXPECT_EQ(r.error().op, "dial");
  EXPECT_EQ(r.error().network, "tcp");
  EXPECT_EQ(r.error().address, refused.to_string());

  if (test::has_ipv6()) {
    auto refused6 = test::refused_address("::1");
    auto r6 = run(dial("tcp", refused6.to_string()));
    EXPECT_EQ(r6.error().message(),
              "dial tcp " + refused6.to_string() + ": connect: connection refused");
    EXPECT_EQ(refused6.to_string().front(), '[');
    auto r6n = run(dial("tcp6", refused6.to_string()));
    EXPECT_EQ(r6n.error().message(),
              "dial tcp6 " + refused6.to_string() + ": connect: connection refused");
  }

  static_resolver names;  // knows nothing
  dialer d{.name_resolver = &names};
  auto unknown = run(d.dial("tcp", "nosuch.test:80"));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error(), errc::no_such_host);
  EXPECT_EQ(unknown.error().message(), "dial tcp: lookup nosuch.test: no such host");

  auto bad_network = run(dial("udp7", "127.0.0.1:80"));
  EXPECT_EQ(bad_network.error(), errc::unknown_network);
  EXPECT_EQ(bad_network.error().message(), "dial udp7 127.0.0.1:80: unknown network");
  EXPECT_EQ(run(dial("tcp", "127.0.0.1")).error(), errc::invalid_address);  // missing port
  EXPECT_EQ(run(dial("tcp", "127.0.0.1:nope")).error(), errc::invalid_address);
  EXPECT_EQ(run(dial("tcp", "[::1:80")).error(), errc::invalid_address);
}

TEST_F(Dialer, TimeoutAndDeadlineEndTheDial) {
  auto bh = test::make_blackhole_on("127.0.0.2");
  if (!bh) GTEST_SKIP() << "the kernel does not drop SYNs to a full accept queue";
  std::string target = bh->listener.address.to_string();

  dialer by_timeout{.timeout = 100ms};
  timed_dial t = run(timed([&](std::stop_token st) { return by_timeout.dial("tcp", target, st); }));
  ASSERT_FALSE(t.result);
  EXPECT_TRUE(t.result.error().timeout());
  EXPECT_EQ(t.result.error().message(), "dial tcp " + target + ": i/o timeout");
  EXPECT_GE(ms(t.elapsed()), 99.0);
  EXPECT_LE(ms(t.elapsed()), 250.0);

  // The earlier of timeout and deadline applies.
  dialer by_deadline{.timeout = 10s, .deadline = clock::now() + 100ms};
  t = run(timed([&](std::stop_token st) { return by_deadline.dial("tcp", target, st); }));
  EXPECT_TRUE(!t.result && t.result.error().timeout()) << describe(t.result);
  EXPECT_LE(ms(t.elapsed()), 250.0);

  // A deadline already past fails before connecting.
  dialer past{.deadline = clock::now() - 1ms};
  auto late = run(past.dial("tcp", target));
  EXPECT_TRUE(!late && late.error().timeout()) << describe(late);

  // The timeout covers the name lookup too.
  static_resolver names;
  names.add(
      "slow.test",
      {.ipv4 = {at("127.0.0.1", 0)}, .ipv6 = {at("::1", 0)}, .ipv4_delay = 5s, .ipv6_delay = 5s});
  dialer slow_lookup{.timeout = 100ms, .name_resolver = &names};
  t = run(timed([&](std::stop_token st) { return slow_lookup.dial("tcp", "slow.test:80", st); }));
  ASSERT_FALSE(t.result);
  EXPECT_TRUE(t.result.error().timeout());
  EXPECT_EQ(t.result.error().message(), "dial tcp: lookup slow.test: i/o timeout");
  EXPECT_LE(ms(t.elapsed()), 250.0);
}

TEST_F(Dialer, StopEndsTheDialAtOnce) {
  auto bh = test::make_blackhole_on("127.0.0.2");
  if (!bh) GTEST_SKIP() << "the kernel does not drop SYNs to a full accept queue";
  std::string target = bh->listener.address.to_string();
  dialer d;
  std::vector<double> latencies;
  for (int i = 0; i < 20; ++i) {
    timed_dial t =
        run(stopped_after([&](std::stop_token st) { return d.dial("tcp", target, st); }, 5ms));
    ASSERT_TRUE(t.was_stopped());
    ASSERT_FALSE(t.result);
    EXPECT_TRUE(t.result.error().canceled());
    EXPECT_EQ(t.result.error().message(), "dial tcp " + target + ": operation was canceled");
    EXPECT_LE(ms(t.stop_latency()), stop_bound_ms);
    latencies.push_back(ms(t.stop_latency()));
  }
  report_latencies("dial to a blackhole", latencies);
  EXPECT_LE(test::median(latencies), stop_goal_ms);

  // Stopped before it starts: no connect at all.
  std::stop_source stopped;
  stopped.request_stop();
  auto r = run(d.dial("tcp", target, stopped.get_token()));
  EXPECT_TRUE(!r && r.error().canceled()) << describe(r);

  // A name lookup is stopped too.
  static_resolver names;
  names.add("slow.test", {.ipv4 = {at("127.0.0.1", 0)}, .ipv4_delay = 5s, .ipv6_delay = 5s});
  dialer slow{.name_resolver = &names};
  timed_dial t = run(
      stopped_after([&](std::stop_token st) { return slow.dial("tcp", "slow.test:80", st); }, 5ms));
  EXPECT_TRUE(!t.result && t.result.error().canceled()) << describe(t.result);
  EXPECT_LE(ms(t.stop_latency()), stop_bound_ms);
}

// --- dial_serial ------------------------------------------------------------------------------

TEST_F(DialSerial, TriesAddressesInOrderAndReturnsTheFirstSuccess) {
  auto dss = test::same_port_server::open({"127.0.0.1"}).value();
  auto refused_a = test::refused_address("127.0.0.2");
  auto refused_b = test::refused_address("127.0.0.3");
  auto live = dss.address("127.0.0.1");
  dialer d;
  auto r = run(d.dial_serial("tcp", {refused_a, refused_b, live, refused_a}));
  ASSERT_TRUE(r) << describe(r);
  EXPECT_EQ(addr_of(r), live.to_string());
}

TEST_F(DialSerial, ReturnsTheFirstErrorWithEveryAttempt) {
  auto a = test::refused_address("127.0.0.2");
  auto b = test::refused_address("127.0.0.3");
  auto c = test::refused_address("127.0.0.4");
  dialer d;
  auto r = run(d.dial_serial("tcp", {a, b, c}));
  ASSERT_FALSE(r);
  // The error from the first address is most relevant (Go).
  EXPECT_EQ(r.error().address, a.to_string());
  EXPECT_EQ(r.error().message(), "dial tcp " + a.to_string() + ": connect: connection refused");
  ASSERT_EQ(r.error().attempts.size(), 3u);
  EXPECT_EQ(r.error().attempts[0].address, a.to_string());
  EXPECT_EQ(r.error().attempts[1].address, b.to_string());
  EXPECT_EQ(r.error().attempts[2].address, c.to_string());
  for (const op_error& e : r.error().attempts) EXPECT_EQ(e.err, std::errc::connection_refused);

  auto none = run(d.dial_serial("tcp", {}));
  EXPECT_EQ(none.error(), errc::missing_address);
  EXPECT_EQ(none.error().message(), "dial tcp: missing address");
}

TEST_F(DialSerial, GivesTheFirstBlackholeTheWholeShortDeadline) {
  auto site = test::same_port_server::open({"127.0.0.1"}, {"127.0.0.2", "127.0.0.3"});
  if (!site) GTEST_SKIP() << "the kernel does not drop SYNs to a full accept queue";
  // 300 ms for three addresses is under the 2 s sane minimum, so the first takes all of it
  // (Go's partialDeadline: "steal from the end of the list"); the rest are never tried.
  dialer d{.timeout = 300ms};
  timed_dial t = run(timed([&](std::stop_token st) {
    return d.dial_serial(
        "tcp", {site->address("127.0.0.2"), site->address("127.0.0.3"), site->address("127.0.0.1")},
        st);
  }));
  ASSERT_FALSE(t.result) << describe(t.result);
  EXPECT_TRUE(t.result.error().timeout());
  EXPECT_EQ(t.result.error().address, site->address("127.0.0.2").to_string());
  EXPECT_GE(ms(t.elapsed()), 299.0);
  EXPECT_LE(ms(t.elapsed()), 450.0);
}

TEST_F(DialSerial, StopReturnsAtOnceWithoutTryingTheRest) {
  auto site = test::same_port_server::open({"127.0.0.1"}, {"127.0.0.2"});
  if (!site) GTEST_SKIP() << "the kernel does not drop SYNs to a full accept queue";
  std::vector<std::string> tried;
  dial_trace trace{
      .connect_start = [&](time_point, const address& a) { tried.push_back(a.to_string()); }};
  dialer d{.trace = &trace};
  auto blackholed = site->address("127.0.0.2");
  timed_dial t = run(stopped_after(
      [&](std::stop_token st) {
        return d.dial_serial("tcp", {blackholed, site->address("127.0.0.1")}, st);
      },
      20ms));
  ASSERT_FALSE(t.result) << describe(t.result);
  EXPECT_TRUE(t.result.error().canceled());
  EXPECT_EQ(t.result.error().message(),
            "dial tcp " + blackholed.to_string() + ": operation was canceled");
  EXPECT_LE(ms(t.stop_latency()), stop_bound_ms);
  EXPECT_EQ(tried, std::vector<std::string>{blackholed.to_string()});
}

TEST_F(DialParallel, StopReachesBothRacers) {
  if (!test::has_ipv6()) GTEST_SKIP() << "both IPv4 and IPv6 are required";
  auto slow4 = test::make_blackhole_on("127.0.0.2");
  auto slow6 = test::make_blackhole_on("::1");
  if (!slow4 || !slow6) GTEST_SKIP() << "the kernel does not drop SYNs to a full accept queue";
  std::vector<std::string> ended;
  dial_trace trace{.connect_done = [&](time_point, const address& a, std::error_code ec) {
    ended.push_back(a.to_string() + ": " + error_text(ec));
  }};
  dialer d{.fallback_delay = 20ms, .trace = &trace};
  auto primary = slow4->listener.address;
  auto fallback = slow6->listener.address;
  dial_fn dial = [&](std::stop_token st) {
    return d.dial_parallel("tcp", {primary}, {fallback}, std::move(st));
  };
  // Both racers are connecting when the stop comes.
  timed_dial t = run(stopped_after(dial, 60ms));
  ASSERT_TRUE(t.was_stopped());
  ASSERT_FALSE(t.result);
  EXPECT_EQ(t.result.error().message(),
            "dial tcp " + primary.to_string() + ": operation was canceled");
  EXPECT_LE(ms(t.stop_latency()), stop_bound_ms);
  std::sort(ended.begin(), ended.end());
  EXPECT_EQ(ended, (std::vector<std::string>{primary.to_string() + ": operation was canceled",
                                             fallback.to_string() + ": operation was canceled"}));

  // A stop requested before the dial: nothing is tried.
  ended.clear();
  std::stop_source stopped;
  stopped.request_stop();
  auto r = run(dial(stopped.get_token()));
  EXPECT_TRUE(!r && r.error().canceled()) << describe(r);
  EXPECT_TRUE(ended.empty());
}

// --- beyond Go: every attempt reported, the fallback delay clamped ----------------------------

TEST_F(DialParallel, ReportsEveryFailedAttempt) {
  if (!test::has_ipv6()) GTEST_SKIP() << "both IPv4 and IPv6 are required";
  auto refused = test::refused_address();
  std::uint16_t port = refused.port();
  static_resolver names;
  names.add("refused.test",
            {.ipv4 = {at("127.0.0.2", 0), at("127.0.0.3", 0)}, .ipv6 = {at("::1", 0)}});
  dialer d{.name_resolver = &names};
  auto r = run(d.dial("tcp", "refused.test:" + std::to_string(port)));
  ASSERT_FALSE(r) << describe(r);
  // The main error is the primary's first, as in Go...
  std::string p = std::to_string(port);
  EXPECT_EQ(r.error().message(), "dial tcp [::1]:" + p + ": connect: connection refused");
  // ...and every attempt is listed, the fallback's included.
  std::vector<std::string> tried;
  for (const op_error& e : r.error().attempts) {
    tried.push_back(e.address);
    EXPECT_EQ(e.err, std::errc::connection_refused) << e.message();
  }
  std::sort(tried.begin(), tried.end());
  EXPECT_EQ(tried, (std::vector<std::string>{"127.0.0.2:" + p, "127.0.0.3:" + p, "[::1]:" + p}));
  std::string full = r.error().full_message();
  EXPECT_NE(full.find("also: dial tcp 127.0.0.2:" + p + ": connect: connection refused"),
            std::string::npos)
      << full;
  EXPECT_NE(full.find("also: dial tcp 127.0.0.3:" + p), std::string::npos) << full;
}

TEST_F(DialParallel, ClampsTheFallbackDelayToTheTimeout) {
  if (!test::has_ipv6()) GTEST_SKIP() << "both IPv4 and IPv6 are required";
  auto slow4 = test::make_blackhole_on("127.0.0.2");
  if (!slow4) GTEST_SKIP() << "the kernel does not drop SYNs to a full accept queue";
  auto dss = test::same_port_server::open({"::1"}).value();
  // Go waits the full 300 ms before the fallback, so with a 200 ms timeout the fallback never
  // runs (golang/go#35616 and the complaints in research/happy_eyeballs.md §2.2). ringo starts it
  // at half the time left.
  dialer d{.timeout = 200ms};
  timed_dial t = run(timed([&](std::stop_token st) {
    return d.dial_parallel("tcp", {slow4->listener.address}, {dss.address("::1")}, st);
  }));
  ASSERT_TRUE(t.result) << describe(t.result);
  EXPECT_EQ(addr_of(t.result), dss.address("::1").to_string());
  EXPECT_GE(ms(t.elapsed()), 99.0);
  EXPECT_LT(ms(t.elapsed()), 200.0);
}

// --- beyond Go: the trace hook ----------------------------------------------------------------

struct trace_log {
  struct entry {
    std::string what;  // "resolve_start", "resolve_done", "connect_start", "connect_done"
    std::string detail;
    std::error_code err;
    time_point at;
  };
  std::vector<entry> entries;
  dial_trace hooks;

  trace_log() {
    hooks.resolve_start = [this](time_point t, std::string_view host) {
      entries.push_back({"resolve_start", std::string(host), {}, t});
    };
    hooks.resolve_done = [this](time_point t, std::string_view host,
                                const std::vector<address>& addrs, std::error_code ec) {
      std::string d(host);
      for (const address& a : addrs) d += " " + a.host();
      entries.push_back({"resolve_done", d, ec, t});
    };
    hooks.connect_start = [this](time_point t, const address& a) {
      entries.push_back({"connect_start", a.to_string(), {}, t});
    };
    hooks.connect_done = [this](time_point t, const address& a, std::error_code ec) {
      entries.push_back({"connect_done", a.to_string(), ec, t});
    };
  }
  trace_log(const trace_log&) = delete;

  std::vector<std::string> starts() const {
    std::vector<std::string> out;
    for (const entry& e : entries)
      if (e.what == "connect_start") out.push_back(e.detail);
    return out;
  }
  const entry* find(std::string_view what, std::string_view detail) const {
    for (const entry& e : entries)
      if (e.what == what && e.detail == detail) return &e;
    return nullptr;
  }
};

TEST_F(DialTrace, SeesTheLookupAndEveryConnect) {
  if (!test::has_ipv6()) GTEST_SKIP() << "both IPv4 and IPv6 are required";
  auto dss = test::same_port_server::open({"127.0.0.1", "::1"}).value();
  dss.teardown("tcp6");  // ::1 refuses, so the fallback starts at once
  static_resolver names;
  names.add("trace.test", {.ipv4 = {at("127.0.0.1", 0)}, .ipv6 = {at("::1", 0)}});
  trace_log log;
  dialer d{.name_resolver = &names, .trace = &log.hooks};
  std::string p = std::to_string(dss.port);
  timed_dial t =
      run(timed([&](std::stop_token st) { return d.dial("tcp", "trace.test:" + p, st); }));
  ASSERT_TRUE(t.result) << describe(t.result);

  ASSERT_EQ(log.entries.size(), 6u);
  auto expect_entry = [&](std::size_t i, const char* what, const std::string& detail,
                          std::error_code ec = {}) {
    EXPECT_EQ(log.entries[i].what, what) << i;
    EXPECT_EQ(log.entries[i].detail, detail) << i;
    EXPECT_EQ(log.entries[i].err, ec) << i << ": " << log.entries[i].err.message();
  };
  expect_entry(0, "resolve_start", "trace.test");
  expect_entry(1, "resolve_done", "trace.test ::1 127.0.0.1");
  expect_entry(2, "connect_start", "[::1]:" + p);
  expect_entry(3, "connect_done", "[::1]:" + p, errno_code(ECONNREFUSED));
  expect_entry(4, "connect_start", "127.0.0.1:" + p);
  expect_entry(5, "connect_done", "127.0.0.1:" + p);
  // Timestamps are in order and inside the dial.
  for (std::size_t i = 0; i < log.entries.size(); ++i) {
    EXPECT_GE(log.entries[i].at, t.start);
    EXPECT_LE(log.entries[i].at, t.returned);
    if (i > 0) {
      EXPECT_GE(log.entries[i].at, log.entries[i - 1].at);
    }
  }
}

TEST_F(DialTrace, ReportsAFailedLookupAndSkipsNumericHosts) {
  static_resolver names;
  trace_log log;
  dialer d{.name_resolver = &names, .trace = &log.hooks};
  auto r = run(d.dial("tcp", "nosuch.test:80"));
  ASSERT_FALSE(r);
  ASSERT_EQ(log.entries.size(), 2u);
  EXPECT_EQ(log.entries[1].what, "resolve_done");
  EXPECT_EQ(log.entries[1].detail, "nosuch.test");
  EXPECT_EQ(log.entries[1].err, errc::no_such_host);

  log.entries.clear();
  auto refused = test::refused_address();
  r = run(d.dial("tcp", refused.to_string()));
  ASSERT_FALSE(r);
  ASSERT_EQ(log.entries.size(), 2u) << "a numeric host is not looked up";
  EXPECT_EQ(log.entries[0].what, "connect_start");
  EXPECT_EQ(log.entries[1].what, "connect_done");
  EXPECT_EQ(log.entries[1].err, std::errc::connection_refused);
}

// --- beyond Go: RFC 8305, Happy Eyeballs v2 -----------------------------------------------------

// A plain connect through the ring, for hooks that delay only some addresses.
task<dial_result> plain_dial(address ra, time_point deadline, std::stop_token stop) {
  op_error err{.op = "dial", .network = "tcp", .address = ra.to_string()};
  auto fd = open_socket(ra.family(), SOCK_STREAM);
  if (!fd) {
    err.err = fd.error();
    co_return err;
  }
  auto connected = co_await ringo::connect(fd->get(), ra, std::move(stop), deadline);
  if (!connected) {
    err.err = connected.error();
    co_return err;
  }
  co_return conn(std::move(*fd));
}

TEST_F(HappyEyeballsV2, StaggersInterleavedAttemptsWhileEarlierOnesContinue) {
  if (!test::has_ipv6()) GTEST_SKIP() << "both IPv4 and IPv6 are required";
  // Two addresses of each family; the first of each is blackholed. IPv4-mapped IPv6 addresses
  // (::ffff:127.0.0.2) give a second, loopback-only "IPv6" address.
  auto site = test::same_port_server::open({"127.0.0.1", "::1"}, {"127.0.0.2", "127.0.0.3"});
  if (!site) GTEST_SKIP() << "the kernel does not drop SYNs to a full accept queue";
  static_resolver names;
  names.add("he2.test", {.ipv4 = {at("127.0.0.3", 0), at("127.0.0.1", 0)},
                         .ipv6 = {at("::ffff:127.0.0.2", 0), at("::1", 0)}});
  trace_log log;
  constexpr duration delay = 50ms;
  dialer d{.name_resolver = &names,
           .happy_eyeballs_v2 = true,
           .connection_attempt_delay = delay,
           .trace = &log.hooks};
  std::string p = std::to_string(site->port);
  timed_dial t = run(timed([&](std::stop_token st) { return d.dial("tcp", "he2.test:" + p, st); }));
  ASSERT_TRUE(t.result) << describe(t.result);
  EXPECT_EQ(addr_of(t.result), "[::1]:" + p);

  // Interleaved by family, IPv6 first; the fourth address is never needed.
  EXPECT_EQ(log.starts(),
            (std::vector<std::string>{"[::ffff:127.0.0.2]:" + p, "127.0.0.3:" + p, "[::1]:" + p}));
  // One attempt every connection_attempt_delay, while the blackholed ones keep going.
  auto* first = log.find("connect_start", "[::ffff:127.0.0.2]:" + p);
  auto* second = log.find("connect_start", "127.0.0.3:" + p);
  auto* third = log.find("connect_start", "[::1]:" + p);
  ASSERT_TRUE(first && second && third);
  // (Each stagger is timed from when the loop started the last attempt; the attempt's trace stamps
  // it when its coroutine first runs, a little later on a loaded machine, so a gap between two
  // stamps may come out short by that lag: 48.8 ms for 50 was seen. The sum holds below.)
  EXPECT_GE(ms(second->at - first->at), ms(delay) - 10);
  EXPECT_LE(ms(second->at - first->at), ms(delay) + 100);
  EXPECT_GE(ms(third->at - second->at), ms(delay) - 10);
  EXPECT_LE(ms(third->at - second->at), ms(delay) + 100);
  EXPECT_GE(ms(t.elapsed()), 2 * ms(delay) - 1);
  EXPECT_LE(ms(t.elapsed()), 2 * ms(delay) + 200);

  // The first success stopped the others, and dial awaited them: their ends are in the trace,
  // before dial returned.
  for (std::string hung : {"[::ffff:127.0.0.2]:" + p, "127.0.0.3:" + p}) {
    auto* done = log.find("connect_done", hung);
    ASSERT_TRUE(done) << hung << " was not awaited";
    EXPECT_EQ(done->err, std::errc::operation_canceled) << hung;
    EXPECT_LE(done->at, t.returned);
  }
}

TEST_F(HappyEyeballsV2, WaitsTheResolutionDelayForAAAA) {
  if (!test::has_ipv6()) GTEST_SKIP() << "both IPv4 and IPv6 are required";
  auto dss = test::same_port_server::open({"127.0.0.1", "::1"}).value();
  std::string p = std::to_string(dss.port);
  struct resolution_case {
    std::chrono::milliseconds aaaa_delay;
    std::chrono::milliseconds a_delay;
    bool has_aaaa, has_a;      // a family without records answers no_such_host (after its delay)
    std::string expect_first;  // the first address attempted, which wins
    duration expect_elapsed;
  };
  const resolution_case cases[] = {
      // AAAA answers within the 50 ms Resolution Delay: IPv6 goes first.
      {20ms, 0ms, true, true, "[::1]:" + p, 20ms},
      // AAAA is late: IPv4 starts when the Resolution Delay ends, and the lookup still running is
      // stopped and awaited.
      {400ms, 0ms, true, true, "127.0.0.1:" + p, 50ms},
      // Both at once, or A late: IPv6 first, without waiting for A.
      {0ms, 0ms, true, true, "[::1]:" + p, instant},
      {0ms, 300ms, true, true, "[::1]:" + p, instant},
      // No AAAA records: that answer counts, so IPv4 need not wait the Resolution Delay.
      {0ms, 0ms, false, true, "127.0.0.1:" + p, instant},
      // No A records, AAAA a little later: IPv6 when it comes.
      {30ms, 0ms, true, false, "[::1]:" + p, 30ms},
  };
  for (const resolution_case& tt : cases) {
    SCOPED_TRACE("AAAA after " + std::to_string(tt.aaaa_delay.count()) + " ms, A after " +
                 std::to_string(tt.a_delay.count()) + " ms");
    static_resolver names;
    static_resolver::answer answer{.ipv4_delay = tt.a_delay, .ipv6_delay = tt.aaaa_delay};
    if (tt.has_a) answer.ipv4 = {at("127.0.0.1", 0)};
    if (tt.has_aaaa) answer.ipv6 = {at("::1", 0)};
    names.add("late.test", answer);
    trace_log log;
    dialer d{.name_resolver = &names, .happy_eyeballs_v2 = true, .trace = &log.hooks};
    timed_dial t =
        run(timed([&](std::stop_token st) { return d.dial("tcp", "late.test:" + p, st); }));
    ASSERT_TRUE(t.result) << describe(t.result);
    EXPECT_EQ(addr_of(t.result), tt.expect_first);
    EXPECT_EQ(log.starts(), std::vector<std::string>{tt.expect_first});
    EXPECT_GE(ms(t.elapsed()), ms(tt.expect_elapsed) - 1);
    EXPECT_LE(ms(t.elapsed()), ms(tt.expect_elapsed) + 95);
    // Both lookups were started and both ended (the late one cancelled) before dial returned.
    int resolves_done = 0;
    for (const auto& e : log.entries) {
      if (e.what != "resolve_done") continue;
      ++resolves_done;
      EXPECT_LE(e.at, t.returned);
    }
    EXPECT_EQ(resolves_done, 2);
  }
}

TEST_F(HappyEyeballsV2, ClosesLosersThatConnected) {
  if (!test::has_ipv6()) GTEST_SKIP() << "both IPv4 and IPv6 are required";
  auto dss = test::same_port_server::open({"127.0.0.1", "::1"}).value();
  static_resolver names;
  names.add("both.test", {.ipv4 = {at("127.0.0.1", 0)}, .ipv6 = {at("::1", 0)}});
  dialer d{.name_resolver = &names, .happy_eyeballs_v2 = true, .connection_attempt_delay = 20ms};
  // The IPv6 attempt starts first but connects late and ignores the stop: it connects after the
  // IPv4 attempt (started 20 ms later) has won.
  d.dial_hook = [](const address& ra, time_point deadline, std::stop_token stop) {
    return ra.is_ipv6() ? uncancellable_dial(ra, 100ms, deadline)
                        : plain_dial(ra, deadline, std::move(stop));
  };
  std::string p = std::to_string(dss.port);
  timed_dial t =
      run(timed([&](std::stop_token st) { return d.dial("tcp", "both.test:" + p, st); }));
  ASSERT_TRUE(t.result) << describe(t.result);
  EXPECT_EQ(addr_of(t.result), "127.0.0.1:" + p);
  EXPECT_GE(ms(t.elapsed()), 99.0) << "the loser was awaited";

  auto loser = test::accept_within(dss.fd("::1"), 1s);
  ASSERT_TRUE(loser) << "the IPv6 attempt never connected";
  EXPECT_EQ(test::read_within(loser.get(), 1s), std::optional<std::string>(""))
      << "the loser should be closed, with no data";
  auto winner = test::accept_within(dss.fd("127.0.0.1"), 1s);
  ASSERT_TRUE(winner);
  EXPECT_EQ(test::read_within(winner.get(), 50ms), std::nullopt);
}

TEST_F(HappyEyeballsV2, ReportsEveryFailedAttempt) {
  if (!test::has_ipv6()) GTEST_SKIP() << "both IPv4 and IPv6 are required";
  auto refused = test::refused_address();
  std::string p = std::to_string(refused.port());
  static_resolver names;
  names.add("refused.test",
            {.ipv4 = {at("127.0.0.2", 0), at("127.0.0.3", 0)}, .ipv6 = {at("::1", 0)}});
  dialer d{.name_resolver = &names, .happy_eyeballs_v2 = true};
  timed_dial t =
      run(timed([&](std::stop_token st) { return d.dial("tcp", "refused.test:" + p, st); }));
  ASSERT_FALSE(t.result);
  // A failure starts the next attempt at once: no attempt delay is spent.
  EXPECT_LE(ms(t.elapsed()), 95.0);
  EXPECT_EQ(t.result.error().message(), "dial tcp [::1]:" + p + ": connect: connection refused");
  std::vector<std::string> tried;
  for (const op_error& e : t.result.error().attempts) tried.push_back(e.address);
  EXPECT_EQ(tried, (std::vector<std::string>{"[::1]:" + p, "127.0.0.2:" + p, "127.0.0.3:" + p}));

  auto unknown = run(d.dial("tcp", "nosuch.test:80"));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message(), "dial tcp: lookup nosuch.test: no such host");
}

TEST_F(HappyEyeballsV2, StopAndTimeoutEndEveryAttempt) {
  auto site = test::same_port_server::open({}, {"127.0.0.2", "127.0.0.3"});
  if (!site) GTEST_SKIP() << "the kernel does not drop SYNs to a full accept queue";
  static_resolver names;
  names.add("hang.test", {.ipv4 = {at("127.0.0.2", 0), at("127.0.0.3", 0)}});
  trace_log log;
  dialer d{.name_resolver = &names,
           .happy_eyeballs_v2 = true,
           .connection_attempt_delay = 10ms,
           .trace = &log.hooks};
  std::string target = "hang.test:" + std::to_string(site->port);

  timed_dial t =
      run(stopped_after([&](std::stop_token st) { return d.dial("tcp", target, st); }, 30ms));
  ASSERT_FALSE(t.result);
  EXPECT_TRUE(t.result.error().canceled()) << describe(t.result);
  EXPECT_LE(ms(t.stop_latency()), stop_bound_ms);
  report_latencies("Happy Eyeballs v2, two attempts in flight", {ms(t.stop_latency())});
  EXPECT_EQ(log.starts().size(), 2u) << "both attempts were running";
  int ended = 0;
  for (const auto& e : log.entries) {
    if (e.what != "connect_done") continue;
    ++ended;
    EXPECT_EQ(e.err, std::errc::operation_canceled);
  }
  EXPECT_EQ(ended, 2);

  dialer timed_out = d;
  timed_out.timeout = 150ms;
  timed_out.trace = nullptr;
  t = run(timed([&](std::stop_token st) { return timed_out.dial("tcp", target, st); }));
  ASSERT_FALSE(t.result);
  EXPECT_TRUE(t.result.error().timeout()) << describe(t.result);
  EXPECT_GE(ms(t.elapsed()), 149.0);
  EXPECT_LE(ms(t.elapsed()), 300.0);
}

}  // namespace
}  // namespace ringo::net
