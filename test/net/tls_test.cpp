// tls: ringo's TLS client and server against each other over loopback: round trips, 20 MiB each
// way, ALPN, certificate and name verification with Go's error texts, client certificates,
// session resumption, close_notify against truncation, the watches, every blocking path with its
// stop and deadline, and peers that do not speak TLS. Interop with OpenSSL's and Python's TLS is
// in tls_interop_test.cpp.
#include "tls_test.hpp"

#include <algorithm>
#include <cstdint>
#include <fcntl.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace ringo::net {
namespace {

using test::message_of;
using test::shake;
using test::soon;
using test::TlsTest;
using namespace std::chrono_literals;
using ringo::test::ms;
using ringo::test::value_or;

class Tls : public TlsTest {};

std::string read_some_text(std::size_t n, const char* from) {
  return std::string(from, n);
}

// --- round trips -----------------------------------------------------------------------------

TEST_F(Tls, ClientAndServerExchangeBytesAndSeeTheConnectionState) {
  ringo::run([&]() -> task<void> {
    auto r = co_await shake(client_config(), server_config());
    EXPECT_TRUE(r.client) << message_of(r.client);
    EXPECT_TRUE(r.server) << message_of(r.server);
    if (!r.client || !r.server) co_return;
    tls_stream& c = *r.client;
    tls_stream& s = *r.server;

    EXPECT_EQ(value_or(co_await c.write_all("ping"), 0u), 4u);
    char buf[4];
    EXPECT_EQ(value_or(co_await s.read_full(buf), 0u), 4u);
    EXPECT_EQ(read_some_text(4, buf), "ping");
    EXPECT_EQ(value_or(co_await s.write_all("pong"), 0u), 4u);
    EXPECT_EQ(value_or(co_await c.read_full(buf), 0u), 4u);
    EXPECT_EQ(read_some_text(4, buf), "pong");

    auto cs = c.connection_state();
    EXPECT_TRUE(cs.handshake_complete);
    EXPECT_FALSE(cs.did_resume);
    EXPECT_EQ(cs.version, version_tls13);
    EXPECT_EQ(cs.version_name(), "TLS 1.3");
    EXPECT_EQ(cs.cipher_suite_name.rfind("TLS_", 0), 0u) << cs.cipher_suite_name;
    EXPECT_NE(cs.cipher_suite, 0);
    EXPECT_EQ(cs.server_name, "localhost");
    EXPECT_EQ(cs.negotiated_protocol, "");
    CO_ASSERT(cs.peer_certificates.size() == 1u);
    EXPECT_GT(cs.peer_certificates[0].size(), 100u);
    EXPECT_EQ(cs.peer_certificates[0][0], 0x30);  // DER: a SEQUENCE
    EXPECT_EQ(cs.peer_subject, "CN=localhost,O=ringo");

    auto ss = s.connection_state();
    EXPECT_TRUE(ss.handshake_complete);
    EXPECT_EQ(ss.server_name, "localhost");  // the SNI the client sent
    EXPECT_TRUE(ss.peer_certificates.empty());
    EXPECT_EQ(ss.cipher_suite, cs.cipher_suite);

    EXPECT_EQ(c.network(), "tcp");
    EXPECT_EQ(c.remote_address()->to_string(), s.local_address()->to_string());
  }());
}

TEST_F(Tls, Tls12WorksWhenTheClientCapsTheVersion) {
  ringo::run([&]() -> task<void> {
    tls_config cc = client_config();
    cc.max_version = version_tls12;
    auto r = co_await shake(cc, server_config());
    EXPECT_TRUE(r.client) << message_of(r.client);
    CO_ASSERT(r.client);
    EXPECT_TRUE(r.server) << message_of(r.server);
    CO_ASSERT(r.server);
    auto cs = r.client->connection_state();
    EXPECT_EQ(cs.version_name(), "TLS 1.2");
    EXPECT_EQ(cs.cipher_suite_name, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
    (void)co_await r.client->write_all("12");
    char buf[2];
    EXPECT_EQ(value_or(co_await r.server->read_full(buf), 0u), 2u);
  }());
}

std::uint8_t pattern(std::uint32_t seed, std::size_t i) {
  return static_cast<std::uint8_t>((i * 7) ^ (i >> 9) ^ seed);
}

task<void> send_pattern(stream* s, std::size_t total, std::uint32_t seed,
                        result<std::size_t>* out) {
  std::vector<std::uint8_t> buf(100'000);  // not a multiple of a record: records split writes
  std::size_t sent = 0;
  while (sent < total) {
    std::size_t n = std::min(buf.size(), total - sent);
    for (std::size_t i = 0; i < n; ++i) buf[i] = pattern(seed, sent + i);
    auto w = co_await s->write_all(const_buffer(buf.data(), n));
    if (!w) {
      *out = w.error();
      co_return;
    }
    sent += n;
  }
  *out = sent;
}

struct received {
  std::size_t bytes = 0;
  std::size_t first_wrong = SIZE_MAX;
  std::error_code error;
};

task<void> receive_pattern(stream* s, std::size_t total, std::uint32_t seed, received* out) {
  std::vector<std::uint8_t> buf(70'000);
  while (out->bytes < total) {
    auto n = co_await s->read(buf);
    if (!n || *n == 0) {
      out->error = n.error();
      co_return;
    }
    for (std::size_t i = 0; i < *n; ++i)
      if (buf[i] != pattern(seed, out->bytes + i) && out->first_wrong == SIZE_MAX)
        out->first_wrong = out->bytes + i;
    out->bytes += *n;
  }
}

TEST_F(Tls, TwentyMebibytesEachWayArriveByteExact) {
  ringo::run([&]() -> task<void> {
    auto r = co_await shake(client_config(), server_config());
    CO_ASSERT(r.client && r.server);
    constexpr std::size_t total = 20 << 20;
    result<std::size_t> up = std::size_t{0}, down = std::size_t{0};
    received at_server, at_client;
    scope s;
    s.spawn(send_pattern(&*r.client, total, 1, &up));
    s.spawn(send_pattern(&*r.server, total, 2, &down));
    s.spawn(receive_pattern(&*r.server, total, 1, &at_server));
    s.spawn(receive_pattern(&*r.client, total, 2, &at_client));
    co_await s.join();
    EXPECT_EQ(value_or(up, 0u), total);
    EXPECT_EQ(value_or(down, 0u), total);
    EXPECT_EQ(at_server.bytes, total) << at_server.error.message();
    EXPECT_EQ(at_client.bytes, total) << at_client.error.message();
    EXPECT_EQ(at_server.first_wrong, SIZE_MAX);
    EXPECT_EQ(at_client.first_wrong, SIZE_MAX);

    // A clean end both ways after the flood.
    EXPECT_TRUE(co_await r.client->close_write());
    EXPECT_TRUE(co_await r.server->close_write());
    char b;
    EXPECT_EQ(value_or(co_await r.server->read({&b, 1}), 9u), 0u);
    EXPECT_EQ(value_or(co_await r.client->read({&b, 1}), 9u), 0u);
  }());
}

// --- ALPN -------------------------------------------------------------------------------------

TEST_F(Tls, AlpnPicksTheServersFirstProtocolThatTheClientOffers) {
  ringo::run([&]() -> task<void> {
    tls_config cc = client_config();
    cc.next_protos = {"http/1.1", "h2"};
    tls_config sc = server_config();
    sc.next_protos = {"h2", "http/1.1"};
    auto r = co_await shake(cc, sc);
    EXPECT_TRUE(r.client && r.server) << message_of(r.client) << " / " << message_of(r.server);
    CO_ASSERT(r.client && r.server);
    EXPECT_EQ(r.client->connection_state().negotiated_protocol, "h2");
    EXPECT_EQ(r.server->connection_state().negotiated_protocol, "h2");
  }());
}

TEST_F(Tls, AlpnWithoutACommonProtocolFailsAsInGo) {
  ringo::run([&]() -> task<void> {
    tls_config cc = client_config();
    cc.next_protos = {"spdy/3", "foo"};
    tls_config sc = server_config();
    sc.next_protos = {"h2"};
    auto r = co_await shake(cc, sc);
    EXPECT_EQ(message_of(r.server),
              "tls: client requested unsupported application protocols ([spdy/3 foo])");
    EXPECT_EQ(message_of(r.client), "remote error: tls: no application protocol");
    EXPECT_EQ(r.client.error().err, tls_alert_error(120));
  }());
}

TEST_F(Tls, AlpnLetsAnHttp11ClientOfAnH2ServerInWithoutAProtocol) {
  ringo::run([&]() -> task<void> {
    tls_config cc = client_config();
    cc.next_protos = {"http/1.1"};
    tls_config sc = server_config();
    sc.next_protos = {"h2"};
    auto r = co_await shake(cc, sc);
    EXPECT_TRUE(r.client && r.server) << message_of(r.client) << " / " << message_of(r.server);
    CO_ASSERT(r.client && r.server);
    EXPECT_EQ(r.client->connection_state().negotiated_protocol, "");
  }());
}

// --- verification -------------------------------------------------------------------------------

struct verify_case {
  const char* what;
  std::string cert, key;  // the server's
  tls_config client;
  std::string name;  // the name the client verifies
  std::string host = "127.0.0.1";
  std::string want;  // the client's error message, or a prefix of it ending in "..."; "ok"
};

bool matches(const std::string& got, const std::string& want) {
  if (want.size() > 3 && want.compare(want.size() - 3, 3, "...") == 0)
    return got.rfind(want.substr(0, want.size() - 3), 0) == 0;
  return got == want;
}

TEST_F(Tls, VerificationAcceptsTheRightServerAndNamesWhatIsWrongWithOthersInGosWords) {
  const auto& c = certs();
  tls_config trusting = client_config();
  tls_config insecure{.insecure_skip_verify = true};
  std::vector<verify_case> cases = {
      {"the right name", c.leaf, c.leaf_key, trusting, "localhost", "127.0.0.1", "ok"},
      {"an IP SAN", c.leaf, c.leaf_key, trusting, "127.0.0.1", "127.0.0.1", "ok"},
      {"a wrong name", c.other, c.other_key, trusting, "localhost", "127.0.0.1",
       "tls: failed to verify certificate: x509: certificate is valid for other.test, not "
       "localhost"},
      {"a wrong IP", c.leaf, c.leaf_key, trusting, "127.0.0.2", "127.0.0.1",
       "tls: failed to verify certificate: x509: certificate is valid for 127.0.0.1, ::1, not "
       "127.0.0.2"},
      {"an IP against DNS names only", c.other, c.other_key, trusting, "127.0.0.1", "127.0.0.1",
       "tls: failed to verify certificate: x509: cannot validate certificate for 127.0.0.1 "
       "because it doesn't contain any IP SANs"},
      {"an unknown CA (the system roots)", c.leaf, c.leaf_key, tls_config{}, "localhost",
       "127.0.0.1",
       "tls: failed to verify certificate: x509: certificate signed by unknown authority"},
      {"an expired certificate", c.expired, c.expired_key, trusting, "localhost", "127.0.0.1",
       "tls: failed to verify certificate: x509: certificate has expired or is not yet valid: "
       "current time ..."},
      {"a self-signed certificate", c.self_signed, c.self_signed_key, trusting, "localhost",
       "127.0.0.1",
       "tls: failed to verify certificate: x509: certificate signed by unknown authority"},
      {"a self-signed certificate, insecure_skip_verify", c.self_signed, c.self_signed_key,
       insecure, "localhost", "127.0.0.1", "ok"},
      {"the wrong name, insecure_skip_verify", c.other, c.other_key, insecure, "localhost",
       "127.0.0.1", "ok"},
  };
  if (test::has_ipv6())
    cases.push_back({"an IPv6 SAN", c.leaf, c.leaf_key, trusting, "::1", "::1", "ok"});
  for (const verify_case& vc : cases) {
    SCOPED_TRACE(vc.what);
    ringo::run([&]() -> task<void> {
      auto r = co_await shake(vc.client, server_config(vc.cert, vc.key), vc.name, vc.host);
      std::string got = message_of(r.client);
      EXPECT_TRUE(matches(got, vc.want)) << got;
      if (vc.want == "ok") {
        EXPECT_TRUE(r.server) << message_of(r.server);
      } else {
        // The server learns why from the client's alert.
        EXPECT_EQ(message_of(r.server).rfind("remote error: tls: ", 0), 0u) << message_of(r.server);
      }
    }());
  }
}

TEST_F(Tls, VerificationFailuresCarryTheirCodes) {
  const auto& c = certs();
  ringo::run([&]() -> task<void> {
    auto wrong = co_await shake(client_config(), server_config(c.other, c.other_key));
    EXPECT_EQ(wrong.client.error(), errc::tls_hostname_mismatch);
    auto expired = co_await shake(client_config(), server_config(c.expired, c.expired_key));
    EXPECT_EQ(expired.client.error(), errc::tls_certificate_expired);
    auto self = co_await shake(client_config(), server_config(c.self_signed, c.self_signed_key));
    EXPECT_EQ(self.client.error(), errc::tls_unknown_authority);
    EXPECT_EQ(self.client.error().code().category().name(), std::string("ringo.net"));
  }());
}

TEST_F(Tls, AClientWithoutANameOrInsecureSkipVerifyIsRefusedBeforeSending) {
  ringo::run([&]() -> task<void> {
    auto r = co_await shake(client_config(), server_config(), "");
    EXPECT_EQ(message_of(r.client),
              "tls: either server_name or insecure_skip_verify must be set in the tls_config (Go: "
              "ServerName, InsecureSkipVerify)");
    EXPECT_EQ(r.server.error(), errc::unexpected_eof);  // the client hung up without a word
  }());
}

// --- configuration ----------------------------------------------------------------------------

TEST_F(Tls, ABadConfigurationIsReportedWhenTheContextIsMade) {
  const auto& c = certs();
  auto missing = tls_context::make({.root_cas = {pem::file(c.dir + "/nonexistent.pem")}});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(),
            "tls: open " + c.dir + "/nonexistent.pem: no such file or directory");
  EXPECT_EQ(missing.error(), errc::tls_config);

  auto garbage = tls_context::make(
      {.certificates = {{pem::data("not a certificate"), pem::file(c.leaf_key)}}});
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().message(), "tls: failed to find any PEM data in certificate input");

  auto mismatch =
      tls_context::make({.certificates = {{pem::file(c.leaf), pem::file(c.other_key)}}});
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().message(), "tls: private key does not match public key");

  // A context that failed to build fails every handshake with the same error, and leaks nothing.
  tls_context broken(tls_config{.root_cas = {pem::data("junk")}});
  EXPECT_FALSE(broken);
  ringo::run([&]() -> task<void> {
    auto r = co_await shake(broken, tls_context(server_config()));
    EXPECT_EQ(message_of(r.client), "tls: failed to find any PEM data in root CA input");
  }());
}

TEST_F(Tls, PemInMemoryWorksLikeFiles) {
  auto slurp = [](const std::string& path) {
    std::string text;
    auto fd = unique_fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    char buf[4096];
    for (ssize_t n; (n = ::read(fd.get(), buf, sizeof buf)) > 0;) text.append(buf, n);
    return text;
  };
  tls_config sc{
      .certificates = {{pem::data(slurp(certs().leaf)), pem::data(slurp(certs().leaf_key))}}};
  tls_config cc{.root_cas = {pem::data(slurp(certs().ca))}};
  ringo::run([&]() -> task<void> {
    auto r = co_await shake(cc, sc);
    EXPECT_TRUE(r.client) << message_of(r.client);
    EXPECT_TRUE(r.server) << message_of(r.server);
  }());
}

// --- client certificates ----------------------------------------------------------------------

tls_config with_client_cert(tls_config c, const std::string& cert, const std::string& key) {
  c.certificates = {{pem::file(cert), pem::file(key)}};
  return c;
}

TEST_F(Tls, ARequiredClientCertificateIsVerifiedAndSeenByTheServer) {
  const auto& c = certs();
  tls_config sc = server_config();
  sc.client_auth = client_auth_type::require_and_verify_client_cert;
  sc.client_cas = {pem::file(c.ca)};
  ringo::run([&]() -> task<void> {
    auto r = co_await shake(with_client_cert(client_config(), c.client, c.client_key), sc);
    EXPECT_TRUE(r.client) << message_of(r.client);
    CO_ASSERT(r.client);
    EXPECT_TRUE(r.server) << message_of(r.server);
    CO_ASSERT(r.server);
    auto ss = r.server->connection_state();
    EXPECT_EQ(ss.peer_certificates.size(), 1u);
    CO_ASSERT(ss.peer_certificates.size() == 1u);
    EXPECT_EQ(ss.peer_subject, "CN=ringo client,O=ringo");
  }());
}

// In TLS 1.3 the client's handshake ends before the server has judged its certificate: the
// client learns of a refusal on its first read, as with Go.
TEST_F(Tls, AMissingOrUntrustedClientCertificateIsRefused) {
  const auto& c = certs();
  tls_config sc = server_config();
  sc.client_auth = client_auth_type::require_and_verify_client_cert;
  sc.client_cas = {pem::file(c.ca)};
  ringo::run([&]() -> task<void> {
    auto none = co_await shake(client_config(), sc);
    EXPECT_EQ(message_of(none.server), "tls: client didn't provide a certificate");
    EXPECT_EQ(none.server.error(), errc::tls_no_certificate);
    if (none.client) {
      char b;
      auto read = co_await none.client->read({&b, 1});
      EXPECT_EQ(read.error(), tls_alert_error(116));
      EXPECT_EQ(error_text(read.error()), "remote error: tls: certificate required");
    }

    auto untrusted =
        co_await shake(with_client_cert(client_config(), c.self_signed, c.self_signed_key), sc);
    EXPECT_EQ(message_of(untrusted.server),
              "tls: failed to verify certificate: x509: certificate signed by unknown authority");
    if (untrusted.client) {
      char b;
      auto read = co_await untrusted.client->read({&b, 1});
      EXPECT_EQ(error_text(read.error()), "remote error: tls: unknown certificate authority");
    }
  }());
}

TEST_F(Tls, RequestedClientCertificatesAreOptionalAndUnverified) {
  const auto& c = certs();
  tls_config sc = server_config();
  sc.client_auth = client_auth_type::request_client_cert;
  ringo::run([&]() -> task<void> {
    auto none = co_await shake(client_config(), sc);
    EXPECT_TRUE(none.server) << message_of(none.server);
    auto self =
        co_await shake(with_client_cert(client_config(), c.self_signed, c.self_signed_key), sc);
    EXPECT_TRUE(self.server) << message_of(self.server);
    CO_ASSERT(self.server);
    EXPECT_EQ(self.server->connection_state().peer_certificates.size(), 1u);
  }());
}

// --- session resumption -----------------------------------------------------------------------

// One connection to `l`: a byte from the server (a TLS 1.3 ticket arrives before it), then a
// close. Whether the client and the server resumed.
task<std::pair<bool, bool>> connect_and_exchange(tls_context cc, tls_context sc, listener* l) {
  auto r = co_await shake(std::move(cc), std::move(sc), "localhost", "127.0.0.1", l);
  if (!r.client || !r.server) {
    ADD_FAILURE() << message_of(r.client) << " / " << message_of(r.server);
    co_return std::pair{false, false};
  }
  (void)co_await r.server->write_all("x");
  char b;
  (void)co_await r.client->read({&b, 1});
  co_return std::pair{r.client->connection_state().did_resume,
                      r.server->connection_state().did_resume};
}

TEST_F(Tls, ASecondConnectionResumesTheSessionWithTls13Tickets) {
  tls_context client_ctx(client_config());
  tls_context server_ctx(server_config());
  ringo::run([&]() -> task<void> {
    auto l = listen("tcp", "127.0.0.1:0").value();
    auto first = co_await connect_and_exchange(client_ctx, server_ctx, &l);
    EXPECT_FALSE(first.first);
    auto second = co_await connect_and_exchange(client_ctx, server_ctx, &l);
    EXPECT_TRUE(second.first) << "the client did not resume";
    EXPECT_TRUE(second.second) << "the server did not resume";
    // The cache is keyed by name and port: the same name elsewhere starts afresh.
    auto elsewhere = listen("tcp", "127.0.0.1:0").value();
    EXPECT_FALSE((co_await connect_and_exchange(client_ctx, server_ctx, &elsewhere)).first);
  }());
}

TEST_F(Tls, ASecondConnectionResumesWithTls12Tickets) {
  tls_config cc = client_config();
  cc.max_version = version_tls12;
  tls_context client_ctx(cc);
  tls_context server_ctx(server_config());
  ringo::run([&]() -> task<void> {
    auto l = listen("tcp", "127.0.0.1:0").value();
    (void)co_await connect_and_exchange(client_ctx, server_ctx, &l);
    auto second = co_await connect_and_exchange(client_ctx, server_ctx, &l);
    EXPECT_TRUE(second.first);
  }());
}

TEST_F(Tls, NothingResumesWhenTicketsOrTheCacheAreOff) {
  tls_config no_tickets = server_config();
  no_tickets.session_tickets_disabled = true;
  tls_config no_cache = client_config();
  no_cache.client_session_cache_size = 0;
  ringo::run([&]() -> task<void> {
    auto l = listen("tcp", "127.0.0.1:0").value();
    tls_context client_ctx(client_config());
    tls_context server_ctx(no_tickets);
    (void)co_await connect_and_exchange(client_ctx, server_ctx, &l);
    EXPECT_FALSE((co_await connect_and_exchange(client_ctx, server_ctx, &l)).first);

    tls_context uncached(no_cache);
    tls_context tickets(server_config());
    (void)co_await connect_and_exchange(uncached, tickets, &l);
    EXPECT_FALSE((co_await connect_and_exchange(uncached, tickets, &l)).first);
  }());
}

// --- the end of a stream ------------------------------------------------------------------------

TEST_F(Tls, CloseNotifyEndsTheStreamAndATcpEndWithoutItIsUnexpectedEof) {
  ringo::run([&]() -> task<void> {
    auto clean = co_await shake(client_config(), server_config());
    CO_ASSERT(clean.client && clean.server);
    (void)co_await clean.server->write_all("last");
    EXPECT_TRUE(co_await clean.server->close_write());
    char buf[8];
    EXPECT_EQ(value_or(co_await clean.client->read_full({buf, 4}), 0u), 4u);
    for (int i = 0; i < 2; ++i) EXPECT_EQ(value_or(co_await clean.client->read(buf), 9u), 0u);
    // A write after close_write is refused; reading goes on.
    EXPECT_EQ((co_await clean.server->write("more")).error(), errc::tls_shutdown);
    (void)co_await clean.client->write_all("back");
    EXPECT_EQ(value_or(co_await clean.server->read_full({buf, 4}), 0u), 4u);

    auto cut = co_await shake(client_config(), server_config());
    CO_ASSERT(cut.client && cut.server);
    (void)co_await cut.server->write_all("part");
    EXPECT_TRUE(co_await cut.server->underlying().close_write());  // FIN, no close_notify
    EXPECT_EQ(value_or(co_await cut.client->read_full({buf, 4}), 0u), 4u);
    auto r = co_await cut.client->read(buf);
    EXPECT_EQ(r.error(), errc::unexpected_eof);
    EXPECT_EQ(error_text(r.error()), "unexpected EOF");
    EXPECT_EQ((co_await cut.client->read(buf)).error(), errc::unexpected_eof);  // it stays so
  }());
}

TEST_F(Tls, ReadsAndWritesAfterCloseFailAsClosed) {
  ringo::run([&]() -> task<void> {
    auto r = co_await shake(client_config(), server_config());
    CO_ASSERT(r.client && r.server);
    // (A byte read first takes the session ticket out of the client's socket too: a socket
    // closed with unread bytes sends a reset, not a FIN.)
    (void)co_await r.server->write_all("x");
    char x;
    (void)co_await r.client->read({&x, 1});
    r.client->close();
    EXPECT_FALSE(r.client->is_open());
    r.client->close();  // idempotent
    char b;
    EXPECT_EQ((co_await r.client->read({&b, 1})).error(), errc::closed);
    EXPECT_EQ((co_await r.client->write("x")).error(), errc::closed);
    EXPECT_EQ(value_or(co_await r.server->wait_hangup({}), hangup::broken), hangup::closed);
  }());
}

// --- the watches
// ----------------------------------------------------------------------------------

TEST_F(Tls, WaitHangupTellsACleanCloseFromOneWithDataLeftAndFromAReset) {
  ringo::run([&]() -> task<void> {
    // close_notify and FIN, nothing else: closed (the close_notify is not data).
    auto a = co_await shake(client_config(), server_config());
    CO_ASSERT(a.client && a.server);
    EXPECT_TRUE(co_await a.client->close_write());
    EXPECT_EQ(value_or(co_await a.server->wait_hangup({}), hangup::broken), hangup::closed);
    char buf[8];
    EXPECT_EQ(value_or(co_await a.server->read(buf), 9u), 0u);

    // Data, then the close: closed_later, and the data is still there to read.
    auto b = co_await shake(client_config(), server_config());
    CO_ASSERT(b.client && b.server);
    (void)co_await b.client->write_all("bye");
    EXPECT_TRUE(co_await b.client->close_write());
    EXPECT_EQ(value_or(co_await b.server->wait_hangup({}), hangup::broken), hangup::closed_later);
    EXPECT_TRUE(b.server->has_buffered_input());
    EXPECT_EQ(value_or(co_await b.server->read_full({buf, 3}), 0u), 3u);
    EXPECT_EQ(std::string(buf, 3), "bye");
    EXPECT_EQ(value_or(co_await b.server->read(buf), 9u), 0u);

    // A reset: broken.
    auto c = co_await shake(client_config(), server_config());
    CO_ASSERT(c.client && c.server);
    ringo::test::set_reset_on_close(dynamic_cast<conn&>(c.client->underlying()).native_handle());
    c.client->close();
    EXPECT_EQ(value_or(co_await c.server->wait_hangup({}), hangup::closed), hangup::broken);
  }());
}

TEST_F(Tls, WaitHangupStops) {
  ringo::run([&]() -> task<void> {
    auto r = co_await shake(client_config(), server_config());
    CO_ASSERT(r.server);
    std::stop_source stop;
    scope s;
    s.spawn(ringo::test::stop_after(&stop, 20ms));
    auto start = clock::now();
    auto h = co_await r.server->wait_hangup(stop.get_token());
    co_await s.join();
    EXPECT_EQ(h.error(), ringo::errc::operation_canceled);
    EXPECT_LT(ms(clock::now() - start), 1000.0);
  }());
}

TEST_F(Tls, WaitReadableIsReadyAtOnceWithPlaintextBufferedAndElseWaitsWithoutBuffers) {
  ringo::run([&]() -> task<void> {
    auto r = co_await shake(client_config(), server_config());
    CO_ASSERT(r.client && r.server);
    // Nothing there: the deadline, then a stop.
    auto quiet = co_await r.client->wait_readable({}, clock::now() + 20ms);
    EXPECT_EQ(quiet.error(), ringo::errc::timed_out);
    std::stop_source stop;
    scope s;
    s.spawn(ringo::test::stop_after(&stop, 20ms));
    auto stopped = co_await r.client->wait_readable(stop.get_token());
    co_await s.join();
    EXPECT_EQ(stopped.error(), ringo::errc::operation_canceled);
    EXPECT_FALSE(r.client->has_buffered_input());
    // The idle watch gave its buffers back; writing makes new ones.
    EXPECT_TRUE(co_await r.client->write_all("hi"));
    char hi[2];
    EXPECT_EQ(value_or(co_await r.server->read_full(hi), 0u), 2u);

    (void)co_await r.server->write_all("abc");
    EXPECT_TRUE(co_await r.client->wait_readable({}, soon()));
    EXPECT_TRUE(r.client->has_buffered_input());
    char b;
    EXPECT_EQ(value_or(co_await r.client->read({&b, 1}), 0u), 1u);
    // Two bytes of plaintext wait in the SSL: ready without a look at the socket, even for a
    // caller that already gave up.
    std::stop_source gave_up;
    gave_up.request_stop();
    EXPECT_TRUE(co_await r.client->wait_readable(gave_up.get_token()));
    char rest[2];
    EXPECT_EQ(value_or(co_await r.client->read_full(rest), 0u), 2u);
    EXPECT_EQ(std::string(rest, 2), "bc");
  }());
}

// --- stops and deadlines on every blocking path
// -----------------------------------------------------

TEST_F(Tls, AStopOrADeadlineEndsAClientHandshakePromptly) {
  ringo::run([&]() -> task<void> {
    for (bool by_stop : {true, false}) {
      SCOPED_TRACE(by_stop ? "stop" : "deadline");
      auto l = listen("tcp", "127.0.0.1:0").value();
      auto c = co_await dial("tcp", l.addr().to_string());
      CO_ASSERT(c);
      auto accepted = test::accept_within(l.native_handle(), 1000ms);
      CO_ASSERT(accepted);
      std::stop_source stop;
      scope s;
      if (by_stop) s.spawn(ringo::test::stop_after(&stop, 50ms));
      time_point deadline = by_stop ? soon() : clock::now() + 50ms;
      auto start = clock::now();
      auto r = co_await tls_client(std::move(*c), tls_context(client_config()), stop.get_token(),
                                   deadline, "localhost");
      double took = ms(clock::now() - start);
      co_await s.join();
      CO_ASSERT(!r);
      EXPECT_EQ(r.error().err, by_stop ? std::errc::operation_canceled : std::errc::timed_out);
      EXPECT_GE(took, 45.0);
      EXPECT_LT(took, 1000.0);
      // The client hello went out; then the client hung up (its conn closed with the error).
      EXPECT_EQ(test::read_within(accepted.get(), 1000ms).value_or("?").substr(0, 1), "\x16");
    }
  }());
}

TEST_F(Tls, AStopOrADeadlineEndsAServerHandshakeWithASilentClient) {
  ringo::run([&]() -> task<void> {
    for (bool by_stop : {true, false}) {
      SCOPED_TRACE(by_stop ? "stop" : "deadline");
      auto l = listen("tcp", "127.0.0.1:0").value();
      auto raw = co_await dial("tcp", l.addr().to_string());  // says nothing
      auto c = co_await l.accept();
      CO_ASSERT(raw && c);
      std::stop_source stop;
      scope s;
      if (by_stop) s.spawn(ringo::test::stop_after(&stop, 50ms));
      time_point deadline = by_stop ? soon() : clock::now() + 50ms;
      auto start = clock::now();
      auto r = co_await tls_server(std::move(*c), tls_context(server_config()), stop.get_token(),
                                   deadline);
      double took = ms(clock::now() - start);
      co_await s.join();
      CO_ASSERT(!r);
      EXPECT_EQ(r.error().err, by_stop ? std::errc::operation_canceled : std::errc::timed_out);
      EXPECT_LT(took, 1000.0);
      char b;
      EXPECT_EQ(value_or(co_await raw->read({&b, 1}, {}, soon()), 9u), 0u);  // closed on us
    }
  }());
}

TEST_F(Tls, AStoppedReadLosesNothingAndTheStreamGoesOn) {
  ringo::run([&]() -> task<void> {
    auto r = co_await shake(client_config(), server_config());
    CO_ASSERT(r.client && r.server);
    std::stop_source stop;
    scope s;
    s.spawn(ringo::test::stop_after(&stop, 20ms));
    char buf[4];
    auto stopped = co_await r.client->read(buf, stop.get_token());
    co_await s.join();
    EXPECT_EQ(stopped.error(), ringo::errc::operation_canceled);
    auto late = co_await r.client->read(buf, {}, clock::now() + 20ms);
    EXPECT_EQ(late.error(), ringo::errc::timed_out);
    r.client->set_read_deadline(clock::now() + 20ms);
    EXPECT_EQ((co_await r.client->read(buf)).error(), ringo::errc::timed_out);
    r.client->set_read_deadline(no_deadline);
    (void)co_await r.server->write_all("more");
    EXPECT_EQ(value_or(co_await r.client->read_full(buf), 0u), 4u);
    EXPECT_EQ(std::string(buf, 4), "more");
  }());
}

TEST_F(Tls, AStoppedWriteFailsTheWriteSideForGood) {
  ringo::run([&]() -> task<void> {
    auto r = co_await shake(client_config(), server_config());
    CO_ASSERT(r.client && r.server);
    // The server reads nothing: the socket buffers fill and the write waits.
    std::vector<char> big(64 << 20, 'x');
    std::stop_source stop;
    scope s;
    s.spawn(ringo::test::stop_after(&stop, 50ms));
    auto start = clock::now();
    auto w = co_await r.client->write_all(big, stop.get_token());
    co_await s.join();
    EXPECT_EQ(w.error(), ringo::errc::operation_canceled);
    EXPECT_LT(ms(clock::now() - start), 2000.0);
    EXPECT_EQ((co_await r.client->write("y")).error(), ringo::errc::operation_canceled);
    EXPECT_EQ((co_await r.client->close_write()).error(), ringo::errc::operation_canceled);

    // A write whose caller already gave up fails without harm.
    auto fresh = co_await shake(client_config(), server_config());
    CO_ASSERT(fresh.client);
    EXPECT_EQ((co_await fresh.client->write("z", {}, clock::now() - 1ms)).error(),
              ringo::errc::timed_out);
    EXPECT_TRUE(co_await fresh.client->write_all("ok"));
  }());
}

TEST_F(Tls, AWriteDeadlineEndsABlockedWrite) {
  ringo::run([&]() -> task<void> {
    auto r = co_await shake(client_config(), server_config());
    CO_ASSERT(r.client && r.server);
    std::vector<char> big(64 << 20, 'x');
    r.client->set_write_deadline(clock::now() + 50ms);
    auto w = co_await r.client->write_all(big);
    EXPECT_EQ(w.error(), ringo::errc::timed_out);
  }());
}

task<void> write_all_into(stream* s, std::vector<char>* data, std::stop_token stop,
                          result<std::size_t>* out) {
  *out = co_await s->write_all(*data, std::move(stop));
}

TEST_F(Tls, ACloseWriteWaitingBehindABlockedWriterStopsWithoutHarm) {
  ringo::run([&]() -> task<void> {
    auto r = co_await shake(client_config(), server_config());
    CO_ASSERT(r.client && r.server);
    std::vector<char> big(64 << 20, 'x');
    result<std::size_t> written = std::size_t{0};
    scope writer;
    writer.spawn(write_all_into(&*r.client, &big, writer.get_token(), &written));
    // The writer now waits for the peer to read (generous: under load, encrypting the megabytes
    // that fill the socket's buffers takes a while).
    (void)co_await sleep_for(300ms);
    std::stop_source stop;
    scope s;
    s.spawn(ringo::test::stop_after(&stop, 20ms));
    auto closed = co_await r.client->close_write(stop.get_token());
    co_await s.join();
    EXPECT_EQ(closed.error(), ringo::errc::operation_canceled);
    writer.request_stop();
    co_await writer.join();
    EXPECT_EQ(written.error(), ringo::errc::operation_canceled);
  }());
}

// A stop that lands around the arrival of the bytes a read waits for: the read returns the bytes
// or operation_canceled, and bytes it did not return are read next. Nothing is lost or repeated.
task<void> stop_racing_data(tls_stream* reader, tls_stream* writer, int rounds) {
  std::size_t sent = 0, got = 0, canceled = 0;
  std::uint8_t expect = 0;
  bool in_order = true;
  for (int i = 0; i < rounds; ++i) {
    std::stop_source stop;
    result<std::size_t> n = std::size_t{0};
    std::uint8_t buf[64];
    scope s;
    s.spawn([](tls_stream* r, std::uint8_t* b, std::stop_token t,
               result<std::size_t>* out) -> task<void> {
      *out = co_await r->read({b, 64}, std::move(t));
    }(reader, buf, stop.get_token(), &n));
    // Where the stop and the bytes land relative to the loop's turns (test::race_plan's walk).
    auto plan = ringo::test::race_plan::for_round(i);
    for (int k = 0; k < plan.turns_before; ++k) co_await yield();
    if (plan.stop_first) stop.request_stop();
    for (int k = 0; k < plan.turns_between; ++k) co_await yield();
    std::uint8_t chunk[16];
    for (std::uint8_t& c : chunk) c = static_cast<std::uint8_t>(sent++);
    (void)co_await writer->write_all({chunk, sizeof chunk});
    stop.request_stop();
    co_await s.join();
    if (!n) {
      EXPECT_EQ(n.error(), ringo::errc::operation_canceled);
      ++canceled;
      continue;
    }
    for (std::size_t j = 0; j < *n; ++j) in_order = in_order && buf[j] == expect++;
    got += *n;
  }
  // Whatever the stopped reads left behind is still there, in order.
  while (got < sent) {
    std::uint8_t buf[256];
    auto n = co_await reader->read({buf, sizeof buf}, {}, soon());
    if (!n || *n == 0) break;
    for (std::size_t j = 0; j < *n; ++j) in_order = in_order && buf[j] == expect++;
    got += *n;
  }
  EXPECT_EQ(got, sent);
  EXPECT_TRUE(in_order);
  EXPECT_GT(canceled, 0u) << "no round was stopped before its bytes came";
}

TEST_F(Tls, StopsRacingArrivingBytesLoseNothing) {
  ringo::run([&]() -> task<void> {
    auto r = co_await shake(client_config(), server_config());
    CO_ASSERT(r.client && r.server);
    co_await stop_racing_data(&*r.client, &*r.server, 2000);
  }());
}

// The seam in action: TLS inside TLS (what a client does through an HTTPS proxy's CONNECT).
TEST_F(Tls, TlsRunsOverAnyStreamTlsIncluded) {
  ringo::run([&]() -> task<void> {
    auto outer = co_await shake(client_config(), server_config());
    CO_ASSERT(outer.client && outer.server);
    result<tls_stream, tls_error> inner_server = tls_error{};
    scope s;
    s.spawn(
        [](tls_stream under, tls_context ctx, result<tls_stream, tls_error>* out) -> task<void> {
          *out = co_await tls_server(std::make_unique<tls_stream>(std::move(under)), std::move(ctx),
                                     {}, soon());
        }(std::move(*outer.server), tls_context(server_config(certs().other, certs().other_key)),
                                                                                  &inner_server));
    auto inner = co_await tls_client(std::make_unique<tls_stream>(std::move(*outer.client)),
                                     tls_context(client_config()), {}, soon(), "other.test");
    co_await s.join();
    EXPECT_TRUE(inner) << message_of(inner);
    CO_ASSERT(inner && inner_server);
    EXPECT_EQ(inner->connection_state().peer_subject, "CN=other.test,O=ringo");
    (void)co_await inner->write_all("nested");
    char buf[6];
    EXPECT_EQ(value_or(co_await inner_server->read_full(buf), 0u), 6u);
    EXPECT_EQ(std::string(buf, 6), "nested");
    EXPECT_EQ(inner->network(), "tcp");
  }());
}

// --- peers that do not speak TLS ----------------------------------------------------------------

TEST_F(Tls, PlaintextHttpToAServerFailsClearlyAndHandsTheConnBackForA400) {
  ringo::run([&]() -> task<void> {
    auto l = listen("tcp", "127.0.0.1:0").value();
    auto raw = co_await dial("tcp", l.addr().to_string());
    auto c = co_await l.accept();
    CO_ASSERT(raw && c);
    (void)co_await raw->write_all("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    auto r = co_await tls_server(std::move(*c), tls_context(server_config()), {}, soon());
    CO_ASSERT(!r);
    EXPECT_EQ(r.error().message(), "tls: first record does not look like a TLS handshake");
    EXPECT_EQ(r.error(), errc::tls_record_header);
    EXPECT_TRUE(r.error().looks_like_http());
    CO_ASSERT(r.error().conn && r.error().conn->is_open());
    // What Go's server answers on the conn it gets back.
    (void)co_await r.error().conn->write_all(
        "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n");
    r.error().conn->close();
    char buf[64];
    auto n = co_await raw->read_full({buf, 24}, {}, soon());
    EXPECT_EQ(std::string(buf, value_or(n, 0u)), "HTTP/1.0 400 Bad Request");
  }());
}

task<tls_error> server_error_for(tls_context ctx, std::string bytes) {
  auto l = listen("tcp", "127.0.0.1:0").value();
  auto raw = co_await dial("tcp", l.addr().to_string());
  auto c = co_await l.accept();
  (void)co_await raw->write_all(bytes);
  (void)raw->shutdown();
  auto r = co_await tls_server(std::move(*c), std::move(ctx), {}, soon());
  co_return r ? tls_error{} : r.error();
}

TEST_F(Tls, GarbageToAServerFailsTheHandshakeWithoutHarm) {
  ringo::run([&]() -> task<void> {
    tls_context ctx(server_config());
    auto binary = co_await server_error_for(ctx, std::string("\x00\xff\x13\x37garbage", 11));
    EXPECT_EQ(binary, errc::tls_record_header);
    EXPECT_FALSE(binary.looks_like_http());
    EXPECT_EQ(binary.record_header[1], 0xff);

    // A handshake record header with a nonsense body: OpenSSL's parser refuses it.
    auto bad_body = co_await server_error_for(ctx, std::string("\x16\x03\x01\x00\x08junkjunk", 13));
    EXPECT_TRUE(bad_body.err);
    EXPECT_NE(bad_body, errc::tls_record_header);
    EXPECT_NE(bad_body.message().find("tls: "), std::string::npos) << bad_body.message();

    // A record longer than TLS allows.
    auto huge = co_await server_error_for(
        ctx, std::string("\x16\x03\x01\xff\xff", 5) + std::string(1000, 'a'));
    EXPECT_TRUE(huge.err);

    // The peer hangs up in the middle of a record.
    auto cut = co_await server_error_for(ctx, std::string("\x16\x03", 2));
    EXPECT_EQ(cut, errc::unexpected_eof);
  }());
}

TEST_F(Tls, AClientFacingAPlaintextServerFailsClearly) {
  ringo::run([&]() -> task<void> {
    auto l = listen("tcp", "127.0.0.1:0").value();
    auto c = co_await dial("tcp", l.addr().to_string());
    auto peer = co_await l.accept();
    CO_ASSERT(c && peer);
    (void)co_await peer->write_all("HTTP/1.1 400 Bad Request\r\n\r\n");
    auto r =
        co_await tls_client(std::move(*c), tls_context(client_config()), {}, soon(), "localhost");
    EXPECT_EQ(message_of(r), "tls: first record does not look like a TLS handshake");
  }());
}

// --- dial_tls ---------------------------------------------------------------------------------

TEST_F(Tls, DialTlsNamesTheServerAfterTheHostDialed) {
  ringo::run([&]() -> task<void> {
    auto l = listen("tcp", "127.0.0.1:0").value();
    result<tls_stream, tls_error> served = tls_error{};
    scope s;
    s.spawn(test::serve_one(&l, tls_context(server_config()), &served));
    std::string where = "localhost:" + std::to_string(l.addr().port());
    dialer d{.fallback_delay = -1ms};  // localhost may be ::1 first; this listener is IPv4
    auto c = co_await dial_tls_with_dialer(d, "tcp4", where, tls_context(client_config()));
    co_await s.join();
    EXPECT_TRUE(c) << c.error().message();
    CO_ASSERT(c);
    EXPECT_EQ(c->connection_state().server_name, "localhost");
    CO_ASSERT(served);
    EXPECT_EQ(served->connection_state().server_name, "localhost");

    // An address is verified against IP SANs and never sent as SNI.
    result<tls_stream, tls_error> by_ip = tls_error{};
    s.spawn(test::serve_one(&l, tls_context(server_config()), &by_ip));
    auto ip = co_await dial_tls("tcp", l.addr().to_string(), tls_context(client_config()));
    co_await s.join();
    EXPECT_TRUE(ip) << ip.error().message();
    CO_ASSERT(ip && by_ip);
    EXPECT_EQ(ip->connection_state().server_name, "127.0.0.1");
    EXPECT_EQ(by_ip->connection_state().server_name, "");
  }());
}

TEST_F(Tls, DialTlsErrorsAreOpErrors) {
  const auto& cc = certs();
  ringo::run([&]() -> task<void> {
    auto l = listen("tcp", "127.0.0.1:0").value();
    std::string where = l.addr().to_string();
    result<tls_stream, tls_error> served = tls_error{};
    scope s;
    s.spawn(test::serve_one(&l, tls_context(server_config(cc.other, cc.other_key)), &served));
    auto wrong = co_await dial_tls("tcp", where, tls_context(client_config()));
    co_await s.join();
    CO_ASSERT(!wrong);
    EXPECT_EQ(wrong.error().message(),
              "dial tcp " + where +
                  ": tls: failed to verify certificate: x509: cannot validate certificate for "
                  "127.0.0.1 because it doesn't contain any IP SANs");
    EXPECT_EQ(wrong.error(), errc::tls_hostname_mismatch);

    auto refused_at = ringo::test::refused_address();
    auto refused = co_await dial_tls("tcp", refused_at.to_string(), tls_context(client_config()));
    CO_ASSERT(!refused);
    EXPECT_EQ(refused.error().message(),
              "dial tcp " + refused_at.to_string() + ": connect: connection refused");
  }());
}

TEST_F(Tls, DialTlsTimeoutCoversTheHandshakeAndAStopEndsIt) {
  ringo::run([&]() -> task<void> {
    auto l = listen("tcp", "127.0.0.1:0").value();  // connects complete; nobody speaks
    std::string where = l.addr().to_string();
    auto start = clock::now();
    auto timed = co_await dial_tls_with_dialer(dialer{.timeout = 100ms}, "tcp", where,
                                               tls_context(client_config()));
    double took = ms(clock::now() - start);
    CO_ASSERT(!timed);
    EXPECT_TRUE(timed.error().timeout());
    EXPECT_EQ(timed.error().message(), "dial tcp " + where + ": i/o timeout");
    EXPECT_GE(took, 95.0);
    EXPECT_LT(took, 1000.0);

    std::stop_source stop;
    scope s;
    s.spawn(ringo::test::stop_after(&stop, 50ms));
    auto stopped = co_await dial_tls("tcp", where, tls_context(client_config()), stop.get_token());
    co_await s.join();
    CO_ASSERT(!stopped);
    EXPECT_TRUE(stopped.error().canceled());
    l.close();  // the queued connections go with it
  }());
}

// --- errors
// ----------------------------------------------------------------------------------------

TEST(TlsErrors, AlertsReadAsInGo) {
  EXPECT_EQ(error_text(tls_alert_error(40)), "remote error: tls: handshake failure");
  EXPECT_EQ(error_text(tls_alert_error(42)), "remote error: tls: bad certificate");
  EXPECT_EQ(error_text(tls_alert_error(20, false)), "local error: tls: bad record MAC");
  EXPECT_EQ(error_text(tls_alert_error(200)), "remote error: tls: alert(200)");
  EXPECT_NE(tls_alert_error(40), tls_alert_error(40, false));
  EXPECT_EQ(tls_version_name(version_tls12), "TLS 1.2");
  EXPECT_EQ(tls_version_name(0x0300), "0x0300");
}

}  // namespace
}  // namespace ringo::net
