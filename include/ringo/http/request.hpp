// request: an HTTP request as a server handler sees it (Go's http.Request), from HTTP/1.x or from
// an HTTP/2 stream alike.
//
// `stop` fires when the client goes away (the connection's background read sees EOF or an error;
// on HTTP/2, the stream's RST_STREAM or a GOAWAY that ends it), when a write to the client fails,
// or when the server is shut down by force: a handler passes it to whatever it awaits and so stops
// working for nobody. As in Go, a stop on the client's FIN does not cut the response: a client
// that only half-closed still reads all the handler writes.
#pragma once

#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ringo/http/body.hpp>
#include <ringo/http/headers.hpp>
#include <ringo/net/address.hpp>

namespace ringo::net {
struct tls_connection_state;
}

namespace ringo::http {

struct request {
  std::string method;     // "GET", "POST", ...
  std::string target;     // as sent: "/items/42?full=1", "*", or an absolute URL (HTTP/2: :path)
  int version_major = 1;  // HTTP/1.x, or 2 (then version_minor is 0), as Go's ProtoMajor
  int version_minor = 1;
  http::headers header;
  std::string host;                             // the Host header (HTTP/2: :authority)
  std::optional<std::uint64_t> content_length;  // nullopt when chunked or absent
  bool chunked = false;
  net::address remote_address;
  std::stop_token stop;
  body_reader* body = nullptr;  // never null in a handler; an empty body reads 0 at once
  // The connection's TLS state (Go's Request.TLS): version, cipher, ALPN, server name, the
  // client's certificates. Null on a plaintext connection. Owned by the connection: valid while
  // the handler runs (include <ringo/net/tls.hpp> to read it).
  const net::tls_connection_state* tls = nullptr;

  // Set by the mux: the pattern that matched and its wildcards' values.
  std::string pattern;
  std::vector<std::pair<std::string, std::string>> path_values;

  // The target's path (before '?') and query (after it).
  std::string_view path() const noexcept;
  std::string_view query() const noexcept;
  // The value of wildcard `name` in the matched pattern ("" when there is none).
  std::string_view path_value(std::string_view name) const noexcept;
};

}  // namespace ringo::http
