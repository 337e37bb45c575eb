#include "ringo/runtime/multishot_acceptor.hpp"

#include <cassert>
#include <deque>
#include <sys/socket.h>
#include <unistd.h>

#include <liburing.h>

#include "ringo/runtime/detail/io_op.hpp"
#include "ringo/runtime/io_context.hpp"
#include "user_data.hpp"

namespace ringo {
namespace detail {

// Heap state shared by the acceptor and the kernel's multishot SQE: whichever lets go last frees
// it.
class accept_stream final : public completion {
 public:
  explicit accept_stream(int fd) : listen_fd_(fd), ctx_(io_context::current()) {}
  ~accept_stream() {
    for (int r : results_)
      if (r >= 0) ::close(r);
  }

  void on_cqe(int res, std::uint32_t flags) noexcept override {
    if (!(flags & IORING_CQE_F_MORE)) armed_ = false;
    if (orphaned_) {
      if (res >= 0) ::close(res);
      if (!armed_) delete this;
      return;
    }
    results_.push_back(res);
    if (waiters_.wake_one()) ++promised_;
  }

  void arm() {
    io_uring_sqe* sqe = ctx_->get_sqe();
    io_uring_prep_multishot_accept(sqe, listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data(sqe, static_cast<completion*>(this));
    ctx_->op_started();
    armed_ = true;
  }

  // The acceptor is gone: cancel the accept and let its last CQE free this state.
  void abandon() {
    assert(waiters_.empty() && "multishot_acceptor destroyed while a next() waits");
    if (!armed_) {
      delete this;
      return;
    }
    orphaned_ = true;
    io_uring_sqe* sqe = ctx_->get_sqe();
    io_uring_prep_cancel(sqe, static_cast<completion*>(this), 0);
    io_uring_sqe_set_data64(sqe, ignored_user_data);
  }

  bool take_ready() noexcept { return results_.size() > promised_; }

  result<unique_fd> pop(bool promised) {
    if (promised) --promised_;
    int r = results_.front();
    results_.pop_front();
    if (r < 0) return errno_code(-r);
    return unique_fd(r);
  }

  wait_queue& waiters() noexcept { return waiters_; }
  bool armed() const noexcept { return armed_; }
  std::size_t queued() const noexcept { return results_.size(); }

 private:
  int listen_fd_;
  io_context* ctx_;
  std::deque<int> results_;   // accepted fds, or -errno for the error that ended a multishot
  std::size_t promised_ = 0;  // results reserved for waiters that were woken but not yet resumed
  wait_queue waiters_;
  bool armed_ = false;
  bool orphaned_ = false;
};

}  // namespace detail

multishot_acceptor::multishot_acceptor(int listen_fd)
    : stream_(new detail::accept_stream(listen_fd)) {}

multishot_acceptor::~multishot_acceptor() {
  stream_->abandon();
}

std::size_t multishot_acceptor::queued() const noexcept {
  return stream_->queued();
}

multishot_acceptor::next_awaiter multishot_acceptor::next(std::stop_token stop,
                                                          time_point deadline) {
  return {*stream_, std::move(stop), deadline};
}

multishot_acceptor::next_awaiter::next_awaiter(detail::accept_stream& s, std::stop_token stop,
                                               time_point deadline)
    : queued_wait(s.waiters(), std::move(stop), deadline), stream(s) {}

bool multishot_acceptor::next_awaiter::await_ready() {
  if (stream.take_ready()) return true;
  if (!stream.armed()) stream.arm();
  return false;
}

bool multishot_acceptor::next_awaiter::await_suspend(std::coroutine_handle<> h) {
  parked = queued_wait::await_suspend(h);
  return parked;
}

result<unique_fd> multishot_acceptor::next_awaiter::await_resume() {
  result<void> waited = queued_wait::await_resume();
  if (!waited) return waited.error();
  return stream.pop(parked);
}

}  // namespace ringo
