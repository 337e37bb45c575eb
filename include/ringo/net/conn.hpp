// conn: a connected stream socket (Go's net.Conn for TCP and unix), the plain net::stream.
//
// Reads and writes are the socket's own operations on the ring (stream::read, write, read_full,
// write_all); each takes a stop token and a deadline, and the conn's default deadlines (Go's
// SetDeadline) apply when the call gives none. read() returns 0 at end of stream. A conn owns its
// descriptor: destroying or close()-ing it closes the socket, which must happen only once no
// operation on it is in flight (the owner awaits its readers first).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <stop_token>
#include <string>

#include <ringo/net/address.hpp>
#include <ringo/net/error.hpp>
#include <ringo/net/stream.hpp>
#include <ringo/runtime/operations.hpp>
#include <ringo/runtime/task.hpp>
#include <ringo/runtime/unique_fd.hpp>

namespace ringo::net {

class conn final : public stream {
 public:
  conn() noexcept = default;
  // Takes ownership of a connected socket; `network` names it in errors ("tcp", "unix").
  explicit conn(unique_fd fd, std::string network = "tcp");
  conn(conn&& other) noexcept;
  conn& operator=(conn&& other) noexcept;

  bool is_open() const noexcept override { return bool(fd_); }
  int native_handle() const noexcept { return fd_.get(); }
  std::string_view network() const noexcept override { return network_; }

  // shutdown(2): SHUT_WR sends FIN after pending data (a half close).
  result<void> shutdown(int how = SHUT_WR) const noexcept;
  task<result<void>> close_write(std::stop_token stop = {},
                                 time_point deadline = no_deadline) override;
  // Closes the socket now. Idempotent.
  void close() noexcept override;
  // Gives up ownership of the descriptor.
  unique_fd release() noexcept;

  // A poll for POLLRDHUP: consumes nothing, so pipelined bytes stay for the next reader; a FIN
  // with bytes still unread before it is closed_later (FIONREAD).
  task<result<hangup>> wait_hangup(std::stop_token stop) override;
  task<result<void>> wait_readable(std::stop_token stop = {},
                                   time_point deadline = no_deadline) override;
  bool has_buffered_input() const noexcept override;

  result<address> local_address() const noexcept override;
  result<address> remote_address() const noexcept override;
  result<void> set_nodelay(bool on = true) const noexcept;
  // SO_KEEPALIVE with `period` as both the idle time and the probe interval (as Go does).
  result<void> set_keepalive(bool on,
                             std::chrono::seconds period = std::chrono::seconds(15)) const noexcept;

 private:
  unique_fd fd_;
  std::string network_ = "tcp";
};

}  // namespace ringo::net
