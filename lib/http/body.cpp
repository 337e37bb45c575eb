#include "ringo/http/body.hpp"

#include "ringo/http/error.hpp"

namespace ringo::http {
namespace {

class http_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "http"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::body_too_large:
        return "http: request body too large";
      case errc::malformed:
        return "http: malformed message";
      case errc::header_too_large:
        return "http: header too large";
      case errc::hijacked:
        return "http: connection has been hijacked";
      case errc::content_length_mismatch:
        return "http: body length does not match Content-Length";
      case errc::body_not_allowed:
        return "http: request method or response status code does not allow body";
      case errc::header_already_sent:
        return "http: header already sent";
      case errc::too_much_framing:
        return "http: chunked encoding contains too much non-data";
      case errc::handler_timeout:
        return "http: Handler timeout";
      case errc::gzip_invalid:
        return "gzip: invalid compressed data";
    }
    return "http: unknown error";
  }
};

}  // namespace

const std::error_category& http_category() noexcept {
  static const http_category_impl category;
  return category;
}

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
