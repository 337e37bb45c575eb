// Go's handler helpers from net/http/server.go: not_found, redirect, strip_prefix,
// timeout_handler, and max_bytes_reader (a request body that refuses to be longer than a limit).
//
// Each helper that makes a handler returns one that owns what it needs (the wrapped handler, the
// prefix, the message): it may be copied and outlive the call that made it.
#pragma once

#include <cstdint>
#include <stop_token>
#include <string>
#include <string_view>

#include <ringo/http/body.hpp>
#include <ringo/http/handler.hpp>
#include <ringo/http/request.hpp>
#include <ringo/http/response_writer.hpp>
#include <ringo/runtime/task.hpp>

namespace ringo::http {

// Go's NotFound: "404 page not found".
task<void> not_found(response_writer& w, request& r);
http::handler not_found_handler();

// Go's Redirect: answers with `code` (3xx) and a Location. A relative `url` is resolved against
// the request's path ("x" beside it, "../x", "/x" from the root; the path cleaned, a trailing
// slash kept); a GET gets a short HTML body naming the target unless the handler set a
// Content-Type. Non-ASCII bytes in the Location are %-escaped.
task<void> redirect(response_writer& w, request& r, std::string url, int code);
// Go's RedirectHandler.
http::handler redirect_handler(std::string url, int code);

// Go's StripPrefix: serves the request with `prefix` removed from its path (the query kept) by
// `h`, or 404 when the path does not start with it. The request's target is restored after.
http::handler strip_prefix(std::string prefix, http::handler h);

// Go's TimeoutHandler: runs `h` with a time limit. Within it, what h answered is sent as it was
// (held back until h returns, so no flush reaches the client early); past it, the client gets 503
// Service Unavailable with `message` (Go's default HTML when empty) at once, h's request::stop is
// stopped, its further writes fail with errc::handler_timeout, and the helper waits for h to
// return. A request stopped first (the client left) gets a 503 without the message, as in Go.
// h cannot hijack the connection.
http::handler timeout_handler(http::handler h, duration dt, std::string message = {});

// Go's MaxBytesReader: a body_reader over `body` that fails with errc::body_too_large once more
// than `limit` bytes come (the bytes within the limit are returned first), and then tells the
// response that the connection must close after it: the rest of an oversized body is never
// read. Typical use, in a handler:
//
//   http::max_bytes_reader limited(w, *r.body, 1 << 20);
//   auto all = co_await limited.read_all();
//
// `w` and `body` must outlive it.
class max_bytes_reader final : public body_reader {
 public:
  max_bytes_reader(response_writer& w, body_reader& body, std::uint64_t limit) noexcept
      : w_(&w), body_(&body), left_(limit) {}
  task<result<std::size_t>> read(mutable_buffer buf, std::stop_token stop = {}) override;
  bool done() const noexcept override { return failed_ || body_->done(); }
  const headers& trailers() const noexcept override { return body_->trailers(); }

 private:
  response_writer* w_;
  body_reader* body_;
  std::uint64_t left_;
  bool failed_ = false;
};

}  // namespace ringo::http
