// lent_buffer: received bytes in a buffer the runtime lends to the consumer, and takes back when
// the lent_buffer is released or destroyed.
//
// multishot_receiver hands out each receive as a lent_buffer: a view of one of the io_context's
// receive buffers, which the kernel chose from the context's provided-buffer ring when the data
// arrived (on the fallback path, a private heap block). Go's Read copies into the caller's slice
// instead; here the kernel already wrote the bytes somewhere, and lending that place saves the
// copy and lets an idle connection own no buffer at all.
//
// Rules: move-only, on the io_context's thread, released before that context is destroyed. The
// buffers are shared by every connection on the thread, and a buffer held is one that no receive
// can use: keep a lent_buffer only while you need its bytes, copy out what must live longer (a
// partial request head waiting for the rest) and release it. A consumer that holds more buffers
// than the ring has while it waits for more data waits forever (or until its deadline).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

namespace ringo {
namespace detail {
class buffer_ring;
struct lent_buffer_access;
}  // namespace detail

class lent_buffer {
 public:
  // An empty buffer: what a receive returns at the end of the stream.
  lent_buffer() noexcept = default;
  lent_buffer(lent_buffer&& other) noexcept
      : ring_(std::exchange(other.ring_, nullptr)),
        block_(std::exchange(other.block_, nullptr)),
        begin_(std::exchange(other.begin_, 0)),
        end_(std::exchange(other.end_, 0)),
        bid_(other.bid_) {}
  lent_buffer& operator=(lent_buffer&& other) noexcept {
    if (this != &other) {
      release();
      ring_ = std::exchange(other.ring_, nullptr);
      block_ = std::exchange(other.block_, nullptr);
      begin_ = std::exchange(other.begin_, 0);
      end_ = std::exchange(other.end_, 0);
      bid_ = other.bid_;
    }
    return *this;
  }
  ~lent_buffer() { release(); }

  const char* data() const noexcept { return block_ + begin_; }
  std::size_t size() const noexcept { return end_ - begin_; }
  bool empty() const noexcept { return begin_ == end_; }
  std::string_view view() const noexcept { return {data(), size()}; }
  std::span<const char> span() const noexcept { return {data(), size()}; }

  // Drops the first `n` bytes (at most size()) from the view, as a parser consumes them; the
  // buffer itself is returned only by release().
  void remove_prefix(std::size_t n) noexcept {
    begin_ += static_cast<std::uint32_t>(n < size() ? n : size());
  }

  // Gives the buffer back now (to the ring, for the next receive on any connection); the
  // lent_buffer is then empty.
  void release() noexcept {
    if (block_) give_back();
  }

 private:
  friend struct detail::lent_buffer_access;
  lent_buffer(detail::buffer_ring* ring, char* block, std::uint32_t size,
              std::uint16_t bid) noexcept
      : ring_(ring), block_(block), end_(size), bid_(bid) {}
  void give_back() noexcept;

  detail::buffer_ring* ring_ = nullptr;  // the ring that lent it; nullptr for a private block
  char* block_ = nullptr;  // the buffer; a private block is owned (new[]) and deleted on release
  std::uint32_t begin_ = 0;
  std::uint32_t end_ = 0;
  std::uint16_t bid_ = 0;  // the buffer's id in ring_
};

}  // namespace ringo
