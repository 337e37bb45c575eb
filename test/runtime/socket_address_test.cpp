// socket_address: numeric parsing and Go-style formatting for IPv4, IPv6 (with zones), unix paths
// and abstract unix names, and round trips through the kernel.
#include <arpa/inet.h>
#include <cstdint>
#include <net/if.h>
#include <netinet/in.h>
#include <optional>
#include <string>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "ringo_test.hpp"

namespace ringo {
namespace {

class SocketAddress : public test::RingoTest {};

std::string format(std::string_view host, std::uint16_t port) {
  auto a = socket_address::numeric(host, port);
  return a ? a->to_string() : "<nullopt>";
}

TEST_F(SocketAddress, DefaultIsEmpty) {
  socket_address a;
  EXPECT_EQ(a.size(), 0u);
  EXPECT_FALSE(a.is_ipv4() || a.is_ipv6() || a.is_unix());
  EXPECT_EQ(a.to_string(), "");
}

TEST_F(SocketAddress, ParsesAndFormatsIpv4) {
  auto a = socket_address::numeric("127.0.0.1", 8080);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_ipv4());
  EXPECT_EQ(a->family(), AF_INET);
  EXPECT_EQ(a->port(), 8080);
  EXPECT_EQ(a->host(), "127.0.0.1");
  EXPECT_EQ(a->to_string(), "127.0.0.1:8080");
  EXPECT_EQ(a->size(), sizeof(sockaddr_in));
  auto* in = reinterpret_cast<const sockaddr_in*>(a->data());
  EXPECT_EQ(ntohl(in->sin_addr.s_addr), 0x7f000001u);
  EXPECT_EQ(format("0.0.0.0", 0), "0.0.0.0:0");
  EXPECT_EQ(format("255.255.255.255", 65535), "255.255.255.255:65535");
  // Every digit count in every place (host() formats IPv4 by hand).
  for (std::string_view ip : {"10.0.100.9", "1.20.200.0", "100.10.1.255", "9.99.109.190"})
    EXPECT_EQ(socket_address::numeric(ip, 1)->host(), ip);
}

TEST_F(SocketAddress, ParsesAndFormatsIpv6InBrackets) {
  auto a = socket_address::numeric("::1", 443);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_ipv6());
  EXPECT_EQ(a->port(), 443);
  EXPECT_EQ(a->host(), "::1");
  EXPECT_EQ(a->to_string(), "[::1]:443");
  EXPECT_EQ(a->size(), sizeof(sockaddr_in6));
  // Formatting is canonical (RFC 5952): leading zeros and the longest zero run compressed.
  EXPECT_EQ(format("2001:0db8:0000:0000:0000:0000:0000:0001", 80), "[2001:db8::1]:80");
  EXPECT_EQ(format("::", 0), "[::]:0");
  EXPECT_EQ(format("::ffff:192.0.2.1", 1), "[::ffff:192.0.2.1]:1");
}

TEST_F(SocketAddress, ParsesAZoneByNameOrIndex) {
  unsigned lo = ::if_nametoindex("lo");
  if (lo == 0) GTEST_SKIP() << "no loopback interface named lo";
  auto by_name = socket_address::numeric("fe80::1%lo", 80);
  ASSERT_TRUE(by_name);
  auto* in6 = reinterpret_cast<const sockaddr_in6*>(by_name->data());
  EXPECT_EQ(in6->sin6_scope_id, lo);
  EXPECT_EQ(by_name->host(), "fe80::1%lo");
  EXPECT_EQ(by_name->to_string(), "[fe80::1%lo]:80");
  // A numeric zone means the same interface, and prints as its name when it has one.
  auto by_index = socket_address::numeric("fe80::1%" + std::to_string(lo), 80);
  ASSERT_TRUE(by_index);
  EXPECT_EQ(*by_index, *by_name);
  EXPECT_EQ(by_index->to_string(), "[fe80::1%lo]:80");
}

TEST_F(SocketAddress, FormatsAZoneWithoutAnInterfaceAsItsNumber) {
  auto a = socket_address::numeric("fe80::1%4000000", 80);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->to_string(), "[fe80::1%4000000]:80");
}

TEST_F(SocketAddress, RejectsWhatIsNotANumericAddress) {
  for (const char* bad :
       {"", "localhost", "1.2.3", "1.2.3.4.5", "256.0.0.1", "::1::", "[::1]", "127.0.0.1:80",
        "fe80::1%", "fe80::1%no-such-interface0", "127.0.0.1%lo", " 127.0.0.1"}) {
    EXPECT_FALSE(socket_address::numeric(bad, 80)) << '"' << bad << '"';
  }
  // Too long to be any address.
  EXPECT_FALSE(socket_address::numeric(std::string(200, '1'), 80));
  // An embedded NUL must not cut the host short.
  using namespace std::string_view_literals;
  EXPECT_FALSE(socket_address::numeric("127.0.0.1\0.example"sv, 80));
  EXPECT_FALSE(socket_address::numeric("fe80::1%lo\0x"sv, 80));
}

TEST_F(SocketAddress, SetPortChangesOnlyThePort) {
  auto a = socket_address::numeric("10.1.2.3", 1).value();
  a.set_port(65000);
  EXPECT_EQ(a.to_string(), "10.1.2.3:65000");
  auto b = socket_address::numeric("::1", 1).value();
  b.set_port(2);
  EXPECT_EQ(b.to_string(), "[::1]:2");
}

TEST_F(SocketAddress, EqualityComparesTheWholeAddress) {
  auto a = socket_address::numeric("127.0.0.1", 80).value();
  EXPECT_EQ(a, socket_address::numeric("127.0.0.1", 80).value());
  EXPECT_NE(a, socket_address::numeric("127.0.0.1", 81).value());
  EXPECT_NE(a, socket_address::numeric("127.0.0.2", 80).value());
  EXPECT_NE(a, socket_address::numeric("::ffff:127.0.0.1", 80).value());
}

TEST_F(SocketAddress, BuildsFromRawBytes) {
  std::uint8_t v4[4] = {192, 0, 2, 7};
  EXPECT_EQ(socket_address::ipv4(v4, 9).to_string(), "192.0.2.7:9");
  std::uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
  v6[15] = 1;
  EXPECT_EQ(socket_address::ipv6(v6, 9).to_string(), "[2001:db8::1]:9");
}

TEST_F(SocketAddress, UnixPathFormatsAsThePath) {
  auto a = socket_address::unix_path("/run/ringo.sock");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_unix());
  EXPECT_EQ(a->family(), AF_UNIX);
  EXPECT_EQ(a->port(), 0);
  EXPECT_EQ(a->host(), "/run/ringo.sock");
  EXPECT_EQ(a->to_string(), "/run/ringo.sock");
  // The kernel's length for a path address counts the terminating NUL.
  EXPECT_EQ(a->size(), offsetof(sockaddr_un, sun_path) + 16);
}

TEST_F(SocketAddress, AbstractUnixNameUsesGosAtNotation) {
  auto a = socket_address::unix_path("@ringo-abstract");
  ASSERT_TRUE(a);
  auto* un = reinterpret_cast<const sockaddr_un*>(a->data());
  EXPECT_EQ(un->sun_path[0], '\0');
  EXPECT_EQ(std::string(un->sun_path + 1, 14), "ringo-abstract");
  // No terminating NUL: every byte of an abstract name is significant.
  EXPECT_EQ(a->size(), offsetof(sockaddr_un, sun_path) + 15);
  EXPECT_EQ(a->to_string(), "@ringo-abstract");
}

TEST_F(SocketAddress, RejectsUnixPathsThatDoNotFit) {
  EXPECT_FALSE(socket_address::unix_path(""));
  EXPECT_FALSE(socket_address::unix_path(std::string(sizeof(sockaddr_un::sun_path), 'x')));
  EXPECT_TRUE(socket_address::unix_path(std::string(sizeof(sockaddr_un::sun_path) - 1, 'x')));
}

// --- Round trips through the kernel --------------------------------------------------------

TEST_F(SocketAddress, Ipv4RoundTripsThroughGetsockname) {
  auto l = test::loopback_listener::open();
  EXPECT_TRUE(l.address.is_ipv4());
  EXPECT_EQ(l.address.host(), "127.0.0.1");
  EXPECT_NE(l.address.port(), 0);
  EXPECT_EQ(l.address.to_string(), "127.0.0.1:" + std::to_string(l.address.port()));
}

TEST_F(SocketAddress, UnixPathRoundTripsThroughBind) {
  std::string path = ::testing::TempDir() + "ringo-sa-" + std::to_string(::getpid()) + ".sock";
  auto addr = socket_address::unix_path(path).value();
  auto fd = listen_stream(addr).value();
  auto local = local_address(fd.get()).value();
  EXPECT_EQ(local.to_string(), path);
  EXPECT_EQ(local, addr);
  ::unlink(path.c_str());
}

TEST_F(SocketAddress, AbstractNameRoundTripsThroughBind) {
  auto addr = socket_address::unix_path("@ringo-sa-" + std::to_string(::getpid())).value();
  auto fd = listen_stream(addr).value();
  auto local = local_address(fd.get()).value();
  EXPECT_EQ(local.to_string(), addr.to_string());
  EXPECT_EQ(local, addr);
}

TEST_F(SocketAddress, AnUnnamedUnixSocketFormatsAsEmpty) {
  auto pair = test::make_unix_pair();
  auto local = local_address(pair.client.get()).value();
  EXPECT_TRUE(local.is_unix());
  EXPECT_EQ(local.to_string(), "");
}

}  // namespace
}  // namespace ringo
