#include "ringo/runtime/socket_address.hpp"

#include <arpa/inet.h>
#include <cstring>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/un.h>

namespace ringo {
namespace {

const sockaddr_in& as_in(const sockaddr_storage& s) {
  return *reinterpret_cast<const sockaddr_in*>(&s);
}
const sockaddr_in6& as_in6(const sockaddr_storage& s) {
  return *reinterpret_cast<const sockaddr_in6*>(&s);
}

}  // namespace

socket_address::socket_address() noexcept : storage_{}, size_(0) {}

socket_address::socket_address(const sockaddr* sa, socklen_t len) noexcept : storage_{}, size_(0) {
  if (len > sizeof storage_) len = sizeof storage_;
  std::memcpy(&storage_, sa, len);
  size_ = len;
}

socket_address socket_address::ipv4(std::span<const std::uint8_t, 4> ip,
                                    std::uint16_t port) noexcept {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  std::memcpy(&in.sin_addr, ip.data(), 4);
  return {reinterpret_cast<const sockaddr*>(&in), sizeof in};
}

socket_address socket_address::ipv6(std::span<const std::uint8_t, 16> ip, std::uint16_t port,
                                    std::uint32_t scope_id) noexcept {
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port);
  in6.sin6_scope_id = scope_id;
  std::memcpy(&in6.sin6_addr, ip.data(), 16);
  return {reinterpret_cast<const sockaddr*>(&in6), sizeof in6};
}

std::optional<socket_address> socket_address::unix_path(std::string_view path) noexcept {
  sockaddr_un un{};
  if (path.empty() || path.size() >= sizeof un.sun_path) return std::nullopt;
  un.sun_family = AF_UNIX;
  std::memcpy(un.sun_path, path.data(), path.size());
  // An abstract address ("@name" in Go's notation) starts with a NUL byte.
  if (un.sun_path[0] == '@') un.sun_path[0] = '\0';
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() +
                                    (un.sun_path[0] == '\0' ? 0 : 1));
  return socket_address(reinterpret_cast<const sockaddr*>(&un), len);
}

std::optional<socket_address> socket_address::numeric(std::string_view host,
                                                      std::uint16_t port) noexcept {
  char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  // inet_pton and if_nametoindex stop at a NUL: "127.0.0.1\0junk" must not pass as 127.0.0.1.
  if (host.size() >= sizeof buf || host.find('\0') != std::string_view::npos) return std::nullopt;
  std::string_view zone;
  if (auto pct = host.find('%'); pct != std::string_view::npos) {
    zone = host.substr(pct + 1);
    host = host.substr(0, pct);
    // "fe80::1%" is malformed (Go: "zone must be a non-empty string"); without this check it
    // would pass as a plain address, and "127.0.0.1%" as IPv4.
    if (zone.empty()) return std::nullopt;
  }
  std::memcpy(buf, host.data(), host.size());
  buf[host.size()] = '\0';
  std::uint8_t ip[16];
  if (zone.empty() && ::inet_pton(AF_INET, buf, ip) == 1)
    return ipv4(std::span(ip).first<4>(), port);
  if (::inet_pton(AF_INET6, buf, ip) != 1) return std::nullopt;
  std::uint32_t scope = 0;
  if (!zone.empty()) {
    char zbuf[IF_NAMESIZE + 1];
    if (zone.size() > IF_NAMESIZE) return std::nullopt;
    std::memcpy(zbuf, zone.data(), zone.size());
    zbuf[zone.size()] = '\0';
    char* end = nullptr;
    unsigned long n = std::strtoul(zbuf, &end, 10);
    scope = (*end == '\0') ? static_cast<std::uint32_t>(n) : ::if_nametoindex(zbuf);
    if (scope == 0) return std::nullopt;
  }
  return ipv6(ip, port, scope);
}

std::uint16_t socket_address::port() const noexcept {
  if (is_ipv4()) return ntohs(as_in(storage_).sin_port);
  if (is_ipv6()) return ntohs(as_in6(storage_).sin6_port);
  return 0;
}

void socket_address::set_port(std::uint16_t port) noexcept {
  if (is_ipv4()) reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
  if (is_ipv6()) reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
}

std::string socket_address::host() const {
  char buf[INET6_ADDRSTRLEN];
  if (is_ipv4()) {
    // Four decimals by hand: glibc's inet_ntop formats with sprintf, ~1,800 instructions (a
    // proxy formats its client's address for every request's X-Forwarded-For).
    const auto* b = reinterpret_cast<const unsigned char*>(&as_in(storage_).sin_addr);
    char* p = buf;
    for (int i = 0; i < 4; ++i) {
      if (i > 0) *p++ = '.';
      if (b[i] >= 100) *p++ = char('0' + b[i] / 100);
      if (b[i] >= 10) *p++ = char('0' + b[i] / 10 % 10);
      *p++ = char('0' + b[i] % 10);
    }
    return std::string(buf, p);
  }
  if (is_ipv6()) {
    const sockaddr_in6& in6 = as_in6(storage_);
    std::string s = ::inet_ntop(AF_INET6, &in6.sin6_addr, buf, sizeof buf);
    if (in6.sin6_scope_id != 0) {
      char name[IF_NAMESIZE];
      s += '%';
      s += ::if_indextoname(in6.sin6_scope_id, name) ? name : std::to_string(in6.sin6_scope_id);
    }
    return s;
  }
  if (is_unix()) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(&storage_);
    std::size_t n =
        size_ > offsetof(sockaddr_un, sun_path) ? size_ - offsetof(sockaddr_un, sun_path) : 0;
    std::string path(un->sun_path, n);
    if (!path.empty() && path[0] == '\0') return '@' + path.substr(1);
    return path.substr(0, path.find('\0'));
  }
  return {};
}

std::string socket_address::to_string() const {
  if (is_ipv4()) return host() + ':' + std::to_string(port());
  if (is_ipv6()) return '[' + host() + "]:" + std::to_string(port());
  return host();
}

bool operator==(const socket_address& a, const socket_address& b) noexcept {
  return a.size_ == b.size_ && std::memcmp(&a.storage_, &b.storage_, a.size_) == 0;
}

}  // namespace ringo
