// io_context: one per thread, runs tasks to completion, and never drops work when the rings are
// small: more SQEs than the SQ holds in one turn, more completions than the CQ holds at once.
#include <array>
#include <atomic>
#include <numeric>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <liburing.h>

#include "ringo_test.hpp"

namespace ringo {
namespace {

using namespace std::chrono_literals;

class IoContext : public test::RingoTest {};

task<int> answer() {
  (void)co_await nop();
  co_return 42;
}

TEST_F(IoContext, RunReturnsTheTasksValue) {
  io_context ctx;
  EXPECT_EQ(ctx.run(answer()), 42);
}

TEST_F(IoContext, RunsSeveralTasksOneAfterAnother) {
  io_context ctx;
  EXPECT_EQ(ctx.run(answer()), 42);
  EXPECT_EQ(ctx.run(answer()), 42);
  // ringo::run uses the thread's context when there is one.
  EXPECT_EQ(run(answer()), 42);
  EXPECT_EQ(io_context::current(), &ctx);
}

task<void> fail_after_io() {
  (void)co_await nop();
  throw std::invalid_argument("bad");
}
TEST_F(IoContext, RunRethrowsTheTasksException) {
  io_context ctx;
  EXPECT_THROW(ctx.run(fail_after_io()), std::invalid_argument);
  EXPECT_EQ(ctx.run(answer()), 42);  // still usable
}

TEST_F(IoContext, CurrentIsTheContextOwnedByThisThread) {
  EXPECT_EQ(io_context::current(), nullptr);
  {
    io_context ctx;
    EXPECT_EQ(io_context::current(), &ctx);
  }
  EXPECT_EQ(io_context::current(), nullptr);
}

TEST_F(IoContext, RunWithoutAContextMakesATemporaryOne) {
  ASSERT_EQ(io_context::current(), nullptr);
  auto body = []() -> task<bool> { co_return io_context::current() != nullptr; };
  EXPECT_TRUE(run(body()));
  EXPECT_EQ(io_context::current(), nullptr);
}

TEST_F(IoContext, ASecondContextOnTheSameThreadIsRefused) {
  io_context ctx;
  EXPECT_THROW(io_context{}, std::logic_error);
  EXPECT_EQ(io_context::current(), &ctx);
}

// The refused nested run() must leave nothing behind on the loop: the loop keeps turning
// afterwards, and a task it had queued would run and report to that call's dead stack frame.
TEST_F(IoContext, RunFromInsideTheLoopIsRefusedAndLeavesNothingQueued) {
  auto body = []() -> task<bool> {
    bool refused = false;
    try {
      (void)run(answer());
    } catch (const std::logic_error&) {
      refused = true;
    }
    for (int i = 0; i < 3; ++i) co_await yield();
    (void)co_await sleep_for(1ms);
    co_return refused;
  };
  EXPECT_TRUE(run(body()));
}

TEST_F(IoContext, ContextsOnDifferentThreadsRunIndependently) {
  std::array<int, 4> results{};
  std::vector<std::thread> threads;
  for (auto& r : results) {
    threads.emplace_back([&r] {
      auto body = []() -> task<int> {
        int n = 0;
        for (int i = 0; i < 1000; ++i) {
          auto ok = co_await nop();
          n += ok ? 1 : 0;
          (void)co_await sleep_for(std::chrono::microseconds(i % 3));
        }
        co_return n;
      };
      r = run(body());
    });
  }
  for (auto& t : threads) t.join();
  for (int r : results) EXPECT_EQ(r, 1000);
}

TEST_F(IoContext, ReportsSetupFlagsAndSupportedOpcodes) {
  {
    io_context ctx;
    EXPECT_TRUE(ctx.supports(IORING_OP_NOP));
    EXPECT_TRUE(ctx.supports(IORING_OP_ASYNC_CANCEL));
    unsigned flags = ctx.setup_flags();
    // Either the whole single-issuer set was accepted, or none of it.
    bool single = flags & IORING_SETUP_SINGLE_ISSUER;
    EXPECT_EQ(single, bool(flags & IORING_SETUP_DEFER_TASKRUN));
  }
  io_context plain({.single_issuer = false});
  EXPECT_FALSE(plain.setup_flags() & IORING_SETUP_SINGLE_ISSUER);
  EXPECT_FALSE(plain.setup_flags() & IORING_SETUP_DEFER_TASKRUN);
  EXPECT_EQ(plain.run(answer()), 42);
}

// io_uring_register_ring_fd is taken when the kernel offers it (5.18+; this suite runs on 6.x) and
// can be declined; the loop works either way, and registering opens no descriptor (the fixture
// counts them).
TEST_F(IoContext, RegistersItsRingFdUnlessToldNotTo) {
  {
    io_context ctx;
    EXPECT_TRUE(ctx.ring_fd_registered());
    EXPECT_EQ(ctx.run(answer()), 42);
    auto r = ctx.run([]() -> task<result<void>> { co_return co_await nop(); }());
    EXPECT_TRUE(r);
  }
  io_context plain({.register_ring_fd = false});
  EXPECT_FALSE(plain.ring_fd_registered());
  auto r = plain.run([]() -> task<result<void>> { co_return co_await nop(); }());
  EXPECT_TRUE(r);
}

// Sixteen is the kernel's limit of registered rings per thread (IO_RINGFD_REG_MAX): a context
// unregisters its ring when it goes, so making contexts one after another never runs out.
TEST_F(IoContext, ContextsMadeOneAfterAnotherAllRegisterTheirRingFd) {
  for (int i = 0; i < 40; ++i) {
    io_context ctx;
    EXPECT_TRUE(ctx.ring_fd_registered()) << "context " << i;
  }
}

// --- Small rings: nothing dropped ----------------------------------------------------------

task<void> count_nop(int* done) {
  auto r = co_await nop();
  if (r) ++*done;
}

// Many coroutines each queue an SQE in the same turn: far more than the SQ holds. get_sqe must
// submit and retry rather than drop any.
TEST_F(IoContext, MoreSubmissionsInOneTurnThanTheSqHoldsAreAllSubmitted) {
  io_context ctx({.sq_entries = 8});
  int done = 0;
  auto body = [&]() -> task<void> {
    scope s;
    for (int i = 0; i < 1000; ++i) s.spawn(count_nop(&done));
    co_await s.join();
  };
  ctx.run(body());
  EXPECT_EQ(done, 1000);
}

// 1000 NOPs in flight at once with an 8-entry CQ: the kernel keeps the overflow (FEAT_NODROP) and
// the loop must drain all of it.
TEST_F(IoContext, MoreCompletionsThanTheCqHoldsAreAllDelivered) {
  for (bool single_issuer : {true, false}) {
    io_context ctx({.sq_entries = 4, .cq_entries = 8, .single_issuer = single_issuer});
    int done = 0;
    auto body = [&]() -> task<void> {
      scope s;
      for (int i = 0; i < 1000; ++i) s.spawn(count_nop(&done));
      co_await s.join();
    };
    ctx.run(body());
    EXPECT_EQ(done, 1000) << "single_issuer=" << single_issuer;
  }
}

task<void> recv_one(int fd, std::string* out) {
  char c;
  auto r = co_await recv(fd, mutable_buffer(&c, 1));
  if (r && *r == 1) *out += c;
}

// 1000 one-byte recvs wait on one socket; 1000 bytes arrive at once and every recv completes in
// the same burst, through a 4-entry SQ and an 8-entry CQ. Every byte must come out exactly once.
TEST_F(IoContext, ABurstOfCompletionsLargerThanTheCqLosesNothing) {
  auto pair = test::make_tcp_pair();
  io_context ctx({.sq_entries = 4, .cq_entries = 8});
  std::string got;
  auto body = [&]() -> task<void> {
    scope s;
    for (int i = 0; i < 1000; ++i) s.spawn(recv_one(pair.client.get(), &got));
    // Let every recv reach the kernel and park before the data arrives.
    for (int i = 0; i < 5; ++i) (void)co_await sleep_for(1ms);
    std::string burst(1000, '\0');
    for (int i = 0; i < 1000; ++i) burst[i] = static_cast<char>(i % 251);
    auto n = co_await send(pair.server.get(), burst);
    EXPECT_EQ(test::value_or(n, 0), 1000u);
    co_await s.join();
  };
  ctx.run(body());
  ASSERT_EQ(got.size(), 1000u);
  std::array<int, 251> seen{};
  for (char c : got) ++seen[static_cast<unsigned char>(c)];
  std::array<int, 251> expected{};
  for (int i = 0; i < 1000; ++i) ++expected[i % 251];
  EXPECT_EQ(seen, expected);
}

// Stops and their cancel SQEs in a burst, through the same small rings.
TEST_F(IoContext, ABurstOfCancellationsThroughSmallRingsLosesNothing) {
  auto pair = test::make_tcp_pair();
  io_context ctx({.sq_entries = 4, .cq_entries = 8});
  int cancelled = 0;
  auto body = [&]() -> task<void> {
    std::stop_source src;
    scope s;
    for (int i = 0; i < 500; ++i) {
      s.spawn([](int fd, std::stop_token stop, int* count) -> task<void> {
        char c;
        auto r = co_await recv(fd, mutable_buffer(&c, 1), std::move(stop));
        if (r.error() == errc::operation_canceled) ++*count;
      }(pair.client.get(), src.get_token(), &cancelled));
    }
    (void)co_await sleep_for(5ms);
    src.request_stop();
    co_await s.join();
  };
  ctx.run(body());
  EXPECT_EQ(cancelled, 500);
}

// --- Destruction ---------------------------------------------------------------------------

// A multishot accept outlives its acceptor until its last CQE; destroying the context cancels it
// and reaps that CQE, so nothing is left in the kernel pointing at freed memory and nothing leaks.
TEST_F(IoContext, DestroyingTheContextReapsAnOrphanedMultishotAccept) {
  auto listener = test::loopback_listener::open();
  {
    io_context ctx;
    auto body = [&]() -> task<void> {
      multishot_acceptor acceptor(listener.fd.get());
      auto client = open_socket(AF_INET, SOCK_STREAM).value();
      auto r = co_await connect(client.get(), listener.address);
      EXPECT_TRUE(r);
      auto fd = co_await acceptor.next();
      EXPECT_TRUE(fd);
    };
    ctx.run(body());
  }
  // A connection arriving now finds no accept armed: it waits in the backlog.
  auto client = open_socket(AF_INET, SOCK_STREAM).value();
  ASSERT_EQ(::connect(client.get(), listener.address.data(), listener.address.size()), 0);
  EXPECT_TRUE(test::accept_nonblocking(listener.fd.get()));
}

}  // namespace
}  // namespace ringo
