// server: an HTTP/1.1 and HTTP/2 server (Go's http.Server).
//
// serve() accepts connections and runs one coroutine per connection in a scope it awaits: a
// request's handler runs while the connection's reader waits for the client to leave (a pending
// poll for POLLRDHUP once the body is consumed), so request::stop fires when the client
// disconnects, on a write error, or on a forced shutdown. Timeouts start where Go starts them:
// read_header_timeout and read_timeout at the request's first byte, write_timeout when the head has
// been read, idle_timeout while waiting for the next request on a kept-alive connection.
//
// HTTP/2: a plaintext connection that opens with HTTP/2's preface is served as HTTP/2 (prior
// knowledge, "h2c"; http2.unencrypted turns it off); over TLS, a client that chose "h2" by ALPN
// (http2.over_tls). Each stream gets the same handler, its own request and response_writer;
// request::stop fires on the stream's RST_STREAM too.
//
// HTTPS (serve_tls, listen_and_serve_tls: Go's ServeTLS, ListenAndServeTLS): one tls_context for
// the server, a handshake in each connection's coroutine within the shortest of
// read_header_timeout, read_timeout and write_timeout (Go's tlsHandshakeTimeout), stopped by
// shutdown() or close(). Plaintext HTTP sent to the TLS port gets Go's 400 ("Client sent an HTTP
// request to an HTTPS server."); any other failed handshake is logged and closed.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include <ringo/http/handler.hpp>
#include <ringo/http/request.hpp>
#include <ringo/http/response_writer.hpp>
#include <ringo/net/conn.hpp>
#include <ringo/net/error.hpp>
#include <ringo/net/listener.hpp>
#include <ringo/net/tls.hpp>
#include <ringo/runtime/event.hpp>
#include <ringo/runtime/result.hpp>
#include <ringo/runtime/task.hpp>
#include <ringo/runtime/time.hpp>

namespace ringo::http {

// A connection's state, for the conn_state hook (Go's http.ConnState).
enum class conn_state { new_, active, idle, hijacked, closed };
std::string_view to_string(conn_state s) noexcept;

// HTTP/2's settings and bounds (Go 1.24's http.HTTP2Config, with its defaults): what the server
// advertises in its SETTINGS and holds each connection to.
struct http2_config {
  // Serve HTTP/2 with prior knowledge on a plaintext listener (Go 1.24's
  // Protocols.SetUnencryptedHTTP2): a connection whose first bytes are the HTTP/2 preface
  // ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") is served as HTTP/2. Go makes this opt-in; here it is on,
  // because it changes nothing for an HTTP/1 client (HTTP/1 refuses the preface: llhttp takes no
  // PRI request, 400) and it offers no Upgrade: h2c (the header proxies forward, behind "h2c
  // smuggling"): only a client that chose HTTP/2 gets it. false: the preface gets HTTP/1's 400.
  bool unencrypted = true;
  // Offer "h2" by ALPN on a TLS listener, before "http/1.1" (Go's default for TLS; Go 1.24's
  // Protocols.SetHTTP2). false: TLS clients get HTTP/1.1.
  bool over_tls = true;
  // Streams a client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS), and handlers running
  // at once per connection: a stream that comes while as many handlers run, reset ones included,
  // waits for one to return (Go's fix for rapid reset, go.dev/issue/63417).
  std::uint32_t max_concurrent_streams = 250;
  // The largest frame the client may send (SETTINGS_MAX_FRAME_SIZE).
  std::uint32_t max_read_frame_size = 1 << 20;
  // Flow control: request body bytes a client may send ahead of the handlers reading them, on the
  // whole connection and on one stream (Go's MaxReceiveBufferPerConnection / PerStream: 1 MiB).
  std::int32_t max_receive_buffer_per_connection = 1 << 20;
  std::int32_t max_receive_buffer_per_stream = 1 << 20;
  // Output that makes no progress this long is given up: a stream whose client opens no
  // flow-control window is reset, a connection whose bytes the client does not read is closed (Go's
  // WriteByteTimeout, which has no default; nginx's send_timeout, 60 s, does this). 0: none.
  duration write_byte_timeout = std::chrono::seconds(60);
};

class server {
 public:
  http::handler handler;
  // Timeouts. Go has none by default; a slow client could then hold a connection for ever (gosec
  // G112), so two default to nginx's (client_header_timeout, keepalive_timeout).
  duration read_timeout{};                                  // the whole request; 0: none
  duration read_header_timeout = std::chrono::seconds(60);  // the head; 0: read_timeout
  duration write_timeout{};                                 // the response; 0: none
  duration idle_timeout = std::chrono::seconds(75);         // between requests; 0: read_timeout
  std::size_t max_header_bytes = 1 << 20;  // HTTP/2: SETTINGS_MAX_HEADER_LIST_SIZE, as in Go
  http2_config http2;
  // Over TLS, from the handshake's end on (new_ included), with the TLS stream; a connection whose
  // handshake fails is not reported (Go reports StateNew at the accept).
  std::function<void(const net::stream&, conn_state)> conn_state_hook;
  std::function<void(std::string_view)> error_log;  // default: stderr

  server();
  explicit server(http::handler h);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Serves connections from `l` until shutdown() or close() (then success), or until `stop`
  // (which acts as close()). Closes `l` as soon as it stops accepting (new clients are refused),
  // and returns only when every connection is done. `l` and the server are borrowed: both must
  // outlive the task.
  task<result<void, net::op_error>> serve(net::listener& l, std::stop_token stop = {});
  // Listens on "host:port" (tcp) and serves.
  task<result<void, net::op_error>> listen_and_serve(std::string address,
                                                     std::stop_token stop = {});
  // serve() over TLS (Go's ServeTLS). The config needs certificates; its next_protos get "h2"
  // (when http2.over_tls) and "http/1.1", as Go adds them. A config that does not build (a
  // missing file, a key that does not match) fails at once, `l` closed: "listen tcp
  // 127.0.0.1:8443: tls: open cert.pem: no such file or directory".
  task<result<void, net::op_error>> serve_tls(net::listener& l, net::tls_config config,
                                              std::stop_token stop = {});
  // With a context built beforehand, used as it is (its ALPN list included).
  task<result<void, net::op_error>> serve_tls(net::listener& l, net::tls_context context,
                                              std::stop_token stop = {});
  // Listens on "host:port" (tcp) and serves TLS with the PEM files' chain and key (Go's
  // ListenAndServeTLS).
  task<result<void, net::op_error>> listen_and_serve_tls(std::string address, std::string cert_file,
                                                         std::string key_file,
                                                         std::stop_token stop = {});
  // Graceful: stops accepting, closes idle connections, lets active requests finish, and returns
  // when serve() has returned. A stop request on `force` turns it into close().
  task<void> shutdown(std::stop_token force = {});
  // Immediate: stops accepting and stops every connection's work (handlers see their stop).
  void close();

  // Open connections (not hijacked ones).
  std::size_t connections() const noexcept;

  struct state;

 private:
  // serve(), over TLS when `tls` is not empty.
  task<result<void, net::op_error>> serve_on(net::listener& l, net::tls_context tls,
                                             std::stop_token stop);
  std::unique_ptr<state> state_;
};

// Serves `h` on "host:port" with a default server.
task<result<void, net::op_error>> listen_and_serve(std::string address, http::handler h,
                                                   std::stop_token stop = {});
// Serves `h` over TLS on "host:port" with a default server (Go's http.ListenAndServeTLS).
task<result<void, net::op_error>> listen_and_serve_tls(std::string address, std::string cert_file,
                                                       std::string key_file, http::handler h,
                                                       std::stop_token stop = {});

}  // namespace ringo::http
