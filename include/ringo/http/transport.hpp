// transport: Go's http.Transport for HTTP/1.1 over TCP: a pool of persistent connections per
// (scheme, host, port), dials that race idle connections (late binding), max_conns_per_host, and
// retry of idempotent requests that fail on a reused connection before any response byte.
//
// Structured concurrency: the transport owns a scope in which every dial and idle-connection
// watcher runs. `co_await t.close()` before destroying it. Responses must not outlive it.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <system_error>

#include <ringo/http/client_request.hpp>
#include <ringo/http/response.hpp>
#include <ringo/net/dialer.hpp>
#include <ringo/runtime/result.hpp>
#include <ringo/runtime/task.hpp>

namespace ringo::http {

enum class client_errc {
  unsupported_scheme = 1,   // "unsupported protocol scheme"
  server_closed_idle,       // "http: server closed idle connection"
  connection_broken,        // "connection broken"
  response_header_timeout,  // "timeout awaiting response headers"
  transport_closed,         // "http: transport closed"
  request_body,             // "http: request body read failed"
  malformed_response,       // "malformed HTTP response"
  header_too_large,         // "server response headers exceeded the limit"
  // Why a conn was not put back in the pool (Go's tryPutIdleConn errors, commit d89e46d).
  keep_alives_disabled,    // "http: putIdleConn: keep alives disabled"
  close_idle_called,       // "http: CloseIdleConnections called"
  too_many_idle_for_host,  // "http: putIdleConn: too many idle connections for host"
  too_many_idle,           // "http: putIdleConn: too many idle connections"
  idle_conn_timeout,       // "http: idle connection timeout"
  unsolicited_response,    // "http: server sent unsolicited response on idle connection"
  // The client's.
  too_many_redirects,  // "stopped after 10 redirects"
  bad_location,        // "failed to parse Location header"
  bad_status,          // fetch: the response was a 4xx or 5xx
};
const std::error_category& client_category() noexcept;
inline std::error_code make_error_code(client_errc e) noexcept {
  return {static_cast<int>(e), client_category()};
}

// A failed round trip: a code to test and a message for people ("connection broken: EOF").
struct client_error {
  std::error_code code;
  std::string text;
  std::string message() const { return text.empty() ? code.message() : text; }
  friend bool operator==(const client_error& e, client_errc c) noexcept {
    return e.code == make_error_code(c);
  }
};

struct transport_options {
  // max_idle_conns_per_host's default: keep as many idle connections per host as were in use at
  // once lately (the most in use at once over the last one to two idle_demand_windows), at least
  // min_idle_conns_per_host (Go's DefaultMaxIdleConnsPerHost), bounded by max_idle_conns. Go's
  // fixed 2 makes a client with more requests in flight than that close and re-dial most of its
  // connections (32 concurrent requests through a proxy: ~2x the CPU per request); a number
  // pins the bound as Go's MaxIdleConnsPerHost does (2 for Go's default). Idle connections
  // beyond the bound are closed oldest first, when one comes back and every window while they
  // remain, so a burst's surplus is gone within two windows of the burst's end.
  static constexpr int follow_demand = 0;
  static constexpr int min_idle_conns_per_host = 2;

  int max_idle_conns = 100;                     // over all hosts; 0: no limit
  int max_idle_conns_per_host = follow_demand;  // > 0: pinned; negative: keep-alives disabled
  duration idle_demand_window = std::chrono::seconds(2);  // how far back follow_demand looks
  int max_conns_per_host = 0;                             // dialing + active + idle; 0: no limit
  duration idle_conn_timeout = std::chrono::seconds(90);  // 0: no limit
  duration response_header_timeout{};                     // after the request is written; 0: none
  duration expect_continue_timeout = std::chrono::seconds(1);
  std::size_t max_response_header_bytes = 10 << 20;
  bool disable_keep_alives = false;  // sends Connection: close
  net::dialer dialer;
  // Fault injection: replaces dialer.dial(network, "host:port", stop).
  std::function<task<result<net::conn, net::op_error>>(std::string network, std::string addr,
                                                       std::stop_token)>
      dial;
};

class transport {
 public:
  struct state;  // lib/http/transport_state.hpp

  explicit transport(transport_options options = {});
  ~transport();
  transport(const transport&) = delete;
  transport& operator=(const transport&) = delete;

  task<result<response, client_error>> round_trip(client_request request,
                                                  std::stop_token stop = {});
  // Closes idle connections and stops dials nobody waits for.
  void close_idle_connections();
  // Closes everything and joins the dials and watchers. Await before destruction.
  task<void> close();

  // Introspection for tests and tools.
  std::size_t idle_count() const noexcept;
  std::size_t waiter_count() const noexcept;
  std::size_t dial_count() const noexcept;  // dials started so far
  std::size_t conns_per_host(const std::string& host_port) const noexcept;

 private:
  std::shared_ptr<state> state_;
};

}  // namespace ringo::http

template <>
struct std::is_error_code_enum<ringo::http::client_errc> : std::true_type {};
