// transport: Go's http.Transport over TCP and TLS: a pool of persistent connections per (scheme,
// host, port), dials that race idle connections (late binding), max_conns_per_host, and retry of
// idempotent requests that fail on a reused connection before any response byte. HTTP/1.1, and
// HTTP/2 (Go's x/net/http2 Transport) where ALPN chose "h2" on https:// or prior knowledge is
// asked for on http://: one HTTP/2 connection carries a host's requests at once, up to the
// server's MAX_CONCURRENT_STREAMS, and another is dialed beyond that.
//
// Structured concurrency: the transport owns a scope in which every dial and idle-connection
// watcher runs. Dropping it stops them, and its io_context finishes them (before run() returns);
// `co_await t.close()` waits for that instead. Responses must not outlive it. A transport is used
// on the thread whose io_context it first ran on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <ringo/http/client_request.hpp>
#include <ringo/http/error.hpp>
#include <ringo/http/proxy.hpp>
#include <ringo/http/response.hpp>
#include <ringo/net/dialer.hpp>
#include <ringo/net/tls.hpp>
#include <ringo/runtime/result.hpp>
#include <ringo/runtime/task.hpp>
#include <ringo/runtime/time.hpp>

namespace ringo::http {

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
  // Go's DisableCompression. Off (the default): a request without Accept-Encoding or Range (and
  // not HEAD) asks for gzip, and a gzip answer is decoded on the way out: the caller reads the
  // decoded bytes, Content-Encoding and Content-Length are dropped, response::uncompressed is
  // set. A caller that sets Accept-Encoding itself gets the bytes as sent.
  bool disable_compression = false;
  net::dialer dialer;
  // Go's Transport.DialContext: dials in place of `dialer` (a unix socket, a tunnel, a test's
  // injected delay), called as dial("tcp", "host:port", stop).
  std::function<task<result<net::conn, net::op_error>>(std::string network, std::string addr,
                                                       std::stop_token)>
      dial;
  // https:// (Go's TLSClientConfig): one tls_context is built from it, at the first https dial,
  // and shared by every conn. Each conn verifies, and sends as SNI, the request's host unless
  // tls.server_name is set. ALPN offers "h2" and "http/1.1" (whatever next_protos says: the
  // transport speaks what it offers), and the conn speaks what the server picked; "http/1.1"
  // only with force_http1. A TLS proxy is offered "http/1.1" only.
  net::tls_config tls;
  // HTTP/2. force_http1: https:// offers only "http/1.1" (Go: a non-nil empty TLSNextProto;
  // curl's --http1.1). http2_prior_knowledge: http:// conns made without a proxy speak HTTP/2 from
  // their first byte (h2c; curl's --http2-prior-knowledge), to a server known to speak it; an
  // http:// request through a proxy stays HTTP/1.1 (absolute form), an https:// one through a
  // CONNECT tunnel negotiates as a direct one does.
  bool force_http1 = false;
  bool http2_prior_knowledge = false;
  // The HTTP/2 health check (x/net/http2 Transport's ReadIdleTimeout and PingTimeout): a conn that
  // received no frame for read_idle_timeout sends a PING; no answer within ping_timeout closes it
  // and fails its requests ("http2: client connection lost"). 0: no health check (Go's default).
  duration read_idle_timeout{};
  duration ping_timeout = std::chrono::seconds(15);
  // How long a handshake may take after the connect (Go's TLSHandshakeTimeout); 0: no limit.
  duration tls_handshake_timeout = std::chrono::seconds(10);
  // The proxy for each request (Go's Transport.Proxy): null connects directly (Go's zero
  // Transport); proxy_from_environment() reads HTTP_PROXY, HTTPS_PROXY and NO_PROXY (Go's
  // DefaultTransport). http:// requests go to the proxy in absolute form, over conns kept per
  // proxy; https:// ones through a CONNECT tunnel per target, TLS inside it end to end.
  proxy_function proxy;
};

// One host's part of the pool (transport::stats).
struct host_pool_stats {
  std::string host;  // the pool's key: "host:port", "https://host:port"
  std::size_t idle = 0;
  std::size_t active = 0;  // carrying a request or its response
  std::size_t dialing = 0;
  std::size_t waiting = 0;  // round trips waiting for a conn
};

// The pool now, and what it has done since the transport was made (beyond Go's Transport, whose
// users ask for it: go.dev/issue/63494, go.dev/issue/56241).
struct transport_stats {
  std::vector<host_pool_stats> hosts;                          // every host with a conn or a waiter
  std::size_t idle = 0, active = 0, dialing = 0, waiting = 0;  // the hosts' sums
  std::uint64_t dials = 0;      // dials started (a dial may end up in the pool: Go's rule)
  std::uint64_t conns_got = 0;  // round trips that got a conn
  std::uint64_t reuses = 0;     // ... of which one that had served a request before
  // Conns closed, or not pooled, by reason (the error's message: "http: putIdleConn: too many
  // idle connections for host", "http: idle connection timeout", ...), most frequent first.
  std::vector<std::pair<std::string, std::uint64_t>> closed;
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
  // By pool key: "host:port" for http, "https://host:port" for https.
  std::size_t conns_per_host(const std::string& key) const noexcept;
  // The pool's figures, gathered now (a walk over its hosts: for tools and metrics, not per
  // request).
  transport_stats stats() const;

 private:
  std::shared_ptr<state> state_;
};

}  // namespace ringo::http
