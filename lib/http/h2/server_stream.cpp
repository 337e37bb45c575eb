#include "server_stream.hpp"

#include <cassert>
#include <charconv>
#include <cstring>
#include <system_error>

#include "ringo/http/status.hpp"
#include "ringo/runtime/result.hpp"
#include "server_conn.hpp"
#include "session.hpp"

namespace ringo::http::h2 {
namespace {

// Go's http.TrailerPrefix: a header field "Trailer:Name" set by the handler is trailer "Name".
constexpr std::string_view trailer_prefix = "Trailer:";

bool has_trailer_prefix(std::string_view name) noexcept {
  return name.size() > trailer_prefix.size() &&
         iequals(name.substr(0, trailer_prefix.size()), trailer_prefix);
}

// Each declared trailer's value (Go: the names listed in the "Trailer" field, and fields named
// with TrailerPrefix), as the handler left them.
void add_trailers(nv_block& b, const headers& h) {
  for (const auto& f : h) {
    if (has_trailer_prefix(f.name)) b.add(b.lowered(f.name.substr(trailer_prefix.size())), f.value);
  }
  for (std::string_view list : h.values("Trailer")) {
    while (!list.empty()) {
      std::size_t comma = list.find(',');
      std::string_view name = list.substr(0, comma);
      list.remove_prefix(comma == std::string_view::npos ? list.size() : comma + 1);
      while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
      while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
      if (name.empty()) continue;
      for (std::string_view v : h.values(name)) b.add(b.lowered(name), v);
    }
  }
}

std::size_t trailer_text_bytes(const headers& h) {
  std::size_t n = 0;
  for (const auto& f : h) n += f.name.size() + f.value.size();
  return n;
}

bool declares_trailers(const headers& h) noexcept {
  for (const auto& f : h)
    if (iequals(f.name, "Trailer") || has_trailer_prefix(f.name)) return true;
  return false;
}

// nghttp2 pulls a response's DATA from here; the stream it belongs to is found by its id, so a
// stream this side has already forgotten (reset) is never touched.
ssize_t read_callback(nghttp2_session* session, std::int32_t id, std::uint8_t* buf,
                      std::size_t length, std::uint32_t* flags, nghttp2_data_source*, void*) {
  auto* s = static_cast<server_stream*>(nghttp2_session_get_stream_user_data(session, id));
  if (!s) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  return s->read_data(buf, length, flags);
}

time_point stall_deadline(const server_conn& c, time_point limit) noexcept {
  const duration d = c.write_byte_timeout();
  return std::min(limit, d > duration::zero() ? clock::now() + d : no_deadline);
}

}  // namespace

server_stream::server_stream(server_conn& c, std::int32_t id) noexcept : conn_(&c), id_(id) {}

void server_stream::restart(std::int32_t id) noexcept {
  id_ = id;
  req.method.clear();
  req.target.clear();
  req.host.clear();
  req.header.clear();
  req.version_major = 1;
  req.version_minor = 1;
  req.content_length.reset();
  req.chunked = false;
  req.stop = {};
  req.body = nullptr;
  req.pattern.clear();
  req.path_values.clear();
  writer.start(false);
  // A source nobody stopped serves the next request (a new one costs an allocation); one that was
  // stopped would stop it at once.
  if (stop.stop_requested()) stop = std::stop_source(std::nostopstate);
  started = listed = handler_done = false;
  trailers_.clear();
  out_trailers_.clear();
  in_.clear();
  in_pos_ = 0;
  out_.clear();
  if (out_.capacity() > 64 << 10) std::string().swap(out_);  // a spare keeps no large response
  out_pos_ = 0;
  progress_ = stall_mark_ = 0;
  in_ready_.reset();
  settled_.reset();
  headers_pending_ = 0;
  close_code_ = 0;
  closed_ = detached_ = remote_ended_ = too_large_ = expect_continue_ = window_returned_ = false;
  head_sent_ = no_body_ = ended_ = deferred_ = conn_ended_ = false;
  read_deadline = write_deadline = no_deadline;
}

void server_stream::release() noexcept {
  req.header = headers();
  discard_body();
}

// --- The request ---------------------------------------------------------------------------------

void server_stream::on_request_field(std::string_view name, std::string_view value) {
  if (!name.empty() && name.front() == ':') {
    if (name == ":method")
      req.method = value;
    else if (name == ":path")
      req.target = value;
    else if (name == ":authority")
      req.host = value;
    return;  // (:scheme, :protocol: nothing a handler reads)
  }
  if (name == "cookie") {
    // RFC 9113 §8.2.3: a client may split the Cookie field into one field per crumb; they are
    // joined again for an HTTP/1 view of the request, as Go does.
    if (std::optional<std::string_view> c = req.header.get("cookie")) {
      std::string joined(*c);
      joined += "; ";
      joined += value;
      req.header.set("cookie", joined);
      return;
    }
  } else if (name == "content-length") {
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec == std::errc() && end == value.data() + value.size()) req.content_length = n;
  } else if (name == "expect") {
    expect_continue_ = iequals(value, "100-continue");
  }
  req.header.add(name, value);
}

void server_stream::on_trailer_field(std::string_view name, std::string_view value) {
  if (!name.empty() && name.front() != ':') trailers_.add(name, value);
}

void server_stream::on_header_too_large() noexcept {
  too_large_ = true;
}

void server_stream::on_request_head() {
  // Go's http2 server: the Host field stands in for a missing :authority, and CONNECT's target is
  // the authority (RequestURI).
  if (req.host.empty())
    if (std::optional<std::string_view> h = req.header.get("host")) req.host = *h;
  if (req.method == "CONNECT") req.target = req.host;
  req.version_major = 2;
  req.version_minor = 0;
  req.body = this;
}

void server_stream::on_data(const std::uint8_t* data, std::size_t n) {
  in_.append(reinterpret_cast<const char*>(data), n);
  in_ready_.set();
}

void server_stream::on_remote_end() noexcept {
  remote_ended_ = true;
  in_ready_.set();
}

void server_stream::on_close(std::uint32_t code) noexcept {
  closed_ = true;
  close_code_ = code;
  wake();
  // The stream can close before its handler returns only by a RST_STREAM (either way) or the
  // connection's end: the handler works for nobody now (Go cancels the request's context).
  if (started && !handler_done) {
    return_unread_window();
    stop_request();
  }
}

// The stream ended while its handler runs: the body bytes it has not read give the connection's
// window back now (Go's closeStream, go.dev/issue/16481), not when the handler returns, or every
// other upload on the connection would wait for it. They stay readable.
void server_stream::return_unread_window() noexcept {
  if (window_returned_) return;
  window_returned_ = true;
  const std::size_t unread = in_.size() - in_pos_;
  if (unread > 0 && !conn_->ended()) {
    nghttp2_session_consume_connection(conn_->session(), unread);
    conn_->want_write();
  }
}

void server_stream::on_connection_end() noexcept {
  conn_ended_ = true;
  wake();
  if (started && !handler_done) stop_request();
}

void server_stream::stop_request() noexcept {
  if (stop.stop_possible()) stop.request_stop();
}

void server_stream::wake() noexcept {
  in_ready_.set();
  settled_.set();
}

bool server_stream::can_send() const noexcept {
  return !closed_ && !detached_ && !conn_ended_ && !conn_->ended();
}

std::error_code server_stream::closed_error() const noexcept {
  if (closed_ && close_code_ != NGHTTP2_NO_ERROR)
    return make_error_code(std::errc::connection_reset);
  return make_error_code(std::errc::broken_pipe);
}

// --- The request body ----------------------------------------------------------------------------

task<result<std::size_t>> server_stream::read(mutable_buffer buf, std::stop_token stop_token) {
  if (!stop_token.stop_possible()) stop_token = req.stop;
  if (expect_continue_) {
    // Go's http2 server: a body that waits for "100 Continue" is asked for at its first read,
    // unless the answer has started already.
    expect_continue_ = false;
    if (!head_sent_ && can_send()) {
      submit_headers(status::continue_, headers(), nullptr);
      conn_->want_write();
    }
  }
  for (;;) {
    if (in_pos_ < in_.size()) {
      const std::size_t n = std::min(buf.size, in_.size() - in_pos_);
      std::memcpy(buf.data, in_.data() + in_pos_, n);
      in_pos_ += n;
      if (in_pos_ == in_.size()) {
        in_.clear();
        in_pos_ = 0;
      }
      // The bytes read make room: the client's window opens by as much (nghttp2 sends the
      // WINDOW_UPDATE once half the window is consumed). For a closed stream the connection's
      // window still opens, unless it was given back at the close.
      if (!conn_->ended() && !window_returned_) {
        nghttp2_session_consume(conn_->session(), id_, n);
        if (nghttp2_session_want_write(conn_->session())) conn_->want_write();
      }
      co_return n;
    }
    if (remote_ended_) co_return std::size_t{0};
    if (closed_ || detached_ || conn_ended_ || conn_->ended())
      co_return std::error_code(closed_error());
    if (buf.size == 0) co_return std::size_t{0};
    in_ready_.reset();
    result<void> r = co_await in_ready_.wait(stop_token, read_deadline);
    // A reset stream stops the request too; the read says why it ended (the client's reset).
    if (!r) co_return closed_ || detached_ || conn_ended_ ? closed_error() : r.error();
  }
}

// Nobody will read the body (its handler has returned, or never ran): only the connection's
// window opens for it, not the stream's, so a client cannot make the server read a body nobody
// wants beyond one stream window (Go's processData).
void server_stream::discard_body() noexcept {
  const std::size_t unread = in_.size() - in_pos_;
  in_.clear();
  if (in_.capacity() > 64 << 10) in_.shrink_to_fit();  // (a stream may be reused)
  in_pos_ = 0;
  if (unread > 0 && !conn_->ended() && !window_returned_) {
    nghttp2_session_consume_connection(conn_->session(), unread);
    conn_->want_write();
  }
  window_returned_ = true;
}

// --- The response --------------------------------------------------------------------------------

// Submits a HEADERS frame: a 1xx (final_head null) or the response's head, with the fields Go's
// http2 server adds (Date, and the Content-Length the writer decided), connection-specific fields
// dropped and names lowered (RFC 9113 §8.2.1). The final head carries END_STREAM when no body
// follows, so that a HEAD, a 204 or an empty 200 costs one frame.
void server_stream::submit_headers(int code, const headers& fields, const head* final_head) {
  std::size_t text = 3 + 24;  // the status, and a Content-Length's digits
  for (const auto& f : fields) text += f.name.size();
  nv_block b(conn_->nv_scratch(), conn_->nv_text(), text);
  char digits[3] = {static_cast<char>('0' + code / 100 % 10),
                    static_cast<char>('0' + code / 10 % 10), static_cast<char>('0' + code % 10)};
  b.add(":status", b.copy(std::string_view(digits, 3)));
  bool has_date = false;
  for (const auto& f : fields) {
    if (final_head && has_trailer_prefix(f.name)) continue;  // a trailer, sent at the end
    std::string_view name = b.lowered(f.name);
    if (connection_specific(name)) continue;
    has_date = has_date || name == "date";
    b.add(name, f.value);
  }
  ++headers_pending_;
  nghttp2_session* session = conn_->session();
  if (!final_head) {
    nghttp2_submit_headers(session, NGHTTP2_FLAG_NONE, id_, nullptr, b.data(), b.size(), nullptr);
    return;
  }
  if (!has_date) b.add("date", conn_->http_date());
  if (final_head->length && !final_head->declared) {
    char n[24];
    auto [end, ec] = std::to_chars(n, n + sizeof n, *final_head->length);
    b.add("content-length", b.copy(std::string_view(n, static_cast<std::size_t>(end - n))));
  }
  const bool head_request = req.method == "HEAD";
  const bool body = !head_request && status_allows_body(code);
  const bool empty = final_head->final && final_head->length == 0 && !final_head->trailers &&
                     !declares_trailers(fields);
  // A 204 or 304 flushed while its handler still runs ends the stream when the handler does (Go
  // waits for handlerDone), not with the head: that would stop the handler's request.
  if ((!body && (final_head->final || head_request)) || empty) {
    no_body_ = true;
    nghttp2_submit_response(session, id_, b.data(), b.size(), nullptr);
    return;
  }
  nghttp2_data_provider data{};
  data.read_callback = read_callback;
  nghttp2_submit_response(session, id_, b.data(), b.size(), &data);
}

void server_stream::send_head(const head& h) {
  head_sent_ = true;
  if (!can_send()) return;
  submit_headers(h.status, h.fields, &h);
}

void server_stream::send_body(const_buffer data) {
  out_.append(static_cast<const char*>(data.data), data.size);
  if (deferred_ && can_send()) {
    deferred_ = false;
    nghttp2_session_resume_data(conn_->session(), id_);
  }
}

void server_stream::end_body(bool as_declared, const headers& trailers) {
  ended_ = true;
  out_trailers_ = trailers;
  if (!can_send()) return;
  if (!as_declared) {
    // A body shorter or longer than its Content-Length: the client could not tell it from a
    // complete one, so the stream ends in an error instead.
    reset(NGHTTP2_INTERNAL_ERROR);
    return;
  }
  if (deferred_) {
    deferred_ = false;
    nghttp2_session_resume_data(conn_->session(), id_);
  }
  conn_->want_write();
}

// The response cannot be completed (Go's ErrAbortHandler): the stream ends in RST_STREAM, so the
// client sees an error, not a short body.
void server_stream::abort() noexcept {
  ended_ = true;
  if (can_send()) reset(NGHTTP2_INTERNAL_ERROR);
}

ssize_t server_stream::read_data(std::uint8_t* buf, std::size_t length,
                                 std::uint32_t* flags) noexcept {
  const std::size_t n = std::min(length, queued());
  if (n > 0) {
    std::memcpy(buf, out_.data() + out_pos_, n);
    out_pos_ += n;
    progress_ += n;
    if (out_pos_ == out_.size()) {
      out_.clear();
      out_pos_ = 0;
    }
  }
  if (queued() == 0) {
    if (ended_) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      const headers& h = writer.header();
      if (declares_trailers(h) || !out_trailers_.empty()) {
        nv_block b(conn_->nv_scratch(), conn_->nv_text(),
                   trailer_text_bytes(h) + trailer_text_bytes(out_trailers_));
        add_trailers(b, h);
        for (const auto& f : out_trailers_) b.add(b.lowered(f.name), f.value);
        if (b.size() > 0) {
          *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
          ++headers_pending_;
          nghttp2_submit_trailer(conn_->session(), id_, b.data(), b.size());
        }
      }
    } else if (n == 0) {
      deferred_ = true;  // resumed by send_body or end_body
      return NGHTTP2_ERR_DEFERRED;
    }
    if (flushed()) settled_.set();
  }
  return static_cast<ssize_t>(n);
}

void server_stream::on_headers_out() noexcept {
  if (headers_pending_ > 0) --headers_pending_;
  ++progress_;
  if (flushed()) settled_.set();
}

task<write_result> server_stream::flush() {
  while (can_send() && !flushed()) {
    settled_.reset();
    conn_->want_write();
    const std::uint64_t before = progress_;
    result<void> r = co_await settled_.wait({}, stall_deadline(*conn_, write_deadline));
    if (!r && can_send() && (progress_ == before || clock::now() >= write_deadline)) {
      // No byte could leave for write_byte_timeout (the client opens no window), or Go's per
      // stream write deadline (write_timeout) passed: Go resets the stream (INTERNAL_ERROR).
      reset(NGHTTP2_INTERNAL_ERROR);
      stop_request();
      co_return make_error_code(ringo::errc::timed_out);
    }
  }
  if (!can_send()) {
    out_.clear();  // it can never be sent
    out_pos_ = 0;
    co_return closed_error();
  }
  co_return write_result{};
}

task<write_result> server_stream::send_informational(int code, const headers& fields) {
  if (!can_send()) co_return closed_error();
  if (code == status::continue_) expect_continue_ = false;  // sent by hand: not owed any more
  submit_headers(code, fields, nullptr);
  co_return co_await flush();
}

task<result<hijacked_conn>> server_stream::hijack() {
  // An HTTP/2 stream is no connection to take over (Go's http2 ResponseWriter is no Hijacker:
  // ResponseController.Hijack returns ErrNotSupported).
  co_return make_error_code(std::errc::not_supported);
}

void server_stream::reset(std::uint32_t code) noexcept {
  if (closed_ || detached_) return;
  detached_ = true;
  // As a close by the client: nghttp2 will not report this one (its user data goes below).
  if (started && !handler_done) {
    return_unread_window();
    stop_request();
  }
  if (!conn_->ended()) {
    nghttp2_session* session = conn_->session();
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id_, code);
    // nghttp2 forgets the stream once the RST_STREAM is out; its callbacks find nothing from now.
    nghttp2_session_set_stream_user_data(session, id_, nullptr);
    conn_->want_write();
  }
  wake();
}

}  // namespace ringo::http::h2
