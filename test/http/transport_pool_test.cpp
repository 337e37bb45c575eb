// The pool's idle bound per host: following demand (the default: as many idle as were lately in
// use at once) against Go's fixed bound, which a number pins. A ringo server on a thread of its
// own answers; the transport runs on the test thread.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "client_test_support.hpp"
#include "server_test_support.hpp"

namespace ringo::http {
namespace {

using namespace std::chrono_literals;

using TransportPool = ringo::test::RingoTest;

task<void> say_hello(response_writer& w, request&) {
  co_await w.write("hello");
}

// Between two requests a client thinks a little, as a proxy's client does between its answer and
// its next request: meanwhile its connection sits idle, which is when a bound below the demand
// closes it.
constexpr duration think_time = std::chrono::microseconds(500);

// `n` requests one after another; failures counted.
task<void> client_loop(transport* t, std::string u, int n, int* failures) {
  for (int i = 0; i < n; ++i) {
    std::string got = co_await fetch(t, get(u));
    if (got != "hello") ++*failures;
    (void)co_await sleep_for(think_time);
  }
}

// `clients` loops at once.
task<void> concurrently(transport* t, std::string u, int clients, int each, int* failures) {
  scope sc;
  for (int i = 0; i < clients; ++i) sc.spawn(client_loop(t, u, each, failures));
  co_await sc.join();
}

// Requests from `clients` loops at once until `until`.
task<void> client_loop_until(transport* t, std::string u, time_point until, int* failures) {
  for (;;) {
    if (clock::now() >= until) break;
    std::string got = co_await fetch(t, get(u));
    if (got != "hello") ++*failures;
    (void)co_await sleep_for(think_time);
  }
}

task<void> concurrently_for(transport* t, std::string u, int clients, duration d, int* failures) {
  scope sc;
  const time_point until = clock::now() + d;
  for (int i = 0; i < clients; ++i) sc.spawn(client_loop_until(t, u, until, failures));
  co_await sc.join();
}

struct pool_run {
  std::size_t dials = 0;
  std::size_t idle_after = 0;
  int failures = 0;
};

task<void> steady_load(transport* t, std::string u, int clients, int each, pool_run* out) {
  co_await concurrently(t, u, clients, each, &out->failures);
  out->dials = t->dial_count();
  out->idle_after = t->idle_count();
  co_await t->close();
}

pool_run run_steady_load(const std::string& u, transport_options o, int clients, int each) {
  transport t(std::move(o));
  pool_run out;
  ringo::run(steady_load(&t, u, clients, each, &out));
  return out;
}

// 32 clients, 10,016 requests: following demand, the pool dials once per client and keeps every
// connection; Go's fixed 2 re-dials for most requests.
TEST_F(TransportPool, FollowingDemandDialsOnlyAsManyAsAreInUseAtOnce) {
  http::server srv(say_hello);
  test::server_thread up(srv);
  const int clients = 32;
  pool_run follow = run_steady_load(up.url(), {}, clients, 313);
  EXPECT_EQ(follow.failures, 0);
  EXPECT_EQ(follow.dials, std::size_t(clients));
  // (What stays idle is what the last windows had in use at once: up to every connection.)
  EXPECT_LE(follow.idle_after, std::size_t(clients));
  EXPECT_GE(follow.idle_after, std::size_t(transport_options::min_idle_conns_per_host));

  transport_options go_default;
  go_default.max_idle_conns_per_host = 2;  // pinned: Go's DefaultMaxIdleConnsPerHost
  pool_run pinned = run_steady_load(up.url(), go_default, clients, 50);
  EXPECT_EQ(pinned.failures, 0);
  EXPECT_GT(pinned.dials, std::size_t(10 * clients)) << "Go's bound no longer churns?";
  std::printf("32 clients: %zu dials following demand over %d requests, %zu pinned to 2 over %d\n",
              follow.dials, clients * 313, pinned.dials, clients * 50);
  EXPECT_EQ(pinned.idle_after, 2u);
}

struct surplus_run {
  std::size_t idle_at_peak = 0, idle_after_drop = 0, idle_after_quiet = 0;
  std::size_t dials_at_peak = 0, dials_after_drop = 0;
  int failures = 0;
};

task<void> demand_drops(transport* t, std::string u, surplus_run* out) {
  co_await concurrently(t, u, 16, 20, &out->failures);
  out->idle_at_peak = t->idle_count();
  out->dials_at_peak = t->dial_count();
  // Two clients for several windows: their conns come back, the bound decays to 2, and the
  // oldest idle conns go.
  co_await concurrently_for(t, u, 2, 600ms, &out->failures);
  out->idle_after_drop = t->idle_count();
  out->dials_after_drop = t->dial_count();
  // No demand at all: the trimmer brings the pool to the minimum.
  (void)co_await sleep_for(500ms);
  out->idle_after_quiet = t->idle_count();
  co_await t->close();
}

TEST_F(TransportPool, AnIdleSurplusIsClosedAfterDemandDrops) {
  http::server srv(say_hello);
  test::server_thread up(srv);
  transport_options o;
  o.idle_demand_window = 100ms;
  transport t(o);
  surplus_run r;
  ringo::run(demand_drops(&t, up.url(), &r));
  EXPECT_EQ(r.failures, 0);
  EXPECT_EQ(r.idle_at_peak, r.dials_at_peak);
  EXPECT_LE(r.dials_at_peak, 16u);
  EXPECT_EQ(r.dials_after_drop, r.dials_at_peak) << "two clients re-dialed";
  EXPECT_LE(r.idle_after_drop, 4u);
  EXPECT_EQ(r.idle_after_quiet, std::size_t(transport_options::min_idle_conns_per_host));
}

task<void> traced_fetch(transport* t, std::string u, const client_trace* trace, int* failures) {
  client_request req = get(u);
  req.trace = trace;
  std::string got = co_await fetch(t, std::move(req));
  if (got != "hello") ++*failures;
}

task<void> eight_at_once(transport* t, std::string u, const client_trace* trace, int* failures,
                         std::size_t* idle) {
  scope sc;
  for (int i = 0; i < 8; ++i) sc.spawn(traced_fetch(t, u, trace, failures));
  co_await sc.join();
  *idle = t->idle_count();
  co_await t->close();
}

// Pinned, the bound is Go's: the conn coming back is refused once the host has that many idle,
// and the trace says why; negative disables keep-alives.
TEST_F(TransportPool, APinnedBoundKeepsGosRule) {
  http::server srv(say_hello);
  test::server_thread up(srv);
  struct {
    int per_host;
    std::size_t want_idle;
    std::error_code want_refusal;
  } cases[] = {
      {2, 2, errc::too_many_idle_for_host},
      {5, 5, errc::too_many_idle_for_host},
      {-1, 0, errc::keep_alives_disabled},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.per_host);
    transport_options o;
    o.max_idle_conns_per_host = c.per_host;
    transport t(o);
    std::vector<std::error_code> refusals;
    client_trace trace;
    trace.put_idle_conn = [&](std::error_code ec) {
      if (ec) refusals.push_back(ec);
    };
    int failures = 0;
    std::size_t idle = 0;
    ringo::run(eight_at_once(&t, up.url(), &trace, &failures, &idle));
    EXPECT_EQ(idle, c.want_idle);
    EXPECT_EQ(failures, 0);
    ASSERT_FALSE(refusals.empty());
    EXPECT_EQ(refusals.front(), c.want_refusal);
  }
}

// max_idle_conns bounds the pool over all hosts, whatever demand says.
TEST_F(TransportPool, MaxIdleConnsBoundsWhatDemandKeeps) {
  http::server srv(say_hello);
  test::server_thread up(srv);
  transport_options o;
  o.max_idle_conns = 5;
  pool_run r = run_steady_load(up.url(), o, 16, 10);
  EXPECT_EQ(r.failures, 0);
  EXPECT_EQ(r.idle_after, 5u);
}

// The trimmer waits a window between looks; close() stops that wait at once.
task<void> close_while_trimming(transport* t, std::string u, duration* close_took) {
  int failures = 0;
  co_await concurrently(t, u, 8, 5, &failures);
  EXPECT_GT(t->idle_count(), std::size_t(transport_options::min_idle_conns_per_host));
  const time_point start = clock::now();
  co_await t->close();
  *close_took = clock::now() - start;
}

TEST_F(TransportPool, CloseStopsTheTrimmersWait) {
  http::server srv(say_hello);
  test::server_thread up(srv);
  transport_options o;
  o.idle_demand_window = std::chrono::hours(1);
  transport t(o);
  duration took{};
  ringo::run(close_while_trimming(&t, up.url(), &took));
  EXPECT_LT(took, 1s);
  EXPECT_EQ(t.idle_count(), 0u);
}

// transport::stats() during a load and after it: the hosts' figures add up to the pool's, every
// round trip was a dial or a reuse, and a pinned bound's refusals are counted by reason. (The
// fixture checks that no descriptor is left open.)
struct stats_run {
  std::vector<transport_stats> during;
  transport_stats after, closed;
  int failures = 0;
};

task<void> sample_stats(transport* t, stats_run* out, const bool* done) {
  while (!*done) {
    out->during.push_back(t->stats());
    (void)co_await sleep_for(2ms);
  }
}

task<void> load_with_stats(transport* t, std::string u, stats_run* out) {
  bool done = false;
  {
    scope sc;
    sc.spawn(sample_stats(t, out, &done));
    co_await concurrently(t, u, 8, 50, &out->failures);
    done = true;
    co_await sc.join();
  }
  out->after = t->stats();
  t->close_idle_connections();
  out->closed = t->stats();
  co_await t->close();
}

TEST_F(TransportPool, StatsAddUpDuringALoadRun) {
  http::server srv(say_hello);
  test::server_thread up(srv);
  transport_options o;
  o.max_idle_conns_per_host = 2;  // pinned, so that some conns are refused and counted
  transport t(o);
  stats_run r;
  ringo::run(load_with_stats(&t, up.url(), &r));
  EXPECT_EQ(r.failures, 0);
  ASSERT_FALSE(r.during.empty());
  bool saw_active = false;
  for (const transport_stats& s : r.during) {
    std::size_t idle = 0, active = 0, dialing = 0, waiting = 0;
    for (const host_pool_stats& h : s.hosts) {
      EXPECT_EQ(h.host, up.address());
      idle += h.idle, active += h.active, dialing += h.dialing, waiting += h.waiting;
    }
    EXPECT_EQ(idle, s.idle);
    EXPECT_EQ(active, s.active);
    EXPECT_EQ(dialing, s.dialing);
    EXPECT_EQ(waiting, s.waiting);
    // Never more in use, or waiting, than there are clients. (Dials may be more: one started
    // for a waiter goes on when an idle conn served it first, and its conn joins the pool.)
    EXPECT_LE(s.active, 8u);
    EXPECT_LE(s.waiting, 8u);
    EXPECT_LE(s.idle, 2u);
    saw_active = saw_active || s.active > 0;
  }
  EXPECT_TRUE(saw_active);
  // Every one of the 400 round trips got a conn: a reused one, or a new one that a dial made.
  EXPECT_EQ(r.after.conns_got, 400u);
  EXPECT_GT(r.after.reuses, 0u);
  EXPECT_LE(r.after.conns_got - r.after.reuses, r.after.dials);
  EXPECT_EQ(r.after.dials, t.dial_count());
  EXPECT_EQ(r.after.active, 0u);
  EXPECT_EQ(r.after.idle, 2u);
  // Conns refused by the bound of 2: all but the ones left idle, when the last loop ended.
  std::uint64_t refused = 0, called = 0, total = 0;
  for (const auto& [why, n] : r.closed.closed) {
    total += n;
    if (why == "http: putIdleConn: too many idle connections for host") refused = n;
    if (why == "http: CloseIdleConnections called") called = n;
  }
  EXPECT_GT(refused, 0u);
  EXPECT_EQ(called, 2u);
  EXPECT_EQ(total, r.after.dials);  // every conn dialed is closed, each for one reason
  EXPECT_TRUE(r.closed.hosts.empty());
}

}  // namespace
}  // namespace ringo::http
