// The awaitable operations: connect, accept, recv/read/read_at, send/write, writev/sendmsg, splice,
// poll, shutdown, close, sleep and yield.
//
// Each function returns an awaitable to `co_await` at once, on the thread of an io_context. Every
// operation that can block takes a std::stop_token and an absolute deadline (a steady_clock time
// point; no_deadline by default). A stop request yields `errc::operation_canceled`, an expired
// deadline `errc::timed_out`; a result that raced the cancellation (bytes received, a connection
// accepted or established) is returned instead, never dropped. Buffers must stay valid until the
// co_await returns.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stop_token>
#include <sys/socket.h>
#include <sys/uio.h>

#include <ringo/runtime/buffer.hpp>
#include <ringo/runtime/detail/io_op.hpp>
#include <ringo/runtime/socket_address.hpp>
#include <ringo/runtime/time.hpp>
#include <ringo/runtime/unique_fd.hpp>

namespace ringo {
namespace detail {

// An io_op whose result is a byte count (recv, read, send, write, writev, sendmsg).
class transfer_op : public io_op {
 public:
  using io_op::io_op;
  result<std::size_t> await_resume() noexcept {
    result<int> r = finish();
    if (!r) return r.error();
    return static_cast<std::size_t>(*r);
  }
};

// An io_op whose result is only success or an error (connect, shutdown, close, nop).
class status_op : public io_op {
 public:
  using io_op::io_op;
  result<void> await_resume() noexcept {
    result<int> r = finish();
    if (!r) return r.error();
    return {};
  }
};

class nop_op final : public status_op {
 public:
  using status_op::status_op;

 private:
  void prepare(io_uring_sqe* sqe) noexcept override;
};

class connect_op final : public status_op {
 public:
  connect_op(int fd, const socket_address& address, std::stop_token stop, time_point deadline)
      : status_op(std::move(stop), deadline), fd_(fd), address_(address) {}

 private:
  void prepare(io_uring_sqe* sqe) noexcept override;
  int fd_;
  socket_address address_;
};

class accept_op final : public io_op {
 public:
  accept_op(int fd, socket_address* peer, std::stop_token stop, time_point deadline)
      : io_op(std::move(stop), deadline), fd_(fd), peer_(peer) {
    if (peer_) *peer_->size_ptr() = socket_address::capacity();
  }
  // The accepted socket; a connection accepted while the stop was in flight is still returned.
  result<unique_fd> await_resume() noexcept {
    result<int> r = finish();
    if (!r) return r.error();
    return unique_fd(*r);
  }

 private:
  void prepare(io_uring_sqe* sqe) noexcept override;
  int fd_;
  socket_address* peer_;
};

class recv_op final : public transfer_op {
 public:
  recv_op(int fd, mutable_buffer buf, int flags, std::stop_token stop, time_point deadline,
          bool poll_first = false)
      : transfer_op(std::move(stop), deadline),
        fd_(fd),
        buf_(buf),
        flags_(flags),
        poll_first_(poll_first) {}

 private:
  void prepare(io_uring_sqe* sqe) noexcept override;
  int fd_;
  mutable_buffer buf_;
  int flags_;
  bool poll_first_;
};

class read_op final : public transfer_op {
 public:
  // `offset` ~0: the file's current position.
  read_op(int fd, mutable_buffer buf, std::stop_token stop, time_point deadline,
          std::uint64_t offset = ~std::uint64_t{0})
      : transfer_op(std::move(stop), deadline), fd_(fd), buf_(buf), offset_(offset) {}

 private:
  void prepare(io_uring_sqe* sqe) noexcept override;
  int fd_;
  mutable_buffer buf_;
  std::uint64_t offset_;
};

class splice_op final : public transfer_op {
 public:
  splice_op(int fd_in, std::int64_t off_in, int fd_out, std::int64_t off_out, std::size_t len,
            unsigned flags, std::stop_token stop, time_point deadline)
      : transfer_op(std::move(stop), deadline),
        fd_in_(fd_in),
        fd_out_(fd_out),
        off_in_(off_in),
        off_out_(off_out),
        len_(len),
        flags_(flags) {}

 private:
  void prepare(io_uring_sqe* sqe) noexcept override;
  int fd_in_;
  int fd_out_;
  std::int64_t off_in_;
  std::int64_t off_out_;
  std::size_t len_;
  unsigned flags_;
};

class send_op final : public transfer_op {
 public:
  send_op(int fd, const_buffer buf, int flags, std::stop_token stop, time_point deadline)
      : transfer_op(std::move(stop), deadline), fd_(fd), buf_(buf), flags_(flags) {}

 private:
  void prepare(io_uring_sqe* sqe) noexcept override;
  int fd_;
  const_buffer buf_;
  int flags_;
};

class write_op final : public transfer_op {
 public:
  write_op(int fd, const_buffer buf, std::stop_token stop, time_point deadline)
      : transfer_op(std::move(stop), deadline), fd_(fd), buf_(buf) {}

 private:
  void prepare(io_uring_sqe* sqe) noexcept override;
  int fd_;
  const_buffer buf_;
};

class writev_op final : public transfer_op {
 public:
  writev_op(int fd, std::span<const iovec> iov, std::stop_token stop, time_point deadline)
      : transfer_op(std::move(stop), deadline), fd_(fd), iov_(iov) {}

 private:
  void prepare(io_uring_sqe* sqe) noexcept override;
  int fd_;
  std::span<const iovec> iov_;
};

class sendmsg_op final : public transfer_op {
 public:
  sendmsg_op(int fd, const msghdr& msg, int flags, std::stop_token stop, time_point deadline)
      : transfer_op(std::move(stop), deadline), fd_(fd), msg_(&msg), flags_(flags) {}

 private:
  void prepare(io_uring_sqe* sqe) noexcept override;
  int fd_;
  const msghdr* msg_;
  int flags_;
};

class poll_op final : public io_op {
 public:
  poll_op(int fd, unsigned events, std::stop_token stop, time_point deadline)
      : io_op(std::move(stop), deadline), fd_(fd), events_(events) {}
  // The events that are ready (POLLIN, POLLRDHUP, ...).
  result<unsigned> await_resume() noexcept {
    result<int> r = finish();
    if (!r) return r.error();
    return static_cast<unsigned>(*r);
  }

 private:
  void prepare(io_uring_sqe* sqe) noexcept override;
  int fd_;
  unsigned events_;
};

class shutdown_op final : public status_op {
 public:
  shutdown_op(int fd, int how, std::stop_token stop, time_point deadline)
      : status_op(std::move(stop), deadline), fd_(fd), how_(how) {}

 private:
  void prepare(io_uring_sqe* sqe) noexcept override;
  int fd_;
  int how_;
};

class close_op final : public status_op {
 public:
  explicit close_op(unique_fd fd) : status_op({}, no_deadline), fd_(fd.release()) {}

 private:
  void prepare(io_uring_sqe* sqe) noexcept override;
  int fd_;
};

class cancel_fd_op final : public io_op {
 public:
  explicit cancel_fd_op(int fd) : io_op({}, no_deadline), fd_(fd) {}
  // How many operations were cancelled.
  result<int> await_resume() noexcept {
    result<int> r = finish();
    if (!r && r.error() == std::errc::no_such_file_or_directory) return 0;  // nothing in flight
    return r;
  }

 private:
  void prepare(io_uring_sqe* sqe) noexcept override;
  int fd_;
};

class sleep_op final : public cancellable, public timer_node {
 public:
  sleep_op(time_point when, std::stop_token stop) noexcept : when_(when), stop_(std::move(stop)) {}
  sleep_op(const sleep_op&) = delete;
  sleep_op& operator=(const sleep_op&) = delete;

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> waiter);
  // Success when the time came; operation_canceled when stopped first.
  result<void> await_resume() noexcept;

 private:
  void on_stop() noexcept override;
  void on_timer() noexcept override;

  io_context* ctx_ = nullptr;
  time_point when_;
  std::stop_token stop_;
  stop_registration stop_reg_;
  std::coroutine_handle<> waiter_;
  bool stopped_ = false;
};

struct yield_op {
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h);
  void await_resume() const noexcept {}
};

}  // namespace detail

// An IORING_OP_NOP round trip through the kernel (benchmarks, tests).
inline detail::nop_op nop(std::stop_token stop = {}) {
  return {std::move(stop), no_deadline};
}

inline detail::connect_op connect(int fd, const socket_address& address, std::stop_token stop = {},
                                  time_point deadline = no_deadline) {
  return {fd, address, std::move(stop), deadline};
}

// One-shot accept (SOCK_CLOEXEC); `peer`, when given, receives the peer's address. For a stream of
// connections see multishot_acceptor.
inline detail::accept_op accept(int fd, socket_address* peer = nullptr, std::stop_token stop = {},
                                time_point deadline = no_deadline) {
  return {fd, peer, std::move(stop), deadline};
}
inline detail::accept_op accept(int fd, std::stop_token stop, time_point deadline = no_deadline) {
  return {fd, nullptr, std::move(stop), deadline};
}

// recv(2): the byte count, 0 at end of stream.
inline detail::recv_op recv(int fd, mutable_buffer buf, std::stop_token stop = {},
                            time_point deadline = no_deadline, int flags = 0) {
  return {fd, buf, flags, std::move(stop), deadline};
}
// recv(2) where nothing is expected to have arrived yet (the answer to a request just sent): the
// kernel waits for readability before it tries, instead of a first attempt that fails with EAGAIN
// (IORING_RECVSEND_POLL_FIRST; on kernels before 5.19, which lack it, a plain recv).
inline detail::recv_op recv_awaiting(int fd, mutable_buffer buf, std::stop_token stop = {},
                                     time_point deadline = no_deadline, int flags = 0) {
  return {fd, buf, flags, std::move(stop), deadline, true};
}
// read(2) at the current position (sockets, pipes, eventfds, signalfds).
inline detail::read_op read(int fd, mutable_buffer buf, std::stop_token stop = {},
                            time_point deadline = no_deadline) {
  return {fd, buf, std::move(stop), deadline};
}
// send(2) with MSG_NOSIGNAL: a closed peer is an EPIPE result, not a SIGPIPE.
// pread(2): from `offset` of a file, without moving its position. The kernel reads a cached page
// at once and hands a cold one to its workers, so a slow disk never blocks the thread.
inline detail::read_op read_at(int fd, mutable_buffer buf, std::uint64_t offset,
                               std::stop_token stop = {}, time_point deadline = no_deadline) {
  return {fd, buf, std::move(stop), deadline, offset};
}
// splice(2) (IORING_OP_SPLICE): moves up to `len` bytes from `fd_in` to `fd_out` without copying
// them through user memory; one of the two must be a pipe. An offset of -1 means the descriptor's
// own position (and is the only one a pipe or socket takes). The kernel runs every splice on one of
// its workers (it may block), so each costs a thread hand-off: see conn::send_file for what that
// means for a file server. 0: `fd_in` is at its end (or an empty pipe whose writers are gone).
inline detail::splice_op splice(int fd_in, std::int64_t off_in, int fd_out, std::int64_t off_out,
                                std::size_t len, std::stop_token stop = {},
                                time_point deadline = no_deadline, unsigned flags = 0) {
  return {fd_in, off_in, fd_out, off_out, len, flags, std::move(stop), deadline};
}
inline detail::send_op send(int fd, const_buffer buf, std::stop_token stop = {},
                            time_point deadline = no_deadline, int flags = 0) {
  return {fd, buf, flags | MSG_NOSIGNAL, std::move(stop), deadline};
}
inline detail::write_op write(int fd, const_buffer buf, std::stop_token stop = {},
                              time_point deadline = no_deadline) {
  return {fd, buf, std::move(stop), deadline};
}
inline detail::writev_op writev(int fd, std::span<const iovec> iov, std::stop_token stop = {},
                                time_point deadline = no_deadline) {
  return {fd, iov, std::move(stop), deadline};
}
// sendmsg(2) with MSG_NOSIGNAL.
inline detail::sendmsg_op sendmsg(int fd, const msghdr& msg, std::stop_token stop = {},
                                  time_point deadline = no_deadline, int flags = 0) {
  return {fd, msg, flags | MSG_NOSIGNAL, std::move(stop), deadline};
}
// Waits until one of `events` (POLLIN, POLLOUT, POLLRDHUP, ...) is ready on `fd`.
inline detail::poll_op poll(int fd, unsigned events, std::stop_token stop = {},
                            time_point deadline = no_deadline) {
  return {fd, events, std::move(stop), deadline};
}
inline detail::shutdown_op shutdown(int fd, int how, std::stop_token stop = {},
                                    time_point deadline = no_deadline) {
  return {fd, how, std::move(stop), deadline};
}
// Closes through the ring. Not cancellable: abandoning a close would leak the descriptor.
inline detail::close_op close(unique_fd fd) {
  return detail::close_op(std::move(fd));
}
// Cancels every operation in flight on `fd` (IORING_ASYNC_CANCEL_FD | ALL); returns the count.
inline detail::cancel_fd_op cancel_fd(int fd) {
  return detail::cancel_fd_op(fd);
}

// Suspends until `when`, or until stop is requested (then operation_canceled).
inline detail::sleep_op sleep_until(time_point when, std::stop_token stop = {}) {
  return {when, std::move(stop)};
}
// sleep_for(duration::max(), stop) sleeps until stopped: the deadline saturates instead of
// overflowing.
inline detail::sleep_op sleep_for(duration d, std::stop_token stop = {}) {
  time_point now = clock::now();
  return {d >= no_deadline - now ? no_deadline : now + d, std::move(stop)};
}
// Lets every other ready coroutine run before this one continues.
inline detail::yield_op yield() {
  return {};
}

}  // namespace ringo
