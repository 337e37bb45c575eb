// response: what round_trip returns. The body must be read to EOF for the connection to go back
// to the pool; destroying the response (or calling close_body()) before then closes the connection.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>

#include <ringo/http/body.hpp>
#include <ringo/http/headers.hpp>
#include <ringo/net/stream.hpp>
#include <ringo/net/tls.hpp>

namespace ringo::http {

struct response {
  int status = 0;
  std::string reason;
  int version_major = 1;
  int version_minor = 1;
  // The HTTP/2 stream that carried it (version_major 2); 0 over HTTP/1.
  std::uint32_t stream_id = 0;
  http::headers header;
  std::optional<std::uint64_t> content_length;  // nullopt: unknown (chunked or until close)
  bool close = false;                           // the server will close the connection
  // The transport asked for gzip and decodes the body (Go's Response.Uncompressed): the header
  // has no Content-Encoding or Content-Length, and content_length is unknown.
  bool uncompressed = false;
  std::unique_ptr<body_reader> body;  // never null; empty for no-body responses
  // The TLS connection the response came on (Go's Response.TLS): null over plain http. Read once
  // per connection, after its handshake, and shared by the responses on it.
  std::shared_ptr<const net::tls_connection_state> tls;
  // After 101 Switching Protocols: the connection, now the caller's, and the bytes the server
  // sent after the head. The transport has forgotten it.
  std::unique_ptr<net::stream> upgraded;
  std::string upgraded_bytes;

  // The fields after a chunked body (Go's Response.Trailer): complete once the body is read.
  const http::headers& trailer() const noexcept { return body->trailers(); }

  // Closes the body early (closes the connection unless it was read to EOF).
  void close_body() noexcept { body.reset(); }
};

}  // namespace ringo::http
