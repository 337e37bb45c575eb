#include "body_decoder.hpp"

#include <cstring>

#include <ringo/http/error.hpp>
#include <ringo/net/error.hpp>

namespace ringo::http::h1 {

std::optional<result<std::size_t>> body_decoder::decode(mutable_buffer buf, message_parser& p,
                                                        read_buffer& in) noexcept {
  if (done_) return std::size_t{0};
  while (pending_.empty()) {
    message_parser::step step = p.feed(in.unread());
    in.consume(step.consumed);
    if (step.what == message_parser::event::error) return make_error_code(errc::malformed);
    if (!guard_.admit(step, p.trailer_bytes)) return make_error_code(errc::too_much_framing);
    if (p.trailer_bytes > max_trailer_bytes_) return make_error_code(errc::header_too_large);
    if (step.what == message_parser::event::body) {
      pending_ = step.body;  // inside `in`, which only fill() moves
    } else if (step.what == message_parser::event::message_done) {
      done_ = true;
      return std::size_t{0};
    } else if (step.what == message_parser::event::need_more) {
      return std::nullopt;
    }
  }
  const std::size_t n = std::min(buf.size, pending_.size());
  std::memcpy(buf.data, pending_.data(), n);
  pending_.remove_prefix(n);
  // A sized body's last bytes end the message, which llhttp reports at its next call: make it now
  // (with nothing buffered, that call can only complete the message or ask for more), so that the
  // caller learns the body ended with its last bytes, not from one more read.
  if (pending_.empty() && in.unread().empty() && p.has_content_length() && !p.chunked()) {
    if (p.feed(in.unread()).what == message_parser::event::message_done) done_ = true;
  }
  return n;
}

task<result<std::size_t>> body_decoder::read(mutable_buffer buf, message_parser& p, read_buffer& in,
                                             net::stream& s, std::stop_token stop,
                                             time_point deadline, bool awaiting) {
  for (;;) {
    if (std::optional<result<std::size_t>> n = decode(buf, p, in)) co_return std::move(*n);
    result<std::size_t> got = co_await in.fill(s, stop, deadline, awaiting);
    if (!got) co_return got.error();
    if (*got == 0) {
      if (p.finish()) {  // a body that ends with the connection
        done_ = true;
        co_return std::size_t{0};
      }
      co_return make_error_code(net::errc::unexpected_eof);
    }
  }
}

}  // namespace ringo::http::h1
