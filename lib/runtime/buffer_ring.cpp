#include "buffer_ring.hpp"

#include <bit>
#include <cassert>
#include <sys/mman.h>
#include <unistd.h>

#include <liburing.h>

#include "ringo/runtime/lent_buffer.hpp"

namespace ringo {
namespace detail {
namespace {

constexpr unsigned max_entries = 32768;  // the kernel's limit for a provided-buffer ring

std::size_t round_to_pages(std::size_t n) {
  auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return (n + page - 1) / page * page;
}

// Anonymous private memory: page-aligned (the kernel requires it for the ring), zero pages until
// touched, and returned to the system whole by munmap: nothing stays behind in malloc's arenas.
void* map(std::size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

}  // namespace

std::unique_ptr<buffer_ring> buffer_ring::create(io_uring& uring, unsigned count, unsigned size,
                                                 std::uint16_t group) {
  if (count == 0 || size == 0) return nullptr;
  count = std::bit_ceil(count < max_entries ? count : max_entries);
  std::unique_ptr<buffer_ring> r(new buffer_ring);
  r->uring_ = &uring;
  r->count_ = count;
  r->size_ = size;
  r->group_ = group;
  r->share_ = count >= 16 ? count / 8 : 2;
  r->ring_bytes_ = round_to_pages(count * sizeof(io_uring_buf));
  r->buffer_bytes_ = round_to_pages(std::size_t{count} * size);
  r->ring_ = static_cast<io_uring_buf_ring*>(map(r->ring_bytes_));
  r->base_ = static_cast<char*>(map(r->buffer_bytes_));
  if (!r->ring_ || !r->base_) return nullptr;
  r->slots_ = std::make_unique<slot[]>(count);

  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uintptr_t>(r->ring_);
  reg.ring_entries = count;
  reg.bgid = group;
  if (io_uring_register_buf_ring(&uring, &reg, 0) != 0) return nullptr;
  r->registered_ = true;

  io_uring_buf_ring_init(r->ring_);
  for (unsigned bid = 0; bid < count; ++bid) {
    io_uring_buf_ring_add(r->ring_, r->address(static_cast<std::uint16_t>(bid)), size,
                          static_cast<unsigned short>(bid), io_uring_buf_ring_mask(count),
                          static_cast<int>(bid));
  }
  io_uring_buf_ring_advance(r->ring_, static_cast<int>(count));
  r->in_ring_ = count;
  return r;
}

buffer_ring::~buffer_ring() {
  assert(!head_ && "a receiver still waits for buffers of a ring being destroyed");
  if (registered_) io_uring_unregister_buf_ring(uring_, group_);
  if (base_) ::munmap(base_, buffer_bytes_);
  if (ring_) ::munmap(ring_, ring_bytes_);
}

io_uring_sqe* buffer_ring::try_get_sqe() noexcept {
  return io_uring_get_sqe(uring_);
}

void buffer_ring::wait(buffer_waiter& w) noexcept {
  assert(!w.linked_);
  w.prev_ = tail_;
  w.next_ = nullptr;
  (tail_ ? tail_->next_ : head_) = &w;
  tail_ = &w;
  w.linked_ = true;
}

void buffer_ring::cancel_wait(buffer_waiter& w) noexcept {
  if (!w.linked_) return;
  (w.prev_ ? w.prev_->next_ : head_) = w.next_;
  (w.next_ ? w.next_->prev_ : tail_) = w.prev_;
  w.prev_ = w.next_ = nullptr;
  w.linked_ = false;
}

void buffer_ring::wake_waiters() noexcept {
  // One receiver per buffer: a receiver that got -ENOBUFS had data waiting, so the buffer will
  // be taken at once; arming more would only earn them another -ENOBUFS.
  for (unsigned budget = in_ring_; budget > 0 && head_; --budget) {
    buffer_waiter* w = head_;
    cancel_wait(*w);
    w->on_buffers_available();
  }
}

}  // namespace detail

void lent_buffer::give_back() noexcept {
  if (ring_)
    ring_->give_back(bid_, block_);
  else
    delete[] block_;
  ring_ = nullptr;
  block_ = nullptr;
  begin_ = end_ = 0;
}

}  // namespace ringo
