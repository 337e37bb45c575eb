#include "ringo/net/address.hpp"

#include <charconv>

#include "ringo/net/error.hpp"

namespace ringo::net {
namespace {

// Go falls back to a built-in table when /etc/services is missing; reading that file would be a
// blocking call on the loop thread, so the table is all ringo knows.
struct service {
  std::string_view name;
  std::uint16_t port;
};
constexpr service services[] = {
    {"http", 80}, {"https", 443}, {"ftp", 21}, {"ssh", 22}, {"smtp", 25}, {"domain", 53},
};

}  // namespace

result<host_port> split_host_port(std::string_view hp) {
  auto invalid = make_error_code(errc::invalid_address);
  auto colon = hp.rfind(':');
  if (colon == std::string_view::npos) return invalid;  // missing port
  std::string_view host = hp.substr(0, colon);
  std::string_view port = hp.substr(colon + 1);
  if (!host.empty() && host.front() == '[') {
    if (host.back() != ']') return invalid;
    host = host.substr(1, host.size() - 2);
    if (host.find('[') != std::string_view::npos || host.find(']') != std::string_view::npos)
      return invalid;
  } else if (host.find_first_of(":[]") != std::string_view::npos) {
    return invalid;  // too many colons, or stray brackets
  }
  if (port.find_first_of("[]") != std::string_view::npos) return invalid;
  return host_port{std::string(host), std::string(port)};
}

std::string join_host_port(std::string_view host, std::string_view port) {
  if (host.find(':') != std::string_view::npos)
    return "[" + std::string(host) + "]:" + std::string(port);
  return std::string(host) + ":" + std::string(port);
}

result<std::uint16_t> parse_port(std::string_view port) {
  if (port.empty()) return std::uint16_t{0};
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec == std::errc() && end == port.data() + port.size()) {
    if (value > 65535) return make_error_code(errc::invalid_address);
    return static_cast<std::uint16_t>(value);
  }
  for (const service& s : services)
    if (s.name == port) return s.port;
  return make_error_code(errc::invalid_address);
}

result<address> parse_address(std::string_view network, std::string_view hostport) {
  if (network == "unix") {
    auto a = address::unix_path(hostport);
    if (!a) return make_error_code(errc::invalid_address);
    return *a;
  }
  auto hp = split_host_port(hostport);
  if (!hp) return hp.error();
  auto port = parse_port(hp->port);
  if (!port) return port.error();
  auto a = address::numeric(hp->host, *port);
  if (!a) return make_error_code(errc::invalid_address);
  if ((network == "tcp4" && !a->is_ipv4()) || (network == "tcp6" && !a->is_ipv6()))
    return make_error_code(errc::invalid_address);
  return *a;
}

}  // namespace ringo::net
