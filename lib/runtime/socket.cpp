#include "ringo/runtime/socket.hpp"

#include <cerrno>
#include <sys/socket.h>

namespace ringo {

result<unique_fd> open_socket(int family, int type, int protocol) noexcept {
  int fd = ::socket(family, type | SOCK_CLOEXEC, protocol);
  if (fd < 0) return errno_code(errno);
  return unique_fd(fd);
}

result<void> set_option(int fd, int level, int name, int value) noexcept {
  if (::setsockopt(fd, level, name, &value, sizeof value) != 0) return errno_code(errno);
  return {};
}

result<unique_fd> listen_stream(const socket_address& address, listen_options options) noexcept {
  auto fd = open_socket(address.family(), SOCK_STREAM);
  if (!fd) return fd;
  int s = fd->get();
  if (!address.is_unix()) {
    if (options.reuse_address) {
      if (auto r = set_option(s, SOL_SOCKET, SO_REUSEADDR, 1); !r) return r.error();
    }
    if (options.reuse_port) {
      if (auto r = set_option(s, SOL_SOCKET, SO_REUSEPORT, 1); !r) return r.error();
    }
  }
  if (::bind(s, address.data(), address.size()) != 0) return errno_code(errno);
  if (::listen(s, options.backlog) != 0) return errno_code(errno);
  return fd;
}

result<socket_address> local_address(int fd) noexcept {
  socket_address a;
  *a.size_ptr() = socket_address::capacity();
  if (::getsockname(fd, a.data(), a.size_ptr()) != 0) return errno_code(errno);
  return a;
}

result<socket_address> peer_address(int fd) noexcept {
  socket_address a;
  *a.size_ptr() = socket_address::capacity();
  if (::getpeername(fd, a.data(), a.size_ptr()) != 0) return errno_code(errno);
  return a;
}

}  // namespace ringo
