// wait_queue: coroutines parked on a synchronization primitive (event, semaphore, mutex, oneshot),
// first in, first out. A parked waiter lives in its coroutine's frame; a stop request or deadline
// unlinks it and resumes it with an error, so a waiter that gave up holds nothing and is not
// left behind in the queue (Go #43966, #50798).
#pragma once

#include <coroutine>

#include <ringo/runtime/detail/cancellable.hpp>
#include <ringo/runtime/detail/timer_heap.hpp>
#include <ringo/runtime/result.hpp>

namespace ringo {
class io_context;
namespace detail {

class wait_queue;

// The awaiter base: derived awaiters add await_ready (the fast path) and, where they return more
// than success, their own await_resume.
class queued_wait : public cancellable, public timer_node {
 public:
  queued_wait(wait_queue& queue, std::stop_token stop, time_point deadline) noexcept
      : timer_node(deadline), queue_(&queue), stop_(std::move(stop)) {}
  queued_wait(const queued_wait&) = delete;
  queued_wait& operator=(const queued_wait&) = delete;

  bool await_suspend(std::coroutine_handle<> h);
  // Success when woken by the primitive; operation_canceled or timed_out otherwise.
  result<void> await_resume() noexcept;

 protected:
  ~queued_wait() = default;

 private:
  friend class wait_queue;
  void on_stop() noexcept override { give_up(errc::operation_canceled); }
  void on_timer() noexcept override { give_up(errc::timed_out); }
  void give_up(errc why) noexcept;

  wait_queue* queue_;
  std::stop_token stop_;
  stop_registration stop_reg_;  // (the deadline is timer_node's, as an io_op's)
  io_context* ctx_ = nullptr;
  std::coroutine_handle<> handle_;
  queued_wait* prev_ = nullptr;
  queued_wait* next_ = nullptr;
  bool linked_ = false;
  std::error_code error_;
};

class wait_queue {
 public:
  wait_queue() = default;
  wait_queue(const wait_queue&) = delete;
  wait_queue& operator=(const wait_queue&) = delete;

  bool empty() const noexcept { return head_ == nullptr; }
  // Resumes the longest-waiting coroutine (with success); false when nobody waits.
  bool wake_one() noexcept;
  void wake_all() noexcept;

 private:
  friend class queued_wait;
  void push_back(queued_wait& w) noexcept;
  void unlink(queued_wait& w) noexcept;
  queued_wait* head_ = nullptr;
  queued_wait* tail_ = nullptr;
};

}  // namespace detail
}  // namespace ringo
