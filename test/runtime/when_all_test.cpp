// when_all / when_any: values in argument order; when_any stops the losers, awaits them, and
// returns what they produced if they finished too.
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ringo_test.hpp"

namespace ringo {
namespace {

using namespace std::chrono_literals;
using test::ms;

class WhenAll : public test::RingoTest {};
class WhenAny : public test::RingoTest {};

task<int> value_after(duration d, int v) {
  (void)co_await sleep_for(d);
  co_return v;
}
task<std::string> text_after(duration d, std::string v) {
  (void)co_await sleep_for(d);
  co_return v;
}
task<void> nothing_after(duration d) {
  (void)co_await sleep_for(d);
}

TEST_F(WhenAll, ReturnsValuesInArgumentOrder) {
  // Finishing order 3, 2, 1: the result still follows the arguments.
  auto body = []() -> task<std::tuple<int, std::string, int>> {
    co_return co_await when_all(value_after(30ms, 1), text_after(15ms, "two"), value_after(1ms, 3));
  };
  EXPECT_EQ(run(body()), std::make_tuple(1, std::string("two"), 3));
}

TEST_F(WhenAll, RunsTheTasksConcurrently) {
  auto start = clock::now();
  auto body = []() -> task<void> {
    co_await when_all(nothing_after(50ms), nothing_after(50ms), nothing_after(50ms));
  };
  run(body());
  EXPECT_LT(ms(clock::now() - start), 140);
}

TEST_F(WhenAll, VoidTasksGiveMonostate) {
  auto body = []() -> task<std::tuple<std::monostate, int>> {
    co_return co_await when_all(nothing_after(1ms), value_after(2ms, 5));
  };
  EXPECT_EQ(std::get<1>(run(body())), 5);
}

TEST_F(WhenAll, VectorOfTasksReturnsValuesInOrder) {
  auto body = []() -> task<std::vector<int>> {
    std::vector<task<int>> tasks;
    for (int i = 0; i < 20; ++i) tasks.push_back(value_after(std::chrono::milliseconds(20 - i), i));
    co_return co_await when_all(std::move(tasks));
  };
  std::vector<int> expected(20);
  for (int i = 0; i < 20; ++i) expected[i] = i;
  EXPECT_EQ(run(body()), expected);
}

TEST_F(WhenAll, EmptyVectorGivesAnEmptyResult) {
  auto body = []() -> task<std::vector<int>> {
    co_return co_await when_all(std::vector<task<int>>{});
  };
  EXPECT_TRUE(run(body()).empty());
}

task<int> fail_after(duration d) {
  (void)co_await sleep_for(d);
  throw std::runtime_error("failed");
  co_return 0;
}
task<int> set_after(duration d, bool* flag) {
  (void)co_await sleep_for(d);
  *flag = true;
  co_return 1;
}

TEST_F(WhenAll, RethrowsOnlyAfterEveryTaskFinished) {
  bool sibling_done = false;
  auto body = [&]() -> task<void> {
    EXPECT_THROW(co_await when_all(fail_after(1ms), set_after(30ms, &sibling_done)),
                 std::runtime_error);
    EXPECT_TRUE(sibling_done);
  };
  run(body());
}

// --- when_any ------------------------------------------------------------------------------

// A racer that sleeps `d` (or until stopped), then records what happened to it.
struct racer_log {
  std::vector<std::string> events;
};
task<int> racer(std::stop_token stop, duration d, int v, racer_log* log) {
  auto r = co_await sleep_for(d, std::move(stop));
  if (!r) {
    // Clean-up after the stop takes a while: when_any must still wait for it.
    (void)co_await sleep_for(10ms);
    log->events.push_back("loser " + std::to_string(v) + " cleaned up");
    co_return -v;
  }
  log->events.push_back("racer " + std::to_string(v) + " finished");
  co_return v;
}

TEST_F(WhenAny, FirstFinisherWinsAndTheLosersAreStoppedAndAwaited) {
  racer_log log;
  auto body = [&]() -> task<when_any_result<int, int, int>> {
    auto l = &log;
    co_return co_await when_any(
        std::stop_token{}, [l](std::stop_token s) { return racer(std::move(s), 10s, 1, l); },
        [l](std::stop_token s) { return racer(std::move(s), 5ms, 2, l); },
        [l](std::stop_token s) { return racer(std::move(s), 10s, 3, l); });
  };
  auto start = clock::now();
  auto r = run(body());
  EXPECT_LT(ms(clock::now() - start), 1000);  // the 10 s racers were stopped
  EXPECT_EQ(r.index, 1u);
  EXPECT_EQ(std::get<1>(r.values), 2);
  // The losers' side effects after the stop happened before when_any returned.
  ASSERT_EQ(log.events.size(), 3u);
  EXPECT_EQ(log.events[0], "racer 2 finished");
  EXPECT_THAT(std::vector(log.events.begin() + 1, log.events.end()),
              ::testing::UnorderedElementsAre("loser 1 cleaned up", "loser 3 cleaned up"));
  // A loser that produced a value after being stopped reports it too.
  EXPECT_EQ(std::get<0>(r.values), -1);
  EXPECT_EQ(std::get<2>(r.values), -3);
}

task<std::unique_ptr<int>> immediately(std::stop_token, int v) {
  co_await yield();
  co_return std::make_unique<int>(v);
}

// Both finish in the same turn: the first is the winner, and the other's value (a resource the
// caller now owns, like a second connection in Happy Eyeballs) is returned, not dropped.
TEST_F(WhenAny, ReturnsTheLosersValueWhenItFinishedToo) {
  auto body = []() -> task<when_any_result<std::unique_ptr<int>, std::unique_ptr<int>>> {
    co_return co_await when_any(
        std::stop_token{}, [](std::stop_token s) { return immediately(std::move(s), 1); },
        [](std::stop_token s) { return immediately(std::move(s), 2); });
  };
  auto r = run(body());
  EXPECT_EQ(r.index, 0u);
  ASSERT_TRUE(std::get<0>(r.values) && *std::get<0>(r.values));
  ASSERT_TRUE(std::get<1>(r.values) && *std::get<1>(r.values));
  EXPECT_EQ(**std::get<0>(r.values), 1);
  EXPECT_EQ(**std::get<1>(r.values), 2);
}

TEST_F(WhenAny, TheCallersStopStopsEveryRacer) {
  racer_log log;
  std::stop_source outer;
  auto body = [&]() -> task<when_any_result<int, int>> {
    auto l = &log;
    scope s;
    s.spawn(test::stop_after(&outer, 10ms));
    auto r = co_await when_any(
        outer.get_token(), [l](std::stop_token st) { return racer(std::move(st), 10s, 1, l); },
        [l](std::stop_token st) { return racer(std::move(st), 10s, 2, l); });
    co_await s.join();
    co_return r;
  };
  auto start = clock::now();
  auto r = run(body());
  EXPECT_LT(ms(clock::now() - start), 1000);
  EXPECT_EQ(log.events.size(), 2u);
  // Both were stopped; the first to finish its clean-up counts as the winner.
  EXPECT_LT(r.index, 2u);
  EXPECT_EQ(std::get<0>(r.values), -1);
  EXPECT_EQ(std::get<1>(r.values), -2);
}

task<int> throws_soon(std::stop_token) {
  (void)co_await sleep_for(1ms);
  throw std::runtime_error("racer failed");
  co_return 0;
}

TEST_F(WhenAny, ARacersExceptionComesOutAfterTheOthersFinished) {
  racer_log log;
  auto body = [&]() -> task<void> {
    auto l = &log;
    EXPECT_THROW(co_await when_any(
                     std::stop_token{}, [](std::stop_token s) { return throws_soon(std::move(s)); },
                     [l](std::stop_token s) { return racer(std::move(s), 10s, 2, l); }),
                 std::runtime_error);
    EXPECT_EQ(log.events, std::vector<std::string>{"loser 2 cleaned up"});
  };
  run(body());
}

}  // namespace
}  // namespace ringo
