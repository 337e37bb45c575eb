// The coroutine that runs a task on behalf of a scope or of ringo::run.
//
// It starts suspended, is scheduled on the loop's ready queue, awaits the task, and when the task
// is done it reports to its sink and destroys its own frame. The sink (a scope, or run's root)
// always outlives it: a scope cannot be destroyed before join() returned.
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>

#include <ringo/runtime/task.hpp>

namespace ringo::detail {

class child_sink {
 public:
  // Called as a child finishes; returns the coroutine to transfer to (or noop_coroutine()).
  virtual std::coroutine_handle<> child_done(std::exception_ptr error) noexcept = 0;

 protected:
  ~child_sink() = default;
};

class spawned_child {
 public:
  struct promise_type {
    child_sink* sink = nullptr;
    std::exception_ptr error;

    static void* operator new(std::size_t size) { return allocate_frame(size); }
    static void operator delete(void* frame, std::size_t size) noexcept {
      deallocate_frame(frame, size);
    }

    spawned_child get_return_object() noexcept {
      return spawned_child{std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct final_awaiter {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> self) noexcept {
        child_sink* to = self.promise().sink;
        std::exception_ptr failure = std::move(self.promise().error);
        self.destroy();
        return to->child_done(std::move(failure));
      }
      void await_resume() noexcept {}
    };
    final_awaiter final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { error = std::current_exception(); }
  };

  std::coroutine_handle<promise_type> handle;
};

// Wraps `t` in a suspended child reporting to `sink`; the caller schedules the returned handle.
inline spawned_child make_child_frame(task<void> t) {
  co_await std::move(t);
}

inline std::coroutine_handle<> make_child(task<void> t, child_sink& sink) {
  auto h = make_child_frame(std::move(t)).handle;
  h.promise().sink = &sink;
  return h;
}

}  // namespace ringo::detail
