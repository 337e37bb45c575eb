#include "ringo/http/response_writer.hpp"

#include "ringo/http/error.hpp"
#include "ringo/http/status.hpp"
#include "server_conn.hpp"

namespace ringo::http {

void response_writer::write_header(int code) noexcept {
  if (status_ == 0 && !header_sent_) status_ = code;
}

task<write_result> response_writer::write(const_buffer data) {
  if (hijacked_) co_return make_error_code(errc::hijacked);
  detail::server_conn& c = *conn_;
  if (status_ == 0) status_ = status::ok;
  if (!c.body_allowed()) {
    if (!c.is_head_) co_return make_error_code(errc::body_not_allowed);
    // HEAD: the body is sent never, but what fits the first buffer is held (and dropped by
    // commit_header) so the head carries the Content-Length a GET would get, as in Go.
    if (!header_sent_) {
      c.append_body(data);
      if (c.body_buf_.size() > detail::server_conn::body_buffer_limit) c.commit_header(false);
    }
    co_return write_result{};
  }
  body_bytes_ += data.size;
  c.append_body(data);
  if (!header_sent_ && c.body_buf_.size() > detail::server_conn::body_buffer_limit)
    c.commit_header(false);
  if (c.out_.size() >= detail::server_conn::out_flush_threshold) co_return co_await c.send_out();
  co_return write_result{};
}

task<write_result> response_writer::flush() {
  if (hijacked_) co_return make_error_code(errc::hijacked);
  detail::server_conn& c = *conn_;
  if (!header_sent_) c.commit_header(false);
  co_return co_await c.send_out();
}

task<write_result> response_writer::write_informational(int code) {
  if (code < 100 || code > 199 || code == 101)
    co_return make_error_code(std::errc::invalid_argument);
  if (header_sent_) co_return make_error_code(errc::header_already_sent);
  detail::server_conn& c = *conn_;
  c.out_ += "HTTP/1.1 " + std::to_string(code) + " " + std::string(reason_phrase(code)) + "\r\n";
  for (const auto& f : header_) c.out_ += f.name + ": " + f.value + "\r\n";
  c.out_ += "\r\n";
  if (code == status::continue_) c.expect_continue_ = false;  // sent by hand: not owed any more
  co_return co_await c.send_out();
}

task<result<hijacked_conn>> response_writer::hijack() {
  if (hijacked_) co_return make_error_code(errc::hijacked);
  detail::server_conn& c = *conn_;
  co_await c.stop_watching();
  if (auto sent = co_await c.send_out(); !sent) co_return sent.error();
  hijacked_ = true;
  c.hijacked_ = true;
  hijacked_conn out{std::move(c.conn_), std::string(c.buffered())};
  c.begin_ = c.end_;
  if (c.server_->conn_state_hook) c.server_->conn_state_hook(out.conn, conn_state::hijacked);
  co_return out;
}

task<write_result> error(response_writer& w, int code, std::string_view message) {
  w.header().set("Content-Type", "text/plain; charset=utf-8");
  w.header().set("X-Content-Type-Options", "nosniff");
  w.write_header(code);
  std::string body(message);
  body += '\n';
  co_return co_await w.write(body);
}

}  // namespace ringo::http
