// The per-thread timer heap. Its earliest deadline becomes the wait timeout of the loop's single
// io_uring_enter, so a sleep or an operation deadline costs no SQE and no CQE, and disarming a
// timer is a heap erase rather than an IORING_OP_TIMEOUT_REMOVE racing the timer's own completion.
#pragma once

#include <cstddef>
#include <vector>

#include <ringo/runtime/time.hpp>

namespace ringo {
namespace detail {

class timer_node {
 public:
  virtual void on_timer() noexcept = 0;
  bool armed() const noexcept { return index_ != npos; }
  time_point when() const noexcept { return when_; }

 protected:
  timer_node() = default;
  // `when`: the deadline an owner keeps here until it arms the node (io_op: no second copy).
  explicit timer_node(time_point when) noexcept : when_(when) {}
  ~timer_node() = default;

 private:
  friend class timer_heap;
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  time_point when_{};
  std::size_t index_ = npos;
};

class timer_heap {
 public:
  void arm(timer_node& node, time_point when);
  void disarm(timer_node& node) noexcept;
  bool empty() const noexcept { return heap_.empty(); }
  time_point earliest() const noexcept { return heap_.empty() ? no_deadline : heap_[0]->when_; }
  // Fires (and disarms) every timer due at `now`; returns how many fired.
  std::size_t fire_expired(time_point now) noexcept;

 private:
  void place(std::size_t i, timer_node* node) noexcept;
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;
  std::vector<timer_node*> heap_;
};

}  // namespace detail
}  // namespace ringo
