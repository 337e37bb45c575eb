// send_file_bench: what sending a file to a TCP socket costs the sender, three ways, so that
// net::conn::send_file can take the cheapest (README, "Serving files"):
//
//   splice    IORING_OP_SPLICE file -> pipe -> socket through the ring (zero copy; the kernel runs
//             each splice on an io-wq worker thread)
//   sendfile  sendfile(2) on the io_context's thread, the socket non-blocking, and a POLLOUT
//             through the ring when its buffer is full (zero copy; what nginx does)
//   copy      read_at through the ring into a buffer, then send through the ring (two copies)
//
// For each file size (4 KiB and 1 MiB) and way: N transfers on one keep-alive TCP connection over
// 127.0.0.1 to a child process that reads and discards; the sender's process CPU (utime + stime
// of every thread, io-wq workers included) per transfer, and the bytes per second.
//
//   send_file_bench [ROUNDS_SCALE]      (taskset -c 0; the child pins itself to core 1)
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <string>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <ringo/runtime.hpp>

namespace {

using ringo::task;

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

task<bool> send_splice(int file, int sock, int pipe_r, int pipe_w, std::size_t size) {
  std::int64_t off = 0;
  while (std::size_t(off) < size) {
    auto in = co_await ringo::splice(file, off, pipe_w, -1, size - std::size_t(off));
    if (!in || *in == 0) {
      std::fprintf(stderr, "splice in: %s\n", in ? "0" : in.error().message().c_str());
      co_return false;
    }
    off += std::int64_t(*in);
    for (std::size_t left = *in; left > 0;) {
      auto out = co_await ringo::splice(pipe_r, -1, sock, -1, left);
      if (!out) {
        std::fprintf(stderr, "splice out: %s\n", out.error().message().c_str());
        co_return false;
      }
      left -= *out;
    }
  }
  co_return true;
}

task<bool> send_sendfile(int file, int sock, std::size_t size) {
  off_t off = 0;
  while (std::size_t(off) < size) {
    ssize_t n = ::sendfile(sock, file, &off, size - std::size_t(off));
    if (n > 0) continue;
    if (n < 0 && errno == EAGAIN) {
      if (!co_await ringo::poll(sock, POLLOUT)) co_return false;
      continue;
    }
    co_return false;
  }
  co_return true;
}

task<bool> send_copy(int file, int sock, std::size_t size, std::vector<char>& buf) {
  std::uint64_t off = 0;
  while (off < size) {
    auto n = co_await ringo::read_at(file, ringo::mutable_buffer(buf.data(), buf.size()), off);
    if (!n || *n == 0) co_return false;
    off += *n;
    for (std::size_t done = 0; done < *n;) {
      auto w = co_await ringo::send(sock, ringo::const_buffer(buf.data() + done, *n - done));
      if (!w) co_return false;
      done += *w;
    }
  }
  co_return true;
}

struct figures {
  double cpu_us = 0, mb_per_s = 0;
};

task<figures> measure(std::string way, int file, int sock, std::size_t size, int n) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) co_return figures{};
  ::fcntl(p[1], F_SETPIPE_SZ, 1 << 20);  // one splice per MiB (pipe-max-size's default)
  std::vector<char> buf(256 << 10);
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = cpu_seconds();
  for (int i = 0; i < n; ++i) {
    bool ok = way == "splice"     ? co_await send_splice(file, sock, p[0], p[1], size)
              : way == "sendfile" ? co_await send_sendfile(file, sock, size)
                                  : co_await send_copy(file, sock, size, buf);
    if (!ok) {
      std::fprintf(stderr, "%s failed\n", way.c_str());
      break;
    }
  }
  const double cpu = cpu_seconds() - c0;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ::close(p[0]);
  ::close(p[1]);
  co_return figures{cpu / n * 1e6, double(size) * n / wall / 1e6};
}

// A TCP connection over 127.0.0.1 to a child process that reads and discards until the end.
struct drained_socket {
  int fd = -1;
  pid_t reader = -1;
};

drained_socket connect_drained() {
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(lfd, 1) != 0 ||
      ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    std::exit(1);
  pid_t child = ::fork();
  if (child == 0) {  // the reader, pinned to the other core
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(1, &set);
    ::sched_setaffinity(0, sizeof set, &set);
    int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) ::_exit(1);
    std::vector<char> sink(1 << 20);
    while (::recv(c, sink.data(), sink.size(), 0) > 0) {
    }
    ::_exit(0);
  }
  int sock = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
  ::close(lfd);
  int one = 1;  // as servers set it (ringo's listener, nginx's tcp_nodelay)
  ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return {sock, child};
}

}  // namespace

int main(int argc, char** argv) {
  const double scale = argc > 1 ? std::atof(argv[1]) : 1.0;
  char path[] = "/tmp/ringo-send-file-XXXXXX";
  int file = ::mkstemp(path);
  ::unlink(path);
  std::vector<char> data(1 << 20, 'x');
  if (::write(file, data.data(), data.size()) != ssize_t(data.size())) return 1;

  std::printf("| file | way | sender CPU µs per transfer | MB/s |\n| --- | --- | ---: | ---: |\n");
  ringo::io_context ctx;
  for (std::size_t size : {std::size_t(4096), std::size_t(1) << 20}) {
    const int n = int((size == 4096 ? 40000 : 1000) * scale);
    for (const char* way : {"copy", "sendfile", "splice", "sendfile"}) {
      // A connection of its own: sendfile's is non-blocking, which a splice would see (EAGAIN).
      drained_socket d = connect_drained();
      if (std::string_view(way) == "sendfile")
        ::fcntl(d.fd, F_SETFL, ::fcntl(d.fd, F_GETFL) | O_NONBLOCK);
      (void)ctx.run(measure(way, file, d.fd, size, std::max(n / 10, 1)));  // warm-up
      figures f = ctx.run(measure(way, file, d.fd, size, n));
      std::printf("| %s | %s | %.2f | %.0f |\n", size == 4096 ? "4 KiB" : "1 MiB", way, f.cpu_us,
                  f.mb_per_s);
      std::fflush(stdout);
      ::close(d.fd);
      int status = 0;
      ::waitpid(d.reader, &status, 0);
    }
  }
  ::close(file);
  return 0;
}
