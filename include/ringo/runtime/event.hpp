// event: a flag coroutines can wait for (Go's "close(ch) to broadcast"). set() wakes every waiter;
// waiting on a set event returns at once. Single-threaded: use it on its io_context's thread.
#pragma once

#include <stop_token>

#include <ringo/runtime/detail/wait_queue.hpp>
#include <ringo/runtime/time.hpp>

namespace ringo {

class event {
 public:
  event() = default;
  explicit event(bool set) noexcept : set_(set) {}

  void set() noexcept {
    set_ = true;
    waiters_.wake_all();
  }
  void reset() noexcept { set_ = false; }
  bool is_set() const noexcept { return set_; }

  struct wait_awaiter : detail::queued_wait {
    const event& e;
    wait_awaiter(event& ev, std::stop_token stop, time_point deadline)
        : queued_wait(ev.waiters_, std::move(stop), deadline), e(ev) {}
    bool await_ready() const noexcept { return e.set_; }
  };
  // Success once set; operation_canceled / timed_out otherwise.
  wait_awaiter wait(std::stop_token stop = {}, time_point deadline = no_deadline) {
    return {*this, std::move(stop), deadline};
  }

 private:
  bool set_ = false;
  detail::wait_queue waiters_;
};

}  // namespace ringo
