#include "parser.hpp"

namespace ringo::http::detail {
namespace {

message_parser& self(llhttp_t* p) { return *static_cast<message_parser*>(p->data); }

}  // namespace

message_parser::message_parser(llhttp_type_t type) {
  llhttp_settings_init(&settings_);
  settings_.on_url = on_url;
  settings_.on_status = on_status;
  settings_.on_method = on_method;
  settings_.on_header_field = on_header_field;
  settings_.on_header_value = on_header_value;
  settings_.on_headers_complete = on_headers_complete;
  settings_.on_body = on_body;
  settings_.on_message_complete = on_message_complete;
  llhttp_init(&parser_, type, &settings_);
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
  name_.clear();
  value_.clear();
  head_bytes = 0;
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
  fields.add(name_, value_);
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
  m.in_value_ = true;
  m.value_.append(at, n);
  return 0;
}

int message_parser::on_headers_complete(llhttp_t* p) {
  message_parser& m = self(p);
  m.commit_field();
  m.head_complete_ = true;
  m.version_major = p->http_major;
  m.version_minor = p->http_minor;
  m.status = p->status_code;
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
  self(p).message_complete_ = true;
  return HPE_PAUSED;
}

}  // namespace ringo::http::detail
