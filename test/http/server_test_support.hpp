// Support for the server tests: an http::server running on its own thread (its own io_context),
// blocking raw-socket clients, a strict little HTTP/1.1 response reader, and a runner for the real
// clients (curl, python3, Go).
//
// The server runs on a thread of its own so that the test thread can block: in a socket read, in a
// subprocess, in a wait for what a handler reported. Everything the test thread asks of the server
// (shutdown, close) travels to the loop through an eventfd the loop reads through the ring, and
// runs there: the server is single-threaded, like every object on an io_context.
#pragma once

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string>
#include <string_view>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <ringo/http.hpp>
#include <ringo/net.hpp>
#include <ringo/runtime.hpp>

#include "ringo_test.hpp"

namespace ringo::http::test {

using namespace std::chrono_literals;
using ringo::test::ms;
using steady = std::chrono::steady_clock;

// --- Cross-thread signals ------------------------------------------------------------------------

// A counter one thread bumps and another waits on: "the handler started", "the handler saw stop".
class counter {
 public:
  void bump() {
    {
      std::lock_guard lock(m_);
      ++n_;
    }
    cv_.notify_all();
  }
  // Whether the count reached `n` within `timeout`.
  bool wait_for(int n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(m_);
    return cv_.wait_for(lock, timeout, [&] { return n_ >= n; });
  }
  int count() {
    std::lock_guard lock(m_);
    return n_;
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  int n_ = 0;
};

// A time point one thread records and another reads.
class moment {
 public:
  void mark() {
    {
      std::lock_guard lock(m_);
      if (!t_) t_ = steady::now();
    }
    cv_.notify_all();
  }
  std::optional<steady::time_point> wait_for(std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(m_);
    cv_.wait_for(lock, timeout, [&] { return t_.has_value(); });
    return t_;
  }
  bool marked() {
    std::lock_guard lock(m_);
    return t_.has_value();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::optional<steady::time_point> t_;
};

// A list of strings several threads append to (conn_state hook calls, error_log lines).
class string_log {
 public:
  void add(std::string s) {
    {
      std::lock_guard lock(m_);
      lines_.push_back(std::move(s));
    }
    cv_.notify_all();
  }
  std::vector<std::string> lines() {
    std::lock_guard lock(m_);
    return lines_;
  }
  bool wait_for_size(std::size_t n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(m_);
    return cv_.wait_for(lock, timeout, [&] { return lines_.size() >= n; });
  }
  std::string joined(std::string_view sep = " ") {
    std::string out;
    for (const auto& l : lines()) {
      if (!out.empty()) out += sep;
      out += l;
    }
    return out;
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

// --- The server on its own thread
// ------------------------------------------------------------------

// Runs `srv` (configured beforehand, not touched by the test thread afterwards) on a new thread
// with its own io_context, listening on 127.0.0.1 on a kernel-chosen port. The destructor closes
// the server and joins the thread.
class server_thread {
 public:
  explicit server_thread(http::server& srv) : server_thread(srv, std::nullopt) {}
  // Serves TLS with `tls` (server::serve_tls) when given.
  server_thread(http::server& srv, std::optional<net::tls_config> tls)
      : srv_(&srv), tls_(std::move(tls)), wake_(::eventfd(0, EFD_CLOEXEC)) {
    if (!wake_) throw std::system_error(errno, std::system_category(), "eventfd");
    auto ready = ready_.get_future();
    thread_ = std::thread([this] { thread_main(); });
    port_ = ready.get();
  }
  ~server_thread() { stop(); }
  server_thread(const server_thread&) = delete;
  server_thread& operator=(const server_thread&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string url(std::string_view path = "/") const {
    return (tls_ ? "https://" : "http://") + address() + std::string(path);
  }

  // Starts a graceful shutdown on the loop; the future is ready when shutdown() returned.
  std::future<void> shutdown() {
    auto done = std::make_shared<std::promise<void>>();
    auto f = done->get_future();
    post([this, done]() { return do_shutdown(srv_, done); });
    return f;
  }
  // close() on the loop; returns once it was called.
  void close() {
    call([this] { srv_->close(); });
  }
  // Starts the coroutine `make()` returns on the loop (in the loop's scope: the thread waits for
  // it before it ends).
  void spawn(std::function<task<void>()> make) { post(std::move(make)); }
  // Runs `f` on the loop and waits for it.
  template <typename F>
  auto call(F f) -> decltype(f()) {
    using R = decltype(f());
    auto done = std::make_shared<std::promise<R>>();
    auto fut = done->get_future();
    post([f = std::move(f), done]() mutable { return run_call<R>(std::move(f), done); });
    return fut.get();
  }
  std::size_t connections() {
    return call([this] { return srv_->connections(); });
  }
  // Whether serve() returned within `timeout`.
  bool wait_served(std::chrono::milliseconds timeout) {
    return served_.wait_for(timeout).has_value();
  }
  // Closes the server, waits for serve() and the loop to end. Idempotent.
  void stop() {
    if (!thread_.joinable()) return;
    post([this]() -> task<void> {
      srv_->close();
      quit_ = true;
      return nothing();
    });
    thread_.join();
  }

 private:
  using command = std::function<task<void>()>;

  static task<void> nothing() { co_return; }
  static task<void> do_shutdown(http::server* s, std::shared_ptr<std::promise<void>> done) {
    co_await s->shutdown();
    done->set_value();
  }
  template <typename R, typename F>
  static task<void> run_call(F f, std::shared_ptr<std::promise<R>> done) {
    if constexpr (std::is_void_v<R>) {
      f();
      done->set_value();
    } else {
      done->set_value(f());
    }
    co_return;
  }

  void post(command c) {
    {
      std::lock_guard lock(m_);
      commands_.push_back(std::move(c));
    }
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof one);
  }

  void thread_main() {
    try {
      ringo::run(main_task(this));
    } catch (const std::exception& e) {
      ADD_FAILURE() << "server thread: " << e.what();
    }
    served_.mark();
  }

  static task<void> serve_task(server_thread* self, net::listener* l) {
    result<void, net::op_error> r;
    if (self->tls_)
      r = co_await self->srv_->serve_tls(*l, *self->tls_);
    else
      r = co_await self->srv_->serve(*l);
    EXPECT_TRUE(r) << "serve: " << r.error().message();
    self->served_.mark();
  }

  static task<void> main_task(server_thread* self) {
    auto l = net::listen("tcp", "127.0.0.1:0");
    if (!l) {
      ADD_FAILURE() << "listen: " << l.error().message();
      self->ready_.set_value(0);
      co_return;
    }
    self->ready_.set_value(l->addr().port());
    scope s;
    s.spawn(serve_task(self, &*l));
    while (!self->quit_) {
      std::uint64_t v = 0;
      auto n = co_await ringo::read(self->wake_.get(), mutable_buffer(&v, sizeof v));
      if (!n) break;
      std::deque<command> todo;
      {
        std::lock_guard lock(self->m_);
        todo.swap(self->commands_);
      }
      for (auto& c : todo) s.spawn(c());
    }
    co_await s.join();
  }

  http::server* srv_;
  std::optional<net::tls_config> tls_;
  unique_fd wake_;
  std::promise<std::uint16_t> ready_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::mutex m_;
  std::deque<command> commands_;
  bool quit_ = false;  // loop thread only
  moment served_;
};

// --- A blocking raw-socket client ----------------------------------------------------------------

// One HTTP response as read off the wire.
struct raw_response {
  std::string version;  // "HTTP/1.1"
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool chunked = false;
  bool until_close = false;  // the body ended with the connection
  std::string head;          // the status line and fields, as received

  std::optional<std::string> get(std::string_view name) const {
    for (const auto& [n, v] : headers)
      if (iequals(n, name)) return v;
    return std::nullopt;
  }
  std::size_t count(std::string_view name) const {
    std::size_t c = 0;
    for (const auto& [n, v] : headers) c += iequals(n, name);
    return c;
  }
  bool has_token(std::string_view name, std::string_view token) const {
    http::headers h;
    for (const auto& [n, v] : headers) h.add(n, v);
    return h.has_token(name, token);
  }
};

// A TCP client on blocking sockets. Every read waits at most the timeout given (default 5 s) and
// fails the test when it passes.
class raw_client {
 public:
  raw_client() = default;
  explicit raw_client(std::uint16_t port) { connect(port); }

  void connect(std::uint16_t port) {
    fd_ = unique_fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw std::system_error(errno, std::system_category(), "connect");
    int one = 1;
    ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  // connect(), or false when refused.
  bool try_connect(std::uint16_t port) {
    try {
      connect(port);
      return true;
    } catch (const std::system_error&) {
      fd_.reset();
      return false;
    }
  }

  int fd() const noexcept { return fd_.get(); }
  bool is_open() const noexcept { return bool(fd_); }

  void send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw std::system_error(errno, std::system_category(), "send");
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  // send() that reports failure instead of throwing (the server may have closed already).
  bool try_send(std::string_view data) {
    try {
      send(data);
      return true;
    } catch (const std::system_error&) {
      return false;
    }
  }
  void shutdown_write() { ::shutdown(fd_.get(), SHUT_WR); }
  // Closes with RST (SO_LINGER 0) instead of FIN: a client that vanishes.
  void reset() {
    ringo::test::set_reset_on_close(fd_.get());
    fd_.reset();
  }
  void close() { fd_.reset(); }

  // Reads more into the internal buffer. >0: bytes read; 0: end of stream; -1: error (reset);
  // -2: nothing within the timeout.
  int fill(std::chrono::milliseconds timeout) {
    pollfd p{fd_.get(), POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (r == 0) return -2;
    char buf[65536];
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n < 0) return -1;
    if (n == 0) return 0;
    in_.append(buf, static_cast<std::size_t>(n));
    return static_cast<int>(n);
  }

  // Whatever arrives within `timeout` (waits for the first bytes, then takes what is there).
  std::string read_some(std::chrono::milliseconds timeout = 5s) {
    if (in_.empty()) fill(timeout);
    return take(in_.size());
  }
  // Everything up to the end of the stream; fails the test if it does not end within `timeout`.
  std::string read_until_close(std::chrono::milliseconds timeout = 5s) {
    auto deadline = steady::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
      int n = fill(std::max(left, 0ms));
      if (n == 0 || n == -1) break;
      if (n == -2) {
        ADD_FAILURE() << "the server did not close the connection within " << timeout.count()
                      << " ms";
        break;
      }
    }
    return take(in_.size());
  }
  // Whether the server closed (FIN or RST) within `timeout`. Bytes that arrive first are kept
  // (unread() shows them).
  bool closed_within(std::chrono::milliseconds timeout) {
    auto deadline = steady::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
      if (left < 0ms) return false;
      int n = fill(left);
      if (n == 0 || n == -1) return true;
      if (n == -2) return false;
    }
  }
  // Whether nothing arrives and the connection stays open for `d`.
  bool quiet_for(std::chrono::milliseconds d) {
    pollfd p{fd_.get(), POLLIN, 0};
    return in_.empty() && ::poll(&p, 1, static_cast<int>(d.count())) == 0;
  }

  // Reads one response. `head_request`: the request was HEAD (no body whatever the fields say).
  // Fails the test (and returns nullopt) on a malformed response or a timeout.
  std::optional<raw_response> read_response(bool head_request = false,
                                            std::chrono::milliseconds timeout = 5s) {
    deadline_ = steady::now() + timeout;
    raw_response r;
    std::size_t end;
    while ((end = in_.find("\r\n\r\n")) == std::string::npos)
      if (!more("the response head")) return std::nullopt;
    r.head = in_.substr(0, end + 2);
    std::string_view head = r.head;
    in_.erase(0, end + 4);
    std::size_t eol = head.find("\r\n");
    std::string_view status_line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    // "HTTP/1.1 200 OK": the version, one space, three digits, one space, a reason (may be empty).
    if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ' ||
        status_line[12] != ' ') {
      ADD_FAILURE() << "malformed status line: " << status_line;
      return std::nullopt;
    }
    r.version = std::string(status_line.substr(0, 8));
    r.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
    r.reason = std::string(status_line.substr(13));
    while (!head.empty()) {
      eol = head.find("\r\n");
      std::string_view line = head.substr(0, eol);
      head.remove_prefix(eol + 2);
      auto colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0 || line[colon - 1] == ' ') {
        ADD_FAILURE() << "malformed header line: " << line;
        return std::nullopt;
      }
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
      r.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
    }
    if (r.status < 200 || r.status == 204 || r.status == 304 || head_request) return r;
    if (auto te = r.get("Transfer-Encoding")) {
      if (!iequals(*te, "chunked")) {
        ADD_FAILURE() << "unexpected Transfer-Encoding: " << *te;
        return std::nullopt;
      }
      if (r.get("Content-Length")) {
        ADD_FAILURE() << "both Content-Length and Transfer-Encoding";
        return std::nullopt;
      }
      r.chunked = true;
      if (!read_chunked(r.body)) return std::nullopt;
      return r;
    }
    if (auto cl = r.get("Content-Length")) {
      std::size_t n = std::strtoull(cl->c_str(), nullptr, 10);
      while (in_.size() < n)
        if (!more("the body")) return std::nullopt;
      r.body = take(n);
      return r;
    }
    r.until_close = true;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - steady::now());
      int n = fill(std::max(left, 0ms));
      if (n == 0 || n == -1) break;
      if (n == -2) {
        ADD_FAILURE() << "a close-delimited body did not end";
        return std::nullopt;
      }
    }
    r.body = take(in_.size());
    return r;
  }

  // Bytes read but not yet taken by read_response.
  const std::string& unread() const noexcept { return in_; }

 private:
  bool more(const char* what) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - steady::now());
    int n = fill(std::max(left, 0ms));
    if (n > 0) return true;
    ADD_FAILURE() << "reading " << what << ": "
                  << (n == 0    ? "end of stream"
                      : n == -1 ? "connection reset"
                                : "timed out")
                  << " after " << in_.size() << " bytes: " << in_.substr(0, 200);
    return false;
  }
  bool read_chunked(std::string& body) {
    for (;;) {
      std::size_t eol;
      while ((eol = in_.find("\r\n")) == std::string::npos)
        if (!more("a chunk size")) return false;
      std::string line = take(eol);
      in_.erase(0, 2);
      char* end = nullptr;
      std::size_t n = std::strtoull(line.c_str(), &end, 16);
      if (line.empty() || *end != '\0') {
        ADD_FAILURE() << "malformed chunk size line: " << line;
        return false;
      }
      if (n == 0) {
        // Trailers (we send none), then the final CRLF.
        while ((eol = in_.find("\r\n")) == std::string::npos)
          if (!more("the last chunk")) return false;
        if (eol != 0) {
          ADD_FAILURE() << "unexpected trailer: " << in_.substr(0, eol);
          return false;
        }
        in_.erase(0, 2);
        return true;
      }
      while (in_.size() < n + 2)
        if (!more("a chunk")) return false;
      body += take(n);
      if (in_.compare(0, 2, "\r\n") != 0) {
        ADD_FAILURE() << "chunk not followed by CRLF";
        return false;
      }
      in_.erase(0, 2);
    }
  }
  std::string take(std::size_t n) {
    std::string out = in_.substr(0, n);
    in_.erase(0, n);
    return out;
  }

  unique_fd fd_;
  std::string in_;
  steady::time_point deadline_;
};

// "GET /path HTTP/1.1" with a Host and the extra fields given (each ending in \r\n).
inline std::string get_request(std::string_view path = "/", std::string_view extra = "") {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: test\r\n" + std::string(extra) + "\r\n";
}

// --- Real clients as subprocesses ----------------------------------------------------------------

struct process_result {
  int exit_code = -1;  // -1: killed (timed out) or did not start
  std::string out;
  std::string err;
  bool timed_out = false;
};

// Runs argv[0] (a path) with `argv`, extra environment entries ("NAME=value"), and `input` on
// stdin; collects stdout and stderr. Kills the child (by its pid) after `timeout`.
inline process_result run_process(const std::vector<std::string>& argv,
                                  const std::vector<std::string>& env_extra = {},
                                  std::string_view input = "",
                                  std::chrono::milliseconds timeout = 30s) {
  process_result res;
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) return res;
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    ::close(in_pipe[0]);
    ::close(in_pipe[1]);
    return res;
  }
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1]}) ::close(fd);
    return res;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    bool overridden = false;
    for (const auto& x : env_extra)
      if (entry.substr(0, entry.find('=') + 1) == std::string_view(x).substr(0, x.find('=') + 1))
        overridden = true;
    if (!overridden) env_strings.emplace_back(entry);
  }
  for (const auto& x : env_extra) env_strings.push_back(x);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv[0].c_str(), &fa, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    res.err = "posix_spawn " + argv[0] + ": " + std::strerror(rc);
    return res;
  }
  // Feed stdin from a thread so a child that writes before reading cannot deadlock us.
  std::thread feeder([fd = in_pipe[1], input] {
    std::string_view rest = input;
    while (!rest.empty()) {
      ssize_t n = ::write(fd, rest.data(), rest.size());
      if (n <= 0) break;
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
    ::close(fd);
  });
  auto deadline = steady::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_count = 2;
  while (open_count > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
    if (left <= 0ms) {
      res.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    if (::poll(fds, 2, static_cast<int>(left.count())) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[65536];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        fds[i].fd = -1;
        --open_count;
      } else {
        (i == 0 ? res.out : res.err).append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  feeder.join();
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  if (!res.timed_out && WIFEXITED(status)) res.exit_code = WEXITSTATUS(status);
  return res;
}

// The full path of `name` on PATH, or "" when it is not installed.
inline std::string find_program(std::string_view name) {
  const char* path = std::getenv("PATH");
  std::string_view rest = path ? path : "/usr/bin:/bin";
  while (!rest.empty()) {
    auto colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    rest.remove_prefix(colon == std::string_view::npos ? rest.size() : colon + 1);
    if (dir.empty()) continue;
    std::string full = dir + "/" + std::string(name);
    if (::access(full.c_str(), X_OK) == 0) return full;
  }
  return {};
}

// A directory under the system's temp dir, removed with everything in it on destruction.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ringo-http-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::system_error(errno, std::system_category(), "mkdtemp");
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

}  // namespace ringo::http::test
