#include "ringo/http/request.hpp"

namespace ringo::http {

std::string_view request::path() const noexcept {
  std::string_view t = target;
  t = t.substr(0, t.find('?'));
  if (t.empty() || t.front() == '/' || t == "*") return t;
  // absolute-form, "http://host:port/path" (RFC 9112 §3.2.2): the path starts after the
  // authority, and an absent one is empty, as in Go's URL.Path.
  if (auto scheme_end = t.find("://"); scheme_end != std::string_view::npos) {
    t.remove_prefix(scheme_end + 3);
    auto slash = t.find('/');
    return slash == std::string_view::npos ? std::string_view() : t.substr(slash);
  }
  // authority-form ("example.com:443", CONNECT's): no path at all.
  return {};
}

std::string_view request::query() const noexcept {
  std::string_view t = target;
  auto q = t.find('?');
  return q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
}

std::string_view request::path_value(std::string_view name) const noexcept {
  for (const auto& [n, v] : path_values) {
    if (n == name) return v;
  }
  return {};
}

}  // namespace ringo::http
