#include "ringo/runtime/scope.hpp"

#include <cstdio>

#include "ringo/runtime/io_context.hpp"

namespace ringo {

scope::scope(std::stop_token parent) {
  if (parent.stop_possible()) parent_link_.emplace(std::move(parent), forward_stop{&source_});
}

scope::~scope() {
  if (active_ != 0) {
    std::fprintf(stderr,
                 "ringo: scope destroyed with %zu running children (join() was not awaited)\n",
                 active_);
    std::terminate();
  }
}

namespace detail {
std::coroutine_handle<> finish_spawned(child_sink* sink, std::exception_ptr error,
                                       std::coroutine_handle<> self) noexcept {
  self.destroy();
  return sink->child_done(std::move(error));
}
}  // namespace detail

void scope::spawn(task<void> t) {
  io_context* ctx = io_context::current();
  if (!ctx) throw std::logic_error("ringo: scope::spawn outside an io_context");
  ctx->schedule(detail::make_child(std::move(t), *this));
  ++active_;
}

std::coroutine_handle<> scope::child_done(std::exception_ptr error) noexcept {
  if (error) {
    if (!first_error_) first_error_ = std::move(error);
    source_.request_stop();
  }
  if (--active_ == 0 && joiner_) return std::exchange(joiner_, {});
  return std::noop_coroutine();
}

void scope::join_awaiter::await_resume() {
  if (s.first_error_) std::rethrow_exception(std::exchange(s.first_error_, {}));
}

}  // namespace ringo
