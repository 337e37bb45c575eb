// transport::state: the pool behind a transport. Single-threaded (the io_context's thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <ringo/http/transport.hpp>
#include <ringo/runtime/scope.hpp>

#include "persist_conn.hpp"
#include "want_conn.hpp"

namespace ringo::http {

namespace detail {
// An https conn's pool key is its authority after this prefix, an http conn's the authority alone
// ("host:port", what it dials): an http and an https conn to one host:port never mix (Go's
// connectMethodKey), and the plaintext path builds no longer key than before.
inline constexpr std::string_view https_key_prefix = "https://";
}  // namespace detail

struct transport::state {
  // How long a conn sits idle before it is watched (detail::start_idle_watch).
  static constexpr duration idle_watch_delay = std::chrono::milliseconds(5);

  // How many conns of a host were in use at once lately (transport_options::follow_demand): the
  // most seen in the current window and in the one before it, so the mark decays to the present
  // level one to two windows after a peak. Sampled where the count in use grows (a conn taken
  // from the pool or delivered by a dial) and when one comes back; no timer.
  struct demand_mark {
    time_point window_start{};
    int peak = 0;       // this window's
    int last_peak = 0;  // the window before's
  };
  struct host_conns {
    detail::conn_list idle;          // most recently used first
    detail::want_list idle_waiters;  // round trips waiting for any conn (Go's idleConnWait)
    detail::want_list dial_waiters;  // waiting for a dial slot (Go's connsPerHostWait)
    int conns = 0;                   // dialing + active + idle
    int dialing = 0;
    demand_mark demand;
    bool trimming = false;  // a trim_idle_conns task watches this host's surplus
    // HTTP/2 conns (counted in `conns`, never idle: they carry many requests at once), and
    // whether this host speaks HTTP/2: then one dial at a time serves every waiter (Go's http2
    // dialCall), where HTTP/1 dials one conn per waiter.
    std::vector<detail::h2_conn_ptr> h2;
    bool h2_known = false;

    int in_use() const noexcept { return conns - int(idle.size()) - dialing; }
  };

  explicit state(transport_options o) : options(std::move(o)) {}

  // Stops everything: no more idle conns or dials, waiters fail, the tasks are asked to stop.
  void shut_down();
  // Starts a task in `tasks` (dials, idle watchers).
  void spawn(task<void> t);
  // Awaits the tasks of a transport that was dropped, keeping its state alive meanwhile.
  static task<void> finish(std::shared_ptr<state> s);
  struct shut_down_on_stop {
    state* s;
    void operator()() const noexcept { s->shut_down(); }
  };
  // The io_context's shutdown stops this transport's work (see transport.cpp).
  std::optional<std::stop_callback<shut_down_on_stop>> context_link;

  transport_options options;
  ringo::scope tasks;  // dials and idle watchers
  std::unordered_map<std::string, host_conns> hosts;
  detail::conn_list lru;  // every idle conn, most recently used first
  struct dial_entry {
    detail::want_ptr w;
    std::stop_source stop;
  };
  using dial_list = std::list<dial_entry>;
  dial_list dialing;  // dials in flight; close_idle_connections stops those nobody waits for
  // List nodes of past idle periods (empty pointers), so that putting a conn in the idle list and
  // the LRU costs no allocation (link, unlink).
  detail::conn_list spare_nodes;
  // The proxy behind each pool key that goes through one (round_trip's proxied_key): a key
  // names the proxy and, for a tunnel, its target, so the dial knows both.
  struct proxy_route {
    proxy_target proxy;
    std::string tunnel_to;  // "host:port" for https (CONNECT); empty: absolute-form http
  };
  std::unordered_map<std::string, proxy_route> proxy_routes;
  std::size_t dials = 0;
  std::uint64_t conns_got = 0;
  std::uint64_t reuses = 0;
  std::map<std::string, std::uint64_t, std::less<>> closes;  // by reason (stats())
  bool closed = false;
  std::string last_key_;  // host()'s cache
  host_conns* last_host_ = nullptr;
  // Built from options.tls at the first https dial (a build costs more than a handshake), then
  // shared by every TLS conn.
  // ALPN offers "h2" and "http/1.1" unless force_http1; a TLS proxy is spoken to in HTTP/1.1 only
  // (its own context).
  std::optional<net::tls_context> tls_context_;
  std::optional<net::tls_context> proxy_tls_context_;
  const net::tls_context& client_tls(bool to_proxy = false);

  // The pool (transport.cpp), with Go's names. getConn is two parts: an idle conn if there is
  // one (no coroutine), else a wait.
  // An HTTP/2 conn with a free stream slot comes first (h2 set), then an idle HTTP/1 one.
  result<detail::conn_ptr, client_error> get_idle_conn(const std::string& key,
                                                       const client_request& req,
                                                       const std::stop_token& stop,
                                                       got_conn_info& info,
                                                       detail::h2_conn_ptr& h2);
  task<result<detail::conn_ptr, client_error>> wait_for_conn(std::string key,
                                                             const client_request& req,
                                                             std::stop_token stop,
                                                             got_conn_info& info,
                                                             detail::h2_conn_ptr& h2);
  // HTTP/2 (lib/http/h2/client_conn.cpp calls these): a conn that can take more requests hands
  // its slots to the host's waiters; one that ended leaves the pool (one that received GOAWAY
  // stays until then, taking no new request).
  void h2_conn_ready(const detail::h2_conn_ptr& c);
  void h2_conn_closed(const detail::h2_conn_ptr& c, std::string reason);
  // Whether the conns dialed for `key` speak HTTP/2 with prior knowledge (h2c).
  bool prior_knowledge(const std::string& key) const;
  host_conns& host(const std::string& key);
  // The pool key of a request through `proxy`: "proxy http://PROXY AUTH" for every http target
  // (Go keeps one set of conns per proxy), "TARGET via PROXY AUTH" for an https tunnel. Records
  // the route for the dial.
  std::string proxied_key(std::string direct_key, const proxy_target& proxy, bool tls);
  void queue_for_idle_conn(const detail::want_ptr& w);
  void queue_for_dial(const detail::want_ptr& w);
  void start_dial(const detail::want_ptr& w);
  void remove_waiter(const detail::want_ptr& w);
  void dec_conns_per_host(const std::string& key);
  // follow_demand: records the count in use now and returns the idle bound it makes.
  std::size_t note_demand(host_conns& h, time_point now);
  // follow_demand: closes the host's oldest idle conns beyond the bound.
  void trim_idle(host_conns& h, std::size_t limit);
  // Why the conn was not pooled; none when it was (or was handed to a waiter).
  std::error_code try_put_idle_conn(const detail::conn_ptr& pc);
  void put_or_close_idle_conn(const detail::conn_ptr& pc, const client_trace* trace = nullptr);
  void close_conn(const detail::conn_ptr& pc, std::string reason);
  void close_conn(const detail::conn_ptr& pc, std::error_code why);
  void close_idle_connections();
  // Takes an active conn out of the pool for good (after 101 Switching Protocols).
  std::unique_ptr<net::stream> hand_over(const detail::conn_ptr& pc);
  void remove_idle(const detail::conn_ptr& pc);
  detail::conn_list::iterator link(detail::conn_list& to, const detail::conn_ptr& pc);
  void unlink(detail::conn_list& from, detail::conn_list::iterator it) noexcept;
};

// Spawned in the transport's scope.
task<void> dial_conn_for(transport::state* s, transport::state::dial_list::iterator entry);
task<void> watch_idle_conn(transport::state* s, detail::conn_ptr pc, unsigned generation);
task<void> trim_idle_conns(transport::state* s, std::string key);

}  // namespace ringo::http
