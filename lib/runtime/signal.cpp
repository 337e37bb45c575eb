#include "ringo/runtime/signal.hpp"

#include <cerrno>
#include <signal.h>
#include <sys/signalfd.h>

#include "ringo/runtime/operations.hpp"
#include "ringo/runtime/unique_fd.hpp"

namespace ringo {
namespace {

sigset_t make_set(std::initializer_list<int> signals) noexcept {
  sigset_t set;
  sigemptyset(&set);
  for (int s : signals) sigaddset(&set, s);
  return set;
}

task<result<int>> read_signal(unique_fd fd, std::stop_token stop) {
  signalfd_siginfo info{};
  auto n = co_await read(fd.get(), mutable_buffer(&info, sizeof info), std::move(stop));
  if (!n) co_return n.error();
  co_return static_cast<int>(info.ssi_signo);
}

task<result<int>> fail(std::error_code ec) {
  co_return ec;
}

}  // namespace

result<void> block_signals(std::initializer_list<int> signals) noexcept {
  sigset_t set = make_set(signals);
  if (int err = pthread_sigmask(SIG_BLOCK, &set, nullptr); err != 0) return errno_code(err);
  return {};
}

task<result<int>> wait_for_signal(std::initializer_list<int> signals, std::stop_token stop) {
  // Set up before the first suspension: `signals` does not outlive this call.
  if (auto r = block_signals(signals); !r) return fail(r.error());
  sigset_t set = make_set(signals);
  int fd = ::signalfd(-1, &set, SFD_CLOEXEC);
  if (fd < 0) return fail(errno_code(errno));
  return read_signal(unique_fd(fd), std::move(stop));
}

}  // namespace ringo
