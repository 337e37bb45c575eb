#include "client_body.hpp"

#include <ringo/http/error.hpp>
#include <ringo/net/error.hpp>

#include "transport_state.hpp"

namespace ringo::http::detail {

client_body::client_body(std::shared_ptr<transport::state> s, conn_ptr pc,
                         const client_trace* trace, time_point deadline)
    : s_(std::move(s)), pc_(std::move(pc)), trace_(trace), deadline_(deadline) {
  // The server's bounds on this side too: trailers within the response header limit.
  decoder_.start(false, s_->options.max_response_header_bytes);
}

client_body::~client_body() {
  if (pc_) fail("http: response body closed before EOF");
}

void client_body::finish(bool reusable) {
  done_ = true;
  if (!pc_->parser.trailers.empty()) trailers_ = std::move(pc_->parser.trailers);
  conn_ptr pc = std::move(pc_);
  if (!pc->not_reusable.empty())
    s_->close_conn(pc, std::string(pc->not_reusable));
  else if (reusable)
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
  if (error_) co_return error_;  // a body cut short never reads as ended
  if (done_) co_return 0;
  // The answer to a request just written: nothing is there yet, so reads wait for readability
  // before they try.
  std::optional<result<std::size_t>> n = decoder_.decode(buf, pc_->parser, pc_->in);
  if (!n)
    n = co_await decoder_.read(buf, pc_->parser, pc_->in, *pc_->stream, std::move(stop), deadline_,
                               true);
  if (!*n) {
    error_ = n->error();
    fail("connection broken: " + net::error_text(error_));
    co_return error_;
  }
  // (A body that ends with the connection is not keep-alive: the conn closes.)
  if (decoder_.done()) finish(pc_->parser.keep_alive());
  co_return std::move(*n);
}

}  // namespace ringo::http::detail
