#include "ringo/runtime/operations.hpp"

#include <cstdio>
#include <sys/utsname.h>

#include <liburing.h>

#include "ringo/runtime/io_context.hpp"

namespace ringo::detail {

void nop_op::prepare(io_uring_sqe* sqe) noexcept {
  io_uring_prep_nop(sqe);
}

void connect_op::prepare(io_uring_sqe* sqe) noexcept {
  io_uring_prep_connect(sqe, fd_, address_.data(), address_.size());
}

void accept_op::prepare(io_uring_sqe* sqe) noexcept {
  sockaddr* addr = peer_ ? peer_->data() : nullptr;
  socklen_t* len = peer_ ? peer_->size_ptr() : nullptr;
  io_uring_prep_accept(sqe, fd_, addr, len, SOCK_CLOEXEC);
}

namespace {

// IORING_RECVSEND_POLL_FIRST came with Linux 5.19; before, a recv with it fails with EINVAL.
bool kernel_has_recv_poll_first() noexcept {
  static const bool has = [] {
    utsname u{};
    int major = 0, minor = 0;
    if (::uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
    return major > 5 || (major == 5 && minor >= 19);
  }();
  return has;
}

}  // namespace

void recv_op::prepare(io_uring_sqe* sqe) noexcept {
  io_uring_prep_recv(sqe, fd_, buf_.data, buf_.size, flags_);
  if (poll_first_ && kernel_has_recv_poll_first()) sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
}

void read_op::prepare(io_uring_sqe* sqe) noexcept {
  // Offset -1: the file's current position, as read(2) does (sockets, pipes, eventfds).
  io_uring_prep_read(sqe, fd_, buf_.data, static_cast<unsigned>(buf_.size), offset_);
}

void splice_op::prepare(io_uring_sqe* sqe) noexcept {
  io_uring_prep_splice(sqe, fd_in_, off_in_, fd_out_, off_out_, static_cast<unsigned>(len_),
                       flags_);
}

void send_op::prepare(io_uring_sqe* sqe) noexcept {
  io_uring_prep_send(sqe, fd_, buf_.data, buf_.size, flags_);
}

void write_op::prepare(io_uring_sqe* sqe) noexcept {
  io_uring_prep_write(sqe, fd_, buf_.data, static_cast<unsigned>(buf_.size), ~0ULL);
}

void writev_op::prepare(io_uring_sqe* sqe) noexcept {
  io_uring_prep_writev(sqe, fd_, iov_.data(), static_cast<unsigned>(iov_.size()), ~0ULL);
}

void sendmsg_op::prepare(io_uring_sqe* sqe) noexcept {
  io_uring_prep_sendmsg(sqe, fd_, msg_, static_cast<unsigned>(flags_));
}

void poll_op::prepare(io_uring_sqe* sqe) noexcept {
  io_uring_prep_poll_add(sqe, fd_, events_);
}

void shutdown_op::prepare(io_uring_sqe* sqe) noexcept {
  io_uring_prep_shutdown(sqe, fd_, how_);
}

void close_op::prepare(io_uring_sqe* sqe) noexcept {
  io_uring_prep_close(sqe, fd_);
}

void cancel_fd_op::prepare(io_uring_sqe* sqe) noexcept {
  io_uring_prep_cancel_fd(sqe, fd_, IORING_ASYNC_CANCEL_ALL);
}

bool sleep_op::await_suspend(std::coroutine_handle<> waiter) {
  if (stop_.stop_requested()) {
    stopped_ = true;
    return false;
  }
  if (clock::now() >= when_) return false;
  ctx_ = io_context::current();
  waiter_ = waiter;
  ctx_->timers().arm(*this, when_);
  stop_reg_.arm(*ctx_, std::move(stop_), *this);
  return true;
}

result<void> sleep_op::await_resume() noexcept {
  stop_reg_.reset(ctx_, *this);
  if (stopped_) return errc::operation_canceled;
  return {};
}

void sleep_op::on_timer() noexcept {
  ctx_->schedule(waiter_);
}

void sleep_op::on_stop() noexcept {
  if (!armed()) return;  // the time came first; the waiter is already scheduled
  ctx_->timers().disarm(*this);
  stopped_ = true;
  ctx_->schedule(waiter_);
}

void yield_op::await_suspend(std::coroutine_handle<> h) {
  io_context::current()->schedule(h);
}

}  // namespace ringo::detail
