// oneshot<T>: a value delivered at most once from one coroutine to another (Go's buffered channel
// of size one used once, as in dialResult and wantConn.result).
//
// Copies share one state. The receiver awaits receive(); when it gives up (a stop request,
// a deadline, or close()), later deliveries report false and leave the value with the sender, who
// keeps ownership: a dial that finishes after its request was cancelled can pool the connection
// instead of leaking it (Go's wantConn.tryDeliver / cancel). Single-threaded.
#pragma once

#include <memory>
#include <optional>
#include <stop_token>
#include <utility>

#include <ringo/runtime/detail/wait_queue.hpp>
#include <ringo/runtime/time.hpp>

namespace ringo {

template <typename T>
class oneshot {
  struct state {
    std::optional<T> value;
    bool closed = false;
    detail::wait_queue waiters;
  };

 public:
  oneshot() : state_(std::make_shared<state>()) {}

  // Delivers `value` unless the receiver has gone or a value was already delivered; on false,
  // `value` is left untouched.
  bool try_deliver(T&& value) {
    if (state_->closed || state_->value) return false;
    state_->value.emplace(std::move(value));
    state_->waiters.wake_one();
    return true;
  }

  // The receiver gives up: no more deliveries. Returns a value delivered but not yet received, so
  // the caller can put it back where it belongs. A receive() already waiting (close() called
  // through another copy) returns operation_canceled instead of waiting forever.
  std::optional<T> close() {
    state_->closed = true;
    state_->waiters.wake_all();
    return std::exchange(state_->value, std::nullopt);
  }

  bool closed() const noexcept { return state_->closed; }
  bool ready() const noexcept { return state_->value.has_value(); }

  struct receive_awaiter : detail::queued_wait {
    std::shared_ptr<state> s;
    receive_awaiter(std::shared_ptr<state> st, std::stop_token stop, time_point deadline)
        : queued_wait(st->waiters, std::move(stop), deadline), s(std::move(st)) {}
    bool await_ready() const noexcept { return s->value.has_value() || s->closed; }
    result<T> await_resume() {
      result<void> waited = queued_wait::await_resume();
      if (s->value) {
        s->closed = true;
        return std::move(*std::exchange(s->value, std::nullopt));
      }
      s->closed = true;  // gave up (or was closed): the sender keeps what it has
      return waited ? std::error_code(errc::operation_canceled) : waited.error();
    }
  };
  // The delivered value; operation_canceled / timed_out if it did not come in time (or the
  // oneshot was closed), after which deliveries fail.
  receive_awaiter receive(std::stop_token stop = {}, time_point deadline = no_deadline) {
    return {state_, std::move(stop), deadline};
  }

 private:
  std::shared_ptr<state> state_;
};

}  // namespace ringo
