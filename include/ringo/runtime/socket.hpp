// Synchronous socket set-up helpers: creating, binding and listening never block, so they run on
// the loop thread as plain system calls; everything that can block goes through the ring.
// Sockets are created blocking (no O_NONBLOCK): io_uring then arms its poll itself instead of
// returning -EAGAIN, which some kernels do for O_NONBLOCK files.
#pragma once

#include <ringo/runtime/result.hpp>
#include <ringo/runtime/socket_address.hpp>
#include <ringo/runtime/unique_fd.hpp>

namespace ringo {

// socket(2) with SOCK_CLOEXEC.
result<unique_fd> open_socket(int family, int type, int protocol = 0) noexcept;

struct listen_options {
  int backlog = 4096;
  bool reuse_address = true;  // SO_REUSEADDR: rebinding a port in TIME_WAIT
  bool reuse_port = false;    // SO_REUSEPORT: one listener per thread on the same port
};
// A stream socket bound to `address` and listening. Port 0 picks a free port (see local_address).
result<unique_fd> listen_stream(const socket_address& address,
                                listen_options options = {}) noexcept;

result<socket_address> local_address(int fd) noexcept;
result<socket_address> peer_address(int fd) noexcept;
result<void> set_option(int fd, int level, int name, int value) noexcept;

}  // namespace ringo
