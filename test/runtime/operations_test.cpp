// The awaitable operations, one at a time: each succeeds, reports the kernel's error, and times out
// with errc::timed_out when its deadline passes. Stop requests are in cancel_test.cpp.
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "ringo_test.hpp"

namespace ringo {
namespace {

using namespace std::chrono_literals;
using test::ms;

class Operations : public test::RingoTest {};

std::string read_exactly(int fd, std::size_t n) {
  std::string out(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, out.data() + got, n - got);
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  out.resize(got);
  return out;
}

// Checks that an operation gave up at its deadline: timed_out (not a stop), and not early.
template <typename Result>
void expect_timed_out_at(const Result& r, time_point deadline) {
  EXPECT_EQ(r.error(), errc::timed_out) << r.error().message();
  EXPECT_NE(r.error(), errc::operation_canceled);
  EXPECT_EQ(r.error(), std::errc::timed_out);
  EXPECT_GE(clock::now(), deadline);
  EXPECT_LT(test::ms(clock::now() - deadline), 1000);
}

// --- nop, yield ----------------------------------------------------------------------------

TEST_F(Operations, NopCompletesThroughTheRing) {
  auto body = []() -> task<int> {
    int ok = 0;
    for (int i = 0; i < 100; ++i) {
      auto r = co_await nop();
      if (r) ++ok;
    }
    co_return ok;
  };
  EXPECT_EQ(run(body()), 100);
}

task<void> take_turns(char id, std::string* log) {
  for (int i = 0; i < 3; ++i) {
    *log += id;
    co_await yield();
  }
}
TEST_F(Operations, YieldLetsTheOtherReadyCoroutinesRunFirst) {
  std::string log;
  auto body = [&]() -> task<void> {
    scope s;
    s.spawn(take_turns('a', &log));
    s.spawn(take_turns('b', &log));
    co_await s.join();
  };
  run(body());
  EXPECT_EQ(log, "ababab");
}

// --- connect -------------------------------------------------------------------------------

TEST_F(Operations, ConnectReachesALoopbackListener) {
  auto listener = test::loopback_listener::open();
  auto body = [&]() -> task<void> {
    auto fd = open_socket(AF_INET, SOCK_STREAM).value();
    auto r = co_await connect(fd.get(), listener.address);
    EXPECT_TRUE(r) << r.error().message();
    socket_address peer;
    auto accepted = co_await accept(listener.fd.get(), &peer);
    EXPECT_TRUE(accepted);
    EXPECT_EQ(peer, local_address(fd.get()).value());
    EXPECT_EQ(peer_address(fd.get()).value(), listener.address);
  };
  run(body());
}

TEST_F(Operations, ConnectOverIpv6Loopback) {
  auto probe = open_socket(AF_INET6, SOCK_STREAM);
  auto addr = socket_address::numeric("::1", 0).value();
  if (!probe || ::bind(probe->get(), addr.data(), addr.size()) != 0)
    GTEST_SKIP() << "no IPv6 loopback on this machine";
  probe->reset();
  auto listener = test::loopback_listener::open("::1");
  auto body = [&]() -> task<result<void>> {
    auto fd = open_socket(AF_INET6, SOCK_STREAM).value();
    co_return co_await connect(fd.get(), listener.address);
  };
  auto r = run(body());
  EXPECT_TRUE(r) << r.error().message();
}

TEST_F(Operations, ConnectOverAnAbstractUnixSocket) {
  auto addr = socket_address::unix_path("@ringo-test-" + std::to_string(::getpid())).value();
  auto listener = listen_stream(addr).value();
  auto body = [&]() -> task<void> {
    auto fd = open_socket(AF_UNIX, SOCK_STREAM).value();
    auto r = co_await connect(fd.get(), addr);
    EXPECT_TRUE(r) << r.error().message();
    auto n = co_await send(fd.get(), "over unix");
    EXPECT_EQ(test::value_or(n, 0), 9u);
    auto accepted = co_await accept(listener.get());
    if (!accepted) co_return;
    char buf[16];
    auto got = co_await recv(accepted->get(), buf);
    EXPECT_EQ(std::string(buf, test::value_or(got, 0)), "over unix");
  };
  run(body());
}

TEST_F(Operations, ConnectToAClosedPortIsRefused) {
  auto addr = test::refused_address();
  auto body = [&]() -> task<result<void>> {
    auto fd = open_socket(AF_INET, SOCK_STREAM).value();
    co_return co_await connect(fd.get(), addr);
  };
  auto r = run(body());
  EXPECT_EQ(r.error(), std::errc::connection_refused) << r.error().message();
}

TEST_F(Operations, ConnectToABlackholePastItsDeadlineTimesOut) {
  auto bh = test::make_blackhole();
  if (!bh) GTEST_SKIP() << "the kernel does not drop SYNs to a full accept queue";
  auto deadline = clock::now() + 50ms;
  auto body = [&]() -> task<result<void>> {
    auto fd = open_socket(AF_INET, SOCK_STREAM).value();
    co_return co_await connect(fd.get(), bh->listener.address, {}, deadline);
  };
  expect_timed_out_at(run(body()), deadline);
}

// --- accept --------------------------------------------------------------------------------

TEST_F(Operations, AcceptReturnsTheConnectionAndThePeerAddress) {
  auto listener = test::loopback_listener::open();
  auto client = open_socket(AF_INET, SOCK_STREAM).value();
  ASSERT_EQ(::connect(client.get(), listener.address.data(), listener.address.size()), 0);
  auto body = [&]() -> task<void> {
    socket_address peer;
    auto fd = co_await accept(listener.fd.get(), &peer);
    EXPECT_TRUE(fd) << fd.error().message();
    if (!fd) co_return;
    EXPECT_EQ(peer, local_address(client.get()).value());
    EXPECT_EQ(local_address(fd->get()).value(), listener.address);
    // The accepted socket is close-on-exec, like everything ringo opens.
    EXPECT_TRUE(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC);
  };
  run(body());
}

TEST_F(Operations, AcceptWaitsForAConnection) {
  auto listener = test::loopback_listener::open();
  auto body = [&]() -> task<void> {
    scope s;
    s.spawn([](socket_address addr) -> task<void> {
      (void)co_await sleep_for(10ms);
      auto fd = open_socket(AF_INET, SOCK_STREAM).value();
      auto r = co_await connect(fd.get(), addr);
      EXPECT_TRUE(r);
    }(listener.address));
    auto fd = co_await accept(listener.fd.get());
    EXPECT_TRUE(fd) << fd.error().message();
    co_await s.join();
  };
  run(body());
}

TEST_F(Operations, AcceptOnASocketThatIsNotListeningFails) {
  auto body = []() -> task<result<unique_fd>> {
    auto fd = open_socket(AF_INET, SOCK_STREAM).value();
    co_return co_await accept(fd.get());
  };
  auto r = run(body());
  EXPECT_EQ(r.error(), std::errc::invalid_argument) << r.error().message();
}

TEST_F(Operations, AcceptPastItsDeadlineTimesOut) {
  auto listener = test::loopback_listener::open();
  auto deadline = clock::now() + 30ms;
  auto body = [&]() -> task<result<unique_fd>> {
    co_return co_await accept(listener.fd.get(), nullptr, {}, deadline);
  };
  expect_timed_out_at(run(body()), deadline);
}

// --- recv / read ---------------------------------------------------------------------------

TEST_F(Operations, RecvReturnsTheBytesSent) {
  auto pair = test::make_tcp_pair();
  ASSERT_EQ(::send(pair.server.get(), "hello", 5, 0), 5);
  auto body = [&]() -> task<std::string> {
    std::array<char, 64> buf{};
    auto n = co_await recv(pair.client.get(), buf);
    co_return std::string(buf.data(), test::value_or(n, 0));
  };
  EXPECT_EQ(run(body()), "hello");
}

TEST_F(Operations, RecvWaitsForData) {
  auto pair = test::make_tcp_pair();
  auto body = [&]() -> task<std::string> {
    scope s;
    s.spawn([](int fd) -> task<void> {
      (void)co_await sleep_for(10ms);
      auto n = co_await send(fd, "late");
      EXPECT_EQ(test::value_or(n, 0), 4u);
    }(pair.server.get()));
    std::vector<std::byte> buf(64);
    auto n = co_await recv(pair.client.get(), buf);
    co_await s.join();
    co_return std::string(reinterpret_cast<const char*>(buf.data()), test::value_or(n, 0));
  };
  EXPECT_EQ(run(body()), "late");
}

// recv_awaiting polls before it reads: bytes already there and bytes still to come both arrive.
TEST_F(Operations, RecvAwaitingGetsBytesAlreadyThereAndBytesToCome) {
  auto pair = test::make_tcp_pair();
  ASSERT_EQ(::send(pair.server.get(), "now", 3, 0), 3);
  auto body = [&]() -> task<std::string> {
    char buf[16];
    auto first = co_await recv_awaiting(pair.client.get(), buf);
    scope s;
    s.spawn([](int fd) -> task<void> {
      (void)co_await sleep_for(10ms);
      (void)co_await send(fd, "later");
    }(pair.server.get()));
    char more[16];
    auto second = co_await recv_awaiting(pair.client.get(), more);
    co_await s.join();
    co_return std::string(buf, test::value_or(first, 0)) + "/" +
        std::string(more, test::value_or(second, 0));
  };
  EXPECT_EQ(run(body()), "now/later");
}

TEST_F(Operations, RecvWithPeekLeavesTheBytesInTheSocket) {
  auto pair = test::make_tcp_pair();
  ASSERT_EQ(::send(pair.server.get(), "peek", 4, 0), 4);
  auto body = [&]() -> task<std::string> {
    char a[8], b[8];
    auto first = co_await recv(pair.client.get(), a, {}, no_deadline, MSG_PEEK);
    auto second = co_await recv(pair.client.get(), b);
    co_return std::string(a, test::value_or(first, 0)) + "/" +
        std::string(b, test::value_or(second, 0));
  };
  EXPECT_EQ(run(body()), "peek/peek");
}

TEST_F(Operations, RecvReturnsZeroAtEndOfStream) {
  auto pair = test::make_tcp_pair();
  ASSERT_EQ(::shutdown(pair.server.get(), SHUT_WR), 0);
  auto body = [&]() -> task<result<std::size_t>> {
    char buf[8];
    co_return co_await recv(pair.client.get(), buf);
  };
  auto r = run(body());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, 0u);
}

TEST_F(Operations, RecvOnAnUnconnectedSocketFails) {
  auto body = []() -> task<result<std::size_t>> {
    auto fd = open_socket(AF_INET, SOCK_STREAM).value();
    char buf[8];
    co_return co_await recv(fd.get(), buf);
  };
  auto r = run(body());
  EXPECT_EQ(r.error(), std::errc::not_connected) << r.error().message();
}

TEST_F(Operations, RecvPastItsDeadlineTimesOut) {
  auto pair = test::make_tcp_pair();
  auto deadline = clock::now() + 30ms;
  auto body = [&]() -> task<result<std::size_t>> {
    char buf[8];
    co_return co_await recv(pair.client.get(), buf, {}, deadline);
  };
  expect_timed_out_at(run(body()), deadline);
}

TEST_F(Operations, ADeadlineThatAlreadyPassedTimesOutWithoutTouchingTheSocket) {
  auto pair = test::make_tcp_pair();
  ASSERT_EQ(::send(pair.server.get(), "x", 1, 0), 1);
  auto body = [&]() -> task<result<std::size_t>> {
    char buf[8];
    co_return co_await recv(pair.client.get(), buf, {}, clock::now() - 1ms);
  };
  auto r = run(body());
  EXPECT_EQ(r.error(), errc::timed_out);
  EXPECT_EQ(test::drain_nonblocking(pair.client.get()), 1u);  // the byte is still there
}

// An operation that completes before its deadline leaves no timer behind: sleeping past the
// deadline afterwards must not touch the finished operation (ASan would see its dead frame).
TEST_F(Operations, ACompletedOperationsDeadlineNeverFires) {
  auto pair = test::make_tcp_pair();
  ASSERT_EQ(::send(pair.server.get(), "ok", 2, 0), 2);
  auto body = [&]() -> task<void> {
    for (int i = 0; i < 2; ++i) {
      char buf[8];
      auto n = co_await recv(pair.client.get(), buf, {}, clock::now() + 20ms);
      if (i == 0) {
        EXPECT_EQ(test::value_or(n, 0), 2u);
      } else {
        EXPECT_EQ(n.error(), errc::timed_out);
      }
    }
    auto slept = co_await sleep_for(40ms);
    EXPECT_TRUE(slept);
  };
  run(body());
}

TEST_F(Operations, ReadFromAPipe) {
  auto p = test::make_pipe();
  ASSERT_EQ(::write(p.write.get(), "piped", 5), 5);
  auto body = [&]() -> task<std::string> {
    char buf[16];
    auto n = co_await read(p.read.get(), buf);
    co_return std::string(buf, test::value_or(n, 0));
  };
  EXPECT_EQ(run(body()), "piped");
}

TEST_F(Operations, ReadFromTheWriteEndOfAPipeFails) {
  auto p = test::make_pipe();
  auto body = [&]() -> task<result<std::size_t>> {
    char buf[16];
    co_return co_await read(p.write.get(), buf);
  };
  auto r = run(body());
  EXPECT_EQ(r.error(), std::errc::bad_file_descriptor) << r.error().message();
}

TEST_F(Operations, ReadPastItsDeadlineTimesOut) {
  auto p = test::make_pipe();
  auto deadline = clock::now() + 30ms;
  auto body = [&]() -> task<result<std::size_t>> {
    char buf[16];
    co_return co_await read(p.read.get(), buf, {}, deadline);
  };
  expect_timed_out_at(run(body()), deadline);
}

// --- send / write / writev / sendmsg -------------------------------------------------------

TEST_F(Operations, SendDeliversTheBytes) {
  auto pair = test::make_tcp_pair();
  auto body = [&]() -> task<result<std::size_t>> {
    std::vector<char> payload{'a', 'b', 'c'};
    co_return co_await send(pair.client.get(), payload);
  };
  auto r = run(body());
  EXPECT_EQ(test::value_or(r, 0), 3u);
  EXPECT_EQ(read_exactly(pair.server.get(), 3), "abc");
}

TEST_F(Operations, SendAfterShutdownFailsWithBrokenPipeAndNoSignal) {
  auto pair = test::make_tcp_pair();
  ASSERT_EQ(::shutdown(pair.client.get(), SHUT_WR), 0);
  // SIGPIPE's default action would kill the test: MSG_NOSIGNAL must turn it into EPIPE.
  auto body = [&]() -> task<result<std::size_t>> {
    co_return co_await send(pair.client.get(), "too late");
  };
  auto r = run(body());
  EXPECT_EQ(r.error(), std::errc::broken_pipe) << r.error().message();
}

TEST_F(Operations, SendToAFullSocketPastItsDeadlineTimesOut) {
  auto pair = test::make_tcp_pair();
  test::fill_until_blocked(pair.client.get());
  auto deadline = clock::now() + 30ms;
  auto body = [&]() -> task<result<std::size_t>> {
    co_return co_await send(pair.client.get(), "more", {}, deadline);
  };
  expect_timed_out_at(run(body()), deadline);
}

TEST_F(Operations, WriteToAPipe) {
  auto p = test::make_pipe();
  auto body = [&]() -> task<result<std::size_t>> {
    co_return co_await write(p.write.get(), "to the pipe");
  };
  EXPECT_EQ(test::value_or(run(body()), 0), 11u);
  EXPECT_EQ(read_exactly(p.read.get(), 11), "to the pipe");
}

TEST_F(Operations, WriteToTheReadEndOfAPipeFails) {
  auto p = test::make_pipe();
  auto body = [&]() -> task<result<std::size_t>> {
    co_return co_await write(p.read.get(), "wrong end");
  };
  EXPECT_EQ(run(body()).error(), std::errc::bad_file_descriptor);
}

TEST_F(Operations, WriteToAFullPipePastItsDeadlineTimesOut) {
  auto p = test::make_pipe();
  test::fill_until_blocked(p.write.get());
  auto deadline = clock::now() + 30ms;
  auto body = [&]() -> task<result<std::size_t>> {
    co_return co_await write(p.write.get(), "more", {}, deadline);
  };
  expect_timed_out_at(run(body()), deadline);
}

TEST_F(Operations, WritevGathersEveryBuffer) {
  auto pair = test::make_tcp_pair();
  auto body = [&]() -> task<result<std::size_t>> {
    std::string a = "GET ", b = "/ HTTP/1.1", c = "\r\n";
    std::array<iovec, 3> iov{{{a.data(), a.size()}, {b.data(), b.size()}, {c.data(), c.size()}}};
    co_return co_await writev(pair.client.get(), iov);
  };
  EXPECT_EQ(test::value_or(run(body()), 0), 16u);
  EXPECT_EQ(read_exactly(pair.server.get(), 16), "GET / HTTP/1.1\r\n");
}

TEST_F(Operations, WritevToTheReadEndOfAPipeFails) {
  auto p = test::make_pipe();
  auto body = [&]() -> task<result<std::size_t>> {
    char a[] = "x";
    std::array<iovec, 1> iov{{{a, 1}}};
    co_return co_await writev(p.read.get(), iov);
  };
  EXPECT_EQ(run(body()).error(), std::errc::bad_file_descriptor);
}

TEST_F(Operations, WritevToAFullPipePastItsDeadlineTimesOut) {
  auto p = test::make_pipe();
  test::fill_until_blocked(p.write.get());
  auto deadline = clock::now() + 30ms;
  auto body = [&]() -> task<result<std::size_t>> {
    char a[] = "x";
    std::array<iovec, 1> iov{{{a, 1}}};
    co_return co_await writev(p.write.get(), iov, {}, deadline);
  };
  expect_timed_out_at(run(body()), deadline);
}

TEST_F(Operations, SendmsgGathersEveryBuffer) {
  auto pair = test::make_tcp_pair();
  auto body = [&]() -> task<result<std::size_t>> {
    char a[] = "head", b[] = "+body";
    std::array<iovec, 2> iov{{{a, 4}, {b, 5}}};
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = iov.size();
    co_return co_await sendmsg(pair.client.get(), msg);
  };
  EXPECT_EQ(test::value_or(run(body()), 0), 9u);
  EXPECT_EQ(read_exactly(pair.server.get(), 9), "head+body");
}

TEST_F(Operations, SendmsgAfterShutdownFailsWithBrokenPipe) {
  auto pair = test::make_tcp_pair();
  ASSERT_EQ(::shutdown(pair.client.get(), SHUT_WR), 0);
  auto body = [&]() -> task<result<std::size_t>> {
    char a[] = "x";
    iovec iov{a, 1};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    co_return co_await sendmsg(pair.client.get(), msg);
  };
  EXPECT_EQ(run(body()).error(), std::errc::broken_pipe);
}

TEST_F(Operations, SendmsgToAFullSocketPastItsDeadlineTimesOut) {
  auto pair = test::make_tcp_pair();
  test::fill_until_blocked(pair.client.get());
  auto deadline = clock::now() + 30ms;
  auto body = [&]() -> task<result<std::size_t>> {
    char a[] = "x";
    iovec iov{a, 1};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    co_return co_await sendmsg(pair.client.get(), msg, {}, deadline);
  };
  expect_timed_out_at(run(body()), deadline);
}

// --- poll ----------------------------------------------------------------------------------

TEST_F(Operations, PollReportsReadableWhenDataArrives) {
  auto pair = test::make_tcp_pair();
  auto body = [&]() -> task<result<unsigned>> {
    scope s;
    s.spawn([](int fd) -> task<void> {
      (void)co_await sleep_for(5ms);
      auto n = co_await send(fd, "!");
      EXPECT_TRUE(n);
    }(pair.server.get()));
    auto r = co_await poll(pair.client.get(), POLLIN);
    co_await s.join();
    co_return r;
  };
  auto r = run(body());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(*r & POLLIN);
  EXPECT_EQ(test::drain_nonblocking(pair.client.get()), 1u);  // poll consumed nothing
}

TEST_F(Operations, PollReportsThePeerHangingUp) {
  auto pair = test::make_tcp_pair();
  auto body = [&]() -> task<result<unsigned>> {
    scope s;
    s.spawn([](unique_fd* fd) -> task<void> {
      (void)co_await sleep_for(5ms);
      fd->reset();
    }(&pair.server));
    auto r = co_await poll(pair.client.get(), POLLRDHUP);
    co_await s.join();
    co_return r;
  };
  auto r = run(body());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(*r & POLLRDHUP);
}

TEST_F(Operations, PollOnAnInvalidDescriptorFails) {
  // -1 rather than a number just closed: the ring and its eventfd may reuse that one.
  auto body = []() -> task<result<unsigned>> { co_return co_await poll(-1, POLLIN); };
  EXPECT_EQ(run(body()).error(), std::errc::bad_file_descriptor);
}

TEST_F(Operations, PollPastItsDeadlineTimesOut) {
  auto pair = test::make_tcp_pair();
  auto deadline = clock::now() + 30ms;
  auto body = [&]() -> task<result<unsigned>> {
    co_return co_await poll(pair.client.get(), POLLIN, {}, deadline);
  };
  expect_timed_out_at(run(body()), deadline);
}

// --- shutdown, close, cancel_fd ------------------------------------------------------------

// Qualified: glibc's SHUT_* enumerators would otherwise bring ::shutdown in through ADL.
TEST_F(Operations, ShutdownEndsThePeersStream) {
  auto pair = test::make_tcp_pair();
  auto body = [&]() -> task<result<void>> {
    co_return co_await ringo::shutdown(pair.client.get(), SHUT_WR);
  };
  auto r = run(body());
  EXPECT_TRUE(r) << r.error().message();
  char c;
  EXPECT_EQ(::recv(pair.server.get(), &c, 1, 0), 0);
}

TEST_F(Operations, ShutdownOfAnUnconnectedSocketFails) {
  auto body = []() -> task<result<void>> {
    auto fd = open_socket(AF_INET, SOCK_STREAM).value();
    co_return co_await ringo::shutdown(fd.get(), SHUT_RDWR);
  };
  EXPECT_EQ(run(body()).error(), std::errc::not_connected);
}

TEST_F(Operations, CloseReleasesTheDescriptor) {
  auto p = test::make_pipe();
  int fd = p.write.get();
  auto body = [&]() -> task<result<void>> { co_return co_await close(std::move(p.write)); };
  auto r = run(body());
  EXPECT_TRUE(r) << r.error().message();
  EXPECT_FALSE(p.write);
  errno = 0;
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
  char c;
  EXPECT_EQ(::read(p.read.get(), &c, 1), 0);  // the write end is gone: end of file
}

TEST_F(Operations, CloseOfAnInvalidDescriptorFails) {
  auto body = []() -> task<result<void>> { co_return co_await close(unique_fd()); };
  EXPECT_EQ(run(body()).error(), std::errc::bad_file_descriptor);
}

TEST_F(Operations, CancelFdCancelsEveryOperationOnTheDescriptor) {
  auto pair = test::make_tcp_pair();
  auto body = [&]() -> task<void> {
    std::array<result<std::size_t>, 2> got{errc::timed_out, errc::timed_out};
    scope s;
    for (auto& slot : got) {
      s.spawn([](int fd, result<std::size_t>* out) -> task<void> {
        char buf[8];
        *out = co_await recv(fd, buf);
      }(pair.client.get(), &slot));
    }
    co_await yield();  // the recvs are in the kernel
    co_await yield();
    auto n = co_await cancel_fd(pair.client.get());
    co_await s.join();
    EXPECT_EQ(test::value_or(n, -1), 2);
    for (auto& r : got) EXPECT_EQ(r.error(), std::errc::operation_canceled) << r.error().message();
  };
  run(body());
}

TEST_F(Operations, CancelFdWithNothingInFlightCancelsNothing) {
  auto pair = test::make_tcp_pair();
  auto body = [&]() -> task<result<int>> { co_return co_await cancel_fd(pair.client.get()); };
  EXPECT_EQ(test::value_or(run(body()), -1), 0);
}

}  // namespace
}  // namespace ringo
