#include "ringo/net/conn.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include "ringo/runtime/io_context.hpp"
#include "ringo/runtime/socket.hpp"

namespace ringo::net {

namespace {

constexpr std::string_view network_names[] = {"tcp", "tcp4", "tcp6", "unix", "unixpacket"};

std::uint8_t network_code(std::string_view network) noexcept {
  for (std::uint8_t i = 0; i < std::size(network_names); ++i)
    if (network_names[i] == network) return i;
  return 0;
}

}  // namespace

conn::conn(unique_fd fd, std::string_view network) noexcept
    : stream(fd.release()), network_(network_code(network)) {}

conn& conn::operator=(conn&& other) noexcept {
  if (this != &other) {
    close();
    stream::operator=(std::move(other));
    network_ = other.network_;
  }
  return *this;
}

conn::~conn() {
  close();
}

std::string_view conn::network() const noexcept {
  return network_names[network_];
}

void conn::close() noexcept {
  receiver_ = {};  // (its cancel goes by the receive's identity, not the descriptor)
  unique_fd(socket()).reset();
  set_socket(-1);
}

unique_fd conn::release() noexcept {
  receiver_ = {};
  unique_fd fd(socket());
  set_socket(-1);
  return fd;
}

result<void> conn::shutdown(int how) const noexcept {
  if (::shutdown(socket(), how) != 0) return errno_code(errno);
  return {};
}

task<result<void>> conn::close_write(std::stop_token, time_point) {
  co_return shutdown(SHUT_WR);
}

task<result<hangup>> conn::wait_hangup(std::stop_token stop) {
  result<unsigned> ready = co_await poll(socket(), POLLRDHUP, std::move(stop));
  if (!ready) co_return ready.error();
  if (*ready & (POLLERR | POLLHUP)) co_return hangup::broken;
  co_return has_buffered_input() ? hangup::closed_later : hangup::closed;
}

task<result<std::uint64_t>> conn::send_file(const file& f, std::uint64_t offset,
                                            std::uint64_t length, std::stop_token stop,
                                            time_point deadline) {
  deadline = std::min(deadline, write_deadline());
  if (length == 0) co_return std::uint64_t{0};
  io_context* ctx = io_context::current();
  result<io_context::splice_pipe> p = ctx->take_pipe();
  if (!p) co_return p.error();
  std::uint64_t sent = 0;
  while (sent < length) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(p->capacity, length - sent));
    result<std::size_t> in =
        co_await splice(f.native_handle(), static_cast<std::int64_t>(offset + sent), p->write.get(),
                        -1, want, stop, deadline);
    if (!in) co_return in.error();  // (the pipe is empty: nothing moved)
    if (*in == 0) {
      ctx->give_back_pipe(std::move(*p));
      co_return make_error_code(net::errc::unexpected_eof);  // the file shrank
    }
    for (std::size_t left = *in; left > 0;) {
      result<std::size_t> out =
          co_await splice(p->read.get(), -1, socket(), -1, left, stop, deadline);
      if (!out) co_return out.error();  // bytes may be left in the pipe: it is closed
      left -= *out;
    }
    sent += *in;
  }
  ctx->give_back_pipe(std::move(*p));
  co_return sent;
}

bool conn::receive_multishot() {
  if (receiver_ || socket() < 0) return static_cast<bool>(receiver_);
  io_context* ctx = io_context::current();
  if (!ctx || !ctx->recv_buffers()) return false;  // the fallback would cost more than a recv
  receiver_ = multishot_receiver(socket());
  return true;
}

bool conn::has_buffered_input() const noexcept {
  if (receiver_ && receiver_.queued() > 0) return true;
  int n = 0;
  return ::ioctl(socket(), FIONREAD, &n) == 0 && n > 0;
}

result<address> conn::local_address() const noexcept {
  return ringo::local_address(socket());
}

result<address> conn::remote_address() const noexcept {
  return peer_address(socket());
}

result<void> conn::set_nodelay(bool on) const noexcept {
  return set_option(socket(), IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
}

result<void> conn::set_keepalive(bool on, std::chrono::seconds period) const noexcept {
  if (auto r = set_option(socket(), SOL_SOCKET, SO_KEEPALIVE, on ? 1 : 0); !r || !on) return r;
  int secs = static_cast<int>(std::max<std::chrono::seconds::rep>(period.count(), 1));
  if (auto r = set_option(socket(), IPPROTO_TCP, TCP_KEEPIDLE, secs); !r) return r;
  return set_option(socket(), IPPROTO_TCP, TCP_KEEPINTVL, secs);
}

}  // namespace ringo::net
