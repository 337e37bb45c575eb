// stream: a connected byte stream, the seam between a connection and what speaks over it (Go's
// net.Conn, as net/http sees it). net::conn (a socket) implements it, and a TLS stream wraps
// another stream and implements it again, so HTTP runs over either unchanged and never touches a
// descriptor.
//
// Every operation that can block takes a stop token and an absolute deadline (Go's deadlines);
// the stream's default deadlines (set_deadline) apply when a call gives none. read() returns 0 at
// end of stream. A stream is used by one coroutine at a time per direction, on its io_context's
// thread, and must outlive every operation on it; close() only once none is in flight.
//
// Cost: a stream that is a socket's own bytes (net::conn) hands read() and write() to the ring
// directly, as the socket operations do, without a virtual call or a coroutine frame; a stream
// that transforms the bytes (TLS) implements read_some() and write_some().
#pragma once

#include <cstddef>
#include <cstdint>
#include <poll.h>
#include <stop_token>
#include <string_view>
#include <type_traits>
#include <variant>

#include <ringo/net/address.hpp>
#include <ringo/runtime/buffer.hpp>
#include <ringo/runtime/file.hpp>
#include <ringo/runtime/multishot_receiver.hpp>
#include <ringo/runtime/operations.hpp>
#include <ringo/runtime/result.hpp>
#include <ringo/runtime/task.hpp>
#include <ringo/runtime/time.hpp>

namespace ringo::net {

// What stream::wait_hangup saw.
enum class hangup : std::uint8_t {
  closed,        // the peer closed its side (a FIN) with nothing unread before it
  closed_later,  // the peer closed its side, but bytes it sent before are still to be read
  broken,        // the connection broke (an error, or the peer reset it)
};

class stream {
 public:
  // The awaitable of read() and write(): the socket operation itself for a socket's own stream,
  // else the stream's read_some() / write_some() task. Await it at once (it refers to the buffer
  // and the stream).
  template <typename SocketOp, typename T, typename ReceiverOp = std::monostate>
  class io_awaitable;
  using read_awaitable =
      io_awaitable<detail::recv_op, std::size_t, multishot_receiver::read_awaiter>;
  using write_awaitable = io_awaitable<detail::send_op, std::size_t>;
  using wait_awaitable = io_awaitable<detail::poll_op, void, multishot_receiver::ready_awaiter>;

  virtual ~stream() = default;
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;

  // Up to buf.size bytes; 0 at end of stream.
  read_awaitable read(mutable_buffer buf, std::stop_token stop = {},
                      time_point deadline = no_deadline);
  // read() where nothing is expected to be there yet (the answer to a request just written): a
  // socket waits for readability before it tries (IORING_RECVSEND_POLL_FIRST).
  read_awaitable read_awaiting(mutable_buffer buf, std::stop_token stop = {},
                               time_point deadline = no_deadline);
  // Some bytes of buf (a short write is possible).
  write_awaitable write(const_buffer buf, std::stop_token stop = {},
                        time_point deadline = no_deadline);
  // Fills buf completely; unexpected_eof if the stream ends first.
  task<result<std::size_t>> read_full(mutable_buffer buf, std::stop_token stop = {},
                                      time_point deadline = no_deadline);
  // Writes all of buf; on error, the count written so far is lost with the error.
  task<result<std::size_t>> write_all(const_buffer buf, std::stop_token stop = {},
                                      time_point deadline = no_deadline);

  // Sends `length` bytes of `f` from `offset` (Go's io.ReaderFrom on a TCPConn, which uses
  // sendfile): a socket's own stream (net::conn) sends them from the page cache without copying
  // them through user memory; another stream (TLS) reads and writes them, 64 KiB at a time. The
  // count sent, `length` unless the file ends first (then unexpected_eof); on error, the count
  // sent so far is lost with the error, as in write_all.
  virtual task<result<std::uint64_t>> send_file(const file& f, std::uint64_t offset,
                                                std::uint64_t length, std::stop_token stop = {},
                                                time_point deadline = no_deadline);

  // Ends the write side: the peer reads the bytes written so far, then end of stream (a socket's
  // FIN; TLS sends close_notify first). Reading goes on.
  virtual task<result<void>> close_write(std::stop_token stop = {},
                                         time_point deadline = no_deadline) = 0;
  // Closes the stream now (no operation may be in flight). Idempotent.
  virtual void close() noexcept = 0;
  virtual bool is_open() const noexcept = 0;
  explicit operator bool() const noexcept { return is_open(); }

  // Waits, reading nothing, until the peer hangs up (Go's conn_reader, without its one-byte
  // read): bytes that arrive meanwhile do not end the wait, so none is taken from whoever reads
  // next. A stop ends it with operation_canceled.
  virtual task<result<hangup>> wait_hangup(std::stop_token stop) = 0;
  // Waits, reading nothing, until a read would not block: bytes or the end of the stream are
  // there (an idle connection waiting for its next request).
  wait_awaitable wait_readable(std::stop_token stop = {}, time_point deadline = no_deadline);
  // Whether bytes are there to read now.
  virtual bool has_buffered_input() const noexcept = 0;

  virtual result<address> local_address() const noexcept = 0;
  virtual result<address> remote_address() const noexcept = 0;
  // "tcp", "tcp4", "tcp6", "unix": the network in error messages.
  virtual std::string_view network() const noexcept = 0;

  // Default deadlines for calls that give none (Go's SetDeadline; no_deadline clears them).
  void set_deadline(time_point t) noexcept { read_deadline_ = write_deadline_ = t; }
  void set_read_deadline(time_point t) noexcept { read_deadline_ = t; }
  void set_write_deadline(time_point t) noexcept { write_deadline_ = t; }

 protected:
  // `socket`: the descriptor whose bytes this stream is (net::conn), or -1 for a stream that
  // implements read_some() and write_some().
  explicit stream(int socket = -1) noexcept : socket_(socket) {}
  stream(stream&& other) noexcept;
  stream& operator=(stream&& other) noexcept;
  void set_socket(int fd) noexcept { socket_ = fd; }

  virtual task<result<std::size_t>> read_some(mutable_buffer buf, std::stop_token stop,
                                              time_point deadline);
  virtual task<result<std::size_t>> write_some(const_buffer buf, std::stop_token stop,
                                               time_point deadline);
  virtual task<result<void>> wait_readable_some(std::stop_token stop, time_point deadline);
  int socket() const noexcept { return socket_; }
  time_point write_deadline() const noexcept { return write_deadline_; }

  // A socket's stream that receives through one multishot recv (net::conn::receive_multishot):
  // read() and wait_readable() take from it. Destroyed before the socket is closed.
  multishot_receiver receiver_;

 private:
  time_point read_deadline_ = no_deadline;
  time_point write_deadline_ = no_deadline;
  int socket_;
};

template <typename SocketOp, typename T, typename ReceiverOp>
class stream::io_awaitable {
 public:
  // 0: the socket operation; 2: the stream's multishot receiver.
  template <std::size_t I, typename... Args>
  explicit io_awaitable(std::in_place_index_t<I> which, Args&&... args)
      : op_(which, std::forward<Args>(args)...) {}
  explicit io_awaitable(task<result<T>> t) : op_(std::in_place_index<1>, std::move(t)) {}

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    if (op_.index() == 0) return std::get<0>(op_).await_suspend(h);
    if constexpr (!std::is_same_v<ReceiverOp, std::monostate>) {
      if (op_.index() == 2) {
        auto& op = std::get<2>(op_);
        return !op.await_ready() && op.await_suspend(h);
      }
    }
    return std::move(std::get<1>(op_)).operator co_await().await_suspend(h);
  }
  result<T> await_resume() {
    if (op_.index() == 1) return std::move(std::get<1>(op_)).operator co_await().await_resume();
    if constexpr (!std::is_same_v<ReceiverOp, std::monostate>) {
      if (op_.index() == 2) return std::get<2>(op_).await_resume();
    }
    auto r = std::get<0>(op_).await_resume();
    if constexpr (std::is_void_v<T>) {
      if (!r) return r.error();
      return {};
    } else {
      return r;
    }
  }

 private:
  std::variant<SocketOp, task<result<T>>, ReceiverOp> op_;
};

inline stream::read_awaitable stream::read(mutable_buffer buf, std::stop_token stop,
                                           time_point deadline) {
  deadline = std::min(deadline, read_deadline_);
  if (receiver_)
    return read_awaitable(std::in_place_index<2>, receiver_, buf, std::move(stop), deadline);
  if (socket_ >= 0)
    return read_awaitable(std::in_place_index<0>, socket_, buf, 0, std::move(stop), deadline);
  return read_awaitable(read_some(buf, std::move(stop), deadline));
}

inline stream::read_awaitable stream::read_awaiting(mutable_buffer buf, std::stop_token stop,
                                                    time_point deadline) {
  deadline = std::min(deadline, read_deadline_);
  if (receiver_)
    return read_awaitable(std::in_place_index<2>, receiver_, buf, std::move(stop), deadline);
  if (socket_ >= 0)
    return read_awaitable(std::in_place_index<0>, socket_, buf, 0, std::move(stop), deadline, true);
  return read_awaitable(read_some(buf, std::move(stop), deadline));
}

inline stream::write_awaitable stream::write(const_buffer buf, std::stop_token stop,
                                             time_point deadline) {
  deadline = std::min(deadline, write_deadline_);
  if (socket_ >= 0)
    return write_awaitable(std::in_place_index<0>, socket_, buf, MSG_NOSIGNAL, std::move(stop),
                           deadline);
  return write_awaitable(write_some(buf, std::move(stop), deadline));
}

inline stream::wait_awaitable stream::wait_readable(std::stop_token stop, time_point deadline) {
  if (receiver_)
    return wait_awaitable(std::in_place_index<2>, receiver_, std::move(stop), deadline);
  if (socket_ >= 0)
    return wait_awaitable(std::in_place_index<0>, socket_, unsigned(POLLIN | POLLRDHUP),
                          std::move(stop), deadline);
  return wait_awaitable(wait_readable_some(std::move(stop), deadline));
}

}  // namespace ringo::net
