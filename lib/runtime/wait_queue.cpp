#include "ringo/runtime/detail/wait_queue.hpp"

#include "ringo/runtime/io_context.hpp"

namespace ringo::detail {

bool queued_wait::await_suspend(std::coroutine_handle<> h) {
  if (stop_.stop_requested()) {
    error_ = errc::operation_canceled;
    return false;
  }
  if (when() != no_deadline && clock::now() >= when()) {
    error_ = errc::timed_out;
    return false;
  }
  ctx_ = io_context::current();
  handle_ = h;
  queue_->push_back(*this);
  if (when() != no_deadline) ctx_->timers().arm(*this, when());
  stop_reg_.arm(*ctx_, std::move(stop_), *this);
  return true;
}

result<void> queued_wait::await_resume() noexcept {
  stop_reg_.reset(ctx_, *this);
  if (ctx_ && armed()) ctx_->timers().disarm(*this);
  return error_;
}

void queued_wait::give_up(errc why) noexcept {
  if (!linked_) return;  // already woken; it resumes with success
  queue_->unlink(*this);
  error_ = why;
  ctx_->schedule(handle_);
}

void wait_queue::push_back(queued_wait& w) noexcept {
  w.prev_ = tail_;
  w.next_ = nullptr;
  if (tail_)
    tail_->next_ = &w;
  else
    head_ = &w;
  tail_ = &w;
  w.linked_ = true;
}

void wait_queue::unlink(queued_wait& w) noexcept {
  (w.prev_ ? w.prev_->next_ : head_) = w.next_;
  (w.next_ ? w.next_->prev_ : tail_) = w.prev_;
  w.prev_ = w.next_ = nullptr;
  w.linked_ = false;
}

bool wait_queue::wake_one() noexcept {
  queued_wait* w = head_;
  if (!w) return false;
  unlink(*w);
  if (w->armed()) w->ctx_->timers().disarm(*w);
  w->ctx_->schedule(w->handle_);
  return true;
}

void wait_queue::wake_all() noexcept {
  while (wake_one()) {
  }
}

}  // namespace ringo::detail
