// client_body: a response body read from its persist_conn (h1::body_decoder). At EOF the conn goes
// back to the pool (Go's bodyEOFSignal -> tryPutIdleConn); destroyed before EOF it closes the conn.
#pragma once

#include <memory>

#include <ringo/http/body.hpp>
#include <ringo/http/transport.hpp>

#include "h1/body_decoder.hpp"
#include "persist_conn.hpp"

namespace ringo::http::detail {

class client_body final : public body_reader {
 public:
  // The response head is in pc->parser, which reads the body.
  client_body(std::shared_ptr<transport::state> s, conn_ptr pc, const client_trace* trace,
              time_point deadline);
  ~client_body() override;
  // One is made for every response with a body: the frame pool's recycled blocks serve it, as
  // they serve coroutine frames, instead of malloc.
  static void* operator new(std::size_t size) { return ringo::detail::allocate_frame(size); }
  static void operator delete(void* p, std::size_t size) noexcept {
    ringo::detail::deallocate_frame(p, size);
  }
  task<result<std::size_t>> read(mutable_buffer buf, std::stop_token stop = {}) override;
  bool done() const noexcept override { return done_; }
  const headers& trailers() const noexcept override { return trailers_; }

 private:
  void finish(bool reusable);
  void fail(std::string reason);

  std::shared_ptr<transport::state> s_;
  conn_ptr pc_;
  headers trailers_;  // taken from the parser at the end: the conn may serve another request
  const client_trace* trace_;
  time_point deadline_;  // the request's
  h1::body_decoder decoder_;
  std::error_code error_;  // a failed read's: every later read returns it (Go's bodyEOFSignal)
  bool done_ = false;
};

// The body of a response that has none (HEAD, 204, 304).
class empty_body final : public body_reader {
 public:
  task<result<std::size_t>> read(mutable_buffer, std::stop_token = {}) override { co_return 0; }
  bool done() const noexcept override { return true; }
};

}  // namespace ringo::http::detail
