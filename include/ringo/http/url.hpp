// url: the parts of an absolute "http[s]://host[:port]/path?query" the client transport needs (the
// subset of Go's net/url.URL a request uses): a value type, copied freely. parse_url() refuses
// what the transport cannot send, with Go's texts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include <ringo/runtime/result.hpp>

namespace ringo::http {

struct url {
  std::string scheme;        // "http" or "https"
  std::string host;          // without brackets for IPv6 literals
  std::uint16_t port = 80;   // 443 for https unless given
  std::string target = "/";  // path and query, as sent on the request line

  // "host:port" for dialing ("[::1]:80" for IPv6 literals).
  std::string authority() const;
  // The Host header value: the port is left out when it is the scheme's default.
  std::string host_header() const;
  // "http://host[:port]/target", as in error messages.
  std::string string() const;
};

struct url_error {
  std::string text;
  std::error_code code() const noexcept {
    return std::make_error_code(std::errc::invalid_argument);
  }
  const std::string& message() const noexcept { return text; }
};

// Parses an absolute http or https URL. Errors carry Go's texts: `unsupported protocol scheme
// "ftp"`, `missing host`, `invalid port`.
result<url, url_error> parse_url(std::string_view text);

// A reference (a redirect's Location) resolved against base (RFC 3986 §5.2, without dot-segment
// removal): an absolute URL, "//host/path", "/path", "?query" or a path relative to base's.
result<url, url_error> resolve(const url& base, std::string_view reference);

}  // namespace ringo::http
