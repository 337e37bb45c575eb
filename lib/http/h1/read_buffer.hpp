// read_buffer: a connection's input, shared by the server and the client (Go's bufio.Reader under
// net/http's conn and persistConn). Bytes are read from a net::stream into one buffer; a request
// or response is parsed from unread(), and what is consumed is released at the next fill, so a
// head and the pipelined messages behind it need no copy.
//
// Growth: fill() first slides unread bytes to the front when the room left is small, and doubles
// the buffer only when unread bytes alone leave too little room (a head or chunk line longer than
// a read). Heads are bounded by the callers' header limits, chunk lines by framing_guard, so the
// buffer is too. The memory is allocated at the first fill and can be released when idle.
#pragma once

#include <cstddef>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include <ringo/net/stream.hpp>
#include <ringo/runtime/result.hpp>
#include <ringo/runtime/task.hpp>

namespace ringo::http::h1 {

class read_buffer {
 public:
  // `initial`: the first allocation; `min_room`: the smallest read worth a syscall.
  read_buffer(std::size_t initial, std::size_t min_room) noexcept
      : initial_(initial), min_room_(min_room) {}
  read_buffer(const read_buffer&) = delete;
  read_buffer& operator=(const read_buffer&) = delete;

  // Bytes read and not consumed. Views into them stay valid until the next fill().
  std::string_view unread() const noexcept { return {data_.get() + begin_, end_ - begin_}; }
  bool empty() const noexcept { return begin_ == end_; }
  void consume(std::size_t n) noexcept { begin_ += n; }

  // The awaitable of fill(): the stream's read into the buffer's room (no coroutine frame of its
  // own: a connection's every request passes here).
  class fill_awaitable {
   public:
    // `make` returns the read (made in place: an operation in flight cannot move).
    template <typename Make>
    fill_awaitable(read_buffer& b, Make make) : b_(&b), op_(make()) {}
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) { return op_.await_suspend(h); }
    result<std::size_t> await_resume() {
      result<std::size_t> n = op_.await_resume();
      if (n) b_->end_ += *n;
      return n;
    }

   private:
    read_buffer* b_;
    net::stream::read_awaitable op_;
  };

  // Reads more bytes from `s`; 0 at end of stream. `awaiting`: nothing is expected yet (the
  // answer to a request just written), so a socket waits for readability before it tries.
  fill_awaitable fill(net::stream& s, std::stop_token stop, time_point deadline,
                      bool awaiting = false);
  // Takes the unread bytes out (for a hijacker, or a connection handed over after a 101).
  std::string take_unread();
  // Forgets every byte and frees the memory (the buffer is allocated again at the next fill).
  void release() noexcept;
  // Forgets every byte; keeps the memory unless it grew past its first size.
  void clear() noexcept;
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  void make_room();

  std::unique_ptr<char[]> data_;  // never zero-filled
  std::size_t capacity_ = 0, begin_ = 0, end_ = 0;
  std::size_t initial_, min_room_;
};

}  // namespace ringo::http::h1
