// async_mutex: mutual exclusion across suspension points on one io_context (one thread needs no
// lock between awaits; this is for critical sections that co_await). FIFO hand-off.
#pragma once

#include <stop_token>
#include <utility>

#include <ringo/runtime/result.hpp>
#include <ringo/runtime/semaphore.hpp>
#include <ringo/runtime/time.hpp>

namespace ringo {

class async_mutex {
 public:
  // Owns the lock until destroyed (or unlock()ed).
  class [[nodiscard]] guard {
   public:
    guard() = default;
    explicit guard(async_mutex& m) noexcept : m_(&m) {}
    guard(guard&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
    guard& operator=(guard o) noexcept {
      std::swap(m_, o.m_);
      return *this;
    }
    ~guard() { unlock(); }
    void unlock() noexcept {
      if (m_) std::exchange(m_, nullptr)->unlock();
    }
    bool owns_lock() const noexcept { return m_ != nullptr; }

   private:
    async_mutex* m_ = nullptr;
  };

  bool try_lock() noexcept { return permit_.try_acquire(); }
  void unlock() noexcept { permit_.release(); }
  bool locked() const noexcept { return permit_.available() == 0; }

  struct lock_awaiter {
    async_mutex& m;
    semaphore::acquire_awaiter inner;
    bool await_ready() noexcept { return inner.await_ready(); }
    bool await_suspend(std::coroutine_handle<> h) { return inner.await_suspend(h); }
    result<guard> await_resume() noexcept {
      if (auto r = inner.await_resume(); !r) return r.error();
      return guard(m);
    }
  };
  lock_awaiter lock(std::stop_token stop = {}, time_point deadline = no_deadline) {
    return {*this, permit_.acquire(std::move(stop), deadline)};
  }

 private:
  semaphore permit_{1};
};

}  // namespace ringo
