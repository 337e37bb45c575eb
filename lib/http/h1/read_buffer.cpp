#include "read_buffer.hpp"

#include <cstring>

namespace ringo::http::h1 {

void read_buffer::make_room() {
  if (begin_ == end_) begin_ = end_ = 0;
  if (capacity_ - end_ >= min_room_) return;
  const std::size_t unread_bytes = end_ - begin_;
  if (capacity_ - unread_bytes < min_room_) {
    std::size_t grown = capacity_ == 0 ? initial_ : capacity_ * 2;
    while (grown - unread_bytes < min_room_) grown *= 2;
    auto bigger = std::make_unique_for_overwrite<char[]>(grown);
    if (unread_bytes) std::memcpy(bigger.get(), data_.get() + begin_, unread_bytes);
    data_ = std::move(bigger);
    capacity_ = grown;
  } else if (unread_bytes) {
    std::memmove(data_.get(), data_.get() + begin_, unread_bytes);
  }
  begin_ = 0;
  end_ = unread_bytes;
}

read_buffer::fill_awaitable read_buffer::fill(net::stream& s, std::stop_token stop,
                                              time_point deadline, bool awaiting) {
  make_room();
  const mutable_buffer room(data_.get() + end_, capacity_ - end_);
  return fill_awaitable(*this, [&] {
    return awaiting ? s.read_awaiting(room, std::move(stop), deadline)
                    : s.read(room, std::move(stop), deadline);
  });
}

std::string read_buffer::take_unread() {
  std::string out(unread());
  release();
  return out;
}

void read_buffer::release() noexcept {
  data_.reset();
  capacity_ = begin_ = end_ = 0;
}

void read_buffer::clear() noexcept {
  begin_ = end_ = 0;
  if (capacity_ > initial_) release();
}

}  // namespace ringo::http::h1
