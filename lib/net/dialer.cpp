#include "ringo/net/dialer.hpp"

#include <algorithm>
#include <cerrno>
#include <sys/socket.h>

#include "ringo/runtime/event.hpp"
#include "ringo/runtime/operations.hpp"
#include "ringo/runtime/scope.hpp"
#include "ringo/runtime/socket.hpp"
#include "ringo/runtime/when_all.hpp"

namespace ringo::net {
namespace {

using namespace std::chrono_literals;
using dial_result = dialer::dial_result;

// What every attempt of one dial shares (Go's dialContext).
struct dial_context {
  const dialer* d;
  std::string network;
  time_point deadline;  // for the whole dial
};

dial_context make_context(const dialer& d, std::string network) {
  time_point deadline = d.deadline;
  if (d.timeout > duration::zero()) deadline = std::min(deadline, clock::now() + d.timeout);
  return {&d, std::move(network), deadline};
}

std::string source_text(const dialer& d) {
  return d.local_address ? d.local_address->to_string() : std::string();
}

op_error dial_error(const dial_context& ctx, std::string address, std::error_code ec) {
  return {.op = "dial",
          .network = ctx.network,
          .source = source_text(*ctx.d),
          .address = std::move(address),
          .err = ec};
}

template <typename F, typename... Args>
void notify(const F& hook, Args&&... args) {
  if (hook) hook(clock::now(), std::forward<Args>(args)...);
}

// One connect through the ring, bound first to the dialer's local address if it has one.
task<dial_result> connect_one(const dial_context* ctx, address ra, time_point deadline,
                              std::stop_token stop) {
  const dialer& d = *ctx->d;
  op_error err = dial_error(*ctx, ra.to_string(), {});
  if (d.local_address && d.local_address->family() != ra.family()) {
    err.err = errc::mismatched_local;
    co_return err;
  }
  auto fd = open_socket(ra.family(), SOCK_STREAM);
  if (!fd) {
    err.syscall = "socket";
    err.err = fd.error();
    co_return err;
  }
  if (d.local_address && ::bind(fd->get(), d.local_address->data(), d.local_address->size()) != 0) {
    err.syscall = "bind";
    err.err = errno_code(errno);
    co_return err;
  }
  auto connected = co_await connect(fd->get(), ra, std::move(stop), deadline);
  if (!connected) {
    // Go names the system call only for errors that came from it ("connect: connection
    // refused"), not for a cancellation or a timeout ("i/o timeout").
    if (connected.error().category() == std::system_category()) err.syscall = "connect";
    err.err = connected.error();
    co_return err;
  }
  conn c(std::move(*fd), ctx->network);
  if (!ra.is_unix()) (void)c.set_nodelay(true);  // Go's default for TCP
  co_return c;
}

// Go's dialSingle: one address, through the hook when tests install one.
task<dial_result> dial_single(const dial_context* ctx, address ra, time_point deadline,
                              std::stop_token stop) {
  const dialer& d = *ctx->d;
  if (d.trace) notify(d.trace->connect_start, ra);
  dial_result r = op_error{};
  if (d.dial_hook)
    r = co_await d.dial_hook(ra, deadline, std::move(stop));
  else
    r = co_await connect_one(ctx, ra, deadline, std::move(stop));
  if (d.trace) notify(d.trace->connect_done, ra, r ? std::error_code() : r.error().err);
  co_return r;
}

// Go's dialSerial: addresses in order, each with an equal share of the time left; the first
// success wins, otherwise the first error (the most relevant), with every attempt attached.
task<dial_result> dial_serial_impl(const dial_context* ctx, std::vector<address> addrs,
                                   std::stop_token stop) {
  std::optional<op_error> first;
  std::vector<op_error> attempts;
  for (std::size_t i = 0; i < addrs.size(); ++i) {
    if (stop.stop_requested()) {
      // Keep the error of the attempt the stop interrupted: addrs[i] was never tried.
      if (!first) first = dial_error(*ctx, addrs[i].to_string(), ringo::errc::operation_canceled);
      break;
    }
    auto deadline = partial_deadline(clock::now(), ctx->deadline, addrs.size() - i);
    if (!deadline) {
      if (!first) first = dial_error(*ctx, addrs[i].to_string(), deadline.error());
      break;
    }
    auto c = co_await dial_single(ctx, addrs[i], *deadline, stop);
    if (c) co_return c;
    attempts.push_back(c.error());
    if (!first) first = c.error();
  }
  if (stop.stop_requested() && !(first && first->canceled()))
    first = dial_error(*ctx, first ? first->address : "", ringo::errc::operation_canceled);
  if (!first) first = dial_error(*ctx, "", errc::missing_address);
  first->attempts = std::move(attempts);
  co_return std::move(*first);
}

std::vector<op_error> merged_attempts(const dial_result& a, const dial_result& b) {
  std::vector<op_error> all;
  for (const dial_result* r : {&a, &b})
    if (!*r) {
      auto attempts = r->error().attempts;
      all.insert(all.end(), attempts.begin(), attempts.end());
    }
  return all;
}

task<void> primary_racer(const dial_context* ctx, std::vector<address> addrs, std::stop_token stop,
                         dial_result* out, event* failed, scope* racers) {
  *out = co_await dial_serial_impl(ctx, std::move(addrs), std::move(stop));
  if (*out)
    racers->request_stop();
  else
    failed->set();  // hasten the fallback
}

task<void> fallback_racer(const dial_context* ctx, std::vector<address> addrs, time_point start_at,
                          std::stop_token stop, dial_result* out, event* primary_failed,
                          scope* racers) {
  // Wait for the head start to pass, or for the primary to fail; a stop ends the race for us.
  auto waited = co_await primary_failed->wait(stop, start_at);
  if (!waited && waited.error() == ringo::errc::operation_canceled) {
    *out = dial_error(*ctx, addrs.front().to_string(), ringo::errc::operation_canceled);
    co_return;
  }
  *out = co_await dial_serial_impl(ctx, std::move(addrs), std::move(stop));
  if (*out) racers->request_stop();
}

// Go's dialParallel in its structured form (Go commit 23fa2b6): both racers are awaited before
// returning; the primary is preferred, a spare connection is closed; else the primary's error.
task<dial_result> dial_parallel_impl(const dial_context* ctx, std::vector<address> primaries,
                                     std::vector<address> fallbacks, std::stop_token stop) {
  if (fallbacks.empty()) co_return co_await dial_serial_impl(ctx, std::move(primaries), stop);
  duration delay = ctx->d->effective_fallback_delay();
  time_point now = clock::now();
  if (ctx->deadline !=
      no_deadline)  // beyond Go: a short timeout must still leave the fallback time
    delay = std::min(delay, std::max(duration::zero(), (ctx->deadline - now) / 2));

  dial_result primary = op_error{};
  dial_result fallback = op_error{};
  event primary_failed;
  scope racers(stop);
  racers.spawn(primary_racer(ctx, std::move(primaries), racers.get_token(), &primary,
                             &primary_failed, &racers));
  racers.spawn(fallback_racer(ctx, std::move(fallbacks), now + delay, racers.get_token(), &fallback,
                              &primary_failed, &racers));
  co_await racers.join();

  if (primary) co_return std::move(primary);  // a connected fallback closes as it goes out of scope
  if (fallback) co_return std::move(fallback);
  op_error err = primary.error();
  err.attempts = merged_attempts(primary, fallback);
  co_return err;
}

task<result<void>> sleep_task(time_point until, std::stop_token stop) {
  co_return co_await sleep_until(until, std::move(stop));
}

// Resolves `host` for `family` by the dial's deadline.
task<result<std::vector<address>>> resolve(const dial_context* ctx, std::string host, int family,
                                           std::stop_token stop) {
  const dialer& d = *ctx->d;
  resolver& r = d.name_resolver ? *d.name_resolver : default_resolver();
  if (d.trace) notify(d.trace->resolve_start, host);
  result<std::vector<address>> addrs = std::vector<address>{};
  if (ctx->deadline == no_deadline) {
    addrs = co_await lookup_ip(r, host, family, stop);
  } else {
    // Named lambdas: GCC 12 miscompiles a capturing lambda temporary beside a co_await.
    auto lookup = [&](std::stop_token st) { return lookup_ip(r, host, family, std::move(st)); };
    auto expire = [&](std::stop_token st) { return sleep_task(ctx->deadline, std::move(st)); };
    auto race = co_await when_any(stop, lookup, expire);
    if (race.index == 0)
      addrs = std::move(*std::get<0>(race.values));
    else if (stop.stop_requested())
      addrs = make_error_code(ringo::errc::operation_canceled);
    else
      addrs = make_error_code(ringo::errc::timed_out);
  }
  if (d.trace)
    notify(d.trace->resolve_done, host, addrs ? *addrs : std::vector<address>{}, addrs.error());
  co_return addrs;
}

int family_of(std::string_view network) {
  if (network == "tcp4") return AF_INET;
  if (network == "tcp6") return AF_INET6;
  return AF_UNSPEC;
}

// RFC 8305: both families resolved concurrently, attempts started as answers arrive, interleaved
// by family and staggered by the connection attempt delay while earlier ones continue.
struct he2_state {
  const dial_context* ctx;
  std::vector<address> v6, v4;  // not yet tried, in resolver order
  std::size_t next6 = 0, next4 = 0;
  bool v6_done = false, v4_done = false;
  std::error_code v6_error, v4_error;
  time_point v4_arrived = no_deadline;
  bool last_was_v6 = false;
  std::size_t in_flight = 0;
  std::optional<conn> winner;
  std::vector<op_error> errors;
  event changed;
  scope* attempts = nullptr;

  bool pending() const { return next6 < v6.size() || next4 < v4.size(); }
  address take() {
    bool want6 = !last_was_v6 || next4 >= v4.size();
    if (want6 && next6 < v6.size()) {
      last_was_v6 = true;
      return v6[next6++];
    }
    last_was_v6 = false;
    return v4[next4++];
  }
};

task<void> he2_resolve(he2_state* s, std::string host, int family, std::stop_token stop) {
  auto addrs = co_await resolve(s->ctx, std::move(host), family, std::move(stop));
  bool v6 = family == AF_INET6;
  (v6 ? s->v6_done : s->v4_done) = true;
  if (addrs)
    (v6 ? s->v6 : s->v4) = std::move(*addrs);
  else
    (v6 ? s->v6_error : s->v4_error) = addrs.error();
  if (!v6) s->v4_arrived = clock::now();
  s->changed.set();
}

task<void> he2_attempt(he2_state* s, address ra, std::stop_token stop) {
  auto c = co_await dial_single(s->ctx, ra, s->ctx->deadline, std::move(stop));
  --s->in_flight;
  if (c) {
    if (!s->winner) {
      s->winner = std::move(*c);
      s->attempts->request_stop();
    }  // else: a loser that connected too; it closes here
  } else {
    s->errors.push_back(c.error());
  }
  s->changed.set();
}

task<dial_result> dial_he2(const dial_context* ctx, std::string host, std::uint16_t port,
                           std::stop_token stop) {
  const dialer& d = *ctx->d;
  he2_state s{.ctx = ctx};
  scope attempts(stop);
  s.attempts = &attempts;
  attempts.spawn(he2_resolve(&s, host, AF_INET6, attempts.get_token()));
  attempts.spawn(he2_resolve(&s, host, AF_INET, attempts.get_token()));
  time_point last_start = time_point::min();
  std::error_code failure;
  while (!s.winner) {
    time_point now = clock::now();
    // Resolution Delay: an A answer alone waits a little for the AAAA answer.
    bool answers_usable = s.v6_done || (s.v4_done && now >= s.v4_arrived + d.resolution_delay);
    time_point next_slot = s.in_flight == 0 ? now : last_start + d.effective_attempt_delay();
    if (s.pending() && answers_usable && now >= next_slot) {
      address a = s.take();
      a.set_port(port);
      ++s.in_flight;
      last_start = now;
      attempts.spawn(he2_attempt(&s, a, attempts.get_token()));
      continue;
    }
    if (!s.pending() && s.in_flight == 0 && s.v6_done && s.v4_done) break;  // all failed
    time_point wake = ctx->deadline;
    if (s.pending() && answers_usable) wake = std::min(wake, next_slot);
    if (!answers_usable && s.v4_done) wake = std::min(wake, s.v4_arrived + d.resolution_delay);
    s.changed.reset();
    auto woke = co_await s.changed.wait(stop, wake);
    if (!woke &&
        (woke.error() == ringo::errc::operation_canceled || clock::now() >= ctx->deadline)) {
      failure = woke.error();
      break;
    }
  }
  attempts.request_stop();
  co_await attempts.join();

  if (s.winner) co_return std::move(*s.winner);
  op_error err = dial_error(*ctx, "", failure);
  if (!failure) {
    if (!s.errors.empty()) {
      err = s.errors.front();
    } else {  // nothing to try: the lookup failed
      err.syscall = "lookup " + host;
      err.err = s.v4_error ? s.v4_error : s.v6_error;
      if (!err.err) err.err = errc::no_such_host;
    }
  }
  err.attempts = std::move(s.errors);
  co_return err;
}

task<dial_result> dial_impl(const dialer* d, std::string network, std::string where,
                            std::stop_token stop) {
  dial_context ctx = make_context(*d, network);
  op_error err = dial_error(ctx, where, {});
  if (network == "unix") {
    auto a = address::unix_path(where);
    if (!a) {
      err.err = errc::invalid_address;
      co_return err;
    }
    std::vector<address> one{*a};
    co_return co_await dial_serial_impl(&ctx, std::move(one), stop);
  }
  if (network != "tcp" && network != "tcp4" && network != "tcp6") {
    err.err = errc::unknown_network;
    co_return err;
  }
  auto hp = split_host_port(where);
  auto port = hp ? parse_port(hp->port) : result<std::uint16_t>(hp.error());
  if (!port) {
    err.err = port.error();
    co_return err;
  }
  int family = family_of(network);
  // An empty host is the local system (Go dials the unspecified address), in the network's family.
  std::string_view host = hp->host;
  if (host.empty()) host = family == AF_INET6 ? "::1" : "127.0.0.1";
  std::vector<address> addrs;
  if (auto numeric = address::numeric(host, *port)) {
    if (family != AF_UNSPEC && numeric->family() != family) {
      err.err = errc::invalid_address;
      co_return err;
    }
    addrs.push_back(*numeric);
  } else if (d->happy_eyeballs_v2 && d->fallback_delay >= duration::zero() && network == "tcp") {
    co_return co_await dial_he2(&ctx, hp->host, *port, stop);
  } else {
    auto found = co_await resolve(&ctx, hp->host, family, stop);
    if (!found) {
      err.address.clear();  // Go: "dial tcp: lookup nosuch: no such host"
      err.syscall = "lookup " + hp->host;
      err.err = found.error();
      co_return err;
    }
    addrs = std::move(*found);
    for (address& a : addrs) a.set_port(*port);
  }

  std::vector<address> primaries, fallbacks;
  // (Go's DualStack is deprecated: a negative FallbackDelay turns Happy Eyeballs off.)
  bool happy_eyeballs = network == "tcp" && d->fallback_delay >= duration::zero();
  for (address& a : addrs)
    (happy_eyeballs && a.family() != addrs.front().family() ? fallbacks : primaries).push_back(a);
  co_return co_await dial_parallel_impl(&ctx, std::move(primaries), std::move(fallbacks), stop);
}

}  // namespace

result<time_point> partial_deadline(time_point now, time_point deadline,
                                    std::size_t addrs_remaining) {
  if (deadline == no_deadline) return no_deadline;
  duration remaining = deadline - now;
  if (remaining <= duration::zero()) return make_error_code(ringo::errc::timed_out);
  duration share =
      remaining / static_cast<duration::rep>(std::max<std::size_t>(addrs_remaining, 1));
  constexpr duration sane_minimum = 2s;  // steal from the end of the list rather than starve all
  if (share < sane_minimum) share = std::min(remaining, sane_minimum);
  return now + share;
}

duration dialer::effective_fallback_delay() const noexcept {
  return fallback_delay > duration::zero() ? fallback_delay : duration(300ms);
}

duration dialer::effective_attempt_delay() const noexcept {
  return std::clamp<duration>(connection_attempt_delay, 10ms, 2s);
}

task<dialer::dial_result> dialer::dial(std::string network, std::string addr,
                                       std::stop_token stop) const {
  auto c = co_await dial_impl(this, network, std::move(addr), std::move(stop));
  if (c && network != "unix" && keep_alive >= duration::zero()) {
    auto period = keep_alive > duration::zero() ? keep_alive : duration(15s);
    (void)c->set_keepalive(true, std::chrono::ceil<std::chrono::seconds>(period));
  }
  co_return c;
}

task<dialer::dial_result> dialer::dial_serial(std::string network, std::vector<net::address> addrs,
                                              std::stop_token stop) const {
  dial_context ctx = make_context(*this, std::move(network));
  co_return co_await dial_serial_impl(&ctx, std::move(addrs), std::move(stop));
}

task<dialer::dial_result> dialer::dial_parallel(std::string network,
                                                std::vector<net::address> primaries,
                                                std::vector<net::address> fallbacks,
                                                std::stop_token stop) const {
  dial_context ctx = make_context(*this, std::move(network));
  co_return co_await dial_parallel_impl(&ctx, std::move(primaries), std::move(fallbacks),
                                        std::move(stop));
}

task<result<conn, op_error>> dial(std::string network, std::string addr, std::stop_token stop) {
  dialer d;
  co_return co_await d.dial(std::move(network), std::move(addr), std::move(stop));
}

}  // namespace ringo::net
