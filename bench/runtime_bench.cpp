// Runtime micro-benchmarks: what the io_context, task and cancellation machinery cost on top of
// the kernel.
//
// The headline is an awaited IORING_OP_NOP through task + io_context against a raw liburing loop
// doing the same NOPs on a ring with the same setup flags and sizes, in the same binary: the ringo
// benchmarks report that ratio as the counter `vs_raw` (goal: at most 1.3). The other benchmarks
// price the pieces separately: a co_await of a task that completes at once, a yield() round trip
// through the ready queue, arming and disarming a timer, and stopping an operation that is
// suspended (a sleep, and a recv in flight in the kernel). The ping-pong benchmarks compare
// receiving with one recv SQE per message against a multishot recv fed by a provided-buffer ring
// (multishot_receiver), each beside a raw loop doing the same; the *_unregistered_fd pair prices
// io_uring_register_ring_fd (both sides without it).
//
// Every ringo benchmark body runs inside ringo::run, so the io_context is created before the timed
// loop starts. Run pinned to one core for steadier numbers:
//   taskset -c 1 build-rel/bench/runtime_bench
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <stop_token>
#include <string>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <vector>

#include <benchmark/benchmark.h>
#include <liburing.h>

#include <ringo/runtime.hpp>

#include "pingpong.hpp"

namespace {

using namespace std::chrono_literals;
using ringo::task;

// --- Measuring the ringo/raw ratio ------------------------------------------------------------

// CPU nanoseconds per iteration of a benchmark's timed loop (this thread's CPU time, as the CPU
// column reports: on a busy 2-core machine wall time also counts other processes' turns). NOPs,
// recv arming and cancellation all run in this thread's io_uring_enter, so its CPU time covers
// the kernel's side too. Taken the same way for a raw loop and its ringo counterpart so that the
// two can be divided. The raw benchmark runs first (it is registered first) and leaves its figure
// here under a shared key; the library reruns a body with growing iteration counts, and the last
// run, the reported one, overwrites the earlier ones.
std::map<std::string, double> raw_ns_per_op;

class stopwatch {
 public:
  double ns_per(std::int64_t iterations) const {
    return static_cast<double>(thread_cpu_ns() - start_) /
           static_cast<double>(iterations > 0 ? iterations : 1);
  }

 private:
  static std::int64_t thread_cpu_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
  }
  std::int64_t start_ = thread_cpu_ns();
};

void record_raw(benchmark::State& state, const std::string& key, const stopwatch& watch) {
  raw_ns_per_op[key] = watch.ns_per(state.iterations());
  state.SetItemsProcessed(state.iterations());
}

void report_ratio(benchmark::State& state, const std::string& key, const stopwatch& watch) {
  state.SetItemsProcessed(state.iterations());
  auto raw = raw_ns_per_op.find(key);
  if (raw != raw_ns_per_op.end() && raw->second > 0)
    state.counters["vs_raw"] = watch.ns_per(state.iterations()) / raw->second;
}

// --- The raw liburing floor ----------------------------------------------------------------

// A plain ring set up exactly as ringo's io_context sets up its own: the flags it was granted
// (SINGLE_ISSUER | DEFER_TASKRUN | COOP_TASKRUN | SUBMIT_ALL on a recent kernel), the same SQ and
// CQ sizes, and its ring fd registered when ringo's is, so the ratio measures ringo and not a
// difference in ring configuration.
class raw_ring {
 public:
  explicit raw_ring(bool register_ring_fd = true) {
    ringo::io_context_options options;
    options.register_ring_fd = register_ring_fd;
    bool registered;
    {
      ringo::io_context probe(options);
      flags_ = probe.setup_flags();
      registered = probe.ring_fd_registered();
    }
    io_uring_params params{};
    params.flags = flags_ | IORING_SETUP_CQSIZE;
    params.cq_entries = options.cq_entries ? options.cq_entries : 16 * options.sq_entries;
    error_ = io_uring_queue_init_params(options.sq_entries, &ring_, &params);
    if (error_ == 0 && registered) io_uring_register_ring_fd(&ring_);
  }
  ~raw_ring() {
    if (error_ == 0) io_uring_queue_exit(&ring_);
  }
  raw_ring(const raw_ring&) = delete;
  raw_ring& operator=(const raw_ring&) = delete;

  bool ok(benchmark::State& state) const {
    if (error_ != 0) state.SkipWithError("io_uring_queue_init_params failed");
    return error_ == 0;
  }
  io_uring* get() noexcept { return &ring_; }
  unsigned flags() const noexcept { return flags_; }

  // Waits for at least one CQE and consumes every CQE available; returns how many.
  unsigned reap_all() {
    io_uring_submit_and_wait(&ring_, 1);
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe)++ seen;
    io_uring_cq_advance(&ring_, seen);
    return seen;
  }

 private:
  io_uring ring_{};
  unsigned flags_ = 0;
  int error_ = 0;
};

std::string flags_label(unsigned flags) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "setup_flags=0x%x", flags);
  return buf;
}

void prep_nop(io_uring* ring) {
  io_uring_sqe* sqe = io_uring_get_sqe(ring);
  io_uring_prep_nop(sqe);
  io_uring_sqe_set_data64(sqe, 1);
}

// --- NOP round trips: one at a time ---------------------------------------------------------

void raw_nop_loop(benchmark::State& state, raw_ring& ring, const std::string& key) {
  if (!ring.ok(state)) return;
  stopwatch watch;
  for (auto _ : state) {
    prep_nop(ring.get());
    io_uring_submit_and_wait(ring.get(), 1);
    io_uring_cqe* cqe = nullptr;
    if (io_uring_peek_cqe(ring.get(), &cqe) != 0 || cqe->res != 0) {
      state.SkipWithError("nop failed");
      break;
    }
    io_uring_cqe_seen(ring.get(), cqe);
  }
  record_raw(state, key, watch);
  state.SetLabel(flags_label(ring.flags()));
}
void raw_nop(benchmark::State& state) {
  raw_ring ring;
  raw_nop_loop(state, ring, "nop");
}
BENCHMARK(raw_nop);

task<void> await_nops(benchmark::State* state, std::string key = "nop") {
  stopwatch watch;
  for (auto _ : *state) {
    auto r = co_await ringo::nop();
    if (!r) {
      state->SkipWithError("nop failed");
      break;
    }
  }
  report_ratio(*state, key, watch);
  state->SetLabel(flags_label(ringo::io_context::current()->setup_flags()));
}
void ringo_nop(benchmark::State& state) {
  ringo::run(await_nops(&state));
}
BENCHMARK(ringo_nop);

// The same NOP loops without io_uring_register_ring_fd: each io_uring_enter then names the ring
// by its descriptor, and the kernel looks it up (fdget/fdput) every time. Compare with raw_nop and
// ringo_nop, which register it.
void raw_nop_unregistered_fd(benchmark::State& state) {
  raw_ring ring(false);
  raw_nop_loop(state, ring, "nop_unregistered_fd");
}
BENCHMARK(raw_nop_unregistered_fd);

void ringo_nop_unregistered_fd(benchmark::State& state) {
  ringo::io_context ctx({.register_ring_fd = false});
  ctx.run(await_nops(&state, "nop_unregistered_fd"));
}
BENCHMARK(ringo_nop_unregistered_fd);

// --- NOP round trips: `depth` in flight at once -------------------------------------------

// Both sides run in chunks of kChunk operations and drain at the end of each chunk, so that their
// work is the same shape: ringo spawns `depth` coroutines per chunk, each awaiting NOPs in a loop.
constexpr std::int64_t kChunk = 8192;

void raw_nop_batch(benchmark::State& state) {
  const auto depth = static_cast<std::int64_t>(state.range(0));
  raw_ring ring;
  if (!ring.ok(state)) return;
  stopwatch watch;
  while (state.KeepRunningBatch(kChunk)) {
    std::int64_t queued = 0;
    std::int64_t done = 0;
    for (; queued < depth; ++queued) prep_nop(ring.get());
    while (done < kChunk) {
      unsigned seen = ring.reap_all();
      done += seen;
      for (unsigned i = 0; i < seen && queued < kChunk; ++i, ++queued) prep_nop(ring.get());
    }
  }
  record_raw(state, "nop_batch/" + std::to_string(depth), watch);
}
BENCHMARK(raw_nop_batch)->Arg(32);

task<void> nop_worker(std::int64_t count, bool* failed) {
  for (std::int64_t i = 0; i < count; ++i) {
    if (!co_await ringo::nop()) *failed = true;
  }
}

task<void> await_nop_batches(benchmark::State* state) {
  const auto depth = static_cast<std::int64_t>(state->range(0));
  bool failed = false;
  stopwatch watch;
  while (state->KeepRunningBatch(kChunk)) {
    ringo::scope workers;
    for (std::int64_t i = 0; i < depth; ++i) workers.spawn(nop_worker(kChunk / depth, &failed));
    co_await workers.join();
  }
  if (failed) state->SkipWithError("nop failed");
  report_ratio(*state, "nop_batch/" + std::to_string(depth), watch);
}
void ringo_nop_batch(benchmark::State& state) {
  ringo::run(await_nop_batches(&state));
}
BENCHMARK(ringo_nop_batch)->Arg(32);

// --- Coroutine suspend and resume -------------------------------------------------------------

task<int> ready_value(int v) {
  co_return v;
}

// co_await of a task that completes without suspending: a frame allocation, the inline start that
// keeps GCC 12 from growing the stack, and the frame's destruction.
task<void> await_ready_tasks(benchmark::State* state) {
  int sum = 0;
  for (auto _ : *state) sum += co_await ready_value(1);
  benchmark::DoNotOptimize(sum);
}
void task_await_ready(benchmark::State& state) {
  ringo::run(await_ready_tasks(&state));
}
BENCHMARK(task_await_ready);

// yield(): suspend, queue on the ready queue, one turn of the loop (no I/O waiting), resume.
task<void> yield_loop(benchmark::State* state) {
  for (auto _ : *state) co_await ringo::yield();
}
void yield_round_trip(benchmark::State& state) {
  ringo::run(yield_loop(&state));
}
BENCHMARK(yield_round_trip);

// --- Timers and cancellation ---------------------------------------------------------------

struct null_timer final : ringo::detail::timer_node {
  void on_timer() noexcept override {}
};

// The timer heap alone: arm one timer and disarm it, with range(0) other timers armed.
void timer_heap_arm_disarm(benchmark::State& state) {
  ringo::detail::timer_heap heap;
  std::vector<null_timer> others(static_cast<std::size_t>(state.range(0)));
  auto now = ringo::clock::now();
  for (std::size_t i = 0; i < others.size(); ++i)
    heap.arm(others[i], now + std::chrono::seconds(static_cast<long>(i % 7200)));
  null_timer timer;
  for (auto _ : state) {
    heap.arm(timer, now + 1h);
    heap.disarm(timer);
  }
}
BENCHMARK(timer_heap_arm_disarm)->Arg(0)->Arg(1024);

// Two coroutines take turns. The waiter suspends on an operation with a fresh stop token; the
// stopper requests stop on it, then yields until the waiter has resumed and suspended again. One
// iteration is one full round trip: arm, stop, resume, re-arm.
struct turn {
  std::stop_source* source =
      nullptr;  // the waiter's current source; it lives in the waiter's frame
  std::uint64_t round = 0;
  bool done = false;
  bool failed = false;
};

task<void> stop_each_round(benchmark::State* state, turn* t) {
  for (auto _ : *state) {
    std::uint64_t round = t->round;
    t->source->request_stop();
    while (t->round == round) co_await ringo::yield();
  }
  t->done = true;
  t->source->request_stop();
}

task<void> sleep_until_stopped(turn* t) {
  while (!t->done) {
    std::stop_source source;
    t->source = &source;
    ++t->round;
    auto r = co_await ringo::sleep_for(1h, source.get_token());
    if (r.error() != ringo::errc::operation_canceled) t->failed = true;
  }
}

// sleep_for(1h) armed on the timer heap, stopped from the same thread (the stop callback disarms
// it and schedules the sleeper), resumed with operation_canceled.
task<void> sleep_stop_rounds(benchmark::State* state) {
  turn t;
  ringo::scope s;
  s.spawn(sleep_until_stopped(&t));
  s.spawn(stop_each_round(state, &t));
  co_await s.join();
  if (t.failed) state->SkipWithError("sleep did not end with operation_canceled");
}
void sleep_stop(benchmark::State& state) {
  ringo::run(sleep_stop_rounds(&state));
}
BENCHMARK(sleep_stop);

struct socket_pair {
  int fds[2] = {-1, -1};
  socket_pair() { ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds); }
  ~socket_pair() {
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
  }
  bool ok(benchmark::State& state) const {
    if (fds[0] < 0) state.SkipWithError("socketpair failed");
    return fds[0] >= 0;
  }
};

// The floor for a stopped recv: a recv on an idle socket submitted, then IORING_OP_ASYNC_CANCEL
// for it in a second io_uring_enter that waits for both CQEs.
void raw_recv_cancel(benchmark::State& state) {
  raw_ring ring;
  socket_pair pair;
  if (!ring.ok(state) || !pair.ok(state)) return;
  char buf[64];
  stopwatch watch;
  for (auto _ : state) {
    io_uring_sqe* sqe = io_uring_get_sqe(ring.get());
    io_uring_prep_recv(sqe, pair.fds[0], buf, sizeof buf, 0);
    io_uring_sqe_set_data64(sqe, 1);
    io_uring_submit(ring.get());
    sqe = io_uring_get_sqe(ring.get());
    io_uring_prep_cancel64(sqe, 1, 0);
    io_uring_sqe_set_data64(sqe, 2);
    for (unsigned seen = 0; seen < 2;) seen += ring.reap_all();
  }
  record_raw(state, "recv_cancel", watch);
}
BENCHMARK(raw_recv_cancel);

task<void> recv_until_stopped(int fd, turn* t) {
  char buf[64];
  while (!t->done) {
    std::stop_source source;
    t->source = &source;
    ++t->round;
    auto r = co_await ringo::recv(fd, buf, source.get_token());
    if (r.error() != ringo::errc::operation_canceled) t->failed = true;
  }
}

// recv on an idle socket, in flight in the kernel; stop sends IORING_OP_ASYNC_CANCEL and the recv
// resumes on its own -ECANCELED CQE with operation_canceled.
task<void> recv_stop_rounds(benchmark::State* state, int fd) {
  turn t;
  stopwatch watch;
  ringo::scope s;
  s.spawn(recv_until_stopped(fd, &t));
  s.spawn(stop_each_round(state, &t));
  co_await s.join();
  if (t.failed) state->SkipWithError("recv did not end with operation_canceled");
  report_ratio(*state, "recv_cancel", watch);
}
void recv_stop(benchmark::State& state) {
  socket_pair pair;
  if (!pair.ok(state)) return;
  ringo::run(recv_stop_rounds(&state, pair.fds[0]));
}
BENCHMARK(recv_stop);

// --- Ping-pong: receiving per message, recv SQE vs multishot ----------------------------------

// One iteration is a round: two 64-byte messages over a socketpair, both ends on this thread's
// ring (bench/pingpong.hpp). Items are messages.
void raw_pingpong_recv(benchmark::State& state) {
  raw_ring ring;
  pingpong::socket_pair pair;
  if (!ring.ok(state) || !pair.ok()) return;
  stopwatch watch;
  if (!pingpong::raw_recv_rounds(ring.get(), pair.fds, [&] { return state.KeepRunning(); }))
    state.SkipWithError("ping-pong failed");
  record_raw(state, "pingpong_recv", watch);
  state.SetItemsProcessed(2 * state.iterations());
}
BENCHMARK(raw_pingpong_recv);

task<void> ringo_pingpong(benchmark::State* state, bool multishot) {
  pingpong::socket_pair pair;
  stopwatch watch;
  auto more = [state] { return state->KeepRunning(); };
  bool ok;  // no co_await inside ?: (GCC 12)
  if (multishot)
    ok = co_await pingpong::ringo_multishot_rounds(pair.fds[0], pair.fds[1], more);
  else
    ok = co_await pingpong::ringo_recv_rounds(pair.fds[0], pair.fds[1], more);
  if (!ok) state->SkipWithError("ping-pong failed");
  report_ratio(*state, multishot ? "pingpong_multishot" : "pingpong_recv", watch);
  state->SetItemsProcessed(2 * state->iterations());
}
void ringo_pingpong_recv(benchmark::State& state) {
  ringo::run(ringo_pingpong(&state, false));
}
BENCHMARK(ringo_pingpong_recv);

void raw_pingpong_multishot(benchmark::State& state) {
  raw_ring ring;
  pingpong::socket_pair pair;
  if (!ring.ok(state) || !pair.ok()) return;
  stopwatch watch;
  if (!pingpong::raw_multishot_rounds(ring.get(), pair.fds, [&] { return state.KeepRunning(); }))
    state.SkipWithError("ping-pong failed");
  record_raw(state, "pingpong_multishot", watch);
  state.SetItemsProcessed(2 * state.iterations());
}
BENCHMARK(raw_pingpong_multishot);

void ringo_pingpong_multishot(benchmark::State& state) {
  ringo::run(ringo_pingpong(&state, true));
}
BENCHMARK(ringo_pingpong_multishot);

}  // namespace

BENCHMARK_MAIN();
