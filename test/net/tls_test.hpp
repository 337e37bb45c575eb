// TLS test support: the fixture (fd-leak check, certificates made with the openssl CLI), configs
// for the test certificates, and a ringo client and server shaking hands over loopback.
#pragma once

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include <ringo/net.hpp>

#include "net_test.hpp"
#include "tls_certs.hpp"

// ASSERT_* returns, which a coroutine cannot do: this fails the test and co_returns instead.
#define CO_ASSERT(cond)                               \
  do {                                                \
    if (!(cond)) {                                    \
      ADD_FAILURE() << "assertion failed: " << #cond; \
      co_return;                                      \
    }                                                 \
  } while (false)

namespace ringo::net::test {

using namespace std::chrono_literals;
using ringo::test::test_certs;

// Every TLS test: no descriptor leaked, and the certificates at hand (skipped without openssl).
class TlsTest : public RingoTest {
 protected:
  void SetUp() override {
    RingoTest::SetUp();
    std::string why;
    certs_ = ringo::test::tls_test_certs(&why);
    if (!certs_) GTEST_SKIP() << why;
  }
  const test_certs& certs() const { return *certs_; }

  // A server presenting `cert` (the leaf by default).
  tls_config server_config(std::string cert = {}, std::string key = {}) const {
    if (cert.empty()) cert = certs_->leaf, key = certs_->leaf_key;
    return {.certificates = {{pem::file(cert), pem::file(key)}}};
  }
  // A client trusting the test CA.
  tls_config client_config() const { return {.root_cas = {pem::file(certs_->ca)}}; }

 private:
  const test_certs* certs_ = nullptr;
};

// A generous bound for handshakes that should succeed: a hung test fails instead of hanging.
inline time_point soon() {
  return clock::now() + 10s;
}

// Both ends of one handshake over loopback.
struct shake_result {
  result<tls_stream, tls_error> client = tls_error{};
  result<tls_stream, tls_error> server = tls_error{};
};

inline task<void> serve_one(listener* l, tls_context ctx, result<tls_stream, tls_error>* out) {
  auto c = co_await l->accept();
  if (!c) {
    *out = tls_error{.err = c.error().err, .detail = {}};
    co_return;
  }
  *out = co_await tls_server(std::move(*c), std::move(ctx), {}, soon());
}

// A ringo client with `client_ctx` shakes hands with a ringo server with `server_ctx`, both on
// this loop; `name` is the server name the client verifies ("": the config's). On a new listener
// on `host`, or on `on` when given.
inline task<shake_result> shake(tls_context client_ctx, tls_context server_ctx,
                                std::string name = "localhost", std::string host = "127.0.0.1",
                                listener* on = nullptr) {
  std::string where = host.find(':') != std::string::npos ? "[" + host + "]:0" : host + ":0";
  listener own;
  if (!on) {
    own = listen("tcp", where).value();
    on = &own;
  }
  shake_result out;
  scope s;
  s.spawn(serve_one(on, std::move(server_ctx), &out.server));
  auto c = co_await dial("tcp", on->addr().to_string());
  if (c)
    out.client = co_await tls_client(std::move(*c), std::move(client_ctx), {}, soon(), name);
  else
    out.client = tls_error{.err = c.error().err, .detail = c.error().message()};
  co_await s.join();
  co_return out;
}

// The same with contexts made from configs (a context per call: fine for tests).
inline task<shake_result> shake(const tls_config& client, const tls_config& server,
                                std::string name = "localhost", std::string host = "127.0.0.1",
                                listener* on = nullptr) {
  return shake(tls_context(client), tls_context(server), std::move(name), std::move(host), on);
}

// The message of a failed result, or "ok".
template <typename T>
std::string message_of(const result<T, tls_error>& r) {
  return r ? std::string("ok") : r.error().message();
}

}  // namespace ringo::net::test
