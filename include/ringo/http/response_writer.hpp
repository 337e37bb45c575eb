// response_writer: how a handler answers (Go's http.ResponseWriter + ResponseController).
//
// Set header() fields and write_header(code) first, then write() the body. Nothing reaches the
// client until the writer's buffer fills, flush() is called, or the handler returns; a body that
// the handler finished within the first buffer gets an automatic Content-Length, a longer one is
// sent chunked (HTTP/1.1) or close-delimited (HTTP/1.0). HEAD responses drop body writes.
// Trailer fields set in trailer() go out after a chunked body. A failed write stops the
// request's token.
//
// The writer owns the response's state (status, fields, whether the head is committed, the body
// held back for its length) and writes through a response_sink: the server's HTTP/1 connection,
// or httptest::response_recorder in a test, so that a handler can be tested without a socket.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <ringo/http/headers.hpp>
#include <ringo/net/stream.hpp>
#include <ringo/runtime/buffer.hpp>
#include <ringo/runtime/file.hpp>
#include <ringo/runtime/result.hpp>
#include <ringo/runtime/task.hpp>

namespace ringo::http {

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
// bytes the client already sent beyond the current request. The stream is the connection's own
// (a net::conn, or the TLS stream over it).
struct hijacked_conn {
  std::unique_ptr<net::stream> conn;
  std::string buffered;
};

// Where a response_writer's response goes: it frames the response for its protocol and sends it.
// Queueing is synchronous; flush() sends what is queued. Arguments are borrowed until the call (or
// the task it returns) completes.
class response_sink {
 public:
  // The head, as the writer decided it.
  struct head {
    int status;
    const http::headers& fields;
    // The body's length: the handler's Content-Length field (`declared`), or the whole body's
    // when the handler finished it within the first buffer; none when it is still being written.
    std::optional<std::uint64_t> length;
    bool declared = false;
    bool final = false;     // the handler has returned: nothing more will be written
    bool trailers = false;  // trailer fields will follow the body (it must be chunked)
  };

  // Queues the head, then the body's bytes (never for HEAD, 1xx, 204 or 304).
  virtual void send_head(const head& h) = 0;
  virtual void send_body(const_buffer data) = 0;
  // Sends what is queued, then `length` bytes of `f` from `offset` as body bytes: the server's
  // connection hands them to its stream (net::conn sends them from the page cache); by default
  // they are read and queued with send_body (the recorder records them so).
  virtual task<write_result> send_file(const file& f, std::uint64_t offset, std::uint64_t length);
  // The body is complete, then `trailers` (empty: none); `as_declared` is false when it is
  // shorter or longer than its length (the connection cannot carry another response).
  virtual void end_body(bool as_declared, const headers& trailers) = 0;
  // The response cannot be completed: nothing more is sent, and the connection ends without the
  // body's end, so that the client sees a cut response, not a complete one.
  virtual void abort() noexcept = 0;
  // Bytes queued and not yet sent.
  virtual std::size_t queued() const noexcept = 0;
  // Sends what is queued.
  virtual task<write_result> flush() = 0;
  // Sends a 1xx response now, with `fields`.
  virtual task<write_result> send_informational(int code, const headers& fields) = 0;
  // Hands the connection over (after sending what is queued).
  virtual task<result<hijacked_conn>> hijack() = 0;
  // The request's body was cut short (max_bytes_reader): the connection closes after this
  // response, as Go's requestTooLarge makes it.
  virtual void close_after_response() noexcept {}

 protected:
  ~response_sink() = default;
};

class response_writer {
 public:
  explicit response_writer(response_sink& sink) noexcept : sink_(&sink) {}
  response_writer(const response_writer&) = delete;
  response_writer& operator=(const response_writer&) = delete;

  // The response's header fields; changes after the header was sent have no effect.
  http::headers& header() noexcept { return header_; }
  // Trailer fields, sent after the body (Go: the fields a handler announces in a Trailer field
  // and sets after writing, or names with TrailerPrefix). A response that announces a Trailer
  // field or has trailers when the handler returns is chunked (no automatic Content-Length);
  // trailers are dropped where chunking is impossible (HTTP/1.0, a declared Content-Length).
  http::headers& trailer() noexcept { return trailer_; }
  // The status code (default 200). Only the first call counts.
  void write_header(int code) noexcept;
  // Appends to the body (sending the header first if needed).
  task<write_result> write(const_buffer data);
  // Appends `length` bytes of `f` from `offset` to the body, sent from the page cache without
  // passing through user memory where the connection allows (a socket; not TLS). The file must
  // stay open until the call returns. Set Content-Length first (serve_content does) or the body
  // is sent chunked.
  task<write_result> write_file(const file& f, std::uint64_t offset, std::uint64_t length);
  // Sends the header and everything buffered now.
  task<write_result> flush();
  // Sends a 1xx response (100..199 except 101) now, with the current header fields (103 Early
  // Hints); the final response follows later.
  task<write_result> write_informational(int code);
  // Takes the connection over; the server sends nothing more on it.
  task<result<hijacked_conn>> hijack();
  // Gives up on a response whose head is sent: the connection closes without the body's end, so
  // the client sees the response cut short (Go's panic(http.ErrAbortHandler), which a proxy
  // raises when its upstream fails mid-body). Later writes fail.
  void abort() noexcept;

  // The connection closes after this response (max_bytes_reader calls it: the rest of a body
  // past its limit is never read, so the connection cannot carry another request).
  void close_after_response() noexcept { sink_->close_after_response(); }

  int status() const noexcept { return status_; }
  bool header_written() const noexcept { return committed_; }
  std::uint64_t body_bytes() const noexcept { return body_bytes_; }

  // --- For what serves the response (a server connection, a recorder) -----------------------

  // Starts the response to a new request (`head_request`: its method is HEAD); forgets the last
  // one but keeps what it allocated.
  void start(bool head_request) noexcept;
  // The handler returned: commits the head if it has not been (with the body's whole length),
  // and ends the body. Idempotent.
  void finish();
  // Forgets a response whose head is not committed, to answer differently (a 500 for a handler
  // that threw); false when the head is on its way already.
  bool discard() noexcept;
  bool hijacked() const noexcept { return hijacked_; }
  bool finished() const noexcept { return finished_; }
  bool aborted() const noexcept { return aborted_; }

  // Bytes held back before the head, for an automatic Content-Length.
  static constexpr std::size_t body_buffer_limit = 4096;
  // write() sends once this much is queued in the sink.
  static constexpr std::size_t flush_threshold = 16384;

 private:
  bool body_allowed() const noexcept;
  void commit(bool final);

  response_sink* sink_;
  http::headers header_;
  http::headers trailer_;
  std::string body_buf_;  // body written before the head was committed
  std::optional<std::uint64_t> declared_length_;
  std::uint64_t body_bytes_ = 0;
  int status_ = 0;  // 0: not chosen yet (200)
  bool committed_ = false;
  bool hijacked_ = false;
  bool head_request_ = false;
  bool finished_ = false;
  bool aborted_ = false;
};

// Go's http.Error: a plain-text error response with `code`. `w` is borrowed for the task.
task<write_result> error(response_writer& w, int code, std::string message);

}  // namespace ringo::http
