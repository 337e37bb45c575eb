// multishot_acceptor: a stream of accepted connections from one multishot IORING_OP_ACCEPT.
//
// One SQE keeps accepting; connections that arrive while nobody is waiting are queued and handed
// out by later next() calls. A stop or deadline on next() abandons only that wait: the accept
// stays armed and nothing accepted is lost. When the kernel ends the multishot (an error such as
// EMFILE, or no more F_MORE), next() reports the error once and the following next() re-arms.
// Destroying the acceptor cancels the accept; its state lives until the last CQE arrives (then it
// closes any connection still queued), so the destructor never waits.
#pragma once

#include <stop_token>

#include <ringo/runtime/detail/wait_queue.hpp>
#include <ringo/runtime/result.hpp>
#include <ringo/runtime/time.hpp>
#include <ringo/runtime/unique_fd.hpp>

namespace ringo {

namespace detail {
class accept_stream;
}

class multishot_acceptor {
 public:
  explicit multishot_acceptor(int listen_fd);
  ~multishot_acceptor();
  multishot_acceptor(const multishot_acceptor&) = delete;
  multishot_acceptor& operator=(const multishot_acceptor&) = delete;

  struct next_awaiter : detail::queued_wait {
    detail::accept_stream& stream;
    next_awaiter(detail::accept_stream& s, std::stop_token stop, time_point deadline);
    bool await_ready();
    bool await_suspend(std::coroutine_handle<> h);
    result<unique_fd> await_resume();
    bool parked = false;
  };
  // The next accepted connection (SOCK_CLOEXEC), or the error that ended the multishot.
  next_awaiter next(std::stop_token stop = {}, time_point deadline = no_deadline);

  // Connections accepted and not yet handed out.
  std::size_t queued() const noexcept;

 private:
  detail::accept_stream* stream_;
};

}  // namespace ringo
