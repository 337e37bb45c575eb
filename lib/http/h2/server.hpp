// HTTP/2 on the server side (RFC 9113): the entry points. The HTTP/1 connection calls
// serve_connection() when a plaintext connection opens with the HTTP/2 preface (prior knowledge,
// Go 1.24's unencrypted HTTP/2); a TLS connection that negotiated "h2" by ALPN is handed to
// serve_stream(). What HTTP/2 is made of (libnghttp2's session over the stream, the streams that
// are the handlers' requests and response sinks) stays behind them, in server_conn.hpp.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>

#include "ringo/http/server.hpp"
#include "ringo/net/stream.hpp"
#include "ringo/runtime/task.hpp"

namespace ringo::http::h2 {

// What a client sends first on an HTTP/2 connection (RFC 9113 §3.4). To an HTTP/1 parser it reads
// as a request "PRI * HTTP/2.0", which llhttp refuses (Go's HTTP/1 server hands it to the handler,
// for handlers that take the connection over).
inline constexpr std::string_view client_preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

enum class preface_match { no, partial, complete };

// Whether a connection's first bytes are the preface (complete), could still become it (partial:
// read more before deciding), or are something else.
inline preface_match match_preface(std::string_view input) noexcept {
  const std::size_t n = std::min(input.size(), client_preface.size());
  if (input.substr(0, n) != client_preface.substr(0, n)) return preface_match::no;
  return n == client_preface.size() ? preface_match::complete : preface_match::partial;
}

// Serves HTTP/2 on `s` until the connection ends: the client leaves, the server shuts down (a
// GOAWAY, then the streams in flight finish), a protocol error, or a timeout. `preread`: bytes
// already read from `s`, the preface first. Returns when every stream's handler has returned; the
// caller closes `s` (and counts the connection). `tls`: the stream's TLS state, which every
// request points at (request::tls); null for plaintext.
task<void> serve_connection(server::state* st, net::stream& s, std::string preread,
                            const net::tls_connection_state* tls = nullptr);

// Serves a stream that negotiated "h2" (TLS, ALPN) as one connection of the server: counted in
// server::connections(), reported to the conn_state hook, and closed at the end.
task<void> serve_stream(server::state* st, std::unique_ptr<net::stream> s);

}  // namespace ringo::http::h2
