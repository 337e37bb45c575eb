#include "ringo/http/error.hpp"

namespace ringo::http {
namespace {

class http_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ringo.http"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::body_too_large:
        return "http: request body too large";
      case errc::malformed:
        return "http: malformed message";
      case errc::header_too_large:
        return "http: header too large";
      case errc::hijacked:
        return "http: connection has been hijacked";
      case errc::content_length_mismatch:
        return "http: body length does not match Content-Length";
      case errc::body_not_allowed:
        return "http: request method or response status code does not allow body";
      case errc::header_already_sent:
        return "http: header already sent";
      case errc::too_much_framing:
        return "http: chunked encoding contains too much non-data";
      case errc::handler_timeout:
        return "http: Handler timeout";
      case errc::gzip_invalid:
        return "gzip: invalid compressed data";
      case errc::invalid_pattern:
        return "http: invalid pattern";
      case errc::pattern_conflict:
        return "http: pattern conflicts with a registered one";
      case errc::invalid_url:
        return "invalid URL";
      case errc::unsupported_scheme:
        return "unsupported protocol scheme";
      case errc::server_closed_idle:
        return "http: server closed idle connection";
      case errc::connection_broken:
        return "connection broken";
      case errc::response_header_timeout:
        return "net/http: timeout awaiting response headers";
      case errc::transport_closed:
        return "http: transport closed";
      case errc::request_body:
        return "http: request body read failed";
      case errc::malformed_response:
        return "malformed HTTP response";
      case errc::response_header_too_large:
        return "server response headers exceeded the limit";
      case errc::keep_alives_disabled:
        return "http: putIdleConn: keep alives disabled";
      case errc::close_idle_called:
        return "http: CloseIdleConnections called";
      case errc::too_many_idle_for_host:
        return "http: putIdleConn: too many idle connections for host";
      case errc::too_many_idle:
        return "http: putIdleConn: too many idle connections";
      case errc::idle_conn_timeout:
        return "http: idle connection timeout";
      case errc::unsolicited_response:
        return "http: server sent unsolicited response on idle connection";
      case errc::too_many_redirects:
        return "stopped after too many redirects";
      case errc::bad_location:
        return "failed to parse Location header";
      case errc::bad_status:
        return "http: error status";
      case errc::tls_handshake_timeout:
        return "net/http: TLS handshake timeout";
    }
    return "http: unknown error";
  }
};

}  // namespace

const std::error_category& http_category() noexcept {
  static const http_category_impl category;
  return category;
}

}  // namespace ringo::http
