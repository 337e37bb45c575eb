// multishot_acceptor: one multishot accept hands out every connection exactly once. Connections
// that arrive while nobody waits are queued; a stop or deadline abandons only the wait; the end of
// a multishot is reported once and the next call re-arms; the acceptor's death closes what it
// still held.
#include <set>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "ringo_test.hpp"

namespace ringo {
namespace {

using namespace std::chrono_literals;
using test::race_plan;

class MultishotAcceptor : public test::RingoTest {};

unique_fd connect_now(const socket_address& addr) {
  auto fd = open_socket(addr.family(), SOCK_STREAM).value();
  if (::connect(fd.get(), addr.data(), addr.size()) != 0)
    throw std::system_error(errno, std::system_category(), "connect");
  return fd;
}

// Lets the kernel's CQEs for connections made just now reach the acceptor's queue.
task<void> settle() {
  for (int i = 0; i < 3; ++i) (void)co_await sleep_for(1ms);
}

TEST_F(MultishotAcceptor, AcceptsEveryConnectionOnce) {
  auto listener = test::loopback_listener::open();
  std::vector<unique_fd> clients;
  std::set<std::string> expected, got;
  auto body = [&]() -> task<void> {
    multishot_acceptor acceptor(listener.fd.get());
    scope s;
    s.spawn([](multishot_acceptor* a, std::set<std::string>* peers) -> task<void> {
      for (int i = 0; i < 20; ++i) {
        auto fd = co_await a->next({}, clock::now() + 2s);
        EXPECT_TRUE(fd) << fd.error().message();
        if (fd) peers->insert(peer_address(fd->get()).value().to_string());
      }
    }(&acceptor, &got));
    for (int i = 0; i < 20; ++i) {
      clients.push_back(connect_now(listener.address));
      expected.insert(local_address(clients.back().get()).value().to_string());
      if (i % 5 == 0) co_await yield();
    }
    co_await s.join();
    EXPECT_EQ(acceptor.queued(), 0u);
  };
  run(body());
  EXPECT_EQ(got, expected);
}

TEST_F(MultishotAcceptor, QueuesConnectionsThatArriveWhileNobodyWaits) {
  auto listener = test::loopback_listener::open();
  std::vector<unique_fd> clients;
  auto body = [&]() -> task<void> {
    multishot_acceptor acceptor(listener.fd.get());
    clients.push_back(connect_now(listener.address));
    auto first = co_await acceptor.next();  // arms the multishot
    EXPECT_TRUE(first);
    for (int i = 0; i < 5; ++i) clients.push_back(connect_now(listener.address));
    co_await settle();
    EXPECT_EQ(acceptor.queued(), 5u);
    for (int i = 0; i < 5; ++i) {
      auto fd = co_await acceptor.next({}, clock::now() - 1s);  // ready: no wait, no timeout
      EXPECT_TRUE(fd) << fd.error().message();
    }
    EXPECT_EQ(acceptor.queued(), 0u);
  };
  run(body());
}

TEST_F(MultishotAcceptor, TwoWaitersEachGetAConnection) {
  auto listener = test::loopback_listener::open();
  std::vector<unique_fd> clients;
  int accepted = 0;
  auto body = [&]() -> task<void> {
    multishot_acceptor acceptor(listener.fd.get());
    scope s;
    for (int i = 0; i < 2; ++i) {
      s.spawn([](multishot_acceptor* a, int* count) -> task<void> {
        auto fd = co_await a->next({}, clock::now() + 2s);
        EXPECT_TRUE(fd);
        if (fd) ++*count;
      }(&acceptor, &accepted));
    }
    co_await yield();
    clients.push_back(connect_now(listener.address));
    clients.push_back(connect_now(listener.address));
    co_await s.join();
  };
  run(body());
  EXPECT_EQ(accepted, 2);
}

// A stopped next() gives up its wait only: the accept stays armed and the next connection is
// queued for the next caller.
TEST_F(MultishotAcceptor, AStoppedWaitLeavesTheAcceptArmed) {
  auto listener = test::loopback_listener::open();
  unique_fd client;
  auto body = [&]() -> task<void> {
    multishot_acceptor acceptor(listener.fd.get());
    std::stop_source src;
    scope s;
    s.spawn(test::stop_after(&src, 5ms));
    auto r = co_await acceptor.next(src.get_token());
    co_await s.join();
    EXPECT_EQ(r.error(), errc::operation_canceled);
    client = connect_now(listener.address);
    co_await settle();
    EXPECT_EQ(acceptor.queued(), 1u);  // accepted by the multishot, not left in the backlog
    auto fd = co_await acceptor.next();
    EXPECT_TRUE(fd);
  };
  run(body());
}

TEST_F(MultishotAcceptor, AWaitStoppedBeforeItStartsIsCanceled) {
  auto listener = test::loopback_listener::open();
  auto body = [&]() -> task<void> {
    multishot_acceptor acceptor(listener.fd.get());
    std::stop_source src;
    src.request_stop();
    auto r = co_await acceptor.next(src.get_token());
    EXPECT_EQ(r.error(), errc::operation_canceled);
  };
  run(body());
}

TEST_F(MultishotAcceptor, AWaitPastItsDeadlineTimesOut) {
  auto listener = test::loopback_listener::open();
  auto deadline = clock::now() + 15ms;
  auto body = [&]() -> task<result<unique_fd>> {
    multishot_acceptor acceptor(listener.fd.get());
    co_return co_await acceptor.next({}, deadline);
  };
  EXPECT_EQ(run(body()).error(), errc::timed_out);
  EXPECT_GE(clock::now(), deadline);
}

// The multishot ends with an error (the socket is not listening): next() reports it once, and the
// following next() arms a new multishot, which works once the socket listens.
TEST_F(MultishotAcceptor, ReportsTheErrorThatEndedTheMultishotAndRearms) {
  auto addr = socket_address::numeric("127.0.0.1", 0).value();
  auto fd = open_socket(AF_INET, SOCK_STREAM).value();
  ASSERT_EQ(::bind(fd.get(), addr.data(), addr.size()), 0);
  auto bound = local_address(fd.get()).value();
  unique_fd client;
  auto body = [&]() -> task<void> {
    multishot_acceptor acceptor(fd.get());
    auto first = co_await acceptor.next({}, clock::now() + 2s);
    EXPECT_EQ(first.error(), std::errc::invalid_argument) << first.error().message();
    EXPECT_EQ(::listen(fd.get(), 16), 0);
    client = connect_now(bound);
    auto second = co_await acceptor.next({}, clock::now() + 2s);
    EXPECT_TRUE(second) << second.error().message();
  };
  run(body());
}

// Rounds of a next() whose stop races an arriving connection: the connection is handed out by that
// next(), or it is queued and the following next() returns it at once. Exactly once either way.
TEST_F(MultishotAcceptor, AConnectionRacingTheStopIsNeverLost) {
  constexpr int rounds = 10'000;
  auto listener = test::loopback_listener::open("127.0.0.1", 4096);
  int by_racer = 0, queued = 0;
  auto body = [&]() -> task<void> {
    multishot_acceptor acceptor(listener.fd.get());
    for (int i = 0; i < rounds; ++i) {
      unique_fd client;
      auto r = co_await test::race_stop_with_completion(
          [&acceptor](std::stop_token stop) { return acceptor.next(std::move(stop)); },
          [&] { client = connect_now(listener.address); }, race_plan::for_round(i));
      test::set_reset_on_close(client.get());
      if (r) {
        ++by_racer;
      } else {
        EXPECT_EQ(r.error(), errc::operation_canceled);
        r = co_await acceptor.next({}, clock::now() + 2s);
        EXPECT_TRUE(r) << "round " << i << ": the connection was lost";
        if (!r) co_return;
        ++queued;
      }
      EXPECT_EQ(peer_address(r->get()).value(), local_address(client.get()).value())
          << "round " << i << ": a connection was handed out twice or out of order";
      test::set_reset_on_close(r->get());
    }
    EXPECT_EQ(acceptor.queued(), 0u);
  };
  run(body());
  EXPECT_EQ(by_racer + queued, rounds);
  EXPECT_FALSE(test::accept_nonblocking(listener.fd.get()));
  EXPECT_GT(queued, 0) << "no round was cancelled: the race was never exercised";
  EXPECT_GT(by_racer, 0) << "no round was won by the connection";
  RecordProperty("cancelled_rounds", queued);
}

// Connections the acceptor accepted but never handed out are closed when it goes away (the
// fixture counts descriptors); the clients see their connection end.
TEST_F(MultishotAcceptor, DestroyingTheAcceptorClosesWhatItStillHeld) {
  auto listener = test::loopback_listener::open();
  std::vector<unique_fd> clients;
  auto body = [&]() -> task<void> {
    {
      multishot_acceptor acceptor(listener.fd.get());
      clients.push_back(connect_now(listener.address));
      auto first = co_await acceptor.next();
      EXPECT_TRUE(first);
      for (int i = 0; i < 3; ++i) clients.push_back(connect_now(listener.address));
      co_await settle();
      EXPECT_EQ(acceptor.queued(), 3u);
    }
    co_await settle();  // the cancel reaches the kernel
    // No multishot is armed any more: a new connection waits in the backlog.
    clients.push_back(connect_now(listener.address));
    auto left = test::accept_nonblocking(listener.fd.get());
    EXPECT_TRUE(left);
  };
  run(body());
  for (std::size_t i = 1; i < 4; ++i) {
    char c;
    EXPECT_EQ(::recv(clients[i].get(), &c, 1, 0), 0) << "queued connection " << i << " left open";
  }
}

}  // namespace
}  // namespace ringo
