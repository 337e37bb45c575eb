// server_conn: one HTTP/1.x connection on the server side (Go's http.conn + connReader).
//
// A connection lives in two parts, so that an idle one costs little (bench/http.sh: ~0.5 KB where
// one object for the whole life cost 2.9 KB). serve_connection() is the light part, a coroutine
// that owns the socket and waits in a poll, which needs no buffer, for a request's first byte.
// Only then does it take a server_conn (the parser, buffers, the request and writer) from the
// server's spares, and it gives it back once nothing is buffered or owed any more (after a short
// grace, idle_grace, on a connection that keeps coming back).
//
// server_conn::serve() reads a request, runs its handler, finishes the response and loops while
// bytes are buffered. Input is read into one buffer; bytes past the current request stay there for
// the next (pipelined) one. While a handler that has suspended runs with its body consumed, a
// watcher keeps a poll for POLLRDHUP pending on the socket (seed 003's "always in a read"): poll
// consumes no byte, so nothing a pipelined client sent can be lost, and the same holds across
// hijack. Its EOF stops the request's token but not the response, as in Go; an error or hang-up
// also breaks the connection; a FIN that follows pipelined bytes does nothing (Go #23921). The
// watcher has no deadline, so read timeouts never fire it (Go #18447).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "parser.hpp"
#include "ringo/http/body.hpp"
#include "ringo/http/request.hpp"
#include "ringo/http/response_writer.hpp"
#include "ringo/http/server.hpp"
#include "ringo/net/conn.hpp"
#include "ringo/runtime/event.hpp"
#include "ringo/runtime/scope.hpp"
#include "ringo/runtime/unique_fd.hpp"

namespace ringo::http::detail {

// The networks a listener may have, for the conn that serve_connection makes from a descriptor.
inline constexpr std::string_view network_names[] = {"tcp", "tcp4", "tcp6", "unix"};
std::uint8_t network_code(std::string_view network) noexcept;

// Serves one accepted connection until it closes or is hijacked (the light part). It keeps the
// descriptor, not a net::conn (56 bytes), while idle.
task<void> serve_connection(server::state* st, unique_fd fd, std::uint8_t network);

// A peer's address in 32 bytes (socket_address takes 136): what an idle connection keeps of it.
// A longer one (a unix path) is read again from the socket when a request needs it.
class compact_address {
 public:
  explicit compact_address(int fd) noexcept;
  void get(const net::conn& c, net::address& out) const noexcept;

 private:
  unsigned char bytes_[28];
  std::uint32_t size_ = 0;  // 0: not kept
};

class server_conn {
 public:
  explicit server_conn(server::state& st);
  server_conn(const server_conn&) = delete;
  server_conn& operator=(const server_conn&) = delete;

  enum class outcome { idle, closed, hijacked };
  // Serves requests on `fd` from a request's first byte (`head_start`, when its header deadline
  // starts) while more input is buffered; then the connection is idle, done, or hijacked.
  // `fd` is lent for the call: it is back in `fd` afterwards, unless the handler hijacked it.
  // `close_after`: answer this request, then close (it came during a graceful shutdown).
  // `returning`: the connection has been idle before and came back (see idle_grace).
  task<outcome> serve(unique_fd& fd, std::uint8_t network, const compact_address& remote,
                      time_point head_start, bool close_after, bool returning);
  // The only way back to the spares (server::state::give_back): clears everything a connection
  // carried (output queued or in flight, the body buffer, flags, stop sources, the request and
  // the writer) so that nothing of one connection can reach the next, and lets go of what a long
  // request grew. An answer left queued for a client that had reset its connection once went
  // to the next client served with this object.
  void reset() noexcept;
  // Whether reset() left nothing behind: checked on every take in debug builds.
  bool pristine() const noexcept;
  // After outcome::idle: when the idle timeout ends.
  time_point idle_deadline() const noexcept { return idle_deadline_; }

  // How long a kept-alive connection waits for its next request with its buffers before it gives
  // them back (serve()). Only one that came back after an idle wait before does: one that sent a
  // single request (most idle connections) costs no buffers once answered.
  static constexpr duration idle_grace = std::chrono::milliseconds(10);

  static constexpr std::size_t body_buffer_limit =
      4096;  // held back for an automatic Content-Length
  static constexpr std::size_t out_flush_threshold = 16384;  // send once this much output is queued

 private:
  friend class ringo::http::response_writer;

  class body final : public body_reader {
   public:
    explicit body(server_conn& c) : c_(&c) {}
    task<result<std::size_t>> read(mutable_buffer buf, std::stop_token stop = {}) override;
    bool done() const noexcept override { return done_; }
    void reset(bool empty) noexcept {
      done_ = empty;
      pending_ = {};
      guard_.reset();
    }
    // Whether more than `limit` bytes of a body with a known length are still to be read.
    bool remaining_beyond(std::uint64_t limit) const noexcept;

   private:
    friend class server_conn;
    server_conn* c_;
    bool done_ = true;
    std::string_view pending_;  // decoded body bytes not yet handed out (inside c_->in_)
    framing_guard guard_;
  };

  // Input.
  task<result<std::size_t>> fill(std::stop_token stop, time_point deadline);
  std::string_view buffered() const noexcept { return {in_.data() + begin_, end_ - begin_}; }
  bool complete_head_buffered() const noexcept;
  task<bool> read_head(time_point start);
  task<void> reject(int code);
  task<void> serve_request();
  task<void> run_handler();
  task<void> finish_request();
  task<bool> discard_body();

  // The watcher.
  void maybe_watch();
  task<void> watch_disconnect(std::stop_token stop);
  task<void> stop_watching();

  // Output.
  void commit_header(bool final);
  void append_body(const_buffer data);
  task<result<void>> send_out();
  void flush_queued_answers();
  task<void> send_queued();
  task<result<void>> write_error_response(int code, std::string_view text);
  task<void> close_write_and_wait();
  bool body_allowed() const noexcept;
  void set_state(conn_state s);
  void reset_request();
  void arm_request_stop();

  server* server_;
  server::state* st_;
  net::conn conn_;  // the connection being served (its descriptor is lent by serve_connection)
  net::address remote_;

  std::vector<char> in_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  message_parser parser_{HTTP_REQUEST};

  // The current request.
  request req_;  // reused: its strings and vectors keep their capacity
  response_writer writer_{*this};
  body body_{*this};
  std::stop_source req_stop_{std::nostopstate};  // request::stop's source (arm_request_stop)
  struct forward_stop {
    std::stop_source* target;
    void operator()() const noexcept { target->request_stop(); }
  };
  std::optional<std::stop_callback<forward_stop>> req_link_;  // forced shutdown -> req_stop_
  std::stop_token link_token_;                                // what req_link_ listens to
  std::optional<scope> req_scope_;  // work beside a handler that suspended
  time_point read_deadline_ = no_deadline;
  time_point idle_deadline_ = no_deadline;
  time_point write_deadline_ = no_deadline;
  bool expect_continue_ = false;  // 100 Continue owed on the first body read
  bool close_after_ = false;      // no keep-alive after this response
  bool broken_ = false;           // an I/O error: close without more writes
  bool bad_body_ = false;         // the body broke its framing: answer 400 if still possible
  bool hijacked_ = false;
  bool is_head_ = false;
  std::string out_;          // bytes ready to send
  std::string sending_buf_;  // the bytes of the send in flight (swapped with out_: no allocation)
  bool sending_ = false;     // a send is in flight: the next one waits for send_done_
  event send_done_{true};
  bool answers_queued_ = false;  // out_ held earlier pipelined answers when this handler started
  std::string body_buf_;         // body written before the header was committed
  std::uint64_t declared_length_ = 0;
  bool has_declared_length_ = false;

  bool handler_suspended_ = false;
  bool watching_ = false;
  std::stop_source watch_stop_{std::nostopstate};
  event watch_done_{true};
};

}  // namespace ringo::http::detail
