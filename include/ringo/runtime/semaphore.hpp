// semaphore: counts permits; acquire() waits for one, first come first served (a late arrival
// never overtakes a parked waiter). release() hands its permit straight to the longest waiter, so
// a freed slot always goes to a live waiter (Go #32336 is this bug in the Transport's per-host
// limit). Single-threaded: use it on its io_context's thread.
#pragma once

#include <cstddef>
#include <stop_token>

#include <ringo/runtime/detail/wait_queue.hpp>
#include <ringo/runtime/time.hpp>

namespace ringo {

class semaphore {
 public:
  explicit semaphore(std::size_t permits) noexcept : available_(permits) {}

  bool try_acquire() noexcept {
    if (available_ == 0 || !waiters_.empty()) return false;
    --available_;
    return true;
  }
  void release() noexcept {
    if (!waiters_.wake_one()) ++available_;
  }
  std::size_t available() const noexcept { return available_; }

  struct acquire_awaiter : detail::queued_wait {
    semaphore& s;
    acquire_awaiter(semaphore& sem, std::stop_token stop, time_point deadline)
        : queued_wait(sem.waiters_, std::move(stop), deadline), s(sem) {}
    bool await_ready() noexcept { return s.try_acquire(); }
  };
  // Success holds one permit (give it back with release()); an error holds none.
  acquire_awaiter acquire(std::stop_token stop = {}, time_point deadline = no_deadline) {
    return {*this, std::move(stop), deadline};
  }

 private:
  std::size_t available_;
  detail::wait_queue waiters_;
};

}  // namespace ringo
