#include "ringo/net/resolver.hpp"

#include <cerrno>
#include <memory>
#include <mutex>
#include <optional>
#include <poll.h>
#include <sys/epoll.h>

#include <ares.h>

#include "ringo/net/error.hpp"
#include "ringo/runtime/operations.hpp"
#include "ringo/runtime/unique_fd.hpp"
#include "ringo/runtime/when_all.hpp"

namespace ringo::net {
namespace {

using lookup_result = result<std::vector<address>>;

bool is_ip_family(int family) {
  return family == AF_INET || family == AF_INET6;
}

// A numeric host is its own answer: no resolver needs to see it, and c-ares would send a numeric
// host of the other family to the name servers as if it were a name.
std::optional<lookup_result> numeric_answer(const std::string& host, int family) {
  auto ip = socket_address::numeric(host, 0);
  if (!ip) return std::nullopt;
  if (ip->family() != family) return lookup_result(make_error_code(errc::no_such_host));
  return lookup_result(std::vector<address>{*ip});
}

// c-ares 1.18 needs no global state on Linux, but its documentation requires the call.
int init_library() {
  static std::once_flag once;
  static int status = ARES_SUCCESS;
  std::call_once(once, [] { status = ares_library_init(ARES_LIB_INIT_ALL); });
  return status;
}

// What a lookup saw of the network, to tell apart failures c-ares 1.18 reports alike.
struct network_trace {
  bool asked_servers = false;  // c-ares opened a socket
  bool socket_error = false;   // a socket reported an error (ICMP port unreachable)
};

// c-ares 1.18 ends a query with ARES_ECONNREFUSED ("could not contact DNS servers") in three
// cases: no lookup source involved DNS at all (lookups "f" and a name missing from /etc/hosts:
// the name does not exist), a server's port refused the query, and every server answered
// SERVFAIL, REFUSED or NOTIMP (those replies are dropped and the error is left as it was).
std::error_code refused_error(const network_trace& net) {
  if (!net.asked_servers) return errc::no_such_host;
  if (net.socket_error) return errno_code(ECONNREFUSED);
  return errc::server_failure;
}

std::error_code ares_error(int status, const network_trace& net) {
  switch (status) {
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
    case ARES_ENONAME:
    case ARES_EBADNAME:  // Go reports malformed names as "no such host" too
      return errc::no_such_host;
    case ARES_ESERVFAIL:
    case ARES_EFORMERR:
    case ARES_ENOTIMP:
    case ARES_EREFUSED:
    case ARES_EBADRESP:
    case ARES_EOF:
      return errc::server_failure;
    case ARES_ECONNREFUSED:
      return refused_error(net);
    case ARES_ETIMEOUT:
      return ringo::errc::timed_out;
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
      return ringo::errc::operation_canceled;
    case ARES_ENOMEM:
      return errno_code(ENOMEM);
    case ARES_EBADFAMILY:
      return errno_code(EAFNOSUPPORT);
    case ARES_EBADSTR:
      return errc::invalid_address;  // a malformed server address in ares_options
    case ARES_EFILE:
    default:
      return errno_code(EIO);
  }
}

// What one lookup's c-ares callbacks write to. It lives in the lookup coroutine's frame, which
// outlives the channel (the channel is destroyed first, and its destruction still calls back).
struct lookup_state {
  int epoll_fd = -1;
  int family = AF_UNSPEC;
  bool localhost = false;
  bool done = false;
  network_trace net;
  int status = ARES_SUCCESS;
  std::vector<address> addrs;
};

// ARES_OPT_SOCK_STATE_CB: c-ares says which of its sockets it wants to read or write; the epoll
// set mirrors that, so one poll through the ring (on the epoll fd) covers every socket.
void on_socket_state(void* data, ares_socket_t fd, int readable, int writable) {
  auto* s = static_cast<lookup_state*>(data);
  if (!readable && !writable) {
    ::epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
    return;
  }
  s->net.asked_servers = true;
  epoll_event ev{};
  ev.events = (readable ? EPOLLIN : 0u) | (writable ? EPOLLOUT : 0u);
  ev.data.fd = fd;
  // A registration that fails (ENOMEM) is not fatal: c-ares's own timeout then ends the query.
  if (::epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT)
    ::epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

void on_addrinfo(void* data, int status, int /*timeouts*/, ares_addrinfo* info) {
  auto* s = static_cast<lookup_state*>(data);
  s->done = true;
  s->status = status;
  if (!info) return;
  for (const ares_addrinfo_node* n = info->nodes; n; n = n->ai_next) {
    if (n->ai_family != s->family) continue;
    address a(n->ai_addr, static_cast<socklen_t>(n->ai_addrlen));
    a.set_port(0);
    s->addrs.push_back(a);
  }
  ares_freeaddrinfo(info);
}

struct channel_deleter {
  void operator()(ares_channel c) const noexcept { ares_destroy(c); }
};
using channel_ptr = std::unique_ptr<ares_channeldata, channel_deleter>;

std::string join_servers(const std::vector<std::string>& servers) {
  std::string csv;
  for (const std::string& s : servers) {
    if (!csv.empty()) csv += ',';
    csv += s;
  }
  return csv;
}

// One channel per lookup: cancelling a lookup is destroying its channel, which touches no other
// lookup, and the channel reads the current resolv.conf and hosts file (as Go re-reads them).
result<channel_ptr> open_channel(const net::ares_options& o, lookup_state& s) {
  ::ares_options opts{};
  int mask = ARES_OPT_SOCK_STATE_CB;
  opts.sock_state_cb = on_socket_state;
  opts.sock_state_cb_data = &s;
  std::string lookups = o.lookups;  // c-ares takes a char* (and copies it)
  if (!lookups.empty()) {
    opts.lookups = lookups.data();
    mask |= ARES_OPT_LOOKUPS;
  }
  if (o.timeout.count() > 0) {
    opts.timeout = static_cast<int>(o.timeout.count());
    mask |= ARES_OPT_TIMEOUTMS;
  }
  if (o.tries > 0) {
    opts.tries = o.tries;
    mask |= ARES_OPT_TRIES;
  }
  ares_channel raw = nullptr;
  if (int rc = ares_init_options(&raw, &opts, mask); rc != ARES_SUCCESS) return ares_error(rc, {});
  channel_ptr channel(raw);
  if (!o.servers.empty()) {
    // Replaces resolv.conf's servers before any query exists, so none is ever sent to them.
    std::string csv = join_servers(o.servers);
    if (int rc = ares_set_servers_ports_csv(raw, csv.c_str()); rc != ARES_SUCCESS)
      return make_error_code(errc::invalid_address);
  }
  return channel;
}

// RFC 6761 §6.3: "localhost" never goes to a name server, and is the loopback address when the
// hosts file has no entry of the family (c-ares 1.18 does the same).
bool is_localhost(const std::string& host) {
  return host == "localhost";
}
address loopback(int family) {
  return *socket_address::numeric(family == AF_INET ? "127.0.0.1" : "::1", 0);
}

void start_query(ares_channel channel, const std::string& host, lookup_state& s) {
  ares_addrinfo_hints hints{};
  // localhost is asked for both families (on_addrinfo keeps s.family's) and its loopback fallback
  // is finish()'s: c-ares 1.18.1 leaks the name when it falls back itself after a hosts file that
  // lists localhost for the other family only (c-ares#439, fixed in 1.19).
  hints.ai_family = s.localhost ? AF_UNSPEC : s.family;
  // The order the source gave: lookup_ip orders the families itself, and c-ares's RFC 6724 sort
  // would connect() a probe socket per answer on the loop thread.
  hints.ai_flags = ARES_AI_NOSORT;
  ares_getaddrinfo(channel, host.c_str(), nullptr, &hints, on_addrinfo, &s);
}

// When c-ares next needs to run its timeouts (retransmit, next server, give up).
time_point next_deadline(ares_channel channel) {
  timeval tv{};
  if (!ares_timeout(channel, nullptr, &tv)) return no_deadline;
  // ares_timeout truncates to whole milliseconds: waking up early would spin until c-ares agrees
  // that the timeout has passed.
  return clock::now() + std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec) +
         std::chrono::milliseconds(1);
}

// Hands c-ares the sockets epoll reports ready, or, when none is, lets it run its timeouts.
void process_ready(ares_channel channel, int epoll_fd, lookup_state& s) {
  epoll_event events[8];
  int n = ::epoll_wait(epoll_fd, events, 8, 0);
  if (n <= 0) {
    ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    return;
  }
  for (int i = 0; i < n && !s.done; ++i) {
    int fd = events[i].data.fd;
    // An error or hangup is delivered through a read, where c-ares sees it.
    if (events[i].events & EPOLLERR) s.net.socket_error = true;
    bool readable = events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP);
    bool writable = events[i].events & EPOLLOUT;
    ares_process_fd(channel, readable ? fd : ARES_SOCKET_BAD, writable ? fd : ARES_SOCKET_BAD);
  }
}

lookup_result finish(lookup_state& s) {
  std::error_code ec = s.status == ARES_SUCCESS ? std::error_code() : ares_error(s.status, s.net);
  if (!ec && s.addrs.empty()) ec = errc::no_such_host;
  if (ec == errc::no_such_host && s.localhost) return std::vector<address>{loopback(s.family)};
  if (ec) return ec;
  return std::move(s.addrs);
}

lookup_result family_not_supported() {
  return errno_code(EAFNOSUPPORT);
}

}  // namespace

ares_resolver::ares_resolver(ares_options options) : options_(std::move(options)) {}

task<lookup_result> ares_resolver::lookup(std::string host, int family, std::stop_token stop) {
  if (!is_ip_family(family)) co_return family_not_supported();
  if (auto numeric = numeric_answer(host, family)) co_return std::move(*numeric);
  if (host.empty()) co_return make_error_code(errc::no_such_host);
  // Checked before any query is sent: the poll below would return at once, but only after a
  // pointless packet.
  if (stop.stop_requested()) co_return make_error_code(ringo::errc::operation_canceled);
  if (int rc = init_library(); rc != ARES_SUCCESS) co_return ares_error(rc, {});

  // Declared before the channel so that they outlive it: destroying the channel closes its
  // sockets (calling on_socket_state) and ends the query (calling on_addrinfo).
  lookup_state state;
  state.family = family;
  state.localhost = is_localhost(host);
  unique_fd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll) co_return errno_code(errno);
  state.epoll_fd = epoll.get();
  auto channel = open_channel(options_, state);
  if (!channel) co_return channel.error();

  start_query(channel->get(), host, state);  // may finish at once (hosts file)
  while (!state.done) {
    auto ready = co_await poll(epoll.get(), POLLIN, stop, next_deadline(channel->get()));
    // A stop (or a failed poll) ends the lookup here; the channel's destructor cancels the query.
    if (!ready && ready.error() != ringo::errc::timed_out) co_return ready.error();
    process_ready(channel->get(), epoll.get(), state);
  }
  co_return finish(state);
}

task<lookup_result> static_resolver::lookup(std::string host, int family, std::stop_token stop) {
  if (!is_ip_family(family)) co_return family_not_supported();
  auto it = answers_.find(host);
  if (it == answers_.end()) {
    if (auto numeric = numeric_answer(host, family)) co_return std::move(*numeric);
    if (!fallback_) co_return make_error_code(errc::no_such_host);
    co_return co_await fallback_->lookup(std::move(host), family, std::move(stop));
  }
  // Copied before the delay: add() may change the map while this lookup sleeps.
  const answer& a = it->second;
  std::vector<address> addrs = family == AF_INET ? a.ipv4 : a.ipv6;
  auto delay = family == AF_INET ? a.ipv4_delay : a.ipv6_delay;
  if (delay.count() > 0) {
    auto slept = co_await sleep_for(delay, std::move(stop));
    if (!slept) co_return slept.error();
  }
  if (addrs.empty()) co_return make_error_code(errc::no_such_host);
  co_return addrs;
}

task<lookup_result> lookup_ip(resolver& r, std::string host, int family, std::stop_token stop) {
  if (is_ip_family(family)) co_return co_await r.lookup(std::move(host), family, std::move(stop));
  if (family != AF_UNSPEC) co_return family_not_supported();
  auto both = co_await when_all(r.lookup(host, AF_INET6, stop), r.lookup(host, AF_INET, stop));
  lookup_result& v6 = std::get<0>(both);
  lookup_result& v4 = std::get<1>(both);
  if (!v6 && !v4) co_return v4.error();
  std::vector<address> addrs;
  if (v6) addrs = std::move(*v6);
  if (v4) addrs.insert(addrs.end(), v4->begin(), v4->end());
  co_return addrs;
}

resolver& default_resolver() {
  thread_local ares_resolver r;
  return r;
}

}  // namespace ringo::net
