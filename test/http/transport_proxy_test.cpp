// The transport through a forward proxy (test/http/forward_proxy.py, run by Debian's python3):
// http:// requests in absolute form with the proxy URL's credentials, https:// ones through a
// CONNECT tunnel with TLS end to end, a proxy that refuses the tunnel, and one that is not there;
// an https:// proxy (forward_proxy.py --tls), and one whose certificate does not verify.
// Upstreams are ringo servers on their own threads; everything on loopback.
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "client_test_support.hpp"
#include "server_test_support.hpp"
#include "tls_certs.hpp"

namespace ringo::http {
namespace {

using namespace std::chrono_literals;
using ringo::test::child_process;

task<void> say_hello(response_writer& w, request& r) {
  co_await w.write(r.tls ? "hello over tls" : "hello");
}

class TransportProxy : public ringo::test::RingoTest {
 protected:
  void SetUp() override {
    std::string why;
    certs_ = ringo::test::tls_test_certs(&why);  // (made before the fd count starts)
    if (!certs_) GTEST_SKIP() << why;
    RingoTest::SetUp();
  }
  // Starts the proxy with `args` (forward_proxy.py's options); its port.
  std::uint16_t start_proxy(const std::vector<std::string>& args = {}) {
    std::vector<std::string> argv{"/usr/bin/python3",
                                  std::string(RINGO_SOURCE_DIR) + "/test/http/forward_proxy.py"};
    argv.insert(argv.end(), args.begin(), args.end());
    proxy_ = std::make_unique<child_process>(argv);
    auto line = proxy_->wait_for_line("listening ", 10s);
    if (!line) return 0;
    return std::uint16_t(std::stoi(line->substr(line->find(' ') + 1)));
  }
  child_process& proxy() { return *proxy_; }
  const ringo::test::test_certs& certs() const { return *certs_; }
  void TearDown() override {
    proxy_.reset();  // (killed and reaped before the fd count)
    RingoTest::TearDown();
  }

 private:
  const ringo::test::test_certs* certs_ = nullptr;
  std::unique_ptr<child_process> proxy_;
};

struct outcome {
  std::string body;
  std::string error;
  bool tls = false;
  int version = 0;  // HTTP/1 or HTTP/2
};

task<void> get_through(transport* t, std::string u, outcome* out) {
  client_request req;
  req.url = parse_url(u).value();
  auto resp = co_await t->round_trip(std::move(req));
  if (!resp) {
    out->error = resp.error().message();
  } else {
    out->tls = resp->tls != nullptr;
    out->version = resp->version_major;
    auto body = co_await resp->body->read_all();
    if (body) out->body = *body;
  }
  co_await t->close();
}

outcome get_via(transport_options o, const std::string& u) {
  transport t(std::move(o));
  outcome out;
  ringo::run(get_through(&t, u, &out));
  return out;
}

TEST_F(TransportProxy, HttpGoesToTheProxyInAbsoluteFormWithItsCredentials) {
  http::server srv(say_hello);
  test::server_thread up(srv);
  const std::uint16_t port = start_proxy();
  ASSERT_NE(port, 0);
  transport_options o;
  o.proxy = fixed_proxy(
      parse_proxy("http://aladdin:open%20sesame@127.0.0.1:" + std::to_string(port)).value());
  o.http2_prior_knowledge = true;  // not through a proxy: absolute form is HTTP/1.1
  outcome got = get_via(o, up.url("/x?y=1"));
  EXPECT_EQ(got.error, "");
  EXPECT_EQ(got.body, "hello");
  EXPECT_EQ(got.version, 1);
  EXPECT_TRUE(proxy().wait_for_line(
      "request GET " + up.url("/x?y=1") + " auth=Basic YWxhZGRpbjpvcGVuIHNlc2FtZQ==", 5s))
      << proxy().output();
}

TEST_F(TransportProxy, HttpsTunnelsThroughConnectWithTlsEndToEnd) {
  http::server srv(say_hello);
  test::server_thread up(
      srv, net::tls_config{
               .certificates = {{net::pem::file(certs().leaf), net::pem::file(certs().leaf_key)}}});
  const std::uint16_t port = start_proxy();
  ASSERT_NE(port, 0);
  transport_options o;
  o.tls.root_cas = {net::pem::file(certs().ca)};
  o.proxy = fixed_proxy(parse_proxy("127.0.0.1:" + std::to_string(port)).value());
  outcome got = get_via(o, "https://" + up.address() + "/");
  EXPECT_EQ(got.error, "");
  EXPECT_EQ(got.body, "hello over tls");
  EXPECT_TRUE(got.tls);
  EXPECT_EQ(got.version, 2);  // h2 by ALPN inside the tunnel
  EXPECT_TRUE(proxy().wait_for_line("request CONNECT " + up.address() + " auth=", 5s))
      << proxy().output();
}

// Go's https:// proxies: TLS with the proxy (verified with the transport's roots, the proxy's host
// as server name), then absolute form for http, and for https a tunnel with TLS inside that TLS.
TEST_F(TransportProxy, AnHttpsProxyCarriesHttpAndHttpsOverTlsToIt) {
  http::server plain_srv(say_hello);
  test::server_thread plain(plain_srv);
  http::server tls_srv(say_hello);
  test::server_thread secure(tls_srv,
                             net::tls_config{.certificates = {{net::pem::file(certs().leaf),
                                                               net::pem::file(certs().leaf_key)}}});
  const std::uint16_t port = start_proxy({"--tls", certs().leaf, certs().leaf_key});
  ASSERT_NE(port, 0);
  transport_options o;
  o.tls.root_cas = {net::pem::file(certs().ca)};
  o.proxy = fixed_proxy(parse_proxy("https://127.0.0.1:" + std::to_string(port)).value());
  outcome got = get_via(o, plain.url("/x"));
  EXPECT_EQ(got.error, "");
  EXPECT_EQ(got.body, "hello");
  EXPECT_FALSE(got.tls);  // the response's TLS state is the origin's: none here
  EXPECT_TRUE(proxy().wait_for_line("request GET " + plain.url("/x") + " auth=", 5s))
      << proxy().output();
  got = get_via(o, "https://" + secure.address() + "/");
  EXPECT_EQ(got.error, "");
  EXPECT_EQ(got.body, "hello over tls");
  EXPECT_TRUE(got.tls);
  EXPECT_EQ(got.version, 2);  // HTTP/2 in TLS in TLS; the proxy is offered http/1.1 only
  EXPECT_TRUE(proxy().wait_for_line("request CONNECT " + secure.address() + " auth=", 5s))
      << proxy().output();
}

TEST_F(TransportProxy, AnHttpsProxyWhoseCertificateDoesNotVerifyIsAProxyconnectError) {
  const std::uint16_t port = start_proxy({"--tls", certs().self_signed, certs().self_signed_key});
  ASSERT_NE(port, 0);
  transport_options o;
  o.tls.root_cas = {net::pem::file(certs().ca)};
  o.proxy = fixed_proxy(parse_proxy("https://127.0.0.1:" + std::to_string(port)).value());
  outcome got = get_via(o, "http://127.0.0.1:9/");
  EXPECT_EQ(got.error,
            "proxyconnect tcp: tls: failed to verify certificate: x509: certificate signed by "
            "unknown authority");
}

TEST_F(TransportProxy, ARefusedTunnelFailsWithTheProxysStatusText) {
  const std::uint16_t port = start_proxy({"--refuse"});
  ASSERT_NE(port, 0);
  transport_options o;
  o.tls.root_cas = {net::pem::file(certs().ca)};
  o.proxy = fixed_proxy(parse_proxy("127.0.0.1:" + std::to_string(port)).value());
  outcome got = get_via(o, "https://127.0.0.1:9/");
  EXPECT_EQ(got.error, "Forbidden");  // Go: the status text ("Get \"https://...\": Forbidden")
}

TEST_F(TransportProxy, AProxyThatIsNotThereIsAProxyconnectError) {
  std::uint16_t port = 0;
  {
    auto l = net::listen("tcp", "127.0.0.1:0").value();  // a port nobody listens on afterwards
    port = l.addr().port();
  }
  transport_options o;
  o.proxy = fixed_proxy(parse_proxy("127.0.0.1:" + std::to_string(port)).value());
  outcome got = get_via(o, "http://127.0.0.1:9/");
  EXPECT_EQ(got.error, "proxyconnect tcp: dial tcp 127.0.0.1:" + std::to_string(port) +
                           ": connect: connection refused");
}

TEST_F(TransportProxy, ABadProxyFunctionResultFailsTheRequest) {
  transport_options o;
  o.proxy = proxy_from_config({.http_proxy = "proxy.tld:1", .cgi = true});
  outcome got = get_via(o, "http://127.0.0.1:9/");  // (refused before any dial)
  EXPECT_EQ(got.error,
            "refusing to use HTTP_PROXY value in CGI environment; see golang.org/s/cgihttpproxy");
}

// A proxy that takes the CONNECT and never answers: the tunnel's wait is bounded by
// tls_handshake_timeout, and a request that gives up (its stop) returns at once; the fixture
// counts the descriptors after the transport has closed.
task<void> stop_after(std::stop_source* stop, duration after) {
  (void)co_await sleep_for(after);
  stop->request_stop();
}

task<void> get_stopped_after(transport* t, std::string u, duration after, outcome* out,
                             duration* took) {
  std::stop_source stop;
  scope sc;
  sc.spawn(stop_after(&stop, after));
  const time_point start = clock::now();
  client_request req;
  req.url = parse_url(u).value();
  auto resp = co_await t->round_trip(std::move(req), stop.get_token());
  *took = clock::now() - start;
  if (!resp) out->error = resp.error().message();
  co_await sc.join();
  co_await t->close();
}

TEST_F(TransportProxy, ASilentTunnelEndsAtTheHandshakeTimeoutOrTheRequestsStop) {
  const std::uint16_t port = start_proxy({"--silent"});
  ASSERT_NE(port, 0);
  transport_options o;
  o.tls.root_cas = {net::pem::file(certs().ca)};
  o.proxy = fixed_proxy(parse_proxy("127.0.0.1:" + std::to_string(port)).value());
  o.tls_handshake_timeout = 300ms;
  const time_point start = clock::now();
  outcome timed_out = get_via(o, "https://127.0.0.1:9/");
  EXPECT_NE(timed_out.error, "");
  EXPECT_LT(clock::now() - start, 5s);

  o.tls_handshake_timeout = 60s;
  transport t(o);
  outcome stopped;
  duration took{};
  ringo::run(get_stopped_after(&t, "https://127.0.0.1:9/", 200ms, &stopped, &took));
  EXPECT_EQ(stopped.error, "context canceled");
  EXPECT_LT(took, 5s);
}

}  // namespace
}  // namespace ringo::http
