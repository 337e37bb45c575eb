// The transport over TLS (https://) against real servers on loopback: a small HTTPS server made
// of ringo's net::tls_server in this process (it also answers plaintext HTTP on the same port),
// openssl s_server, nginx (ssl) and Go's net/http TLS server. Connection reuse and session
// resumption, 20 MiB each way, Go's errors for bad certificates, the handshake timeout and a stop
// during the handshake, the pool keeping http and https apart, the idle watcher over TLS, and
// redirects between http and https. A missing peer program skips its test.
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <vector>

#include <gtest/gtest.h>

#include <ringo/http.hpp>
#include <ringo/net.hpp>
#include <ringo/runtime.hpp>

#include "ringo_test.hpp"
#include "tls_certs.hpp"

namespace ringo::http {
namespace {

using namespace std::chrono_literals;
using ringo::test::child_process;
using ringo::test::have_program;
using ringo::test::test_certs;

constexpr std::size_t twenty_mib = std::size_t(20) << 20;

// The bytes every server here sends and every upload carries: byte i is i % 251 (a prime period
// catches a lost, repeated or shifted block).
std::string pattern(std::size_t offset, std::size_t n) {
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; ++i) out[i] = char((offset + i) % 251);
  return out;
}

// FNV-1a 64 (Go's hash/fnv New64a), what /sum answers with.
struct fnv64a {
  std::uint64_t h = 14695981039346656037ull;
  void add(std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  }
};

std::string sum_of(std::string_view body) {
  fnv64a f;
  f.add(body);
  return std::to_string(body.size()) + " " + std::to_string(f.h);
}

// An HTTPS/1.1 server on this loop: net::tls_server over each accepted conn, answering by hand.
// A conn whose first byte is not TLS's is served as plain http, so one port speaks both. Routes:
// /hello; /who ("tls" or "plain", and the Referer); /bytes/N (N bytes of pattern()); POST /sum
// ("<length> <fnv64a>" of the body); /to/URL (a 302 to URL). With idle_close set, a conn idle that
// long is ended with close_notify, or with a reset (RST, nothing more) when idle_reset is set.
class https_server {
  static net::tls_config with_alpn(net::tls_config c) {
    c.next_protos = {"http/1.1"};
    return c;
  }

 public:
  explicit https_server(net::tls_config config)
      : listener_(net::listen("tcp", "127.0.0.1:0").value()), ctx_(with_alpn(std::move(config))) {}

  std::uint16_t port() const { return listener_.addr().port(); }
  std::string url(std::string_view path, std::string_view scheme = "https") const {
    return std::string(scheme) + "://127.0.0.1:" + std::to_string(port()) + std::string(path);
  }
  task<void> run(std::stop_token stop) {
    scope conns(stop);
    for (;;) {
      auto c = co_await listener_.accept(stop);
      if (!c) break;
      ++accepts;
      conns.spawn(serve(std::move(*c), conns.get_token()));
    }
    co_await conns.join();
  }

  duration idle_close{};
  bool idle_reset = false;
  int accepts = 0;
  int handshakes = 0;
  int resumed = 0;

 private:
  // TLS when the first byte is a handshake record's (22), else plain http; the byte is peeked,
  // so either reader gets every byte.
  task<void> serve(net::conn c, std::stop_token stop) {
    if (!co_await c.wait_readable(stop, clock::now() + 10s)) co_return;
    unsigned char first = 0;
    if (::recv(c.native_handle(), &first, 1, MSG_PEEK | MSG_DONTWAIT) != 1) co_return;
    if (first != 22) {
      co_await serve_http(&c, {}, false, stop);
      co_return;
    }
    net::tls_result shaken = co_await net::tls_server(std::move(c), ctx_, stop, clock::now() + 10s);
    if (!shaken) co_return;
    ++handshakes;
    if (shaken->connection_state().did_resume) ++resumed;
    co_await serve_http(&*shaken, {}, true, stop);
    shaken->close();
  }

  task<void> serve_http(net::stream* s, std::string in, bool tls, std::stop_token stop) {
    char buf[16384];
    for (;;) {
      std::size_t end;
      while ((end = in.find("\r\n\r\n")) == std::string::npos) {
        const bool idle = in.empty() && idle_close > duration::zero();
        auto n = co_await s->read(buf, stop, clock::now() + (idle ? idle_close : 10s));
        if (!n || *n == 0) {
          if (!n && n.error() == ringo::errc::timed_out && idle) {
            if (idle_reset)
              reset(s);
            else
              (void)co_await s->close_write(stop, clock::now() + 1s);
          }
          co_return;
        }
        in.append(buf, *n);
      }
      std::string head = in.substr(0, end);
      in.erase(0, end + 4);
      std::string_view line(head);
      line = line.substr(0, line.find("\r\n"));
      std::string_view method = line.substr(0, line.find(' '));
      std::string_view path = line.substr(method.size() + 1);
      path = path.substr(0, path.rfind(' '));
      std::size_t length = 0;
      if (auto at = head.find("\r\nContent-Length: "); at != std::string::npos)
        length = std::stoul(head.substr(at + 18));
      std::string referer = "-";
      if (auto at = head.find("\r\nReferer: "); at != std::string::npos)
        referer = head.substr(at + 11, head.find("\r\n", at + 11) - at - 11);
      // The body, hashed as it comes.
      fnv64a f;
      std::size_t left = length;
      std::size_t first = std::min(left, in.size());
      f.add(std::string_view(in).substr(0, first));
      in.erase(0, first);
      left -= first;
      while (left > 0) {
        auto n = co_await s->read(mutable_buffer(buf, std::min(left, sizeof buf)), stop,
                                  clock::now() + 10s);
        if (!n || *n == 0) co_return;
        f.add(std::string_view(buf, *n));
        left -= *n;
      }
      std::string status = "200 OK", extra, body;
      std::size_t pattern_bytes = 0;
      if (path == "/hello") {
        body = "hello";
      } else if (path == "/who") {
        body = std::string(tls ? "tls" : "plain") + " referer=" + referer;
      } else if (path.starts_with("/bytes/")) {
        pattern_bytes = std::stoul(std::string(path.substr(7)));
      } else if (path == "/sum") {
        body = std::to_string(length) + " " + std::to_string(f.h);
      } else if (path.starts_with("/to/")) {
        status = "302 Found";
        extra = "Location: " + std::string(path.substr(4)) + "\r\n";
      } else {
        status = "404 Not Found";
      }
      std::string out = "HTTP/1.1 " + status + "\r\n" + extra +
                        "Content-Length: " + std::to_string(body.size() + pattern_bytes) +
                        "\r\n\r\n" + body;
      if (!co_await s->write_all(out, stop, clock::now() + 10s)) co_return;
      for (std::size_t at = 0; at < pattern_bytes;) {
        std::string chunk = pattern(at, std::min<std::size_t>(pattern_bytes - at, 256 << 10));
        if (!co_await s->write_all(chunk, stop, clock::now() + 10s)) co_return;
        at += chunk.size();
      }
    }
  }

  // Closes the socket under `s` with SO_LINGER 0: an RST, no close_notify.
  static void reset(net::stream* s) {
    net::stream* under = s;
    if (auto* t = dynamic_cast<net::tls_stream*>(s)) under = &t->underlying();
    if (auto* c = dynamic_cast<net::conn*>(under)) {
      const ::linger now{1, 0};
      ::setsockopt(c->native_handle(), SOL_SOCKET, SO_LINGER, &now, sizeof now);
      c->close();
    }
  }

  net::listener listener_;
  net::tls_context ctx_;
};

task<void> stop_after(std::stop_source* s, duration d) {
  (void)co_await sleep_for(d);
  s->request_stop();
}

// The body of a response read to the end, or "error: ..." (the request's or the body's).
task<std::string> body_of(result<response, client_error> r) {
  if (!r) co_return "error: " + r.error().message();
  result<std::string> body = co_await r->body->read_all(std::size_t(64) << 20);
  if (!body) co_return "error: body: " + body.error().message();
  co_return std::move(*body);
}

client_request get(const std::string& u, std::string method = "GET") {
  client_request r;
  r.method = std::move(method);
  r.url = parse_url(u).value();
  return r;
}

// What a trace saw, in order: "start", "done TLS 1.3", "done error: ...", "conn new|reused".
struct trace_log {
  std::vector<std::string> events;
  client_trace trace;
  trace_log() {
    trace.tls_handshake_start = [this] { events.push_back("start"); };
    trace.tls_handshake_done = [this](const net::tls_connection_state& st, std::error_code ec) {
      events.push_back(ec ? "done error: " + ec.message() : "done " + st.version_name());
    };
    trace.got_conn = [this](const got_conn_info& i) {
      events.push_back(i.reused ? "conn reused" : "conn new");
    };
  }
  int count(std::string_view what) const {
    return int(std::count(events.begin(), events.end(), what));
  }
};

class TransportTls : public ringo::test::RingoTest {
 protected:
  void SetUp() override {
    RingoTest::SetUp();
    std::string why;
    certs_ = ringo::test::tls_test_certs(&why);
    if (!certs_) GTEST_SKIP() << why;
  }
  const test_certs& certs() const { return *certs_; }
  // A server presenting `cert` (the leaf for localhost, 127.0.0.1 and ::1 by default).
  net::tls_config server_config(std::string cert = {}, std::string key = {}) const {
    if (cert.empty()) cert = certs_->leaf, key = certs_->leaf_key;
    return {.certificates = {{net::pem::file(cert), net::pem::file(key)}}};
  }
  // A transport trusting the test CA.
  transport_options options() const {
    transport_options o;
    o.tls.root_cas = {net::pem::file(certs_->ca)};
    return o;
  }

 private:
  const test_certs* certs_ = nullptr;
};

TEST_F(TransportTls, GetsOverTlsAndReportsTheConnectionState) {
  https_server srv(server_config());
  transport t(options());
  trace_log log;
  ringo::run([&]() -> task<void> {
    scope s;
    s.spawn(srv.run(s.get_token()));
    client_request req = get(srv.url("/hello"));
    req.trace = &log.trace;
    result<response, client_error> r = co_await t.round_trip(std::move(req));
    EXPECT_TRUE(r) << r.error().message();
    if (r) {
      EXPECT_EQ(r->status, 200);
      EXPECT_TRUE(r->tls);
      if (r->tls) {
        EXPECT_TRUE(r->tls->handshake_complete);
        EXPECT_EQ(r->tls->version, net::version_tls13);
        EXPECT_EQ(r->tls->cipher_suite_name.rfind("TLS_", 0), 0u) << r->tls->cipher_suite_name;
        EXPECT_EQ(r->tls->negotiated_protocol, "http/1.1");
        EXPECT_EQ(r->tls->server_name, "127.0.0.1");
        EXPECT_EQ(r->tls->peer_subject, "CN=localhost,O=ringo");
        EXPECT_FALSE(r->tls->did_resume);
        EXPECT_FALSE(r->tls->peer_certificates.empty());
      }
      EXPECT_EQ(co_await body_of(std::move(r)), "hello");
    }
    co_await t.close();
    s.request_stop();
    co_await s.join();
  }());
  EXPECT_EQ(log.events, (std::vector<std::string>{"start", "done TLS 1.3", "conn new"}));
}

TEST_F(TransportTls, PlainHttpResponsesCarryNoTlsState) {
  https_server srv(server_config());
  transport t(options());
  ringo::run([&]() -> task<void> {
    scope s;
    s.spawn(srv.run(s.get_token()));
    result<response, client_error> r = co_await t.round_trip(get(srv.url("/who", "http")));
    EXPECT_TRUE(r && !r->tls);
    EXPECT_EQ(co_await body_of(std::move(r)), "plain referer=-");
    co_await t.close();
    s.request_stop();
    co_await s.join();
  }());
}

TEST_F(TransportTls, KeepAliveReusesTheConnectionWithOneHandshake) {
  https_server srv(server_config());
  transport t(options());
  trace_log log;
  ringo::run([&]() -> task<void> {
    scope s;
    s.spawn(srv.run(s.get_token()));
    for (int i = 0; i < 3; ++i) {
      client_request req = get(srv.url("/hello"));
      req.trace = &log.trace;
      EXPECT_EQ(co_await body_of(co_await t.round_trip(std::move(req))), "hello");
    }
    co_await t.close();
    s.request_stop();
    co_await s.join();
  }());
  EXPECT_EQ(log.count("start"), 1);
  EXPECT_EQ(log.count("conn new"), 1);
  EXPECT_EQ(log.count("conn reused"), 2);
  EXPECT_EQ(srv.accepts, 1);
  EXPECT_EQ(srv.handshakes, 1);
}

TEST_F(TransportTls, TwentyMiBEachWayArriveByteExact) {
  https_server srv(server_config());
  transport t(options());
  ringo::run([&]() -> task<void> {
    scope s;
    s.spawn(srv.run(s.get_token()));
    std::string down = co_await body_of(
        co_await t.round_trip(get(srv.url("/bytes/" + std::to_string(twenty_mib)))));
    EXPECT_EQ(down.size(), twenty_mib);
    EXPECT_TRUE(down == pattern(0, twenty_mib)) << "the download differs";
    client_request up = get(srv.url("/sum"), "POST");
    up.body = pattern(0, twenty_mib);
    std::string want = sum_of(up.body);
    EXPECT_EQ(co_await body_of(co_await t.round_trip(std::move(up))), want);
    co_await t.close();
    s.request_stop();
    co_await s.join();
  }());
  EXPECT_EQ(srv.handshakes, 1);
}

// Go's texts, from Go's own transport against the same certificates: the client names the
// request, the TLS layer says what failed.
TEST_F(TransportTls, BadCertificatesFailWithGoErrors) {
  struct row {
    const char* name;
    std::string cert, key;
    bool trust_test_ca;
    std::string host;
    std::string want;  // after `Get "URL": `
  };
  const row rows[] = {
      {"wrong host", certs().other, certs().other_key, true, "localhost",
       "tls: failed to verify certificate: x509: certificate is valid for other.test, not "
       "localhost"},
      {"wrong address", certs().other, certs().other_key, true, "127.0.0.1",
       "tls: failed to verify certificate: x509: cannot validate certificate for 127.0.0.1 "
       "because it doesn't contain any IP SANs"},
      {"unknown authority", certs().leaf, certs().leaf_key, false, "127.0.0.1",
       "tls: failed to verify certificate: x509: certificate signed by unknown authority"},
      {"expired", certs().expired, certs().expired_key, true, "127.0.0.1",
       "tls: failed to verify certificate: x509: certificate has expired or is not yet valid"},
      {"self-signed", certs().self_signed, certs().self_signed_key, true, "127.0.0.1",
       "tls: failed to verify certificate: x509: certificate signed by unknown authority"},
  };
  for (const row& r : rows) {
    https_server srv(server_config(r.cert, r.key));
    transport t(r.trust_test_ca ? options() : transport_options{});
    trace_log log;
    const std::string u = "https://" + r.host + ":" + std::to_string(srv.port()) + "/hello";
    std::string got = ringo::run([&]() -> task<std::string> {
      scope s;
      s.spawn(srv.run(s.get_token()));
      client_request req = get(u);
      req.trace = &log.trace;
      std::string out = co_await body_of(co_await client(t).send(std::move(req)));
      co_await t.close();
      s.request_stop();
      co_await s.join();
      co_return out;
    }());
    std::string prefix = "error: Get \"" + u + "\": ";
    EXPECT_EQ(got.substr(0, prefix.size() + r.want.size()), prefix + r.want) << r.name;
    EXPECT_EQ(log.count("start"), 1) << r.name;
    ASSERT_EQ(log.events.size(), 2u) << r.name;
    EXPECT_EQ(log.events[1].rfind("done error: ", 0), 0u) << r.name;
  }
}

TEST_F(TransportTls, InsecureSkipVerifyAcceptsAnyCertificate) {
  https_server srv(server_config(certs().self_signed, certs().self_signed_key));
  transport_options o;
  o.tls.insecure_skip_verify = true;
  transport t(o);
  std::string got = ringo::run([&]() -> task<std::string> {
    scope s;
    s.spawn(srv.run(s.get_token()));
    std::string out = co_await body_of(co_await t.round_trip(get(srv.url("/hello"))));
    co_await t.close();
    s.request_stop();
    co_await s.join();
    co_return out;
  }());
  EXPECT_EQ(got, "hello");
}

TEST_F(TransportTls, ConfigServerNameOverridesTheHost) {
  // The leaf for other.test, reached as 127.0.0.1: verified as other.test, which it is.
  https_server srv(server_config(certs().other, certs().other_key));
  transport_options o = options();
  o.tls.server_name = "other.test";
  transport t(o);
  std::string got = ringo::run([&]() -> task<std::string> {
    scope s;
    s.spawn(srv.run(s.get_token()));
    result<response, client_error> r = co_await t.round_trip(get(srv.url("/hello")));
    if (r && r->tls) {
      EXPECT_EQ(r->tls->server_name, "other.test");
    }
    std::string out = co_await body_of(std::move(r));
    co_await t.close();
    s.request_stop();
    co_await s.join();
    co_return out;
  }());
  EXPECT_EQ(got, "hello");
}

// A server that accepts (the kernel does, into the backlog) and never answers the ClientHello.
TEST_F(TransportTls, SilentServerTimesOutTheHandshakeWithGoError) {
  auto silent = ringo::test::loopback_listener::open();
  const std::string u = "https://127.0.0.1:" + std::to_string(silent.address.port()) + "/";
  transport_options o = options();
  o.tls_handshake_timeout = 200ms;
  transport t(o);
  trace_log log;
  const time_point start = clock::now();
  client_error err = ringo::run([&]() -> task<client_error> {
    client_request req = get(u);
    req.trace = &log.trace;
    result<response, client_error> r = co_await client(t).send(std::move(req));
    co_await t.close();
    co_return r ? client_error{} : r.error();
  }());
  const duration took = clock::now() - start;
  EXPECT_EQ(err, errc::tls_handshake_timeout);
  EXPECT_EQ(err.message(), "Get \"" + u + "\": net/http: TLS handshake timeout");
  EXPECT_GE(took, 150ms);
  EXPECT_LT(took, 2s);
  EXPECT_EQ(log.events,
            (std::vector<std::string>{"start", "done error: net/http: TLS handshake timeout"}));
}

TEST_F(TransportTls, StopDuringTheHandshakeReturnsPromptlyAndLeavesNothing) {
  auto silent = ringo::test::loopback_listener::open();
  const std::string u = "https://127.0.0.1:" + std::to_string(silent.address.port()) + "/";
  transport t(options());  // the default 10 s handshake timeout
  duration request_took{}, close_took{};
  client_error err = ringo::run([&]() -> task<client_error> {
    std::stop_source stop;
    scope s;
    s.spawn(stop_after(&stop, 100ms));
    const time_point start = clock::now();
    result<response, client_error> r = co_await t.round_trip(get(u), stop.get_token());
    request_took = clock::now() - start;
    co_await s.join();
    EXPECT_EQ(t.dial_count(), 1u);
    const time_point closing = clock::now();
    co_await t.close();  // stops the dial nobody waits for
    close_took = clock::now() - closing;
    co_return r ? client_error{} : r.error();
  }());
  EXPECT_EQ(err.code(), ringo::errc::operation_canceled);
  EXPECT_EQ(err.message(), "context canceled");
  EXPECT_LT(request_took, 1s);
  EXPECT_LT(close_took, 1s);
}

// The dial is the transport's (late binding): a handshake its request gave up on runs on to its
// timeout, then frees its slot and its descriptor without anyone closing the transport.
TEST_F(TransportTls, AbandonedHandshakeEndsAtItsTimeout) {
  auto silent = ringo::test::loopback_listener::open();
  const std::string host_port = "127.0.0.1:" + std::to_string(silent.address.port());
  transport_options o = options();
  o.tls_handshake_timeout = 300ms;
  transport t(o);
  std::size_t during = 0, after = 0, fds_during = 0, fds_after = 0;
  ringo::run([&]() -> task<void> {
    client_request req = get("https://" + host_port + "/");
    req.deadline = clock::now() + 50ms;
    result<response, client_error> r = co_await t.round_trip(std::move(req));
    EXPECT_EQ(r ? std::string("ok") : r.error().message(), "context deadline exceeded");
    during = t.conns_per_host("https://" + host_port);
    fds_during = ringo::test::count_open_fds();
    (void)co_await sleep_for(500ms);
    after = t.conns_per_host("https://" + host_port);
    fds_after = ringo::test::count_open_fds();
    co_await t.close();
  }());
  EXPECT_EQ(during, 1u);  // still shaking hands
  EXPECT_EQ(after, 0u);
  EXPECT_EQ(fds_after + 1, fds_during);  // its socket is closed
}

// The same host:port over http and https: two pool entries, each conn reused by its own scheme.
TEST_F(TransportTls, HttpAndHttpsToOnePortNeverShareAConn) {
  https_server srv(server_config());
  transport t(options());
  trace_log log;
  std::vector<std::string> got;
  const std::vector<std::string> schemes = {"https", "http", "https", "http"};
  ringo::run([&]() -> task<void> {
    scope s;
    s.spawn(srv.run(s.get_token()));
    for (const std::string& scheme : schemes) {
      client_request req = get(srv.url("/who", scheme));
      req.trace = &log.trace;
      got.push_back(co_await body_of(co_await t.round_trip(std::move(req))));
    }
    const std::string host_port = "127.0.0.1:" + std::to_string(srv.port());
    EXPECT_EQ(t.conns_per_host(host_port), 1u);
    EXPECT_EQ(t.conns_per_host("https://" + host_port), 1u);
    EXPECT_EQ(t.idle_count(), 2u);
    co_await t.close();
    s.request_stop();
    co_await s.join();
  }());
  EXPECT_EQ(got, (std::vector<std::string>{"tls referer=-", "plain referer=-", "tls referer=-",
                                           "plain referer=-"}));
  EXPECT_EQ(log.events, (std::vector<std::string>{"start", "done TLS 1.3", "conn new", "conn new",
                                                  "conn reused", "conn reused"}));
  EXPECT_EQ(srv.accepts, 2);
}

TEST_F(TransportTls, SecondConnectionResumesTheSession) {
  https_server srv(server_config());
  transport_options o = options();
  o.disable_keep_alives = true;  // every request dials
  transport t(o);
  std::vector<bool> resumed;
  ringo::run([&]() -> task<void> {
    scope s;
    s.spawn(srv.run(s.get_token()));
    for (int i = 0; i < 3; ++i) {
      result<response, client_error> r = co_await t.round_trip(get(srv.url("/hello")));
      resumed.push_back(r && r->tls && r->tls->did_resume);
      EXPECT_EQ(co_await body_of(std::move(r)), "hello");
    }
    co_await t.close();
    s.request_stop();
    co_await s.join();
  }());
  EXPECT_EQ(resumed, (std::vector<bool>{false, true, true}));
  EXPECT_EQ(srv.accepts, 3);
  EXPECT_EQ(srv.resumed, 2);
}

// The server ends an idle TLS conn (close_notify, then FIN): the watcher drops it, and the next
// request dials instead of failing on it.
TEST_F(TransportTls, IdleWatcherDropsAConnTheServerClosed) {
  https_server srv(server_config());
  srv.idle_close = 100ms;
  transport t(options());
  trace_log log;
  ringo::run([&]() -> task<void> {
    scope s;
    s.spawn(srv.run(s.get_token()));
    client_request first = get(srv.url("/hello"));
    first.trace = &log.trace;
    EXPECT_EQ(co_await body_of(co_await t.round_trip(std::move(first))), "hello");
    EXPECT_EQ(t.idle_count(), 1u);
    (void)co_await sleep_for(400ms);
    EXPECT_EQ(t.idle_count(), 0u);
    client_request second = get(srv.url("/hello"));
    second.trace = &log.trace;
    EXPECT_EQ(co_await body_of(co_await t.round_trip(std::move(second))), "hello");
    co_await t.close();
    s.request_stop();
    co_await s.join();
  }());
  EXPECT_EQ(log.count("conn new"), 2);
  EXPECT_EQ(log.count("conn reused"), 0);
  EXPECT_EQ(srv.accepts, 2);
}

// A reset (no close_notify) on an idle TLS conn reaches the watcher as an error, not as readable
// bytes: it closes the conn too (it used to leave the dead conn pooled).
TEST_F(TransportTls, IdleWatcherDropsAConnTheServerReset) {
  https_server srv(server_config());
  srv.idle_close = 100ms;
  srv.idle_reset = true;
  transport t(options());
  ringo::run([&]() -> task<void> {
    scope s;
    s.spawn(srv.run(s.get_token()));
    EXPECT_EQ(co_await body_of(co_await t.round_trip(get(srv.url("/hello")))), "hello");
    EXPECT_EQ(t.idle_count(), 1u);
    (void)co_await sleep_for(400ms);
    EXPECT_EQ(t.idle_count(), 0u) << "the reset conn stayed pooled";
    bool counted = false;
    for (const auto& [reason, n] : t.stats().closed)
      counted |= reason == "http: server closed idle connection" && n == 1;
    EXPECT_TRUE(counted);
    EXPECT_EQ(co_await body_of(co_await t.round_trip(get(srv.url("/hello")))), "hello");
    co_await t.close();
    s.request_stop();
    co_await s.join();
  }());
  EXPECT_EQ(srv.accepts, 2);
}

TEST_F(TransportTls, ClientFollowsRedirectsBetweenHttpAndHttps) {
  https_server srv(server_config());
  transport t(options());
  std::vector<std::string> got;
  ringo::run([&]() -> task<void> {
    scope s;
    s.spawn(srv.run(s.get_token()));
    client c(t);
    // http -> https: the Referer goes along; https -> http: it does not (Go's refererForURL).
    got.push_back(co_await body_of(co_await c.get(srv.url("/to/" + srv.url("/who"), "http"))));
    got.push_back(co_await body_of(co_await c.get(srv.url("/to/" + srv.url("/who", "http")))));
    co_await t.close();
    s.request_stop();
    co_await s.join();
  }());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], "tls referer=" + srv.url("/to/" + srv.url("/who"), "http"));
  EXPECT_EQ(got[1], "plain referer=-");
}

// Runs in a child process: http::fetch over https with the test CA as the system's roots
// (SSL_CERT_FILE, read once per process), then exits 0 if it got the page.
void fetch_with_test_ca_as_system_roots(const test_certs& certs, const net::tls_config& server) {
  ::setenv("SSL_CERT_FILE", certs.ca.c_str(), 1);
  https_server srv(server);
  const std::string u = srv.url("/hello");
  std::string got = ringo::run([&]() -> task<std::string> {
    scope s;
    s.spawn(srv.run(s.get_token()));
    result<std::string, client_error> r = co_await ringo::http::fetch(u);
    s.request_stop();
    co_await s.join();
    co_return r ? *r : r.error().message();
  }());
  std::fprintf(stderr, "got: %s\n", got.c_str());
  std::exit(got == "hello" ? 0 : 1);
}

TEST_F(TransportTls, OneOffFetchSpeaksHttps) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(fetch_with_test_ca_as_system_roots(certs(), server_config()),
              ::testing::ExitedWithCode(0), "got: hello");
}

// ---- other servers ---------------------------------------------------------------------------

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    char tmpl[] = "/tmp/ringo-https-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

void write_file(const std::filesystem::path& p, std::string_view data) {
  std::ofstream(p, std::ios::binary).write(data.data(), std::streamsize(data.size()));
}

// The port in s_server's "ACCEPT 127.0.0.1:PORT" line, or in a program's "PORT n" line.
std::string port_of(const std::string& line) {
  return line.substr(line.find_last_of(": ") + 1);
}

// s_server -www answers each request with a status page over HTTP/1.0 and closes: every request
// dials, and the second resumes the first's session.
TEST_F(TransportTls, OpensslSServerAnswersAndResumes) {
  const char* openssl = "/usr/bin/openssl";
  if (!have_program(openssl)) GTEST_SKIP() << "no " << openssl;
  child_process server({openssl, "s_server", "-accept", "127.0.0.1:0", "-cert", certs().leaf,
                        "-key", certs().leaf_key, "-www"});
  auto line = server.wait_for_line("ACCEPT", 10s);
  ASSERT_TRUE(line) << server.output();
  const std::string u = "https://127.0.0.1:" + port_of(*line) + "/";
  transport t(options());
  std::vector<bool> resumed;
  std::vector<std::string> pages;
  ringo::run([&]() -> task<void> {
    for (int i = 0; i < 2; ++i) {
      result<response, client_error> r = co_await t.round_trip(get(u));
      EXPECT_TRUE(r) << r.error().message();
      resumed.push_back(r && r->tls && r->tls->did_resume);
      pages.push_back(co_await body_of(std::move(r)));
    }
    co_await t.close();
  }());
  EXPECT_EQ(resumed, (std::vector<bool>{false, true}));
  for (const std::string& p : pages) EXPECT_NE(p.find("<HTML>"), std::string::npos) << p;
  EXPECT_EQ(t.dial_count(), 2u);
}

constexpr const char* go_server = R"GO(
package main

import (
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
)

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	mux.HandleFunc("/bytes/", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/bytes/"))
		w.Header().Set("Content-Length", strconv.Itoa(n))
		buf := make([]byte, 251*1024)
		for i := range buf {
			buf[i] = byte(i % 251)
		}
		for n > 0 {
			k := n
			if k > len(buf) {
				k = len(buf)
			}
			w.Write(buf[:k])
			n -= k
		}
	})
	mux.HandleFunc("/sum", func(w http.ResponseWriter, r *http.Request) {
		h := fnv.New64a()
		n, _ := io.Copy(h, r.Body)
		fmt.Fprintf(w, "%d %d", n, h.Sum64())
	})
	fmt.Printf("PORT %d\n", ln.Addr().(*net.TCPAddr).Port)
	panic(http.ServeTLS(ln, mux, os.Args[1], os.Args[2]))
}
)GO";

// Builds and starts the Go server; nullopt (and why) when it cannot.
std::unique_ptr<child_process> start_go_server(const temp_dir& dir, const test_certs& certs,
                                               std::string* port, std::string* why) {
  write_file(dir.path / "main.go", go_server);
  const std::string exe = (dir.path / "server").string();
  // Offline: the standard library only, a private cache (as server_interop_test's Go client).
  child_process build({"/usr/bin/env", "GOFLAGS=-mod=mod", "GOPROXY=off",
                       "GOCACHE=" + (dir.path / "cache").string(),
                       "GOPATH=" + (dir.path / "gopath").string(), "HOME=" + dir.path.string(),
                       "/usr/bin/go", "build", "-o", exe, (dir.path / "main.go").string()});
  int status = -1;
  std::string out = build.finish(120s, &status);
  if (status != 0) {
    *why = "go build: " + out;
    return nullptr;
  }
  auto server =
      std::make_unique<child_process>(std::vector<std::string>{exe, certs.leaf, certs.leaf_key});
  auto line = server->wait_for_line("PORT", 10s);
  if (!line) {
    *why = "the Go server did not start: " + server->output();
    return nullptr;
  }
  *port = port_of(*line);
  return server;
}

TEST_F(TransportTls, GoServerKeepsAliveResumesAndCarriesTwentyMiBEachWay) {
  if (!have_program("/usr/bin/go")) GTEST_SKIP() << "go is not installed (Debian: golang-go)";
  temp_dir dir;
  std::string port, why;
  std::unique_ptr<child_process> server = start_go_server(dir, certs(), &port, &why);
  ASSERT_TRUE(server) << why;
  const std::string base = "https://127.0.0.1:" + port;
  transport t(options());
  trace_log log;
  bool resumed = false;
  ringo::run([&]() -> task<void> {
    for (int i = 0; i < 2; ++i) {
      client_request req = get(base + "/hello");
      req.trace = &log.trace;
      EXPECT_EQ(co_await body_of(co_await t.round_trip(std::move(req))), "hello");
    }
    std::string down =
        co_await body_of(co_await t.round_trip(get(base + "/bytes/" + std::to_string(twenty_mib))));
    EXPECT_EQ(down.size(), twenty_mib);
    EXPECT_TRUE(down == pattern(0, twenty_mib)) << "the download differs";
    client_request up = get(base + "/sum", "POST");
    up.body = pattern(0, twenty_mib);
    std::string want = sum_of(up.body);
    EXPECT_EQ(co_await body_of(co_await t.round_trip(std::move(up))), want);
    // A new conn resumes the session of the first.
    t.close_idle_connections();
    result<response, client_error> r = co_await t.round_trip(get(base + "/hello"));
    resumed = r && r->tls && r->tls->did_resume;
    if (r && r->tls) {  // Go's server picks h2 from the transport's ALPN offer (HTTP/2 by default)
      EXPECT_EQ(r->tls->negotiated_protocol, "h2");
      EXPECT_EQ(r->version_major, 2);
    }
    EXPECT_EQ(co_await body_of(std::move(r)), "hello");
    co_await t.close();
  }());
  EXPECT_EQ(log.events,
            (std::vector<std::string>{"start", "done TLS 1.3", "conn new", "conn reused"}));
  EXPECT_TRUE(resumed);
  EXPECT_EQ(t.dial_count(), 2u);
}

TEST_F(TransportTls, NginxKeepsAliveResumesAndCarriesTwentyMiBEachWay) {
  const std::string nginx = "/usr/sbin/nginx";
  if (!have_program(nginx)) GTEST_SKIP() << "nginx is not installed";
  temp_dir dir;
  const std::string d = dir.path.string();
  std::filesystem::create_directories(dir.path / "www" / "up");
  // As root, nginx's worker is "nobody": let it read the certificates and write the uploads.
  std::filesystem::permissions(dir.path, std::filesystem::perms(0755));
  std::filesystem::permissions(dir.path / "www", std::filesystem::perms(0755));
  std::filesystem::permissions(dir.path / "www" / "up", std::filesystem::perms(0777));
  write_file(dir.path / "www" / "hello", "hello");
  write_file(dir.path / "www" / "big", pattern(0, twenty_mib));
  auto probe = net::listen("tcp", "127.0.0.1:0").value();  // a free port
  const std::string port = std::to_string(probe.addr().port());
  probe.close();
  write_file(dir.path / "nginx.conf",
             "worker_processes 1; daemon off; pid " + d + "/nginx.pid;\nerror_log " + d +
                 "/error.log;\nevents {}\nhttp { access_log off;\n  client_body_temp_path " + d +
                 "/b; proxy_temp_path " + d + "/p; fastcgi_temp_path " + d +
                 "/f; uwsgi_temp_path " + d + "/u; scgi_temp_path " + d +
                 "/s;\n  server { listen 127.0.0.1:" + port + " ssl; root " + d +
                 "/www;\n    ssl_certificate " + certs().leaf + "; ssl_certificate_key " +
                 certs().leaf_key +
                 ";\n    client_max_body_size 64m;\n"
                 "    location /up/ { dav_methods PUT; } } }\n");
  child_process server({nginx, "-p", d, "-c", d + "/nginx.conf", "-e", "stderr"});
  ASSERT_TRUE(server.running());
  const std::string base = "https://127.0.0.1:" + port;
  transport t(options());
  trace_log log;
  bool resumed = false;
  std::string first;
  ringo::run([&]() -> task<void> {
    // nginx may take a moment to listen.
    for (int i = 0; i < 100; ++i) {
      first = co_await body_of(co_await t.round_trip(get(base + "/hello")));
      if (first == "hello") break;
      (void)co_await sleep_for(50ms);
    }
    client_request again = get(base + "/hello");
    again.trace = &log.trace;
    EXPECT_EQ(co_await body_of(co_await t.round_trip(std::move(again))), "hello");
    std::string down = co_await body_of(co_await t.round_trip(get(base + "/big")));
    EXPECT_EQ(down.size(), twenty_mib);
    EXPECT_TRUE(down == pattern(0, twenty_mib)) << "the download differs";
    // Up: PUT 20 MiB, then read it back.
    client_request up = get(base + "/up/file", "PUT");
    up.body = pattern(0, twenty_mib);
    result<response, client_error> put = co_await t.round_trip(std::move(up));
    EXPECT_TRUE(put && put->status == 201)
        << (put ? std::to_string(put->status) : put.error().message());
    (void)co_await body_of(std::move(put));
    std::string back = co_await body_of(co_await t.round_trip(get(base + "/up/file")));
    EXPECT_EQ(back.size(), twenty_mib);
    EXPECT_TRUE(back == pattern(0, twenty_mib)) << "the upload differs";
    t.close_idle_connections();
    result<response, client_error> r = co_await t.round_trip(get(base + "/hello"));
    resumed = r && r->tls && r->tls->did_resume;
    EXPECT_EQ(co_await body_of(std::move(r)), "hello");
    co_await t.close();
  }());
  // SIGQUIT to the master (the pid file's): a killed master would leave its worker running.
  std::ifstream pid_file(d + "/nginx.pid");
  pid_t pid = 0;
  if (pid_file >> pid && pid > 0) ::kill(pid, SIGQUIT);
  std::string out = server.finish(10s);
  EXPECT_EQ(first, "hello") << out;
  EXPECT_EQ(log.events, (std::vector<std::string>{"conn reused"}));
  EXPECT_TRUE(resumed);
}

}  // namespace
}  // namespace ringo::http
