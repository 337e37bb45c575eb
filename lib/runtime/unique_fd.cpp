#include "ringo/runtime/unique_fd.hpp"

#include <unistd.h>

namespace ringo {

void unique_fd::reset(int fd) noexcept {
  // close(2) releases the descriptor even when it reports EINTR: never retry it.
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

}  // namespace ringo
