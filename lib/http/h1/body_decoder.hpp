// body_decoder: one message body read off an HTTP/1 connection, for the server's request bodies and
// the client's response bodies alike (Go's net/http/transfer.go body and internal/chunked.go).
// Content-Length, chunked (with trailers) and close-delimited framing are llhttp's
// (message_parser); the decoder drives it over the connection's read_buffer, hands out decoded
// bytes, and bounds what a peer can make it read: chunk framing far beyond its data (framing_guard,
// go.dev/issue/64433) and trailers past the header limit.
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <stop_token>
#include <string_view>

#include <ringo/net/stream.hpp>
#include <ringo/runtime/buffer.hpp>
#include <ringo/runtime/result.hpp>
#include <ringo/runtime/task.hpp>

#include "parser.hpp"
#include "read_buffer.hpp"

namespace ringo::http::h1 {

// Go's guard in net/http/internal/chunked.go (chunkedReader, go.dev/issue/64433): framing (chunk
// sizes, extensions, line ends) far beyond the data it carries would have a reader take input
// without bound. Each piece of data earns an allowance (Go's: 16 bytes plus twice its length);
// framing more than max_overhead beyond it makes the body malformed. Trailer fields are not
// framing: the decoder bounds them by the header limit instead.
class framing_guard {
 public:
  static constexpr std::size_t max_overhead = 16 << 10;

  // Accounts for one step of the body's parse; false once the framing is too much.
  // `trailer_bytes` is the parser's count after the step.
  bool admit(const message_parser::step& s, std::size_t trailer_bytes) noexcept {
    std::size_t data = s.what == message_parser::event::body ? s.body.size() : 0;
    std::size_t trailer = trailer_bytes - trailer_seen_;
    trailer_seen_ = trailer_bytes;
    overhead_ += s.consumed - std::min(s.consumed, data + trailer);
    overhead_ -= std::min(overhead_, data == 0 ? 0 : 16 + 2 * data);
    return overhead_ <= max_overhead;
  }
  void reset() noexcept { overhead_ = trailer_seen_ = 0; }

 private:
  std::size_t overhead_ = 0;
  std::size_t trailer_seen_ = 0;
};

class body_decoder {
 public:
  // Why a read failed: the decoder's own errors are http::errc::malformed (the framing broke),
  // too_much_framing (far beyond its data), header_too_large (trailers past the limit) and
  // net::errc::unexpected_eof (the stream ended inside the body); else the stream's error.

  // Starts the body of the message whose head `p` just parsed. `empty`: it has none.
  // `max_trailer_bytes`: the bound on its trailer fields.
  void start(bool empty, std::size_t max_trailer_bytes) noexcept {
    done_ = empty;
    pending_ = {};
    guard_.reset();
    max_trailer_bytes_ = max_trailer_bytes;
  }
  bool done() const noexcept { return done_; }
  // Decoded bytes at hand (inside the read buffer).
  std::size_t pending() const noexcept { return pending_.size(); }
  // Those bytes themselves. llhttp stops at each piece of body it finds, so they and the buffer's
  // unread bytes are the stream's bytes as they arrived, chunked framing included (a hijacker's).
  std::string_view pending_bytes() const noexcept { return pending_; }

  // Decodes from the bytes `in` holds, reading nothing: up to buf.size decoded bytes, or 0 at the
  // body's end (done() is then true); nullopt when more input is needed (then read()). A body
  // usually arrives with its head, so most reads end here, without a coroutine of their own.
  std::optional<result<std::size_t>> decode(mutable_buffer buf, message_parser& p,
                                            read_buffer& in) noexcept;
  // decode(), reading from `s` into `in` while the buffered bytes hold no more of the body;
  // `awaiting` as read_buffer::fill.
  task<result<std::size_t>> read(mutable_buffer buf, message_parser& p, read_buffer& in,
                                 net::stream& s, std::stop_token stop, time_point deadline,
                                 bool awaiting = false);

 private:
  std::string_view pending_;  // decoded body bytes not yet handed out (inside the read buffer)
  framing_guard guard_;
  std::size_t max_trailer_bytes_ = 0;
  bool done_ = true;
};

}  // namespace ringo::http::h1
