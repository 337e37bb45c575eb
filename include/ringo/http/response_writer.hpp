// response_writer: how a handler answers (Go's http.ResponseWriter + ResponseController).
//
// Set header() fields and write_header(code) first, then write() the body. Nothing reaches the
// socket until the writer's buffer fills, flush() is called, or the handler returns; a body that
// the handler finished within the first buffer gets an automatic Content-Length, a longer one is
// sent chunked (HTTP/1.1) or close-delimited (HTTP/1.0). HEAD responses drop body writes.
// A failed write stops the request's token.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <ringo/http/headers.hpp>
#include <ringo/net/conn.hpp>
#include <ringo/runtime/buffer.hpp>
#include <ringo/runtime/result.hpp>
#include <ringo/runtime/task.hpp>

namespace ringo::http {

namespace detail {
class server_conn;
}

// The outcome of a response write: success, or why the client will not get the bytes. Unlike
// result<void> it may be ignored: a failed write already stops request::stop, so a handler can
// write as Go's handlers do and notice the failure through its token.
class write_result {
 public:
  write_result() = default;
  write_result(std::error_code ec) noexcept : error_(ec) {}
  write_result(const result<void>& r) noexcept : error_(r.error()) {}
  bool has_value() const noexcept { return !error_; }
  explicit operator bool() const noexcept { return has_value(); }
  std::error_code error() const noexcept { return error_; }

 private:
  std::error_code error_;
};

// A connection taken over by a handler (Go's Hijack): the server forgets it. `buffered` holds
// bytes the client already sent beyond the current request.
struct hijacked_conn {
  net::conn conn;
  std::string buffered;
};

class response_writer {
 public:
  explicit response_writer(detail::server_conn& c) noexcept : conn_(&c) {}
  response_writer(const response_writer&) = delete;
  response_writer& operator=(const response_writer&) = delete;

  // The response's header fields; changes after the header was sent have no effect.
  http::headers& header() noexcept { return header_; }
  // The status code (default 200). Only the first call counts.
  void write_header(int code) noexcept;
  // Appends to the body (sending the header first if needed).
  task<write_result> write(const_buffer data);
  // Sends the header and everything buffered now.
  task<write_result> flush();
  // Sends a 1xx response (100..199 except 101) now, with the current header fields (103 Early
  // Hints); the final response follows later.
  task<write_result> write_informational(int code);
  // Takes the connection over; the server sends nothing more on it.
  task<result<hijacked_conn>> hijack();

  int status() const noexcept { return status_; }
  bool header_written() const noexcept { return header_sent_; }
  std::uint64_t body_bytes() const noexcept { return body_bytes_; }

 private:
  friend class detail::server_conn;
  detail::server_conn* conn_;
  http::headers header_;
  int status_ = 0;  // 0: not chosen yet (200)
  bool header_sent_ = false;
  bool chunked_ = false;
  bool hijacked_ = false;
  std::uint64_t body_bytes_ = 0;
};

// Go's http.Error: a plain-text error response with `code`.
task<write_result> error(response_writer& w, int code, std::string_view message);

}  // namespace ringo::http
