#include "client_conn.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

#include <ringo/http/status.hpp>
#include <ringo/net/error.hpp>
#include <ringo/runtime/operations.hpp>

#include "../client_body.hpp"
#include "../context_errors.hpp"
#include "../source_closer.hpp"
#include "../transport_state.hpp"
#include "session.hpp"

namespace ringo::http::h2 {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t read_size = 16384;
constexpr std::size_t max_write_batch = 128 << 10;
// Go's transportDefaultStreamFlow and transportDefaultConnFlow (x/net/http2 transport.go): what a
// stream, and the connection, may have in flight unread.
constexpr std::int32_t stream_window = 4 << 20;
constexpr std::int32_t conn_window = 1 << 30;
// Go's initialMaxConcurrentStreams: what a connection is assumed to carry before the server's
// SETTINGS arrive.
constexpr std::uint32_t initial_max_streams = 100;
// How much of a streamed request body is queued ahead of the window.
constexpr std::size_t pump_ahead = 64 << 10;
constexpr std::size_t pump_chunk = 16384;
constexpr int max_1xx_responses = 5;
constexpr char health_ping[8] = {'r', 'i', 'n', 'g', 'o', 'p', 'n', 'g'};

// Go's errClientConnLost.
client_error conn_lost() {
  return {make_error_code(errc::connection_broken), "http2: client connection lost"};
}

// Go's http2 StreamError text: "stream error: stream ID 3; INTERNAL_ERROR; received from peer".
client_error stream_error(std::int32_t id, std::uint32_t code) {
  return {make_error_code(errc::connection_broken),
          "stream error: stream ID " + std::to_string(id) + "; " + nghttp2_http2_strerror(code) +
              "; received from peer"};
}

// What nghttp2 has to send, up to a batch; false on a fatal error.
bool collect(nghttp2_session* session, std::string& out) {
  while (out.size() < max_write_batch) {
    const std::uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session, &data);
    if (n < 0) return false;
    if (n == 0) break;
    out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

// nghttp2 pulls a request body's DATA from here; the stream is found by its id, so a stream this
// side has already forgotten is never touched.
ssize_t read_request_body(nghttp2_session* session, std::int32_t id, std::uint8_t* buf,
                          std::size_t length, std::uint32_t* flags, nghttp2_data_source*,
                          void* conn) {
  auto* s = static_cast<client_stream*>(nghttp2_session_get_stream_user_data(session, id));
  if (!s) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  return static_cast<client_conn*>(conn)->read_data(*s, buf, length, flags);
}

// nghttp2's callbacks (the trampolines both sides share) and options, one set for every
// connection.
struct client_conn::callbacks {
  static const session_setup& setup() {
    static const session_setup s([](session_setup& out) {
      trampolines<client_conn>::set(out.callbacks);
      // The caller's reads open the windows (nghttp2_session_consume).
      nghttp2_option_set_no_auto_window_update(out.option, 1);
      nghttp2_option_set_no_closed_streams(out.option, 1);
      nghttp2_option_set_peer_max_concurrent_streams(out.option, initial_max_streams);
    });
    return s;
  }
};

client_conn::client_conn(transport::state* pool, std::string key, std::unique_ptr<net::stream> s,
                         std::shared_ptr<const net::tls_connection_state> tls, client_config config)
    : pool_(pool),
      key_(std::move(key)),
      stream_(std::move(s)),
      tls_(std::move(tls)),
      config_(config) {
  start_session();
  idle_since_ = last_read_ = clock::now();
  work_.emplace();
}

client_conn::~client_conn() {
  nghttp2_session_del(session_);
}

void client_conn::start_session() {
  const session_setup& setup = callbacks::setup();
  if (nghttp2_session_client_new3(&session_, setup.callbacks, this, setup.option, block_memory()) !=
      0) {
    session_ = nullptr;
    ended_ = true;
    return;
  }
  // Go's client settings: no push (a server's PUSH_PROMISE is then a connection error), its
  // windows, and the header list it accepts (max_response_header_bytes).
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, std::uint32_t(stream_window)},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
       clamp_or(config_.max_response_header_bytes, 1, UINT32_MAX, UINT32_MAX)},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, conn_window);
}

bool client_conn::can_take_new_request() const noexcept {
  if (!usable()) return false;
  if (config_.single_use && (reused_ || reserved_ > 0)) return false;
  const std::uint32_t limit =
      nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  // Stream ids run out at 2^31: Go's ClientConn stops taking requests well before.
  return streams_.size() + reserved_ < limit &&
         nghttp2_session_get_next_stream_id(session_) < (1u << 31) - 2;
}

client_stream* client_conn::stream_of(std::int32_t id) noexcept {
  return static_cast<client_stream*>(nghttp2_session_get_stream_user_data(session_, id));
}

// ---- The connection's life ----------------------------------------------------------------------

task<void> client_conn::run(std::shared_ptr<client_conn> self, std::stop_token stop) {
  struct stop_fn {
    client_conn* c;
    void operator()() const noexcept { c->end({make_error_code(errc::transport_closed), {}}); }
  };
  std::stop_callback<stop_fn> on_stop(stop, stop_fn{self.get()});
  self->work_->spawn(self->write_loop());
  co_await self->read_loop();
  self->end(conn_lost());
  co_await self->work_->join();
  self->work_.reset();
  self->stream_->close();
  self->streams_.clear();
}

task<void> client_conn::read_loop() {
  std::unique_ptr<char[]> buf(new char[read_size]);
  while (!ended_) {
    auto n = co_await stream_->read(mutable_buffer(buf.get(), read_size), stop_.get_token());
    if (!n || *n == 0) co_return;
    last_read_ = clock::now();
    const ssize_t rv =
        nghttp2_session_mem_recv(session_, reinterpret_cast<const std::uint8_t*>(buf.get()), *n);
    if (rv < 0) {
      end({make_error_code(errc::malformed_response),
           std::string("http2: ") + nghttp2_strerror(static_cast<int>(rv))});
      co_return;
    }
    want_write();
  }
}

// Takes what nghttp2 has to send and writes it, one write at a time; keeps the connection's
// timers while it waits for work. A GOAWAY'd session whose streams are done ends the connection.
task<void> client_conn::write_loop() {
  for (;;) {
    write_wanted_.reset();
    if (stop_.stop_requested()) break;
    if (!ended_ && !collect(session_, out_)) {
      end(conn_lost());
      break;
    }
    if (out_.empty()) {
      if (ended_) break;
      if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) {
        end({make_error_code(errc::connection_broken), "http2: client connection closed"});
        break;
      }
      result<void> woken = co_await write_wanted_.wait(stop_.get_token(), next_timer());
      if (!woken && woken.error() == ringo::errc::timed_out) on_timer();
      continue;
    }
    result<std::size_t> wrote = co_await stream_->write_all(out_, stop_.get_token());
    out_.clear();
    if (!wrote) {
      end(conn_lost());
      break;
    }
  }
  out_.clear();
  stop_.request_stop();  // the reader too
}

// The health check (Go's ReadIdleTimeout / PingTimeout) and the idle timeout.
time_point client_conn::next_timer() const noexcept {
  time_point t = no_deadline;
  if (config_.read_idle_timeout > duration::zero()) {
    t = ping_sent_ != no_deadline ? ping_sent_ + config_.ping_timeout
                                  : last_read_ + config_.read_idle_timeout;
  }
  if (streams_.empty() && config_.idle_conn_timeout > duration::zero())
    t = std::min(t, idle_since_ + config_.idle_conn_timeout);
  return t;
}

void client_conn::on_timer() {
  const time_point now = clock::now();
  if (config_.read_idle_timeout > duration::zero()) {
    if (ping_sent_ != no_deadline && now >= ping_sent_ + config_.ping_timeout) {
      // Go's healthCheck: no PING answer within PingTimeout closes the connection.
      end(conn_lost());
      return;
    }
    if (ping_sent_ == no_deadline && now >= last_read_ + config_.read_idle_timeout) {
      nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE,
                          reinterpret_cast<const std::uint8_t*>(health_ping));
      ping_sent_ = now;
      want_write();
    }
  }
  if (streams_.empty() && config_.idle_conn_timeout > duration::zero() &&
      now >= idle_since_ + config_.idle_conn_timeout)
    end({make_error_code(errc::idle_conn_timeout), {}});
}

void client_conn::end(client_error why) noexcept {
  if (ended_) return;
  ended_ = true;
  going_away_ = true;
  end_reason_ = why.message();
  stop_.request_stop();
  for (auto& [id, s] : streams_) {
    s->closed = true;
    if (!s->error && !(s->remote_ended && s->head_done)) s->error = why;
    s->stop.request_stop();
    s->changed.set();
    s->room.set();
  }
  want_write();
  pool_->h2_conn_closed(shared_from_this(), end_reason_);
}

void client_conn::close_if_idle() {
  if (streams_.empty()) end({make_error_code(errc::close_idle_called), {}});
}

// A stream this side is done with: nghttp2 no longer reports to it, and its slot is free.
void client_conn::forget(client_stream& s) noexcept {
  if (session_ && s.id > 0) nghttp2_session_set_stream_user_data(session_, s.id, nullptr);
  s.closed = true;
  s.stop.request_stop();
  s.changed.set();
  s.room.set();
  // (The map may hold the last reference: the stream lives to the end of this call.)
  std::shared_ptr<client_stream> keep;
  if (auto it = streams_.find(s.id); it != streams_.end()) {
    keep = std::move(it->second);
    streams_.erase(it);
  }
  stream_ended();
}

// END_STREAM from the server. A response complete before the request body is sent ends the
// upload (Go's abortRequestBodyWrite): RST_STREAM(CANCEL), the pump stopped; what arrived stays
// readable.
void client_conn::on_remote_end(client_stream& s) noexcept {
  s.remote_ended = true;
  s.changed.set();
  if (s.out_ended && s.queued() == 0) return;
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_CANCEL);
  want_write();
  forget(s);
}

void client_conn::stream_ended() noexcept {
  if (streams_.empty() && config_.single_use && reused_) {
    end({make_error_code(errc::keep_alives_disabled), {}});
    return;
  }
  if (streams_.empty()) {
    idle_since_ = clock::now();
    want_write();  // the writer keeps the idle timer, or ends a session that went away
  }
  if (usable()) pool_->h2_conn_ready(shared_from_this());  // a slot for a waiter
}

void client_conn::cancel(client_stream& s) noexcept {
  // Bytes nobody will read still hold the connection's window, the stream open or not (a small
  // answer complete and dropped unread): given back here.
  if (s.unread() > 0) consumed(s, s.unread());
  if (s.closed) return;
  if (!ended_) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_CANCEL);
    want_write();
  }
  if (!s.error) s.error = detail::canceled_error();
  forget(s);
}

void client_conn::consumed(client_stream& s, std::size_t n) noexcept {
  s.in_pos += n;
  if (s.in_pos == s.in.size()) {
    s.in.clear();
    s.in_pos = 0;
  }
  if (ended_ || !session_) return;
  // The connection's window opens even when the stream is gone (nghttp2 counts both).
  nghttp2_session_consume(session_, s.id, n);
  want_write();
}

// ---- nghttp2's events ---------------------------------------------------------------------------

int client_conn::on_header(const nghttp2_frame& f, std::string_view name, std::string_view value) {
  client_stream* s = stream_of(f.hd.stream_id);
  if (!s || f.hd.type != NGHTTP2_HEADERS) return 0;
  if (!s->got_byte) {
    s->got_byte = true;
    if (s->trace && s->trace->got_first_response_byte) s->trace->got_first_response_byte();
  }
  // Go counts a field as its name, its value and 32 bytes (RFC 9113 §6.5.2), the trailers too.
  s->header_bytes += name.size() + value.size() + 32;
  if (s->header_bytes > config_.max_response_header_bytes) {
    s->error = client_error(errc::response_header_too_large);
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
    want_write();
    forget(*s);
    return 0;
  }
  if (s->head_done) {
    s->trailers.add(name, value);
  } else if (name == ":status") {
    int code = 0;
    std::from_chars(value.data(), value.data() + value.size(), code);
    s->status = code;
  } else if (!name.starts_with(':')) {
    s->fields.add(name, value);
  }
  return 0;
}

int client_conn::on_frame_recv(const nghttp2_frame& f) {
  switch (f.hd.type) {
    case NGHTTP2_HEADERS:
      if (client_stream* s = stream_of(f.hd.stream_id)) {
        s->header_bytes = 0;
        if (!s->head_done) {
          if (s->status >= 100 && s->status < 200) {
            // 1xx: skipped, at most five (Go's max1xxResponses).
            if (++s->informational > max_1xx_responses) {
              s->error = client_error(make_error_code(errc::malformed_response),
                                      "net/http: too many 1xx informational responses");
              nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
              want_write();
              forget(*s);
              return 0;
            }
            if (s->status == 100) {
              if (s->trace && s->trace->got_100_continue) s->trace->got_100_continue();
              release_body(*s);
            }
            s->status = 0;
            s->fields.clear();
            return 0;
          }
          s->head_done = true;
        }
        s->changed.set();
        if (f.hd.flags & NGHTTP2_FLAG_END_STREAM) on_remote_end(*s);
      }
      break;
    case NGHTTP2_DATA:
      if (f.hd.flags & NGHTTP2_FLAG_END_STREAM)
        if (client_stream* s = stream_of(f.hd.stream_id)) on_remote_end(*s);
      break;
    case NGHTTP2_SETTINGS:
      // The server's MAX_CONCURRENT_STREAMS may have grown: waiters may fit now.
      if (!(f.hd.flags & NGHTTP2_FLAG_ACK) && usable()) pool_->h2_conn_ready(shared_from_this());
      break;
    case NGHTTP2_PING:
      if ((f.hd.flags & NGHTTP2_FLAG_ACK) &&
          std::memcmp(f.ping.opaque_data, health_ping, sizeof health_ping) == 0)
        ping_sent_ = no_deadline;
      break;
    case NGHTTP2_GOAWAY:
      // No new request goes here; nghttp2 closes the streams above last_stream_id as refused
      // (on_stream_close), and the rest finish.
      going_away_ = true;  // (get_idle_conn passes it by: can_take_new_request)
      break;
    default:
      break;
  }
  return 0;
}

int client_conn::on_frame_send(const nghttp2_frame& f) {
  if (f.hd.type != NGHTTP2_HEADERS && f.hd.type != NGHTTP2_DATA) return 0;
  client_stream* s = stream_of(f.hd.stream_id);
  if (!s || !s->trace) return 0;
  if (f.hd.type == NGHTTP2_HEADERS) {
    if (s->trace->wrote_headers) s->trace->wrote_headers();
    if (s->held && s->trace->wait_100_continue) s->trace->wait_100_continue();
  }
  if ((f.hd.flags & NGHTTP2_FLAG_END_STREAM) && s->trace->wrote_request)
    s->trace->wrote_request({});
  return 0;
}

int client_conn::on_data_chunk(std::int32_t id, const std::uint8_t* data, std::size_t n) {
  client_stream* s = stream_of(id);
  if (!s) {
    nghttp2_session_consume(session_, id, n);  // nobody will read it: the window opens at once
    return 0;
  }
  s->in.append(reinterpret_cast<const char*>(data), n);
  s->changed.set();
  return 0;
}

int client_conn::on_stream_close(std::int32_t id, std::uint32_t code) {
  client_stream* s = stream_of(id);
  if (!s) return 0;
  if (code != NGHTTP2_NO_ERROR && !s->error) {
    // Go retries a request the server did not process (RFC 9113 §8.7): refused, or above a
    // GOAWAY's last stream id (nghttp2 closes those as REFUSED_STREAM).
    s->refused = code == NGHTTP2_REFUSED_STREAM && !s->got_byte;
    s->error = stream_error(id, code);
  } else if (code == NGHTTP2_NO_ERROR && !s->remote_ended && !s->error) {
    s->error = stream_error(id, code);
  }
  std::shared_ptr<client_stream> keep = streams_[id];
  forget(*s);
  return 0;
}

ssize_t client_conn::read_data(client_stream& s, std::uint8_t* buf, std::size_t length,
                               std::uint32_t* flags) noexcept {
  if (s.held) {
    s.deferred = true;  // resumed by release_body
    return NGHTTP2_ERR_DEFERRED;
  }
  const std::size_t n = std::min(length, s.queued());
  if (n > 0) {
    std::memcpy(buf, s.out.data() + s.out_pos, n);
    s.out_pos += n;
    if (s.out_pos == s.out.size()) {
      s.out.clear();
      s.out_pos = 0;
    }
    s.room.set();
  }
  if (s.queued() == 0) {
    if (s.out_ended) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
    } else if (n == 0) {
      s.deferred = true;  // resumed by the pump
      return NGHTTP2_ERR_DEFERRED;
    }
  }
  return static_cast<ssize_t>(n);
}

// ---- A request ----------------------------------------------------------------------------------

namespace {

bool expects_body(std::string_view method) noexcept {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

}  // namespace

// A streamed request body, queued as the window takes it: reads from the source while less than
// pump_ahead waits to be framed. Runs in the connection's scope, so that a server answering
// before the body is complete (an echo) gets the rest while the caller reads.
task<void> client_conn::pump_body(std::shared_ptr<client_stream> s,
                                  std::shared_ptr<detail::source_closer> closer) {
  body_source& src = *closer->source;
  std::unique_ptr<char[]> chunk(new char[pump_chunk]);
  while (!s->closed && !s->out_ended) {
    if (s->queued() >= pump_ahead) {
      s->room.reset();
      (void)co_await s->room.wait(s->stop.get_token());
      continue;
    }
    result<std::size_t> n =
        co_await src.read(mutable_buffer(chunk.get(), pump_chunk), s->stop.get_token());
    if (s->closed) break;
    if (!n) {
      s->body_error = n.error();
      s->error = client_error{make_error_code(errc::request_body),
                              "http: request body read failed: " + n.error().message()};
      cancel(*s);
      break;
    }
    s->out.append(chunk.get(), *n);
    if (*n == 0) s->out_ended = true;
    if (s->deferred) {
      s->deferred = false;
      nghttp2_session_resume_data(session_, s->id);
    }
    want_write();
  }
  s->pump_done.set();
}

// The wait of a body held for a 100 Continue (Go's http2 writeRequest and its
// expectContinueTimeout): past `at` the body goes unless a final answer came first. Ends early on
// the 100 or when the stream ends.
task<void> client_conn::release_body_after(std::shared_ptr<client_stream> s, time_point at) {
  (void)co_await s->released.wait(s->stop.get_token(), at);
  if (!s->closed && !s->head_done) release_body(*s);
}

void client_conn::release_body(client_stream& s) noexcept {
  if (!s.held) return;
  s.held = false;
  s.released.set();
  if (s.deferred && !s.closed) {
    s.deferred = false;
    nghttp2_session_resume_data(session_, s.id);
    want_write();
  }
}

task<result<response, client_error>> client_conn::round_trip(
    std::shared_ptr<client_conn> self, const client_request& req, std::stop_token stop,
    std::shared_ptr<detail::source_closer> closer, bool ask_gzip, retry_kind* retry) {
  client_conn& c = *self;
  *retry = retry_kind::no;
  if (!c.usable()) {
    *retry = retry_kind::unprocessed;
    co_return client_error{make_error_code(errc::connection_broken),
                           "http2: client conn not usable"};
  }
  c.reused_ = true;
  auto s = std::make_shared<client_stream>();
  s->trace = req.trace;
  s->pump_done.set();

  // The header block (Go's http2 encodeHeaders): pseudo-fields, then the caller's fields lowered,
  // without the connection-specific ones; TE only as "trailers".
  const bool source = closer && closer->source;
  std::optional<std::size_t> length =
      source ? closer->source->length() : std::optional<std::size_t>(req.body.size());
  const bool body = source ? length != std::size_t(0) : !req.body.empty();
  std::string authority = std::string(req.header.get("Host").value_or(std::string_view()));
  if (authority.empty()) authority = req.url.host_header();
  std::size_t text = authority.size() + req.method.size() + req.url.target.size() + 64;
  for (const auto& f : req.header) text += f.name.size() + f.value.size();
  nv_block b(c.nva_, c.nv_text_, text);
  // CONNECT carries no :scheme and no :path (RFC 9113 §8.5).
  const bool connect = req.method == "CONNECT";
  const std::string_view target = req.url.target;
  b.add(":method", req.method);
  if (!connect) b.add(":scheme", req.url.scheme);
  b.add(":authority", authority);
  if (!connect) b.add(":path", target.empty() ? std::string_view("/") : target);
  bool user_agent = false;
  for (const auto& f : req.header) {
    std::string_view name = b.lowered(f.name);
    if (name == "host" || name == "content-length" || connection_specific(name)) continue;
    if (name == "te" && !iequals(f.value, "trailers")) continue;
    if (name == "user-agent") {
      user_agent = true;
      if (f.value.empty()) continue;  // an empty User-Agent asks for none (Go's rule)
    }
    b.add(name, f.value);
  }
  if (!user_agent) b.add("user-agent", "ringo");
  if (ask_gzip) b.add("accept-encoding", "gzip");
  if (length && (*length > 0 || expects_body(req.method))) {
    b.add("content-length", b.copy(std::to_string(*length)));
  }
  nghttp2_data_provider data{};
  data.read_callback = read_request_body;
  if (body && !source) s->out = req.body;
  s->out_ended = !(body && source);  // (a streamed body ends when its pump reads the end)
  s->held = body && c.config_.expect_continue_timeout > duration::zero() &&
            req.header.has_token("Expect", "100-continue");
  const std::int32_t id = nghttp2_submit_request(c.session_, nullptr, b.data(), b.size(),
                                                 body ? &data : nullptr, s.get());
  if (id < 0) {
    if (id == NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE) *retry = retry_kind::unprocessed;
    co_return client_error{make_error_code(errc::connection_broken),
                           std::string("http2: ") + nghttp2_strerror(id)};
  }
  s->id = id;
  c.streams_.emplace(id, s);
  c.want_write();
  if (body && source) {
    s->pump_done.reset();
    c.work_->spawn(c.pump_body(s, std::move(closer)));
  }
  if (s->held)
    c.work_->spawn(c.release_body_after(s, clock::now() + c.config_.expect_continue_timeout));

  // The head, within the request's deadline and response_header_timeout.
  const time_point header_deadline =
      std::min(req.deadline, c.config_.response_header_timeout > duration::zero()
                                 ? clock::now() + c.config_.response_header_timeout
                                 : no_deadline);
  while (!s->head_done && !s->closed) {
    s->changed.reset();
    result<void> woke = co_await s->changed.wait(stop, header_deadline);
    if (woke || s->head_done || s->closed) continue;
    c.cancel(*s);
    s->trace = nullptr;
    if (woke.error() == ringo::errc::operation_canceled) co_return detail::canceled_error();
    if (clock::now() >= req.deadline) co_return detail::deadline_error();
    co_return client_error(errc::response_header_timeout);
  }
  s->trace = nullptr;
  if (!s->head_done) {
    if (!s->pump_done.is_set()) (void)co_await s->pump_done.wait();  // no source read runs on retry
    if (s->refused)
      *retry = retry_kind::unprocessed;
    else if (c.ended_ && !s->got_byte)
      *retry = retry_kind::lost_unanswered;
    co_return s->error.value_or(conn_lost());
  }
  response r;
  r.status = s->status;
  r.reason = std::string(reason_phrase(s->status));
  r.version_major = 2;
  r.version_minor = 0;
  r.stream_id = static_cast<std::uint32_t>(id);
  r.header = std::move(s->fields);
  if (auto cl = r.header.get("content-length")) {
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(cl->data(), cl->data() + cl->size(), n);
    if (ec == std::errc() && end == cl->data() + cl->size()) r.content_length = n;
  }
  if (r.status == 204 || r.status == 304) r.content_length = 0;
  r.tls = c.tls_;
  const bool no_body = req.method == "HEAD" || r.status == 204 || r.status == 304;
  if (no_body) c.cancel(*s);  // (a body where none may be is not ours to read: its window back)
  // A streamed request body is the caller's again once the round trip is over: a response
  // complete at its head (the upload ended with it) returns after the pump stopped.
  if ((no_body || s->remote_ended) && !s->pump_done.is_set()) (void)co_await s->pump_done.wait();
  if (no_body || (s->remote_ended && s->unread() == 0 && s->trailers.empty() && !s->error)) {
    // Complete already: the stream stays in the connection until nghttp2 closes it (a request
    // body may still be going out).
    r.body = std::make_unique<detail::empty_body>();
  } else {
    r.body = std::make_unique<stream_body>(std::move(self), std::move(s), req.deadline);
  }
  co_return std::move(r);
}

// ---- The response body --------------------------------------------------------------------------

stream_body::stream_body(std::shared_ptr<client_conn> c, std::shared_ptr<client_stream> s,
                         time_point deadline)
    : c_(std::move(c)), s_(std::move(s)), deadline_(deadline) {}

stream_body::~stream_body() {
  // Dropped before its end: the stream is reset, the connection goes on (Go's
  // transportResponseBody.Close).
  if (!done_) c_->cancel(*s_);
}

task<result<std::size_t>> stream_body::read(mutable_buffer buf, std::stop_token stop) {
  for (;;) {
    if (done_) co_return 0;
    client_stream& s = *s_;
    if (s.unread() > 0) {
      const std::size_t n = std::min(buf.size, s.unread());
      std::memcpy(buf.data, s.in.data() + s.in_pos, n);
      c_->consumed(s, n);
      co_return n;
    }
    if (s.remote_ended && !s.error) {
      // The request body's source is the caller's again at the response body's end: its last
      // read (stopped, if the response ended the upload) has returned.
      if (!s.pump_done.is_set()) {
        result<void> pumped = co_await s.pump_done.wait(stop, deadline_);
        if (!pumped) co_return pumped.error();
      }
      done_ = true;
      trailers_ = std::move(s.trailers);
      co_return 0;
    }
    if (s.error || s.closed) {
      done_ = true;
      co_return make_error_code(errc::connection_broken);
    }
    s.changed.reset();
    result<void> woke = co_await s.changed.wait(stop, deadline_);
    if (!woke) co_return woke.error();
  }
}

}  // namespace ringo::http::h2
