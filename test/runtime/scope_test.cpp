// scope: the nursery. Children run concurrently, join() waits for all of them, a stop (from the
// parent's token, the scope itself, or a failing child) reaches every child, the first exception
// comes out of join(), and a scope destroyed with children still running is a fatal bug.
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ringo_test.hpp"

namespace ringo {
namespace {

using namespace std::chrono_literals;
using test::ms;

class Scope : public test::RingoTest {};

task<void> sleep_then_log(duration d, int id, std::vector<int>* log) {
  (void)co_await sleep_for(d);
  log->push_back(id);
}

TEST_F(Scope, JoinWaitsForEveryChild) {
  std::vector<int> log;
  auto body = [&]() -> task<void> {
    scope s;
    s.spawn(sleep_then_log(20ms, 1, &log));
    s.spawn(sleep_then_log(5ms, 2, &log));
    s.spawn(sleep_then_log(10ms, 3, &log));
    EXPECT_EQ(s.active(), 3u);
    co_await s.join();
    EXPECT_EQ(s.active(), 0u);
    log.push_back(0);
  };
  run(body());
  EXPECT_EQ(log, (std::vector<int>{2, 3, 1, 0}));
}

TEST_F(Scope, ChildrenRunConcurrently) {
  std::vector<int> log;
  auto start = clock::now();
  auto body = [&]() -> task<void> {
    scope s;
    for (int i = 0; i < 10; ++i) s.spawn(sleep_then_log(50ms, i, &log));
    co_await s.join();
  };
  run(body());
  EXPECT_EQ(log.size(), 10u);
  EXPECT_LT(ms(clock::now() - start), 400);  // ten 50 ms sleeps, not 500 ms in a row
}

TEST_F(Scope, ChildrenStartOnTheNextTurnNotInsideSpawn) {
  std::vector<int> log;
  auto body = [&]() -> task<void> {
    scope s;
    s.spawn([](std::vector<int>* l) -> task<void> {
      l->push_back(1);
      co_return;
    }(&log));
    log.push_back(0);
    co_await s.join();
  };
  run(body());
  EXPECT_EQ(log, (std::vector<int>{0, 1}));
}

TEST_F(Scope, JoinWithoutChildrenReturnsAtOnce) {
  auto body = []() -> task<void> {
    scope s;
    co_await s.join();
  };
  run(body());
}

// The factory is a capturing lambda coroutine: its captures must stay valid after the child's
// first suspension, although the lambda passed to spawn() was a temporary.
TEST_F(Scope, ASpawnedFactoryGetsTheScopesTokenAndKeepsItsCaptures) {
  bool stopped = false;
  auto body = [&]() -> task<void> {
    scope s;
    s.spawn([&stopped](std::stop_token stop) -> task<void> {
      auto r = co_await sleep_for(10s, stop);
      stopped = r.error() == errc::operation_canceled;
    });
    co_await yield();
    s.request_stop();
    co_await s.join();
  };
  auto start = clock::now();
  run(body());
  EXPECT_TRUE(stopped);
  EXPECT_LT(ms(clock::now() - start), 1000);
}

task<void> wait_for_stop(std::stop_token stop, std::error_code* out) {
  auto r = co_await sleep_for(10s, std::move(stop));
  *out = r.error();
}

TEST_F(Scope, ChildrenAreStoppedWhenTheParentTokenStops) {
  std::stop_source parent;
  std::vector<std::error_code> errors(3);
  auto body = [&]() -> task<void> {
    scope s(parent.get_token());
    for (auto& e : errors) s.spawn(wait_for_stop(s.get_token(), &e));
    (void)co_await sleep_for(10ms);
    parent.request_stop();
    co_await s.join();
  };
  auto start = clock::now();
  run(body());
  EXPECT_LT(ms(clock::now() - start), 1000);
  for (auto& e : errors) EXPECT_EQ(e, errc::operation_canceled) << e.message();
}

TEST_F(Scope, AScopeMadeUnderAStoppedTokenStartsStopped) {
  std::stop_source parent;
  parent.request_stop();
  scope s(parent.get_token());
  EXPECT_TRUE(s.get_token().stop_requested());
}

TEST_F(Scope, StopReachesGrandchildrenThroughNestedScopes) {
  std::stop_source root;
  std::error_code grandchild;
  auto body = [&]() -> task<void> {
    scope outer(root.get_token());
    outer.spawn([](std::stop_token stop, std::error_code* out) -> task<void> {
      scope inner(stop);
      inner.spawn(wait_for_stop(inner.get_token(), out));
      co_await inner.join();
    }(outer.get_token(), &grandchild));
    (void)co_await sleep_for(10ms);
    root.request_stop();
    co_await outer.join();
  };
  run(body());
  EXPECT_EQ(grandchild, errc::operation_canceled);
}

// The scope's own stop does not travel up: the parent's token is untouched.
TEST_F(Scope, StoppingTheScopeDoesNotStopItsParent) {
  std::stop_source parent;
  scope s(parent.get_token());
  s.request_stop();
  EXPECT_TRUE(s.get_token().stop_requested());
  EXPECT_FALSE(parent.stop_requested());
}

task<void> throw_after(duration d, std::string what) {
  (void)co_await sleep_for(d);
  throw std::runtime_error(what);
}

TEST_F(Scope, JoinRethrowsAChildsException) {
  auto body = []() -> task<std::string> {
    scope s;
    s.spawn(throw_after(1ms, "child failed"));
    try {
      co_await s.join();
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "no exception";
  };
  EXPECT_EQ(run(body()), "child failed");
}

// A failing child stops its siblings (they would otherwise keep join() waiting for 10 s), and
// join() waits for them before rethrowing.
TEST_F(Scope, AChildsExceptionStopsItsSiblings) {
  std::vector<std::error_code> errors(3);
  auto body = [&]() -> task<std::string> {
    scope s;
    for (auto& e : errors) s.spawn(wait_for_stop(s.get_token(), &e));
    s.spawn(throw_after(5ms, "first"));
    try {
      co_await s.join();
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "no exception";
  };
  auto start = clock::now();
  EXPECT_EQ(run(body()), "first");
  EXPECT_LT(ms(clock::now() - start), 1000);
  for (auto& e : errors) EXPECT_EQ(e, errc::operation_canceled);
}

// Only the first exception comes out; a sibling that fails while winding down does not replace it.
TEST_F(Scope, JoinRethrowsTheFirstExceptionOnly) {
  auto body = []() -> task<std::string> {
    scope s;
    s.spawn(throw_after(5ms, "first"));
    s.spawn([](std::stop_token stop) -> task<void> {
      (void)co_await sleep_for(10s, stop);
      throw std::runtime_error("second, while stopping");
    });
    s.spawn(throw_after(30ms, "third"));
    try {
      co_await s.join();
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "no exception";
  };
  EXPECT_EQ(run(body()), "first");
}

// An exception does not cut short a sibling that ignores stop requests: join() still waits.
TEST_F(Scope, JoinWaitsForSiblingsBeforeRethrowing) {
  std::vector<int> log;
  auto body = [&]() -> task<void> {
    scope s;
    s.spawn(throw_after(1ms, "early"));
    s.spawn(sleep_then_log(30ms, 7, &log));
    EXPECT_THROW(co_await s.join(), std::runtime_error);
    EXPECT_EQ(log, std::vector<int>{7});
  };
  run(body());
}

// Destroying a scope whose children are still running would free their owner under them: it is
// caught at run time, in every build type.
TEST_F(Scope, DestroyingAnUnjoinedScopeTerminates) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto body = []() -> task<void> {
    scope s;
    s.spawn([](std::stop_token stop) -> task<void> { (void)co_await sleep_for(10s, stop); });
    co_await yield();
    // No join(): the scope dies with its child suspended.
  };
  EXPECT_DEATH(run(body()), "scope destroyed with 1 running children");
}

TEST_F(Scope, SpawnOutsideAContextIsRefused) {
  scope s;
  auto child = []() -> task<void> { co_return; };
  EXPECT_THROW(s.spawn(child()), std::logic_error);
  EXPECT_EQ(s.active(), 0u);
}

// A scope can be joined, then used again.
TEST_F(Scope, CanSpawnAgainAfterJoin) {
  std::vector<int> log;
  auto body = [&]() -> task<void> {
    scope s;
    s.spawn(sleep_then_log(1ms, 1, &log));
    co_await s.join();
    s.spawn(sleep_then_log(1ms, 2, &log));
    co_await s.join();
  };
  run(body());
  EXPECT_EQ(log, (std::vector<int>{1, 2}));
}

}  // namespace
}  // namespace ringo
