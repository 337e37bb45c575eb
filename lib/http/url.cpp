#include <cctype>
#include <charconv>

#include <ringo/http/client_request.hpp>
#include <ringo/http/url.hpp>

namespace ringo::http {

std::string url::authority() const {
  const bool v6 = host.find(':') != std::string::npos;
  std::string out;  // (every request computes it: "127.0.0.1:8080" fits the string itself)
  if (v6) out += '[';
  out += host;
  if (v6) out += ']';
  char digits[8];
  char* end = std::to_chars(digits, digits + sizeof digits, port).ptr;
  (out += ':').append(digits, end);
  return out;
}

std::string url::host_header() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if ((scheme == "http" && port == 80) || (scheme == "https" && port == 443)) return h;
  return h + ":" + std::to_string(port);
}

std::string url::string() const {
  return scheme + "://" + host_header() + target;
}

result<url, url_error> parse_url(std::string_view text) {
  url u;
  std::size_t colon = text.find("://");
  if (colon == std::string_view::npos) return url_error{"missing protocol scheme"};
  u.scheme = std::string(text.substr(0, colon));
  for (char& c : u.scheme) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (u.scheme != "http" && u.scheme != "https")
    return url_error{"unsupported protocol scheme \"" + u.scheme + "\""};
  if (u.scheme == "https") u.port = 443;
  std::string_view rest = text.substr(colon + 3);
  std::size_t slash = rest.find_first_of("/?#");
  std::string_view auth = rest.substr(0, slash);
  std::string_view target = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (std::size_t hash = target.find('#'); hash != std::string_view::npos)
    target = target.substr(0, hash);
  if (std::size_t at = auth.rfind('@'); at != std::string_view::npos) auth = auth.substr(at + 1);
  std::string_view port;
  if (!auth.empty() && auth.front() == '[') {
    std::size_t close = auth.find(']');
    if (close == std::string_view::npos) return url_error{"missing ']' in host"};
    u.host = std::string(auth.substr(1, close - 1));
    std::string_view after = auth.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return url_error{"invalid port"};
      port = after.substr(1);
    }
  } else {
    std::size_t c = auth.rfind(':');
    u.host = std::string(auth.substr(0, c));
    if (c != std::string_view::npos) port = auth.substr(c + 1);
  }
  if (u.host.empty()) return url_error{"missing host"};
  if (!port.empty()) {
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc{} || end != port.data() + port.size() || p == 0 || p > 65535)
      return url_error{"invalid port \":" + std::string(port) + "\""};
    u.port = std::uint16_t(p);
  }
  u.target = target.empty() ? "/" : std::string(target);
  if (u.target.front() == '?') u.target.insert(0, "/");
  return u;
}

result<url, url_error> resolve(const url& base, std::string_view ref) {
  if (std::size_t hash = ref.find('#'); hash != std::string_view::npos) ref = ref.substr(0, hash);
  // A scheme: letters, digits, '+', '-', '.' before the first ':' (and before any '/', '?').
  std::size_t colon = ref.find(':');
  if (colon != std::string_view::npos && colon < ref.find_first_of("/?") && colon > 0 &&
      std::isalpha(static_cast<unsigned char>(ref[0])))
    return parse_url(ref);
  if (ref.starts_with("//")) return parse_url(base.scheme + ":" + std::string(ref));
  url u = base;
  if (ref.empty()) return u;
  if (ref.front() == '/') {
    u.target = std::string(ref);
  } else {
    std::string_view path = std::string_view(base.target).substr(0, base.target.find('?'));
    if (ref.front() == '?') {
      u.target = std::string(path) + std::string(ref);
    } else {
      u.target = std::string(path.substr(0, path.rfind('/') + 1)) + std::string(ref);
    }
  }
  return u;
}

bool client_request::idempotent() const noexcept {
  if (method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE") return true;
  return header.contains("Idempotency-Key") || header.contains("X-Idempotency-Key");
}

}  // namespace ringo::http
