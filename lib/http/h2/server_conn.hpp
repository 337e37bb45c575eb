// server_conn: one HTTP/2 connection on the server side (Go's http2 serverConn), a libnghttp2
// server session driven through its memory API over a net::stream, so that every byte stays on
// the ring. HPACK, framing, flow control and stream states are nghttp2's; what is ours is the
// I/O, the handlers, and the bounds a client is held to.
//
// Three kinds of coroutine, all in one scope the connection awaits (nothing outlives it):
//  - the reader (serve() itself) reads the stream and feeds nghttp2 (mem_recv); nghttp2's
//    callbacks build the streams, and once a batch is fed the requests it completed get handlers;
//  - one handler coroutine per stream (run_stream), at most max_concurrent_streams at once;
//  - the writer: after each batch of events (a read fed, handlers that answered) it takes what
//    nghttp2 has to send (mem_send) and writes it, one write at a time, so that answers to many
//    streams share a write.
// The reader and the writer never wait for each other: a client that reads nothing still has its
// RST_STREAM and WINDOW_UPDATE frames read, and one that sends nothing still gets its answers.
//
// Bounds (each tested against an attacking client in test/http/h2_attack_test.py):
//  - rapid reset (CVE-2023-44487): handlers run per connection are capped at the stream limit
//    whether or not their streams were reset; streams beyond it wait, and a client that makes
//    more than 4× the limit wait is told ENHANCE_YOUR_CALM (Go's fix, go.dev/issue/63417); and
//    RST_STREAM past a rate (nghttp2's token bucket: 1,000, then 33 a second) too;
//  - header lists: past max_header_bytes a request is answered 431; header block fragments far
//    beyond what is left of it, the CONTINUATION flood (CVE-2024-27316), end the connection with
//    PROTOCOL_ERROR (Go's rule, go.dev/issue/65051); nghttp2 caps CONTINUATION frames at 8;
//  - SETTINGS and PING floods: nghttp2 closes a connection with 1,000 ACKs it could not send;
//  - output that makes no progress (a zero window, a client that reads nothing) for
//    write_byte_timeout: the stream is reset, the connection closed;
//  - timeouts: the preface and a header block within read_header_timeout, idle_timeout with no
//    stream open (then a GOAWAY). The writer keeps these timers while it waits for work; the
//    reader's read has no deadline.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <list>
#include <nghttp2/nghttp2.h>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "ringo/http/server.hpp"
#include "ringo/net/address.hpp"
#include "ringo/net/stream.hpp"
#include "ringo/runtime/event.hpp"
#include "ringo/runtime/scope.hpp"
#include "server_stream.hpp"

namespace ringo::http::h2 {

template <typename>
struct trampolines;

class server_conn {
 public:
  server_conn(server::state& st, net::stream& s, const net::tls_connection_state* tls = nullptr);
  ~server_conn();
  server_conn(const server_conn&) = delete;
  server_conn& operator=(const server_conn&) = delete;

  // Serves the connection until it ends (see server.hpp); `preread` is fed first.
  task<void> serve(std::string preread);

  // --- For its streams ---
  nghttp2_session* session() noexcept { return session_; }
  // There is something for the writer (a submitted frame, a window opened).
  void want_write() noexcept { write_wanted_.set(); }
  // Nothing more can be sent: the connection broke or is being torn down.
  bool ended() const noexcept { return ended_; }
  duration write_byte_timeout() const noexcept;
  std::string_view http_date();
  // Scratch for a header block being submitted (nghttp2 copies it): names lowered, values as they
  // are.
  std::vector<nghttp2_nv>& nv_scratch() noexcept { return nva_; }
  std::string& nv_text() noexcept { return nv_text_; }

 private:
  struct callbacks;  // nghttp2's callbacks, which call the members below
  template <typename>
  friend struct trampolines;

  void start_session();
  task<void> read_loop(std::string preread);
  // mem_recv: false when the connection is done reading (a fatal error, or a GOAWAY queued).
  bool feed(std::string_view data);
  void start_ready();
  void start_unstarted();
  void start_handler(server_stream& s);
  task<void> run_stream(server_stream* s);
  task<void> handler_failed(server_stream& s, std::exception_ptr failure);
  bool any_stalled() const noexcept;
  void check_stalls();
  task<void> write_loop();
  bool collect_output();
  time_point next_timer() const noexcept;
  void on_timer();
  void start_shutdown();
  void send_final_goaway();
  task<void> linger();
  // GOAWAY(code) now; the handlers stop.
  void terminate(std::uint32_t code) noexcept;
  // Nothing more can be sent or received: the streams end and their handlers stop.
  void end_all() noexcept;
  void erase(server_stream& s) noexcept;
  void set_state(conn_state s);

  // Callback bodies.
  server_stream* stream_of(std::int32_t id) noexcept;
  int on_begin_frame(const nghttp2_frame_hd& hd);
  int on_begin_headers(const nghttp2_frame& f);
  int on_header(const nghttp2_frame& f, std::string_view name, std::string_view value);
  int on_frame_recv(const nghttp2_frame& f);
  int on_data_chunk(std::int32_t id, const std::uint8_t* data, std::size_t n);
  int on_stream_close(std::int32_t id, std::uint32_t code);
  int on_frame_send(const nghttp2_frame& f);
  void on_reset_received();

  server::state* st_;
  server* srv_;
  net::stream* stream_;
  net::address remote_;
  const net::tls_connection_state* tls_ = nullptr;  // the stream's (request::tls), owned by it
  nghttp2_session* session_ = nullptr;
  std::uint32_t max_header_list_;
  std::uint32_t max_streams_ = 250;

  std::list<server_stream> streams_;      // every stream nghttp2 told us of and we still need
  std::list<server_stream> spare_;        // finished ones, for the next (server_stream::restart)
  std::vector<server_stream*> ready_;     // requests complete in the batch being fed
  std::deque<server_stream*> unstarted_;  // waiting for a handler slot (Go's unstartedHandlers)
  std::size_t running_ = 0;               // handlers running
  std::optional<scope> work_;             // the writer and the handlers

  std::stop_source stop_;  // the connection's I/O: a forced close, or a failed write
  event write_wanted_;
  std::string out_;  // bytes being written
  std::vector<nghttp2_nv> nva_;
  std::string nv_text_;

  // Timeouts and the header block in progress.
  time_point start_;
  time_point idle_since_;
  time_point header_block_start_;
  std::size_t header_left_ = 0;            // of the header list being received (Go's remainSize)
  server_stream* block_stream_ = nullptr;  // the stream of the header block being received
  bool in_header_block_ = false;
  bool settings_seen_ = false;  // the client's preface is complete
  // Rapid reset: tokens of the RST_STREAM bucket.
  double reset_tokens_;
  time_point reset_refill_;
  // Graceful shutdown: a GOAWAY announcing it, a PING to time one round trip, then the GOAWAY
  // naming the last stream served (RFC 9113 §6.8).
  time_point notice_sent_ = no_deadline;
  time_point stall_check_ = no_deadline;  // when check_stalls runs next
  bool final_goaway_ = false;
  bool reading_done_ = false;
  bool finished_ = false;    // the session ended in order: the writer stopped the reader
  bool lost_ = false;        // the client left, a write failed, or the server closed: no linger
  bool terminated_ = false;  // a GOAWAY with an error is queued (terminate)
  bool ended_ = false;       // nothing more can be sent or received (end_all)
  bool active_ = false;      // reported to conn_state_hook as active
};

}  // namespace ringo::http::h2
