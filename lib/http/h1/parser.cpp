#include "parser.hpp"

#include <algorithm>

namespace ringo::http::h1 {
namespace {

message_parser& self(llhttp_t* p) {
  return *static_cast<message_parser*>(p->data);
}

// RFC 9110 §2.5: a recipient takes a higher minor version it does not know (HTTP/1.2) for the
// highest it speaks; llhttp's strict mode refuses it (505), so version checks are ours
// (serve_request: any major but 1 is 505, as Go's http1ServerSupportsRequest).
void allow_any_version(llhttp_t& p) noexcept {
  p.lenient_flags |= LENIENT_VERSION;
}

// RFC 9110 §5.6.2: a token's characters (a method is one).
bool is_tchar(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
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
  allow_any_version(parser_);
}

void message_parser::reset() {
  llhttp_reset(&parser_);
  parser_.data = this;
  allow_any_version(parser_);
  method_override_.clear();
  method_checked_ = false;
  trailer_bytes = 0;
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
  // A request's method is looked at whole before llhttp runs, so that one llhttp does not know
  // can be parsed again (feed_unknown_method). Empty lines before it are llhttp's to skip.
  std::size_t method_begin = 0, method_end = 0;
  if (parser_.type == HTTP_REQUEST && !method_checked_) {
    method_begin = std::min(data.find_first_not_of("\r\n"), data.size());
    method_end = method_begin;
    while (method_end < data.size() && method_end - method_begin <= max_method &&
           is_tchar(data[method_end]))
      ++method_end;
    const std::size_t length = method_end - method_begin;
    if (method_end == data.size() && length > 0 && length <= max_method) {
      // The method may go on: it waits for its end, the empty lines before it do not.
      if (method_begin == 0) return {event::need_more, 0, {}};
      data = data.substr(0, method_begin);
    } else {
      method_checked_ = method_begin < data.size();
    }
  }
  bool in_head = !head_complete_;
  body_ = {};
  llhttp_errno_t err = llhttp_execute(&parser_, data.data(), data.size());
  std::size_t consumed = data.size();
  if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
    consumed = static_cast<std::size_t>(llhttp_get_error_pos(&parser_) - data.data());
    llhttp_resume(&parser_);
  } else if (err == HPE_INVALID_METHOD && method_end > method_begin &&
             method_end - method_begin <= max_method && data[method_end] == ' ') {
    return feed_unknown_method(data, method_begin, method_end);
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

// Go hands any token method to the handler (a mux then answers 405); llhttp knows a fixed set
// and refuses the rest. A method it refused is parsed as "GET" in its place (a request's framing
// does not depend on its method, but for HEAD and CONNECT, which llhttp knows) and reported as
// sent. `data[begin, end)` is the method, followed by a space.
message_parser::step message_parser::feed_unknown_method(std::string_view data, std::size_t begin,
                                                         std::size_t end) {
  llhttp_reset(&parser_);
  parser_.data = this;
  allow_any_version(parser_);
  method.clear();
  method_override_.assign(data.substr(begin, end - begin));
  // The empty lines before the method, then the stand-in: llhttp reports a method that ends a
  // call's input at once (on_method), so no pointer into the literal outlives the call.
  if (begin > 0) llhttp_execute(&parser_, data.data(), begin);
  llhttp_execute(&parser_, "GET", 3);
  head_bytes += end;
  step rest = feed(data.substr(end));
  if (rest.what != event::error) rest.consumed += end;
  return rest;
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
  if (m.head_complete_) m.trailer_bytes += n;
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
  if (m.head_complete_) m.trailer_bytes += n;
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
  if (!m.method_override_.empty()) m.method = m.method_override_;
  m.version_major = p->http_major;
  m.version_minor = p->http_minor;
  m.status = p->status_code;
  // A request whose Transfer-Encoding does not end in chunked has no body length (RFC 9112 §6.3);
  // llhttp says so only after this callback, on the next feed, but the server decides on the head
  // at this pause: without this, "Transfer-Encoding: chunked\t" was served with an empty body and
  // the body parsed as the next request (found by request_fuzz).
  if (p->type == HTTP_REQUEST && (p->flags & F_TRANSFER_ENCODING) && !(p->flags & F_CHUNKED))
    return -1;  // HPE_CB_HEADERS_COMPLETE: malformed, 400
  // llhttp takes any length below 2^64; Go's parseContentLength any below 2^63 (an int64). A
  // length no body can have is malformed (400), not a wait for 16 EiB.
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > max_content_length) return -1;
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

}  // namespace ringo::http::h1
