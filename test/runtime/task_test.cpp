// task<T>: lazy, move-only, values and exceptions through co_await, and long chains of
// synchronously completing awaits that must not grow the stack (GCC 12 at -O0 and under ASan
// does not tail-call symmetric transfer).
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>

#include <gtest/gtest.h>

#include "ringo_test.hpp"

namespace ringo {
namespace {

using namespace std::chrono_literals;

class Task : public test::RingoTest {};

static_assert(!std::is_copy_constructible_v<task<int>>);
static_assert(!std::is_copy_assignable_v<task<int>>);
static_assert(std::is_nothrow_move_constructible_v<task<int>>);
static_assert(std::is_nothrow_move_assignable_v<task<int>>);

task<int> add(int a, int b) {
  co_return a + b;
}

task<void> set_flag(bool* flag) {
  *flag = true;
  co_return;
}

TEST_F(Task, RunReturnsTheValue) {
  EXPECT_EQ(run(add(1, 2)), 3);
}

TEST_F(Task, DoesNothingUntilAwaited) {
  bool ran = false;
  task<void> t = set_flag(&ran);
  EXPECT_FALSE(ran);
  run(std::move(t));
  EXPECT_TRUE(ran);
}

// Destroying a task that never ran destroys its frame, and with it the parameters it owns.
task<void> hold(std::shared_ptr<int> p) {
  (void)p;
  co_return;
}
TEST_F(Task, DestroyingAnUnstartedTaskFreesItsFrame) {
  auto p = std::make_shared<int>(7);
  {
    task<void> t = hold(p);
    EXPECT_EQ(p.use_count(), 2);
  }
  EXPECT_EQ(p.use_count(), 1);
}

TEST_F(Task, MoveTransfersOwnership) {
  bool ran = false;
  task<void> a = set_flag(&ran);
  task<void> b = std::move(a);
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_TRUE(b.valid());
  task<void> c;
  EXPECT_FALSE(c.valid());
  c = std::move(b);
  EXPECT_FALSE(b.valid());  // NOLINT(bugprone-use-after-move)
  run(std::move(c));
  EXPECT_TRUE(ran);
}

task<std::string> greet(std::string name) {
  co_return "hello, " + name;
}
task<std::string> nested_greet() {
  std::string a = co_await greet("a");
  std::string b = co_await greet("b");
  co_return a + "; " + b;
}
TEST_F(Task, AwaitsNestedTasksInOrder) {
  EXPECT_EQ(run(nested_greet()), "hello, a; hello, b");
}

// A move-only value passes through co_await and out of run().
task<std::unique_ptr<int>> boxed(int v) {
  co_return std::make_unique<int>(v);
}
task<std::unique_ptr<int>> rebox() {
  auto p = co_await boxed(41);
  ++*p;
  co_return p;
}
TEST_F(Task, CarriesMoveOnlyValues) {
  auto p = run(rebox());
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, 42);
}

task<int> throws_now() {
  throw std::runtime_error("boom");
  co_return 0;
}
task<int> throws_after_suspending() {
  co_await yield();
  throw std::runtime_error("late boom");
  co_return 0;
}
task<std::string> catches(task<int> t) {
  try {
    co_await std::move(t);
  } catch (const std::runtime_error& e) {
    co_return e.what();
  }
  co_return "no exception";
}
TEST_F(Task, ExceptionPropagatesToTheAwaiter) {
  EXPECT_EQ(run(catches(throws_now())), "boom");
  EXPECT_EQ(run(catches(throws_after_suspending())), "late boom");
}

TEST_F(Task, RunRethrowsTheTasksException) {
  EXPECT_THROW(run(throws_now()), std::runtime_error);
  EXPECT_THROW(run(throws_after_suspending()), std::runtime_error);
}

// --- Stack depth ---------------------------------------------------------------------------

task<int> ready_value(int v) {
  co_return v;
}
task<void> ready_void() {
  co_return;
}
task<long> sum_of_ready_awaits(int n) {
  long sum = 0;
  for (int i = 0; i < n; ++i) sum += co_await ready_value(1);
  co_return sum;
}
TEST_F(Task, MillionSynchronousAwaitsDoNotOverflowTheStack) {
  EXPECT_EQ(run(sum_of_ready_awaits(1'000'000)), 1'000'000);
}

task<void> million_void_awaits(int* count) {
  for (int i = 0; i < 1'000'000; ++i) {
    co_await ready_void();
    ++*count;
  }
}
TEST_F(Task, MillionSynchronousVoidAwaitsDoNotOverflowTheStack) {
  int count = 0;
  run(million_void_awaits(&count));
  EXPECT_EQ(count, 1'000'000);
}

// Two levels: each awaited task itself awaits a ready task before finishing.
task<int> ready_through_child(int v) {
  co_return co_await ready_value(v);
}
task<long> sum_through_children(int n) {
  long sum = 0;
  for (int i = 0; i < n; ++i) sum += co_await ready_through_child(1);
  co_return sum;
}
TEST_F(Task, MillionNestedSynchronousAwaitsDoNotOverflowTheStack) {
  EXPECT_EQ(run(sum_through_children(1'000'000)), 1'000'000);
}

// Synchronous completions mixed with ones that really suspend (a yield every so often): the
// resumption from the loop must also leave the stack where it found it.
task<int> sometimes_suspends(int i) {
  if (i % 1000 == 0) co_await yield();
  co_return 1;
}
task<long> sum_mixed(int n) {
  long sum = 0;
  for (int i = 0; i < n; ++i) sum += co_await sometimes_suspends(i);
  co_return sum;
}
TEST_F(Task, MillionMixedAwaitsDoNotOverflowTheStack) {
  EXPECT_EQ(run(sum_mixed(1'000'000)), 1'000'000);
}

// A task that suspends on real I/O resumes its awaiter with the value.
task<int> nop_then(int v) {
  auto r = co_await nop();
  co_return r ? v : -1;
}
task<long> sum_after_nops(int n) {
  long sum = 0;
  for (int i = 0; i < n; ++i) sum += co_await nop_then(2);
  co_return sum;
}
TEST_F(Task, ResumesTheAwaiterAfterSuspendingOnIo) {
  EXPECT_EQ(run(sum_after_nops(10'000)), 20'000);
}

}  // namespace
}  // namespace ringo
