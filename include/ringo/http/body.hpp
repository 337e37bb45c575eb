// body_reader: the body of a request (server side) or of a response (client side), read as a
// stream with stop tokens like every other read. Chunked and Content-Length framing is decoded;
// read() returns 0 at the end of the body.
#pragma once

#include <cstddef>
#include <stop_token>
#include <string>

#include <ringo/http/headers.hpp>
#include <ringo/runtime/buffer.hpp>
#include <ringo/runtime/result.hpp>
#include <ringo/runtime/task.hpp>

namespace ringo::http {

class body_reader {
 public:
  virtual ~body_reader() = default;
  // Up to buf.size bytes of body; 0 at its end.
  virtual task<result<std::size_t>> read(mutable_buffer buf, std::stop_token stop = {}) = 0;
  // Whether the whole body has been read.
  virtual bool done() const noexcept = 0;
  // The trailer fields that followed a chunked body; complete once done().
  virtual const headers& trailers() const noexcept;
  // The rest of the body, failing with errc::body_too_large past `limit` bytes.
  task<result<std::string>> read_all(std::size_t limit = 64 << 20, std::stop_token stop = {});
};

}  // namespace ringo::http
