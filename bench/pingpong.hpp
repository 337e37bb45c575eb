// Ping-pong bodies shared by runtime_bench (timed) and pingpong_count (run under callgrind for
// instruction counts): a 64-byte message goes back and forth between the two ends of an AF_UNIX
// stream socketpair, both ends served by one ring on one thread. A round is two messages.
//
// Receiving is done two ways, each by ringo and by a raw liburing loop:
//   - recv: one IORING_OP_RECV per message into the receiving end's own buffer (ringo::recv);
//   - multishot: one multishot IORING_OP_RECV per end, armed once, taking buffers from a
//     provided-buffer ring of the same size as io_context's default (multishot_receiver).
// Every message is sent with one IORING_OP_SEND. Per message the recv loops thus submit two SQEs,
// the multishot loops one.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <liburing.h>

#include <ringo/runtime.hpp>

namespace pingpong {

constexpr std::size_t message_size = 64;
inline const char message[message_size] =
    "ping-pong ping-pong ping-pong ping-pong ping-pong ping-pong!!";

struct socket_pair {
  int fds[2] = {-1, -1};
  socket_pair() { ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds); }
  ~socket_pair() {
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
  }
  socket_pair(const socket_pair&) = delete;
  socket_pair& operator=(const socket_pair&) = delete;
  bool ok() const { return fds[0] >= 0; }
};

// user_data of the raw loops: 0 and 1 are the receives of end 0 and 1, 2 a send, 3 a cancel.
constexpr std::uint64_t send_tag = 2;
constexpr std::uint64_t cancel_tag = 3;

inline void prep_send(io_uring* ring, int fd) {
  io_uring_sqe* sqe = io_uring_get_sqe(ring);
  io_uring_prep_send(sqe, fd, message, message_size, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, send_tag);
}

inline void prep_recv(io_uring* ring, int fd, char* buf, std::uint64_t end) {
  io_uring_sqe* sqe = io_uring_get_sqe(ring);
  io_uring_prep_recv(sqe, fd, buf, message_size, 0);
  io_uring_sqe_set_data64(sqe, end);
}

inline void prep_cancel(io_uring* ring, std::uint64_t end) {
  io_uring_sqe* sqe = io_uring_get_sqe(ring);
  io_uring_prep_cancel64(sqe, end, 0);
  io_uring_sqe_set_data64(sqe, cancel_tag);
}

// Cancels both ends' receives and waits for their last CQEs (the recv buffers are on the
// caller's stack; the kernel must be done with them before it returns).
inline void cancel_receives(io_uring* ring) {
  prep_cancel(ring, 0);
  prep_cancel(ring, 1);
  for (int ended = 0; ended < 2;) {
    io_uring_submit_and_wait(ring, 1);
    unsigned head, seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(ring, head, cqe) {
      ++seen;
      if (cqe->user_data < 2 && !(cqe->flags & IORING_CQE_F_MORE)) ++ended;
    }
    io_uring_cq_advance(ring, seen);
  }
}

// One recv SQE per message: each end keeps a recv armed; a hop sends from one end and waits for
// the send's CQE and the other end's recv CQE, whose re-arm goes out with the next hop's send.
template <typename More>
bool raw_recv_rounds(io_uring* ring, const int (&fd)[2], More more) {
  char in[2][message_size];
  prep_recv(ring, fd[0], in[0], 0);
  prep_recv(ring, fd[1], in[1], 1);
  bool ok = true;
  int turn = 0;
  while (ok && more()) {
    for (int hop = 0; hop < 2 && ok; ++hop) {
      const int other = 1 - turn;
      prep_send(ring, fd[turn]);
      for (bool sent = false, got = false; ok && !(sent && got);) {
        io_uring_submit_and_wait(ring, 1);
        unsigned head, seen = 0;
        io_uring_cqe* cqe;
        io_uring_for_each_cqe(ring, head, cqe) {
          ++seen;
          ok = ok && cqe->res == static_cast<int>(message_size);
          if (cqe->user_data == send_tag) {
            sent = true;
          } else {
            got = true;
            prep_recv(ring, fd[other], in[other], static_cast<std::uint64_t>(other));
          }
        }
        io_uring_cq_advance(ring, seen);
      }
      turn = other;
    }
  }
  cancel_receives(ring);
  return ok;
}

// A provided-buffer ring for the raw multishot loop, made as buffer_ring makes ringo's.
class raw_buffer_ring {
 public:
  raw_buffer_ring(io_uring* ring, unsigned count, unsigned size) : uring_(ring), count_(count) {
    ring_bytes_ = count * sizeof(io_uring_buf);
    buffer_bytes_ = std::size_t{count} * size;
    br_ = static_cast<io_uring_buf_ring*>(map(ring_bytes_));
    base_ = static_cast<char*>(map(buffer_bytes_));
    if (!br_ || !base_) return;
    size_ = size;
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uintptr_t>(br_);
    reg.ring_entries = count;
    reg.bgid = group;
    registered_ = io_uring_register_buf_ring(ring, &reg, 0) == 0;
    io_uring_buf_ring_init(br_);
    for (unsigned i = 0; i < count; ++i) {
      io_uring_buf_ring_add(br_, base_ + std::size_t{i} * size, size,
                            static_cast<unsigned short>(i), io_uring_buf_ring_mask(count),
                            static_cast<int>(i));
    }
    io_uring_buf_ring_advance(br_, static_cast<int>(count));
  }
  ~raw_buffer_ring() {
    if (registered_) io_uring_unregister_buf_ring(uring_, group);
    if (br_) ::munmap(br_, ring_bytes_);
    if (base_) ::munmap(base_, buffer_bytes_);
  }
  raw_buffer_ring(const raw_buffer_ring&) = delete;
  raw_buffer_ring& operator=(const raw_buffer_ring&) = delete;

  bool ok() const { return registered_; }
  void give_back(std::uint16_t bid) {
    io_uring_buf_ring_add(br_, base_ + std::size_t{bid} * size_, size_, bid,
                          io_uring_buf_ring_mask(count_), 0);
    io_uring_buf_ring_advance(br_, 1);
  }
  static constexpr std::uint16_t group = 1;

 private:
  static void* map(std::size_t bytes) {
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
  }

  io_uring* uring_;
  unsigned count_;
  unsigned size_ = 0;
  io_uring_buf_ring* br_ = nullptr;
  char* base_ = nullptr;
  std::size_t ring_bytes_ = 0;
  std::size_t buffer_bytes_ = 0;
  bool registered_ = false;
};

inline void prep_multishot(io_uring* ring, int fd, std::uint64_t end) {
  io_uring_sqe* sqe = io_uring_get_sqe(ring);
  io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = raw_buffer_ring::group;
  io_uring_sqe_set_data64(sqe, end);
}

// A multishot recv per end, armed once: a hop sends and waits for the send's CQE and the
// receive's CQE, whose buffer goes straight back to the ring. Re-armed if the kernel ends it.
template <typename More>
bool raw_multishot_rounds(io_uring* ring, const int (&fd)[2], More more) {
  raw_buffer_ring buffers(ring, 256, 4096);
  if (!buffers.ok()) return false;
  prep_multishot(ring, fd[0], 0);
  prep_multishot(ring, fd[1], 1);
  bool ok = true;
  int turn = 0;
  while (ok && more()) {
    for (int hop = 0; hop < 2 && ok; ++hop) {
      const int other = 1 - turn;
      prep_send(ring, fd[turn]);
      for (bool sent = false, got = false; ok && !(sent && got);) {
        io_uring_submit_and_wait(ring, 1);
        unsigned head, seen = 0;
        io_uring_cqe* cqe;
        io_uring_for_each_cqe(ring, head, cqe) {
          ++seen;
          ok = ok && cqe->res == static_cast<int>(message_size);
          if (cqe->user_data == send_tag) {
            sent = true;
            continue;
          }
          got = true;
          if (cqe->flags & IORING_CQE_F_BUFFER)
            buffers.give_back(static_cast<std::uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT));
          if (!(cqe->flags & IORING_CQE_F_MORE)) prep_multishot(ring, fd[other], cqe->user_data);
        }
        io_uring_cq_advance(ring, seen);
      }
      turn = other;
    }
  }
  cancel_receives(ring);
  return ok;
}

// --- ringo ----------------------------------------------------------------------------------

// The end that answers: receives a message, sends one back, until the other end shuts down.
inline ringo::task<void> echo_recv(int fd, bool* ok) {
  char in[message_size];
  for (;;) {
    auto n = co_await ringo::recv(fd, in);
    if (!n || *n == 0) co_return;
    if (*n != message_size) *ok = false;
    auto sent = co_await ringo::send(fd, ringo::const_buffer(message, message_size));
    if (!sent) *ok = false;
  }
}

template <typename More>
ringo::task<bool> ringo_recv_rounds(int fd0, int fd1, More more) {
  bool ok = true;
  ringo::scope s;
  s.spawn(echo_recv(fd1, &ok));
  char in[message_size];
  while (ok && more()) {
    auto sent = co_await ringo::send(fd0, ringo::const_buffer(message, message_size));
    auto n = co_await ringo::recv(fd0, in);
    if (!sent || !n || *n != message_size) ok = false;
  }
  ::shutdown(fd0, SHUT_WR);
  co_await s.join();
  co_return ok;
}

inline ringo::task<void> echo_multishot(int fd, bool* ok) {
  ringo::multishot_receiver rx(fd);
  for (;;) {
    auto chunk = co_await rx.receive();
    if (!chunk || chunk->empty()) co_return;
    if (chunk->size() != message_size) *ok = false;
    chunk->release();
    auto sent = co_await ringo::send(fd, ringo::const_buffer(message, message_size));
    if (!sent) *ok = false;
  }
}

template <typename More>
ringo::task<bool> ringo_multishot_rounds(int fd0, int fd1, More more) {
  bool ok = true;
  ringo::scope s;
  s.spawn(echo_multishot(fd1, &ok));
  ringo::multishot_receiver rx(fd0);
  while (ok && more()) {
    auto sent = co_await ringo::send(fd0, ringo::const_buffer(message, message_size));
    auto chunk = co_await rx.receive();
    if (!sent || !chunk || chunk->size() != message_size) ok = false;
  }
  ::shutdown(fd0, SHUT_WR);
  co_await s.join();
  co_return ok;
}

}  // namespace pingpong
