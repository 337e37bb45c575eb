#include "server_conn.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <new>

#include "../server_state.hpp"
#include "ringo/http/response_writer.hpp"
#include "ringo/http/status.hpp"
#include "ringo/runtime/operations.hpp"
#include "server.hpp"
#include "session.hpp"

namespace ringo::http::h2 {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t read_size = 16384;
// Finished streams a connection keeps for its next ones.
constexpr std::size_t spare_limit = 16;
// A write carries up to this much: answers to many streams, or a large body's frames, share it.
constexpr std::size_t max_write_batch = 128 << 10;
// Go's goAwayTimeout: how long a graceful shutdown waits for the PING that follows its first
// GOAWAY to come back, and a closing connection for the client to close first.
constexpr duration goaway_timeout = 1s;
// RST_STREAM received, as a token bucket: nghttp2's defaults (1.57, for CVE-2023-44487).
constexpr double reset_burst = 1000;
constexpr double reset_rate = 33;  // tokens a second
// The opaque data of the PING that times a graceful shutdown's round trip.
constexpr char shutdown_ping[8] = {'r', 'i', 'n', 'g', 'o', 'g', 'o', 'a'};

time_point after_from(time_point start, duration d) noexcept {
  return d > duration::zero() ? start + d : no_deadline;
}

duration idle_timeout(const server& s) noexcept {
  return s.idle_timeout > duration::zero() ? s.idle_timeout : s.read_timeout;
}

duration header_timeout(const server& s) noexcept {
  return s.read_header_timeout > duration::zero() ? s.read_header_timeout : s.read_timeout;
}

}  // namespace

// nghttp2's callbacks: those of both sides (trampolines), and the server's own, which find the
// connection in user_data too.
struct server_conn::callbacks {
  static server_conn& conn(void* p) noexcept { return *static_cast<server_conn*>(p); }

  static int begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd, void* p) {
    return conn(p).on_begin_frame(*hd);
  }
  static int begin_headers(nghttp2_session*, const nghttp2_frame* f, void* p) {
    return conn(p).on_begin_headers(*f);
  }
  static int frame_not_send(nghttp2_session*, const nghttp2_frame* f, int, void* p) {
    if (f->hd.type == NGHTTP2_HEADERS)
      if (server_stream* s = conn(p).stream_of(f->hd.stream_id)) s->on_headers_out();
    return 0;
  }

  // One set for every connection (nghttp2 copies them into each session).
  static const session_setup& setup() {
    static const session_setup s([](session_setup& out) {
      nghttp2_session_callbacks* cb = out.callbacks;
      nghttp2_session_callbacks_set_on_begin_frame_callback(cb, begin_frame);
      nghttp2_session_callbacks_set_on_begin_headers_callback(cb, begin_headers);
      trampolines<server_conn>::set(cb);
      nghttp2_session_callbacks_set_on_frame_not_send_callback(cb, frame_not_send);
      // The handlers open the windows as they read (nghttp2_session_consume).
      nghttp2_option_set_no_auto_window_update(out.option, 1);
      // No priority tree: closed streams need not be kept.
      nghttp2_option_set_no_closed_streams(out.option, 1);
      // The RST_STREAM rate is held by on_reset_received, which answers ENHANCE_YOUR_CALM
      // (nghttp2's own bucket would send INTERNAL_ERROR): nghttp2's is made too large to matter.
      nghttp2_option_set_stream_reset_rate_limit(out.option, UINT64_MAX / 2, UINT64_MAX / 2);
    });
    return s;
  }
};

server_conn::server_conn(server::state& st, net::stream& s, const net::tls_connection_state* tls)
    : st_(&st),
      srv_(st.srv),
      stream_(&s),
      tls_(tls),
      max_header_list_(static_cast<std::uint32_t>(std::min<std::size_t>(
          st.srv->max_header_bytes + 10 * 32, UINT32_MAX))),  // Go: adjustHTTP1MaxHeaderSize
      reset_tokens_(reset_burst) {}

server_conn::~server_conn() {
  nghttp2_session_del(session_);  // (calls no callback)
}

duration server_conn::write_byte_timeout() const noexcept {
  return srv_->http2.write_byte_timeout;
}

std::string_view server_conn::http_date() {
  return st_->http_date();
}

void server_conn::set_state(conn_state s) {
  if (srv_->conn_state_hook) srv_->conn_state_hook(*stream_, s);
}

server_stream* server_conn::stream_of(std::int32_t id) noexcept {
  return static_cast<server_stream*>(nghttp2_session_get_stream_user_data(session_, id));
}

void server_conn::start_session() {
  const session_setup& setup = callbacks::setup();
  if (nghttp2_session_server_new3(&session_, setup.callbacks, this, setup.option, block_memory()) !=
      0)
    return;
  const http2_config& c = srv_->http2;
  const std::uint32_t streams = clamp_or(c.max_concurrent_streams, 1, UINT32_MAX, 250);
  const std::uint32_t frame = clamp_or(c.max_read_frame_size, 16384, 16777215, 1 << 20);
  const std::uint32_t stream_window =
      clamp_or(static_cast<std::uint64_t>(std::max(0, c.max_receive_buffer_per_stream)), 1,
               INT32_MAX, 1 << 20);
  const std::uint32_t conn_window =
      clamp_or(static_cast<std::uint64_t>(std::max(0, c.max_receive_buffer_per_connection)), 65535,
               INT32_MAX, 1 << 20);
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, stream_window},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, frame},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, max_header_list_},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  // The connection's window is no setting: a WINDOW_UPDATE on stream 0 opens it past 65,535.
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                        static_cast<std::int32_t>(conn_window));
  max_streams_ = streams;
}

task<void> serve_connection(server::state* st, net::stream& s, std::string preread,
                            const net::tls_connection_state* tls) {
  server_conn c(*st, s, tls);
  co_await c.serve(std::move(preread));
}

task<void> serve_stream(server::state* st, std::unique_ptr<net::stream> s) {
  st->conn_opened();
  if (st->srv->conn_state_hook) st->srv->conn_state_hook(*s, conn_state::new_);
  co_await serve_connection(st, *s, {});
  st->conn_closed();
  if (st->srv->conn_state_hook) st->srv->conn_state_hook(*s, conn_state::closed);
  s->close();
}

// --- The connection's life -----------------------------------------------------------------------

task<void> server_conn::serve(std::string preread) {
  start_session();
  if (!session_) co_return;
  start_ = idle_since_ = reset_refill_ = clock::now();
  remote_ = stream_->remote_address().value_or(net::address());
  set_state(conn_state::idle);
  // A forced shutdown (server::close) stops everything at once; a graceful one (shutdown) starts
  // the GOAWAY exchange, and the streams in flight finish.
  struct force_fn {
    server_conn* c;
    void operator()() const noexcept {
      c->lost_ = true;
      c->stop_.request_stop();
      c->end_all();
    }
  };
  struct graceful_fn {
    server_conn* c;
    void operator()() const noexcept { c->start_shutdown(); }
  };
  std::stop_callback<force_fn> forced(st_->conn_stop, force_fn{this});
  std::stop_callback<graceful_fn> graceful(st_->idle_stop.get_token(), graceful_fn{this});
  work_.emplace();
  work_->spawn(write_loop());
  co_await read_loop(std::move(preread));
  reading_done_ = true;
  end_all();
  co_await work_->join();
  work_.reset();
  if (!lost_) co_await linger();
}

task<void> server_conn::read_loop(std::string preread) {
  if (!preread.empty() && !feed(preread)) co_return;
  preread = std::string();
  std::unique_ptr<char[]> buf(new char[read_size]);  // (not zeroed: reads fill it)
  while (!ended_ && nghttp2_session_want_read(session_)) {
    auto n = co_await stream_->read(mutable_buffer(buf.get(), read_size), stop_.get_token());
    if (!n || *n == 0) {
      // The client left (EOF, an error), or the writer stopped the read: the session is over, a
      // write failed, or a timeout closed the connection.
      if (!finished_) lost_ = true;
      co_return;
    }
    if (!feed(std::string_view(buf.get(), *n))) co_return;
  }
}

// Feeds one read to nghttp2; then the requests it completed get their handlers, and the writer is
// woken (answers to SETTINGS and PING, WINDOW_UPDATEs, and the timers it keeps).
bool server_conn::feed(std::string_view data) {
  const ssize_t rv = nghttp2_session_mem_recv(
      session_, reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
  if (rv < 0) {
    // A fatal error: nghttp2's own (a flood of frames to acknowledge, too many CONTINUATIONs, a
    // bad preface), after which it sends nothing and the connection is dropped at once; or a
    // callback that gave up after queueing a GOAWAY (terminate), which the writer sends first.
    if (!terminated_) lost_ = true;
    end_all();
    want_write();
    return false;
  }
  start_ready();
  want_write();
  return !ended_;
}

// After each batch: the requests it completed start, as long as fewer handlers than the stream
// limit run; the others wait (Go's serverConn.scheduleHandler). Handlers of reset streams still
// count until they return, so resets buy a client no more concurrent work than the limit.
void server_conn::start_ready() {
  for (server_stream* s : ready_) {
    s->listed = false;
    if (s->closed() || ended_) {
      erase(*s);
    } else if (running_ < max_streams_) {
      start_handler(*s);
    } else {
      s->listed = true;
      unstarted_.push_back(s);
    }
  }
  ready_.clear();
  // Go's rapid reset fix (go.dev/issue/63417): a client that keeps more than four times the
  // stream limit waiting is abusive.
  if (unstarted_.size() > 4 * std::size_t{max_streams_}) terminate(NGHTTP2_ENHANCE_YOUR_CALM);
}

void server_conn::start_unstarted() {
  while (!unstarted_.empty() && running_ < max_streams_ && !ended_) {
    server_stream* s = unstarted_.front();
    unstarted_.pop_front();
    s->listed = false;
    if (s->closed())
      erase(*s);  // reset while it waited (Go skips these too)
    else
      start_handler(*s);
  }
}

void server_conn::start_handler(server_stream& s) {
  ++running_;
  s.started = true;
  if (!s.stop.stop_possible()) s.stop = std::stop_source();  // (kept by a reused stream)
  s.req.stop = s.stop.get_token();
  s.req.remote_address = remote_;
  s.req.tls = tls_;
  if (srv_->read_timeout > duration::zero() || srv_->write_timeout > duration::zero()) {
    const time_point now = clock::now();
    s.read_deadline = after_from(now, srv_->read_timeout);
    s.write_deadline = after_from(now, srv_->write_timeout);
  }
  s.writer.start(s.req.method == "HEAD");
  work_->spawn(run_stream(&s));
}

// A stream's handler, then its end: the response is finished (its head committed with the body's
// length when the handler wrote it all), the unread body's window given back, the handler's slot
// handed to a waiting stream. The response may still be on its way (the client's windows): then
// the stream stays until nghttp2 closes it (on_stream_close), or until the writer finds it made
// no progress for write_byte_timeout (check_stalls).
task<void> server_conn::run_stream(server_stream* s) {
  std::exception_ptr failure;
  try {
    if (s->header_too_large()) {
      // Go's handleHeaderListTooLong: the header list went past the limit and was cut.
      (void)co_await error(s->writer, status::request_header_fields_too_large,
                           "431 Request Header Fields Too Large");
    } else if (srv_->handler) {
      task<void> t = srv_->handler(s->writer, s->req);
      co_await std::move(t);
    }
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) co_await handler_failed(*s, failure);
  s->handler_done = true;
  s->writer.finish();
  s->discard_body();
  --running_;
  start_unstarted();
  if (s->closed() || s->detached())
    erase(*s);  // nghttp2 is done with it (or forgot it)
  else
    want_write();  // its answer's frames are to be taken
}

// Go's http2 server logs a handler's panic and resets the stream (handlerPanicRST); here, as on
// HTTP/1, a handler whose head has not gone out gets a 500 instead.
task<void> server_conn::handler_failed(server_stream& s, std::exception_ptr failure) {
  std::string what = "http2: panic serving " + remote_.to_string() + ": ";
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    what += e.what();
  } catch (...) {
    what += "unknown exception";
  }
  st_->log(*srv_, what);
  if (!s.writer.discard()) {
    // The head is out: ending the body properly would make a cut answer look complete.
    s.reset(NGHTTP2_INTERNAL_ERROR);
    co_return;
  }
  s.writer.write_header(status::internal_server_error);
  (void)co_await s.writer.write("500 Internal Server Error\n");
}

// Streams whose handler returned and whose answer waits for a window the client does not open:
// checked when the writer has nothing to do. A stream that made no progress since the last check
// (write_byte_timeout ago, or twice that at most) is reset and forgotten.
bool server_conn::any_stalled() const noexcept {
  for (const server_stream& s : streams_)
    if (s.handler_done && !s.closed() && !s.detached() && !s.flushed()) return true;
  return false;
}

void server_conn::check_stalls() {
  for (auto it = streams_.begin(); it != streams_.end();) {
    server_stream& s = *it++;  // (erase may splice it away)
    if (!s.handler_done || s.closed() || s.detached() || s.flushed()) continue;
    if (s.stalled_since_mark()) {
      s.reset(NGHTTP2_INTERNAL_ERROR);
      erase(s);
    } else {
      s.mark_progress();
    }
  }
}

void server_conn::erase(server_stream& s) noexcept {
  if (block_stream_ == &s) block_stream_ = nullptr;
  s.discard_body();  // body bytes nobody read still count against the connection's window
  if (!s.closed() && session_) nghttp2_session_set_stream_user_data(session_, s.id(), nullptr);
  // A few finished streams are kept for the next ones on this connection (restart clears them),
  // so that a busy connection allocates no stream, request or writer per request.
  if (spare_.size() < spare_limit)
    spare_.splice(spare_.end(), streams_, s.self);
  else
    streams_.erase(s.self);
  if (streams_.empty()) {
    idle_since_ = clock::now();
    if (active_) {
      active_ = false;
      set_state(conn_state::idle);
    }
    want_write();  // the writer keeps the idle timer
  }
}

void server_conn::end_all() noexcept {
  if (ended_) return;
  ended_ = true;
  for (server_stream& s : streams_) s.on_connection_end();
  want_write();
}

void server_conn::terminate(std::uint32_t code) noexcept {
  if (!ended_) {
    nghttp2_session_terminate_session(session_, code);
    terminated_ = true;
  }
  end_all();
}

// --- The writer ----------------------------------------------------------------------------------

// Takes what nghttp2 has to send, up to a batch; false on a fatal error.
bool server_conn::collect_output() {
  while (out_.size() < max_write_batch) {
    const std::uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) return false;
    if (n == 0) break;
    out_.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
  }
  return true;
}

task<void> server_conn::write_loop() {
  for (;;) {
    write_wanted_.reset();
    if (stop_.stop_requested()) break;
    if (!collect_output()) {
      end_all();
      stop_.request_stop();
      break;
    }
    if (out_.empty()) {
      if (reading_done_) break;
      if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) {
        // The session is over (a GOAWAY sent or received, and no stream left): the reader
        // stops.
        finished_ = true;
        stop_.request_stop();
        break;
      }
      if (stall_check_ == no_deadline && write_byte_timeout() > duration::zero() && any_stalled()) {
        for (server_stream& s : streams_) s.mark_progress();
        stall_check_ = clock::now() + write_byte_timeout();
      }
      result<void> woken = co_await write_wanted_.wait({}, next_timer());
      if (!woken) on_timer();
      continue;
    }
    // Each write that moves no byte for write_byte_timeout fails (Go's WriteByteTimeout); once
    // the connection is closing, a client that reads nothing gets goaway_timeout.
    result<std::size_t> n = std::size_t{0};
    for (std::size_t done = 0; done < out_.size();) {
      time_point deadline = after_from(clock::now(), write_byte_timeout());
      if (reading_done_) deadline = std::min(deadline, clock::now() + goaway_timeout);
      n = co_await stream_->write(const_buffer(out_).subspan(done), stop_.get_token(), deadline);
      if (!n) break;
      done += *n;
    }
    out_.clear();
    if (!n) {
      lost_ = true;
      end_all();
      stop_.request_stop();  // the reader too
      break;
    }
  }
  out_.clear();
  out_.shrink_to_fit();
}

// The connection's timers, kept by the writer while it waits: the preface and a header block must
// come within read_header_timeout, a connection with no stream is closed after idle_timeout, and a
// graceful shutdown sends its last GOAWAY when the PING comes back or after goaway_timeout.
time_point server_conn::next_timer() const noexcept {
  time_point t = no_deadline;
  if (!settings_seen_) t = std::min(t, after_from(start_, header_timeout(*srv_)));
  if (in_header_block_) t = std::min(t, after_from(header_block_start_, header_timeout(*srv_)));
  if (streams_.empty() && !final_goaway_)
    t = std::min(t, after_from(idle_since_, idle_timeout(*srv_)));
  if (notice_sent_ != no_deadline && !final_goaway_) t = std::min(t, notice_sent_ + goaway_timeout);
  return std::min(t, stall_check_);
}

void server_conn::on_timer() {
  const time_point now = clock::now();
  if ((!settings_seen_ && now >= after_from(start_, header_timeout(*srv_))) ||
      (in_header_block_ && now >= after_from(header_block_start_, header_timeout(*srv_)))) {
    // A client that does not finish its preface or a header block in time: closed without a
    // word, as Go closes one that does not send its preface ("timeout waiting for client
    // preface") and as the HTTP/1 side treats a head that does not end.
    lost_ = true;
    end_all();
    stop_.request_stop();
    return;
  }
  if (now >= stall_check_) {
    stall_check_ = no_deadline;
    check_stalls();
  }
  if (notice_sent_ != no_deadline && now >= notice_sent_ + goaway_timeout) send_final_goaway();
  if (streams_.empty() && now >= after_from(idle_since_, idle_timeout(*srv_)))
    send_final_goaway();  // Go: an idle connection gets GOAWAY(NO_ERROR), then closes
}

void server_conn::start_shutdown() {
  if (!session_ || ended_ || final_goaway_ || notice_sent_ != no_deadline) return;
  // RFC 9113 §6.8: a GOAWAY with the largest stream id first, so that a request already on its
  // way is still served; a PING times the round trip; then the GOAWAY that names the last stream
  // (go.dev/issue/23829: no client sees an error for a request it sent before the GOAWAY).
  nghttp2_submit_shutdown_notice(session_);
  nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE,
                      reinterpret_cast<const std::uint8_t*>(shutdown_ping));
  notice_sent_ = clock::now();
  want_write();
}

void server_conn::send_final_goaway() {
  if (final_goaway_ || ended_) return;
  final_goaway_ = true;
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                        nullptr, 0);
  want_write();
}

// FIN first, then read until the client closes (at most goaway_timeout): closing with unread
// input would send RST, which can destroy the last answers before the client reads them (Go
// #3595; Go's http2 server waits goAwayTimeout too).
task<void> server_conn::linger() {
  (void)co_await stream_->close_write(st_->conn_stop);
  char scratch[4096];
  const time_point deadline = clock::now() + goaway_timeout;
  for (;;) {
    auto n = co_await stream_->read(scratch, st_->conn_stop, deadline);
    if (!n || *n == 0) co_return;
  }
}

// --- nghttp2's events ----------------------------------------------------------------------------

int server_conn::on_begin_frame(const nghttp2_frame_hd& hd) {
  if (hd.type == NGHTTP2_HEADERS) {
    header_left_ = max_header_list_;
    in_header_block_ = (hd.flags & NGHTTP2_FLAG_END_HEADERS) == 0;
    header_block_start_ = clock::now();
  } else if (hd.type != NGHTTP2_CONTINUATION) {
    return 0;
  } else if (hd.flags & NGHTTP2_FLAG_END_HEADERS) {
    in_header_block_ = false;
  }
  // Go's rule against CONTINUATION floods (go.dev/issue/65051, x/net/http2 readMetaFrame): a
  // fragment larger than twice what is left of the header list, any CONTINUATION once the list
  // is over its limit included, ends the connection before it is decoded.
  if (hd.length > 2 * std::uint64_t{header_left_}) {
    terminate(NGHTTP2_PROTOCOL_ERROR);
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

int server_conn::on_begin_headers(const nghttp2_frame& f) {
  block_stream_ = nullptr;
  if (f.hd.type != NGHTTP2_HEADERS || f.headers.cat != NGHTTP2_HCAT_REQUEST || ended_) return 0;
  if (spare_.empty()) {
    spare_.emplace_back(*this, f.hd.stream_id);
    spare_.back().self = std::prev(spare_.end());
  } else {
    spare_.back().restart(f.hd.stream_id);
  }
  streams_.splice(streams_.end(), spare_, std::prev(spare_.end()));
  server_stream& s = streams_.back();
  nghttp2_session_set_stream_user_data(session_, f.hd.stream_id, &s);
  block_stream_ = &s;
  if (!active_) {
    active_ = true;
    set_state(conn_state::active);
  }
  return 0;
}

int server_conn::on_header(const nghttp2_frame& f, std::string_view name, std::string_view value) {
  // (The block's stream, found once per block rather than in nghttp2's map once per field.)
  if (!block_stream_ || block_stream_->id() != f.hd.stream_id)
    block_stream_ = stream_of(f.hd.stream_id);
  server_stream* s = block_stream_;
  if (!s) return 0;
  // Go counts a field as its name, its value and 32 bytes (RFC 9113 §6.5.2); past the limit the
  // rest of the list is decoded (HPACK's state needs it) but not kept, and the request gets 431.
  const std::size_t size = name.size() + value.size() + 32;
  if (size > header_left_) {
    header_left_ = 0;
    if (f.headers.cat == NGHTTP2_HCAT_REQUEST) s->on_header_too_large();
    return 0;
  }
  header_left_ -= size;
  if (s->header_too_large()) return 0;
  if (f.headers.cat == NGHTTP2_HCAT_REQUEST)
    s->on_request_field(name, value);
  else
    s->on_trailer_field(name, value);
  return 0;
}

int server_conn::on_frame_recv(const nghttp2_frame& f) {
  switch (f.hd.type) {
    case NGHTTP2_HEADERS:
      in_header_block_ = false;
      if (server_stream* s = stream_of(f.hd.stream_id)) {
        if (f.headers.cat == NGHTTP2_HCAT_REQUEST && !s->listed && !s->started) {
          s->on_request_head();
          s->listed = true;
          ready_.push_back(s);
        }
        if (f.hd.flags & NGHTTP2_FLAG_END_STREAM) s->on_remote_end();
      }
      break;
    case NGHTTP2_DATA:
      if (f.hd.flags & NGHTTP2_FLAG_END_STREAM)
        if (server_stream* s = stream_of(f.hd.stream_id)) s->on_remote_end();
      break;
    case NGHTTP2_RST_STREAM:
      on_reset_received();
      break;
    case NGHTTP2_SETTINGS:
      if (!(f.hd.flags & NGHTTP2_FLAG_ACK)) settings_seen_ = true;
      break;
    case NGHTTP2_PING:
      if ((f.hd.flags & NGHTTP2_FLAG_ACK) &&
          std::memcmp(f.ping.opaque_data, shutdown_ping, sizeof shutdown_ping) == 0)
        send_final_goaway();
      break;
    case NGHTTP2_GOAWAY:
      // A client that goes away in error will not read the answers: its handlers stop. One that
      // goes away gracefully (NO_ERROR) still gets them.
      if (f.goaway.error_code != NGHTTP2_NO_ERROR) end_all();
      break;
    default:
      break;
  }
  return 0;
}

// A token bucket over RST_STREAM (nghttp2's numbers, CVE-2023-44487): past the burst, a client
// that resets more than reset_rate streams a second is told ENHANCE_YOUR_CALM and closed.
void server_conn::on_reset_received() {
  const time_point now = clock::now();
  const double seconds = std::chrono::duration<double>(now - reset_refill_).count();
  reset_refill_ = now;
  reset_tokens_ = std::min(reset_burst, reset_tokens_ + seconds * reset_rate);
  if (reset_tokens_ < 1) {
    terminate(NGHTTP2_ENHANCE_YOUR_CALM);
    return;
  }
  reset_tokens_ -= 1;
}

int server_conn::on_data_chunk(std::int32_t id, const std::uint8_t* data, std::size_t n) {
  server_stream* s = stream_of(id);
  if (!s || s->handler_done || ended_) {
    // Nobody will read it: the connection's window opens at once, the stream's stays closed (a
    // client cannot make the server read a body nobody wants without bound: Go's processData).
    nghttp2_session_consume_connection(session_, n);
    return 0;
  }
  s->on_data(data, n);
  return 0;
}

int server_conn::on_stream_close(std::int32_t id, std::uint32_t code) {
  server_stream* s = stream_of(id);
  if (!s) return 0;
  s->on_close(code);
  // Not yet handed to a handler, or its handler has returned: nobody else will erase it. (A
  // listed one is erased where it is listed; a running one by run_stream.) A listed one may wait
  // long for a slot (Go keeps reset streams in its queue too): it keeps nothing meanwhile.
  if ((!s->started && !s->listed) || s->handler_done)
    erase(*s);
  else if (s->listed)
    s->release();
  return 0;
}

int server_conn::on_frame_send(const nghttp2_frame& f) {
  if (f.hd.type != NGHTTP2_HEADERS && f.hd.type != NGHTTP2_DATA) return 0;
  server_stream* s = stream_of(f.hd.stream_id);
  if (!s) return 0;
  if (f.hd.type == NGHTTP2_HEADERS) s->on_headers_out();
  // The answer is complete while the client still sends its body: RFC 9113 §8.1 lets the server
  // ask it to stop with RST_STREAM(NO_ERROR), as Go does once its handler has returned.
  if ((f.hd.flags & NGHTTP2_FLAG_END_STREAM) && !s->remote_ended())
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, f.hd.stream_id, NGHTTP2_NO_ERROR);
  return 0;
}

}  // namespace ringo::http::h2
