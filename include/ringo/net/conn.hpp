// conn: a connected stream socket (Go's net.Conn for TCP and unix).
//
// Reads and writes are awaitables on the ring; each takes a stop token and a deadline, and the
// conn's default deadlines (Go's SetDeadline) apply when the call gives none. read() returns 0 at
// end of stream. A conn owns its descriptor: destroying or close()-ing it closes the socket, which
// must happen only once no operation on it is in flight (the owner awaits its readers first).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <stop_token>
#include <string>

#include <ringo/net/address.hpp>
#include <ringo/net/error.hpp>
#include <ringo/runtime/operations.hpp>
#include <ringo/runtime/task.hpp>
#include <ringo/runtime/unique_fd.hpp>

namespace ringo::net {

class conn {
 public:
  conn() = default;
  // Takes ownership of a connected socket; `network` names it in errors ("tcp", "unix").
  explicit conn(unique_fd fd, std::string network = "tcp");

  bool is_open() const noexcept { return bool(fd_); }
  explicit operator bool() const noexcept { return is_open(); }
  int native_handle() const noexcept { return fd_.get(); }
  const std::string& network() const noexcept { return network_; }

  // Up to buf.size bytes; 0 at end of stream.
  detail::recv_op read(mutable_buffer buf, std::stop_token stop = {},
                       time_point deadline = no_deadline) const {
    return recv(fd_.get(), buf, std::move(stop), std::min(deadline, read_deadline_));
  }
  // Some bytes of buf (a short write is possible); write_all writes everything.
  detail::send_op write(const_buffer buf, std::stop_token stop = {},
                        time_point deadline = no_deadline) const {
    return send(fd_.get(), buf, std::move(stop), std::min(deadline, write_deadline_));
  }
  // Fills buf completely; unexpected_eof if the stream ends first.
  task<result<std::size_t>> read_full(mutable_buffer buf, std::stop_token stop = {},
                                      time_point deadline = no_deadline) const;
  // Writes all of buf; on error, the count written so far is lost with the error.
  task<result<std::size_t>> write_all(const_buffer buf, std::stop_token stop = {},
                                      time_point deadline = no_deadline) const;

  // Default deadlines for calls that give none (no_deadline clears them).
  void set_deadline(time_point t) noexcept { read_deadline_ = write_deadline_ = t; }
  void set_read_deadline(time_point t) noexcept { read_deadline_ = t; }
  void set_write_deadline(time_point t) noexcept { write_deadline_ = t; }

  // shutdown(2): SHUT_WR sends FIN after pending data (a half close).
  result<void> shutdown(int how = SHUT_WR) const noexcept;
  // Closes the socket now. Idempotent.
  void close() noexcept { fd_.reset(); }
  // Gives up ownership of the descriptor.
  unique_fd release() noexcept { return std::move(fd_); }

  result<address> local_address() const noexcept;
  result<address> remote_address() const noexcept;
  result<void> set_nodelay(bool on = true) const noexcept;
  // SO_KEEPALIVE with `period` as both the idle time and the probe interval (as Go does).
  result<void> set_keepalive(bool on,
                             std::chrono::seconds period = std::chrono::seconds(15)) const noexcept;

 private:
  unique_fd fd_;
  std::string network_ = "tcp";
  time_point read_deadline_ = no_deadline;
  time_point write_deadline_ = no_deadline;
};

}  // namespace ringo::net
