// Errors of the http layer, as an error_code category ("http").
#pragma once

#include <system_error>

namespace ringo::http {

enum class errc {
  body_too_large = 1,       // read_all's limit was passed
  malformed,                // the peer sent something that is not HTTP/1.x
  header_too_large,         // the head passed the size limit
  hijacked,                 // the connection was taken over by hijack()
  content_length_mismatch,  // a body longer or shorter than its Content-Length
  body_not_allowed,         // a body write on a response that has none (HEAD, 204, 304)
  header_already_sent,      // too late: the header is on its way
  too_much_framing,         // chunk framing far beyond its data (Go #64433's guard)
  handler_timeout,          // a write after timeout_handler's limit (Go's ErrHandlerTimeout)
  gzip_invalid,  // a gzip-encoded body that does not decode (gzip.ErrHeader, ErrChecksum, flate
                 // errors)
};

const std::error_category& http_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), http_category()};
}

}  // namespace ringo::http

template <>
struct std::is_error_code_enum<ringo::http::errc> : std::true_type {};
