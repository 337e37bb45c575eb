// scope: a nursery. Concurrent work starts only inside one, and the starter awaits join().
//
// spawn() schedules a child on this thread's io_context; join() resumes when every child has
// finished and rethrows the first exception a child let escape. The scope's stop_source is chained
// to the parent token given at construction, and a child that throws also requests stop, so its
// siblings wind down instead of keeping join() waiting. Destroying a scope that still has running
// children is a bug (their frames would outlive their owner): it is caught at run time, in release
// builds too, and terminates with a message.
#pragma once

#include <concepts>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <functional>
#include <optional>
#include <stop_token>
#include <type_traits>

#include <ringo/runtime/detail/spawn.hpp>
#include <ringo/runtime/task.hpp>

namespace ringo {

namespace detail {
// Awaits f(stop) with `f` moved into this coroutine's frame, so that the captures of a lambda
// coroutine live as long as the coroutine does. Called on a temporary lambda, the coroutine would
// keep a pointer to the dead closure and read its captures after the first suspension.
template <typename F>
task<void> invoke_owned(F f, std::stop_token stop) {
  co_await std::invoke(f, std::move(stop));
}

// A stop_callback's action that passes a stop on to another source: a token linked to a source
// (std::stop_callback<forward_stop> link(token, forward_stop{&source})).
struct forward_stop {
  std::stop_source* target;
  void operator()() const noexcept { target->request_stop(); }
};
}  // namespace detail

class scope final : detail::child_sink {
 public:
  explicit scope(std::stop_token parent = {});
  ~scope();
  scope(const scope&) = delete;
  scope& operator=(const scope&) = delete;

  // Starts `t` on the next turn of the loop.
  void spawn(task<void> t);
  // Starts f(get_token()): the child sees this scope's stop requests. `f` itself (a lambda and its
  // captures) is kept alive until the child finishes.
  template <typename F>
  requires std::invocable<F, std::stop_token>
  void spawn(F&& f) {
    spawn(detail::invoke_owned<std::decay_t<F>>(std::forward<F>(f), get_token()));
  }

  struct join_awaiter {
    scope& s;
    bool await_ready() const noexcept { return s.active_ == 0; }
    void await_suspend(std::coroutine_handle<> h) noexcept { s.joiner_ = h; }
    void await_resume();
  };
  // Waits for every child. Not cancellable by design: request_stop() the scope to hurry it.
  [[nodiscard]] join_awaiter join() noexcept { return {*this}; }

  std::stop_token get_token() const noexcept { return source_.get_token(); }
  bool request_stop() noexcept { return source_.request_stop(); }
  std::size_t active() const noexcept { return active_; }

 private:
  using forward_stop = detail::forward_stop;
  std::coroutine_handle<> child_done(std::exception_ptr error) noexcept override;

  std::stop_source source_;
  std::optional<std::stop_callback<forward_stop>> parent_link_;
  std::size_t active_ = 0;
  std::coroutine_handle<> joiner_;
  std::exception_ptr first_error_;
};

}  // namespace ringo
