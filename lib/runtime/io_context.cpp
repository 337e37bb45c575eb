#include "ringo/runtime/io_context.hpp"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <stdexcept>
#include <sys/eventfd.h>
#include <sys/utsname.h>
#include <system_error>
#include <unistd.h>

#include <liburing.h>

#include "buffer_ring.hpp"
#include "ringo/runtime/detail/io_op.hpp"
#include "ringo/runtime/unique_fd.hpp"
#include "user_data.hpp"

namespace ringo {
namespace {

// Read on every operation's submit and every yield. In a shared libringo the default
// (global-dynamic) model costs a call to __tls_get_addr per read; initial-exec is one %fs-relative
// load (callgrind: 15 fewer instructions per awaited op). An 8-byte variable fits glibc's static
// TLS surplus even when the library is dlopen()ed.
[[gnu::tls_model("initial-exec")]] thread_local io_context* current_context = nullptr;

// Setup flags to try, best first: the kernel refuses what it does not know with -EINVAL.
// SINGLE_ISSUER | DEFER_TASKRUN (6.1) run completion work only when the loop asks for events, which
// is when it wants them; COOP_TASKRUN (5.19) avoids the inter-processor interrupt.
constexpr unsigned setup_ladder[] = {
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN |
        IORING_SETUP_SUBMIT_ALL,
    IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
    0,
};

// Multishot recv (IORING_RECV_MULTISHOT) came with Linux 6.0. An older kernel accepts the SQE and
// fails it with -EINVAL, which a receiver could not tell from a real error; the opcode probe cannot
// see flags, so the version decides.
bool kernel_at_least(int want_major, int want_minor) noexcept {
  utsname u{};
  int major = 0, minor = 0;
  if (::uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
  return major > want_major || (major == want_major && minor >= want_minor);
}

__kernel_timespec to_timespec(duration d) noexcept {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  if (ns < 0) ns = 0;
  return {.tv_sec = ns / 1'000'000'000, .tv_nsec = ns % 1'000'000'000};
}

}  // namespace

struct io_context::ring {
  io_uring uring{};
  unsigned flags = 0;
  io_uring_probe* probe = nullptr;
  unique_fd wake_fd;
  std::uint64_t wake_value = 0;  // the eventfd read's buffer: the kernel writes it
  bool wake_armed = false;
  bool woken = false;
  unsigned busy_turns = 0;
  bool ring_fd_registered = false;
  // The receive buffer ring: made by the first recv_buffers() call (tried once).
  std::unique_ptr<detail::buffer_ring> buffers;
  bool buffers_tried = false;
  bool multishot_recv = true;
  unsigned recv_buffer_count = 0;
  unsigned recv_buffer_size = 0;
  std::vector<splice_pipe> spare_pipes;
};

io_context::io_context(io_context_options options) : ring_(std::make_unique<ring>()) {
  if (current_context) throw std::logic_error("ringo: this thread already has an io_context");
  unsigned cq = options.cq_entries ? options.cq_entries : 16 * options.sq_entries;
  int err = -EINVAL;
  for (unsigned flags : setup_ladder) {
    if (!options.single_issuer) flags &= ~(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
    io_uring_params params{};
    params.flags = flags | IORING_SETUP_CQSIZE;
    params.cq_entries = cq;
    err = io_uring_queue_init_params(options.sq_entries, &ring_->uring, &params);
    if (err == 0) {
      ring_->flags = flags;
      break;
    }
    if (err != -EINVAL) break;
  }
  if (err != 0) throw std::system_error(-err, std::system_category(), "io_uring_queue_init");
  ring_->probe = io_uring_get_probe_ring(&ring_->uring);
  // Returns the number of rings registered (1), or -EINVAL/-EBUSY... when refused: then every enter
  // names the ring by its descriptor as before. io_uring_queue_exit unregisters it.
  if (options.register_ring_fd)
    ring_->ring_fd_registered = io_uring_register_ring_fd(&ring_->uring) == 1;
  ring_->multishot_recv = options.multishot_recv;
  ring_->recv_buffer_count = options.recv_buffer_count;
  ring_->recv_buffer_size = options.recv_buffer_size ? options.recv_buffer_size : 4096;
  ring_->wake_fd = unique_fd(::eventfd(0, EFD_CLOEXEC));
  if (!ring_->wake_fd) {
    int e = errno;
    io_uring_queue_exit(&ring_->uring);
    throw std::system_error(e, std::system_category(), "eventfd");
  }
  current_context = this;
}

io_context::~io_context() {
  // Owners of background work (a transport's idle watchers) stop it now; the loop then runs until
  // the work has finished, so that no coroutine stays suspended for ever holding memory and
  // descriptors. Work that only sleeps on a timer without a stop is left (a caller's bug).
  shutdown_.request_stop();
  if (current_context == this && !running_loop_) {
    for (;;) {
      run_ready();
      if (in_flight_ == 0 && ready_.empty()) break;
      if (!ready_.empty()) continue;
      // Only the kernel's operations are awaited here, each stopped by now: when none completes
      // within 100 ms, what is left waits for something that will not come on its own.
      __kernel_timespec ts = to_timespec(std::chrono::milliseconds(100));
      io_uring_cqe* cqe = nullptr;
      if (io_uring_submit_and_wait_timeout(&ring_->uring, &cqe, 1, &ts, nullptr) == -ETIME) break;
      reap();
      drain_remote_stops();
      if (!timers_.empty()) timers_.fire_expired(clock::now());
    }
  }
  // Nothing may stay in the kernel pointing at memory we are about to free: cancel everything
  // still in flight and reap until its last CQE has arrived.
  if (in_flight_ > 0 || ring_->wake_armed) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, detail::ignored_user_data);
    while (in_flight_ > 0 || ring_->wake_armed) {
      int ret = io_uring_submit_and_wait(&ring_->uring, 1);
      if (ret < 0 && ret != -EINTR && ret != -EBUSY && ret != -EAGAIN) break;
      reap();
    }
  }
  // After the drain: receivers orphaned while their multishot was in flight gave their buffers
  // back when its last CQE arrived.
  ring_->buffers.reset();
  if (ring_->probe) io_uring_free_probe(ring_->probe);
  io_uring_queue_exit(&ring_->uring);
  current_context = nullptr;
}

io_context* io_context::current() noexcept {
  return current_context;
}

unsigned io_context::setup_flags() const noexcept {
  return ring_->flags;
}

bool io_context::supports(int opcode) const noexcept {
  return ring_->probe && io_uring_opcode_supported(ring_->probe, opcode);
}

bool io_context::ring_fd_registered() const noexcept {
  return ring_->ring_fd_registered;
}

detail::buffer_ring* io_context::recv_buffers() {
  if (!ring_->buffers_tried) {
    ring_->buffers_tried = true;
    if (ring_->multishot_recv && kernel_at_least(6, 0) && supports(IORING_OP_RECV)) {
      ring_->buffers = detail::buffer_ring::create(ring_->uring, ring_->recv_buffer_count,
                                                   ring_->recv_buffer_size, 0);
    }
  }
  return ring_->buffers.get();
}

unsigned io_context::recv_buffer_size() const noexcept {
  return ring_->recv_buffer_size;
}

std::size_t io_context::recv_buffers_out() const noexcept {
  const detail::buffer_ring* b = ring_->buffers.get();
  return b ? b->count() - b->in_ring() : 0;
}

io_uring_sqe* io_context::get_sqe() {
  for (;;) {
    if (io_uring_sqe* sqe = io_uring_get_sqe(&ring_->uring)) return sqe;
    // SQ full: hand the queued entries to the kernel and retry. -EBUSY/-EAGAIN mean the kernel
    // wants its completions reaped first; nothing is dropped either way.
    int ret = io_uring_submit(&ring_->uring);
    if (ret == -EBUSY || ret == -EAGAIN) {
      io_uring_get_events(&ring_->uring);
      reap();
    } else if (ret < 0 && ret != -EINTR) {
      throw std::system_error(-ret, std::system_category(), "io_uring_submit");
    }
  }
}

void io_context::post_stop(detail::cancellable& op) {
  {
    std::lock_guard lock(remote_mutex_);
    op.queued_remotely_.store(true, std::memory_order_relaxed);
    remote_stops_.push_back(&op);
  }
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(ring_->wake_fd.get(), &one, sizeof one);
}

void io_context::withdraw_stop(detail::cancellable& op) noexcept {
  std::lock_guard lock(remote_mutex_);
  std::erase(remote_stops_, &op);
  op.queued_remotely_.store(false, std::memory_order_relaxed);
}

void io_context::drain_remote_stops() {
  std::vector<detail::cancellable*> stops;
  {
    std::lock_guard lock(remote_mutex_);
    stops.swap(remote_stops_);
    for (auto* op : stops) op->queued_remotely_.store(false, std::memory_order_relaxed);
  }
  for (auto* op : stops) op->on_stop();
}

void io_context::arm_wakeup() {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_read(sqe, ring_->wake_fd.get(), &ring_->wake_value, sizeof ring_->wake_value, 0);
  io_uring_sqe_set_data64(sqe, detail::wake_user_data);
  ring_->wake_armed = true;
}

std::coroutine_handle<> io_context::root_sink::child_done(std::exception_ptr e) noexcept {
  done = true;
  error = std::move(e);
  return std::noop_coroutine();
}

void io_context::refuse_nested_run() const {
  if (running_loop_) throw std::logic_error("ringo: io_context::run called from inside its loop");
}

void io_context::adopt(task<void> t) {
  schedule(detail::make_child(std::move(t), adopted_));
  ++adopted_.active;
}

std::coroutine_handle<> io_context::adopted_sink::child_done(std::exception_ptr) noexcept {
  --active;
  return std::noop_coroutine();
}

void io_context::run_until(const bool& done) {
  running_loop_ = true;
  struct reset_flag {
    bool& flag;
    ~reset_flag() { flag = false; }
  } reset{running_loop_};

  // Adopted work (of owners that went away) finishes before run() returns.
  while (!done || adopted_.active) {
    run_ready();
    if (done && !adopted_.active) break;
    // Receivers whose multishot ended with -ENOBUFS re-arm now that buffers came back: here, with
    // the SQEs about to be submitted, rather than from the CQE walk or a lent_buffer's release.
    if (ring_->buffers && ring_->buffers->has_waiters()) ring_->buffers->wake_waiters();
    if (!ring_->wake_armed) arm_wakeup();
    if (!ready_.empty()) {
      // Coroutines are still runnable (they yielded): keep I/O moving without blocking.
      if (io_uring_sq_ready(&ring_->uring) > 0 || ++ring_->busy_turns % 16 == 0)
        io_uring_submit_and_get_events(&ring_->uring);
    } else {
      wait_for_events();
    }
    reap();
    if (!timers_.empty()) timers_.fire_expired(clock::now());
    if (ring_->woken) {
      ring_->woken = false;
      drain_remote_stops();
    }
  }
}

void io_context::run_ready() {
  running_.swap(ready_);
  for (std::size_t i = 0; i < running_.size(); ++i) running_[i].resume();
  running_.clear();
}

void io_context::wait_for_events() {
  io_uring* uring = &ring_->uring;
  io_uring_cqe* cqe = nullptr;
  int ret;
  if (timers_.empty()) {
    ret = io_uring_submit_and_wait(uring, 1);
  } else {
    duration left = timers_.earliest() - clock::now();
    if (left <= duration::zero()) {
      ret = io_uring_submit_and_get_events(uring);
    } else {
      __kernel_timespec ts = to_timespec(left);
      ret = io_uring_submit_and_wait_timeout(uring, &cqe, 1, &ts, nullptr);
    }
  }
  // -ETIME: the earliest timer is due. -EINTR: a signal. -EBUSY/-EAGAIN: reap, then go round.
  if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EBUSY && ret != -EAGAIN)
    throw std::system_error(-ret, std::system_category(), "io_uring_enter");
}

void io_context::reap() noexcept {
  io_uring* uring = &ring_->uring;
  unsigned head;
  unsigned seen = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(uring, head, cqe) {
    ++seen;
    std::uint64_t data = cqe->user_data;
    if (data == detail::ignored_user_data) continue;
    if (data == detail::wake_user_data) {
      ring_->wake_armed = false;
      ring_->woken = true;
      continue;
    }
    if (!(cqe->flags & IORING_CQE_F_MORE)) --in_flight_;
    reinterpret_cast<detail::completion*>(data)->on_cqe(cqe->res, cqe->flags);
  }
  io_uring_cq_advance(uring, seen);
}

result<io_context::splice_pipe> io_context::take_pipe() {
  if (!ring_->spare_pipes.empty()) {
    splice_pipe p = std::move(ring_->spare_pipes.back());
    ring_->spare_pipes.pop_back();
    return p;
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return errno_code(errno);
  splice_pipe p{unique_fd(fds[0]), unique_fd(fds[1])};
  // One splice moves up to a MiB (the default pipe-max-size) instead of 64 KiB; the pipe takes
  // pages only while bytes are in it.
  const int size = ::fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
  p.capacity = static_cast<std::size_t>(size > 0 ? size : ::fcntl(fds[1], F_GETPIPE_SZ));
  return p;
}

void io_context::give_back_pipe(splice_pipe p) {
  constexpr std::size_t max_spare = 16;
  if (ring_->spare_pipes.size() < max_spare) ring_->spare_pipes.push_back(std::move(p));
}

}  // namespace ringo
