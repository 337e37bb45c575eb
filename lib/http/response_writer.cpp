#include "ringo/http/response_writer.hpp"

#include <algorithm>
#include <charconv>

#include "ringo/http/error.hpp"
#include "ringo/http/status.hpp"

namespace ringo::http {

void response_writer::start(bool head_request) noexcept {
  header_.clear();
  trailer_.clear();
  body_buf_.clear();
  declared_length_.reset();
  body_bytes_ = 0;
  status_ = 0;
  committed_ = hijacked_ = finished_ = aborted_ = false;
  head_request_ = head_request;
}

void response_writer::write_header(int code) noexcept {
  if (status_ == 0 && !committed_) status_ = code;
}

bool response_writer::body_allowed() const noexcept {
  return !head_request_ && status_allows_body(status_ ? status_ : status::ok);
}

// Go's chunkWriter.writeHeader: a Content-Length the handler set is kept; a body the handler
// finished within the first buffer gets one; otherwise the sink frames a body of unknown length.
void response_writer::commit(bool final) {
  const int code = status_ ? status_ : status::ok;
  response_sink::head h{code, header_};
  h.final = final;
  // One pass finds the fields the framing depends on (a lookup each cost a scan).
  std::optional<std::string_view> cl;
  bool announces_trailers = false;
  for (const auto& f : header_) {
    if (!cl && iequals(f.name, "Content-Length")) cl = f.value;
    announces_trailers = announces_trailers || iequals(f.name, "Trailer");
  }
  // Go's chunkWriter.writeHeader: a response with trailers is never given a Content-Length.
  h.trailers = !trailer_.empty() || announces_trailers;
  if (cl) {
    std::uint64_t n = 0;
    std::from_chars(cl->data(), cl->data() + cl->size(), n);
    declared_length_ = n;
    h.length = n;
    h.declared = true;
  } else if (final && !h.trailers && status_allows_body(code) &&
             (!head_request_ || !body_buf_.empty())) {
    // (HEAD: the length a GET would have had, when the handler wrote that body, as in Go.)
    h.length = body_buf_.size();
  }
  committed_ = true;
  sink_->send_head(h);
  if (!body_buf_.empty()) {
    if (!head_request_) sink_->send_body(body_buf_);
    body_buf_.clear();
  }
}

task<write_result> response_writer::write(const_buffer data) {
  if (hijacked_) co_return make_error_code(errc::hijacked);
  if (aborted_) co_return make_error_code(std::errc::broken_pipe);
  if (status_ == 0) status_ = status::ok;
  if (!body_allowed()) {
    if (!head_request_) co_return make_error_code(errc::body_not_allowed);
    // HEAD: the body is never sent, but what fits the first buffer is held (and dropped at the
    // commit) so the head carries the Content-Length a GET would get, as in Go.
    if (!committed_) {
      if (body_buf_.size() + data.size <= body_buffer_limit)
        body_buf_.append(static_cast<const char*>(data.data), data.size);
      else
        commit(false);
    }
    co_return write_result{};
  }
  body_bytes_ += data.size;
  // The first buffer holds only what fits it (a large first write goes to the sink directly): a
  // writer is reused with its buffer's capacity, which must not be a response's size.
  if (!committed_ && body_buf_.size() + data.size <= body_buffer_limit) {
    body_buf_.append(static_cast<const char*>(data.data), data.size);
  } else {
    if (!committed_) commit(false);
    if (data.size > 0) sink_->send_body(data);
  }
  if (sink_->queued() >= flush_threshold) co_return co_await sink_->flush();
  co_return write_result{};
}

task<write_result> response_sink::send_file(const file& f, std::uint64_t offset,
                                            std::uint64_t length) {
  constexpr std::size_t piece = 64 << 10;
  std::string buf;
  while (length > 0) {
    buf.resize(std::min<std::uint64_t>(piece, length));
    result<std::size_t> n = co_await f.read_at(mutable_buffer(buf.data(), buf.size()), offset);
    if (!n) co_return n.error();
    if (*n == 0) co_return make_error_code(std::errc::io_error);  // the file shrank
    send_body(const_buffer(buf.data(), *n));
    offset += *n;
    length -= *n;
    if (queued() >= response_writer::flush_threshold) {
      if (write_result w = co_await flush(); !w) co_return w;
    }
  }
  co_return write_result{};
}

task<write_result> response_writer::write_file(const file& f, std::uint64_t offset,
                                               std::uint64_t length) {
  if (hijacked_) co_return make_error_code(errc::hijacked);
  if (status_ == 0) status_ = status::ok;
  if (!body_allowed()) {
    if (!head_request_) co_return make_error_code(errc::body_not_allowed);
    co_return write_result{};  // HEAD: never sent
  }
  if (length == 0) co_return write_result{};
  if (!committed_) commit(false);
  body_bytes_ += length;
  co_return co_await sink_->send_file(f, offset, length);
}

task<write_result> response_writer::flush() {
  if (hijacked_) co_return make_error_code(errc::hijacked);
  if (aborted_) co_return make_error_code(std::errc::broken_pipe);
  if (!committed_) commit(false);
  co_return co_await sink_->flush();
}

task<write_result> response_writer::write_informational(int code) {
  if (code < 100 || code > 199 || code == status::switching_protocols)
    co_return make_error_code(std::errc::invalid_argument);
  if (hijacked_) co_return make_error_code(errc::hijacked);
  if (committed_) co_return make_error_code(errc::header_already_sent);
  co_return co_await sink_->send_informational(code, header_);
}

task<result<hijacked_conn>> response_writer::hijack() {
  if (hijacked_) co_return make_error_code(errc::hijacked);
  result<hijacked_conn> h = co_await sink_->hijack();
  if (h) hijacked_ = true;
  co_return h;
}

void response_writer::finish() {
  if (finished_ || hijacked_) return;
  finished_ = true;
  if (!committed_) commit(true);
  const bool as_declared = !declared_length_ || !body_allowed() || body_bytes_ == *declared_length_;
  sink_->end_body(as_declared, trailer_);
}

void response_writer::abort() noexcept {
  if (finished_ || hijacked_) return;
  finished_ = aborted_ = true;
  sink_->abort();
}

bool response_writer::discard() noexcept {
  if (committed_ || hijacked_) return false;
  header_.clear();
  trailer_.clear();
  body_buf_.clear();
  declared_length_.reset();
  body_bytes_ = 0;
  status_ = 0;
  return true;
}

task<write_result> error(response_writer& w, int code, std::string message) {
  w.header().set("Content-Type", "text/plain; charset=utf-8");
  w.header().set("X-Content-Type-Options", "nosniff");
  w.write_header(code);
  message += '\n';
  co_return co_await w.write(message);
}

}  // namespace ringo::http
