// buffer_ring: an io_context's provided-buffer ring (IORING_REGISTER_PBUF_RING), the receive
// buffers every multishot_receiver on that context takes from.
//
// The kernel picks a buffer from the ring only when data arrives (IOSQE_BUFFER_SELECT), so an idle
// connection holds none; the CQE names the buffer it filled (its bid). User space then owns that
// buffer until the consumer releases it (lent_buffer), which puts it back at the ring's tail. The
// count and size are fixed when the ring is made: count × size is the most received-but-unconsumed
// data the thread can hold, however many connections it serves, and the mapping is the same size
// after a burst of connections as before it.
//
// When the ring runs dry a multishot recv ends with -ENOBUFS (no IORING_CQE_F_MORE) and its data
// stays in the socket. Its receiver then waits here (wait()); the loop calls wake_waiters() before
// each submit, which re-arms as many waiting receivers as the ring has buffers, oldest first.
// Re-arming from the loop rather than from give_back() keeps SQE submission out of the CQE walk (an
// orphaned receiver returns buffers from inside it) and out of lent_buffer's destructor.
//
// liburing 2.3 has no io_uring_setup_buf_ring (2.4): the ring's memory is mapped here, page-aligned
// as the kernel requires, and registered with io_uring_register_buf_ring.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include <liburing.h>

namespace ringo::detail {

// A receiver waiting for buffers to come back to the ring (an intrusive FIFO: no allocation).
class buffer_waiter {
 public:
  // Called by the loop outside the CQE walk, so it may submit SQEs. The waiter is already unlinked.
  virtual void on_buffers_available() noexcept = 0;
  bool waiting_for_buffers() const noexcept { return linked_; }

 protected:
  ~buffer_waiter() = default;

 private:
  friend class buffer_ring;
  buffer_waiter* prev_ = nullptr;
  buffer_waiter* next_ = nullptr;
  bool linked_ = false;
};

class buffer_ring {
 public:
  // Maps and registers a ring of `count` buffers (rounded up to a power of two, at most 32768) of
  // `size` bytes as buffer group `group`. nullptr when the kernel refuses (no PBUF_RING: < 5.19).
  static std::unique_ptr<buffer_ring> create(io_uring& uring, unsigned count, unsigned size,
                                             std::uint16_t group);
  ~buffer_ring();
  buffer_ring(const buffer_ring&) = delete;
  buffer_ring& operator=(const buffer_ring&) = delete;

  std::uint16_t group() const noexcept { return group_; }
  unsigned count() const noexcept { return count_; }
  unsigned buffer_size() const noexcept { return size_; }
  char* address(std::uint16_t bid) const noexcept {
    return base_ + static_cast<std::size_t>(bid) * size_;
  }

  // A CQE handed buffer `bid` to user space.
  void taken() noexcept { --in_ring_; }
  // Puts `bid` back at the ring's tail for the kernel to fill again. Inline: it runs once per
  // receive, from lent_buffer's release.
  void give_back(std::uint16_t bid) noexcept { give_back(bid, address(bid)); }
  void give_back(std::uint16_t bid, char* address) noexcept {
    io_uring_buf_ring_add(ring_, address, size_, bid, static_cast<int>(count_ - 1), 0);
    // A release store of the new tail: the kernel sees the entry before the tail that covers it.
    io_uring_buf_ring_advance(ring_, 1);
    ++in_ring_;
  }
  // Buffers in the ring as far as user space knows: a buffer the kernel filled is counted out only
  // when its CQE is reaped, so this may be higher than the truth, never lower for long.
  unsigned in_ring() const noexcept { return in_ring_; }

  // How many buffers one receiver may hold unread before it pauses its multishot: an eighth of
  // the ring (two for rings under 16), so that a connection whose consumer is slow cannot take
  // them all.
  unsigned share() const noexcept { return share_; }
  // An SQE if the SQ has room, else nullptr; never submits. For the CQE walk, which must not
  // submit (io_context::get_sqe may reap, and a reap inside the reap would advance the CQ twice).
  io_uring_sqe* try_get_sqe() noexcept;

  // Receivers whose multishot ended for want of buffers.
  void wait(buffer_waiter& w) noexcept;
  void cancel_wait(buffer_waiter& w) noexcept;
  bool has_waiters() const noexcept { return head_ != nullptr; }
  // The loop, before it submits: re-arms waiters, one per buffer in the ring.
  void wake_waiters() noexcept;

  // Per-buffer bookkeeping for receivers' queues: a filled buffer's length, and the next buffer in
  // the same receiver's queue. A queue is thus two bids and a count, and can never hold more
  // entries than the ring has buffers.
  std::uint32_t& length(std::uint16_t bid) noexcept { return slots_[bid].length; }
  std::uint16_t& next(std::uint16_t bid) noexcept { return slots_[bid].next; }

 private:
  struct slot {
    std::uint32_t length = 0;
    std::uint16_t next = 0;
  };
  buffer_ring() = default;

  io_uring* uring_ = nullptr;
  io_uring_buf_ring* ring_ = nullptr;  // the mapped ring the kernel reads; unmapped by us
  std::size_t ring_bytes_ = 0;
  char* base_ = nullptr;  // count_ × size_ bytes of buffers; unmapped by us
  std::size_t buffer_bytes_ = 0;
  unsigned count_ = 0;
  unsigned size_ = 0;
  unsigned in_ring_ = 0;
  unsigned share_ = 0;
  std::uint16_t group_ = 0;
  bool registered_ = false;
  std::unique_ptr<slot[]> slots_;
  buffer_waiter* head_ = nullptr;
  buffer_waiter* tail_ = nullptr;
};

}  // namespace ringo::detail
