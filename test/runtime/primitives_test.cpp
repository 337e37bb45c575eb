// The synchronization primitives on one io_context: event, semaphore, async_mutex and oneshot.
// Every wait is cancellable and has a deadline; a waiter that gave up is unlinked (wherever it was
// in the queue) and never receives what was meant for a live waiter.
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ringo_test.hpp"

namespace ringo {
namespace {

using namespace std::chrono_literals;
using test::ms;

class Event : public test::RingoTest {};
class Semaphore : public test::RingoTest {};
class AsyncMutex : public test::RingoTest {};
class Oneshot : public test::RingoTest {};

// --- event ---------------------------------------------------------------------------------

task<void> wait_event(event* e, std::stop_token stop, std::vector<std::string>* log,
                      std::string name) {
  auto r = co_await e->wait(std::move(stop));
  log->push_back(name + (r ? " woke" : " " + r.error().message()));
}

TEST_F(Event, SetWakesEveryWaiter) {
  std::vector<std::string> log;
  auto body = [&]() -> task<void> {
    event e;
    scope s;
    for (auto name : {"a", "b", "c"}) s.spawn(wait_event(&e, {}, &log, name));
    (void)co_await sleep_for(2ms);
    EXPECT_TRUE(log.empty());
    e.set();
    co_await s.join();
  };
  run(body());
  EXPECT_EQ(log, (std::vector<std::string>{"a woke", "b woke", "c woke"}));
}

TEST_F(Event, WaitingOnASetEventReturnsAtOnce) {
  auto body = []() -> task<void> {
    event e(true);
    EXPECT_TRUE(e.is_set());
    auto r = co_await e.wait({}, clock::now() - 1s);  // even past its deadline
    EXPECT_TRUE(r);
  };
  run(body());
}

TEST_F(Event, ResetMakesLaterWaitersWait) {
  auto body = []() -> task<void> {
    event e;
    e.set();
    e.reset();
    EXPECT_FALSE(e.is_set());
    auto r = co_await e.wait({}, clock::now() + 10ms);
    EXPECT_EQ(r.error(), errc::timed_out);
  };
  run(body());
}

TEST_F(Event, AStoppedWaiterLeavesAndTheOthersStillWake) {
  std::vector<std::string> log;
  auto body = [&]() -> task<void> {
    event e;
    std::stop_source stop_b;
    scope s;
    s.spawn(wait_event(&e, {}, &log, "a"));
    s.spawn(wait_event(&e, stop_b.get_token(), &log, "b"));
    s.spawn(wait_event(&e, {}, &log, "c"));
    (void)co_await sleep_for(2ms);
    stop_b.request_stop();
    (void)co_await sleep_for(2ms);
    e.set();
    co_await s.join();
  };
  run(body());
  EXPECT_EQ(log, (std::vector<std::string>{"b operation was canceled", "a woke", "c woke"}));
}

TEST_F(Event, WaitPastItsDeadlineTimesOut) {
  auto deadline = clock::now() + 20ms;
  auto body = [deadline]() -> task<result<void>> {
    event e;
    co_return co_await e.wait({}, deadline);
  };
  auto r = run(body());
  EXPECT_EQ(r.error(), errc::timed_out);
  EXPECT_GE(clock::now(), deadline);
}

TEST_F(Event, WaitWithAStoppedTokenIsCanceledAtOnce) {
  auto body = []() -> task<result<void>> {
    event e;
    std::stop_source src;
    src.request_stop();
    co_return co_await e.wait(src.get_token());
  };
  EXPECT_EQ(run(body()).error(), errc::operation_canceled);
}

// --- semaphore -----------------------------------------------------------------------------

task<void> acquire_and_log(semaphore* sem, std::stop_token stop, std::vector<std::string>* log,
                           std::string name) {
  auto r = co_await sem->acquire(std::move(stop));
  log->push_back(name + (r ? " acquired" : " " + r.error().message()));
}

TEST_F(Semaphore, TakesAvailablePermitsWithoutWaiting) {
  auto body = []() -> task<void> {
    semaphore sem(2);
    auto a = co_await sem.acquire();
    auto b = co_await sem.acquire({}, clock::now() - 1s);  // available: the deadline is moot
    EXPECT_TRUE(a);
    EXPECT_TRUE(b);
    EXPECT_EQ(sem.available(), 0u);
    EXPECT_FALSE(sem.try_acquire());
    sem.release();
    EXPECT_TRUE(sem.try_acquire());
  };
  run(body());
}

TEST_F(Semaphore, WaitersAreServedFirstComeFirstServed) {
  std::vector<std::string> log;
  auto body = [&]() -> task<void> {
    semaphore sem(0);
    scope s;
    for (auto name : {"w0", "w1", "w2", "w3"}) s.spawn(acquire_and_log(&sem, {}, &log, name));
    co_await yield();
    for (int i = 0; i < 4; ++i) {
      sem.release();
      (void)co_await sleep_for(1ms);
    }
    co_await s.join();
    EXPECT_EQ(sem.available(), 0u);
  };
  run(body());
  EXPECT_EQ(log,
            (std::vector<std::string>{"w0 acquired", "w1 acquired", "w2 acquired", "w3 acquired"}));
}

// release() hands the permit to the parked waiter: a later arrival cannot overtake it, not even
// before the waiter has resumed (Go #32336).
TEST_F(Semaphore, AReleasedPermitCannotBeTakenByALateArrival) {
  std::vector<std::string> log;
  auto body = [&]() -> task<void> {
    semaphore sem(0);
    scope s;
    s.spawn(acquire_and_log(&sem, {}, &log, "parked"));
    co_await yield();
    sem.release();
    EXPECT_EQ(sem.available(), 0u);
    EXPECT_FALSE(sem.try_acquire());
    auto late = co_await sem.acquire({}, clock::now() + 5ms);
    EXPECT_EQ(late.error(), errc::timed_out);
    co_await s.join();
  };
  run(body());
  EXPECT_EQ(log, std::vector<std::string>{"parked acquired"});
}

// Waiters give up from the middle and from the front of the queue; every released permit goes
// to a waiter that is still there.
TEST_F(Semaphore, CancelledWaitersAreRemovedWhereverTheyAreInTheQueue) {
  std::vector<std::string> log;
  auto body = [&]() -> task<void> {
    semaphore sem(0);
    std::stop_source stop_a, stop_c;
    scope s;
    s.spawn(acquire_and_log(&sem, stop_a.get_token(), &log, "a"));  // front
    s.spawn(acquire_and_log(&sem, {}, &log, "b"));
    s.spawn(acquire_and_log(&sem, stop_c.get_token(), &log, "c"));  // middle
    s.spawn(acquire_and_log(&sem, {}, &log, "d"));
    co_await yield();
    stop_c.request_stop();
    stop_a.request_stop();
    co_await yield();
    sem.release();
    sem.release();
    co_await s.join();
    EXPECT_EQ(sem.available(), 0u);
  };
  run(body());
  EXPECT_EQ(log, (std::vector<std::string>{"c operation was canceled", "a operation was canceled",
                                           "b acquired", "d acquired"}));
}

TEST_F(Semaphore, APermitReleasedAfterEveryWaiterGaveUpIsKept) {
  auto body = []() -> task<void> {
    semaphore sem(0);
    std::stop_source stop;
    std::vector<std::string> log;
    scope s;
    for (auto name : {"a", "b"}) s.spawn(acquire_and_log(&sem, stop.get_token(), &log, name));
    co_await yield();
    stop.request_stop();
    co_await s.join();
    sem.release();
    EXPECT_EQ(sem.available(), 1u);
  };
  run(body());
}

// A waiter that was handed a permit and is stopped before it resumes keeps the permit (success):
// the permit is neither lost nor given twice.
TEST_F(Semaphore, AWaiterStoppedAfterItWasHandedAPermitKeepsIt) {
  auto body = []() -> task<void> {
    semaphore sem(0);
    std::stop_source stop;
    std::vector<std::string> log;
    scope s;
    s.spawn(acquire_and_log(&sem, stop.get_token(), &log, "a"));
    co_await yield();
    sem.release();
    stop.request_stop();  // same turn: a has not resumed yet
    co_await s.join();
    EXPECT_EQ(log, std::vector<std::string>{"a acquired"});
    EXPECT_EQ(sem.available(), 0u);
  };
  run(body());
}

TEST_F(Semaphore, AcquirePastItsDeadlineTimesOut) {
  auto deadline = clock::now() + 15ms;
  auto body = [deadline]() -> task<result<void>> {
    semaphore sem(0);
    co_return co_await sem.acquire({}, deadline);
  };
  EXPECT_EQ(run(body()).error(), errc::timed_out);
  EXPECT_GE(clock::now(), deadline);
}

// --- async_mutex ---------------------------------------------------------------------------

task<void> critical_section(async_mutex* m, int* inside, int* most_inside, std::vector<int>* order,
                            int id) {
  auto g = co_await m->lock();
  if (!g) co_return;
  ++*inside;
  *most_inside = std::max(*most_inside, *inside);
  order->push_back(id);
  (void)co_await sleep_for(1ms);  // hold the lock across a suspension
  --*inside;
}

TEST_F(AsyncMutex, IsExclusiveAcrossSuspensionsAndServesInOrder) {
  int inside = 0, most_inside = 0;
  std::vector<int> order;
  auto body = [&]() -> task<void> {
    async_mutex m;
    scope s;
    for (int i = 0; i < 5; ++i) s.spawn(critical_section(&m, &inside, &most_inside, &order, i));
    co_await s.join();
    EXPECT_FALSE(m.locked());
  };
  run(body());
  EXPECT_EQ(most_inside, 1);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST_F(AsyncMutex, GuardUnlocksWhenDestroyedOrAskedTo) {
  auto body = []() -> task<void> {
    async_mutex m;
    {
      auto g = co_await m.lock();
      EXPECT_TRUE(g && g->owns_lock());
      EXPECT_TRUE(m.locked());
      EXPECT_FALSE(m.try_lock());
    }
    EXPECT_FALSE(m.locked());
    auto g = co_await m.lock();
    async_mutex::guard moved = std::move(*g);
    EXPECT_FALSE(g->owns_lock());
    EXPECT_TRUE(moved.owns_lock());
    moved.unlock();
    EXPECT_FALSE(m.locked());
    EXPECT_TRUE(m.try_lock());
    m.unlock();
  };
  run(body());
}

TEST_F(AsyncMutex, LockIsCancellableAndTheMutexStaysUsable) {
  auto body = []() -> task<void> {
    async_mutex m;
    auto held = co_await m.lock();
    std::stop_source src;
    scope s;
    s.spawn(test::stop_after(&src, 5ms));
    auto waiter = co_await m.lock(src.get_token());
    co_await s.join();
    EXPECT_EQ(waiter.error(), errc::operation_canceled);
    auto timed = co_await m.lock({}, clock::now() + 5ms);
    EXPECT_EQ(timed.error(), errc::timed_out);
    held->unlock();
    auto again = co_await m.lock({}, clock::now() + 1s);
    EXPECT_TRUE(again);
  };
  run(body());
}

// --- oneshot -------------------------------------------------------------------------------

TEST_F(Oneshot, DeliverThenReceive) {
  auto body = []() -> task<void> {
    oneshot<std::string> ch;
    EXPECT_TRUE(ch.try_deliver("value"));
    EXPECT_TRUE(ch.ready());
    auto r = co_await ch.receive();
    EXPECT_EQ(test::value_or(r, std::string()), "value");
  };
  run(body());
}

TEST_F(Oneshot, ReceiveWaitsForTheDelivery) {
  auto body = []() -> task<void> {
    oneshot<int> ch;
    scope s;
    s.spawn([](oneshot<int> sender) -> task<void> {
      (void)co_await sleep_for(5ms);
      EXPECT_TRUE(sender.try_deliver(7));
    }(ch));  // a copy shares the state
    auto r = co_await ch.receive();
    co_await s.join();
    EXPECT_EQ(test::value_or(r, 0), 7);
  };
  run(body());
}

TEST_F(Oneshot, ASecondDeliveryFailsAndLeavesTheValueWithTheSender) {
  oneshot<std::unique_ptr<int>> ch;
  EXPECT_TRUE(ch.try_deliver(std::make_unique<int>(1)));
  auto second = std::make_unique<int>(2);
  EXPECT_FALSE(ch.try_deliver(std::move(second)));
  ASSERT_TRUE(second);  // NOLINT(bugprone-use-after-move): a failed delivery leaves it untouched
  EXPECT_EQ(*second, 2);
}

// Go's wantConn.tryDeliver: once the receiver has given up, a delivery reports false and the
// sender still owns the value (a connection it can pool instead of leaking).
TEST_F(Oneshot, TryDeliverFailsAfterTheReceiverWasStopped) {
  auto body = []() -> task<void> {
    oneshot<unique_fd> ch;
    std::stop_source src;
    scope s;
    s.spawn(test::stop_after(&src, 5ms));
    auto r = co_await ch.receive(src.get_token());
    co_await s.join();
    EXPECT_EQ(r.error(), errc::operation_canceled);
    EXPECT_TRUE(ch.closed());
    auto p = test::make_pipe();
    int fd = p.read.get();
    EXPECT_FALSE(ch.try_deliver(std::move(p.read)));
    EXPECT_EQ(p.read.get(), fd);  // NOLINT(bugprone-use-after-move): still the sender's
  };
  run(body());
}

TEST_F(Oneshot, TryDeliverFailsAfterTheReceiverTimedOut) {
  auto body = []() -> task<void> {
    oneshot<std::unique_ptr<int>> ch;
    auto r = co_await ch.receive({}, clock::now() + 5ms);
    EXPECT_EQ(r.error(), errc::timed_out);
    auto value = std::make_unique<int>(3);
    EXPECT_FALSE(ch.try_deliver(std::move(value)));
    EXPECT_TRUE(value);  // NOLINT(bugprone-use-after-move)
  };
  run(body());
}

TEST_F(Oneshot, CloseReturnsAnUndeliveredValue) {
  auto body = []() -> task<void> {
    oneshot<unique_fd> ch;
    auto p = test::make_pipe();
    int fd = p.write.get();
    EXPECT_TRUE(ch.try_deliver(std::move(p.write)));
    std::optional<unique_fd> back = ch.close();
    EXPECT_TRUE(back && back->get() == fd);
    EXPECT_FALSE(ch.close());  // nothing left the second time
    auto r = co_await ch.receive();
    EXPECT_EQ(r.error(), errc::operation_canceled);
    EXPECT_FALSE(ch.try_deliver(unique_fd()));
  };
  run(body());
}

// A receiver already waiting when the channel is closed (by whoever holds a copy) is woken with
// operation_canceled rather than left parked forever.
TEST_F(Oneshot, CloseWakesAWaitingReceiver) {
  auto body = []() -> task<void> {
    oneshot<int> ch;
    scope s;
    s.spawn([](oneshot<int> other) -> task<void> {
      (void)co_await sleep_for(5ms);
      EXPECT_FALSE(other.close());
    }(ch));
    auto r = co_await ch.receive({}, clock::now() + 2s);
    co_await s.join();
    EXPECT_EQ(r.error(), errc::operation_canceled);
  };
  auto start = clock::now();
  run(body());
  EXPECT_LT(ms(clock::now() - start), 1000);
}

// The stop and the delivery land in the same turn, in either order: the value is received (the
// delivery reported true) or stays with the sender (it reported false), never lost.
TEST_F(Oneshot, AValueRacingTheReceiversStopIsNeverLost) {
  auto body = []() -> task<void> {
    for (int round = 0; round < 200; ++round) {
      oneshot<unique_fd> ch;
      std::stop_source src;
      auto p = test::make_pipe();
      bool delivered = false;
      unique_fd kept;
      scope s;
      s.spawn([](oneshot<unique_fd> sender, std::stop_source* stop, unique_fd fd, bool stop_first,
                 bool* ok, unique_fd* left) -> task<void> {
        co_await yield();
        if (stop_first) stop->request_stop();
        *ok = sender.try_deliver(std::move(fd));
        if (!*ok) *left = std::move(fd);
        if (!stop_first) stop->request_stop();
      }(ch, &src, std::move(p.write), round % 2 == 0, &delivered, &kept));
      auto r = co_await ch.receive(src.get_token());
      co_await s.join();
      EXPECT_EQ(bool(r), delivered) << "round " << round;
      EXPECT_EQ(bool(kept), !delivered) << "round " << round;
    }
  };
  run(body());
}

}  // namespace
}  // namespace ringo
