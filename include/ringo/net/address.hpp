// Network addresses: the runtime's socket_address (IPv4, IPv6 with zone, unix) plus Go's
// host:port helpers. "127.0.0.1:80", "[::1]:80", "[fe80::1%eth0]:80", "localhost:http".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <ringo/runtime/result.hpp>
#include <ringo/runtime/socket_address.hpp>

namespace ringo::net {

using address = socket_address;

struct host_port {
  std::string host;  // without brackets; may be empty ("":80 means every local address)
  std::string port;  // as written: a number or a service name
};

// Go's SplitHostPort: "[::1]:80" → {"::1", "80"}; a missing port or bad brackets is an error.
result<host_port> split_host_port(std::string_view hostport);
// Go's JoinHostPort: brackets a host that contains a colon.
std::string join_host_port(std::string_view host, std::string_view port);
// A port number or one of the well-known service names (http, https, ...), for `network`.
result<std::uint16_t> parse_port(std::string_view port);
// A numeric "host:port" (no name lookup) → an address; unix networks take a path.
result<address> parse_address(std::string_view network, std::string_view hostport);

}  // namespace ringo::net
