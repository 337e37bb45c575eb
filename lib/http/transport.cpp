// The connection pool of the client transport (Go's transport.go: getConn, queueForIdleConn,
// queueForDial, dialConnFor, decConnsPerHost, tryPutIdleConn) and the idle-connection watcher.
#include <algorithm>

#include <ringo/http/transport.hpp>
#include <ringo/runtime/io_context.hpp>
#include <ringo/runtime/operations.hpp>

#include "context_errors.hpp"
#include "h2/client_conn.hpp"
#include "transport_state.hpp"

namespace ringo::http {

using detail::conn_ptr;
using detail::want_conn;
using detail::want_ptr;

// ---- get_conn ---------------------------------------------------------------------------------

// The host's entry, through a one-entry cache: a client of one upstream (a proxy) hashes no key.
// (Entries are never erased, and an unordered_map's nodes stay where they are.)
transport::state::host_conns& transport::state::host(const std::string& key) {
  if (last_host_ && key == last_key_) return *last_host_;
  last_key_ = key;
  last_host_ = &hosts[key];
  return *last_host_;
}

// getConn's part that does not wait: an idle conn, most recently used first (the wall-clock check
// catches a watcher not yet run), or null when the request must wait for one (wait_for_conn).
result<conn_ptr, client_error> transport::state::get_idle_conn(const std::string& key,
                                                               const client_request& req,
                                                               const std::stop_token& stop,
                                                               got_conn_info& info,
                                                               detail::h2_conn_ptr& h2) {
  if (req.trace && req.trace->get_conn) {  // host:port, as Go's GetConn
    std::string_view host_port = key;
    if (host_port.starts_with(detail::https_key_prefix))
      host_port.remove_prefix(detail::https_key_prefix.size());
    req.trace->get_conn(host_port);
  }
  if (closed) return client_error{make_error_code(errc::transport_closed), {}};
  if (stop.stop_requested()) return detail::canceled_error();
  host_conns& h = host(key);
  for (const detail::h2_conn_ptr& c : h.h2) {
    if (!c->can_take_new_request()) continue;
    // A multiplexed conn is reported as reused once it has carried a request (Go's
    // http2 ClientConn, traceGotConn).
    const bool idle = c->open_streams() == 0;
    info = {c->reused(), idle && c->reused(), idle ? clock::now() - c->idle_since() : duration{},
            2};
    ++conns_got;
    if (info.reused) ++reuses;
    h2 = c;
    return conn_ptr{};
  }
  const time_point now = h.idle.empty() ? time_point{} : clock::now();
  while (!h.idle.empty()) {
    conn_ptr pc = h.idle.front();
    duration idle_for = now - pc->idle_since;
    if (options.idle_conn_timeout > duration::zero() && idle_for > options.idle_conn_timeout) {
      close_conn(pc, errc::idle_conn_timeout);
      continue;
    }
    remove_idle(pc);
    if (options.max_idle_conns_per_host == transport_options::follow_demand) note_demand(h, now);
    info = {true, true, idle_for};
    ++conns_got;
    ++reuses;
    return pc;
  }
  return conn_ptr{};
}

// The rest of getConn: wait as a want_conn for a conn put back or a dial, whichever comes first.
task<result<conn_ptr, client_error>> transport::state::wait_for_conn(std::string key,
                                                                     const client_request& req,
                                                                     std::stop_token stop,
                                                                     got_conn_info& info,
                                                                     detail::h2_conn_ptr& h2) {
  auto w = std::make_shared<want_conn>(key);
  w->trace = req.trace;
  queue_for_idle_conn(w);
  queue_for_dial(w);
  auto got = co_await w->result.receive(stop, req.deadline);
  remove_waiter(w);  // whatever happened, it waits no more and holds nothing
  if (!got) {
    if (got.error() == ringo::errc::operation_canceled) co_return detail::canceled_error();
    co_return detail::deadline_error();
  }
  // Stopped (or out of time) in the turn that delivered a conn: the conn is good and goes back,
  // as Go's wantConn.cancel gives it to putOrCloseIdleConn; the request is over.
  if (stop.stop_requested() || clock::now() >= req.deadline) {
    if (got->pc) put_or_close_idle_conn(got->pc);
    if (got->h2) got->h2->unreserve();
    if (stop.stop_requested()) co_return detail::canceled_error();
    co_return detail::deadline_error();
  }
  if (got->h2) {
    got->h2->unreserve();  // the slot h2_conn_ready kept for this round trip, taken now
    info = {got->h2->reused(), false, {}, 2};
    ++conns_got;
    if (info.reused) ++reuses;
    h2 = std::move(got->h2);
    co_return conn_ptr{};
  }
  if (!got->pc) co_return std::move(got->err);
  info = {got->pc->reused, false, {}};
  ++conns_got;
  if (info.reused) ++reuses;
  co_return std::move(got->pc);
}

void transport::state::queue_for_idle_conn(const want_ptr& w) {
  host_conns& h = hosts[w->key];
  w->idle_it = h.idle_waiters.insert(h.idle_waiters.end(), w);
  w->in_idle_queue = true;
}

void transport::state::queue_for_dial(const want_ptr& w) {
  host_conns& h = hosts[w->key];
  // An HTTP/2 host's dial serves every waiter (one conn carries them all): no second dial
  // while one runs.
  if ((h.h2_known || prior_knowledge(w->key)) && h.dialing > 0) return;
  if (options.max_conns_per_host <= 0 || h.conns < options.max_conns_per_host) {
    ++h.conns;
    start_dial(w);
    return;
  }
  w->dial_it = h.dial_waiters.insert(h.dial_waiters.end(), w);
  w->in_dial_queue = true;
}

void transport::state::start_dial(const want_ptr& w) {
  ++dials;
  ++hosts[w->key].dialing;
  w->dial_started = true;
  auto entry = dialing.insert(dialing.end(), dial_entry{w, std::stop_source()});
  spawn(dial_conn_for(this, entry));
}

void transport::state::remove_waiter(const want_ptr& w) {
  auto it = hosts.find(w->key);
  if (it == hosts.end()) return;
  if (w->in_idle_queue) it->second.idle_waiters.erase(w->idle_it);
  if (w->in_dial_queue) it->second.dial_waiters.erase(w->dial_it);
  w->in_idle_queue = w->in_dial_queue = false;
}

// A conn of this host is gone: its slot goes to the first live waiter for a dial.
void transport::state::dec_conns_per_host(const std::string& key) {
  auto it = hosts.find(key);
  if (it == hosts.end()) return;
  host_conns& h = it->second;
  --h.conns;
  while (!h.dial_waiters.empty() && !closed) {
    want_ptr w = h.dial_waiters.front();
    h.dial_waiters.pop_front();
    w->in_dial_queue = false;
    if (!w->waiting()) continue;
    ++h.conns;
    start_dial(w);
    break;
  }
}

namespace {

// Passes the dial's events to the trace of the request that started it, while it waits.
net::dial_trace forward_while_waiting(const want_ptr& w) {
  auto live = [w]() -> const net::dial_trace* {
    return w->waiting() && w->trace && w->trace->dial ? w->trace->dial : nullptr;
  };
  net::dial_trace t;
  t.resolve_start = [live](time_point at, std::string_view host) {
    if (auto* d = live(); d && d->resolve_start) d->resolve_start(at, host);
  };
  t.resolve_done = [live](time_point at, std::string_view host,
                          const std::vector<net::address>& addrs, std::error_code ec) {
    if (auto* d = live(); d && d->resolve_done) d->resolve_done(at, host, addrs, ec);
  };
  t.connect_start = [live](time_point at, const net::address& a) {
    if (auto* d = live(); d && d->connect_start) d->connect_start(at, a);
  };
  t.connect_done = [live](time_point at, const net::address& a, std::error_code ec) {
    if (auto* d = live(); d && d->connect_done) d->connect_done(at, a, ec);
  };
  return t;
}

// A dialed conn, ready for HTTP: the stream, and for https its handshake's state.
struct dialed_conn {
  std::unique_ptr<net::stream> stream;
  std::shared_ptr<const net::tls_connection_state> tls;
  bool h2 = false;  // speaks HTTP/2: ALPN chose "h2", or prior knowledge
};

// Go's persistConn.addTLS: the handshake under tls_handshake_timeout and the dial's stop, with
// the host as server name unless the config names one. The trace hears of it while the request
// that started the dial still waits.
task<result<dialed_conn, client_error>> add_tls(transport::state* s, want_ptr w,
                                                std::unique_ptr<net::stream> c, std::string host,
                                                std::stop_token stop, bool to_proxy = false) {
  auto trace = [&w]() -> const client_trace* { return w->waiting() ? w->trace : nullptr; };
  if (const client_trace* t = trace(); t && t->tls_handshake_start) t->tls_handshake_start();
  const duration limit = s->options.tls_handshake_timeout;
  const time_point deadline = limit > duration::zero() ? clock::now() + limit : no_deadline;
  if (!s->options.tls.server_name.empty()) host.clear();
  net::tls_result shaken = co_await net::tls_client(std::move(c), s->client_tls(to_proxy),
                                                    std::move(stop), deadline, host);
  if (!shaken) {
    client_error e = shaken.error() == ringo::errc::timed_out
                         ? client_error(errc::tls_handshake_timeout)
                         : client_error(shaken.error().code(), shaken.error().message());
    if (const client_trace* t = trace(); t && t->tls_handshake_done)
      t->tls_handshake_done({}, e.code());
    co_return e;
  }
  auto state = std::make_shared<const net::tls_connection_state>(shaken->connection_state());
  if (const client_trace* t = trace(); t && t->tls_handshake_done)
    t->tls_handshake_done(*state, {});
  const bool h2 = state->negotiated_protocol == "h2";
  co_return dialed_conn{std::make_unique<net::tls_stream>(std::move(*shaken)), std::move(state),
                        h2};
}

// Go's CONNECT (transport.go, dialConn): asks the proxy for a tunnel to `target`. Only a 200
// opens it; another status fails with its text, as Go's does ("Forbidden"). The answer's head is
// read whole and bounded; bytes after it (the proxy may not speak before the client's TLS hello)
// refuse the tunnel.
task<result<void, client_error>> open_tunnel(net::stream& c, const proxy_target& proxy,
                                             const std::string& target, std::stop_token stop,
                                             time_point deadline) {
  std::string ask = "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n";
  if (!proxy.authorization.empty()) ask += "Proxy-Authorization: " + proxy.authorization + "\r\n";
  ask += "\r\n";
  if (auto sent = co_await c.write_all(ask, stop, deadline); !sent)
    co_return client_error{sent.error(), sent.error().message()};
  constexpr std::size_t limit = 16 << 10;
  std::string head;
  char buf[1024];
  std::size_t end = std::string::npos;
  while ((end = head.find("\r\n\r\n")) == std::string::npos) {
    if (head.size() > limit)
      co_return client_error{make_error_code(errc::malformed_response),
                             "proxy's CONNECT response head is too large"};
    auto n = co_await c.read(buf, stop, deadline);
    if (!n) co_return client_error{n.error(), n.error().message()};
    if (*n == 0)
      co_return client_error{make_error_code(net::errc::unexpected_eof), "unexpected EOF"};
    head.append(buf, *n);
  }
  if (end + 4 != head.size())
    co_return client_error{make_error_code(errc::malformed_response),
                           "proxy sent data after its CONNECT response"};
  // "HTTP/1.1 200 Connection established": the status, then its text.
  const std::size_t sp = head.find(' ');
  const std::size_t eol = head.find("\r\n");
  if (!head.starts_with("HTTP/1.") || sp == std::string::npos || sp + 4 > eol)
    co_return client_error{make_error_code(errc::malformed_response), "malformed HTTP response"};
  const std::string_view status = std::string_view(head).substr(sp + 1, 3);
  if (status == "200") co_return result<void, client_error>{};
  const std::string_view text =
      sp + 5 <= eol ? std::string_view(head).substr(sp + 5, eol - sp - 5) : std::string_view();
  co_return client_error{make_error_code(errc::bad_status),
                         text.empty() ? "unknown status code" : std::string(text)};
}

// Dials the conn a key names: "host:port", or "https://host:port" and then the handshake; or, for
// a key through a proxy, the proxy (and TLS with it for an https:// proxy), then a CONNECT tunnel
// for https.
task<result<dialed_conn, client_error>> dial_for_key(transport::state* s, want_ptr w,
                                                     std::string key, std::stop_token stop) {
  const transport::state::proxy_route* route = nullptr;
  if (auto it = s->proxy_routes.find(key); it != s->proxy_routes.end()) route = &it->second;
  const bool tls = route ? !route->tunnel_to.empty() : key.starts_with(detail::https_key_prefix);
  if (route)
    key = route->proxy.address.authority();
  else if (tls)
    key.erase(0, detail::https_key_prefix.size());
  // (No co_await inside ?: with GCC 12.)
  result<net::conn, net::op_error> dialed = net::op_error{};
  if (s->options.dial) {
    dialed = co_await s->options.dial("tcp", key, stop);
  } else if (w->trace && w->trace->dial) {
    net::dial_trace forward = forward_while_waiting(w);
    net::dialer traced = s->options.dialer;
    traced.trace = &forward;
    dialed = co_await traced.dial("tcp", key, stop);
  } else {
    dialed = co_await s->options.dialer.dial("tcp", key, stop);
  }
  if (!dialed) {
    net::op_error e = dialed.error();
    // Go wraps a proxy's dial error as a "proxyconnect" op: "proxyconnect tcp: dial tcp ...".
    co_return client_error{e.code(), route ? "proxyconnect tcp: " + e.message() : e.message()};
  }
  // No recv SQE a response (net::conn::receive_multishot); under TLS too, whose records it reads.
  dialed->receive_multishot();
  std::unique_ptr<net::stream> conn = std::make_unique<net::conn>(std::move(*dialed));
  if (route && route->proxy.address.scheme == "https") {
    // Go's dialConn for an https proxy: TLS with the proxy first, its failure a proxyconnect one.
    auto to_proxy = co_await add_tls(s, w, std::move(conn), route->proxy.address.host, stop, true);
    if (!to_proxy)
      co_return client_error{to_proxy.error().code(),
                             "proxyconnect tcp: " + to_proxy.error().message()};
    conn = std::move(to_proxy->stream);
  }
  if (route && tls) {
    const duration limit = s->options.tls_handshake_timeout;
    const time_point deadline = limit > duration::zero() ? clock::now() + limit : no_deadline;
    auto tunnel = co_await open_tunnel(*conn, route->proxy, route->tunnel_to, stop, deadline);
    if (!tunnel) {
      conn->close();
      co_return tunnel.error();
    }
    key = route->tunnel_to;  // the handshake is with the target
  }
  if (tls) {
    std::string host;
    if (auto hp = net::split_host_port(key)) host = std::string(hp->host);
    co_return co_await add_tls(s, std::move(w), std::move(conn), std::move(host), std::move(stop));
  }
  // (Through an https proxy in absolute form, the proxy's TLS state is not the response's.)
  co_return dialed_conn{std::move(conn), nullptr, !route && s->options.http2_prior_knowledge};
}

}  // namespace

std::string transport::state::proxied_key(std::string direct_key, const proxy_target& proxy,
                                          bool tls) {
  std::string key = tls ? direct_key + " via " : std::string("proxy ");
  if (proxy.address.scheme == "https") key += detail::https_key_prefix;  // not an http one's conn
  key += proxy.address.authority();
  if (!proxy.authorization.empty()) key += " " + proxy.authorization;
  if (!proxy_routes.contains(key)) {
    std::string target;
    if (tls) target = direct_key.substr(detail::https_key_prefix.size());
    proxy_routes.emplace(key, proxy_route{proxy, std::move(target)});
  }
  return key;
}

const net::tls_context& transport::state::client_tls(bool to_proxy) {
  std::optional<net::tls_context>& ctx = to_proxy ? proxy_tls_context_ : tls_context_;
  if (!ctx) {
    net::tls_config config = options.tls;
    // Go's Transport offers h2 first unless HTTP/2 is off (TLSNextProto, ForceAttemptHTTP2); a
    // proxy gets HTTP/1.1 requests and CONNECT only.
    if (to_proxy || options.force_http1)
      config.next_protos = {"http/1.1"};
    else
      config.next_protos = {"h2", "http/1.1"};
    ctx.emplace(config);
  }
  return *ctx;
}

bool transport::state::prior_knowledge(const std::string& key) const {
  return options.http2_prior_knowledge && !key.starts_with(detail::https_key_prefix) &&
         !proxy_routes.contains(key);
}

void transport::state::h2_conn_ready(const detail::h2_conn_ptr& c) {
  auto it = hosts.find(c->key());
  if (it == hosts.end() || closed) return;
  host_conns& h = it->second;
  while (!h.idle_waiters.empty() && c->can_take_new_request()) {
    want_ptr w = h.idle_waiters.front();
    h.idle_waiters.pop_front();
    w->in_idle_queue = false;
    c->reserve();  // (its round trip takes the slot when it resumes)
    if (w->waiting() && w->result.try_deliver({nullptr, {}, c}))
      remove_waiter(w);
    else
      c->unreserve();
  }
  // Waiters beyond what the conns carry get another conn (Go's StrictMaxConcurrentStreams=false):
  // one dial, which they follow.
  if (h.dialing > 0) return;
  for (const want_ptr& w : h.idle_waiters) {
    if (w->waiting() && !w->dial_started && !w->in_dial_queue) {
      queue_for_dial(w);
      return;
    }
  }
}

void transport::state::h2_conn_closed(const detail::h2_conn_ptr& c, std::string reason) {
  auto it = hosts.find(c->key());
  if (it == hosts.end()) return;
  std::vector<detail::h2_conn_ptr>& list = it->second.h2;
  auto at = std::find(list.begin(), list.end(), c);
  if (at == list.end()) return;
  list.erase(at);
  ++closes[reason];
  dec_conns_per_host(c->key());
}

// The dial belongs to the transport, not to the request: a conn arriving after its waiter was
// served elsewhere or gave up goes to the pool (Go #59017, late binding). An https dial's
// handshake is part of it.
task<void> dial_conn_for(transport::state* s, transport::state::dial_list::iterator entry) {
  want_ptr w = entry->w;
  std::stop_token stop = entry->stop.get_token();
  std::string key = w->key;
  result<dialed_conn, client_error> dialed = co_await dial_for_key(s, w, key, std::move(stop));
  s->dialing.erase(entry);
  transport::state::host_conns& h = s->host(key);
  --h.dialing;
  if (!dialed) {
    if (w->waiting()) w->result.try_deliver({nullptr, dialed.error()});
    if (h.h2_known || s->prior_knowledge(key)) {  // the waiters that followed it fail with it
      for (const want_ptr& f : h.idle_waiters)
        if (!f->dial_started && f->waiting()) f->result.try_deliver({nullptr, dialed.error()});
    }
    s->dec_conns_per_host(key);
    co_return;
  }
  if (dialed->h2) {
    h.h2_known = true;
    const transport_options& o = s->options;
    h2::client_config config{o.max_response_header_bytes, o.read_idle_timeout, o.ping_timeout,
                             o.idle_conn_timeout, o.response_header_timeout};
    config.expect_continue_timeout = o.expect_continue_timeout;
    config.single_use = o.disable_keep_alives || o.max_idle_conns_per_host < 0;
    auto c = std::make_shared<h2::client_conn>(s, key, std::move(dialed->stream),
                                               std::move(dialed->tls), config);
    h.h2.push_back(c);
    s->spawn(h2::client_conn::run(c, s->tasks.get_token()));
    c->reserve();
    if (!w->waiting() || !w->result.try_deliver({nullptr, {}, c})) c->unreserve();
    s->h2_conn_ready(c);
    co_return;
  }
  if (h.h2_known) {
    // The host answered HTTP/1.1 this time (ALPN): its waiters that followed this dial as for
    // HTTP/2 get dials of their own.
    h.h2_known = false;
    std::vector<want_ptr> followers;
    for (const want_ptr& f : h.idle_waiters)
      if (!f->dial_started && !f->in_dial_queue && f->waiting()) followers.push_back(f);
    for (const want_ptr& f : followers) s->queue_for_dial(f);
  }
  auto pc = std::make_shared<detail::persist_conn>(key, std::move(dialed->stream));
  pc->tls = std::move(dialed->tls);
  if (auto it = s->proxy_routes.find(key); it != s->proxy_routes.end() && !pc->tls) {
    pc->absolute_form = true;
    pc->proxy_authorization = it->second.proxy.authorization;
  }
  if (w->waiting() && w->result.try_deliver({pc, {}})) {
    if (s->options.max_idle_conns_per_host == transport_options::follow_demand)
      s->note_demand(s->host(key), clock::now());
    co_return;
  }
  s->put_or_close_idle_conn(pc);
}

// ---- returning conns --------------------------------------------------------------------------

std::error_code transport::state::try_put_idle_conn(const conn_ptr& pc) {
  if (options.disable_keep_alives || options.max_idle_conns_per_host < 0)
    return errc::keep_alives_disabled;
  if (pc->state == detail::persist_conn::where::closed) return errc::connection_broken;
  if (closed) return errc::close_idle_called;
  if (!pc->in.empty()) return errc::unsolicited_response;
  pc->reused = true;
  host_conns& h = host(pc->key);
  while (!h.idle_waiters.empty()) {
    want_ptr w = h.idle_waiters.front();
    h.idle_waiters.pop_front();
    w->in_idle_queue = false;
    if (w->waiting() && w->result.try_deliver({pc, {}})) {
      remove_waiter(w);
      pc->state = detail::persist_conn::where::active;
      return {};
    }
  }
  const bool follow = options.max_idle_conns_per_host == transport_options::follow_demand;
  // Pinned (Go's rule): the conn coming back is the one refused. Following demand: it is kept,
  // and the bound closes the oldest idle conns instead: those the present demand did not take.
  const time_point now = clock::now();
  const std::size_t per_host =
      follow ? note_demand(h, now) : std::size_t(options.max_idle_conns_per_host);
  if (!follow && h.idle.size() >= per_host) return errc::too_many_idle_for_host;
  pc->state = detail::persist_conn::where::idle;
  pc->idle_since = now;
  pc->idle_it = link(h.idle, pc);
  pc->lru_it = link(lru, pc);
  ++pc->idle_generation;
  pc->watch_timer.arm(this, now + idle_watch_delay);
  if (follow) {
    trim_idle(h, per_host);
    // What no one comes back for is trimmed by time: a task per host, while it has a surplus
    // to watch.
    if (!h.trimming && h.idle.size() > std::size_t(transport_options::min_idle_conns_per_host)) {
      h.trimming = true;
      spawn(trim_idle_conns(this, pc->key));
    }
  }
  if (options.max_idle_conns > 0 && lru.size() > std::size_t(options.max_idle_conns)) {
    conn_ptr oldest = lru.back();
    close_conn(oldest, errc::too_many_idle);
  }
  return {};
}

// The bound follow_demand keeps: the most conns in use at once over this window and the last,
// at least min_idle_conns_per_host. A window that passed with nothing sampled saw no growth:
// what is in use now is the most it can be said to have needed.
std::size_t transport::state::note_demand(host_conns& h, time_point now) {
  demand_mark& d = h.demand;
  const int in_use = h.in_use();
  const duration window = options.idle_demand_window;
  if (now - d.window_start >= window) {
    d.last_peak = now - d.window_start >= 2 * window ? in_use : d.peak;
    d.peak = in_use;
    d.window_start = now;
  }
  d.peak = std::max(d.peak, in_use);
  return std::size_t(
      std::max({d.peak, d.last_peak, int(transport_options::min_idle_conns_per_host)}));
}

void transport::state::trim_idle(host_conns& h, std::size_t limit) {
  while (h.idle.size() > limit) {
    conn_ptr oldest = h.idle.back();
    close_conn(oldest, errc::too_many_idle_for_host);
  }
}

// Wakes once a window while the host keeps more idle conns than the minimum, and closes those
// beyond what demand needed: a burst's surplus goes even when nothing comes back to the pool.
task<void> trim_idle_conns(transport::state* s, std::string key) {
  for (;;) {
    result<void> slept = co_await sleep_for(s->options.idle_demand_window, s->tasks.get_token());
    transport::state::host_conns& h = s->hosts[key];
    if (slept && !s->closed) s->trim_idle(h, s->note_demand(h, clock::now()));
    if (!slept || s->closed ||
        h.idle.size() <= std::size_t(transport_options::min_idle_conns_per_host)) {
      h.trimming = false;
      co_return;
    }
  }
}

void transport::state::put_or_close_idle_conn(const conn_ptr& pc, const client_trace* trace) {
  std::error_code why = try_put_idle_conn(pc);
  if (trace && trace->put_idle_conn) trace->put_idle_conn(why);
  if (why) close_conn(pc, why);
}

// Inserts pc at the front of `to` (most recently used first), in a recycled node when there is one.
detail::conn_list::iterator transport::state::link(detail::conn_list& to, const conn_ptr& pc) {
  if (spare_nodes.empty()) return to.insert(to.begin(), pc);
  to.splice(to.begin(), spare_nodes, spare_nodes.begin());
  to.front() = pc;
  return to.begin();
}

void transport::state::unlink(detail::conn_list& from, detail::conn_list::iterator it) noexcept {
  it->reset();  // (the caller holds the conn)
  spare_nodes.splice(spare_nodes.begin(), from, it);
}

void transport::state::remove_idle(const conn_ptr& pc) {
  if (pc->state != detail::persist_conn::where::idle) return;
  auto it = hosts.find(pc->key);
  if (it != hosts.end()) unlink(it->second.idle, pc->idle_it);
  unlink(lru, pc->lru_it);
  pc->watch_timer.disarm();
  pc->state = detail::persist_conn::where::active;
  pc->watch_stop.request_stop();
}

void transport::state::close_conn(const conn_ptr& pc, std::error_code why) {
  close_conn(pc, why.message());
}

void transport::state::close_conn(const conn_ptr& pc, std::string reason) {
  if (pc->state == detail::persist_conn::where::closed) return;
  remove_idle(pc);
  pc->state = detail::persist_conn::where::closed;
  ++closes[reason];
  pc->closed_reason = std::move(reason);
  pc->watch_stop.request_stop();
  pc->stream->close();
  pc->in.release();
  dec_conns_per_host(pc->key);
}

std::unique_ptr<net::stream> transport::state::hand_over(const conn_ptr& pc) {
  std::unique_ptr<net::stream> s = std::move(pc->stream);
  pc->stream = std::make_unique<net::conn>();  // (closed: close_conn closes nothing more)
  close_conn(pc, "http: connection handed over after 101 Switching Protocols");
  return s;
}

void transport::state::close_idle_connections() {
  for (dial_entry& d : dialing)
    if (closed || !d.w->waiting()) d.stop.request_stop();
  while (!lru.empty()) {
    conn_ptr pc = lru.front();
    close_conn(pc, errc::close_idle_called);
  }
  std::vector<detail::h2_conn_ptr> h2;
  for (auto& [key, h] : hosts) h2.insert(h2.end(), h.h2.begin(), h.h2.end());
  for (const detail::h2_conn_ptr& c : h2) c->close_if_idle();
}

// ---- the idle watcher (the idle half of Go's readLoop) -----------------------------------------

namespace {
constexpr duration peek_wait = std::chrono::milliseconds(100);
}  // namespace

// A conn put back is usually taken again soon: by a client looping over requests at once, by a
// proxy when its next request comes (a client's round trip later). A wait on the socket costs an
// operation and, when the conn is taken, its cancellation (~2 us of a proxied request's ~20), and
// the coroutine that waits; the conn's timer costs none of them. So only a conn still idle after
// idle_watch_delay is watched. Meanwhile a server closing it goes unseen until the conn is used,
// where a request that fails before any response byte is retried on a new conn when it can be
// (round_trip), as for a close that races the reuse anyway.
void detail::start_idle_watch(transport::state* s, persist_conn& pc) noexcept {
  if (pc.state != detail::persist_conn::where::idle || s->closed) return;
  s->spawn(watch_idle_conn(s, pc.shared_from_this(), pc.idle_generation));
}

// Waits for the socket to become readable while the conn sits idle. Anything then closes it: EOF
// is the server closing an idle conn; a "408" is swallowed (Go #32310); other bytes are
// unsolicited.
task<void> watch_idle_conn(transport::state* s, conn_ptr pc, unsigned generation) {
  if (pc->state != detail::persist_conn::where::idle || pc->idle_generation != generation ||
      s->closed)
    co_return;
  pc->watch_stop = std::stop_source();
  std::stop_token stop = pc->watch_stop.get_token();
  time_point deadline = s->options.idle_conn_timeout > duration::zero()
                            ? pc->idle_since + s->options.idle_conn_timeout
                            : no_deadline;
  result<void> ready = co_await pc->stream->wait_readable(stop, deadline);
  if (pc->state != detail::persist_conn::where::idle || pc->idle_generation != generation)
    co_return;
  if (!ready) {
    // Stopped: the conn was taken, or the transport is closing it. Anything else ends the conn:
    // the idle timeout, or an error on it (a TLS stream reports a reset as one).
    if (ready.error() == ringo::errc::timed_out)
      s->close_conn(pc, errc::idle_conn_timeout);
    else if (ready.error() != ringo::errc::operation_canceled)
      s->close_conn(pc, errc::server_closed_idle);
    co_return;
  }
  // Whatever is there closes the conn; the first bytes only tell why. They are there already (a
  // TLS stream may still wait for the rest of a record: not for long).
  char peek[64];
  result<std::size_t> n = co_await pc->stream->read(peek, stop, clock::now() + peek_wait);
  if (pc->state != detail::persist_conn::where::idle || pc->idle_generation != generation)
    co_return;
  std::string_view got(peek, n ? *n : 0);
  if (got.empty() || got.starts_with("HTTP/1.1 408") || got.starts_with("HTTP/1.0 408"))
    s->close_conn(pc, errc::server_closed_idle);
  else
    s->close_conn(pc, errc::unsolicited_response);
}

// ---- the public face --------------------------------------------------------------------------

transport::transport(transport_options options)
    : state_(std::make_shared<state>(std::move(options))) {}

// Go's Transport needs no Close; a C++ user expects RAII. A transport dropped while it still runs
// dials and idle watchers stops them, and its io_context finishes them (adopt): they keep the
// state alive, and run() does not return before they are done. Nothing aborts, nothing leaks.
transport::~transport() {
  if (!state_) return;
  // Closed in any case: a response body that outlives its transport (which the docs forbid)
  // then closes its conn at its end instead of pooling it into a state nobody will finish.
  state_->shut_down();
  if (state_->tasks.active() == 0) return;
  if (io_context* ctx = io_context::current()) ctx->adopt(state::finish(state_));
}

void transport::close_idle_connections() {
  state_->close_idle_connections();
}

task<void> transport::close() {
  std::shared_ptr<state> s = state_;
  s->shut_down();
  co_await s->tasks.join();
}

void transport::state::shut_down() {
  closed = true;
  close_idle_connections();
  // Waiters that no dial will serve any more (queued for a slot) fail now.
  for (auto& [key, h] : hosts) {
    for (const want_ptr& w : h.idle_waiters)
      if (w->waiting())
        w->result.try_deliver({nullptr, {make_error_code(errc::transport_closed), {}}});
    for (const want_ptr& w : h.dial_waiters)
      if (w->waiting())
        w->result.try_deliver({nullptr, {make_error_code(errc::transport_closed), {}}});
  }
  tasks.request_stop();
}

task<void> transport::state::finish(std::shared_ptr<state> s) {
  co_await s->tasks.join();
}

// The io_context a transport's work runs on may go first (a transport made outside run()): its
// shutdown stops the work, and the context's destructor runs it to its end.
void transport::state::spawn(task<void> t) {
  if (!context_link) {
    if (io_context* ctx = io_context::current())
      context_link.emplace(ctx->shutdown_token(), shut_down_on_stop{this});
  }
  tasks.spawn(std::move(t));
}

std::size_t transport::idle_count() const noexcept {
  return state_->lru.size();
}
std::size_t transport::waiter_count() const noexcept {
  std::size_t n = 0;
  for (const auto& [key, h] : state_->hosts) {
    n += h.idle_waiters.size();
    for (const auto& w : h.dial_waiters) n += w->in_idle_queue ? 0 : 1;
  }
  return n;
}
std::size_t transport::dial_count() const noexcept {
  return state_->dials;
}
transport_stats transport::stats() const {
  const state& st = *state_;
  transport_stats out;
  for (const auto& [key, h] : st.hosts) {
    host_pool_stats hs{key, h.idle.size(), std::size_t(h.in_use()), std::size_t(h.dialing), 0};
    for (const auto& w : h.idle_waiters) hs.waiting += w->waiting() ? 1 : 0;
    for (const auto& w : h.dial_waiters) hs.waiting += !w->in_idle_queue && w->waiting() ? 1 : 0;
    if (h.conns == 0 && hs.waiting == 0) continue;
    out.idle += hs.idle;
    out.active += hs.active;
    out.dialing += hs.dialing;
    out.waiting += hs.waiting;
    out.hosts.push_back(std::move(hs));
  }
  out.dials = st.dials;
  out.conns_got = st.conns_got;
  out.reuses = st.reuses;
  out.closed.assign(st.closes.begin(), st.closes.end());
  std::stable_sort(out.closed.begin(), out.closed.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

std::size_t transport::conns_per_host(const std::string& host_port) const noexcept {
  auto it = state_->hosts.find(host_port);
  return it == state_->hosts.end() ? 0 : std::size_t(it->second.conns);
}

}  // namespace ringo::http
