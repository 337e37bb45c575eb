// resolver: host name → IP addresses, asynchronously (Go's net.Resolver).
//
// The default, ares_resolver, uses c-ares with its sockets polled through the ring: it honours
// /etc/hosts and /etc/resolv.conf and is cancellable with a stop token. Numeric hosts need no
// resolver (the dialer parses them), but every resolver returns a numeric host as its own answer.
// resolver is an interface so that tests and users can supply fixed answers and per-family delays
// (Go's testHookLookupIP): see static_resolver. A resolver must outlive its lookups.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <sys/socket.h>
#include <vector>

#include <ringo/net/address.hpp>
#include <ringo/runtime/result.hpp>
#include <ringo/runtime/task.hpp>

namespace ringo::net {

class resolver {
 public:
  virtual ~resolver() = default;
  // The addresses of `host` of one family (AF_INET or AF_INET6), port 0, in the order the source
  // gave them. Errors: errc::no_such_host when it has none of that family, errc::server_failure
  // when the name server failed the query, ringo::errc::timed_out when no server answered in time,
  // ringo::errc::operation_canceled on a stop request.
  virtual task<result<std::vector<address>>> lookup(std::string host, int family,
                                                    std::stop_token stop) = 0;
};

// `family` AF_INET or AF_INET6: that family only. AF_UNSPEC: both families, looked up
// concurrently; IPv6 answers first, then IPv4 (RFC 6724's default preference). Fails only when
// both lookups fail (with the IPv4 error if both do). `r` is borrowed: it must outlive the task.
task<result<std::vector<address>>> lookup_ip(resolver& r, std::string host, int family,
                                             std::stop_token stop);

struct ares_options {
  // "host:port" or "[v6]:port" of name servers to use instead of /etc/resolv.conf's (tests point
  // these at a loopback server).
  std::vector<std::string> servers;
  // Lookup order, as resolv.conf's "lookup": "fb" = hosts file, then DNS; "f" = hosts file only.
  std::string lookups;                   // empty: c-ares's default (from resolv.conf, else "fb")
  std::chrono::milliseconds timeout{0};  // first try's timeout; 0: resolv.conf's or c-ares's
  int tries = 0;                         // attempts per server; 0: resolv.conf's or c-ares's
};

// Each lookup opens its own c-ares channel (so a stop destroys only that lookup's queries) and
// waits for its sockets with one poll on an epoll set through the ring, never blocking the loop.
class ares_resolver final : public resolver {
 public:
  explicit ares_resolver(ares_options options = {});
  task<result<std::vector<address>>> lookup(std::string host, int family,
                                            std::stop_token stop) override;

 private:
  ares_options options_;
};

// Fixed answers, each family after its own delay (a stop during the delay returns
// operation_canceled); numeric hosts answer themselves; other hosts go to `fallback` (or fail with
// no_such_host when there is none). `fallback`, when given, is not owned and must outlive this.
class static_resolver final : public resolver {
 public:
  struct answer {
    std::vector<address> ipv4;
    std::vector<address> ipv6;
    std::chrono::milliseconds ipv4_delay{0};
    std::chrono::milliseconds ipv6_delay{0};
  };
  explicit static_resolver(resolver* fallback = nullptr) : fallback_(fallback) {}
  // A family with no addresses answers no_such_host (after its delay).
  void add(std::string host, answer a) { answers_[std::move(host)] = std::move(a); }
  task<result<std::vector<address>>> lookup(std::string host, int family,
                                            std::stop_token stop) override;

 private:
  resolver* fallback_;
  std::map<std::string, answer, std::less<>> answers_;
};

// This thread's default resolver (an ares_resolver with default options).
resolver& default_resolver();

}  // namespace ringo::net
