// httptest: handlers and clients under test without ceremony (Go's net/http/httptest).
//
// response_recorder is a response_writer's sink that keeps what a handler answers, so a handler or
// a mux runs with no socket at all:
//
//   httptest::response_recorder rec;
//   auto req = httptest::new_request("GET", "/hello/gopher");
//   ringo::run(handler(rec.writer(), req));
//   EXPECT_EQ(rec.code(), 200);
//
// server serves a handler on 127.0.0.1 on a thread of its own (Go's httptest.NewServer), for
// tests of client code; it stops when it is destroyed or close()d.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <ringo/http/body.hpp>
#include <ringo/http/handler.hpp>
#include <ringo/http/headers.hpp>
#include <ringo/http/request.hpp>
#include <ringo/http/response_writer.hpp>

namespace ringo::http::httptest {

// What a handler answered (Go's ResponseRecorder). Read it once the handler has returned: the
// first accessor call ends the response as the server would (the head committed, with the body's
// length when the handler did not set one).
class response_recorder final : private response_sink {
 public:
  // `head_request`: the response answers a HEAD request (body writes are dropped).
  explicit response_recorder(bool head_request = false);
  response_recorder(const response_recorder&) = delete;
  response_recorder& operator=(const response_recorder&) = delete;

  // The writer to pass to the handler.
  response_writer& writer() noexcept { return writer_; }

  // The status sent (200 when the handler chose none).
  int code();
  // The header fields sent; with the Content-Length the server would add, when it would.
  const headers& header();
  // The body bytes sent.
  const std::string& body();
  // The trailer fields sent after the body (Go's Result().Trailer).
  const headers& trailer();
  // Whether the handler gave the response up (response_writer::abort: Go's ErrAbortHandler).
  bool aborted() const noexcept { return aborted_; }
  // Whether the handler flushed (Go's Flushed).
  bool flushed() const noexcept { return flushed_; }
  // Whether the response asked for the connection to close after it (max_bytes_reader).
  bool close_after() const noexcept { return close_after_; }
  // The 1xx responses sent before the final one, in order.
  const std::vector<int>& informational() const noexcept { return informational_; }

 private:
  void send_head(const head& h) override;
  void send_body(const_buffer data) override;
  void end_body(bool, const headers& trailers) override { trailer_ = trailers; }
  void abort() noexcept override { aborted_ = true; }
  std::size_t queued() const noexcept override { return 0; }
  task<write_result> flush() override;
  task<write_result> send_informational(int code, const headers& fields) override;
  task<result<hijacked_conn>> hijack() override;
  void close_after_response() noexcept override { close_after_ = true; }

  response_writer writer_;
  int code_ = 0;
  headers header_;
  headers trailer_;
  std::string body_;
  std::vector<int> informational_;
  bool flushed_ = false;
  bool close_after_ = false;
  bool aborted_ = false;
};

// A request for a handler under test (Go's NewRequest): `target` is a path ("/x?y=1") or an
// absolute URL ("http://example.com/x", whose host becomes the Host). It owns its body, which
// handlers read as from a client; Host is "example.com" unless the URL names another, and the
// remote address is 127.0.0.1:1234.
class test_request : public request {
 public:
  test_request(std::string_view verb, std::string_view where, std::string content = {});
  test_request(const test_request&) = delete;
  test_request& operator=(const test_request&) = delete;

 private:
  class string_body final : public body_reader {
   public:
    explicit string_body(std::string data) : data_(std::move(data)) {}
    task<result<std::size_t>> read(mutable_buffer buf, std::stop_token stop = {}) override;
    bool done() const noexcept override { return at_ == data_.size(); }
    std::size_t size() const noexcept { return data_.size(); }

   private:
    std::string data_;
    std::size_t at_ = 0;
  };
  string_body body_;
};

inline test_request new_request(std::string_view method, std::string_view target,
                                std::string body = {}) {
  return test_request(method, target, std::move(body));
}

// A server for tests of client code (Go's httptest.Server): serves `h` on 127.0.0.1 at a port the
// kernel chose, on a thread and io_context of its own, until close() or destruction, which stop
// the handlers still running and wait for them. The handler runs on the server's thread.
class server {
 public:
  explicit server(http::handler h);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // "http://127.0.0.1:PORT" (no trailing slash), as Go's Server.URL.
  std::string url() const;
  // "127.0.0.1:PORT"
  std::string address() const;
  // Stops serving and waits for the server's thread. Idempotent.
  void close();

 private:
  struct state;
  std::unique_ptr<state> state_;
};

}  // namespace ringo::http::httptest
