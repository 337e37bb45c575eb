// gzip_body: a response body decompressed on the way out (Go's transport gzipReader), for the
// transparent gzip of transport::round_trip: the transport asked for gzip itself, so the caller
// sees the decoded bytes. Concatenated gzip members decode as one stream, as Go's gzip.Reader
// does. A corrupt stream is errc::gzip_invalid; one cut short, net::errc::unexpected_eof. The
// size of what it inflates to is bounded only by the caller's reads (read_all's limit), which is
// what bounds a gzip bomb.
#pragma once

#include <memory>

#include <ringo/http/body.hpp>

namespace ringo::http::detail {

class gzip_body final : public body_reader {
 public:
  explicit gzip_body(std::unique_ptr<body_reader> compressed);
  ~gzip_body() override;
  task<result<std::size_t>> read(mutable_buffer buf, std::stop_token stop = {}) override;
  bool done() const noexcept override { return done_; }
  const headers& trailers() const noexcept override { return inner_->trailers(); }

 private:
  struct inflater;  // zlib's z_stream, kept out of this header
  std::unique_ptr<body_reader> inner_;
  std::unique_ptr<inflater> z_;
  bool inner_eof_ = false;
  bool member_done_ = false;  // between two members (or at the end)
  bool done_ = false;
  bool failed_ = false;
};

}  // namespace ringo::http::detail
