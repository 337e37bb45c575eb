// Certificates for TLS tests, made at test time with the openssl CLI (no private key is ever
// committed), and a child process running beside the loop for interop with real TLS peers.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include <ringo/runtime/unique_fd.hpp>

namespace ringo::test {

// PEM files in a temporary directory, removed when the program exits. All keys are ECDSA P-256.
struct test_certs {
  std::string dir;
  std::string ca, ca_key;                    // "ringo test CA"
  std::string leaf, leaf_key;                // localhost, 127.0.0.1, ::1; signed by the CA
  std::string other, other_key;              // other.test only
  std::string expired, expired_key;          // like leaf, but its validity ended a day ago
  std::string self_signed, self_signed_key;  // localhost, 127.0.0.1, ::1; signed by itself
  std::string client, client_key;            // "ringo client", for client authentication
};

// Made on first use. Null when the openssl CLI is missing or fails; `why` then says why.
const test_certs* tls_test_certs(std::string* why = nullptr);

// Whether an executable exists at `path` (interop tests skip without their peer).
bool have_program(const std::string& path);

// A program running beside the test's loop, its stdout and stderr read through one pipe.
class child_process {
 public:
  // Starts argv[0] (a full path), its stdin read from `stdin_path`. Check running() for a failed
  // start.
  explicit child_process(const std::vector<std::string>& argv,
                         const std::string& stdin_path = "/dev/null");
  ~child_process();  // kills the child if it still runs, and reaps it
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  bool running() const noexcept { return pid_ > 0; }
  // Reads output until a line containing `needle` arrived (returns that line) or `timeout`.
  std::optional<std::string> wait_for_line(const std::string& needle,
                                           std::chrono::milliseconds timeout);
  // Waits for the child to exit (killing it after `timeout`); its whole output.
  std::string finish(std::chrono::milliseconds timeout, int* status = nullptr);
  const std::string& output() const noexcept { return output_; }

 private:
  bool read_some(std::chrono::milliseconds timeout);
  pid_t pid_ = -1;
  unique_fd out_;
  std::string output_;
  std::size_t scanned_ = 0;  // wait_for_line's position in output_
};

}  // namespace ringo::test
