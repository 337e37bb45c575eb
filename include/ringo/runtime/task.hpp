// task<T>: a lazy, move-only coroutine that produces a T. Go's goroutine body, minus the "go".
//
// A task does nothing until it is awaited; the awaiter owns it and its frame. It is started only by
// `co_await`, by ringo::run, or by a scope (see scope.hpp), so every task has exactly one parent
// that outlives it: nothing is detached.
//
// Stack depth: GCC 12 does not turn symmetric transfer into a tail call at -O0 or under ASan, so a
// loop of a million awaits of tasks that complete synchronously would overflow the stack. The
// awaiter therefore resumes the child inside await_suspend and, when the child finishes before
// returning, resumes the parent by returning false (a plain return, no new frame). Only a child
// that really suspended transfers back to its parent from final_suspend.
#pragma once

#include <cassert>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <utility>
#include <variant>

namespace ringo {

template <typename T = void>
class task;

namespace detail {

class child_sink;  // spawn.hpp

// A task a scope (or run, or an io_context's adopt) started finishes here: its frame is destroyed
// and its sink told (scope.cpp). Spawned tasks need no frame of their own around them.
std::coroutine_handle<> finish_spawned(child_sink* sink, std::exception_ptr error,
                                       std::coroutine_handle<> self) noexcept;

// Coroutine frames come from a per-thread cache of recycled blocks (lib/runtime/frame_pool.cpp),
// so the many short-lived tasks of, say, an HTTP request cost no malloc and free each.
void* allocate_frame(std::size_t size);
void deallocate_frame(void* frame, std::size_t size) noexcept;

class task_promise_base {
 public:
  static void* operator new(std::size_t size) { return allocate_frame(size); }
  static void operator delete(void* frame, std::size_t size) noexcept {
    deallocate_frame(frame, size);
  }

  std::suspend_always initial_suspend() noexcept { return {}; }

  struct final_awaiter {
    bool await_ready() noexcept { return false; }
    template <typename Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) noexcept {
      task_promise_base& p = self.promise();
      if (p.sink_) return finish_spawned(p.sink_, self.promise().take_exception(), self);
      if (p.inline_start_) {
        // Still inside the parent's await_suspend: let it continue without suspending.
        p.finished_inline_ = true;
        return std::noop_coroutine();
      }
      return p.continuation_;
    }
    void await_resume() noexcept {}
  };
  final_awaiter final_suspend() noexcept { return {}; }

  // A spawned task reports to `sink` when it finishes, instead of resuming a parent.
  void set_sink(child_sink* sink) noexcept { sink_ = sink; }

  // Runs the task until it first suspends or finishes; true if it is now suspended.
  bool start_from(std::coroutine_handle<> parent, std::coroutine_handle<> self) {
    continuation_ = parent;
    inline_start_ = true;
    self.resume();
    inline_start_ = false;
    return !finished_inline_;
  }

 private:
  std::coroutine_handle<> continuation_;
  child_sink* sink_ = nullptr;
  bool inline_start_ = false;
  bool finished_inline_ = false;
};

template <typename T>
class task_promise : public task_promise_base {
 public:
  task<T> get_return_object() noexcept;
  void unhandled_exception() noexcept { result_.template emplace<2>(std::current_exception()); }
  template <typename U>
  void return_value(U&& value) {
    result_.template emplace<1>(std::forward<U>(value));
  }
  T take() {
    if (result_.index() == 2) std::rethrow_exception(std::get<2>(result_));
    return std::move(std::get<1>(result_));
  }
  std::exception_ptr take_exception() noexcept {
    return result_.index() == 2 ? std::move(std::get<2>(result_)) : nullptr;
  }

 private:
  std::variant<std::monostate, T, std::exception_ptr> result_;
};

template <>
class task_promise<void> : public task_promise_base {
 public:
  task<void> get_return_object() noexcept;
  void unhandled_exception() noexcept { exception_ = std::current_exception(); }
  void return_void() noexcept {}
  void take() {
    if (exception_) std::rethrow_exception(exception_);
  }
  std::exception_ptr take_exception() noexcept { return std::move(exception_); }

 private:
  std::exception_ptr exception_;
};

}  // namespace detail

template <typename T>
class [[nodiscard]] task {
 public:
  using promise_type = detail::task_promise<T>;
  using handle_type = std::coroutine_handle<promise_type>;

  task() noexcept = default;
  explicit task(handle_type h) noexcept : handle_(h) {}
  task(task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  task& operator=(task other) noexcept {
    std::swap(handle_, other.handle_);
    return *this;
  }
  ~task() {
    if (handle_) handle_.destroy();
  }

  bool valid() const noexcept { return bool(handle_); }
  // The frame, for a scope to run as a child (detail::make_child): the task gives it up.
  handle_type release() noexcept { return std::exchange(handle_, {}); }

  struct awaiter {
    handle_type child;
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> parent) {
      return child.promise().start_from(parent, child);
    }
    T await_resume() { return child.promise().take(); }
  };
  awaiter operator co_await() && noexcept {
    assert(handle_ && "awaiting an empty task");
    return awaiter{handle_};
  }

 private:
  handle_type handle_;
};

namespace detail {
template <typename T>
task<T> task_promise<T>::get_return_object() noexcept {
  return task<T>(std::coroutine_handle<task_promise<T>>::from_promise(*this));
}
inline task<void> task_promise<void>::get_return_object() noexcept {
  return task<void>(std::coroutine_handle<task_promise<void>>::from_promise(*this));
}
}  // namespace detail

}  // namespace ringo
