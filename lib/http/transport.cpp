// The connection pool of the client transport (Go's transport.go: getConn, queueForIdleConn,
// queueForDial, dialConnFor, decConnsPerHost, tryPutIdleConn) and the idle-connection watcher.
#include <ringo/http/transport.hpp>
#include <ringo/runtime/io_context.hpp>
#include <ringo/runtime/operations.hpp>

#include "context_errors.hpp"
#include "transport_state.hpp"

namespace ringo::http {

using detail::conn_ptr;
using detail::want_conn;
using detail::want_ptr;

// ---- get_conn ---------------------------------------------------------------------------------

task<result<conn_ptr, client_error>> transport::state::get_conn(std::string key,
                                                                const client_request& req,
                                                                std::stop_token stop,
                                                                got_conn_info& info) {
  if (req.trace && req.trace->get_conn) req.trace->get_conn(key);
  if (closed) co_return client_error{make_error_code(errc::transport_closed), {}};
  if (stop.stop_requested()) co_return detail::canceled_error();
  host_conns& h = hosts[key];
  // An idle conn, most recently used first; the wall-clock check catches a watcher not yet run.
  while (!h.idle.empty()) {
    conn_ptr pc = h.idle.front();
    duration idle_for = clock::now() - pc->idle_since;
    if (options.idle_conn_timeout > duration::zero() && idle_for > options.idle_conn_timeout) {
      close_conn(pc, errc::idle_conn_timeout);
      continue;
    }
    remove_idle(pc);
    info = {true, true, idle_for};
    co_return pc;
  }
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
  if (!got->pc) co_return std::move(got->err);
  info = {got->pc->reused, false, {}};
  co_return std::move(got->pc);
}

void transport::state::queue_for_idle_conn(const want_ptr& w) {
  host_conns& h = hosts[w->key];
  w->idle_it = h.idle_waiters.insert(h.idle_waiters.end(), w);
  w->in_idle_queue = true;
}

void transport::state::queue_for_dial(const want_ptr& w) {
  host_conns& h = hosts[w->key];
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

}  // namespace

// The dial belongs to the transport, not to the request: a conn arriving after its waiter was
// served elsewhere or gave up goes to the pool (Go #59017, late binding).
task<void> dial_conn_for(transport::state* s, transport::state::dial_list::iterator entry) {
  want_ptr w = entry->w;
  std::stop_token stop = entry->stop.get_token();
  std::string key = w->key;
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
  s->dialing.erase(entry);
  if (!dialed) {
    net::op_error e = dialed.error();
    if (w->waiting()) w->result.try_deliver({nullptr, client_error{e.code(), e.message()}});
    s->dec_conns_per_host(key);
    co_return;
  }
  auto pc =
      std::make_shared<detail::persist_conn>(key, std::make_unique<net::conn>(std::move(*dialed)));
  if (w->waiting() && w->result.try_deliver({pc, {}})) co_return;
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
  host_conns& h = hosts[pc->key];
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
  std::size_t per_host =
      options.max_idle_conns_per_host == 0 ? 2 : std::size_t(options.max_idle_conns_per_host);
  if (h.idle.size() >= per_host) return errc::too_many_idle_for_host;
  pc->state = detail::persist_conn::where::idle;
  pc->idle_since = clock::now();
  pc->idle_it = h.idle.insert(h.idle.begin(), pc);
  pc->lru_it = lru.insert(lru.begin(), pc);
  ++pc->idle_generation;
  spawn(watch_idle_conn(this, pc, pc->idle_generation));
  if (options.max_idle_conns > 0 && lru.size() > std::size_t(options.max_idle_conns)) {
    conn_ptr oldest = lru.back();
    close_conn(oldest, errc::too_many_idle);
  }
  return {};
}

void transport::state::put_or_close_idle_conn(const conn_ptr& pc, const client_trace* trace) {
  std::error_code why = try_put_idle_conn(pc);
  if (trace && trace->put_idle_conn) trace->put_idle_conn(why);
  if (why) close_conn(pc, why);
}

void transport::state::remove_idle(const conn_ptr& pc) {
  if (pc->state != detail::persist_conn::where::idle) return;
  auto it = hosts.find(pc->key);
  if (it != hosts.end()) it->second.idle.erase(pc->idle_it);
  lru.erase(pc->lru_it);
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
}

// ---- the idle watcher (the idle half of Go's readLoop) -----------------------------------------

namespace {
constexpr duration peek_wait = std::chrono::milliseconds(100);
}  // namespace

// Waits for the socket to become readable while the conn sits idle. Anything then closes it: EOF
// is the server closing an idle conn; a "408" is swallowed (Go #32310); other bytes are
// unsolicited.
task<void> watch_idle_conn(transport::state* s, conn_ptr pc, unsigned generation) {
  // A conn put back is often taken again at once (a client looping over requests): let the ready
  // coroutines run first, and watch only a conn still idle after them. That saves a poll SQE and
  // its cancellation per request.
  co_await yield();
  if (pc->state != detail::persist_conn::where::idle || pc->idle_generation != generation)
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
    if (ready.error() == ringo::errc::timed_out) s->close_conn(pc, errc::idle_conn_timeout);
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
  if (!state_ || state_->tasks.active() == 0) return;
  state_->shut_down();
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
std::size_t transport::conns_per_host(const std::string& host_port) const noexcept {
  auto it = state_->hosts.find(host_port);
  return it == state_->hosts.end() ? 0 : std::size_t(it->second.conns);
}

}  // namespace ringo::http
