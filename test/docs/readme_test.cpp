// README.md's snippets: test/docs/extract_snippets.py makes them one file this test compiles
// (every ```cpp block must build against the library as it is), the TESTs among them run here
// with the others, and the programs among them (a `main`) run against a local server on the port
// they name.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include "ringo_test.hpp"

struct readme_program {
  const char* where;
  int (*main)();
};
extern const readme_program readme_programs[];

namespace {

// A blocking listener on 127.0.0.1:8080 (what the README's first program dials) that keeps what
// the first connection sends.
class listener_8080 {
 public:
  listener_8080() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(8080);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd_, 16) == 0;
    if (ok_) thread_ = std::thread([this] { serve(); });
  }
  ~listener_8080() {
    ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  bool ok() const { return ok_; }
  std::string received() {
    if (thread_.joinable()) thread_.join();
    return got_;
  }

 private:
  void serve() {
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return;
    char buf[256];
    ssize_t n;
    while ((n = ::recv(c, buf, sizeof buf, 0)) > 0) got_.append(buf, std::size_t(n));
    ::close(c);
  }
  int fd_ = -1;
  bool ok_ = false;
  std::thread thread_;
  std::string got_;
};

using Readme = ringo::test::RingoTest;

TEST_F(Readme, ProgramsRunAgainstALocalServer) {
  int programs = 0;
  for (const readme_program* p = readme_programs; p->main; ++p) {
    SCOPED_TRACE(p->where);
    ++programs;
    listener_8080 server;
    if (!server.ok()) GTEST_SKIP() << "127.0.0.1:8080 is taken";
    EXPECT_EQ(p->main(), 0);
    EXPECT_EQ(server.received(), "ping\n");
  }
  EXPECT_GE(programs, 1) << "README.md shows no program any more";
}

}  // namespace
