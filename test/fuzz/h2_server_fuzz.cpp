// h2_server_fuzz: libFuzzer target over the server's HTTP/2 input, in-process and without the
// network: the server's connection path (the HTTP/1 side sees the preface and hands the
// connection to lib/http/h2/: nghttp2's session, the streams, the handlers, the writer) serves one
// end of a socketpair on an io_context; a client task on the same context writes the preface and
// the input to the other end and reads everything the server answers.
//
// Input: byte 0 picks where the client splits its writes, byte 1 how the handlers behave (read
// the whole body, a little or none; answer plainly, with a declared length, streamed with
// flushes, with trailers and a 103, or 204; throw before or after the head); the rest follows the
// preface as raw HTTP/2 frames. After its input the client sends a PING and reads until the PING's
// ACK (everything before it has been processed; at most 100 ms, since an input cut inside a frame
// swallows the PING), then a moment more for the handlers' answers, then half-closes and reads
// until the server closes. The seed corpus (test/fuzz/corpus-h2) holds a few valid conversations
// to start from.
//
// Invariants: the server neither crashes nor hangs nor leaks (ASan); what it sends is a sequence
// of whole HTTP/2 frames, SETTINGS first, of known types, on stream 0 or a stream the client
// opened (odd), within the frame size the client allowed.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/socket.h>

#include "ringo/http/request.hpp"
#include "ringo/http/response_writer.hpp"
#include "ringo/http/server.hpp"
#include "ringo/http/status.hpp"
#include "ringo/net/conn.hpp"
#include "ringo/runtime/io_context.hpp"
#include "ringo/runtime/operations.hpp"
#include "ringo/runtime/when_all.hpp"
#include "server_conn.hpp"
#include "server_state.hpp"

namespace {

using namespace ringo;
using namespace std::chrono_literals;

constexpr std::string_view preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr char ping_frame[] = {0, 0, 8, 6, 0, 0, 0, 0, 0, 'f', 'u', 'z', 'z', 'p', 'i', 'n', 'g'};

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "h2_server_fuzz: invariant broken: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

unsigned mode = 0;

task<void> handler(http::response_writer& w, http::request& r) {
  check(r.body != nullptr, "a request without a body reader");
  check(r.version_major == 2, "an HTTP/2 request that is not 2.0");
  switch (mode & 3) {
    case 0:
      (void)co_await r.body->read_all(1 << 20);
      break;
    case 1: {
      char buf[3];
      auto n = co_await r.body->read(buf);
      if (n) check(*n <= sizeof buf, "read more than asked");
      break;
    }
    default:
      break;
  }
  switch ((mode >> 2) & 7) {
    case 0:
      (void)co_await w.write("ok");
      break;
    case 1:
      w.header().set("Content-Length", "5");
      (void)co_await w.write("hello");
      break;
    case 2:
      (void)co_await w.write("stream");
      (void)co_await w.flush();
      (void)co_await w.write(std::string(20000, 'x'));
      break;
    case 3:
      w.header().set("Link", "</a>; rel=preload");
      (void)co_await w.write_informational(http::status::early_hints);
      w.header().set("Trailer", "X-Sum");
      (void)co_await w.write("body");
      w.header().set("X-Sum", "1");
      break;
    case 4:
      w.header().set("Content-Length", "10");  // and shorter: the stream is reset
      (void)co_await w.write("short");
      break;
    case 5:
      throw std::runtime_error("before the head");
    case 6:
      (void)co_await w.write("partial");
      (void)co_await w.flush();
      throw std::runtime_error("after the head");
    default:
      w.write_header(204);
      break;
  }
}

task<void> serve(http::server::state& st, int fd) {
  co_await http::detail::serve_connection(&st, net::conn(unique_fd(fd), "unix"));
}

task<void> write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    auto n = co_await send(fd, data);
    if (!n) co_return;
    data.remove_prefix(*n);
  }
}

// Appends what arrives until `until` is in the output, the server closes, or `deadline`.
task<bool> read_until(int fd, std::string& out, std::string_view until, time_point deadline) {
  char buf[16384];
  for (;;) {
    if (!until.empty() && out.find(until) != std::string::npos) co_return true;
    auto n = co_await recv(fd, buf, {}, deadline);
    if (!n || *n == 0) co_return n.has_value();
    out.append(buf, *n);
  }
}

task<void> client(int fd, std::string_view input, std::size_t split, std::string& out) {
  std::string first = std::string(preface) + std::string(input.substr(0, split));
  co_await write_all(fd, first);
  co_await yield();
  co_await write_all(fd, input.substr(split));
  co_await write_all(fd, std::string_view(ping_frame, sizeof ping_frame));
  // The ACK: PING, flags ACK, the same opaque data.
  static constexpr char ack[] = {0, 0, 8, 6, 1, 0, 0, 0, 0, 'f', 'u', 'z', 'z', 'p', 'i', 'n', 'g'};
  // (An input that ends inside a frame swallows the PING: then the ACK never comes.)
  bool open = co_await read_until(fd, out, std::string_view(ack, sizeof ack), clock::now() + 100ms);
  if (open) (void)co_await read_until(fd, out, {}, clock::now() + 2ms);
  // The client leaves: the server must close its side within a bound, whatever it was doing.
  ::shutdown(fd, SHUT_WR);
  const time_point hang = clock::now() + 10s;
  (void)co_await read_until(fd, out, {}, hang);
  if (clock::now() >= hang) fail("the server hangs after the client left");
  ::close(fd);
}

std::uint32_t u24(const unsigned char* p) {
  return (std::uint32_t(p[0]) << 16) | (std::uint32_t(p[1]) << 8) | p[2];
}

void check_frames(std::string_view out) {
  if (out.empty()) return;  // (a bad preface or an early error: closed without a word)
  const auto* p = reinterpret_cast<const unsigned char*>(out.data());
  check(out.size() >= 9 && p[3] == 4, "the server's first frame is not SETTINGS");
  std::size_t at = 0;
  while (at < out.size()) {
    check(out.size() - at >= 9, "a cut frame header");
    const std::uint32_t length = u24(p + at);
    const unsigned type = p[at + 3];
    std::uint32_t stream = 0;
    std::memcpy(&stream, p + at + 5, 4);
    stream = __builtin_bswap32(stream) & 0x7fffffffu;
    check(type <= 9, "a frame of unknown type");
    check(length <= 16777215, "a frame longer than any limit");
    check(stream == 0 || stream % 2 == 1, "a frame on a stream the client did not open");
    check(out.size() - at - 9 >= length, "a cut frame");
    at += 9 + length;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  static io_context ctx;  // one ring for the whole run
  std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  mode = data[1];
  http::server srv(handler);
  srv.error_log = [](std::string_view) {};
  srv.http2.write_byte_timeout = 100ms;  // a stalled stream must not make a slow run
  http::server::state st(srv);
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
  std::string out;
  const std::size_t split = data[0] * input.size() / 255;
  ctx.run(when_all(serve(st, fds[0]), client(fds[1], input, split, out)));
  check_frames(out);
  return 0;
}
