// server_conn: one HTTP/1.x connection on the server side (Go's http.conn): its life from a
// request's first byte until it is idle, closed or hijacked. What it sends is server_output's
// (the response_sink of its response_writer); noticing a client that leaves is conn_reader's.
//
// A connection lives in two parts, so that an idle one costs little (bench/http.sh: ~0.5 KB where
// one object for the whole life cost 2.9 KB). serve_connection() is the light part, a coroutine
// that owns the stream and waits, with no buffer, for a request's first byte. Only then does it
// take a server_conn (the parser, buffers, the request and writer) from the server's spares, and
// it gives it back once nothing is buffered or owed any more (after a short grace, idle_grace, on
// a connection that keeps coming back). Giving back goes through reset(), which clears everything
// the connection carried: nothing of one connection can reach the next.
//
// server_conn::serve() reads a request, runs its handler, finishes the response and loops while
// bytes are buffered. Input is read into one buffer; bytes past the current request stay there for
// the next (pipelined) one.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "conn_reader.hpp"
#include "h1/body_decoder.hpp"
#include "h1/parser.hpp"
#include "h1/read_buffer.hpp"
#include "ringo/http/body.hpp"
#include "ringo/http/request.hpp"
#include "ringo/http/response_writer.hpp"
#include "ringo/http/server.hpp"
#include "ringo/net/conn.hpp"
#include "ringo/net/tls.hpp"
#include "ringo/runtime/detail/timer_heap.hpp"
#include "ringo/runtime/io_context.hpp"
#include "ringo/runtime/scope.hpp"
#include "server_output.hpp"

namespace ringo::http::detail {

// Serves one accepted connection until it closes or is hijacked (the light part).
task<void> serve_connection(server::state* st, net::conn c);
// Serves one accepted connection over TLS: the handshake (within the read header timeout, stopped
// by a shutdown), then HTTP/2 if ALPN chose "h2", else HTTP/1.x on the TLS stream.
task<void> serve_tls_connection(server::state* st, net::conn c, net::tls_context context);

// Moves a served stream out to a hijacker: the light part knows its concrete type.
using take_stream_fn = std::unique_ptr<net::stream> (*)(net::stream&);

// A peer's IP address and port in 19 bytes (net::address takes 136): what an idle connection keeps
// of it. Anything else (a unix path, an IPv6 scope) is read again from the stream when a request
// needs it.
class compact_address {
 public:
  explicit compact_address(const net::stream& s) noexcept;
  void get(const net::stream& s, net::address& out) const noexcept;

 private:
  enum kind : unsigned char { none, ipv4, ipv6 };
  unsigned char ip_[16];
  unsigned char port_[2];  // network order
  kind kind_ = none;
};

class server_conn final : private server_output::connection, private conn_reader::listener {
 public:
  explicit server_conn(server::state& st);
  server_conn(const server_conn&) = delete;
  server_conn& operator=(const server_conn&) = delete;

  // http2: the connection opened with HTTP/2's preface (prior knowledge); take_input() holds it.
  enum class outcome : std::uint8_t { idle, closed, hijacked, http2 };
  // What serve() needs to know of the stream beside its bytes: how to hand it to a hijacker, and
  // its TLS state (null: plaintext, where HTTP/2's preface may open it).
  struct stream_info {
    take_stream_fn take;
    const net::tls_connection_state* tls;
  };
  // Serves requests on `c` from a request's first byte (`head_start`, when its header deadline
  // starts) while more input is buffered; then the connection is idle, done, or hijacked (then
  // `c` was moved to the handler). `close_after`: answer this request, then close (it came during
  // a graceful shutdown). `returning`: the connection has been idle before and came back.
  task<outcome> serve(net::stream& c, stream_info info, const compact_address& remote,
                      time_point head_start, bool close_after, bool returning);
  // The only way back to the spares (server::state::give_back): clears everything a connection
  // carried (output queued or in flight, buffered input, flags, stop sources, the request and the
  // writer) so that nothing of one connection can reach the next, and lets go of what a long
  // request grew. An answer left queued for a client that had reset its connection once went
  // to the next client served with this object.
  void reset() noexcept;
  // Whether reset() left nothing behind: checked on every take in debug builds.
  bool pristine() const noexcept;
  // After outcome::idle: when the idle timeout ends.
  time_point idle_deadline() const noexcept { return idle_deadline_; }
  // After outcome::http2: the bytes read and not parsed (the preface and what followed it).
  std::string take_input() { return in_.take_unread(); }

  // How long a handler runs before the connection is watched for the client leaving
  // (maybe_watch). A wait on the stream costs an operation and its cancellation, and the scope it
  // runs in; a timer costs neither. A handler done within the delay (a proxied request, most waits
  // on a fast backend) never pays for them, and a client that left meanwhile is seen as soon as
  // the wait starts (a hang-up is a state, not an event).
  static constexpr duration watch_delay = std::chrono::milliseconds(5);

  // How long a kept-alive connection waits for its next request with its buffers before it gives
  // them back (serve()). Only one that came back after an idle wait before does: one that sent a
  // single request (most idle connections) costs no buffers once answered.
  static constexpr duration idle_grace = std::chrono::milliseconds(10);

 private:
  // The request body, decoded from the connection's buffer (h1::body_decoder).
  class request_body final : public body_reader {
   public:
    explicit request_body(server_conn& c) noexcept : c_(&c) {}
    task<result<std::size_t>> read(mutable_buffer buf, std::stop_token stop = {}) override;
    bool done() const noexcept override { return decoder.done(); }
    const headers& trailers() const noexcept override;
    h1::body_decoder decoder;

   private:
    server_conn* c_;
  };

  // server_output::connection
  task<result<hijacked_conn>> take_over() override;
  void send_failed() noexcept override;
  std::string_view http_date() override;
  // conn_reader::listener
  void on_hangup(net::hangup h) noexcept override;

  task<bool> read_head(time_point start);
  bool complete_head_buffered() const noexcept;
  task<void> reject(int code);
  task<void> serve_request();
  task<void> run_handler();
  void on_handler_suspended();
  void maybe_watch();
  void start_watch();
  scope& beside_handler();
  task<void> send_queued();
  task<void> finish_request();
  bool remaining_body_beyond(std::uint64_t limit) const noexcept;
  task<bool> discard_body();
  task<void> close_write_and_wait();
  void set_state(conn_state s);
  void arm_request_stop();
  void reset_request() noexcept;

  server* server_;
  server::state* st_;
  net::stream* conn_ = nullptr;  // the connection being served (lent by serve_connection)
  stream_info info_{};
  net::address remote_;
  h1::read_buffer in_{4096, 1024};
  h1::message_parser parser_{HTTP_REQUEST};

  // The current request.
  request req_;  // reused: its strings and vectors keep their capacity
  server_output output_{*this};
  response_writer writer_{output_};
  request_body body_{*this};
  conn_reader reader_;
  // Starts reader_ once the handler has run watch_delay (maybe_watch).
  struct watch_timer final : ringo::detail::timer_node {
    server_conn* conn;
    explicit watch_timer(server_conn* c) noexcept : conn(c) {}
    watch_timer(const watch_timer&) = delete;
    watch_timer& operator=(const watch_timer&) = delete;
    ~watch_timer() {
      if (io_context* ctx = io_context::current(); ctx && armed()) ctx->timers().disarm(*this);
    }
    void on_timer() noexcept override { conn->start_watch(); }
  };
  watch_timer watch_timer_{this};
  void disarm_watch() noexcept;
  std::stop_source req_stop_{std::nostopstate};  // request::stop's source (arm_request_stop)
  using forward_stop = ringo::detail::forward_stop;
  std::optional<std::stop_callback<forward_stop>> req_link_;  // forced shutdown -> req_stop_
  std::stop_token link_token_;                                // what req_link_ listens to
  std::optional<scope> req_scope_;  // work beside a handler that suspended
  time_point read_deadline_ = no_deadline;
  time_point idle_deadline_ = no_deadline;
  bool bad_body_ = false;  // the body broke its framing: answer 400 if still possible
  bool hijacked_ = false;
  bool handler_suspended_ = false;
  bool preface_check_ = false;  // a new connection's first bytes may be HTTP/2's preface
  bool http2_ = false;          // they were
};

}  // namespace ringo::http::detail
