#include "ringo/net/conn.hpp"

#include <cerrno>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "ringo/runtime/socket.hpp"

namespace ringo::net {

conn::conn(unique_fd fd, std::string network)
    : stream(fd.get()), fd_(std::move(fd)), network_(std::move(network)) {}

conn::conn(conn&& other) noexcept
    : stream(std::move(other)), fd_(std::move(other.fd_)), network_(std::move(other.network_)) {}

conn& conn::operator=(conn&& other) noexcept {
  stream::operator=(std::move(other));
  fd_ = std::move(other.fd_);
  network_ = std::move(other.network_);
  return *this;
}

void conn::close() noexcept {
  fd_.reset();
  set_socket(-1);
}

unique_fd conn::release() noexcept {
  set_socket(-1);
  return std::move(fd_);
}

result<void> conn::shutdown(int how) const noexcept {
  if (::shutdown(fd_.get(), how) != 0) return errno_code(errno);
  return {};
}

task<result<void>> conn::close_write(std::stop_token, time_point) {
  co_return shutdown(SHUT_WR);
}

task<result<hangup>> conn::wait_hangup(std::stop_token stop) {
  result<unsigned> ready = co_await poll(fd_.get(), POLLRDHUP, std::move(stop));
  if (!ready) co_return ready.error();
  if (*ready & (POLLERR | POLLHUP)) co_return hangup::broken;
  co_return has_buffered_input() ? hangup::closed_later : hangup::closed;
}

task<result<void>> conn::wait_readable(std::stop_token stop, time_point deadline) {
  result<unsigned> ready = co_await poll(fd_.get(), POLLIN | POLLRDHUP, std::move(stop), deadline);
  if (!ready) co_return ready.error();
  co_return result<void>{};
}

bool conn::has_buffered_input() const noexcept {
  int n = 0;
  return ::ioctl(fd_.get(), FIONREAD, &n) == 0 && n > 0;
}

result<address> conn::local_address() const noexcept {
  return ringo::local_address(fd_.get());
}

result<address> conn::remote_address() const noexcept {
  return peer_address(fd_.get());
}

result<void> conn::set_nodelay(bool on) const noexcept {
  return set_option(fd_.get(), IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
}

result<void> conn::set_keepalive(bool on, std::chrono::seconds period) const noexcept {
  if (auto r = set_option(fd_.get(), SOL_SOCKET, SO_KEEPALIVE, on ? 1 : 0); !r || !on) return r;
  int secs = static_cast<int>(std::max<std::chrono::seconds::rep>(period.count(), 1));
  if (auto r = set_option(fd_.get(), IPPROTO_TCP, TCP_KEEPIDLE, secs); !r) return r;
  return set_option(fd_.get(), IPPROTO_TCP, TCP_KEEPINTVL, secs);
}

}  // namespace ringo::net
