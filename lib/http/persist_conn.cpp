#include "persist_conn.hpp"

namespace ringo::http::detail {

task<result<std::size_t>> persist_conn::fill(std::stop_token stop, time_point deadline) {
  if (pos > 0) {
    buf.erase(0, pos);
    pos = 0;
  }
  std::size_t old = buf.size();
  buf.resize(old + 16384);
  result<std::size_t> n = co_await c.read(mutable_buffer(buf.data() + old, 16384), stop, deadline);
  buf.resize(old + (n ? *n : 0));
  co_return n;
}

}  // namespace ringo::http::detail
