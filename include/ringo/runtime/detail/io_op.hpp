// io_op: the state of one io_uring operation, living in the awaiting coroutine's frame.
//
// The SQE's user_data points at it. The coroutine resumes only when the op's own CQE arrives, so
// the frame (and the buffer the kernel may write) outlives the kernel's use of it, cancelled or
// not. A stop request or an expired deadline submits IORING_OP_ASYNC_CANCEL for this op; the op
// then completes with -ECANCELED/-EINTR, or with its real result if it won the race (a connect that
// succeeded, a recv that got bytes): that result is returned, never dropped.
#pragma once

#include <coroutine>
#include <cstdint>
#include <stop_token>

#include <ringo/runtime/detail/cancellable.hpp>
#include <ringo/runtime/detail/timer_heap.hpp>
#include <ringo/runtime/result.hpp>

struct io_uring_sqe;

namespace ringo {
class io_context;
namespace detail {

// Receives the CQEs of an SQE whose user_data points at it.
class completion {
 public:
  virtual void on_cqe(int res, std::uint32_t flags) noexcept = 0;

 protected:
  ~completion() = default;
};

// The bases' order keeps an op small (every coroutine awaiting one holds it in its frame, an idle
// connection's included): cancellable last, so that the small fields below fill its tail padding,
// and the deadline kept in timer_node's slot, where the heap reads it.
class io_op : public completion, public timer_node, public cancellable {
 public:
  io_op(std::stop_token stop, time_point deadline) noexcept
      : timer_node(deadline), stop_(std::move(stop)) {}
  io_op(const io_op&) = delete;
  io_op& operator=(const io_op&) = delete;

  bool await_ready() const noexcept { return false; }
  // Submits the SQE and suspends, or completes at once (returns false) when stop was already
  // requested or the deadline has passed.
  bool await_suspend(std::coroutine_handle<> waiter);

 protected:
  ~io_op() = default;
  virtual void prepare(io_uring_sqe* sqe) noexcept = 0;
  // Unregisters from the stop token and the timer heap and returns the CQE's result: a value
  // >= 0, or the error (a cancellation this op requested maps to operation_canceled/timed_out).
  result<int> finish() noexcept;
  std::uint32_t cqe_flags() const noexcept { return flags_; }

 private:
  enum class state : std::uint8_t { idle, in_flight, done };

  void on_cqe(int res, std::uint32_t flags) noexcept final;
  void on_stop() noexcept final;
  void on_timer() noexcept final;
  void cancel(errc why) noexcept;

  state state_ = state::idle;
  bool canceled_ = false;  // this op asked for its own cancellation (stop or deadline)
  errc cancel_reason_ = errc::operation_canceled;
  int res_ = 0;
  std::uint32_t flags_ = 0;
  io_context* ctx_ = nullptr;
  std::coroutine_handle<> waiter_;
  std::stop_token stop_;
  stop_registration stop_reg_;
};

}  // namespace detail
}  // namespace ringo
