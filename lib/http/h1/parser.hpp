// message_parser: llhttp behind a pull interface. feed() consumes bytes and stops at each event the
// caller must act on (the head is complete, a piece of body, the message is complete), so the
// caller drives the parser from its own read loop and body pieces point into its own buffer.
// llhttp is built in strict mode: no lenient parsing of headers, lengths or chunk framing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <llhttp.h>

#include "ringo/http/headers.hpp"

namespace ringo::http::h1 {

class message_parser {
 public:
  enum class event { need_more, head_done, body, message_done, error };
  struct step {
    event what;
    std::size_t consumed;   // bytes of the input used
    std::string_view body;  // with event::body: decoded body bytes (inside the input)
  };

  static constexpr std::size_t max_method = 32;  // longer ones are refused (400)
  static constexpr std::uint64_t max_content_length = std::uint64_t(INT64_MAX);

  explicit message_parser(llhttp_type_t type);
  message_parser(const message_parser&) = delete;
  message_parser& operator=(const message_parser&) = delete;

  step feed(std::string_view data);
  // Tells a response parser the message has no body (the request was HEAD); call at head_done.
  void skip_body() noexcept { skip_body_ = true; }
  // End of stream: completes a read-until-close body; false if the message was cut short.
  bool finish() noexcept;
  // Ready for the next message on the same connection.
  void reset();

  // The head, valid from head_done until reset().
  std::string method;
  std::string url;
  std::string reason;
  int status = 0;
  int version_major = 1;
  int version_minor = 1;
  http::headers fields;
  http::headers trailers;         // after a chunked body, valid from message_done until reset()
  std::size_t head_bytes = 0;     // bytes of head fed so far (for the size limit)
  std::size_t trailer_bytes = 0;  // bytes of trailer fields so far (for the same limit)
  // The request line named a version: llhttp reads "GET /" as HTTP/0.9, as it reads
  // "GET / HTTP/0.9"; Go answers the first with 400 and the second with 505.
  bool version_seen = false;

  bool chunked() const noexcept { return (parser_.flags & F_CHUNKED) != 0; }
  bool has_content_length() const noexcept { return (parser_.flags & F_CONTENT_LENGTH) != 0; }
  std::uint64_t content_length() const noexcept { return parser_.content_length; }
  bool keep_alive() const noexcept { return llhttp_should_keep_alive(&parser_) != 0; }
  bool head_complete() const noexcept { return head_complete_; }
  bool message_complete() const noexcept { return message_complete_; }
  llhttp_errno_t error() const noexcept { return error_; }
  const char* error_reason() const noexcept { return parser_.reason; }

 private:
  static const llhttp_settings_t* settings() noexcept;
  step feed_unknown_method(std::string_view data, std::size_t token_begin, std::size_t token_end);
  void commit_field();
  static int on_url(llhttp_t* p, const char* at, std::size_t n);
  static int on_status(llhttp_t* p, const char* at, std::size_t n);
  static int on_method(llhttp_t* p, const char* at, std::size_t n);
  static int on_header_field(llhttp_t* p, const char* at, std::size_t n);
  static int on_header_value(llhttp_t* p, const char* at, std::size_t n);
  static int on_version_complete(llhttp_t* p);
  static int on_headers_complete(llhttp_t* p);
  static int on_body(llhttp_t* p, const char* at, std::size_t n);
  static int on_message_complete(llhttp_t* p);

  llhttp_t parser_;
  llhttp_errno_t error_ = HPE_OK;
  std::string name_, value_;  // the field being parsed
  bool in_value_ = false;     // the last header callback was a value
  bool head_complete_ = false;
  bool message_complete_ = false;
  bool skip_body_ = false;
  std::string_view body_;
  std::string method_override_;  // a method llhttp does not know, parsed as GET (feed())
  bool method_checked_ = false;  // the request's method has been looked at (feed())
};

}  // namespace ringo::http::h1
