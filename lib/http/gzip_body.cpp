#include "gzip_body.hpp"

#include <zlib.h>

#include <ringo/http/error.hpp>
#include <ringo/net/error.hpp>

namespace ringo::http::detail {

struct gzip_body::inflater {
  z_stream s{};
  unsigned char in[16384];
  inflater() {
    // 16 + MAX_WBITS: a gzip wrapper (header and CRC-32 trailer), not zlib's or raw deflate.
    if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK) throw std::bad_alloc();
  }
  ~inflater() { inflateEnd(&s); }
};

gzip_body::gzip_body(std::unique_ptr<body_reader> compressed)
    : inner_(std::move(compressed)), z_(std::make_unique<inflater>()) {}

gzip_body::~gzip_body() = default;

task<result<std::size_t>> gzip_body::read(mutable_buffer buf, std::stop_token stop) {
  if (failed_) co_return make_error_code(errc::gzip_invalid);
  if (done_ || buf.size == 0) co_return std::size_t{0};
  z_stream& s = z_->s;
  for (;;) {
    if (s.avail_in == 0 && !inner_eof_) {
      result<std::size_t> n = co_await inner_->read(mutable_buffer(z_->in, sizeof z_->in), stop);
      if (!n) co_return n.error();
      if (*n == 0) {
        inner_eof_ = true;
      } else {
        s.next_in = z_->in;
        s.avail_in = static_cast<uInt>(*n);
      }
    }
    if (member_done_) {
      if (s.avail_in == 0 && inner_eof_) {
        done_ = true;  // every member decoded and the compressed body read to its end
        co_return std::size_t{0};
      }
      if (s.avail_in == 0) continue;
      inflateReset(&s);  // another member follows (RFC 1952 §2.2)
      member_done_ = false;
    }
    if (s.avail_in == 0 && inner_eof_) co_return make_error_code(net::errc::unexpected_eof);
    s.next_out = static_cast<Bytef*>(buf.data);
    s.avail_out = static_cast<uInt>(std::min<std::size_t>(buf.size, 1u << 30));
    const int rc = inflate(&s, Z_NO_FLUSH);
    const std::size_t produced =
        static_cast<std::size_t>(s.next_out - static_cast<Bytef*>(buf.data));
    if (rc == Z_STREAM_END) {
      member_done_ = true;
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      failed_ = true;  // Z_DATA_ERROR (corrupt), Z_NEED_DICT, Z_MEM_ERROR
      co_return make_error_code(errc::gzip_invalid);
    }
    if (produced > 0) co_return produced;
  }
}

}  // namespace ringo::http::detail
