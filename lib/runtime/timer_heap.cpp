#include "ringo/runtime/detail/timer_heap.hpp"

#include <utility>

namespace ringo::detail {

void timer_heap::arm(timer_node& node, time_point when) {
  if (node.armed()) disarm(node);
  node.when_ = when;
  heap_.push_back(&node);
  node.index_ = heap_.size() - 1;
  sift_up(node.index_);
}

void timer_heap::disarm(timer_node& node) noexcept {
  if (!node.armed()) return;
  std::size_t i = node.index_;
  node.index_ = timer_node::npos;
  timer_node* last = heap_.back();
  heap_.pop_back();
  if (last == &node) return;
  place(i, last);
  sift_up(i);
  sift_down(last->index_);
}

std::size_t timer_heap::fire_expired(time_point now) noexcept {
  std::size_t fired = 0;
  while (!heap_.empty() && heap_[0]->when_ <= now) {
    timer_node* node = heap_[0];
    disarm(*node);
    node->on_timer();
    ++fired;
  }
  return fired;
}

void timer_heap::place(std::size_t i, timer_node* node) noexcept {
  heap_[i] = node;
  node->index_ = i;
}

void timer_heap::sift_up(std::size_t i) noexcept {
  timer_node* node = heap_[i];
  while (i > 0) {
    std::size_t parent = (i - 1) / 2;
    if (heap_[parent]->when_ <= node->when_) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, node);
}

void timer_heap::sift_down(std::size_t i) noexcept {
  timer_node* node = heap_[i];
  std::size_t n = heap_.size();
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap_[child + 1]->when_ < heap_[child]->when_) ++child;
    if (node->when_ <= heap_[child]->when_) break;
    place(i, heap_[child]);
    i = child;
  }
  place(i, node);
}

}  // namespace ringo::detail
