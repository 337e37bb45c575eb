// wait_for_signal: a signal read from a signalfd through the ring, cancellable by stop.
#include <csignal>
#include <pthread.h>

#include <gtest/gtest.h>

#include "ringo_test.hpp"

namespace ringo {
namespace {

using namespace std::chrono_literals;

class Signal : public test::RingoTest {};

TEST_F(Signal, WaitReturnsTheSignalThatArrived) {
  auto body = []() -> task<result<int>> {
    scope s;
    s.spawn([]() -> task<void> {
      (void)co_await sleep_for(5ms);
      // To this thread, where the signal is blocked and so waits for the signalfd.
      ::pthread_kill(::pthread_self(), SIGUSR1);
    }());
    // A separate statement: GCC 12 rejects a braced list inside a co_await expression ("array
    // used as initializer").
    auto waiting = wait_for_signal({SIGUSR2, SIGUSR1});
    auto r = co_await std::move(waiting);
    co_await s.join();
    co_return r;
  };
  auto r = run(body());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, SIGUSR1);
}

TEST_F(Signal, WaitIsCancellable) {
  auto body = []() -> task<result<int>> {
    std::stop_source src;
    scope s;
    s.spawn(test::stop_after(&src, 5ms));
    auto waiting = wait_for_signal({SIGUSR2}, src.get_token());
    auto r = co_await std::move(waiting);
    co_await s.join();
    co_return r;
  };
  EXPECT_EQ(run(body()).error(), errc::operation_canceled);
}

}  // namespace
}  // namespace ringo
