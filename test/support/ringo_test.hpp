// Shared test support: the fd-leak fixture and loopback peers (listeners, blackholes, refused
// ports).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include <ringo/runtime.hpp>

namespace ringo::test {

// Open descriptors of this process, as /proc/self/fd lists them.
inline std::size_t count_open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// Every test in ringo derives from this: a test that leaks a descriptor fails.
class RingoTest : public ::testing::Test {
 protected:
  void SetUp() override { fds_before_ = count_open_fds(); }
  void TearDown() override {
    EXPECT_EQ(count_open_fds(), fds_before_) << "the test leaked file descriptors";
  }

 private:
  std::size_t fds_before_ = 0;
};

// A listening TCP socket on 127.0.0.1 (or ::1) with a kernel-chosen port.
struct loopback_listener {
  unique_fd fd;
  socket_address address;

  static loopback_listener open(const char* host = "127.0.0.1", int backlog = 128) {
    auto addr = socket_address::numeric(host, 0).value();
    auto fd = listen_stream(addr, {.backlog = backlog}).value();
    auto local = local_address(fd.get()).value();
    return {std::move(fd), local};
  }
};

// A connected TCP pair over loopback: `client` connected to `server` (accepted).
struct tcp_pair {
  unique_fd client;
  unique_fd server;
};
tcp_pair make_tcp_pair(const char* host = "127.0.0.1");

// A blackholed address: a listener with backlog 0 whose queue is already full, so a further
// connect hangs (SYNs are dropped) until cancelled. nullopt when the kernel does not behave so.
struct blackhole {
  loopback_listener listener;
  unique_fd filler;  // the connection that fills the accept queue
};
std::optional<blackhole> make_blackhole(const char* host = "127.0.0.1");

// A loopback port with nobody listening: connects are refused.
socket_address refused_address(const char* host = "127.0.0.1");

// A duration in milliseconds as a double, for readable timing assertions.
inline double ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

}  // namespace ringo::test
