// Shared test support: the fd-leak fixture and loopback peers (listeners, blackholes, refused
// ports).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <ringo/runtime.hpp>

namespace ringo::test {

// Open descriptors of this process, as /proc/self/fd lists them.
inline std::size_t count_open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// Every test in ringo derives from this: a test that leaks a descriptor fails.
class RingoTest : public ::testing::Test {
 protected:
  void SetUp() override { fds_before_ = count_open_fds(); }
  void TearDown() override {
    EXPECT_EQ(count_open_fds(), fds_before_) << "the test leaked file descriptors";
  }

 private:
  std::size_t fds_before_ = 0;
};

// A listening TCP socket on 127.0.0.1 (or ::1) with a kernel-chosen port.
struct loopback_listener {
  unique_fd fd;
  socket_address address;

  static loopback_listener open(const char* host = "127.0.0.1", int backlog = 128) {
    auto addr = socket_address::numeric(host, 0).value();
    auto fd = listen_stream(addr, {.backlog = backlog}).value();
    auto local = local_address(fd.get()).value();
    return {std::move(fd), local};
  }
};

// A connected TCP pair over loopback: `client` connected to `server` (accepted).
struct tcp_pair {
  unique_fd client;
  unique_fd server;
};
tcp_pair make_tcp_pair(const char* host = "127.0.0.1");

// A connected AF_UNIX stream pair. A writer blocked on a full unix socket wakes as soon as the
// reader drains it; TCP with small buffers may wait for its persist timer instead.
struct unix_pair {
  unique_fd client;
  unique_fd server;
};
unix_pair make_unix_pair();

// A blackholed address: a listener with backlog 0 whose queue is already full, so a further
// connect hangs (SYNs are dropped) until cancelled. nullopt when the kernel does not behave so.
struct blackhole {
  loopback_listener listener;
  unique_fd filler;  // the connection that fills the accept queue
};
std::optional<blackhole> make_blackhole(const char* host = "127.0.0.1");

// A loopback port with nobody listening: connects are refused.
socket_address refused_address(const char* host = "127.0.0.1");

// A duration in milliseconds as a double, for readable timing assertions.
inline double ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// The value of `r`, or `fallback` when it holds an error: keeps an expectation on one line.
template <typename T, typename E, typename U>
T value_or(const result<T, E>& r, U&& fallback) {
  return r ? *r : static_cast<T>(std::forward<U>(fallback));
}

// The median of a few timings: one scheduling hiccup on a small CI machine must not fail a
// latency bound that holds every other time.
double median(std::vector<double> samples);

// A pipe (O_CLOEXEC, blocking).
struct pipe_fds {
  unique_fd read;
  unique_fd write;
};
pipe_fds make_pipe();

// Writes into `fd` without blocking until the kernel refuses more (a socket's send buffer or a
// pipe): an operation that writes to it next will wait. Returns the bytes written.
std::size_t fill_until_blocked(int fd);
// Reads whatever `fd` holds right now without blocking; returns the bytes read.
std::size_t drain_nonblocking(int fd);
// The same, keeping the bytes.
std::string take_available(int fd);
// Sets SO_LINGER {on, 0}: closing the socket resets the connection instead of leaving a TIME_WAIT
// entry behind, so loops of thousands of connections do not exhaust the ephemeral ports.
void set_reset_on_close(int fd);
// A non-blocking accept4 on `listen_fd`: the next queued connection, or an empty fd.
unique_fd accept_nonblocking(int listen_fd);

// Sleeps for `d` on the loop, then requests stop on `src`.
task<void> stop_after(std::stop_source* src, duration d);

// --- Stop racing completion -----------------------------------------------------------------
//
// A round awaits an operation made by `make_op(token)` while a sibling coroutine makes the
// operation completable (`make_ready`: data written, a connection made) and requests stop on the
// token. On one thread the outcome depends only on where the two actions land relative to the
// loop's submissions and reaps, so the rounds walk through those placements:
//   - turns_before: loop turns between queuing the op and the first action. 0: the op's SQE has
//     not been submitted yet; 1: it is in the kernel (its poll armed).
//   - turns_between: loop turns between the two actions. 0: both reach the kernel in the same
//     submission; 1 or 2: the first one has been submitted (and its completions reaped) before the
//     second happens, e.g. the cancel has already won, or the op's CQE is reaped but the op has not
//     resumed when the stop arrives.
//   - stop_first: the stop is requested before make_ready() rather than after.
// Whatever the placement, the op must return its real result or operation_canceled, and never lose
// what it did.
struct race_plan {
  int turns_before = 0;
  int turns_between = 0;
  bool stop_first = false;
  static race_plan for_round(int i) { return {i % 2, (i / 2) % 3, (i / 6) % 2 != 0}; }
};

template <typename MakeOp>
using op_result_t = decltype(std::declval<MakeOp&>()(std::stop_token{}).await_resume());

// The two sides of a round (used by race_stop_with_completion).
template <typename MakeOp, typename Result>
task<void> await_op_into(MakeOp make_op, std::stop_token stop, std::optional<Result>* out) {
  out->emplace(co_await make_op(std::move(stop)));
}

task<void> make_ready_and_stop(race_plan plan, std::function<void()> make_ready,
                               std::stop_source* src);

// One round: the op's result, whatever won.
template <typename MakeOp>
task<op_result_t<MakeOp>> race_stop_with_completion(MakeOp make_op,
                                                    std::function<void()> make_ready,
                                                    race_plan plan) {
  std::stop_source src;
  std::optional<op_result_t<MakeOp>> out;
  scope s;
  s.spawn(await_op_into(std::move(make_op), src.get_token(), &out));
  s.spawn(make_ready_and_stop(plan, std::move(make_ready), &src));
  co_await s.join();
  co_return std::move(*out);
}

}  // namespace ringo::test
