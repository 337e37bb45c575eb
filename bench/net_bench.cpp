// Dialer benchmarks (issue 3): what a dial costs, how fast a stop request ends one, and how close
// the Happy Eyeballs fallback starts to its delay.
//
// - ringo_dial_close: net::dial + close to a loopback listener that the same io_context accepts
//   and closes, as fast as it goes. Go's side (bench/go/dialbench: net.Dial in a loop against its
//   own listener, GOMAXPROCS=1) is run beside it by bench/net.sh, which prints the ratio. Counters:
//   dials/s (wall clock) and cpu_ns_per_dial (the process's user+system CPU, as for Go).
// - ringo_dial_stop: a dial hangs on a blackhole (a listener with backlog 0 whose queue is full:
//   the kernel drops the SYNs); 1 ms later the stop_source of its token is asked to stop, and the
//   time until the dial returns operation_canceled is one sample. Arg 1: one address (dial_serial);
//   arg 2: a name with a blackhole in each family and both racers in flight (dial_parallel).
//   Goal: p99 < 1 ms.
// - ringo_fallback_delay: a name whose IPv6 address is a blackhole and whose IPv4 address accepts,
//   fallback_delay 10 ms; one sample is |elapsed − fallback_delay|, for the dial as the caller sees
//   it (counters return_*) and for the fallback's connect start alone (counters timer_*).
//   Goal: p99 < 2 ms. Between the dials, a plain clock_nanosleep of the same length gives the
//   floor (counters floor_*): the kernel's and the scheduler's share, under the same load.
// The latency benchmarks report their mean as the Time column (manual time) and percentiles as
// counters, in microseconds. Everything runs on one thread; pin it for steadier numbers:
//   taskset -c 1 build-rel/bench/net_bench
#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <poll.h>
#include <stop_token>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <vector>

#include <benchmark/benchmark.h>

#include <ringo/net.hpp>

namespace {

using namespace std::chrono_literals;
namespace net = ringo::net;
using ringo::task;
using ringo::time_point;

// This process's user+system CPU time in nanoseconds (every thread, as Go's figure counts).
double process_cpu_ns() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto ns = [](const timeval& tv) { return tv.tv_sec * 1e9 + tv.tv_usec * 1e3; };
  return ns(ru.ru_utime) + ns(ru.ru_stime);
}

double micros(ringo::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

// p50, p99 and the maximum of `samples` (microseconds) as counters named PREFIX_p50_us, ...
void report_percentiles(benchmark::State& state, const std::string& prefix,
                        std::vector<double> samples) {
  if (samples.empty()) return;
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) {
    auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(samples.size())));
    return samples[std::clamp<std::size_t>(rank, 1, samples.size()) - 1];
  };
  state.counters[prefix + "_p50_us"] = at(0.50);
  state.counters[prefix + "_p99_us"] = at(0.99);
  state.counters[prefix + "_max_us"] = samples.back();
}

// A blackhole at `where`: a listener with backlog 0 and one connection nobody accepts, so that
// further SYNs are dropped and a connect hangs until it is stopped. nullopt when the port is taken
// or the kernel answers anyway (probed with a non-blocking connect).
struct blackhole {
  ringo::unique_fd listener;
  ringo::unique_fd filler;
};

std::optional<blackhole> make_blackhole(ringo::socket_address where) {
  auto fd = ringo::listen_stream(where, {.backlog = 0});
  if (!fd) return std::nullopt;
  where = ringo::local_address(fd->get()).value();
  auto filler = ringo::open_socket(where.family(), SOCK_STREAM);
  if (!filler || ::connect(filler->get(), where.data(), where.size()) != 0) return std::nullopt;
  auto probe = ringo::open_socket(where.family(), SOCK_STREAM | SOCK_NONBLOCK);
  if (!probe || ::connect(probe->get(), where.data(), where.size()) == 0 || errno != EINPROGRESS)
    return std::nullopt;
  pollfd pfd{probe->get(), POLLOUT, 0};
  if (::poll(&pfd, 1, 20) != 0) return std::nullopt;
  return blackhole{std::move(*fd), std::move(*filler)};
}

ringo::socket_address loopback(const char* host, std::uint16_t port = 0) {
  return ringo::socket_address::numeric(host, port).value();
}

// The server side: accepts and closes until stopped.
task<void> accept_and_close(net::listener* l, std::stop_token stop) {
  while (!stop.stop_requested()) {
    auto c = co_await l->accept(stop);  // a conn closes as it goes out of scope
  }
}

// --- dial + close ----------------------------------------------------------------------------

task<void> dial_close_rounds(benchmark::State* state) {
  auto l = net::listen("tcp", "127.0.0.1:0");
  if (!l) {
    state->SkipWithError(l.error().message().c_str());
    co_return;
  }
  ringo::scope server;
  server.spawn(accept_and_close(&*l, server.get_token()));
  std::string where = l->addr().to_string();
  net::dialer d;
  double cpu_start = process_cpu_ns();
  for (auto _ : *state) {
    auto c = co_await d.dial("tcp", where);
    if (!c) {
      state->SkipWithError(c.error().message().c_str());
      break;
    }
    c->close();
  }
  double cpu = process_cpu_ns() - cpu_start;
  state->SetItemsProcessed(state->iterations());
  state->counters["cpu_ns_per_dial"] =
      cpu / static_cast<double>(std::max<benchmark::IterationCount>(state->iterations(), 1));
  server.request_stop();
  co_await server.join();
}

void ringo_dial_close(benchmark::State& state) {
  ringo::run(dial_close_rounds(&state));
}
BENCHMARK(ringo_dial_close)->UseRealTime();

// --- stop request → dial returns ---------------------------------------------------------------

struct dial_outcome {
  time_point returned;
  bool canceled = false;
};

task<void> dial_until_stopped(const net::dialer* d, std::string where, std::stop_token stop,
                              dial_outcome* out) {
  auto c = co_await d->dial("tcp", std::move(where), std::move(stop));
  out->returned = ringo::clock::now();
  out->canceled = !c && c.error().canceled();
}

task<void> dial_stop_rounds(benchmark::State* state, const net::dialer* d, std::string where) {
  std::vector<double> samples;
  for (auto _ : *state) {
    std::stop_source stop;
    dial_outcome out;
    ringo::scope s;
    s.spawn(dial_until_stopped(d, where, stop.get_token(), &out));
    (void)co_await ringo::sleep_for(1ms);  // the connects are in the kernel by now
    time_point requested = ringo::clock::now();
    stop.request_stop();
    co_await s.join();
    if (!out.canceled) {
      state->SkipWithError("the dial did not end with operation_canceled");
      break;
    }
    state->SetIterationTime(std::chrono::duration<double>(out.returned - requested).count());
    samples.push_back(micros(out.returned - requested));
  }
  report_percentiles(*state, "stop_to_return", std::move(samples));
}

void ringo_dial_stop(benchmark::State& state) {
  bool parallel = state.range(0) == 2;
  auto v4 = make_blackhole(loopback("127.0.0.1"));
  if (!v4) return state.SkipWithError("no blackhole on 127.0.0.1 (the kernel answers)");
  std::uint16_t port = ringo::local_address(v4->listener.get()).value().port();
  std::optional<blackhole> v6;
  net::static_resolver names;
  net::dialer d;
  d.name_resolver = &names;
  std::string where = "127.0.0.1:" + std::to_string(port);
  if (parallel) {
    v6 = make_blackhole(loopback("::1", port));
    if (!v6) return state.SkipWithError("no blackhole on [::1] at the IPv4 blackhole's port");
    names.add("dual.bench", {.ipv4 = {loopback("127.0.0.1")}, .ipv6 = {loopback("::1")}});
    d.fallback_delay = 100us;  // both racers are connecting when the stop comes
    where = "dual.bench:" + std::to_string(port);
  }
  ringo::run(dial_stop_rounds(&state, &d, where));
}
BENCHMARK(ringo_dial_stop)
    ->Arg(1)
    ->Arg(2)
    ->UseManualTime()
    ->Iterations(2000)
    ->Unit(benchmark::kMicrosecond);

// --- fallback timer accuracy -------------------------------------------------------------------

// How far from `delay` a plain clock_nanosleep of that length wakes up: the floor for the fallback
// figures (the kernel's timer and the scheduler's wake-up latency, which on a busy machine is most
// of the tail). Taken between the dials, so that both see the same load.
ringo::duration nanosleep_error(ringo::duration delay) {
  time_point start = ringo::clock::now();
  auto until = std::chrono::time_point_cast<std::chrono::nanoseconds>(start + delay);
  timespec ts{};
  ts.tv_sec = until.time_since_epoch().count() / 1'000'000'000;
  ts.tv_nsec = until.time_since_epoch().count() % 1'000'000'000;
  while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
  return std::chrono::abs(ringo::clock::now() - start - delay);
}

task<void> fallback_rounds(benchmark::State* state, net::dialer* d, std::string where,
                           net::listener* live) {
  ringo::scope server;
  server.spawn(accept_and_close(live, server.get_token()));
  std::vector<double> returns, timers, floor;
  time_point fallback_start{};
  net::dial_trace trace;
  trace.connect_start = [&](time_point t, const net::address& a) {
    if (a.is_ipv4()) fallback_start = t;
  };
  d->trace = &trace;
  for (auto _ : *state) {
    time_point start = ringo::clock::now();
    auto c = co_await d->dial("tcp", where);
    time_point returned = ringo::clock::now();
    if (!c || !c->remote_address() || !c->remote_address()->is_ipv4()) {
      state->SkipWithError("the dial did not connect to the IPv4 fallback");
      break;
    }
    auto off_by = [&](time_point t) { return std::chrono::abs(t - start - d->fallback_delay); };
    state->SetIterationTime(std::chrono::duration<double>(off_by(returned)).count());
    returns.push_back(micros(off_by(returned)));
    timers.push_back(micros(off_by(fallback_start)));
    floor.push_back(micros(nanosleep_error(d->fallback_delay)));
  }
  d->trace = nullptr;
  report_percentiles(*state, "return", std::move(returns));
  report_percentiles(*state, "timer", std::move(timers));
  report_percentiles(*state, "floor", std::move(floor));
  server.request_stop();
  co_await server.join();
}

void ringo_fallback_delay(benchmark::State& state) {
  auto v6 = make_blackhole(loopback("::1"));
  if (!v6) return state.SkipWithError("no blackhole on [::1] (no IPv6, or the kernel answers)");
  std::uint16_t port = ringo::local_address(v6->listener.get()).value().port();
  auto live = net::listen("tcp", "127.0.0.1:" + std::to_string(port));
  if (!live) return state.SkipWithError("the IPv6 blackhole's port is taken on 127.0.0.1");
  net::static_resolver names;
  names.add("dual.bench", {.ipv4 = {loopback("127.0.0.1")}, .ipv6 = {loopback("::1")}});
  net::dialer d;
  d.name_resolver = &names;
  d.fallback_delay = std::chrono::milliseconds(state.range(0));
  ringo::run(fallback_rounds(&state, &d, "dual.bench:" + std::to_string(port), &*live));
}
BENCHMARK(ringo_fallback_delay)
    ->Arg(10)
    ->UseManualTime()
    ->Iterations(1000)
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
