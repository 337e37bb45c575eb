// Errors of the http layer: one enum and one error_category ("ringo.http") for the server, the
// transport and the client, and client_error, the value a failed request returns: a code to test
// and a message for people, like Go's: `Get "http://127.0.0.1:1/": dial tcp 127.0.0.1:1: connect:
// connection refused`. Every error type in ringo has code() and message(); result::value() throws
// ringo::system_error carrying both.
#pragma once

#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace ringo::http {

enum class errc {
  body_too_large = 1,       // "http: request body too large": read_all's limit was passed
  malformed,                // "http: malformed message": the peer sent something not HTTP/1.x
  header_too_large,         // "http: header too large": the head passed the size limit
  hijacked,                 // "http: connection has been hijacked"
  content_length_mismatch,  // a body longer or shorter than its Content-Length
  body_not_allowed,         // a body write on a response that has none (HEAD, 204, 304)
  header_already_sent,      // too late: the header is on its way
  too_much_framing,         // chunk framing far beyond its data (Go #64433's guard)
  handler_timeout,          // a write after timeout_handler's limit (Go's ErrHandlerTimeout)
  gzip_invalid,      // a gzip-encoded body that does not decode (gzip.ErrHeader, ErrChecksum, flate
                     // errors)
  invalid_pattern,   // a mux pattern that does not parse
  pattern_conflict,  // a mux pattern that conflicts with one registered before
  invalid_url,       // a URL that does not parse

  // The transport's and the client's.
  unsupported_scheme,         // "unsupported protocol scheme"
  server_closed_idle,         // "http: server closed idle connection"
  connection_broken,          // "connection broken"
  response_header_timeout,    // "net/http: timeout awaiting response headers"
  transport_closed,           // "http: transport closed"
  request_body,               // "http: request body read failed"
  malformed_response,         // "malformed HTTP response"
  response_header_too_large,  // "server response headers exceeded the limit"
  // Why a conn was not put back in the pool (Go's tryPutIdleConn errors, commit d89e46d).
  keep_alives_disabled,    // "http: putIdleConn: keep alives disabled"
  close_idle_called,       // "http: CloseIdleConnections called"
  too_many_idle_for_host,  // "http: putIdleConn: too many idle connections for host"
  too_many_idle,           // "http: putIdleConn: too many idle connections"
  idle_conn_timeout,       // "http: idle connection timeout"
  unsolicited_response,    // "http: server sent unsolicited response on idle connection"
  too_many_redirects,      // "stopped after 10 redirects"
  bad_location,            // "failed to parse Location header"
  bad_status,              // client::fetch: the response was a 4xx or 5xx
  tls_handshake_timeout,   // "net/http: TLS handshake timeout" (transport_options)
};

const std::error_category& http_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), http_category()};
}

// Go's texts for a request whose context ended: a stop ("context canceled") or its deadline
// ("context deadline exceeded"), used wherever the transport and the client report them.
inline constexpr std::string_view context_canceled = "context canceled";
inline constexpr std::string_view context_deadline_exceeded = "context deadline exceeded";

// A failed request (Go's *url.Error and the transport's errors): a code to test (http::errc,
// ringo::errc, net::errc or an errno) and the text a person reads.
class client_error {
 public:
  client_error() = default;
  client_error(std::error_code code, std::string text = {}) : code_(code), text_(std::move(text)) {}
  client_error(errc e) : code_(make_error_code(e)) {}

  std::error_code code() const noexcept { return code_; }
  std::string message() const { return text_.empty() ? code_.message() : text_; }

  friend bool operator==(const client_error& e, errc c) noexcept {
    return e.code_ == make_error_code(c);
  }

 private:
  std::error_code code_;
  std::string text_;
};

}  // namespace ringo::http

template <>
struct std::is_error_code_enum<ringo::http::errc> : std::true_type {};
