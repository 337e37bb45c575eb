// unique_fd and the synchronous socket helpers (open_socket, listen_stream, addresses, options).
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "ringo_test.hpp"

namespace ringo {
namespace {

class UniqueFd : public test::RingoTest {};
class Socket : public test::RingoTest {};

bool is_open(int fd) {
  return ::fcntl(fd, F_GETFD) != -1;
}

TEST_F(UniqueFd, ClosesOnDestruction) {
  int raw;
  {
    auto p = test::make_pipe();
    raw = p.read.get();
    EXPECT_TRUE(is_open(raw));
  }
  EXPECT_FALSE(is_open(raw));
}

TEST_F(UniqueFd, ReleaseGivesUpOwnership) {
  auto p = test::make_pipe();
  int raw = p.read.release();
  EXPECT_FALSE(p.read);
  EXPECT_EQ(p.read.get(), -1);
  EXPECT_TRUE(is_open(raw));
  ::close(raw);
}

TEST_F(UniqueFd, MoveTransfersAndResetCloses) {
  auto p = test::make_pipe();
  int raw = p.write.get();
  unique_fd moved = std::move(p.write);
  EXPECT_FALSE(p.write);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(moved.get(), raw);
  unique_fd assigned;
  assigned = std::move(moved);
  EXPECT_EQ(assigned.get(), raw);
  EXPECT_TRUE(is_open(raw));
  assigned.reset();
  EXPECT_FALSE(is_open(raw));
  EXPECT_FALSE(assigned);
}

TEST_F(Socket, OpenSocketIsCloseOnExec) {
  auto fd = open_socket(AF_INET, SOCK_STREAM);
  ASSERT_TRUE(fd);
  EXPECT_TRUE(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC);
  // Blocking: io_uring arms its own poll instead of failing with EAGAIN.
  EXPECT_FALSE(::fcntl(fd->get(), F_GETFL) & O_NONBLOCK);
}

TEST_F(Socket, OpenSocketReportsTheKernelsError) {
  auto fd = open_socket(12345, SOCK_STREAM);
  EXPECT_EQ(fd.error(), std::errc::address_family_not_supported) << fd.error().message();
}

TEST_F(Socket, ListenStreamPicksAPortAndListens) {
  auto fd = listen_stream(socket_address::numeric("127.0.0.1", 0).value());
  ASSERT_TRUE(fd);
  auto local = local_address(fd->get()).value();
  EXPECT_NE(local.port(), 0);
  int listening = 0;
  socklen_t len = sizeof listening;
  ASSERT_EQ(::getsockopt(fd->get(), SOL_SOCKET, SO_ACCEPTCONN, &listening, &len), 0);
  EXPECT_EQ(listening, 1);
  int reuse = 0;
  ASSERT_EQ(::getsockopt(fd->get(), SOL_SOCKET, SO_REUSEADDR, &reuse, &len), 0);
  EXPECT_EQ(reuse, 1);
}

TEST_F(Socket, ListenStreamWithReusePortAllowsASecondListener) {
  auto first = listen_stream(socket_address::numeric("127.0.0.1", 0).value(), {.reuse_port = true});
  ASSERT_TRUE(first);
  auto addr = local_address(first->get()).value();
  auto second = listen_stream(addr, {.reuse_port = true});
  EXPECT_TRUE(second) << second.error().message();
  auto third = listen_stream(addr);
  EXPECT_EQ(third.error(), std::errc::address_in_use);
}

TEST_F(Socket, PeerAddressOfAnUnconnectedSocketFails) {
  auto fd = open_socket(AF_INET, SOCK_STREAM).value();
  EXPECT_EQ(peer_address(fd.get()).error(), std::errc::not_connected);
  EXPECT_EQ(local_address(-1).error(), std::errc::bad_file_descriptor);
}

TEST_F(Socket, SetOptionSetsAndReportsErrors) {
  auto fd = open_socket(AF_INET, SOCK_STREAM).value();
  EXPECT_TRUE(set_option(fd.get(), IPPROTO_TCP, TCP_NODELAY, 1));
  int v = 0;
  socklen_t len = sizeof v;
  ASSERT_EQ(::getsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
  EXPECT_EQ(v, 1);
  EXPECT_EQ(set_option(-1, SOL_SOCKET, SO_REUSEADDR, 1).error(), std::errc::bad_file_descriptor);
}

}  // namespace
}  // namespace ringo
