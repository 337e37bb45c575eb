// raw_http_server: the floor for the HTTP load benchmarks (bench/http.sh), what the kernel and
// io_uring cost for serving "Hello, World!" over keep-alive connections. Plain liburing on one
// thread and no ringo: a multishot accept, then per connection a recv, and for every complete
// request head ("\r\n\r\n") in what arrived the same 130-byte response hello_server sends, in one
// send; then the next recv (polling first: the next request comes after our response). No
// parsing beyond finding the head's end, no bodies, no timeouts.
// The ring is set up as ringo's io_context sets up its own (same flags and sizes), so the ratio
// measures ringo's work and not a different ring configuration.
//
//   raw_http_server [--listen 127.0.0.1:8080]     (runs until a signal kills it)
#include <arpa/inet.h>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <unistd.h>

#include <liburing.h>

namespace {

constexpr std::size_t buffer_size = 4096;
constexpr std::uint64_t accept_tag = 1;  // user_data of the accept; connections are pointers

struct conn {
  int fd;
  bool sending = false;
  std::size_t have = 0;  // bytes in buf (a partial head kept for the next recv)
  std::string out;       // responses being sent
  std::size_t sent = 0;
  char buf[buffer_size];
};

std::string response;  // fixed at start: the Date is the start time

void die(const char* what, int err) {
  std::fprintf(stderr, "raw_http_server: %s: %s\n", what, std::strerror(err));
  std::exit(1);
}

io_uring_sqe* sqe_for(io_uring& ring) {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  if (!sqe) {
    io_uring_submit(&ring);
    sqe = io_uring_get_sqe(&ring);
  }
  return sqe;
}

void arm_recv(io_uring& ring, conn* c) {
  io_uring_sqe* sqe = sqe_for(ring);
  io_uring_prep_recv(sqe, c->fd, c->buf + c->have, buffer_size - c->have, 0);
  // The next request comes after our response: wait for data before trying (saves a failed recv).
  sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
  io_uring_sqe_set_data(sqe, c);
}

void arm_send(io_uring& ring, conn* c) {
  io_uring_sqe* sqe = sqe_for(ring);
  io_uring_prep_send(sqe, c->fd, c->out.data() + c->sent, c->out.size() - c->sent, MSG_NOSIGNAL);
  io_uring_sqe_set_data(sqe, c);
}

void drop(conn* c) {
  ::close(c->fd);
  delete c;
}

void on_recv(io_uring& ring, conn* c, int res) {
  if (res <= 0) return drop(c);
  c->have += static_cast<std::size_t>(res);
  std::string_view data(c->buf, c->have);
  std::size_t pos = 0, requests = 0;
  for (std::size_t end; (end = data.find("\r\n\r\n", pos)) != std::string_view::npos;) {
    pos = end + 4;
    ++requests;
  }
  if (pos > 0) {  // keep a partial head for the next recv
    std::memmove(c->buf, c->buf + pos, c->have - pos);
    c->have -= pos;
  } else if (c->have == buffer_size) {
    return drop(c);  // a head larger than the buffer
  }
  if (requests == 0) return arm_recv(ring, c);
  c->out.clear();
  for (std::size_t i = 0; i < requests; ++i) c->out += response;
  c->sent = 0;
  c->sending = true;
  arm_send(ring, c);
}

void on_send(io_uring& ring, conn* c, int res) {
  if (res < 0) return drop(c);
  c->sent += static_cast<std::size_t>(res);
  if (c->sent < c->out.size()) return arm_send(ring, c);
  c->sending = false;
  arm_recv(ring, c);
}

void arm_accept(io_uring& ring, int listener) {
  io_uring_sqe* sqe = sqe_for(ring);
  io_uring_prep_multishot_accept(sqe, listener, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, accept_tag);
}

}  // namespace

int main(int argc, char** argv) {
  std::string address = "127.0.0.1:8080";
  for (int i = 1; i + 1 < argc; i += 2)
    if (std::string_view(argv[i]) == "--listen") address = argv[i + 1];
  auto colon = address.rfind(':');
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(std::atoi(address.c_str() + colon + 1)));
  if (colon == std::string::npos ||
      ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr) != 1) {
    std::fprintf(stderr, "raw_http_server: --listen wants IPv4:PORT\n");
    return 2;
  }

  char date[64];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  response = std::string("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nDate: ") +
             date + "\r\nContent-Length: 13\r\n\r\nHello, World!";

  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) die("bind", errno);
  if (::listen(listener, 4096) != 0) die("listen", errno);

  // As ringo's io_context: SQ 256, CQ 16 × SQ, the best flags the kernel grants.
  io_uring ring{};
  const unsigned ladder[] = {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                                 IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
                             IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL, 0};
  int err = -EINVAL;
  for (unsigned flags : ladder) {
    io_uring_params params{};
    params.flags = flags | IORING_SETUP_CQSIZE;
    params.cq_entries = 16 * 256;
    if ((err = io_uring_queue_init_params(256, &ring, &params)) != -EINVAL) break;
  }
  if (err != 0) die("io_uring_queue_init", -err);

  arm_accept(ring, listener);
  for (;;) {
    int ret = io_uring_submit_and_wait(&ring, 1);
    if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) die("io_uring_enter", -ret);
    io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      std::uint64_t tag = io_uring_cqe_get_data64(cqe);
      if (tag == accept_tag) {
        if (cqe->res >= 0) {
          auto* c = new conn{cqe->res};
          ::setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          arm_recv(ring, c);
        }
        if (!(cqe->flags & IORING_CQE_F_MORE)) arm_accept(ring, listener);
        continue;
      }
      auto* c = reinterpret_cast<conn*>(tag);
      if (c->sending)
        on_send(ring, c, cqe->res);
      else
        on_recv(ring, c, cqe->res);
    }
    io_uring_cq_advance(&ring, seen);
  }
}
