#include "parser.hpp"

namespace ringo::http::detail {
namespace {

message_parser& self(llhttp_t* p) {
  return *static_cast<message_parser*>(p->data);
}

}  // namespace

// The callbacks are the same for every parser: one table for all (not ~190 bytes per connection).
const llhttp_settings_t* message_parser::settings() noexcept {
  static const llhttp_settings_t table = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_url = on_url;
    s.on_status = on_status;
    s.on_method = on_method;
    s.on_header_field = on_header_field;
    s.on_header_value = on_header_value;
    s.on_version_complete = on_version_complete;
    s.on_headers_complete = on_headers_complete;
    s.on_body = on_body;
    s.on_message_complete = on_message_complete;
    return s;
  }();
  return &table;
}

message_parser::message_parser(llhttp_type_t type) {
  llhttp_init(&parser_, type, settings());
  parser_.data = this;
}

void message_parser::reset() {
  llhttp_reset(&parser_);
  parser_.data = this;
  method.clear();
  url.clear();
  reason.clear();
  status = 0;
  fields.clear();
  trailers.clear();
  name_.clear();
  value_.clear();
  head_bytes = 0;
  version_seen = false;
  error_ = HPE_OK;
  in_value_ = false;
  head_complete_ = message_complete_ = skip_body_ = false;
}

message_parser::step message_parser::feed(std::string_view data) {
  if (error_ != HPE_OK) return {event::error, 0, {}};
  if (message_complete_) return {event::message_done, 0, {}};
  bool in_head = !head_complete_;
  body_ = {};
  llhttp_errno_t err = llhttp_execute(&parser_, data.data(), data.size());
  std::size_t consumed = data.size();
  if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
    consumed = static_cast<std::size_t>(llhttp_get_error_pos(&parser_) - data.data());
    llhttp_resume(&parser_);
  } else if (err != HPE_OK) {
    error_ = err;
    return {event::error, 0, {}};
  }
  if (in_head) head_bytes += consumed;
  if (!body_.empty()) return {event::body, consumed, body_};
  if (message_complete_) return {event::message_done, consumed, {}};
  if (in_head && head_complete_) return {event::head_done, consumed, {}};
  return {event::need_more, consumed, {}};
}

bool message_parser::finish() noexcept {
  if (message_complete_) return true;
  llhttp_errno_t err = llhttp_finish(&parser_);
  if (err == HPE_PAUSED) llhttp_resume(&parser_);
  return message_complete_;
}

int message_parser::on_url(llhttp_t* p, const char* at, std::size_t n) {
  self(p).url.append(at, n);
  return 0;
}

int message_parser::on_status(llhttp_t* p, const char* at, std::size_t n) {
  self(p).reason.append(at, n);
  return 0;
}

int message_parser::on_method(llhttp_t* p, const char* at, std::size_t n) {
  self(p).method.append(at, n);
  return 0;
}

// llhttp may hand a name or value over in pieces (when it spans two reads): a field is complete
// when the next name starts, or the head ends.
void message_parser::commit_field() {
  if (!in_value_) return;
  // llhttp skips the spaces before a value but keeps a tab there and any whitespace after it; a
  // field value has none on either side (RFC 9110 §5.5, Go's textproto trims). Without this,
  // "Transfer-Encoding: chunked " framed the body as chunked but failed the server's check (501).
  std::string_view v = value_;
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  http::headers& to = head_complete_ ? trailers : fields;
  if (to.empty()) to.reserve(8);  // one allocation for a typical head, not four
  to.add(name_, v);
  name_.clear();
  value_.clear();
  in_value_ = false;
}

int message_parser::on_header_field(llhttp_t* p, const char* at, std::size_t n) {
  message_parser& m = self(p);
  m.commit_field();
  m.name_.append(at, n);
  return 0;
}

int message_parser::on_header_value(llhttp_t* p, const char* at, std::size_t n) {
  message_parser& m = self(p);
  // llhttp takes a line ": value" (no name at all) even in strict mode; a field name is a token,
  // one character or more (RFC 9110 §5.1), so the message is malformed (found by request_fuzz).
  if (!m.in_value_ && m.name_.empty()) {
    llhttp_set_error_reason(p, "Empty header field name");
    return HPE_USER;
  }
  m.in_value_ = true;
  m.value_.append(at, n);
  return 0;
}

int message_parser::on_version_complete(llhttp_t* p) {
  self(p).version_seen = true;
  return 0;
}

int message_parser::on_headers_complete(llhttp_t* p) {
  message_parser& m = self(p);
  m.commit_field();
  m.head_complete_ = true;
  m.version_major = p->http_major;
  m.version_minor = p->http_minor;
  m.status = p->status_code;
  // A request whose Transfer-Encoding does not end in chunked has no body length (RFC 9112 §6.3);
  // llhttp says so only after this callback, on the next feed, but the server decides on the head
  // at this pause: without this, "Transfer-Encoding: chunked\t" was served with an empty body and
  // the body parsed as the next request (found by request_fuzz).
  if (p->type == HTTP_REQUEST && (p->flags & F_TRANSFER_ENCODING) && !(p->flags & F_CHUNKED))
    return -1;  // HPE_CB_HEADERS_COMPLETE: malformed, 400
  // llhttp ends a CONNECT request (and an Upgrade one without a body) at its head, leaving the
  // bytes after it to the tunnel, even when it declares a body: "CONNECT ... Content-Length: 30"
  // followed by a request had the server answer that request as the next one, where Go (and any
  // proxy counting Content-Length) reads it as the body (found by server_fuzz). The server speaks
  // no other protocol on its parser (a hijacker takes the bytes), so a request is framed as any.
  if (p->type == HTTP_REQUEST) p->upgrade = 0;
  // Stop here: the caller validates the head before any body is decoded. A skipped body (a
  // response to HEAD) is asked for with 1, which llhttp takes instead of a pause.
  return m.skip_body_ ? 1 : HPE_PAUSED;
}

int message_parser::on_body(llhttp_t* p, const char* at, std::size_t n) {
  message_parser& m = self(p);
  m.body_ = {at, n};
  return HPE_PAUSED;
}

int message_parser::on_message_complete(llhttp_t* p) {
  message_parser& m = self(p);
  m.commit_field();  // the last trailer field
  m.message_complete_ = true;
  return HPE_PAUSED;
}

}  // namespace ringo::http::detail
