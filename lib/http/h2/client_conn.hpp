// client_conn: one HTTP/2 connection of the client transport (Go's x/net/http2 ClientConn), a
// libnghttp2 client session driven through its memory API over a net::stream, as server_conn
// drives the server's. It carries many requests at once, up to the server's
// SETTINGS_MAX_CONCURRENT_STREAMS; the transport dials another connection beyond that (Go's
// StrictMaxConcurrentStreams=false).
//
// Structure: run() is spawned in the transport's scope and owns a scope of its own holding the
// writer and the request bodies being sent (one pump a streamed body); it reads and feeds nghttp2
// itself, and returns once the writer and the pumps did. A request's round trip runs in its
// caller's coroutine and waits on its stream's events; its response body reads from the stream.
// Nothing the connection runs outlives the transport: a stopped transport stops run().
//
// Flow control is the caller's: a response's DATA is given back to the server's window
// (nghttp2_session_consume) only as the caller reads it, so a stream holds at most its window
// (4 MiB, Go's transportDefaultStreamFlow) unread. A request stopped while it runs, or a body
// dropped unread, resets its stream (RST_STREAM(CANCEL)) and leaves the connection serving the
// others.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nghttp2/nghttp2.h>
#include <optional>
#include <stop_token>
#include <string>
#include <unordered_map>
#include <vector>

#include <ringo/http/body.hpp>
#include <ringo/http/client_request.hpp>
#include <ringo/http/error.hpp>
#include <ringo/http/response.hpp>
#include <ringo/http/transport.hpp>
#include <ringo/net/stream.hpp>
#include <ringo/net/tls.hpp>
#include <ringo/runtime/event.hpp>
#include <ringo/runtime/scope.hpp>

namespace ringo::http::detail {
struct source_closer;
}

namespace ringo::http::h2 {

class client_conn;
template <typename>
struct trampolines;

// One request and its response on a connection (Go's http2 clientStream). Shared by the round
// trip, the response body, the body pump and the connection's map of open streams.
struct client_stream {
  std::int32_t id = -1;
  const client_trace* trace = nullptr;  // the request's, while its round trip runs

  // The response, as nghttp2 hands it over.
  int status = 0;
  headers fields;
  headers trailers;
  std::size_t header_bytes = 0;  // of the block being received (name + value + 32 a field)
  int informational = 0;         // 1xx heads skipped
  bool got_byte = false;
  bool head_done = false;     // a final head arrived
  bool remote_ended = false;  // END_STREAM from the server: the body is complete
  std::string in;             // body bytes received and not yet read (bounded by the window)
  std::size_t in_pos = 0;

  // The request body going out: what the pump (or the string body) queued, not yet framed.
  std::string out;
  std::size_t out_pos = 0;
  bool out_ended = false;  // the whole body is queued
  bool deferred = false;   // nghttp2 waits for resume_data
  // Expect: 100-continue: the body waits for the server's 100 or expect_continue_timeout, and
  // is never sent when a final answer comes first.
  bool held = false;
  std::error_code body_error;  // the body source failed

  // The end: nghttp2 closed the stream, this side reset it, or the connection ended.
  bool closed = false;
  bool refused = false;  // not processed by the server (REFUSED_STREAM, above a GOAWAY's id)
  std::optional<client_error> error;  // why it ended before its response was complete

  event changed;          // the head, body bytes, the end: what a round trip or a reader waits for
  event room;             // the pump may queue more
  event pump_done;        // set when no pump runs
  event released;         // the held body may go (ends the expect_continue_timeout wait)
  std::stop_source stop;  // stops the pump

  std::size_t queued() const noexcept { return out.size() - out_pos; }
  std::size_t unread() const noexcept { return in.size() - in_pos; }
};

// What a connection keeps from the transport's options.
struct client_config {
  std::size_t max_response_header_bytes = 10 << 20;
  duration read_idle_timeout{};  // Go's ReadIdleTimeout: 0, no health check
  duration ping_timeout = std::chrono::seconds(15);
  duration idle_conn_timeout{};  // 0: none
  duration response_header_timeout{};
  duration expect_continue_timeout{};  // 0: an Expect: 100-continue request's body goes at once
  // Keep-alives disabled (Go's DisableKeepAlives, http2 ClientConn.singleUse): one request a
  // connection, closed when it is done.
  bool single_use = false;
};

// Whether a request that failed on a connection can go to another one.
enum class retry_kind {
  no,
  // The server did not process it (REFUSED_STREAM, above a GOAWAY's last stream id, or the
  // connection was no longer usable): it can go elsewhere as it is (RFC 9113 §8.7).
  unprocessed,
  // The connection was lost before any byte of the answer: retried as HTTP/1 retries a reused
  // conn's failure (an idempotent request, once; Go #19943, #22158).
  lost_unanswered,
};

class client_conn : public std::enable_shared_from_this<client_conn> {
 public:
  client_conn(transport::state* pool, std::string key, std::unique_ptr<net::stream> s,
              std::shared_ptr<const net::tls_connection_state> tls, client_config config);
  ~client_conn();
  client_conn(const client_conn&) = delete;
  client_conn& operator=(const client_conn&) = delete;

  // Runs the connection until it ends (the server closes it, it breaks, it goes away and its
  // streams are done, the health check fails, the transport stops): spawned in the transport's
  // scope, with its token.
  static task<void> run(std::shared_ptr<client_conn> self, std::stop_token stop);

  // One request on a new stream: the response once its head arrived. On a failure, `retry` says
  // whether the request may go to another connection.
  static task<result<response, client_error>> round_trip(
      std::shared_ptr<client_conn> self, const client_request& req, std::stop_token stop,
      std::shared_ptr<detail::source_closer> closer, bool ask_gzip, retry_kind* retry);

  // Whether a new request may go here: not going away, and a stream slot free.
  bool can_take_new_request() const noexcept;
  bool usable() const noexcept { return !going_away_ && !ended_; }
  // A slot kept for a waiter the pool handed this conn to, until its round trip takes it.
  void reserve() noexcept { ++reserved_; }
  void unreserve() noexcept { --reserved_; }
  std::size_t open_streams() const noexcept { return streams_.size(); }
  bool reused() const noexcept { return reused_; }
  time_point idle_since() const noexcept { return idle_since_; }
  const std::string& key() const noexcept { return key_; }
  // Closes the connection when no stream is open (close_idle_connections).
  void close_if_idle();
  // Ends the connection: its streams fail with `why`.
  void end(client_error why) noexcept;

  // For the response body.
  void consumed(client_stream& s, std::size_t n) noexcept;
  // Resets a stream this side gave up on (RST_STREAM(CANCEL)): the others go on.
  void cancel(client_stream& s) noexcept;

 private:
  struct callbacks;
  template <typename>
  friend struct trampolines;

  void start_session();
  task<void> read_loop();
  task<void> write_loop();
  task<void> pump_body(std::shared_ptr<client_stream> s,
                       std::shared_ptr<detail::source_closer> closer);
  task<void> release_body_after(std::shared_ptr<client_stream> s, time_point at);
  void release_body(client_stream& s) noexcept;
  void want_write() noexcept { write_wanted_.set(); }
  time_point next_timer() const noexcept;
  void on_timer();
  void forget(client_stream& s) noexcept;
  void on_remote_end(client_stream& s) noexcept;
  void stream_ended() noexcept;
  client_stream* stream_of(std::int32_t id) noexcept;

  int on_header(const nghttp2_frame& f, std::string_view name, std::string_view value);
  int on_frame_recv(const nghttp2_frame& f);
  int on_frame_send(const nghttp2_frame& f);
  int on_data_chunk(std::int32_t id, const std::uint8_t* data, std::size_t n);
  int on_stream_close(std::int32_t id, std::uint32_t code);
  ssize_t read_data(client_stream& s, std::uint8_t* buf, std::size_t length,
                    std::uint32_t* flags) noexcept;
  friend ssize_t read_request_body(nghttp2_session*, std::int32_t, std::uint8_t*, std::size_t,
                                   std::uint32_t*, nghttp2_data_source*, void*);

  transport::state* pool_;  // the transport's state, which outlives the connection's run()
  std::string key_;
  std::unique_ptr<net::stream> stream_;
  std::shared_ptr<const net::tls_connection_state> tls_;
  client_config config_;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<std::int32_t, std::shared_ptr<client_stream>> streams_;
  std::optional<scope> work_;  // the writer and the body pumps
  std::stop_source stop_;      // the connection's I/O
  event write_wanted_;
  std::string out_;
  std::vector<nghttp2_nv> nva_;
  std::string nv_text_;
  time_point last_read_{};
  time_point ping_sent_ = no_deadline;  // a health-check PING awaits its ACK
  time_point idle_since_{};
  std::size_t reserved_ = 0;
  bool reused_ = false;      // has carried a request before
  bool going_away_ = false;  // GOAWAY either way: no new request
  bool ended_ = false;
  std::string end_reason_;
};

// A response's body: the stream's DATA, read as it comes; each read opens the windows by what it
// took. Dropped before its end, it resets the stream.
class stream_body final : public body_reader {
 public:
  stream_body(std::shared_ptr<client_conn> c, std::shared_ptr<client_stream> s,
              time_point deadline);
  ~stream_body() override;
  stream_body(const stream_body&) = delete;
  stream_body& operator=(const stream_body&) = delete;
  task<result<std::size_t>> read(mutable_buffer buf, std::stop_token stop = {}) override;
  bool done() const noexcept override { return done_; }
  const headers& trailers() const noexcept override { return trailers_; }

 private:
  std::shared_ptr<client_conn> c_;
  std::shared_ptr<client_stream> s_;
  time_point deadline_;  // the request's
  headers trailers_;
  bool done_ = false;
};

}  // namespace ringo::http::h2
