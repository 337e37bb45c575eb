// Which proxy a request goes through: Go's golang.org/x/net/http/httpproxy (config.init,
// useProxy, the matchers, parseProxy) and net/http's ProxyFromEnvironment and ProxyURL.
#include "ringo/http/proxy.hpp"

#include <arpa/inet.h>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

namespace ringo::http {
namespace {

char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
}

// An IP as Go's net.IP keeps it: 16 bytes, IPv4 as ::ffff:a.b.c.d.
using ip16 = std::array<std::uint8_t, 16>;

std::optional<ip16> parse_ip(std::string_view s) {
  if (s.empty() || s.size() > 64) return std::nullopt;
  char text[65];
  std::memcpy(text, s.data(), s.size());
  text[s.size()] = '\0';
  ip16 ip{};
  if (::inet_pton(AF_INET6, text, ip.data()) == 1) return ip;
  std::uint8_t v4[4];
  if (::inet_pton(AF_INET, text, v4) != 1) return std::nullopt;
  ip[10] = ip[11] = 0xff;
  std::memcpy(ip.data() + 12, v4, 4);
  return ip;
}

bool is_v4(const ip16& ip) {
  static constexpr std::uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(ip.data(), prefix, 12) == 0;
}

// Go's IP.IsLoopback: 127.0.0.0/8 and ::1.
bool is_loopback(const ip16& ip) {
  if (is_v4(ip)) return ip[12] == 127;
  static constexpr ip16 one = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return ip == one;
}

std::string lower_trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

// Go's net.SplitHostPort, enough for NO_PROXY entries and request addresses: "[v6]:port",
// "host:port"; false when there is no port.
bool split_host_port(std::string_view s, std::string_view& host, std::string_view& port) {
  if (!s.empty() && s.front() == '[') {
    const std::size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return false;
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
    return true;
  }
  const std::size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || s.find(':') != colon) return false;
  host = s.substr(0, colon);
  port = s.substr(colon + 1);
  return true;
}

struct cidr_match {
  ip16 net;
  int bits;  // of the 16-byte form
  bool match(const ip16& ip) const {
    for (int i = 0; i < 16; ++i) {
      const int left = bits - 8 * i;
      if (left <= 0) break;
      const std::uint8_t mask = left >= 8 ? 0xff : std::uint8_t(0xff << (8 - left));
      if ((ip[i] & mask) != (net[i] & mask)) return false;
    }
    return true;
  }
};

struct ip_match {
  ip16 ip;
  std::string port;
};

struct domain_match {
  std::string host;  // with its leading dot
  std::string port;
  bool match_host;  // the entry named the host itself ("example.com"), not only its subdomains
};

// Go's config after init(): the proxies and NO_PROXY's matchers.
struct parsed_config {
  std::optional<proxy_target> http, https;
  bool cgi = false;
  bool all_direct = false;  // NO_PROXY=*
  std::vector<cidr_match> cidrs;
  std::vector<ip_match> ips;
  std::vector<domain_match> domains;

  explicit parsed_config(const proxy_config& c) : cgi(c.cgi) {
    // (A bogus value means no proxy, as in Go's init: the error surfaces nowhere.)
    if (!c.http_proxy.empty())
      if (auto p = parse_proxy(c.http_proxy)) http = std::move(*p);
    if (!c.https_proxy.empty())
      if (auto p = parse_proxy(c.https_proxy)) https = std::move(*p);
    std::string_view list = c.no_proxy;
    while (!list.empty()) {
      const std::size_t comma = list.find(',');
      const std::string p = lower_trimmed(list.substr(0, comma));
      list.remove_prefix(comma == std::string_view::npos ? list.size() : comma + 1);
      if (p.empty()) continue;
      if (p == "*") {
        all_direct = true;
        return;
      }
      if (const std::size_t slash = p.find('/'); slash != std::string::npos) {
        auto ip = parse_ip(std::string_view(p).substr(0, slash));
        char* end = nullptr;
        const long bits = std::strtol(p.c_str() + slash + 1, &end, 10);
        const long max = ip && is_v4(*ip) ? 32 : 128;
        if (ip && end && *end == '\0' && slash + 1 < p.size() && bits >= 0 && bits <= max)
          cidrs.push_back({*ip, int(bits + (max == 32 ? 96 : 0))});
        continue;  // (Go ignores a CIDR that does not parse: it is no host name either)
      }
      std::string_view host = p, port;
      if (std::string_view h, pt; split_host_port(p, h, pt)) {
        if (h.empty()) continue;  // no host part: a malformed entry, ignored
        host = h;
        port = pt;
      }
      if (auto ip = parse_ip(host)) {
        ips.push_back({*ip, std::string(port)});
        continue;
      }
      if (host.empty()) continue;
      if (host.starts_with("*.")) host.remove_prefix(1);
      const bool match_host = host.front() != '.';
      domains.push_back({match_host ? "." + std::string(host) : std::string(host),
                         std::string(port), match_host});
    }
  }

  // Go's useProxy: whether a request to host:port goes through the proxy.
  bool use_proxy(std::string_view host, std::string_view port) const {
    if (host == "localhost") return false;
    const std::optional<ip16> ip = parse_ip(host);
    if (ip && is_loopback(*ip)) return false;
    if (all_direct) return false;
    const std::string h = lower_trimmed(host);
    if (ip) {
      for (const cidr_match& m : cidrs)
        if (m.match(*ip)) return false;
      for (const ip_match& m : ips)
        if (m.ip == *ip && (m.port.empty() || m.port == port)) return false;
    }
    for (const domain_match& m : domains) {
      const bool suffix = h.size() >= m.host.size() && h.ends_with(m.host);
      if (suffix || (m.match_host && h == std::string_view(m.host).substr(1)))
        if (m.port.empty() || m.port == port) return false;
    }
    return true;
  }
};

std::string percent_decoded(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const std::string hex(s.substr(i + 1, 2));
      char* end = nullptr;
      const long v = std::strtol(hex.c_str(), &end, 16);
      if (end && *end == '\0') {
        out += char(v);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::string base64(std::string_view in) {
  static constexpr char table[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v =
        (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
    out += {table[v >> 18], table[(v >> 12) & 63], table[(v >> 6) & 63], table[v & 63]};
  }
  if (i + 1 == in.size()) {
    const unsigned v = (unsigned char)in[i] << 16;
    out += {table[v >> 18], table[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    const unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
    out += {table[v >> 18], table[(v >> 12) & 63], table[(v >> 6) & 63], '='};
  }
  return out;
}

std::string getenv_either(const char* upper, const char* lower) {
  if (const char* v = std::getenv(upper); v && *v) return v;
  if (const char* v = std::getenv(lower); v) return v;
  return {};
}

}  // namespace

result<proxy_target, url_error> parse_proxy(std::string_view text) {
  std::string full(text);
  // Go's parseProxy: a value without a scheme ("proxy:3128") is an http:// proxy.
  if (full.find("://") == std::string::npos) full = "http://" + full;
  const std::size_t authority = full.find("://") + 3;
  const std::size_t path = full.find_first_of("/?#", authority);
  const std::size_t at = full.rfind('@', path == std::string::npos ? full.size() : path);
  std::string authorization;
  if (at != std::string::npos && at >= authority) {
    const std::string_view userinfo = std::string_view(full).substr(authority, at - authority);
    const std::size_t colon = userinfo.find(':');
    const std::string user = percent_decoded(userinfo.substr(0, colon));
    const std::string pass =
        colon == std::string_view::npos ? "" : percent_decoded(userinfo.substr(colon + 1));
    authorization = "Basic " + base64(user + ":" + pass);  // Go's Transport: basicAuth(u, p)
    full.erase(authority, at + 1 - authority);
  }
  auto u = parse_url(full);
  if (!u)
    return url_error{"invalid proxy address \"" + std::string(text) + "\": " + u.error().text};
  if (u->scheme != "http" && u->scheme != "https")
    return url_error{"invalid proxy address \"" + std::string(text) +
                     "\": only http:// and https:// proxies are supported"};
  return proxy_target{std::move(*u), std::move(authorization)};
}

proxy_config proxy_config_from_environment() {
  proxy_config c;
  c.http_proxy = getenv_either("HTTP_PROXY", "http_proxy");
  c.https_proxy = getenv_either("HTTPS_PROXY", "https_proxy");
  c.no_proxy = getenv_either("NO_PROXY", "no_proxy");
  c.cgi = std::getenv("REQUEST_METHOD") != nullptr;
  return c;
}

proxy_function proxy_from_config(const proxy_config& config) {
  auto parsed = std::make_shared<const parsed_config>(config);
  return [parsed](const url& u) -> result<std::optional<proxy_target>, url_error> {
    const std::optional<proxy_target>* proxy = nullptr;
    if (u.scheme == "https") {
      proxy = &parsed->https;
    } else if (u.scheme == "http") {
      proxy = &parsed->http;
      if (*proxy && parsed->cgi)
        return url_error{
            "refusing to use HTTP_PROXY value in CGI environment; see golang.org/s/cgihttpproxy"};
    }
    if (!proxy || !*proxy) return std::optional<proxy_target>();
    if (!parsed->use_proxy(u.host, std::to_string(u.port))) return std::optional<proxy_target>();
    return *proxy;
  };
}

proxy_function proxy_from_environment() {
  static const proxy_function from_env = proxy_from_config(proxy_config_from_environment());
  return from_env;
}

proxy_function fixed_proxy(proxy_target proxy) {
  return [p = std::move(proxy)](const url&) -> result<std::optional<proxy_target>, url_error> {
    return std::optional<proxy_target>(p);
  };
}

}  // namespace ringo::http
