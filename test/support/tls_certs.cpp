#include "tls_certs.hpp"

#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace ringo::test {
namespace {

// One script for every certificate: `openssl req` makes a key and a request (SANs included), and
// `openssl x509 -req` signs it with the CA; -days -1 makes a certificate that expired yesterday.
constexpr const char* make_certs_script = R"(set -e
cd "$1"
key="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
openssl req -x509 $key -keyout ca.key -out ca.pem -subj "/O=ringo/CN=ringo test CA" -days 30
leaf() {
  openssl req -new $key -keyout "$1.key" -out "$1.csr" -subj "$2" -addext "subjectAltName=$3"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$4" \
    -copy_extensions copyall -out "$1.pem"
}
local_names="DNS:localhost,IP:127.0.0.1,IP:::1"
leaf leaf "/O=ringo/CN=localhost" "$local_names" 30
leaf other "/O=ringo/CN=other.test" "DNS:other.test" 30
leaf expired "/O=ringo/CN=localhost" "$local_names" -1
leaf client "/O=ringo/CN=ringo client" "DNS:client.test" 30
openssl req -x509 $key -keyout self.key -out self.pem -subj "/O=ringo/CN=localhost" \
  -addext "subjectAltName=$local_names" -days 30
)";

std::string certs_dir;

void remove_certs() {
  std::error_code ec;
  if (!certs_dir.empty()) std::filesystem::remove_all(certs_dir, ec);
}

std::optional<test_certs> make_certs(std::string* why) {
  if (!have_program("/usr/bin/openssl")) {
    *why = "the openssl CLI is missing (apt-get install openssl)";
    return std::nullopt;
  }
  char tmpl[] = "/tmp/ringo-tls-XXXXXX";
  if (!::mkdtemp(tmpl)) {
    *why = "mkdtemp failed";
    return std::nullopt;
  }
  certs_dir = tmpl;
  std::atexit(remove_certs);
  std::string script = certs_dir + "/make.sh";
  std::ofstream(script) << make_certs_script;
  std::string cmd = "/bin/sh " + script + " " + certs_dir + " >" + certs_dir + "/log 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    std::ifstream log(certs_dir + "/log");
    *why = "openssl failed to make the certificates: " +
           std::string(std::istreambuf_iterator<char>(log), {});
    return std::nullopt;
  }
  auto f = [](const char* name) { return certs_dir + "/" + name; };
  return test_certs{certs_dir,        f("ca.pem"),    f("ca.key"),    f("leaf.pem"),
                    f("leaf.key"),    f("other.pem"), f("other.key"), f("expired.pem"),
                    f("expired.key"), f("self.pem"),  f("self.key"),  f("client.pem"),
                    f("client.key")};
}

}  // namespace

const test_certs* tls_test_certs(std::string* why) {
  static std::string failure;
  static const std::optional<test_certs> certs = make_certs(&failure);
  if (!certs && why) *why = failure;
  return certs ? &*certs : nullptr;
}

bool have_program(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

child_process::child_process(const std::vector<std::string>& argv, const std::string& stdin_path) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return;
  unique_fd read_end(fds[0]), write_end(fds[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, stdin_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return;
  pid_ = pid;
  out_ = std::move(read_end);
}

child_process::~child_process() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

bool child_process::read_some(std::chrono::milliseconds timeout) {
  if (!out_) return false;
  pollfd p{out_.get(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
  char buf[4096];
  ssize_t n = ::read(out_.get(), buf, sizeof buf);
  if (n <= 0) {
    out_.reset();
    return false;
  }
  output_.append(buf, static_cast<std::size_t>(n));
  return true;
}

std::optional<std::string> child_process::wait_for_line(const std::string& needle,
                                                        std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    for (std::size_t end; (end = output_.find('\n', scanned_)) != std::string::npos;) {
      std::string line = output_.substr(scanned_, end - scanned_);
      scanned_ = end + 1;
      if (line.find(needle) != std::string::npos) return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !read_some(left)) {
      if (!out_ || std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    }
  }
}

std::string child_process::finish(std::chrono::milliseconds timeout, int* status) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    read_some(left);
  }
  if (pid_ > 0) {
    if (out_) ::kill(pid_, SIGKILL);  // still talking after the timeout
    int st = 0;
    ::waitpid(pid_, &st, 0);
    if (status) *status = st;
    pid_ = -1;
  }
  out_.reset();
  return output_;
}

}  // namespace ringo::test
