#include "ringo/http/body.hpp"

#include "ringo/http/error.hpp"

namespace ringo::http {
task<result<std::string>> body_reader::read_all(std::size_t limit, std::stop_token stop) {
  std::string out;
  char buf[16384];
  for (;;) {
    auto n = co_await read(buf, stop);
    if (!n) co_return n.error();
    if (*n == 0) co_return out;
    if (out.size() + *n > limit) co_return make_error_code(errc::body_too_large);
    out.append(buf, *n);
  }
}

const headers& body_reader::trailers() const noexcept {
  static const headers none;
  return none;
}

}  // namespace ringo::http
