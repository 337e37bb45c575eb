// dial: connects to HOST:PORT the way Go's net.Dial does, and says which address answered and how
// long it took.
//
//   dial [-v] [--timeout MS] [--fallback-delay MS] [--no-dual-stack] [--he2] HOST:PORT
//
// The name is looked up in /etc/hosts, then in DNS. When it has addresses of both families, those
// of the first address's family are tried first and the others join after the fallback delay
// (300 ms unless given; negative: one family after the other) or as soon as the first family
// fails: Happy Eyeballs (RFC 6555), so a silently broken IPv6 network costs 300 ms, not a timeout.
// --he2 dials by RFC 8305 instead (both families looked up at once, a new attempt every
// connection attempt delay, which --fallback-delay then sets). --timeout bounds the whole dial.
//
// -v prints every step the dialer's trace reports, with its time since the start:
//
//   $ dial -v --fallback-delay 200 dual.test:8080
//        0.0 ms  lookup dual.test
//        0.3 ms  lookup dual.test: ::1 127.0.0.1
//        0.4 ms  connect [::1]:8080
//      200.6 ms  connect 127.0.0.1:8080
//      200.7 ms  connect 127.0.0.1:8080: connected
//      200.8 ms  connect [::1]:8080: operation was canceled
//   connected to 127.0.0.1:8080 in 201 ms
#include <charconv>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <ringo/net.hpp>

namespace {

namespace net = ringo::net;
using ringo::time_point;

struct options {
  net::dialer dialer;
  bool verbose = false;
  std::string address;
};

std::optional<long long> parse_millis(const char* text) {
  std::string_view s = text ? text : "";
  long long ms = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), ms);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return ms;
}

// The command line as a dialer; nullopt when it does not parse.
std::optional<options> parse_args(int argc, char** argv) {
  options o;
  std::optional<long long> timeout, fallback;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-v") {
      o.verbose = true;
    } else if (arg == "--no-dual-stack") {
      o.dialer.fallback_delay = -std::chrono::milliseconds(1);  // no Happy Eyeballs
    } else if (arg == "--he2") {
      o.dialer.happy_eyeballs_v2 = true;
    } else if (arg == "--timeout" && i + 1 < argc) {
      if (!(timeout = parse_millis(argv[++i])) || *timeout < 0) return std::nullopt;
    } else if (arg == "--fallback-delay" && i + 1 < argc) {
      if (!(fallback = parse_millis(argv[++i]))) return std::nullopt;
    } else if (o.address.empty() && !arg.starts_with('-')) {
      o.address = arg;
    } else {
      return std::nullopt;
    }
  }
  if (o.address.empty()) return std::nullopt;
  if (timeout) o.dialer.timeout = std::chrono::milliseconds(*timeout);
  if (fallback && o.dialer.happy_eyeballs_v2)
    o.dialer.connection_attempt_delay = std::chrono::milliseconds(*fallback);
  else if (fallback)
    o.dialer.fallback_delay = std::chrono::milliseconds(*fallback);
  return o;
}

// A trace that prints each lookup and connect as it starts and ends, stamped relative to `start`.
net::dial_trace printing_trace(time_point start) {
  auto stamp = [start](time_point t) {
    std::printf("%8.1f ms  ", std::chrono::duration<double, std::milli>(t - start).count());
  };
  net::dial_trace trace;
  trace.resolve_start = [stamp](time_point t, std::string_view host) {
    stamp(t);
    std::printf("lookup %.*s\n", static_cast<int>(host.size()), host.data());
  };
  trace.resolve_done = [stamp](time_point t, std::string_view host,
                               const std::vector<net::address>& found, std::error_code ec) {
    std::string outcome;
    if (ec) outcome.append(" ").append(net::error_text(ec));
    for (const net::address& a : found) outcome.append(" ").append(a.host());
    stamp(t);
    std::printf("lookup %.*s:%s\n", static_cast<int>(host.size()), host.data(), outcome.c_str());
  };
  trace.connect_start = [stamp](time_point t, const net::address& a) {
    stamp(t);
    std::printf("connect %s\n", a.to_string().c_str());
  };
  trace.connect_done = [stamp](time_point t, const net::address& a, std::error_code ec) {
    stamp(t);
    std::printf("connect %s: %s\n", a.to_string().c_str(),
                ec ? net::error_text(ec).c_str() : "connected");
  };
  return trace;
}

ringo::task<int> dial(options o) {
  time_point start = ringo::clock::now();
  net::dial_trace trace = printing_trace(start);
  if (o.verbose) o.dialer.trace = &trace;
  auto c = co_await o.dialer.dial("tcp", o.address);
  auto took = std::chrono::round<std::chrono::milliseconds>(ringo::clock::now() - start);
  if (!c) {
    // Every address that was tried, each with its own error.
    std::fprintf(stderr, "%s\n", c.error().full_message().c_str());
    co_return 1;
  }
  auto peer = c->remote_address();
  std::printf("connected to %s in %lld ms\n", peer ? peer->to_string().c_str() : "?",
              static_cast<long long>(took.count()));
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto o = parse_args(argc, argv);
  if (!o) {
    std::fprintf(stderr,
                 "usage: %s [-v] [--timeout MS] [--fallback-delay MS] [--no-dual-stack] [--he2] "
                 "HOST:PORT\n",
                 argv[0]);
    return 2;
  }
  return ringo::run(dial(std::move(*o)));
}
