// The resolver against real sockets, loopback only. No test lets c-ares ask the system's name
// servers: every ares_resolver here either reads only the hosts file (lookups "f") or points
// options.servers at fake_dns_server on 127.0.0.1.
#include <arpa/inet.h>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <random>
#include <sched.h>
#include <span>
#include <string>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include <ringo/net/error.hpp>
#include <ringo/net/resolver.hpp>

#include "ringo_test.hpp"

namespace ringo::net {
namespace {

using namespace std::chrono_literals;
using test::ms;
using test::RingoTest;
using lookup_result = result<std::vector<address>>;

// A DNS server on 127.0.0.1 (UDP, its own thread, so it works whatever the runtime under test
// does). It answers A and AAAA queries from its table, each family after its own delay; a known
// name without records of the asked type gets an empty answer (NODATA), an unknown name NXDOMAIN.
// When silent it drops every query, so a lookup hangs until stopped or timed out.
class fake_dns_server {
 public:
  struct record {
    std::vector<std::string> a;     // IPv4 answers, in this order
    std::vector<std::string> aaaa;  // IPv6 answers
    std::chrono::milliseconds a_delay{0};
    std::chrono::milliseconds aaaa_delay{0};
    bool servfail = false;
  };

  fake_dns_server() {
    sock_ = open_socket(AF_INET, SOCK_DGRAM).value();
    auto any_port = socket_address::numeric("127.0.0.1", 0).value();
    if (::bind(sock_.get(), any_port.data(), any_port.size()) != 0)
      throw std::system_error(errno, std::system_category(), "bind");
    port_ = local_address(sock_.get()).value().port();
    wake_ = unique_fd(::eventfd(0, EFD_CLOEXEC));
    thread_ = std::thread([this] { serve(); });
  }
  ~fake_dns_server() {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof one);
    thread_.join();
  }

  void add(std::string name, record r) {
    std::lock_guard lock(mu_);
    records_[std::move(name)] = std::move(r);
  }
  void set_silent(bool silent) { silent_ = silent; }
  // For ares_options::servers.
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int queries() const { return queries_; }

 private:
  struct pending_reply {
    clock::time_point due;
    std::vector<std::uint8_t> bytes;
    sockaddr_storage peer;
    socklen_t peer_len;
  };
  struct question {
    std::uint16_t id;
    std::uint16_t flags;
    std::string name;  // lower case, dotted
    std::uint16_t type;
    std::span<const std::uint8_t> wire;  // the question section, to echo
  };

  void serve() {
    std::vector<pending_reply> pending;
    for (;;) {
      pollfd fds[2] = {{sock_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
      ::poll(fds, 2, poll_timeout(pending));
      if (fds[1].revents) return;
      if (fds[0].revents) receive(pending);
      send_due(pending);
    }
  }

  static int poll_timeout(const std::vector<pending_reply>& pending) {
    if (pending.empty()) return -1;
    auto first = pending.front().due;
    for (const auto& p : pending) first = std::min(first, p.due);
    auto left = std::chrono::ceil<std::chrono::milliseconds>(first - clock::now());
    return static_cast<int>(std::max<long>(left.count(), 0));
  }

  void receive(std::vector<pending_reply>& pending) {
    std::uint8_t buf[1500];
    pending_reply reply{};
    reply.peer_len = sizeof reply.peer;
    ssize_t n = ::recvfrom(sock_.get(), buf, sizeof buf, 0,
                           reinterpret_cast<sockaddr*>(&reply.peer), &reply.peer_len);
    if (n <= 0) return;
    ++queries_;
    if (silent_) return;
    auto q = parse(std::span<const std::uint8_t>(buf, static_cast<std::size_t>(n)));
    if (!q) return;
    std::chrono::milliseconds delay{0};
    reply.bytes = respond(*q, delay);
    reply.due = clock::now() + delay;
    pending.push_back(std::move(reply));
  }

  void send_due(std::vector<pending_reply>& pending) {
    auto now = clock::now();
    std::erase_if(pending, [&](const pending_reply& p) {
      if (p.due > now) return false;
      ::sendto(sock_.get(), p.bytes.data(), p.bytes.size(), 0,
               reinterpret_cast<const sockaddr*>(&p.peer), p.peer_len);
      return true;
    });
  }

  static std::uint16_t get16(std::span<const std::uint8_t> b, std::size_t at) {
    return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]);
  }
  static void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
  }

  // The header and the one question of a query (RFC 1035 §4.1); nullopt for anything else.
  static std::optional<question> parse(std::span<const std::uint8_t> b) {
    if (b.size() < 12 || get16(b, 4) != 1) return std::nullopt;
    question q{get16(b, 0), get16(b, 2), {}, 0, {}};
    std::size_t at = 12;
    while (at < b.size() && b[at] != 0) {
      std::size_t len = b[at++];
      if (len > 63 || at + len > b.size()) return std::nullopt;
      if (!q.name.empty()) q.name += '.';
      for (std::size_t i = 0; i < len; ++i) q.name += static_cast<char>(std::tolower(b[at + i]));
      at += len;
    }
    if (at + 5 > b.size()) return std::nullopt;
    q.type = get16(b, at + 1);
    q.wire = b.subspan(12, at + 5 - 12);
    return q;
  }

  std::vector<std::uint8_t> respond(const question& q, std::chrono::milliseconds& delay) {
    constexpr std::uint16_t type_a = 1, type_aaaa = 28;
    std::lock_guard lock(mu_);
    auto it = records_.find(q.name);
    std::uint16_t rcode = it == records_.end() ? 3 : it->second.servfail ? 2 : 0;
    std::vector<std::vector<std::uint8_t>> rdata;
    if (rcode == 0 && (q.type == type_a || q.type == type_aaaa)) {
      bool v6 = q.type == type_aaaa;
      delay = v6 ? it->second.aaaa_delay : it->second.a_delay;
      for (const std::string& ip : v6 ? it->second.aaaa : it->second.a) {
        std::vector<std::uint8_t> raw(v6 ? 16 : 4);
        ::inet_pton(v6 ? AF_INET6 : AF_INET, ip.c_str(), raw.data());
        rdata.push_back(std::move(raw));
      }
    }
    std::vector<std::uint8_t> out;
    put16(out, q.id);
    // QR, AA and RA set; RD echoed from the query.
    put16(out, static_cast<std::uint16_t>(0x8480 | (q.flags & 0x0100) | rcode));
    put16(out, 1);
    put16(out, static_cast<std::uint16_t>(rdata.size()));
    put16(out, 0);
    put16(out, 0);
    out.insert(out.end(), q.wire.begin(), q.wire.end());
    for (const auto& rd : rdata) {
      put16(out, 0xc00c);  // the name: a pointer to the question's
      put16(out, q.type);
      put16(out, 1);  // class IN
      put16(out, 0);
      put16(out, 60);  // TTL
      put16(out, static_cast<std::uint16_t>(rd.size()));
      out.insert(out.end(), rd.begin(), rd.end());
    }
    return out;
  }

  unique_fd sock_;
  unique_fd wake_;
  std::uint16_t port_ = 0;
  std::mutex mu_;
  std::map<std::string, record> records_;
  std::atomic<bool> silent_{false};
  std::atomic<int> queries_{0};
  std::thread thread_;
};

// The only ways tests build an ares_resolver: neither can reach a name server off this machine.
ares_options hosts_file_only() {
  return {.lookups = "f"};
}
ares_options fake_server(const fake_dns_server& server, std::chrono::milliseconds timeout = 2000ms,
                         int tries = 1) {
  return {.servers = {server.address()}, .lookups = "b", .timeout = timeout, .tries = tries};
}

std::vector<std::string> hosts(const std::vector<address>& addrs) {
  std::vector<std::string> out;
  for (const address& a : addrs) out.push_back(a.host());
  return out;
}
std::vector<std::string> hosts(const lookup_result& r) {
  return r ? hosts(*r) : std::vector<std::string>{"error: " + r.error().message()};
}

lookup_result lookup(resolver& r, std::string host, int family) {
  return run(r.lookup(std::move(host), family, {}));
}
lookup_result lookup_both(resolver& r, std::string host) {
  return run(lookup_ip(r, std::move(host), AF_UNSPEC, {}));
}

task<void> stop_after(std::stop_source* source, duration delay, time_point* stopped_at) {
  (void)co_await sleep_for(delay);
  *stopped_at = clock::now();
  source->request_stop();
}

struct stopped_lookup {
  lookup_result result;
  double ms_after_stop;  // from the stop request to the lookup's return
};

// lookup_ip(host, family), with stop requested `delay` after it starts.
task<stopped_lookup> lookup_and_stop(resolver* r, std::string host, int family, duration delay) {
  std::stop_source source;
  time_point stopped_at = clock::now();
  scope s;
  s.spawn(stop_after(&source, delay, &stopped_at));
  auto res = co_await lookup_ip(*r, std::move(host), family, source.get_token());
  auto returned = clock::now();
  co_await s.join();
  co_return stopped_lookup{std::move(res), ms(returned - stopped_at)};
}

// Suites named after what they test; each is the fd-leak fixture.
class AresResolver : public RingoTest {};
class LookupIp : public RingoTest {};
class StaticResolver : public RingoTest {};
class DefaultResolver : public RingoTest {};

// --- ares_resolver: the hosts file ---

TEST_F(AresResolver, FindsLocalhostInTheHostsFile) {
  ares_resolver r(hosts_file_only());
  EXPECT_EQ(hosts(lookup(r, "localhost", AF_INET)), std::vector<std::string>{"127.0.0.1"});
}

// /etc/hosts has no "::1 localhost" here; c-ares (since 1.18, RFC 6761 §6.3) answers localhost's
// loopback address itself rather than asking anyone.
TEST_F(AresResolver, AnswersIpv6LocalhostWithoutAHostsEntry) {
  ares_resolver r(hosts_file_only());
  EXPECT_EQ(hosts(lookup(r, "localhost", AF_INET6)), std::vector<std::string>{"::1"});
}

// RFC 6761 §6.3: localhost is never sent to a name server.
TEST_F(AresResolver, LocalhostNeverReachesTheServer) {
  fake_dns_server server;
  server.add("localhost", {.a = {"127.0.0.9"}, .aaaa = {"fd00::9"}});
  ares_resolver r(fake_server(server));  // DNS only: not even the hosts file
  EXPECT_EQ(hosts(lookup_both(r, "localhost")), (std::vector<std::string>{"::1", "127.0.0.1"}));
  EXPECT_EQ(server.queries(), 0);
}

TEST_F(AresResolver, NameMissingFromTheHostsFileIsNoSuchHost) {
  ares_resolver r(hosts_file_only());
  for (int family : {AF_INET, AF_INET6}) {
    auto res = lookup(r, "nosuch.ringo.test", family);
    EXPECT_EQ(res.error(), errc::no_such_host) << res.error().message();
  }
  EXPECT_EQ(lookup(r, "", AF_INET).error(), errc::no_such_host);
}

TEST_F(AresResolver, NumericHostAnswersItselfWithoutAQuery) {
  fake_dns_server server;
  ares_resolver r(fake_server(server));
  EXPECT_EQ(hosts(lookup(r, "127.0.0.1", AF_INET)), std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ(hosts(lookup(r, "::1", AF_INET6)), std::vector<std::string>{"::1"});
  EXPECT_EQ(lookup(r, "::1", AF_INET).error(), errc::no_such_host);
  EXPECT_EQ(lookup(r, "127.0.0.1", AF_INET6).error(), errc::no_such_host);
  EXPECT_EQ(server.queries(), 0);
}

TEST_F(AresResolver, RejectsFamiliesOtherThanIp) {
  ares_resolver r(hosts_file_only());
  EXPECT_EQ(lookup(r, "localhost", AF_UNIX).error(), std::errc::address_family_not_supported);
  EXPECT_EQ(lookup(r, "localhost", AF_UNSPEC).error(), std::errc::address_family_not_supported);
}

// --- ares_resolver: DNS, from the fake server ---

TEST_F(AresResolver, ReturnsAAnswersInTheServersOrder) {
  fake_dns_server server;
  server.add("v4.ringo.test", {.a = {"127.0.0.3", "127.0.0.2", "127.0.0.4"}});
  ares_resolver r(fake_server(server));
  auto res = lookup(r, "v4.ringo.test", AF_INET);
  EXPECT_EQ(hosts(res), (std::vector<std::string>{"127.0.0.3", "127.0.0.2", "127.0.0.4"}));
  ASSERT_TRUE(res);
  for (const address& a : *res) EXPECT_EQ(a.port(), 0);
}

TEST_F(AresResolver, ReturnsAaaaAnswers) {
  fake_dns_server server;
  server.add("v6.ringo.test", {.aaaa = {"::1", "fd00::53"}});
  ares_resolver r(fake_server(server));
  EXPECT_EQ(hosts(lookup(r, "v6.ringo.test", AF_INET6)),
            (std::vector<std::string>{"::1", "fd00::53"}));
}

TEST_F(AresResolver, MatchesNamesCaseInsensitively) {
  fake_dns_server server;
  server.add("v4.ringo.test", {.a = {"127.0.0.2"}});
  ares_resolver r(fake_server(server));
  EXPECT_EQ(hosts(lookup(r, "V4.Ringo.TEST", AF_INET)), std::vector<std::string>{"127.0.0.2"});
}

TEST_F(AresResolver, NxdomainIsNoSuchHost) {
  fake_dns_server server;
  ares_resolver r(fake_server(server));
  auto res = lookup(r, "nosuch.ringo.test", AF_INET);
  EXPECT_EQ(res.error(), errc::no_such_host) << res.error().message();
  EXPECT_EQ(error_text(res.error()), "no such host");
  EXPECT_GE(server.queries(), 1);
}

TEST_F(AresResolver, NameWithoutRecordsOfTheFamilyIsNoSuchHost) {
  fake_dns_server server;
  server.add("v4.ringo.test", {.a = {"127.0.0.2"}});
  ares_resolver r(fake_server(server));
  auto res = lookup(r, "v4.ringo.test", AF_INET6);
  EXPECT_EQ(res.error(), errc::no_such_host) << res.error().message();
}

TEST_F(AresResolver, ServfailIsServerFailure) {
  fake_dns_server server;
  server.add("broken.ringo.test", {.a = {"127.0.0.2"}, .servfail = true});
  ares_resolver r(fake_server(server, 2000ms, 2));
  auto res = lookup(r, "broken.ringo.test", AF_INET);
  EXPECT_EQ(res.error(), errc::server_failure) << res.error().message();
  EXPECT_EQ(error_text(res.error()), "server misbehaving");
}

TEST_F(AresResolver, SilentServerTimesOut) {
  fake_dns_server server;
  server.set_silent(true);
  ares_resolver r(fake_server(server, 50ms, 1));
  auto start = clock::now();
  auto res = lookup(r, "v4.ringo.test", AF_INET);
  EXPECT_EQ(res.error(), ringo::errc::timed_out) << res.error().message();
  EXPECT_GE(ms(clock::now() - start), 45);
  EXPECT_LT(ms(clock::now() - start), 1000);
}

TEST_F(AresResolver, ServerThatRefusesIsConnectionRefused) {
  // A loopback UDP port nobody listens on: the kernel answers the query with ICMP port unreachable.
  socket_address closed;
  {
    auto fd = open_socket(AF_INET, SOCK_DGRAM).value();
    auto any_port = socket_address::numeric("127.0.0.1", 0).value();
    ASSERT_EQ(::bind(fd.get(), any_port.data(), any_port.size()), 0);
    closed = local_address(fd.get()).value();
  }
  ares_resolver r({.servers = {closed.to_string()}, .lookups = "b", .timeout = 2000ms, .tries = 2});
  auto start = clock::now();
  auto res = lookup(r, "v4.ringo.test", AF_INET);
  EXPECT_EQ(res.error(), std::errc::connection_refused) << res.error().message();
  EXPECT_EQ(error_text(res.error()), "connection refused");
  EXPECT_LT(ms(clock::now() - start), 1000);
}

TEST_F(AresResolver, MalformedServerIsInvalidAddress) {
  ares_resolver r({.servers = {"not a server"}, .lookups = "b"});
  auto res = lookup(r, "v4.ringo.test", AF_INET);
  EXPECT_EQ(res.error(), errc::invalid_address) << res.error().message();
}

// --- ares_resolver: cancellation and concurrency ---

TEST_F(AresResolver, StopEndsAHangingLookupPromptly) {
  fake_dns_server server;
  server.set_silent(true);
  ares_resolver r(fake_server(server, 5000ms, 1));
  auto stopped = run(lookup_and_stop(&r, "hang.ringo.test", AF_INET, 30ms));
  EXPECT_EQ(stopped.result.error(), ringo::errc::operation_canceled)
      << stopped.result.error().message();
  EXPECT_LT(stopped.ms_after_stop, 50);
  EXPECT_EQ(server.queries(), 1);  // the lookup was waiting on the server, not yet started
}

TEST_F(AresResolver, StopBeforeTheLookupSendsNothing) {
  fake_dns_server server;
  ares_resolver r(fake_server(server));
  std::stop_source source;
  source.request_stop();
  auto res = run(r.lookup("v4.ringo.test", AF_INET, source.get_token()));
  EXPECT_EQ(res.error(), ringo::errc::operation_canceled);
  EXPECT_EQ(server.queries(), 0);
}

// The race the design notes ask for: a stop landing before, during or after the answer. Each
// lookup must return either the answer or operation_canceled, and leave no descriptor behind.
task<std::pair<int, int>> lookups_stopped_at_random(resolver* r, int iterations,
                                                    std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> micros(0, 3000);
  int answered = 0, canceled = 0;
  for (int i = 0; i < iterations; ++i) {
    auto delay = std::chrono::microseconds(micros(rng));
    auto stopped = co_await lookup_and_stop(r, "slow.ringo.test", AF_INET, delay);
    if (stopped.result) {
      EXPECT_EQ(hosts(stopped.result), std::vector<std::string>{"127.0.0.2"});
      ++answered;
    } else {
      EXPECT_EQ(stopped.result.error(), ringo::errc::operation_canceled)
          << stopped.result.error().message();
      ++canceled;
    }
  }
  co_return std::pair{answered, canceled};
}
TEST_F(AresResolver, StopAtRandomMomentsAnswersOrCancelsAndLeaksNothing) {
  fake_dns_server server;
  server.add("slow.ringo.test", {.a = {"127.0.0.2"}, .a_delay = 1ms});
  ares_resolver r(fake_server(server));
  std::uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  auto [answered, canceled] = run(lookups_stopped_at_random(&r, 300, seed));
  EXPECT_EQ(answered + canceled, 300);
  RecordProperty("answered", answered);
  RecordProperty("canceled", canceled);
}

TEST_F(AresResolver, RunsManyLookupsConcurrently) {
  constexpr int n = 8;
  fake_dns_server server;
  for (int i = 0; i < n; ++i) {
    server.add("h" + std::to_string(i) + ".ringo.test",
               {.a = {"127.0.0." + std::to_string(i + 1)}, .a_delay = 100ms});
  }
  ares_resolver r(fake_server(server));
  std::vector<task<lookup_result>> lookups;
  for (int i = 0; i < n; ++i)
    lookups.push_back(r.lookup("h" + std::to_string(i) + ".ringo.test", AF_INET, {}));
  auto start = clock::now();
  auto results = run(when_all(std::move(lookups)));
  // One after another they would take n × 100 ms.
  EXPECT_LT(ms(clock::now() - start), 300);
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(hosts(results[i]), std::vector<std::string>{"127.0.0." + std::to_string(i + 1)});
  }
}

TEST_F(AresResolver, WorksOnSeveralThreadsAtOnce) {
  fake_dns_server server;
  server.add("v4.ringo.test", {.a = {"127.0.0.2"}, .a_delay = 20ms});
  std::vector<std::vector<std::string>> answers(4);
  std::vector<std::thread> threads;
  for (auto& answer : answers) {
    threads.emplace_back([&server, &answer] {
      ares_resolver r(fake_server(server));  // each thread runs its own io_context
      answer = hosts(lookup(r, "v4.ringo.test", AF_INET));
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& answer : answers) EXPECT_EQ(answer, std::vector<std::string>{"127.0.0.2"});
}

// --- lookup_ip ---

TEST_F(LookupIp, ReturnsIpv6ThenIpv4EvenWhenIpv4AnswersFirst) {
  fake_dns_server server;
  server.add("dual.ringo.test",
             {.a = {"127.0.0.2", "127.0.0.3"}, .aaaa = {"::1"}, .aaaa_delay = 60ms});
  ares_resolver r(fake_server(server));
  auto start = clock::now();
  EXPECT_EQ(hosts(lookup_both(r, "dual.ringo.test")),
            (std::vector<std::string>{"::1", "127.0.0.2", "127.0.0.3"}));
  EXPECT_GE(ms(clock::now() - start), 55);
}

TEST_F(LookupIp, LooksUpBothFamiliesConcurrently) {
  fake_dns_server server;
  server.add("dual.ringo.test",
             {.a = {"127.0.0.2"}, .aaaa = {"::1"}, .a_delay = 100ms, .aaaa_delay = 100ms});
  ares_resolver r(fake_server(server));
  auto start = clock::now();
  EXPECT_EQ(hosts(lookup_both(r, "dual.ringo.test")),
            (std::vector<std::string>{"::1", "127.0.0.2"}));
  EXPECT_LT(ms(clock::now() - start), 180);  // one after the other: 200 ms
  EXPECT_EQ(server.queries(), 2);
}

TEST_F(LookupIp, ReturnsTheFamilyThatAnsweredWhenTheOtherHasNone) {
  fake_dns_server server;
  server.add("v4.ringo.test", {.a = {"127.0.0.2"}});
  server.add("v6.ringo.test", {.aaaa = {"::1"}});
  ares_resolver r(fake_server(server));
  EXPECT_EQ(hosts(lookup_both(r, "v4.ringo.test")), std::vector<std::string>{"127.0.0.2"});
  EXPECT_EQ(hosts(lookup_both(r, "v6.ringo.test")), std::vector<std::string>{"::1"});
}

TEST_F(LookupIp, FailsWhenBothFamiliesFail) {
  fake_dns_server server;
  ares_resolver r(fake_server(server));
  EXPECT_EQ(lookup_both(r, "nosuch.ringo.test").error(), errc::no_such_host);
}

TEST_F(LookupIp, WithOneFamilyAsksOnlyForThatFamily) {
  fake_dns_server server;
  server.add("dual.ringo.test", {.a = {"127.0.0.2"}, .aaaa = {"::1"}});
  ares_resolver r(fake_server(server));
  EXPECT_EQ(hosts(run(lookup_ip(r, "dual.ringo.test", AF_INET6, {}))),
            std::vector<std::string>{"::1"});
  EXPECT_EQ(server.queries(), 1);
  EXPECT_EQ(hosts(run(lookup_ip(r, "dual.ringo.test", AF_INET, {}))),
            std::vector<std::string>{"127.0.0.2"});
  EXPECT_EQ(server.queries(), 2);
}

TEST_F(LookupIp, StopReachesBothLookups) {
  fake_dns_server server;
  server.set_silent(true);
  ares_resolver r(fake_server(server, 5000ms, 1));
  auto stopped = run(lookup_and_stop(&r, "hang.ringo.test", AF_UNSPEC, 30ms));
  EXPECT_EQ(stopped.result.error(), ringo::errc::operation_canceled);
  EXPECT_LT(stopped.ms_after_stop, 50);
  EXPECT_EQ(server.queries(), 2);
}

TEST_F(LookupIp, RejectsUnknownFamilies) {
  static_resolver r;
  EXPECT_EQ(run(lookup_ip(r, "localhost", AF_UNIX, {})).error(),
            std::errc::address_family_not_supported);
}

// --- static_resolver ---

address ip(const char* text) {
  return socket_address::numeric(text, 0).value();
}

TEST_F(StaticResolver, AnswersEachFamilyAfterItsDelay) {
  static_resolver r;
  r.add("svc.test",
        {.ipv4 = {ip("127.0.0.2")}, .ipv6 = {ip("::1")}, .ipv4_delay = 30ms, .ipv6_delay = 100ms});
  auto start = clock::now();
  EXPECT_EQ(hosts(lookup(r, "svc.test", AF_INET)), std::vector<std::string>{"127.0.0.2"});
  EXPECT_GE(ms(clock::now() - start), 29);
  EXPECT_LT(ms(clock::now() - start), 90);

  start = clock::now();
  EXPECT_EQ(hosts(lookup_both(r, "svc.test")), (std::vector<std::string>{"::1", "127.0.0.2"}));
  EXPECT_GE(ms(clock::now() - start), 99);
  EXPECT_LT(ms(clock::now() - start), 125);  // concurrently: the longer delay, not the sum
}

TEST_F(StaticResolver, WithoutDelayAnswersAtOnce) {
  static_resolver r;
  r.add("svc.test", {.ipv4 = {ip("127.0.0.2"), ip("127.0.0.3")}});
  EXPECT_EQ(hosts(lookup(r, "svc.test", AF_INET)),
            (std::vector<std::string>{"127.0.0.2", "127.0.0.3"}));
}

TEST_F(StaticResolver, StopDuringTheDelayReturnsCanceled) {
  static_resolver r;
  r.add("svc.test",
        {.ipv4 = {ip("127.0.0.2")}, .ipv6 = {ip("::1")}, .ipv4_delay = 10s, .ipv6_delay = 10s});
  for (int family : {AF_INET, AF_UNSPEC}) {
    auto stopped = run(lookup_and_stop(&r, "svc.test", family, 20ms));
    EXPECT_EQ(stopped.result.error(), ringo::errc::operation_canceled);
    EXPECT_LT(stopped.ms_after_stop, 50);
  }
}

TEST_F(StaticResolver, FamilyWithoutAddressesIsNoSuchHost) {
  static_resolver r;
  r.add("v4.test", {.ipv4 = {ip("127.0.0.2")}, .ipv6_delay = 20ms});
  auto start = clock::now();
  EXPECT_EQ(lookup(r, "v4.test", AF_INET6).error(), errc::no_such_host);
  EXPECT_GE(ms(clock::now() - start), 19);  // the delay applies to a failure too
  EXPECT_EQ(hosts(lookup_both(r, "v4.test")), std::vector<std::string>{"127.0.0.2"});
}

TEST_F(StaticResolver, NumericHostAnswersItself) {
  static_resolver r;
  EXPECT_EQ(hosts(lookup(r, "127.0.0.9", AF_INET)), std::vector<std::string>{"127.0.0.9"});
  EXPECT_EQ(hosts(lookup_both(r, "::1")), std::vector<std::string>{"::1"});
}

TEST_F(StaticResolver, SendsOtherHostsToTheFallback) {
  ares_resolver hosts_file(hosts_file_only());
  static_resolver with_fallback(&hosts_file);
  with_fallback.add("svc.test", {.ipv4 = {ip("127.0.0.2")}});
  EXPECT_EQ(hosts(lookup(with_fallback, "localhost", AF_INET)),
            std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ(hosts(lookup(with_fallback, "svc.test", AF_INET)),
            std::vector<std::string>{"127.0.0.2"});

  static_resolver alone;
  EXPECT_EQ(lookup(alone, "localhost", AF_INET).error(), errc::no_such_host);
}

// --- default_resolver ---

TEST_F(DefaultResolver, IsOnePerThread) {
  // Identity only: a lookup through it could reach the system's name servers.
  resolver* here = &default_resolver();
  EXPECT_EQ(here, &default_resolver());
  EXPECT_NE(dynamic_cast<ares_resolver*>(here), nullptr);
  resolver* there = nullptr;
  std::thread([&there] { there = &default_resolver(); }).join();
  EXPECT_NE(here, there);
}

// --- A hosts file with both families, in a private mount namespace ---

// Runs lookup_ip(host, AF_UNSPEC) with lookups "f" in a child process that sees `hosts_text` as
// /etc/hosts: a private mount namespace with a temporary file bind-mounted over it, so nothing
// outside the child sees the change. Returns the child's report: "ok <ip> <ip> ...",
// "error <message>", or "skip <why>".
std::string lookup_in_private_hosts_file(const std::string& hosts_text, const std::string& host) {
  char path[] = "/tmp/ringo-hosts-XXXXXX";
  int tmp = ::mkstemp(path);
  if (tmp < 0) return "skip mkstemp: " + std::string(std::strerror(errno));
  bool written =
      ::write(tmp, hosts_text.data(), hosts_text.size()) == static_cast<ssize_t>(hosts_text.size());
  ::close(tmp);
  int pipe_fds[2];
  if (!written || ::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    ::unlink(path);
    return "skip cannot prepare the hosts file";
  }
  pid_t child = ::fork();
  if (child == 0) {
    ::close(pipe_fds[0]);
    auto report = [&](const std::string& text) {
      [[maybe_unused]] auto n = ::write(pipe_fds[1], text.data(), text.size());
      ::_exit(0);
    };
    if (::unshare(CLONE_NEWNS) != 0)
      report("skip unshare(CLONE_NEWNS): " + std::string(std::strerror(errno)));
    // Private first: a bind mount on a shared mount would propagate back to the parent namespace.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      report("skip making mounts private: " + std::string(std::strerror(errno)));
    if (::mount(path, "/etc/hosts", nullptr, MS_BIND, nullptr) != 0)
      report("skip bind-mounting /etc/hosts: " + std::string(std::strerror(errno)));
    ares_resolver r(hosts_file_only());
    auto res = lookup_both(r, host);
    std::string text = res ? "ok" : "error " + res.error().message();
    if (res) {
      for (const std::string& h : hosts(*res)) text += " " + h;
    }
    report(text);
  }
  ::close(pipe_fds[1]);
  std::string out;
  char buf[256];
  for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;) out.append(buf, n);
  ::close(pipe_fds[0]);
  int status = 0;
  if (child > 0) ::waitpid(child, &status, 0);
  ::unlink(path);
  if (child < 0) return "skip fork: " + std::string(std::strerror(errno));
  return out.empty() ? "error the child died without a report" : out;
}

TEST_F(AresResolver, ReadsBothFamiliesFromTheHostsFile) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to bind-mount a private /etc/hosts";
  std::string report = lookup_in_private_hosts_file(
      "127.0.0.1 localhost\n"
      "127.0.0.2 dual.ringo.test\n"
      "::1 dual.ringo.test\n"
      "127.0.0.3 dual.ringo.test\n",
      "dual.ringo.test");
  if (report.starts_with("skip ")) GTEST_SKIP() << report.substr(5);
  EXPECT_EQ(report, "ok ::1 127.0.0.2 127.0.0.3");
}

}  // namespace
}  // namespace ringo::net
