#include "client_body.hpp"

#include <algorithm>
#include <cstring>

#include <ringo/http/error.hpp>
#include <ringo/net/error.hpp>

#include "transport_state.hpp"

namespace ringo::http::detail {

client_body::client_body(std::shared_ptr<transport::state> s, conn_ptr pc,
                         const client_trace* trace, time_point deadline)
    : s_(std::move(s)), pc_(std::move(pc)), trace_(trace), deadline_(deadline) {}

client_body::~client_body() {
  if (pc_) fail("http: response body closed before EOF");
}

void client_body::finish(bool reusable) {
  done_ = true;
  if (!pc_->parser.trailers.empty()) trailers_ = std::move(pc_->parser.trailers);
  conn_ptr pc = std::move(pc_);
  if (reusable && pc->reusable)
    s_->put_or_close_idle_conn(pc, trace_);
  else
    s_->close_conn(pc, "http: server asked to close the connection");
}

void client_body::fail(std::string reason) {
  done_ = true;
  conn_ptr pc = std::move(pc_);
  s_->close_conn(pc, std::move(reason));
}

task<result<std::size_t>> client_body::read(mutable_buffer buf, std::stop_token stop) {
  if (done_) co_return 0;
  for (;;) {
    if (!pending_.empty()) {
      std::size_t n = std::min(buf.size, pending_.size());
      std::memcpy(buf.data, pending_.data(), n);
      pending_.remove_prefix(n);
      co_return n;
    }
    message_parser::step step = pc_->parser.feed(pc_->unread());
    pc_->consume(step.consumed);
    // The server's own bounds, on this side too: framing far beyond the data (Go #64433) and
    // trailers past the response header limit would have the client read without bound.
    const std::size_t trailer_bytes = pc_->parser.trailer_bytes;
    if (!guard_.admit(step, trailer_bytes)) {
      fail("connection broken: too much chunk framing for the data");
      co_return std::error_code(http::errc::malformed);
    }
    if (trailer_bytes > s_->options.max_response_header_bytes) {
      fail("connection broken: response trailers exceeded the header limit");
      co_return std::error_code(http::errc::header_too_large);
    }
    switch (step.what) {
      case message_parser::event::body:
        pending_ = step.body;  // inside pc_->buf, which only fill() moves
        continue;
      case message_parser::event::message_done:
        finish(pc_->parser.keep_alive());
        co_return 0;
      case message_parser::event::error:
        fail("connection broken: malformed response body");
        co_return std::error_code(http::errc::malformed);
      case message_parser::event::need_more: {
        result<std::size_t> n = co_await pc_->fill(stop, deadline_);
        if (!n) {
          fail("connection broken: " + net::error_text(n.error()));
          co_return n.error();
        }
        if (*n == 0) {
          if (pc_->parser.finish()) {
            finish(false);
            co_return 0;
          }
          fail("connection broken: unexpected EOF");
          co_return std::error_code(net::errc::unexpected_eof);
        }
        continue;
      }
      case message_parser::event::head_done:
        continue;
    }
  }
}

}  // namespace ringo::http::detail
