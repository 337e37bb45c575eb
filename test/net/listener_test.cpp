// listener: listen and accept on loopback. The multishot accept queues connections that arrive
// while nobody waits; a stop ends one wait without losing a connection; EMFILE does not end the
// accept loop (Go's http.Server back-off); errors name op, network and address.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <set>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include <ringo/net.hpp>

#include "net_test.hpp"

namespace ringo::net {
namespace {

using namespace std::chrono_literals;
using ringo::test::value_or;
using test::ms;

class Listener : public test::RingoTest {};

// A client socket connected to `a` through the ring (the kernel completes the handshake; nobody
// needs to accept first).
task<unique_fd> connect_client(socket_address a) {
  auto fd = open_socket(a.family(), SOCK_STREAM).value();
  auto r = co_await ringo::connect(fd.get(), a);
  EXPECT_TRUE(r) << "connect " << a.to_string() << ": " << r.error().message();
  co_return fd;
}

std::string local_of(int fd) {
  return value_or(local_address(fd), socket_address()).to_string();
}

// --- listen --------------------------------------------------------------------------------

task<void> accept_one_tcp() {
  auto l = listen("tcp", "127.0.0.1:0");
  EXPECT_TRUE(l) << l.error().message();
  if (!l) co_return;
  EXPECT_TRUE(l->is_open());
  EXPECT_EQ(l->network(), "tcp");
  EXPECT_TRUE(l->addr().is_ipv4());
  EXPECT_NE(l->addr().port(), 0) << "the kernel's port is reported";
  EXPECT_EQ(l->addr().host(), "127.0.0.1");

  auto client = co_await connect_client(l->addr());
  auto c = co_await l->accept();
  EXPECT_TRUE(c) << c.error().message();
  if (!c) co_return;
  EXPECT_EQ(c->network(), "tcp");
  EXPECT_EQ(value_or(c->remote_address(), socket_address()).to_string(), local_of(client.get()));
  EXPECT_EQ(value_or(c->local_address(), socket_address()), l->addr());
  EXPECT_EQ(test::get_option(c->native_handle(), IPPROTO_TCP, TCP_NODELAY), 1)
      << "accepted TCP conns have TCP_NODELAY, as in Go";
}
TEST_F(Listener, ListensOnAKernelChosenPortAndAccepts) {
  run(accept_one_tcp());
}

task<void> accept_one_from(listener* l) {
  auto client = co_await connect_client(l->addr());
  auto c = co_await l->accept();
  EXPECT_TRUE(c) << c.error().message();
}
// The usual server shape, listen and then ringo::run(serve(...)), makes the listener before the
// thread has an io_context: the accept loop belongs to the context of the first accept.
TEST_F(Listener, AcceptsWhenListenedBeforeTheThreadHasALoop) {
  std::thread t([] {
    ASSERT_EQ(io_context::current(), nullptr);
    auto l = listen("tcp", "127.0.0.1:0");
    ASSERT_TRUE(l) << l.error().message();
    run(accept_one_from(&*l));
  });
  t.join();
}

task<void> accept_on(std::string network, std::string where, socket_address dial_to) {
  auto l = listen(network, where);
  EXPECT_TRUE(l) << l.error().message();
  if (!l) co_return;
  dial_to.set_port(l->addr().port());
  auto client = co_await connect_client(dial_to);
  auto c = co_await l->accept();
  EXPECT_TRUE(c) << network << " " << where << " from " << dial_to.to_string() << ": "
                 << c.error().message();
}

TEST_F(Listener, ListensOnLocalhostAndWildcards) {
  run(accept_on("tcp", "localhost:0", test::at("127.0.0.1", 0)));
  run(accept_on("tcp4", ":0", test::at("127.0.0.1", 0)));
  run(accept_on("tcp4", "127.0.0.3:0", test::at("127.0.0.3", 0)));
  if (!test::has_ipv6()) GTEST_SKIP() << "IPv6 loopback unavailable";
  run(accept_on("tcp6", "localhost:0", test::at("::1", 0)));
  run(accept_on("tcp6", "[::1]:0", test::at("::1", 0)));
  // An empty host is [::], which takes IPv4 connections too (Go's "tcp" wildcard).
  run(accept_on("tcp", ":0", test::at("::1", 0)));
  run(accept_on("tcp", ":0", test::at("127.0.0.1", 0)));
}

TEST_F(Listener, ListenErrorsNameOpNetworkAndAddress) {
  auto unknown = listen("udp", "127.0.0.1:0");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error(), errc::unknown_network);
  EXPECT_EQ(unknown.error().message(), "listen udp 127.0.0.1:0: unknown network");

  auto no_port = listen("tcp", "127.0.0.1");
  ASSERT_FALSE(no_port);
  EXPECT_EQ(no_port.error(), errc::invalid_address);
  EXPECT_EQ(no_port.error().message(), "listen tcp 127.0.0.1: invalid address");

  EXPECT_EQ(listen("tcp4", "[::1]:0").error(), errc::invalid_address);
  EXPECT_EQ(listen("tcp6", "127.0.0.1:0").error(), errc::invalid_address);
  EXPECT_EQ(listen("tcp", "example.com:0").error(), errc::invalid_address)
      << "listen never looks a name up";
  EXPECT_EQ(listen("tcp", "127.0.0.1:99999").error(), errc::invalid_address);

  // A port somebody listens on is taken (SO_REUSEADDR only forgives TIME_WAIT).
  auto first = run([]() -> task<std::uint16_t> {
    auto l = listen("tcp", "127.0.0.1:0").value();
    std::string where = "127.0.0.1:" + std::to_string(l.addr().port());
    auto again = listen("tcp", where);
    EXPECT_FALSE(again);
    if (!again) {
      EXPECT_EQ(again.error(), std::errc::address_in_use);
      EXPECT_EQ(again.error().message(), "listen tcp " + where + ": bind: address already in use");
    }
    co_return l.addr().port();
  }());
  EXPECT_NE(first, 0);
}

TEST_F(Listener, ReusePortLetsTwoListenersShareAPort) {
  run([]() -> task<void> {
    auto a = listen("tcp", "127.0.0.1:0", {.reuse_port = true});
    EXPECT_TRUE(a) << a.error().message();
    if (!a) co_return;
    std::string where = "127.0.0.1:" + std::to_string(a->addr().port());
    auto b = listen("tcp", where, {.reuse_port = true});
    EXPECT_TRUE(b) << b.error().message();
    if (!b) co_return;
    EXPECT_EQ(b->addr(), a->addr());
    // The kernel spreads connections between them; a few clients reach one or the other.
    std::vector<unique_fd> clients;
    for (int i = 0; i < 4; ++i) clients.push_back(co_await connect_client(a->addr()));
    int accepted = 0;
    for (listener* l : {&*a, &*b}) {
      for (;;) {
        std::stop_source none_left;
        scope s;
        s.spawn(test::stop_after(&none_left, 20ms));
        auto c = co_await l->accept(none_left.get_token());
        none_left.request_stop();
        co_await s.join();
        if (!c) break;
        ++accepted;
      }
    }
    EXPECT_EQ(accepted, 4);
  }());
}

// --- multishot queueing --------------------------------------------------------------------

task<void> accept_queued(int n) {
  auto l = listen("tcp", "127.0.0.1:0").value();
  // The first accept arms the multishot accept.
  auto first_client = co_await connect_client(l.addr());
  auto first = co_await l.accept();
  EXPECT_TRUE(first);

  // Connections arriving now, with nobody in accept(), are accepted by the kernel and queued.
  std::set<std::string> clients;
  std::vector<unique_fd> fds;
  for (int i = 0; i < n; ++i) {
    fds.push_back(co_await connect_client(l.addr()));
    clients.insert(local_of(fds.back().get()));
  }
  (void)co_await sleep_for(20ms);  // let their CQEs arrive

  auto start = clock::now();
  std::set<std::string> accepted;
  for (int i = 0; i < n; ++i) {
    auto c = co_await l.accept();
    EXPECT_TRUE(c) << c.error().message();
    if (c) accepted.insert(value_or(c->remote_address(), socket_address()).to_string());
  }
  // They were waiting in the acceptor's queue: no round trip to the kernel each.
  EXPECT_LT(ms(clock::now() - start), 20.0);
  EXPECT_EQ(accepted, clients);
}
TEST_F(Listener, AcceptQueuesConnectionsThatArriveWhileNobodyWaits) {
  run(accept_queued(16));
}

task<void> accept_into(listener* l, std::vector<conn>* out, int n) {
  for (int i = 0; i < n; ++i) {
    auto c = co_await l->accept();
    EXPECT_TRUE(c) << c.error().message();
    if (c) out->push_back(std::move(*c));
  }
}

task<void> concurrent_accepters() {
  auto l = listen("tcp", "127.0.0.1:0").value();
  std::vector<conn> a, b;
  scope s;
  s.spawn(accept_into(&l, &a, 5));
  s.spawn(accept_into(&l, &b, 5));
  std::vector<unique_fd> clients;
  for (int i = 0; i < 10; ++i) clients.push_back(co_await connect_client(l.addr()));
  co_await s.join();
  EXPECT_EQ(a.size() + b.size(), 10u);
  std::set<int> distinct;
  for (auto* v : {&a, &b})
    for (conn& c : *v) distinct.insert(c.native_handle());
  EXPECT_EQ(distinct.size(), 10u);
}
TEST_F(Listener, ConcurrentAcceptsEachGetTheirOwnConnection) {
  run(concurrent_accepters());
}

// --- stop, close ---------------------------------------------------------------------------

task<void> stop_then_accept() {
  auto l = listen("tcp", "127.0.0.1:0").value();
  std::stop_source src;
  scope s;
  s.spawn(test::stop_after(&src, 20ms));
  auto start = clock::now();
  auto c = co_await l.accept(src.get_token());
  co_await s.join();
  EXPECT_FALSE(c);
  if (!c) {
    EXPECT_TRUE(c.error().canceled()) << c.error().message();
    EXPECT_EQ(c.error().message(),
              "accept tcp " + l.addr().to_string() + ": operation was canceled");
  }
  EXPECT_GE(ms(clock::now() - start), 19.0);

  // The accept stays armed: a connection arriving now is the next accept's, not lost.
  auto client = co_await connect_client(l.addr());
  auto again = co_await l.accept();
  EXPECT_TRUE(again) << again.error().message();
  if (again) {
    EXPECT_EQ(value_or(again->remote_address(), socket_address()).to_string(),
              local_of(client.get()));
  }
}
TEST_F(Listener, StopEndsAcceptAndLosesNothing) {
  run(stop_then_accept());
}

task<void> accept_stopped_from(std::stop_token stop, time_point* returned) {
  auto l = listen("tcp", "127.0.0.1:0").value();
  auto c = co_await l.accept(stop);
  *returned = clock::now();
  EXPECT_FALSE(c);
  if (!c) {
    EXPECT_TRUE(c.error().canceled()) << c.error().message();
  }
}
TEST_F(Listener, StopFromAnotherThreadEndsAccept) {
  std::stop_source src;
  time_point stopped_at{}, returned{};
  std::thread stopper([&] {
    std::this_thread::sleep_for(30ms);
    stopped_at = clock::now();
    src.request_stop();
  });
  run(accept_stopped_from(src.get_token(), &returned));
  stopper.join();
  EXPECT_GE(returned, stopped_at);
  EXPECT_LT(ms(returned - stopped_at), 50.0);
}

task<void> accept_after_close() {
  auto l = listen("tcp", "127.0.0.1:0").value();
  auto where = l.addr();
  // Queue connections in the acceptor, then close: they are closed with the listener.
  auto armer = co_await connect_client(where);
  auto first = co_await l.accept();
  EXPECT_TRUE(first);
  std::vector<unique_fd> queued;
  for (int i = 0; i < 3; ++i) queued.push_back(co_await connect_client(where));
  (void)co_await sleep_for(10ms);
  l.close();
  l.close();  // idempotent
  EXPECT_FALSE(l.is_open());

  auto c = co_await l.accept();
  EXPECT_FALSE(c);
  if (!c) {
    EXPECT_EQ(c.error(), errc::closed);
    EXPECT_EQ(c.error().message(),
              "accept tcp " + where.to_string() + ": use of closed network connection");
  }
  // The queued connections end: their server sides were closed, never handed out.
  (void)co_await sleep_for(10ms);  // the acceptor's last CQE closes what it still held
  for (unique_fd& q : queued) {
    char b;
    auto r = co_await ringo::recv(q.get(), mutable_buffer(&b, 1), {}, clock::now() + 1s);
    EXPECT_TRUE(!r ? r.error() == std::errc::connection_reset : *r == 0)
        << (r ? "read a byte" : r.error().message());
  }
  // And nobody listens there any more.
  auto late = open_socket(AF_INET, SOCK_STREAM).value();
  auto refused = co_await ringo::connect(late.get(), where);
  EXPECT_EQ(refused.error(), std::errc::connection_refused);
}
TEST_F(Listener, CloseEndsAcceptAndDropsQueuedConnections) {
  run(accept_after_close());
}

// --- EMFILE --------------------------------------------------------------------------------

// Lowers RLIMIT_NOFILE so that no descriptor can be created (every number below the limit is in
// use), and restores it when it goes out of scope, failed expectations or not.
class no_free_descriptors {
 public:
  no_free_descriptors() {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    int lowest_free = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ::close(lowest_free);
    rlimit lowered = saved_;
    lowered.rlim_cur = static_cast<rlim_t>(lowest_free);
    ::setrlimit(RLIMIT_NOFILE, &lowered);
  }
  ~no_free_descriptors() { restore(); }
  void restore() {
    if (!restored_) ::setrlimit(RLIMIT_NOFILE, &saved_);
    restored_ = true;
  }
  static bool in_effect() {
    int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) ::close(fd);
    return fd < 0 && errno == EMFILE;
  }

 private:
  rlimit saved_{};
  bool restored_ = false;
};

// UBSan's vptr check probes memory through a pipe the first time it meets a type: with no
// descriptor free it would report every such call as a bad object. Take the code paths of the
// EMFILE tests once while descriptors are free, so that the checks under the limit hit its cache.
// (On a listener of its own: an accept armed now would keep the limit it was armed with.)
task<void> rehearse_accept_paths() {
  auto rehearsal = listen("tcp", "127.0.0.1:0").value();
  listener* l = &rehearsal;
  auto client = co_await connect_client(l->addr());
  std::stop_source src;
  auto c = co_await l->accept(src.get_token());
  EXPECT_TRUE(c);
  scope s;
  s.spawn(test::stop_after(&src, 1ms));
  auto none = co_await l->accept(src.get_token());
  EXPECT_FALSE(none);
  co_await s.join();
  (void)co_await sleep_for(1ms, src.get_token());
  (void)co_await sleep_for(1ms);
  std::stop_source stop_sleep;
  scope t;
  t.spawn(test::stop_after(&stop_sleep, 1ms));
  (void)co_await sleep_for(1s, stop_sleep.get_token());
  co_await t.join();
  EXPECT_TRUE(errno_code(EMFILE) == std::errc::too_many_files_open);
  EXPECT_EQ(error_text(errno_code(EMFILE)), "too many open files");
}

struct accept_outcome {
  std::optional<result<conn, op_error>> got;
  time_point at{};
};

task<void> accept_once(listener* l, std::stop_token stop, accept_outcome* out) {
  out->got.emplace(co_await l->accept(std::move(stop)));
  out->at = clock::now();
}

task<void> accept_through_emfile() {
  auto l = listen("tcp", "127.0.0.1:0").value();
  co_await rehearse_accept_paths();
  // The client's socket exists before the limit drops; connecting needs no new descriptor.
  auto client = open_socket(AF_INET, SOCK_STREAM).value();
  accept_outcome outcome;
  time_point restored_at{};
  {
    // io_uring reads the limit when the accept SQE is prepared, so lower it before accept() arms.
    no_free_descriptors limit;
    EXPECT_TRUE(no_free_descriptors::in_effect());
    auto connected = co_await ringo::connect(client.get(), l.addr());
    EXPECT_TRUE(connected) << connected.error().message();
    scope s;
    s.spawn(accept_once(&l, s.get_token(), &outcome));
    (void)co_await sleep_for(150ms);  // accept keeps failing with EMFILE and backing off meanwhile
    EXPECT_FALSE(outcome.got) << "accepted without a free descriptor?";
    limit.restore();
    restored_at = clock::now();
    // The loop survived: once descriptors are free again, a retry accepts the waiting client.
    // Back-off so far: 5+10+20+40+80 ms, so the next try comes within ~160 ms.
    co_await s.join();
  }
  EXPECT_TRUE(outcome.got && *outcome.got)
      << (outcome.got ? outcome.got->error().message() : "no result");
  if (outcome.got && *outcome.got) {
    EXPECT_EQ(value_or((*outcome.got)->remote_address(), socket_address()).to_string(),
              local_of(client.get()));
    EXPECT_GE(outcome.at, restored_at);
    EXPECT_LT(ms(outcome.at - restored_at), 1000.0) << "back-off is capped at 1 s";
  }
}
TEST_F(Listener, AcceptBacksOffOnEmfileAndRecovers) {
  run(accept_through_emfile());
}

task<void> stop_during_backoff() {
  auto l = listen("tcp", "127.0.0.1:0").value();
  co_await rehearse_accept_paths();
  auto client = open_socket(AF_INET, SOCK_STREAM).value();
  no_free_descriptors limit;
  auto connected = co_await ringo::connect(client.get(), l.addr());
  EXPECT_TRUE(connected);
  std::stop_source src;
  accept_outcome outcome;
  scope s;
  s.spawn(accept_once(&l, src.get_token(), &outcome));
  s.spawn(test::stop_after(&src, 40ms));
  co_await s.join();
  limit.restore();
  // A stop during the back-off sleep ends accept with operation_canceled, not EMFILE.
  EXPECT_TRUE(outcome.got && !*outcome.got);
  if (outcome.got && !*outcome.got) {
    EXPECT_TRUE(outcome.got->error().canceled()) << outcome.got->error().message();
  }
  // The client was not lost: it is still waiting to be accepted.
  auto c = co_await l.accept();
  EXPECT_TRUE(c) << c.error().message();
}
TEST_F(Listener, StopDuringEmfileBackoffEndsAccept) {
  run(stop_during_backoff());
}

// --- unix ----------------------------------------------------------------------------------

task<void> unix_accept(std::string path) {
  auto l = listen("unix", path);
  EXPECT_TRUE(l) << l.error().message();
  if (!l) co_return;
  EXPECT_EQ(l->network(), "unix");
  EXPECT_EQ(l->addr().to_string(), path);
  EXPECT_TRUE(std::filesystem::exists(path));
  auto client = co_await connect_client(l->addr());
  auto c = co_await l->accept();
  EXPECT_TRUE(c) << c.error().message();
  if (c) {
    EXPECT_EQ(c->network(), "unix");
  }
  l->close();
  EXPECT_FALSE(std::filesystem::exists(path)) << "close removes the socket file";
}
TEST_F(Listener, ListensOnAUnixSocketAndRemovesItOnClose) {
  auto dir =
      std::filesystem::temp_directory_path() / ("ringo-listener-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  run(unix_accept((dir / "s.sock").string()));
  std::filesystem::remove_all(dir);
}

TEST_F(Listener, ListensOnAnAbstractUnixSocket) {
  run([]() -> task<void> {
    std::string name = "@ringo-listener-" + std::to_string(::getpid());
    auto l = listen("unix", name);
    EXPECT_TRUE(l) << l.error().message();
    if (!l) co_return;
    auto client = co_await connect_client(l->addr());
    auto c = co_await l->accept();
    EXPECT_TRUE(c) << c.error().message();
  }());
}

}  // namespace
}  // namespace ringo::net
