// Timers: sleep_for/sleep_until never return early, a stopped sleep returns at once, and the
// per-thread timer heap fires everything in deadline order (sleeps, operation deadlines and wait
// deadlines alike).
#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "ringo_test.hpp"

namespace ringo {
namespace {

using namespace std::chrono_literals;
using test::ms;

class Timer : public test::RingoTest {};
class TimerHeap : public test::RingoTest {};

TEST_F(Timer, SleepForReturnsAfterAtLeastTheDuration) {
  auto body = []() -> task<std::pair<result<void>, duration>> {
    auto start = clock::now();
    auto r = co_await sleep_for(50ms);
    co_return std::pair{r, clock::now() - start};
  };
  auto [r, took] = run(body());
  EXPECT_TRUE(r);
  EXPECT_GE(took, 50ms);
  EXPECT_LT(ms(took), 500);
}

TEST_F(Timer, SleepUntilReturnsAtTheTimePoint) {
  auto when = clock::now() + 20ms;
  auto body = [when]() -> task<result<void>> { co_return co_await sleep_until(when); };
  EXPECT_TRUE(run(body()));
  EXPECT_GE(clock::now(), when);
}

TEST_F(Timer, SleepUntilAPastTimeReturnsAtOnce) {
  auto start = clock::now();
  auto body = []() -> task<result<void>> { co_return co_await sleep_until(clock::now() - 1s); };
  EXPECT_TRUE(run(body()));
  EXPECT_LT(ms(clock::now() - start), 50);
}

TEST_F(Timer, ShortSleepsAreNotRoundedUp) {
  auto start = clock::now();
  auto body = []() -> task<void> {
    for (int i = 0; i < 100; ++i) (void)co_await sleep_for(1ms);
  };
  run(body());
  EXPECT_GE(clock::now() - start, 100ms);
  EXPECT_LT(ms(clock::now() - start), 1000);
}

// How long a 10 s sleep takes to return after a sibling coroutine requests stop.
task<double> stop_latency_same_thread() {
  std::stop_source src;
  time_point requested{};
  scope s;
  s.spawn([](std::stop_source* source, time_point* at) -> task<void> {
    (void)co_await sleep_for(10ms);
    *at = clock::now();
    source->request_stop();
  }(&src, &requested));
  auto r = co_await sleep_for(10s, src.get_token());
  auto returned = clock::now();
  co_await s.join();
  EXPECT_EQ(r.error(), errc::operation_canceled);
  co_return ms(returned - requested);
}

TEST_F(Timer, StoppingATenSecondSleepReturnsWithinFiveMilliseconds) {
  std::vector<double> latencies;
  for (int i = 0; i < 5; ++i) latencies.push_back(run(stop_latency_same_thread()));
  RecordProperty("median_stop_latency_us", static_cast<int>(test::median(latencies) * 1000));
  EXPECT_LT(test::median(latencies), 5.0) << "latencies: " << ::testing::PrintToString(latencies);
}

// The same with the stop requested from another thread: it travels through the eventfd.
TEST_F(Timer, StoppingATenSecondSleepFromAnotherThreadReturnsWithinFiveMilliseconds) {
  std::vector<double> latencies;
  for (int i = 0; i < 5; ++i) {
    std::stop_source src;
    std::atomic<bool> sleeping{false};
    std::atomic<time_point> requested{};
    std::thread stopper([&] {
      while (!sleeping.load()) std::this_thread::yield();
      std::this_thread::sleep_for(10ms);  // the loop is now blocked in io_uring_enter
      requested = clock::now();
      src.request_stop();
    });
    auto body = [&]() -> task<result<void>> {
      sleeping = true;
      co_return co_await sleep_for(10s, src.get_token());
    };
    auto r = run(body());
    auto returned = clock::now();
    stopper.join();
    EXPECT_EQ(r.error(), errc::operation_canceled);
    latencies.push_back(ms(returned - requested.load()));
  }
  RecordProperty("median_stop_latency_us", static_cast<int>(test::median(latencies) * 1000));
  EXPECT_LT(test::median(latencies), 5.0) << "latencies: " << ::testing::PrintToString(latencies);
}

// "Sleep until stopped": the longest duration must not overflow the deadline computation.
TEST_F(Timer, SleepForTheLongestDurationWaitsUntilStopped) {
  auto body = []() -> task<result<void>> {
    std::stop_source src;
    scope s;
    s.spawn(test::stop_after(&src, 5ms));
    auto r = co_await sleep_for(duration::max(), src.get_token());
    co_await s.join();
    co_return r;
  };
  auto start = clock::now();
  EXPECT_EQ(run(body()).error(), errc::operation_canceled);
  EXPECT_LT(ms(clock::now() - start), 1000);
}

// A stopped sleep leaves nothing in the heap: sleeping past its old deadline must not touch it.
TEST_F(Timer, AStoppedSleepNeverFiresLater) {
  auto body = []() -> task<void> {
    std::stop_source src;
    scope s;
    s.spawn(test::stop_after(&src, 5ms));
    auto r = co_await sleep_for(20ms, src.get_token());
    co_await s.join();
    EXPECT_EQ(r.error(), errc::operation_canceled);
    auto after = co_await sleep_for(40ms);
    EXPECT_TRUE(after);
  };
  run(body());
}

task<void> sleep_and_record(time_point when, int id, std::vector<int>* order,
                            std::vector<duration>* lateness) {
  (void)co_await sleep_until(when);
  lateness->push_back(clock::now() - when);
  order->push_back(id);
}

// Many sleepers, started in a shuffled order, wake in deadline order and never early.
TEST_F(Timer, ManyTimersFireInDeadlineOrder) {
  constexpr int n = 300;
  std::vector<int> order;
  std::vector<duration> lateness;
  auto body = [&]() -> task<void> {
    std::vector<int> ids(n);
    for (int i = 0; i < n; ++i) ids[i] = i;
    std::shuffle(ids.begin(), ids.end(), std::mt19937(3));
    auto base = clock::now() + 5ms;
    scope s;
    for (int id : ids) s.spawn(sleep_and_record(base + id * 100us, id, &order, &lateness));
    co_await s.join();
  };
  run(body());
  ASSERT_EQ(order.size(), std::size_t(n));
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  for (auto late : lateness) EXPECT_GE(late, duration::zero());
}

// Sleeps, operation deadlines and wait deadlines share one heap; they fire in one order.
TEST_F(Timer, SleepsAndDeadlinesShareOneOrder) {
  auto pair = test::make_tcp_pair();
  std::vector<int> order;
  auto body = [&]() -> task<void> {
    auto base = clock::now() + 5ms;
    event never;
    scope s;
    s.spawn([](int fd, time_point when, std::vector<int>* out) -> task<void> {
      char buf[4];
      auto r = co_await recv(fd, buf, {}, when);
      EXPECT_EQ(r.error(), errc::timed_out);
      out->push_back(3);
    }(pair.client.get(), base + 15ms, &order));
    s.spawn([](time_point when, std::vector<int>* out) -> task<void> {
      (void)co_await sleep_until(when);
      out->push_back(1);
    }(base + 5ms, &order));
    s.spawn([](event* e, time_point when, std::vector<int>* out) -> task<void> {
      auto r = co_await e->wait({}, when);
      EXPECT_EQ(r.error(), errc::timed_out);
      out->push_back(2);
    }(&never, base + 10ms, &order));
    s.spawn([](time_point when, std::vector<int>* out) -> task<void> {
      (void)co_await sleep_until(when);
      out->push_back(4);
    }(base + 20ms, &order));
    co_await s.join();
  };
  run(body());
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}));
}

// A coroutine that keeps yielding must not starve the timers.
TEST_F(Timer, TimersFireWhileOtherCoroutinesKeepTheLoopBusy) {
  auto body = []() -> task<duration> {
    bool done = false;
    scope s;
    s.spawn([](bool* stop) -> task<void> {
      while (!*stop) co_await yield();
    }(&done));
    auto start = clock::now();
    (void)co_await sleep_for(20ms);
    auto took = clock::now() - start;
    done = true;
    co_await s.join();
    co_return took;
  };
  auto took = run(body());
  EXPECT_GE(took, 20ms);
  EXPECT_LT(ms(took), 500);
}

// --- The heap itself -----------------------------------------------------------------------

struct test_timer final : detail::timer_node {
  int id = 0;
  std::vector<int>* fired = nullptr;
  void on_timer() noexcept override { fired->push_back(id); }
};

// Random arms, re-arms and disarms against a simple model: what fires, and in which order.
TEST_F(TimerHeap, MatchesAModelUnderRandomArmsAndDisarms) {
  constexpr int n = 200;
  std::vector<test_timer> timers(n);
  std::vector<int> fired;
  for (int i = 0; i < n; ++i) {
    timers[i].id = i;
    timers[i].fired = &fired;
  }
  std::map<int, time_point> model;  // armed timer -> deadline
  detail::timer_heap heap;
  std::mt19937 rng(5);
  time_point t0{};
  for (int step = 0; step < 20'000; ++step) {
    int i = static_cast<int>(rng() % n);
    if (rng() % 3 == 0) {
      heap.disarm(timers[i]);
      model.erase(i);
    } else {
      // Distinct deadlines, so that the firing order is fully determined.
      auto when = t0 + std::chrono::microseconds(step * n + i);
      heap.arm(timers[i], when);
      model[i] = when;
    }
    ASSERT_EQ(timers[i].armed(), model.count(i) == 1);
    ASSERT_EQ(heap.empty(), model.empty());
    if (!model.empty()) {
      auto earliest = std::min_element(model.begin(), model.end(), [](auto& a, auto& b) {
                        return a.second < b.second;
                      })->second;
      ASSERT_EQ(heap.earliest(), earliest);
    }
  }
  std::vector<std::pair<time_point, int>> expected;
  for (auto& [id, when] : model) expected.emplace_back(when, id);
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(heap.fire_expired(time_point::max() - 1s), expected.size());
  ASSERT_EQ(fired.size(), expected.size());
  for (std::size_t k = 0; k < fired.size(); ++k) EXPECT_EQ(fired[k], expected[k].second);
  EXPECT_TRUE(heap.empty());
  for (auto& t : timers) EXPECT_FALSE(t.armed());
}

TEST_F(TimerHeap, FiresOnlyWhatIsDue) {
  std::vector<int> fired;
  std::vector<test_timer> timers(3);
  for (int i = 0; i < 3; ++i) {
    timers[i].id = i;
    timers[i].fired = &fired;
  }
  detail::timer_heap heap;
  time_point t0{};
  heap.arm(timers[0], t0 + 30ms);
  heap.arm(timers[1], t0 + 10ms);
  heap.arm(timers[2], t0 + 20ms);
  EXPECT_EQ(heap.fire_expired(t0 + 20ms), 2u);  // a deadline equal to now is due
  EXPECT_EQ(fired, (std::vector<int>{1, 2}));
  EXPECT_EQ(heap.earliest(), t0 + 30ms);
  EXPECT_EQ(heap.fire_expired(t0 + 25ms), 0u);
  EXPECT_TRUE(timers[0].armed());
}

}  // namespace
}  // namespace ringo
