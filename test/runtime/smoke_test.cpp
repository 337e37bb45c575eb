#include <gtest/gtest.h>

#include "ringo_test.hpp"

namespace ringo {
namespace {

using namespace std::chrono_literals;
using test::RingoTest;

task<int> add(int a, int b) {
  co_return a + b;
}

TEST_F(RingoTest, RunsATask) {
  EXPECT_EQ(run(add(1, 2)), 3);
}

task<int> many_nops(int n) {
  for (int i = 0; i < n; ++i) {
    auto r = co_await nop();
    if (!r) co_return -1;
  }
  co_return n;
}
TEST_F(RingoTest, AwaitsNops) {
  EXPECT_EQ(run(many_nops(1000)), 1000);
}

task<result<std::size_t>> recv_with_stop(int fd) {
  std::stop_source src;
  scope s;
  s.spawn([](std::stop_source* stop) -> task<void> {
    co_await sleep_for(20ms);
    stop->request_stop();
  }(&src));
  char buf[16];
  auto r = co_await recv(fd, buf, src.get_token());
  co_await s.join();
  co_return r;
}
TEST_F(RingoTest, StopCancelsRecv) {
  auto pair = test::make_tcp_pair();
  auto start = clock::now();
  auto r = run(recv_with_stop(pair.client.get()));
  EXPECT_EQ(r.error(), std::errc::operation_canceled);
  EXPECT_GE(test::ms(clock::now() - start), 19);
}

TEST_F(RingoTest, DeadlineTimesOutRecv) {
  auto pair = test::make_tcp_pair();
  auto r = run([](int fd) -> task<result<std::size_t>> {
    char buf[16];
    co_return co_await recv(fd, buf, {}, clock::now() + 30ms);
  }(pair.client.get()));
  EXPECT_EQ(r.error(), std::errc::timed_out);
  EXPECT_EQ(r.error(), errc::timed_out);
}

TEST_F(RingoTest, BlackholeConnectHangsUntilStopped) {
  auto bh = test::make_blackhole();
  if (!bh) GTEST_SKIP() << "kernel does not drop SYNs to a full accept queue";
  auto r = run([](socket_address addr) -> task<result<void>> {
    auto fd = open_socket(addr.family(), SOCK_STREAM).value();
    co_return co_await connect(fd.get(), addr, {}, clock::now() + 50ms);
  }(bh->listener.address));
  EXPECT_EQ(r.error(), std::errc::timed_out);
}

}  // namespace
}  // namespace ringo
