#include "persist_conn.hpp"

#include <cstring>

#include <ringo/runtime/operations.hpp>

namespace ringo::http::detail {

namespace {
constexpr std::size_t initial_size = 16384;
constexpr std::size_t min_room = 4096;  // the smallest read worth a syscall
}  // namespace

task<result<std::size_t>> persist_conn::fill(std::stop_token stop, time_point deadline) {
  if (begin == end) begin = end = 0;
  if (capacity - end < min_room) {
    // Slide the unread bytes to the front, and grow when they alone leave too little room
    // (a head or chunk line longer than a read).
    const std::size_t unread_bytes = end - begin;
    if (capacity - unread_bytes < min_room) {
      std::size_t grown = capacity == 0 ? initial_size : capacity * 2;
      while (grown - unread_bytes < min_room) grown *= 2;
      auto bigger = std::make_unique_for_overwrite<char[]>(grown);
      if (unread_bytes) std::memcpy(bigger.get(), buf.get() + begin, unread_bytes);
      buf = std::move(bigger);
      capacity = grown;
    } else if (unread_bytes) {
      std::memmove(buf.get(), buf.get() + begin, unread_bytes);
    }
    begin = 0;
    end = unread_bytes;
  }
  // Called when the bytes at hand are not enough: more are not here yet (the answer to a request
  // just written, the rest of a body), so the recv waits for readability first.
  result<std::size_t> n = co_await recv_awaiting(
      c.native_handle(), mutable_buffer(buf.get() + end, capacity - end), stop, deadline);
  if (n) end += *n;
  co_return n;
}

std::string persist_conn::take_unread() {
  std::string out(unread());
  release_buffer();
  return out;
}

void persist_conn::release_buffer() noexcept {
  buf.reset();
  capacity = begin = end = 0;
}

}  // namespace ringo::http::detail
