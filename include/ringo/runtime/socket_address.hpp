// socket_address: a sockaddr of any family ringo speaks (IPv4, IPv6 with scope id, unix paths),
// stored by value so an operation can keep its own copy while the kernel reads it.
//
// Formatting follows Go: "127.0.0.1:80", "[::1]:80", "[fe80::1%2]:80", "/run/x.sock". Parsing of
// host:port strings with names lives in the net layer; here only numeric hosts are understood.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <sys/socket.h>

namespace ringo {

class socket_address {
 public:
  socket_address() noexcept;
  socket_address(const sockaddr* sa, socklen_t len) noexcept;

  static socket_address ipv4(std::span<const std::uint8_t, 4> ip, std::uint16_t port) noexcept;
  static socket_address ipv6(std::span<const std::uint8_t, 16> ip, std::uint16_t port,
                             std::uint32_t scope_id = 0) noexcept;
  // A unix-domain address; nullopt when the path does not fit sun_path.
  static std::optional<socket_address> unix_path(std::string_view path) noexcept;
  // A numeric IPv4 or IPv6 host ("127.0.0.1", "::1", "fe80::1%2") and a port; nullopt otherwise.
  static std::optional<socket_address> numeric(std::string_view host, std::uint16_t port) noexcept;

  int family() const noexcept { return storage_.ss_family; }
  bool is_ipv4() const noexcept { return family() == AF_INET; }
  bool is_ipv6() const noexcept { return family() == AF_INET6; }
  bool is_unix() const noexcept { return family() == AF_UNIX; }
  std::uint16_t port() const noexcept;  // 0 for unix addresses
  void set_port(std::uint16_t port) noexcept;
  std::string host() const;  // the IP (with %zone) or the unix path
  std::string to_string() const;

  const sockaddr* data() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
  sockaddr* data() noexcept { return reinterpret_cast<sockaddr*>(&storage_); }
  socklen_t size() const noexcept { return size_; }
  // For calls that fill the address in (accept, getsockname): capacity in, length out.
  socklen_t* size_ptr() noexcept { return &size_; }
  static constexpr socklen_t capacity() noexcept { return sizeof(sockaddr_storage); }

  friend bool operator==(const socket_address& a, const socket_address& b) noexcept;

 private:
  sockaddr_storage storage_;
  socklen_t size_;
};

}  // namespace ringo
