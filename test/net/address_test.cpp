// Addresses: Go's SplitHostPort / JoinHostPort tables (src/net/ip_test.go), port parsing and
// numeric host:port parsing, including IPv6 zones and unix paths.
#include <cstdint>
#include <netinet/in.h>
#include <string>
#include <string_view>
#include <sys/un.h>

#include <gtest/gtest.h>

#include <ringo/net.hpp>

#include "ringo_test.hpp"

namespace ringo::net {
namespace {

class Address : public test::RingoTest {};

struct split_case {
  std::string_view hostport;
  std::string_view host;
  std::string_view port;
};

TEST_F(Address, SplitHostPortSplitsGoodAddresses) {
  const split_case cases[] = {
      // Host name
      {"localhost:http", "localhost", "http"},
      {"localhost:80", "localhost", "80"},
      // Go-specific host name with zone identifier
      {"localhost%lo0:http", "localhost%lo0", "http"},
      {"localhost%lo0:80", "localhost%lo0", "80"},
      {"[localhost%lo0]:http", "localhost%lo0", "http"},  // Go 1 behavior
      {"[localhost%lo0]:80", "localhost%lo0", "80"},      // Go 1 behavior
      // IP literal
      {"127.0.0.1:http", "127.0.0.1", "http"},
      {"127.0.0.1:80", "127.0.0.1", "80"},
      {"[::1]:http", "::1", "http"},
      {"[::1]:80", "::1", "80"},
      // IP literal with zone identifier
      {"[::1%lo0]:http", "::1%lo0", "http"},
      {"[::1%lo0]:80", "::1%lo0", "80"},
      {"[fe80::1%lo]:80", "fe80::1%lo", "80"},
      // Go-specific wildcard for host name
      {":http", "", "http"},  // Go 1 behavior
      {":80", "", "80"},      // Go 1 behavior
      // Go-specific wildcard for service name or transport port number
      {"golang.org:", "golang.org", ""},  // Go 1 behavior
      {"127.0.0.1:", "127.0.0.1", ""},    // Go 1 behavior
      {"[::1]:", "::1", ""},              // Go 1 behavior
      // Opaque service name
      {"golang.org:https%foo", "golang.org", "https%foo"},  // Go 1 behavior
  };
  for (const split_case& c : cases) {
    SCOPED_TRACE(c.hostport);
    auto hp = split_host_port(c.hostport);
    ASSERT_TRUE(hp) << hp.error().message();
    EXPECT_EQ(hp->host, c.host);
    EXPECT_EQ(hp->port, c.port);
  }
}

TEST_F(Address, SplitHostPortRejectsBadAddresses) {
  const std::string_view cases[] = {
      // Invalid literal
      "golang.org",       // missing port
      "127.0.0.1",        // missing port
      "[::1]",            // missing port
      "[fe80::1%lo0]",    // missing port
      "[localhost%lo0]",  // missing port
      "localhost%lo0",    // missing port
      "::1",              // too many colons
      "fe80::1%lo0",      // too many colons
      "fe80::1%lo0:80",   // too many colons
      "localhost:80:80",  // too many colons
      // Test cases that didn't fail in Go 1
      "[foo:bar]",        // missing port
      "[foo:bar]baz",     // missing port
      "[foo]bar:baz",     // missing port
      "[foo]:[bar]:baz",  // too many colons
      "[foo]:[bar]baz",   // unexpected '[' in address
      "foo[bar]:baz",     // unexpected '[' in address
      "foo]bar:baz",      // unexpected ']' in address
      "[[::1]]:80",       // nested brackets
      "[::1]]:80",        // stray ']'
      "[::1]80",          // no colon after the bracket
      "",                 // nothing at all
  };
  for (std::string_view c : cases) {
    SCOPED_TRACE(c);
    auto hp = split_host_port(c);
    ASSERT_FALSE(hp) << "host \"" << hp->host << "\" port \"" << hp->port << "\"";
    EXPECT_EQ(hp.error(), errc::invalid_address);
  }
}

TEST_F(Address, JoinHostPortBracketsHostsWithColons) {
  struct join_case {
    std::string_view host, port, hostport;
  };
  const join_case cases[] = {
      {"", "0", ":0"},
      {"127.0.0.1", "80", "127.0.0.1:80"},
      {"localhost", "http", "localhost:http"},
      {"::1", "80", "[::1]:80"},
      {"fe80::1%lo", "80", "[fe80::1%lo]:80"},
      {"::", "", "[::]:"},
  };
  for (const join_case& c : cases) {
    SCOPED_TRACE(c.hostport);
    EXPECT_EQ(join_host_port(c.host, c.port), c.hostport);
    // And back again.
    auto hp = split_host_port(join_host_port(c.host, c.port));
    ASSERT_TRUE(hp);
    EXPECT_EQ(hp->host, c.host);
    EXPECT_EQ(hp->port, c.port);
  }
}

TEST_F(Address, ParsePortTakesNumbersAndServiceNames) {
  struct port_case {
    std::string_view port;
    std::uint16_t value;
  };
  const port_case good[] = {
      {"", 0},  // Go: an empty port means "any"
      {"0", 0},      {"1", 1},     {"80", 80},     {"8080", 8080}, {"65535", 65535},
      {"00080", 80}, {"http", 80}, {"https", 443}, {"ssh", 22},    {"domain", 53},
  };
  for (const port_case& c : good) {
    SCOPED_TRACE(c.port);
    auto p = parse_port(c.port);
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_EQ(*p, c.value);
  }
  const std::string_view bad[] = {
      "65536", "99999999999999999999", "-1", "80x", "x80", " 80", "htp", "HTTP?", "8 0",
  };
  for (std::string_view b : bad) {
    SCOPED_TRACE(b);
    auto p = parse_port(b);
    ASSERT_FALSE(p) << *p;
    EXPECT_EQ(p.error(), errc::invalid_address);
  }
}

TEST_F(Address, ParseAddressParsesNumericHostsOfEachFamily) {
  struct parse_case {
    std::string_view network, hostport;
    int family;
    std::string_view host;
    std::uint16_t port;
    std::string_view text;
  };
  const parse_case cases[] = {
      {"tcp", "127.0.0.1:80", AF_INET, "127.0.0.1", 80, "127.0.0.1:80"},
      {"tcp4", "127.0.0.2:http", AF_INET, "127.0.0.2", 80, "127.0.0.2:80"},
      {"tcp", "[::1]:8080", AF_INET6, "::1", 8080, "[::1]:8080"},
      {"tcp6", "[::1]:0", AF_INET6, "::1", 0, "[::1]:0"},
      {"tcp", "[::ffff:127.0.0.1]:1", AF_INET6, "::ffff:127.0.0.1", 1, "[::ffff:127.0.0.1]:1"},
      {"tcp", "0.0.0.0:", AF_INET, "0.0.0.0", 0, "0.0.0.0:0"},
      {"tcp", "[::]:https", AF_INET6, "::", 443, "[::]:443"},
  };
  for (const parse_case& c : cases) {
    SCOPED_TRACE(c.hostport);
    auto a = parse_address(c.network, c.hostport);
    ASSERT_TRUE(a) << a.error().message();
    EXPECT_EQ(a->family(), c.family);
    EXPECT_EQ(a->host(), c.host);
    EXPECT_EQ(a->port(), c.port);
    EXPECT_EQ(a->to_string(), c.text);
    // The text form parses back to the same address.
    auto again = parse_address(c.network, a->to_string());
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, *a);
  }
}

TEST_F(Address, ParseAddressKeepsTheZoneOfALinkLocalAddress) {
  // "lo" is the only interface every test machine has; its index is the scope id.
  auto by_name = parse_address("tcp6", "[fe80::1%lo]:80");
  ASSERT_TRUE(by_name) << by_name.error().message();
  EXPECT_EQ(by_name->host(), "fe80::1%lo");
  EXPECT_EQ(by_name->to_string(), "[fe80::1%lo]:80");
  EXPECT_EQ(reinterpret_cast<const sockaddr_in6*>(by_name->data())->sin6_scope_id, 1u);

  // A numeric zone names the same interface.
  auto by_index = parse_address("tcp", "[fe80::1%1]:80");
  ASSERT_TRUE(by_index) << by_index.error().message();
  EXPECT_EQ(*by_index, *by_name);

  // A zone that names no interface, or a zone on an IPv4 address, is not an address.
  EXPECT_EQ(parse_address("tcp", "[fe80::1%no-such-if0]:80").error(), errc::invalid_address);
  EXPECT_EQ(parse_address("tcp", "127.0.0.1%lo:80").error(), errc::invalid_address);
}

TEST_F(Address, ParseAddressRejectsNamesWrongFamiliesAndBadPorts) {
  struct bad_case {
    std::string_view network, hostport;
  };
  const bad_case cases[] = {
      {"tcp", "localhost:80"},     // a name: parse_address never looks names up
      {"tcp", "127.0.0.1"},        // missing port
      {"tcp", "[::1]"},            // missing port
      {"tcp", "127.0.0.1:99999"},  // port out of range
      {"tcp", "127.0.0.1:nope"},   // unknown service
      {"tcp", "127.0.0.256:80"},   // not an IPv4 address
      {"tcp", "[::1::2]:80"},      // not an IPv6 address
      {"tcp", "::1:80"},           // IPv6 without brackets
      {"tcp4", "[::1]:80"},        // wrong family for the network
      {"tcp6", "127.0.0.1:80"},    // wrong family for the network
      {"tcp", ":80"},              // no host: listen() fills in the wildcard, parse does not
  };
  for (const bad_case& c : cases) {
    SCOPED_TRACE(std::string(c.network) + " " + std::string(c.hostport));
    auto a = parse_address(c.network, c.hostport);
    ASSERT_FALSE(a) << a->to_string();
    EXPECT_EQ(a.error(), errc::invalid_address);
  }
}

TEST_F(Address, ParseAddressTakesUnixPaths) {
  auto a = parse_address("unix", "/run/ringo/test.sock");
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_TRUE(a->is_unix());
  EXPECT_EQ(a->host(), "/run/ringo/test.sock");
  EXPECT_EQ(a->to_string(), "/run/ringo/test.sock");
  EXPECT_EQ(a->port(), 0);

  // Go's "@name" is an abstract socket: a leading NUL byte, no terminating one.
  auto abstract = parse_address("unix", "@ringo-test");
  ASSERT_TRUE(abstract);
  EXPECT_EQ(abstract->to_string(), "@ringo-test");
  EXPECT_EQ(reinterpret_cast<const sockaddr_un*>(abstract->data())->sun_path[0], '\0');
  EXPECT_EQ(abstract->size(),
            offsetof(sockaddr_un, sun_path) + std::string_view("@ringo-test").size());

  // A path that does not fit sun_path (108 bytes with its NUL), or no path, is an error.
  EXPECT_TRUE(parse_address("unix", std::string(sizeof(sockaddr_un::sun_path) - 1, 'x')));
  EXPECT_EQ(parse_address("unix", std::string(sizeof(sockaddr_un::sun_path), 'x')).error(),
            errc::invalid_address);
  EXPECT_EQ(parse_address("unix", "").error(), errc::invalid_address);
}

TEST_F(Address, ErrorsReadLikeGo) {
  EXPECT_EQ(error_text(make_error_code(errc::invalid_address)), "invalid address");
  EXPECT_EQ(error_text(errno_code(ECONNREFUSED)), "connection refused");
  EXPECT_EQ(error_text(ringo::make_error_code(ringo::errc::timed_out)), "i/o timeout");
  EXPECT_EQ(error_text(ringo::make_error_code(ringo::errc::operation_canceled)),
            "operation was canceled");
  op_error e{.op = "dial",
             .network = "tcp",
             .address = "[::1]:8080",
             .syscall = "connect",
             .err = errno_code(ECONNREFUSED)};
  EXPECT_EQ(e.message(), "dial tcp [::1]:8080: connect: connection refused");
  e.source = "127.0.0.1:0";
  EXPECT_EQ(e.message(), "dial tcp 127.0.0.1:0->[::1]:8080: connect: connection refused");
  op_error lookup{.op = "dial",
                  .network = "tcp",
                  .syscall = "lookup nosuch.test",
                  .err = make_error_code(errc::no_such_host)};
  EXPECT_EQ(lookup.message(), "dial tcp: lookup nosuch.test: no such host");
  EXPECT_TRUE(lookup == errc::no_such_host);
  op_error timeout{
      .op = "read", .network = "tcp", .err = ringo::make_error_code(ringo::errc::timed_out)};
  EXPECT_TRUE(timeout.timeout());
  EXPECT_FALSE(timeout.canceled());
  EXPECT_TRUE(timeout == std::errc::timed_out);
}

}  // namespace
}  // namespace ringo::net
