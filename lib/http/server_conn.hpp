// server_conn: one HTTP/1.x connection on the server side (Go's http.conn + connReader).
//
// run() reads a request, runs its handler, finishes the response and loops while the connection
// stays alive. Input is read into one buffer; bytes past the current request stay there for the
// next (pipelined) one. While a handler that has suspended runs with its body consumed, a
// watcher keeps a poll for POLLRDHUP pending on the socket (seed 003's "always in a read"): poll
// consumes no byte, so nothing a pipelined client sent can be lost, and the same holds across
// hijack. Its EOF or error stops the request's token; a FIN that follows pipelined bytes does not
// (Go #23921). The watcher has no deadline, so read timeouts never fire it (Go #18447).
#pragma once

#include <cstddef>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "parser.hpp"
#include "ringo/http/body.hpp"
#include "ringo/http/request.hpp"
#include "ringo/http/response_writer.hpp"
#include "ringo/http/server.hpp"
#include "ringo/net/conn.hpp"
#include "ringo/runtime/event.hpp"
#include "ringo/runtime/scope.hpp"

namespace ringo::http::detail {

class server_conn {
 public:
  server_conn(server& srv, server::state& st, net::conn c, std::stop_token force);
  server_conn(const server_conn&) = delete;
  server_conn& operator=(const server_conn&) = delete;

  task<void> run();

  static constexpr std::size_t body_buffer_limit =
      4096;  // held back for an automatic Content-Length
  static constexpr std::size_t out_flush_threshold = 16384;  // send once this much output is queued

  // Graceful shutdown: an idle connection stops waiting; an active one closes after its response.
  void stop_if_idle() noexcept;
  conn_state state() const noexcept { return state_; }

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
      overhead_ = 0;
    }

   private:
    friend class server_conn;
    server_conn* c_;
    bool done_ = true;
    std::string_view pending_;  // decoded body bytes not yet handed out (inside c_->in_)
    std::size_t overhead_ = 0;  // framing read beyond the data's allowance (Go #64433)
  };

  // Input.
  task<result<std::size_t>> fill(std::stop_token stop, time_point deadline);
  task<result<std::size_t>> fill_idle(std::stop_token stop, time_point deadline);
  std::string_view buffered() const noexcept { return {in_.data() + begin_, end_ - begin_}; }
  bool complete_head_buffered() const noexcept;
  task<bool> read_head();
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

  server* server_;
  server::state* st_;
  net::conn conn_;
  net::address remote_;
  std::stop_source stop_;  // closes this connection: forced shutdown, or graceful while idle
  std::stop_callback<std::function<void()>> force_link_;
  conn_state state_ = conn_state::new_;

  std::vector<char> in_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  message_parser parser_{HTTP_REQUEST};

  // The current request.
  std::optional<request> req_;
  std::optional<response_writer> writer_;
  body body_{*this};
  scope* req_scope_ = nullptr;
  time_point read_deadline_ = no_deadline;
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
  std::stop_source watch_stop_;
  event watch_done_{true};
};

}  // namespace ringo::http::detail
