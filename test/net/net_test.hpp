// Loopback peers for the net tests: servers listening on several loopback addresses with one port
// (Go's dualStackServer), blackholes on a chosen address, and blocking checks of what a server-side
// socket received. Everything here is synchronous: the peers are kernel sockets nobody accepts on,
// so the loop under test is the only coroutine code running.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include <ringo/net.hpp>

#include "ringo_test.hpp"

namespace ringo::net::test {

using namespace ringo::test;  // the fd-leak fixture, blackholes, refused ports

// Whether ::1 can be bound (Go's supportsIPv6): dual-stack cases skip without it.
inline bool has_ipv6() {
  static const bool ok = [] {
    auto a = socket_address::numeric("::1", 0).value();
    auto fd = open_socket(AF_INET6, SOCK_STREAM);
    return fd && ::bind(fd->get(), a.data(), a.size()) == 0;
  }();
  return ok;
}

inline socket_address at(const char* host, std::uint16_t port) {
  return socket_address::numeric(host, port).value();
}

// Listening sockets on several loopback hosts, all on one port (Go's dualStackServer), and
// optionally blackholes on further hosts at that same port, so that one name's addresses can
// reach each kind. Nobody accepts: a connect completes in the kernel and waits in the accept
// queue. teardown() closes listeners, leaving a port that refuses connections there.
struct same_port_server {
  std::uint16_t port = 0;
  std::vector<std::string> hosts;
  std::vector<unique_fd> fds;
  std::vector<blackhole> blackholes;

  // nullopt when a blackhole does not hang (the kernel answers a full accept queue).
  static std::optional<same_port_server> open(std::vector<std::string> listen_hosts,
                                              std::vector<std::string> blackhole_hosts = {});

  socket_address address(const std::string& host) const { return at(host.c_str(), port); }
  int fd(const std::string& host) const {
    for (std::size_t i = 0; i < hosts.size(); ++i)
      if (hosts[i] == host) return fds[i].get();
    return -1;
  }
  // Closes the listeners of one network ("tcp4" or "tcp6"), like Go's teardownNetwork.
  void teardown(const std::string& network) {
    for (std::size_t i = 0; i < hosts.size(); ++i) {
      bool v6 = hosts[i].find(':') != std::string::npos;
      if ((network == "tcp6") == v6) fds[i].reset();
    }
  }
};

// A blackhole at a chosen address (port included): a listener with backlog 0 whose queue is full,
// so further SYNs are dropped and a connect hangs until cancelled (test::make_blackhole, with the
// port chosen by the caller so that a name's addresses can share it). nullopt when the port is
// taken or the kernel does not drop the SYNs.
inline std::optional<blackhole> make_blackhole_at(const socket_address& where) {
  auto fd = listen_stream(where, {.backlog = 0});
  if (!fd) return std::nullopt;
  auto bound = local_address(fd->get()).value();
  loopback_listener l{std::move(*fd), bound};
  auto filler = open_socket(where.family(), SOCK_STREAM).value();
  if (::connect(filler.get(), l.address.data(), l.address.size()) != 0) return std::nullopt;
  auto probe = open_socket(where.family(), SOCK_STREAM | SOCK_NONBLOCK).value();
  int r = ::connect(probe.get(), l.address.data(), l.address.size());
  if (r == 0 || errno != EINPROGRESS) return std::nullopt;
  pollfd pfd{probe.get(), POLLOUT, 0};
  if (::poll(&pfd, 1, 20) != 0) return std::nullopt;  // it completed or failed: not a blackhole
  return blackhole{std::move(l), std::move(filler)};
}

// A blackhole on `host` (a kernel-chosen port).
inline std::optional<blackhole> make_blackhole_on(const char* host) {
  return make_blackhole_at(at(host, 0));
}

inline std::optional<same_port_server> same_port_server::open(
    std::vector<std::string> listen_hosts, std::vector<std::string> blackhole_hosts) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    same_port_server s;
    bool taken = false;
    for (const std::string& h : listen_hosts) {
      auto fd = listen_stream(at(h.c_str(), s.port), {.backlog = 128});
      if (!fd) {
        taken = true;  // the first host's port is in use on this one: pick another
        break;
      }
      if (s.port == 0) s.port = local_address(fd->get()).value().port();
      s.hosts.push_back(h);
      s.fds.push_back(std::move(*fd));
    }
    for (std::size_t i = 0; !taken && i < blackhole_hosts.size(); ++i) {
      auto where = at(blackhole_hosts[i].c_str(), s.port);
      if (auto probe = open_socket(where.family(), SOCK_STREAM).value();
          ::bind(probe.get(), where.data(), where.size()) != 0) {
        taken = true;
        break;
      }
      auto bh = make_blackhole_at(where);
      if (!bh) return std::nullopt;
      if (s.port == 0) s.port = bh->listener.address.port();
      s.blackholes.push_back(std::move(*bh));
    }
    if (!taken) return s;
  }
  throw std::runtime_error("no port free on every loopback host");
}

// Accepts one queued connection within `timeout`, or returns an empty fd.
inline unique_fd accept_within(int listen_fd, std::chrono::milliseconds timeout) {
  pollfd pfd{listen_fd, POLLIN, 0};
  if (::poll(&pfd, 1, static_cast<int>(timeout.count())) != 1) return {};
  return unique_fd(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
}

// What a server-side socket reads next, waiting up to `timeout`: "" at end of stream (the peer
// closed without sending), the bytes if it sent some, nullopt if nothing came at all.
inline std::optional<std::string> read_within(int fd, std::chrono::milliseconds timeout) {
  pollfd pfd{fd, POLLIN, 0};
  if (::poll(&pfd, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
  char buf[256];
  ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  if (n < 0) return "error: " + std::string(std::strerror(errno));
  return std::string(buf, static_cast<std::size_t>(n));
}

// An int socket option of `fd`.
inline int get_option(int fd, int level, int name) {
  int value = -1;
  socklen_t len = sizeof value;
  if (::getsockopt(fd, level, name, &value, &len) != 0) return -1;
  return value;
}

}  // namespace ringo::net::test
