// unique_fd: owns a file descriptor and closes it on destruction (synchronously: close(2) of a
// socket does not block unless SO_LINGER asks it to). Use ringo::close() to close through the ring.
//
// Close an fd only when no operation on it is in flight: ringo's operations live in coroutine
// frames that the fd's owner awaits, so in structured code this holds by construction.
#pragma once

#include <utility>

namespace ringo {

class unique_fd {
 public:
  unique_fd() noexcept = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  ~unique_fd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

}  // namespace ringo
