// client_request: what round_trip sends. The body is replayable: either a string or a body_source
// that can rewind(). The transport calls the source's close() exactly once on every path (Go
// #49621), whether the request succeeded, failed, was retried or was never sent.
// Over HTTP/2 a body_source may still be read after round_trip returned (a server answering
// while it reads): until the response body's end, or until a response that ended first stops
// the upload.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include <ringo/http/headers.hpp>
#include <ringo/http/url.hpp>
#include <ringo/net/dialer.hpp>
#include <ringo/net/tls.hpp>
#include <ringo/runtime/buffer.hpp>
#include <ringo/runtime/result.hpp>
#include <ringo/runtime/task.hpp>
#include <ringo/runtime/time.hpp>

namespace ringo::http {

class body_source {
 public:
  virtual ~body_source() = default;
  // Fills buf; 0 at the end of the body.
  virtual task<result<std::size_t>> read(mutable_buffer buf, std::stop_token stop) = 0;
  // Starts over for a retry; an error means the body cannot be replayed.
  virtual result<void> rewind() = 0;
  // The length, when known (sent as Content-Length; otherwise the body is chunked).
  virtual std::optional<std::size_t> length() const { return std::nullopt; }
  // Called exactly once by the transport.
  virtual void close() noexcept {}
};

// httptrace's subset. Each hook is optional.
struct got_conn_info {
  bool reused = false;
  bool was_idle = false;
  duration idle_time{};
  int version_major = 1;  // 2: an HTTP/2 connection, the request one of its streams
};
struct client_trace {
  std::function<void(std::string_view host_port)> get_conn;
  std::function<void(const got_conn_info&)> got_conn;
  std::function<void(std::error_code)> put_idle_conn;
  std::function<void()> wrote_headers;
  std::function<void(std::error_code)> wrote_request;
  std::function<void()> got_first_response_byte;
  // The head of an `Expect: 100-continue` request is written and its body waits for the 100
  // (Go's Wait100Continue).
  std::function<void()> wait_100_continue;
  std::function<void()> got_100_continue;
  // The TLS handshake of an https conn this request's dial made, while the request still waits
  // for it (Go's TLSHandshakeStart / TLSHandshakeDone): the state once shaken, or the error.
  std::function<void()> tls_handshake_start;
  std::function<void(const net::tls_connection_state&, std::error_code)> tls_handshake_done;
  // Resolution and connects of a dial this request started, while it still waits for it (a dial
  // that outlives its request reports to nobody).
  const net::dial_trace* dial = nullptr;
};

struct client_request {
  std::string method = "GET";
  http::url url;
  http::headers header;                 // "User-Agent: ringo" unless set; set empty: none
  std::string body;                     // used when source is null
  std::shared_ptr<body_source> source;  // a streamed, rewindable body
  const client_trace* trace = nullptr;
  // The whole exchange must end by then: waiting for a conn, writing, the response head and
  // every read of its body (Go's request context deadline). Past it: errc::timed_out.
  time_point deadline = no_deadline;
  // No transparent gzip for this request (transport_options::disable_compression for one): the
  // body comes as the server sent it. A reverse proxy passes bodies on so.
  bool disable_compression = false;

  // GET/HEAD/OPTIONS/TRACE, or an Idempotency-Key / X-Idempotency-Key header.
  bool idempotent() const noexcept;
};

}  // namespace ringo::http
