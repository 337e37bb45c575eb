// multishot_receiver: the bytes arriving on one stream socket, from one multishot IORING_OP_RECV
// whose buffers come from the io_context's shared provided-buffer ring.
//
// One SQE keeps receiving (IORING_RECV_MULTISHOT, IOSQE_BUFFER_SELECT): each CQE names a ring
// buffer the kernel filled, and what arrives while nobody waits is queued here. A request-response
// server thus needs no recv SQE per request, and a connection that sends nothing holds no buffer.
// receive() hands out the next chunk as a lent_buffer (see lent_buffer.hpp on holding one): Go's
// conn.Read, minus the copy.
//
//   multishot_receiver rx(fd);
//   for (;;) {
//     auto chunk = co_await rx.receive(stop, deadline);
//     if (!chunk || chunk->empty()) break;  // error / canceled / timed out, or end of stream
//     parse(chunk->view());                 // copy out what must outlive the chunk
//   }
//
// - receive() returns the next chunk, in order; an empty buffer at the end of the stream (and on
//   every later call); an error (ECONNRESET, ...) once, after which the next call re-arms.
// - A stop or deadline abandons only that wait: the receive stays armed, and bytes that arrive (or
//   raced the stop) are queued for the next call, never lost. Queued chunks are returned even when
//   stop was requested or the deadline passed: a ready result does not wait. A stop requested
//   before the first receive() arms nothing.
// - The queue is bounded by the ring: when it runs dry the kernel ends the multishot (-ENOBUFS)
//   and the data waits in the socket until buffers come back, then the receiver re-arms (oldest
//   starved receiver first). A receiver whose queue reaches an eighth of the ring cancels its
//   multishot until the consumer catches up, so one fast sender does not take every buffer on the
//   thread (one burst can overshoot: the kernel fills buffers for all the socket holds before the
//   first CQE is seen). Other ends of the multishot re-arm on the next wait.
// - Nothing is submitted until the first receive(). One receive() at a time.
// - Lifetime: the kernel posts to a state object the receiver shares with it, not to the receiver.
//   Destroying the receiver gives queued buffers back and cancels the receive (ASYNC_CANCEL); the
//   state lives until the receive's last CQE (the one without F_MORE), so the destructor never
//   waits and the kernel never writes to freed memory. Destroy the receiver, on its io_context's
//   thread, before closing the socket (a later re-arm would reach whatever reuses the descriptor
//   number), and before the io_context (whose destructor reaps what is still in flight).
// - Fallback (kernels before 6.0, or io_context_options::multishot_recv = false): one plain recv
//   per receive() into a private heap buffer of recv_buffer_size bytes; same API and rules. A recv
//   abandoned by a stop stays in flight, and its bytes are queued as above.
#pragma once

#include <coroutine>
#include <cstddef>
#include <stop_token>

#include <ringo/runtime/detail/cancellable.hpp>
#include <ringo/runtime/detail/timer_heap.hpp>
#include <ringo/runtime/lent_buffer.hpp>
#include <ringo/runtime/result.hpp>
#include <ringo/runtime/time.hpp>

namespace ringo {

namespace detail {
class recv_stream;
}

class multishot_receiver {
 public:
  // Receives from `fd`, a connected stream socket, on the current thread's io_context.
  explicit multishot_receiver(int fd);
  ~multishot_receiver();
  multishot_receiver(multishot_receiver&& other) noexcept;
  multishot_receiver& operator=(multishot_receiver&& other) noexcept;
  multishot_receiver(const multishot_receiver&) = delete;
  multishot_receiver& operator=(const multishot_receiver&) = delete;

  // Lives in the awaiting frame; the receiver's state points at it only while it is parked.
  class receive_awaiter final : detail::cancellable, detail::timer_node {
   public:
    receive_awaiter(detail::recv_stream& s, std::stop_token stop, time_point deadline) noexcept
        : stream_(&s), stop_(std::move(stop)), deadline_(deadline) {}
    receive_awaiter(const receive_awaiter&) = delete;
    receive_awaiter& operator=(const receive_awaiter&) = delete;

    bool await_ready() const noexcept;
    bool await_suspend(std::coroutine_handle<> h);
    result<lent_buffer> await_resume() noexcept;

   private:
    friend class detail::recv_stream;
    void on_stop() noexcept override { give_up(errc::operation_canceled); }
    void on_timer() noexcept override { give_up(errc::timed_out); }
    void give_up(errc why) noexcept;

    detail::recv_stream* stream_;
    std::stop_token stop_;
    time_point deadline_;
    detail::stop_registration stop_reg_;
    io_context* ctx_ = nullptr;
    std::coroutine_handle<> handle_;
    errc error_{};             // why the wait ended without a result (when it did)
    bool registered_ = false;  // with stop_
  };
  // The next bytes received (never empty), an empty buffer at the end of the stream, or an error:
  // operation_canceled / timed_out for this wait, or the socket's (ECONNRESET, ...).
  receive_awaiter receive(std::stop_token stop = {}, time_point deadline = no_deadline);

  // Chunks received and not yet handed out.
  std::size_t queued() const noexcept;
  // false on the fallback path (one recv per receive()).
  bool uses_multishot() const noexcept;

 private:
  detail::recv_stream* stream_;  // shared with the kernel's receive; see the lifetime rule above
};

}  // namespace ringo
