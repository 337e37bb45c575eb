// multishot_receiver: the bytes arriving on one stream socket, from one multishot IORING_OP_RECV
// whose buffers come from the io_context's shared provided-buffer ring.
//
// One SQE keeps receiving (IORING_RECV_MULTISHOT, IOSQE_BUFFER_SELECT): each CQE names a ring
// buffer the kernel filled, and what arrives while nobody waits is queued here. A request-response
// server thus needs no recv SQE per request, and a connection that sends nothing holds no buffer.
// receive() hands out the next chunk as a lent_buffer (see lent_buffer.hpp on holding one): Go's
// conn.Read, minus the copy; read() is conn.Read with it (a byte stream's read, as net::conn's
// once it receives this way).
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

#include <ringo/runtime/buffer.hpp>
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
  // None: receives nothing and is false (a stream that reads with plain recvs holds one).
  multishot_receiver() noexcept = default;
  // Receives from `fd`, a connected stream socket, on the current thread's io_context.
  explicit multishot_receiver(int fd);
  ~multishot_receiver();
  multishot_receiver(multishot_receiver&& other) noexcept;
  multishot_receiver& operator=(multishot_receiver&& other) noexcept;
  multishot_receiver(const multishot_receiver&) = delete;
  multishot_receiver& operator=(const multishot_receiver&) = delete;

  explicit operator bool() const noexcept { return stream_ != nullptr; }

  // The wait of receive(), read() and wait_ready(): lives in the awaiting frame; the receiver's
  // state points at it only while it is parked.
  class waiter : detail::cancellable, detail::timer_node {
   public:
    waiter(const waiter&) = delete;
    waiter& operator=(const waiter&) = delete;

    bool await_ready() const noexcept;
    bool await_suspend(std::coroutine_handle<> h);

   protected:
    waiter(detail::recv_stream& s, std::stop_token stop, time_point deadline) noexcept
        : timer_node(deadline), stream_(&s), stop_(std::move(stop)) {}
    ~waiter() = default;
    // Ends the wait: true when the receiver has something to hand out, else error_ says why not.
    bool finish() noexcept;

    detail::recv_stream* stream_;
    errc error_{};  // why the wait ended without a result (when it did)

   private:
    friend class detail::recv_stream;
    void on_stop() noexcept override { give_up(errc::operation_canceled); }
    void on_timer() noexcept override { give_up(errc::timed_out); }
    void give_up(errc why) noexcept;

    std::stop_token stop_;
    detail::stop_registration stop_reg_;  // (the deadline is timer_node's, as an io_op's)
    io_context* ctx_ = nullptr;
    std::coroutine_handle<> handle_;
  };

  class receive_awaiter final : public waiter {
   public:
    receive_awaiter(multishot_receiver& r, std::stop_token stop, time_point deadline) noexcept
        : waiter(*r.stream_, std::move(stop), deadline) {}
    result<lent_buffer> await_resume() noexcept;
  };
  class read_awaiter final : public waiter {
   public:
    read_awaiter(multishot_receiver& r, mutable_buffer buf, std::stop_token stop,
                 time_point deadline) noexcept
        : waiter(*r.stream_, std::move(stop), deadline), buf_(buf) {}
    result<std::size_t> await_resume() noexcept;

   private:
    mutable_buffer buf_;
  };
  class ready_awaiter final : public waiter {
   public:
    ready_awaiter(multishot_receiver& r, std::stop_token stop, time_point deadline) noexcept
        : waiter(*r.stream_, std::move(stop), deadline) {}
    result<void> await_resume() noexcept;
  };

  // The next bytes received (never empty), an empty buffer at the end of the stream, or an error:
  // operation_canceled / timed_out for this wait, or the socket's (ECONNRESET, ...).
  receive_awaiter receive(std::stop_token stop = {}, time_point deadline = no_deadline);
  // Go's conn.Read: copies as many queued bytes as fit into `buf` (waiting for some when none is
  // queued); 0 at the end of the stream. What does not fit stays queued for the next call.
  read_awaiter read(mutable_buffer buf, std::stop_token stop = {},
                    time_point deadline = no_deadline);
  // Waits until bytes, the end of the stream or an error are there to take, taking nothing (an
  // idle connection waiting for its next request).
  ready_awaiter wait_ready(std::stop_token stop = {}, time_point deadline = no_deadline);

  // Chunks received and not yet handed out.
  std::size_t queued() const noexcept;
  // false on the fallback path (one recv per receive()).
  bool uses_multishot() const noexcept;

 private:
  detail::recv_stream* stream_ = nullptr;  // shared with the kernel's receive; see above
};

}  // namespace ringo
