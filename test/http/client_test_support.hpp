// Test support for the client: a scripted blocking server on 127.0.0.1 (one thread per
// connection) and small request helpers.
#pragma once

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cstring>
#include <functional>
#include <mutex>
#include <netinet/in.h>
#include <optional>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include <ringo/http/transport.hpp>
#include <ringo/runtime.hpp>

namespace ringo::http {

// A blocking server in its own thread; each accepted connection runs `handle(fd, index)` in a
// thread of its own.
class script_server {
 public:
  using handler = std::function<void(int fd, int index)>;
  explicit script_server(handler h) : handle_(std::move(h)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_fd_, 128);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] {
      for (int i = 0;; ++i) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;
        accepts_.fetch_add(1);
        std::lock_guard lock(m_);
        conns_.emplace_back([this, fd, i] {
          handle_(fd, i);
          ::close(fd);
        });
      }
    });
  }
  ~script_server() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    ::close(listen_fd_);
    std::lock_guard lock(m_);
    for (auto& t : conns_) t.join();
  }
  std::string url(std::string_view path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  int accepts() const { return accepts_.load(); }

 private:
  handler handle_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<int> accepts_{0};
  std::thread acceptor_;
  std::mutex m_;
  std::vector<std::thread> conns_;
};

// Reads one request (head and Content-Length body); empty at EOF.
inline std::string read_request(int fd) {
  std::string got;
  char buf[4096];
  std::size_t end;
  while ((end = got.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return {};
    got.append(buf, std::size_t(n));
  }
  std::size_t body = 0;
  if (auto cl = got.find("Content-Length: "); cl != std::string::npos && cl < end)
    body = std::stoul(got.substr(cl + 16));
  while (got.size() < end + 4 + body) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return {};
    got.append(buf, std::size_t(n));
  }
  return got;
}

inline void send_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    s.remove_prefix(std::size_t(n));
  }
}

constexpr std::string_view ok_hello = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

// Answers every request on the conn with "hello".
inline void serve_hello(int fd, int) {
  while (!read_request(fd).empty()) send_all(fd, ok_hello);
}

inline client_request get(const std::string& u, std::string method = "GET") {
  client_request r;
  r.method = std::move(method);
  r.url = parse_url(u).value();
  return r;
}

// A GET whose body is read to the end; the body text, or "error: <message>".
inline task<std::string> fetch(transport* t, client_request req, std::stop_token stop = {}) {
  result<response, client_error> r = co_await t->round_trip(std::move(req), stop);
  if (!r) co_return "error: " + r.error().message();
  result<std::string> body = co_await r->body->read_all();
  if (!body) co_return "error: body: " + body.error().message();
  co_return std::move(*body);
}

// A replayable request body that counts its rewinds and closes; its length is known or not
// (then it goes out chunked).
class counting_source final : public body_source {
 public:
  counting_source(std::string data, bool known_length, int* rewinds, int* closes)
      : data_(std::move(data)), known_length_(known_length), rewinds_(rewinds), closes_(closes) {}
  task<result<std::size_t>> read(mutable_buffer buf, std::stop_token) override {
    std::size_t n = std::min(buf.size, data_.size() - at_);
    std::memcpy(buf.data, data_.data() + at_, n);
    at_ += n;
    co_return n;
  }
  result<void> rewind() override {
    if (rewinds_) ++*rewinds_;
    at_ = 0;
    return {};
  }
  std::optional<std::size_t> length() const override {
    return known_length_ ? std::optional<std::size_t>(data_.size()) : std::nullopt;
  }
  void close() noexcept override {
    if (closes_) ++*closes_;
  }

 private:
  std::string data_;
  bool known_length_;
  int* rewinds_;
  int* closes_;
  std::size_t at_ = 0;
};

// Generous bounds for a timed step (the CI machines are two noisy cores).
inline void expect_took_at_least(clock::time_point start, duration least) {
  const duration took = clock::now() - start;
  EXPECT_GE(took, least - std::chrono::milliseconds(10));
  EXPECT_LT(took, std::chrono::seconds(5));
}

}  // namespace ringo::http
