#include "ringo/runtime/multishot_receiver.hpp"

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include <liburing.h>

#include "buffer_ring.hpp"
#include "ringo/runtime/detail/io_op.hpp"
#include "ringo/runtime/io_context.hpp"
#include "user_data.hpp"

namespace ringo {
namespace detail {

struct lent_buffer_access {
  static lent_buffer make(buffer_ring* ring, char* block, std::uint32_t size,
                          std::uint16_t bid) noexcept {
    return lent_buffer(ring, block, size, bid);
  }
};

// Heap state shared by the receiver and the kernel's receive: whichever lets go last frees it
// (as multishot_acceptor's accept_stream). Queued chunks are ring buffers linked through the
// ring's per-buffer slots, so an idle receiver owns no memory but this object.
class recv_stream final : public completion, public buffer_waiter {
 public:
  recv_stream(int fd, io_context& ctx)
      : fd_(fd), ctx_(&ctx), ring_(ctx.recv_buffers()), fallback_size_(ctx.recv_buffer_size()) {}

  ~recv_stream() {
    while (count_ > 0) ring_->give_back(pop_bid());
  }

  void on_cqe(int res, std::uint32_t flags) noexcept override {
    const bool more = flags & IORING_CQE_F_MORE;
    // The common case first: bytes in a ring buffer, the multishot still armed.
    if (res > 0 && more && (flags & IORING_CQE_F_BUFFER) && !orphaned_) {
      ring_->taken();
      push_bid(static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT),
               static_cast<std::uint32_t>(res));
      wake();
      if (count_ >= ring_->share() && !pausing_) pause();
      return;
    }
    if (!more) armed_ = false;
    if (ring_)
      on_multishot_cqe(res, flags);
    else
      on_recv_cqe(res);
    if (orphaned_ && !armed_) delete this;
  }

  // The loop found buffers in the ring for this receiver, whose multishot ended with -ENOBUFS.
  void on_buffers_available() noexcept override { arm_multishot(); }

  bool ready() const noexcept { return count_ > 0 || private_ || error_ != 0 || eof_; }
  io_context& context() const noexcept { return *ctx_; }

  // One receive() at a time: the awaiter parked here is woken by the next CQE with something to
  // hand out, or leaves (unpark) when its stop or deadline comes first.
  void park(multishot_receiver::waiter& w) noexcept {
    assert(!waiter_ && "one receive() at a time");
    waiter_ = &w;
  }
  bool unpark(multishot_receiver::waiter& w) noexcept {
    if (waiter_ != &w) return false;  // already woken: it resumes with what arrived
    waiter_ = nullptr;
    return true;
  }

  // A receive() is about to wait: make sure something will complete it.
  void start() {
    if (armed_ || waiting_for_buffers()) return;
    if (!ring_) return submit_recv();
    // Behind receivers already waiting for buffers, or when none is left: wait for the loop to
    // re-arm us. Arming on an empty ring would only earn an immediate -ENOBUFS.
    if (ring_->in_ring() == 0 || ring_->has_waiters())
      ring_->wait(*this);
    else
      arm_multishot();
  }

  // Data first, in arrival order; then an error (once) or the end of the stream (for good).
  result<lent_buffer> pop() noexcept {
    const std::uint32_t skip = std::exchange(offset_, 0);  // what read() took of the first chunk
    lent_buffer out;
    if (count_ > 0) {
      std::uint16_t bid = pop_bid();
      out = lent_buffer_access::make(ring_, ring_->address(bid), ring_->length(bid), bid);
    } else if (private_) {
      out = lent_buffer_access::make(nullptr, private_.release(), private_size_, 0);
    } else {
      if (error_ != 0) return errno_code(-std::exchange(error_, 0));
      return lent_buffer{};
    }
    out.remove_prefix(skip);
    return out;
  }

  // read(): copies queued bytes into `to` while both last, giving back each chunk emptied; a
  // chunk left in part stays first (offset_). With nothing queued, as pop(): the error, or 0.
  result<std::size_t> copy_out(mutable_buffer to) noexcept {
    auto* at = static_cast<char*>(to.data);
    std::size_t copied = 0;
    while (copied < to.size && (count_ > 0 || private_)) {
      const bool shared = count_ > 0;
      char* chunk = shared ? ring_->address(head_) : private_.get();
      const std::uint32_t length = shared ? ring_->length(head_) : private_size_;
      const std::size_t n = std::min<std::size_t>(length - offset_, to.size - copied);
      std::memcpy(at + copied, chunk + offset_, n);
      copied += n;
      offset_ += static_cast<std::uint32_t>(n);
      if (offset_ < length) break;  // `to` is full
      offset_ = 0;
      if (shared)
        ring_->give_back(pop_bid());
      else
        private_.reset();
    }
    if (copied > 0) return copied;
    if (error_ != 0) return errno_code(-std::exchange(error_, 0));
    return std::size_t{0};
  }

  // The receiver is gone: hand queued buffers back and cancel the receive; its last CQE frees
  // this state. Never waits.
  void abandon() noexcept {
    // A wait still parked (its owner closed the stream under it, as a transport closes an idle
    // conn whose watcher has yet to resume) ends as canceled, without looking here again.
    if (waiter_) {
      waiter_->error_ = errc::operation_canceled;
      waiter_->stream_ = nullptr;  // (its stop or timer may still fire before it resumes)
      wake();
    }
    if (ring_) ring_->cancel_wait(*this);
    while (count_ > 0) ring_->give_back(pop_bid());
    private_.reset();
    offset_ = 0;
    if (!armed_) {
      delete this;
      return;
    }
    orphaned_ = true;
    if (pausing_) return;  // its cancel is already on the way
    io_uring_sqe* sqe = ctx_->get_sqe();
    io_uring_prep_cancel(sqe, static_cast<completion*>(this), 0);
    io_uring_sqe_set_data64(sqe, ignored_user_data);
  }

  std::size_t queued() const noexcept { return count_ + (private_ ? 1 : 0); }
  bool multishot() const noexcept { return ring_ != nullptr; }

 private:
  // Everything but on_cqe's common case: the last CQE of a multishot (no F_MORE), CQEs after the
  // receiver went away, errors.
  void on_multishot_cqe(int res, std::uint32_t flags) noexcept {
    if (flags & IORING_CQE_F_BUFFER) {
      auto bid = static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
      ring_->taken();
      if (res > 0 && !orphaned_) {
        push_bid(bid, static_cast<std::uint32_t>(res));
        wake();
      } else {
        ring_->give_back(bid);  // nobody to read it, or no data in it
      }
    }
    if (orphaned_ || res > 0) {
      if (!armed_) pausing_ = false;
      return;
    }
    if (armed_) {  // an error that does not end the multishot: report it, keep receiving
      error_ = res;
      wake();
      return;
    }
    // The multishot is over (no F_MORE).
    const bool paused = std::exchange(pausing_, false);
    if (res == -ENOBUFS || (paused && (res == -ECANCELED || res == -EINTR))) {
      // The ring ran dry, or this receiver had its share queued: the data waits in the socket.
      // Re-arm (at the loop's next turn, when the ring has buffers) if someone waits now;
      // otherwise the next receive() decides.
      if (waiter_) ring_->wait(*this);
      return;
    }
    if (res == 0)
      eof_ = true;
    else
      error_ = res;
    wake();
  }

  // This receiver holds its share of the ring unread: stop receiving until its consumer catches
  // up, so that one fast sender cannot take every buffer on the thread and stall the other
  // connections. The data stays in the socket meanwhile (TCP flow control slows the sender).
  // Called from the CQE walk, so it must not submit: it takes an SQE only when the SQ has room
  // (a full SQ just means pausing at a later CQE).
  void pause() noexcept {
    io_uring_sqe* sqe = ring_->try_get_sqe();
    if (!sqe) return;
    io_uring_prep_cancel(sqe, static_cast<completion*>(this), 0);
    io_uring_sqe_set_data64(sqe, ignored_user_data);
    pausing_ = true;
  }

  void on_recv_cqe(int res) noexcept {
    std::unique_ptr<char[]> buf = std::move(in_flight_);
    if (orphaned_) return;
    if (res > 0) {
      private_ = std::move(buf);
      private_size_ = static_cast<std::uint32_t>(res);
    } else if (res == 0) {
      eof_ = true;
    } else {
      error_ = res;
    }
    wake();
  }

  void wake() noexcept {
    if (!waiter_) return;
    ctx_->schedule(std::exchange(waiter_, nullptr)->handle_);
  }

  void arm_multishot() noexcept {
    io_uring_sqe* sqe = ctx_->get_sqe();
    io_uring_prep_recv_multishot(sqe, fd_, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = ring_->group();
    io_uring_sqe_set_data(sqe, static_cast<completion*>(this));
    ctx_->op_started();
    armed_ = true;
  }

  void submit_recv() {
    in_flight_ = std::make_unique<char[]>(fallback_size_);
    io_uring_sqe* sqe = ctx_->get_sqe();
    io_uring_prep_recv(sqe, fd_, in_flight_.get(), fallback_size_, 0);
    io_uring_sqe_set_data(sqe, static_cast<completion*>(this));
    ctx_->op_started();
    armed_ = true;
  }

  void push_bid(std::uint16_t bid, std::uint32_t length) noexcept {
    ring_->length(bid) = length;
    if (count_ == 0)
      head_ = bid;
    else
      ring_->next(tail_) = bid;
    tail_ = bid;
    ++count_;
  }

  std::uint16_t pop_bid() noexcept {
    std::uint16_t bid = head_;
    head_ = ring_->next(bid);
    --count_;
    return bid;
  }

  int fd_;
  io_context* ctx_;
  buffer_ring* ring_;  // the context's; nullptr on the fallback path
  unsigned fallback_size_;
  std::uint16_t head_ = 0;  // the queue: ring buffers, linked through ring_->next()
  std::uint16_t tail_ = 0;
  unsigned count_ = 0;
  std::unique_ptr<char[]> in_flight_;  // fallback: the buffer the recv in flight writes
  std::unique_ptr<char[]> private_;    // fallback: a received chunk not yet handed out
  std::uint32_t private_size_ = 0;
  std::uint32_t offset_ = 0;  // bytes of the first queued chunk already read()
  int error_ = 0;             // -errno that ended a receive, reported once
  bool eof_ = false;          // the peer's FIN: every later receive() returns an empty buffer
  bool armed_ = false;        // an SQE of ours is in the kernel (its last CQE not yet reaped)
  bool pausing_ = false;      // a cancel of the armed multishot is on the way (see pause())
  bool orphaned_ = false;
  multishot_receiver::waiter* waiter_ = nullptr;  // parked in its frame; see park()
};

}  // namespace detail

multishot_receiver::multishot_receiver(int fd)
    : stream_(new detail::recv_stream(fd, *io_context::current())) {}

multishot_receiver::~multishot_receiver() {
  if (stream_) stream_->abandon();
}

multishot_receiver::multishot_receiver(multishot_receiver&& other) noexcept
    : stream_(std::exchange(other.stream_, nullptr)) {}

multishot_receiver& multishot_receiver::operator=(multishot_receiver&& other) noexcept {
  if (this != &other) {
    if (stream_) stream_->abandon();
    stream_ = std::exchange(other.stream_, nullptr);
  }
  return *this;
}

std::size_t multishot_receiver::queued() const noexcept {
  return stream_->queued();
}

bool multishot_receiver::uses_multishot() const noexcept {
  return stream_->multishot();
}

multishot_receiver::receive_awaiter multishot_receiver::receive(std::stop_token stop,
                                                                time_point deadline) {
  return {*this, std::move(stop), deadline};
}

multishot_receiver::read_awaiter multishot_receiver::read(mutable_buffer buf, std::stop_token stop,
                                                          time_point deadline) {
  return {*this, buf, std::move(stop), deadline};
}

multishot_receiver::ready_awaiter multishot_receiver::wait_ready(std::stop_token stop,
                                                                 time_point deadline) {
  return {*this, std::move(stop), deadline};
}

bool multishot_receiver::waiter::await_ready() const noexcept {
  return stream_->ready();
}

bool multishot_receiver::waiter::await_suspend(std::coroutine_handle<> h) {
  // A stop already requested or a deadline already passed arms nothing: the bytes stay in the
  // socket.
  if (stop_.stop_requested()) {
    error_ = errc::operation_canceled;
    return false;
  }
  if (when() != no_deadline && clock::now() >= when()) {
    error_ = errc::timed_out;
    return false;
  }
  ctx_ = &stream_->context();
  handle_ = h;
  stream_->park(*this);
  stream_->start();
  if (when() != no_deadline) ctx_->timers().arm(*this, when());
  // Registering runs on_stop now if stop came meanwhile (nothing for a token that can never stop:
  // a server's read loop often passes none).
  stop_reg_.arm(*ctx_, std::move(stop_), *this);
  return true;
}

void multishot_receiver::waiter::give_up(errc why) noexcept {
  if (!stream_ || !stream_->unpark(*this)) return;  // woken already
  error_ = why;
  ctx_->schedule(handle_);
}

bool multishot_receiver::waiter::finish() noexcept {
  stop_reg_.reset(ctx_, *this);
  if (armed()) ctx_->timers().disarm(*this);
  // A wait given up (its stop, its deadline, or the receiver destroyed: then stream_ is gone too)
  // takes nothing: bytes that came meanwhile stay queued for the next call.
  return error_ == errc{};
}

result<lent_buffer> multishot_receiver::receive_awaiter::await_resume() noexcept {
  if (!finish()) return error_;
  return stream_->pop();
}

result<std::size_t> multishot_receiver::read_awaiter::await_resume() noexcept {
  if (!finish()) return error_;
  return stream_->copy_out(buf_);
}

result<void> multishot_receiver::ready_awaiter::await_resume() noexcept {
  if (!finish()) return error_;
  return {};
}

}  // namespace ringo
