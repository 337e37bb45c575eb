#include "ringo_test.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace ringo::test {

tcp_pair make_tcp_pair(const char* host) {
  auto listener = loopback_listener::open(host);
  auto client = open_socket(listener.address.family(), SOCK_STREAM).value();
  if (::connect(client.get(), listener.address.data(), listener.address.size()) != 0)
    throw std::system_error(errno, std::system_category(), "connect");
  unique_fd server(::accept4(listener.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!server) throw std::system_error(errno, std::system_category(), "accept");
  return {std::move(client), std::move(server)};
}

std::optional<blackhole> make_blackhole(const char* host) {
  auto listener = loopback_listener::open(host, 0);
  auto filler = open_socket(listener.address.family(), SOCK_STREAM).value();
  if (::connect(filler.get(), listener.address.data(), listener.address.size()) != 0)
    return std::nullopt;
  // Probe: a further non-blocking connect must stay in progress rather than complete or fail.
  auto probe = open_socket(listener.address.family(), SOCK_STREAM | SOCK_NONBLOCK).value();
  int r = ::connect(probe.get(), listener.address.data(), listener.address.size());
  if (r == 0 || errno != EINPROGRESS) return std::nullopt;
  ::usleep(20'000);
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(probe.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  pollfd pfd{probe.get(), POLLOUT, 0};
  if (::poll(&pfd, 1, 0) != 0 || err != 0) return std::nullopt;
  return blackhole{std::move(listener), std::move(filler)};
}

socket_address refused_address(const char* host) {
  // Bind a port, then close it without listening: nothing answers there for the test's duration
  // (the kernel does not hand a just-released port to another bind(0) right away).
  auto addr = socket_address::numeric(host, 0).value();
  auto fd = open_socket(addr.family(), SOCK_STREAM).value();
  if (::bind(fd.get(), addr.data(), addr.size()) != 0)
    throw std::system_error(errno, std::system_category(), "bind");
  return local_address(fd.get()).value();
}

}  // namespace ringo::test
