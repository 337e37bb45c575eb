#include "ringo/runtime/detail/cancellable.hpp"

#include "ringo/runtime/io_context.hpp"

namespace ringo::detail {

void stop_registration::forwarder::operator()() noexcept {
  if (io_context::current() == ctx)
    op->on_stop();
  else
    ctx->post_stop(*op);
}

void stop_registration::arm(io_context& ctx, std::stop_token token, cancellable& op) {
  if (!token.stop_possible()) return;
  callback_.emplace(std::move(token), forwarder{&ctx, &op});
}

void stop_registration::reset(io_context* ctx, cancellable& op) noexcept {
  if (!callback_) return;
  // Waits for a callback running on another thread; after that no new one can start, and a
  // request it queued is withdrawn so the loop never calls on_stop() on a finished operation.
  callback_.reset();
  if (op.queued_remotely_.load(std::memory_order_relaxed)) ctx->withdraw_stop(op);
}

}  // namespace ringo::detail
