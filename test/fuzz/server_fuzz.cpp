// server_fuzz: libFuzzer target over the real server path, in-process and without the network:
// lib/http's server_conn (reading, validating and framing requests, the body reader, pipelining,
// keep-alive, the responses) serves one end of a socketpair on an io_context, and a client task on
// the same context writes the input to the other end and reads everything the server answers.
//
// Input: byte 0 picks where the client splits its writes, byte 1 how the handler behaves (read
// the whole body, a little of it or none; a plain, a declared-length or a streamed (chunked)
// response; throw), the rest is what the clients send: one connection after another, separated by
// a 0xFF byte and a byte whose low bit says how the connection before it ends (1: the client
// closes right after writing, without reading a byte; 0: it half-closes and reads everything).
// The connections share one server state, so that a spare connection object carrying anything
// from one connection to the next is found (the server checks each spare it takes in debug
// builds, and every response names the connection its handler ran for).
//
// Invariants: the server neither crashes nor hangs; what it sends on a connection that reads
// everything parses (llhttp, strict) as a sequence of HTTP/1.1 responses with nothing after the
// last; it answers no more requests than the input holds, and every request a handler sees is, in
// order, one the plain parser finds in the connection's input (method, target, and the body when
// the handler read it all); every response a handler made names its own connection. When every
// request in the input is well-formed and kept alive, each gets exactly one final response.
#include "server_fuzz.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <vector>

#include "ringo/http/request.hpp"
#include "ringo/http/response_writer.hpp"
#include "ringo/http/server.hpp"
#include "ringo/net/conn.hpp"
#include "ringo/runtime/io_context.hpp"
#include "ringo/runtime/operations.hpp"
#include "ringo/runtime/when_all.hpp"
#include "server_conn.hpp"
#include "server_state.hpp"

namespace {

using namespace ringo;
using namespace std::chrono_literals;
using namespace ringo::fuzz;

struct seen_request {
  std::string method, target, body;
  bool body_complete = false;
};

struct run_state {
  unsigned mode = 0;
  std::size_t input_size = 0;
  std::string conn_id;  // the connection being served, named in every response (X-Conn)
  std::vector<seen_request> seen;
};
run_state* current = nullptr;

task<void> handler(http::response_writer& w, http::request& r) {
  run_state& s = *current;
  check(r.body != nullptr, "a request without a body reader");
  s.seen.push_back({r.method, r.target, {}, false});
  seen_request& seen = s.seen.back();
  w.header().set("X-Conn", s.conn_id);
  switch (s.mode & 3) {
    case 0: {  // the whole body
      auto body = co_await r.body->read_all(1 << 20);
      if (body) {
        check(body->size() <= s.input_size, "more body than input");
        if (r.content_length) check(body->size() == *r.content_length, "body length mismatch");
        seen.body = std::move(*body);
        seen.body_complete = true;
      }
      break;
    }
    case 1: {  // a little of it
      char buf[3];
      auto n = co_await r.body->read(buf);
      if (n) check(*n <= sizeof buf, "read more than asked");
      break;
    }
    default:
      break;  // none: the server discards it
  }
  switch ((s.mode >> 2) & 3) {
    case 0:
      (void)co_await w.write("ok");
      break;
    case 1:
      w.header().set("Content-Length", "5");
      (void)co_await w.write("hello");
      break;
    case 2:
      (void)co_await w.write("stream");
      (void)co_await w.flush();  // the rest goes chunked
      (void)co_await w.write(" more");
      break;
    default:
      w.write_header(204);
      break;
  }
  if (s.mode & 16) throw std::runtime_error("handler failed on purpose");
}

task<void> serve(http::server::state& st, int fd) {
  co_await http::detail::serve_connection(&st, net::conn(unique_fd(fd), "unix"));
}

task<void> client(int fd, std::string_view stream, std::size_t split, std::string& out) {
  co_await when_all(write_input(fd, stream, split), read_output(fd, out));
  ::close(fd);
}

// A client that writes its input and leaves without reading a byte.
task<void> leaving_client(int fd, std::string_view stream, std::size_t split) {
  co_await write_input(fd, stream, split);
  ::close(fd);
}

struct connection_input {
  std::string_view stream;
  bool leaves = false;  // the client closes without reading
};

std::vector<connection_input> split_connections(std::string_view in) {
  constexpr std::size_t max_connections = 8;
  std::vector<connection_input> out;
  for (;;) {
    std::size_t sep = in.find('\xff');
    if (sep == std::string_view::npos || sep + 1 >= in.size() ||
        out.size() + 1 == max_connections) {
      out.push_back({in, false});
      return out;
    }
    out.push_back({in.substr(0, sep), (in[sep + 1] & 1) != 0});
    in.remove_prefix(sep + 2);
  }
}

// Serves one connection with the shared server state; checks what a reading client got.
void serve_one(http::server::state& st, run_state& state, const connection_input& in,
               std::size_t split_byte) {
  static io_context ctx;  // one ring for the whole run
  std::string_view stream = in.stream;
  std::size_t split = split_byte * stream.size() / 255;
  state.input_size = stream.size();
  state.seen.clear();
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
  std::string out;
  if (in.leaves)
    ctx.run(when_all(serve(st, fds[0]), leaving_client(fds[1], stream, split)));
  else
    ctx.run(when_all(serve(st, fds[0]), client(fds[1], stream, split, out)));
  static const bool verbose = std::getenv("RINGO_FUZZ_VERBOSE") != nullptr;
  if (verbose)
    std::fprintf(stderr, "connection %s (mode %u%s), server sent:\n%s\n--\n", state.conn_id.c_str(),
                 state.mode, in.leaves ? ", client left" : "", out.c_str());
  model m = parse_requests(stream);
  check(state.seen.size() <= m.heads, "a handler ran for a request the input does not hold");
  for (std::size_t i = 0; i < state.seen.size() && i < m.requests.size(); ++i) {
    const seen_request& s = state.seen[i];
    check(s.method == m.requests[i].method, "the handler saw another method");
    check(s.target == m.requests[i].url, "the handler saw another target");
    if (s.body_complete) check(s.body == m.requests[i].body, "the handler saw another body");
  }
  if (in.leaves) return;  // nothing was read
  // The client half-closes once it has sent everything; as in Go, that FIN stops the request's
  // token but not its response, so only a handler that throws may leave a response cut.
  bool may_be_cut = (state.mode & 16) != 0;
  std::size_t finals = check_responses(out, m, may_be_cut, state.conn_id);
  check(finals <= m.requests.size() + 1, "more responses than requests");
  if (m.clean && !may_be_cut)
    check(finals == m.requests.size(), "a well-formed request went unanswered");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  fuzz::target_name = "server_fuzz";
  std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  run_state state;
  state.mode = data[1];
  current = &state;
  http::server srv(handler);
  srv.error_log = [](std::string_view) {};
  // HTTP/1 only: input that opens with HTTP/2's preface would be answered in HTTP/2 frames, which
  // the model here does not parse (h2_server_fuzz covers that path).
  srv.http2.unencrypted = false;
  http::server::state st(srv);  // shared by the connections: its spares go from one to the next
  std::size_t n = 0;
  for (const connection_input& in : split_connections(input)) {
    state.conn_id = std::to_string(n++);
    serve_one(st, state, in, data[0]);
  }
  current = nullptr;
  return 0;
}
