// dialer: Go's net.Dialer. `co_await net::dial("tcp", "localhost:8080", stop)` resolves the name,
// then connects: addresses one after another (dial_serial), or, when the name has both IPv4 and
// IPv6 addresses, as two racers (dial_parallel, RFC 6555 "Happy Eyeballs").
//
// The racers are coroutines in a scope: the fallback family starts after fallback_delay (or at
// once when the primary fails); the first success stops the other racer, which is awaited before
// dial returns, so nothing outlives the call and a spare connection is closed, never leaked. A stop
// request reaches every attempt at once. Opt-in: RFC 8305 (Happy Eyeballs v2), which resolves both
// families concurrently and staggers attempts by connection_attempt_delay.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <ringo/net/address.hpp>
#include <ringo/net/conn.hpp>
#include <ringo/net/error.hpp>
#include <ringo/net/resolver.hpp>
#include <ringo/runtime/task.hpp>
#include <ringo/runtime/time.hpp>

namespace ringo::net {

// Observes a dial (Go's httptrace DNS* and Connect* hooks). Every callback is optional; each gets
// the time it happened.
struct dial_trace {
  std::function<void(time_point, std::string_view host)> resolve_start;
  std::function<void(time_point, std::string_view host, const std::vector<address>&,
                     std::error_code)>
      resolve_done;
  std::function<void(time_point, const address&)> connect_start;
  std::function<void(time_point, const address&, std::error_code)> connect_done;
};

// Go's partialDeadline: the deadline for one attempt when `addrs_remaining` addresses share what
// is left before `deadline`: an equal share, but at least 2 s (or all that is left, if less);
// timed_out when nothing is left. no_deadline stays no_deadline.
result<time_point> partial_deadline(time_point now, time_point deadline,
                                    std::size_t addrs_remaining);

struct dialer {
  using dial_result = result<conn, op_error>;
  // Dials one address by the given deadline (Go's testHookDialTCP). Tests use it to inject
  // delays; the default connects through the ring.
  using single_dial =
      std::function<task<dial_result>(const address&, time_point deadline, std::stop_token)>;

  duration timeout{};                    // for the whole dial, resolution included; 0: none
  time_point deadline = no_deadline;     // absolute; the earlier of the two applies
  std::optional<address> local_address;  // bind before connecting (port 0: any)
  // Happy Eyeballs for "tcp" names with both families: the fallback family's head start. 0:
  // 300 ms; negative: no Happy Eyeballs (the addresses are dialed one after another).
  duration fallback_delay{};
  duration keep_alive{};              // 0: 15 s; negative: keep-alives off
  resolver* name_resolver = nullptr;  // nullptr: default_resolver()
  bool happy_eyeballs_v2 = false;     // RFC 8305 instead of RFC 6555
  duration connection_attempt_delay = std::chrono::milliseconds(250);  // v2; clamped to 10 ms..2 s
  duration resolution_delay = std::chrono::milliseconds(50);           // v2: AAAA's head start
  const dial_trace* trace = nullptr;

  // Test seam (Go's testHookDialTCP), not a feature: replaces the connect of one address, so
  // that tests can inject delays and failures. Leave it empty.
  single_dial dial_hook;

  // network: "tcp", "tcp4", "tcp6" or "unix"; address: "host:port" (or a path for unix).
  task<dial_result> dial(std::string network, std::string addr, std::stop_token stop = {}) const;

  // The building blocks, for callers that already hold addresses (and for Go's tests). The
  // deadline is taken from timeout/deadline when the call starts.
  task<dial_result> dial_serial(std::string network, std::vector<net::address> addrs,
                                std::stop_token stop = {}) const;
  task<dial_result> dial_parallel(std::string network, std::vector<net::address> primaries,
                                  std::vector<net::address> fallbacks,
                                  std::stop_token stop = {}) const;

  // The effective delays after defaults and clamps.
  duration effective_fallback_delay() const noexcept;
  duration effective_attempt_delay() const noexcept;
};

// Dials with a default dialer.
task<result<conn, op_error>> dial(std::string network, std::string addr, std::stop_token stop = {});

}  // namespace ringo::net
