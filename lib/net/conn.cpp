#include "ringo/net/conn.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>

#include "ringo/runtime/socket.hpp"

namespace ringo::net {

conn::conn(unique_fd fd, std::string network) : fd_(std::move(fd)), network_(std::move(network)) {}

task<result<std::size_t>> conn::read_full(mutable_buffer buf, std::stop_token stop,
                                          time_point deadline) const {
  std::size_t done = 0;
  while (done < buf.size) {
    auto n = co_await read(buf.subspan(done), stop, deadline);
    if (!n) co_return n.error();
    if (*n == 0) co_return make_error_code(errc::unexpected_eof);
    done += *n;
  }
  co_return done;
}

task<result<std::size_t>> conn::write_all(const_buffer buf, std::stop_token stop,
                                          time_point deadline) const {
  std::size_t done = 0;
  while (done < buf.size) {
    auto n = co_await write(buf.subspan(done), stop, deadline);
    if (!n) co_return n.error();
    done += *n;
  }
  co_return done;
}

result<void> conn::shutdown(int how) const noexcept {
  if (::shutdown(fd_.get(), how) != 0) return errno_code(errno);
  return {};
}

result<address> conn::local_address() const noexcept { return ringo::local_address(fd_.get()); }

result<address> conn::remote_address() const noexcept { return peer_address(fd_.get()); }

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
