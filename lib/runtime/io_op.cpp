#include "ringo/runtime/detail/io_op.hpp"

#include <cerrno>

#include <liburing.h>

#include "ringo/runtime/io_context.hpp"
#include "user_data.hpp"

namespace ringo::detail {

bool io_op::await_suspend(std::coroutine_handle<> waiter) {
  if (stop_.stop_requested()) {
    res_ = -ECANCELED;
    canceled_ = true;
    return false;
  }
  if (when() != no_deadline && clock::now() >= when()) {
    res_ = -ECANCELED;
    canceled_ = true;
    cancel_reason_ = errc::timed_out;
    return false;
  }
  ctx_ = io_context::current();
  io_uring_sqe* sqe = ctx_->get_sqe();
  prepare(sqe);
  io_uring_sqe_set_data(sqe, static_cast<completion*>(this));
  ctx_->op_started();
  waiter_ = waiter;
  state_ = state::in_flight;
  if (when() != no_deadline) ctx_->timers().arm(*this, when());
  stop_reg_.arm(*ctx_, std::move(stop_), *this);
  return true;
}

void io_op::on_cqe(int res, std::uint32_t flags) noexcept {
  res_ = res;
  flags_ = flags;
  state_ = state::done;
  ctx_->schedule(waiter_);
}

void io_op::on_stop() noexcept {
  cancel(errc::operation_canceled);
}

void io_op::on_timer() noexcept {
  cancel(errc::timed_out);
}

void io_op::cancel(errc why) noexcept {
  if (state_ != state::in_flight || canceled_) return;
  canceled_ = true;
  cancel_reason_ = why;
  io_uring_sqe* sqe = ctx_->get_sqe();
  io_uring_prep_cancel(sqe, static_cast<completion*>(this), 0);
  io_uring_sqe_set_data64(sqe, ignored_user_data);
}

result<int> io_op::finish() noexcept {
  if (ctx_) {
    stop_reg_.reset(ctx_, *this);
    if (armed()) ctx_->timers().disarm(*this);
  }
  if (res_ >= 0) return res_;
  // The kernel reports a cancelled op as -ECANCELED, or -EINTR when it was already running; an op
  // running on one of the kernel's workers (a splice) may report the worker's interrupted system
  // call itself: -ERESTARTSYS (512) and its kin, which never reach user space otherwise.
  constexpr int restart_first = 512, restart_last = 516;
  if (canceled_ &&
      (res_ == -ECANCELED || res_ == -EINTR || (-res_ >= restart_first && -res_ <= restart_last)))
    return make_error_code(cancel_reason_);
  return errno_code(-res_);
}

}  // namespace ringo::detail
