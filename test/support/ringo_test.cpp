#include "ringo_test.hpp"

#include <algorithm>
#include <fcntl.h>
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

unix_pair make_unix_pair() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    throw std::system_error(errno, std::system_category(), "socketpair");
  return {unique_fd(sv[0]), unique_fd(sv[1])};
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

double median(std::vector<double> samples) {
  if (samples.empty()) return 0;
  auto mid = samples.begin() + static_cast<std::ptrdiff_t>(samples.size() / 2);
  std::nth_element(samples.begin(), mid, samples.end());
  return *mid;
}

pipe_fds make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::system_category(), "pipe");
  return {unique_fd(fds[0]), unique_fd(fds[1])};
}

namespace {

// Runs `f` with O_NONBLOCK set on the open file description, then clears it again: ringo's
// descriptors are blocking, and io_uring behaves differently on non-blocking ones.
template <typename F>
auto nonblocking(int fd, F f) {
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  auto out = f();
  ::fcntl(fd, F_SETFL, flags);
  return out;
}

}  // namespace

std::size_t fill_until_blocked(int fd) {
  return nonblocking(fd, [fd] {
    static const std::string chunk(65536, 'f');
    std::size_t total = 0;
    for (;;) {
      ssize_t n = ::write(fd, chunk.data(), chunk.size());
      if (n <= 0) return total;
      total += static_cast<std::size_t>(n);
    }
  });
}

std::size_t drain_nonblocking(int fd) {
  return nonblocking(fd, [fd] {
    char buf[65536];
    std::size_t total = 0;
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return total;
      total += static_cast<std::size_t>(n);
    }
  });
}

std::string take_available(int fd) {
  return nonblocking(fd, [fd] {
    std::string out;
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return out;
      out.append(buf, static_cast<std::size_t>(n));
    }
  });
}

void set_reset_on_close(int fd) {
  linger l{.l_onoff = 1, .l_linger = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

unique_fd accept_nonblocking(int listen_fd) {
  return nonblocking(listen_fd, [listen_fd] {
    return unique_fd(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
  });
}

task<void> stop_after(std::stop_source* src, duration d) {
  (void)co_await sleep_for(d);
  src->request_stop();
}

task<void> make_ready_and_stop(race_plan plan, std::function<void()> make_ready,
                               std::stop_source* src) {
  for (int i = 0; i < plan.turns_before; ++i) co_await yield();
  if (plan.stop_first)
    src->request_stop();
  else
    make_ready();
  for (int i = 0; i < plan.turns_between; ++i) co_await yield();
  if (plan.stop_first)
    make_ready();
  else
    src->request_stop();
}

}  // namespace ringo::test
