// io_context: one io_uring and the loop that drives it, one per thread (Go's runtime netpoller and
// scheduler for that thread, in one object).
//
// Everything on a context runs on its thread: coroutines resume from its ready queue after a batch
// of CQEs is reaped, never inline while the CQ is walked. The loop makes one io_uring_enter per
// turn: submit what the ready coroutines queued, wait for at least one CQE or the earliest timer.
// Another thread may request stop on an operation's token; that reaches the loop through an
// eventfd (see detail/cancellable.hpp). ringo::run(task) is the usual way in.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <vector>

#include <ringo/runtime/detail/cancellable.hpp>
#include <ringo/runtime/detail/spawn.hpp>
#include <ringo/runtime/detail/timer_heap.hpp>
#include <ringo/runtime/result.hpp>
#include <ringo/runtime/task.hpp>
#include <ringo/runtime/time.hpp>
#include <ringo/runtime/unique_fd.hpp>

struct io_uring_sqe;

namespace ringo {
namespace detail {
class buffer_ring;
}

struct io_context_options {
  unsigned sq_entries = 256;
  unsigned cq_entries =
      0;  // 0: 16 × sq_entries, so multishot bursts rarely reach the overflow list
  // Try IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN | COOP_TASKRUN (falling back when refused).
  bool single_issuer = true;
  // io_uring_register_ring_fd: each io_uring_enter then names the ring by its slot in the thread's
  // registered-ring table instead of a descriptor, saving the kernel an fd lookup (fdget/fdput) per
  // enter. Skipped silently when the kernel refuses (before 5.18).
  bool register_ring_fd = true;
  // The receive buffers multishot_receiver takes from: one provided-buffer ring per context, shared
  // by every receiver on it, mapped when the first receiver is made. count × size bytes is all the
  // received-but-unconsumed data this thread can hold, whatever the number of connections; when
  // every buffer is out, receivers wait and their data stays in the sockets (TCP flow control).
  // The count is a power of two, at most 32768 (rounded up). Default: 256 × 4 KiB = 1 MiB.
  unsigned recv_buffer_count = 256;
  unsigned recv_buffer_size = 4096;
  // false: multishot_receiver uses one IORING_OP_RECV per read into a private buffer, the path
  // taken on kernels without multishot recv (6.0) or buffer rings (5.19). Tests force it with this.
  bool multishot_recv = true;
};

class io_context {
 public:
  explicit io_context(io_context_options options = {});
  ~io_context();
  io_context(const io_context&) = delete;
  io_context& operator=(const io_context&) = delete;

  // The context owned by this thread, or nullptr.
  static io_context* current() noexcept;

  // Runs `t` to completion on this thread and returns its value (or rethrows its exception).
  template <typename T>
  T run(task<T> t);

  // The io_uring setup flags the kernel accepted, and whether it supports an opcode.
  unsigned setup_flags() const noexcept;
  bool supports(int opcode) const noexcept;
  // Whether io_uring_register_ring_fd succeeded (see io_context_options::register_ring_fd).
  bool ring_fd_registered() const noexcept;
  // Receive buffers not in the kernel's ring: queued in a multishot_receiver or lent to its
  // consumer. 0 once every receiver's data has been consumed and released (or no ring exists).
  std::size_t recv_buffers_out() const noexcept;

  // --- For library types that own background work (a transport's dials and idle watchers) ---
  // Runs `t` to its end on this context, on behalf of an owner that went away: the work of an
  // object dropped without `co_await close()` (after its owner stopped it), which must still
  // finish before the memory and descriptors it holds are let go. run() does not return while
  // adopted work runs; a throw from it is dropped (its owner is gone).
  void adopt(task<void> t);
  std::size_t adopted() const noexcept { return adopted_.active; }
  // Requested when the context is destroyed: owners of background work on it stop that work, and
  // the destructor runs the loop until it has finished (nothing is left suspended for ever).
  std::stop_token shutdown_token() const noexcept { return shutdown_.get_token(); }

  // --- Used by the runtime's operations; not needed by applications. ---
  void schedule(std::coroutine_handle<> h) { ready_.push_back(h); }
  // A fresh SQE; when the SQ is full, submits (and reaps, if the kernel asks) first. Never null.
  io_uring_sqe* get_sqe();
  detail::timer_heap& timers() noexcept { return timers_; }
  // Any thread: queue `op` for on_stop() on this context's thread and wake the loop.
  void post_stop(detail::cancellable& op);
  // Loop thread: withdraw a queued stop request for `op` (it finished first).
  void withdraw_stop(detail::cancellable& op) noexcept;
  // Operations with an SQE in the kernel: the destructor waits for them.
  void op_started() noexcept { ++in_flight_; }
  // The provided-buffer ring, made on first use; nullptr when the kernel lacks multishot recv or
  // buffer rings, or io_context_options::multishot_recv is false (receivers then fall back).
  detail::buffer_ring* recv_buffers();
  // The size of a receive buffer (the fallback's private buffers too).
  unsigned recv_buffer_size() const noexcept;
  // A pipe to splice through (net::conn::send_file), 1 MiB where the kernel allows: kept by the
  // context between uses (a pipe per use costs three system calls) and closed with it. Give one
  // back only empty; one that may hold bytes is simply dropped.
  struct splice_pipe {
    unique_fd read, write;
    std::size_t capacity = 0;
  };
  result<splice_pipe> take_pipe();
  void give_back_pipe(splice_pipe p);

 private:
  struct root_sink final : detail::child_sink {
    bool done = false;
    std::exception_ptr error;
    std::coroutine_handle<> child_done(std::exception_ptr e) noexcept override;
  };
  struct adopted_sink final : detail::child_sink {
    std::size_t active = 0;
    std::coroutine_handle<> child_done(std::exception_ptr e) noexcept override;
  };
  struct ring;

  // Throws std::logic_error when called from inside this context's loop. run() checks before it
  // schedules its task: a task queued by a refused nested run() would stay on the ready queue and
  // later report to the sink on that call's dead stack frame.
  void refuse_nested_run() const;
  void run_until(const bool& done);
  void run_ready();
  void reap() noexcept;
  void wait_for_events();
  void drain_remote_stops();
  void arm_wakeup();

  std::unique_ptr<ring> ring_;
  std::vector<std::coroutine_handle<>> ready_;
  std::vector<std::coroutine_handle<>> running_;
  detail::timer_heap timers_;
  std::size_t in_flight_ = 0;
  bool running_loop_ = false;
  adopted_sink adopted_;
  std::stop_source shutdown_;

  std::mutex remote_mutex_;
  std::vector<detail::cancellable*> remote_stops_;
};

template <typename T>
T io_context::run(task<T> t) {
  if constexpr (std::is_void_v<T>) {
    refuse_nested_run();
    root_sink sink;
    schedule(detail::make_child(std::move(t), sink));
    run_until(sink.done);
    if (sink.error) std::rethrow_exception(sink.error);
  } else {
    std::optional<T> out;
    auto capture = [](task<T> inner, std::optional<T>* slot) -> task<void> {
      slot->emplace(co_await std::move(inner));
    };
    run(capture(std::move(t), &out));
    return std::move(*out);
  }
}

// Runs `t` on this thread's io_context, creating one for the duration if the thread has none.
template <typename T>
T run(task<T> t) {
  if (io_context* ctx = io_context::current()) return ctx->run(std::move(t));
  io_context ctx;
  return ctx.run(std::move(t));
}

}  // namespace ringo
