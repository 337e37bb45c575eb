// tls: TLS over any net::stream (Go's crypto/tls: Config, Conn, Client, Server, Dial). A
// tls_stream is itself a net::stream, so whatever speaks over a conn speaks over TLS unchanged.
//
// OpenSSL 3 does the protocol on memory buffers and never touches a socket: ciphertext is read
// and written through the underlying stream, so every byte stays on the ring and every wait takes
// the caller's stop token and deadline. A tls_context is built once from a tls_config (one
// SSL_CTX, reference-counted) and shared by every connection, on any thread.
//
// Ownership: tls_client / tls_server take the underlying stream (a dialed or accepted conn) and
// the tls_stream they return owns it; a failed handshake closes it (except a plaintext HTTP
// request to a server, which tls_error hands back as Go's RecordHeaderError does). As for any
// stream: one reader and one writer at a time, on the io_context's thread, and close() only once
// no operation is in flight. close() closes at once; close_write() first ends the stream cleanly
// (close_notify), which the peer needs to tell the end from a truncation.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <ringo/net/conn.hpp>
#include <ringo/net/dialer.hpp>
#include <ringo/net/error.hpp>
#include <ringo/net/stream.hpp>
#include <ringo/runtime/result.hpp>
#include <ringo/runtime/task.hpp>
#include <ringo/runtime/time.hpp>

namespace ringo::net {

// Protocol versions (Go's VersionTLS12, VersionTLS13).
inline constexpr std::uint16_t version_tls12 = 0x0303;
inline constexpr std::uint16_t version_tls13 = 0x0304;
// "TLS 1.2", "TLS 1.3" (Go's tls.VersionName); "0x0301" for others.
std::string tls_version_name(std::uint16_t version);

// PEM text, from a file or in memory (Go's LoadX509KeyPair reads files, X509KeyPair takes bytes).
struct pem {
  std::string path;  // read from this file when not empty
  std::string text;  // else the PEM itself
  static pem file(std::string path) { return {std::move(path), {}}; }
  static pem data(std::string text) { return {{}, std::move(text)}; }
};

// A certificate chain (leaf first, then intermediates) and its private key (Go's tls.Certificate).
struct tls_certificate {
  pem chain;
  pem key;
};

// Go's ClientAuthType: what a server asks of clients.
enum class client_auth_type : std::uint8_t {
  no_client_cert,                  // ask for none
  request_client_cert,             // ask; accept none or any, unverified
  require_any_client_cert,         // demand one; do not verify it
  verify_client_cert_if_given,     // ask; verify one if sent
  require_and_verify_client_cert,  // demand one and verify it against client_cas
};

// Go's tls.Config, as a designated-initializer struct. Read once, when a tls_context is made from
// it; later changes do not reach that context.
struct tls_config {
  // This side's certificates: the server's, or the client's for servers that ask. One per key type
  // (an ECDSA and an RSA chain may both be given; the handshake picks what the peer supports).
  std::vector<tls_certificate> certificates;
  // Client: the roots that server certificates must chain to. Empty: the system's store, as Go's
  // nil RootCAs (SSL_CERT_FILE, SSL_CERT_DIR, else OpenSSL's defaults: ca-certificates), read
  // once per process and shared by every context.
  std::vector<pem> root_cas;
  // Client: the name sent as SNI (never for an IP address) and verified against the certificate
  // (DNS names, or IP SANs for an address). Empty: tls_client's server_name argument, or the
  // host dial_tls dialed.
  std::string server_name;
  // Client: accept any certificate and any name. For tests against self-signed servers only.
  bool insecure_skip_verify = false;
  // ALPN protocols in preference order ("h2", "http/1.1"). A client offers them; a server picks
  // the first of its own that the client offered, and refuses a client whose offer shares none
  // (Go's rule, with its exception: an "http/1.1" client of an "h2" server gets no protocol).
  std::vector<std::string> next_protos;
  std::uint16_t min_version = version_tls12;
  std::uint16_t max_version = 0;  // 0: the highest supported (TLS 1.3)
  // Server: client certificates.
  client_auth_type client_auth = client_auth_type::no_client_cert;
  std::vector<pem> client_cas;  // roots for client certificates; empty: the system's store
  // Server: TLS 1.3 / 1.2 session tickets let clients resume without a full handshake (Go's
  // SessionTicketsDisabled). The ticket key lives in the tls_context.
  bool session_tickets_disabled = false;
  // Client: sessions kept for resumption, keyed by server name and port (Go's
  // ClientSessionCache, which is off by default in Go; on here, since it costs little and saves a
  // full handshake per reconnect). 0 turns it off.
  std::size_t client_session_cache_size = 64;
};

namespace detail {
struct tls_context_state;
struct tls_session;
}  // namespace detail

// Why a handshake failed (Go's CertificateVerificationError, RecordHeaderError, AlertError).
struct tls_error {
  std::error_code err;  // errc::tls_*, tls_alert_error(...), or the I/O error (timed_out, ...)
  // The full text when err alone cannot say it: "tls: failed to verify certificate: x509:
  // certificate is valid for other.test, not localhost"; empty otherwise.
  std::string detail;
  // The first bytes the peer sent, when they did not look like TLS (errc::tls_record_header).
  std::array<std::uint8_t, 5> record_header{};
  // With errc::tls_record_header: the underlying stream, still open, so that a server can answer
  // a plaintext HTTP request (Go's RecordHeaderError.Conn). Null otherwise.
  std::shared_ptr<stream> conn;

  std::error_code code() const noexcept { return err; }
  std::string message() const;
  // Whether the peer sent plaintext HTTP (Go's tlsRecordHeaderLooksLikeHTTP): the record header
  // starts with "GET /", "HEAD ", "POST ", "PUT /" or "OPTIO".
  bool looks_like_http() const noexcept;
  friend bool operator==(const tls_error& e, std::errc c) noexcept { return e.err == c; }
  friend bool operator==(const tls_error& e, ringo::errc c) noexcept {
    return e.err == ringo::make_error_code(c);
  }
  friend bool operator==(const tls_error& e, errc c) noexcept {
    return e.err == make_error_code(c);
  }
};

// A tls_config made ready: the SSL_CTX with its certificates, roots, ALPN and ticket key, plus the
// client's session cache. Copies share it, on any thread. Build one per configuration and keep it:
// a build costs ~1.5 ms (OpenSSL 3.0's SSL_CTX_new and PEM decoders), more than a handshake.
class tls_context {
 public:
  tls_context() = default;  // empty: handshakes fail with errc::tls_config
  // Builds now; a failure is kept, and returned by status() and by every handshake.
  explicit tls_context(const tls_config& config);
  // Builds now, reporting a failure ("tls: open ca.pem: no such file or directory", "tls: failed
  // to find any PEM data in certificate input", "tls: private key does not match public key").
  static result<tls_context, tls_error> make(const tls_config& config);

  explicit operator bool() const noexcept;
  // The failure of the build, if any.
  result<void, tls_error> status() const;
  const tls_config& config() const;

 private:
  friend struct detail::tls_session;
  std::shared_ptr<const detail::tls_context_state> state_;
};

// Go's tls.ConnectionState.
struct tls_connection_state {
  bool handshake_complete = false;
  bool did_resume = false;          // the session was resumed (an abbreviated handshake)
  std::uint16_t version = 0;        // version_tls13, ...
  std::uint16_t cipher_suite = 0;   // the IANA number (0x1301: TLS_AES_128_GCM_SHA256)
  std::string cipher_suite_name;    // the IANA name (Go's CipherSuiteName)
  std::string negotiated_protocol;  // ALPN; empty when none was agreed
  std::string server_name;          // the SNI sent (client) or received (server)
  // The peer's certificates, DER, leaf first. A client's peer always sent some; a server's only
  // when it asked (client_auth).
  std::vector<std::vector<std::uint8_t>> peer_certificates;
  std::string peer_subject;  // the leaf's subject, RFC 2253: "CN=localhost,O=ringo"

  std::string version_name() const { return tls_version_name(version); }
};

// A TLS connection over another stream (Go's tls.Conn), made by tls_client, tls_server or
// dial_tls. read() returns plaintext, 0 once the peer sent close_notify; a TCP end without
// close_notify fails the read with errc::unexpected_eof (a truncation, not an end). A write that
// fails (a stop or a deadline included) leaves the write side failed: part of its record may be
// on the wire, so nothing can follow it (Go does the same).
class tls_stream final : public stream {
 public:
  tls_stream() noexcept;
  explicit tls_stream(std::unique_ptr<detail::tls_session> session) noexcept;
  tls_stream(tls_stream&& other) noexcept;
  tls_stream& operator=(tls_stream&& other) noexcept;
  ~tls_stream() override;

  tls_connection_state connection_state() const;
  // The stream under TLS (Go's NetConn). Reading or writing it directly corrupts the session.
  stream& underlying() noexcept;

  // Sends close_notify, then ends the underlying stream's write side. Reading goes on.
  task<result<void>> close_write(std::stop_token stop = {},
                                 time_point deadline = no_deadline) override;
  // Closes the underlying stream now, without close_notify (it cannot wait for the send).
  void close() noexcept override;
  bool is_open() const noexcept override;

  // The underlying stream's hang-up; closed_later while decrypted or undecrypted bytes wait.
  // Counts as the reading direction's one coroutine.
  task<result<hangup>> wait_hangup(std::stop_token stop) override;
  // Whether plaintext, or ciphertext not yet decrypted, waits here or in the underlying stream.
  bool has_buffered_input() const noexcept override;

  result<address> local_address() const noexcept override;
  result<address> remote_address() const noexcept override;
  std::string_view network() const noexcept override;

 protected:
  task<result<std::size_t>> read_some(mutable_buffer buf, std::stop_token stop,
                                      time_point deadline) override;
  task<result<std::size_t>> write_some(const_buffer buf, std::stop_token stop,
                                       time_point deadline) override;
  // wait_readable(): ready at once while plaintext waits; else waits for a whole record (or the
  // end, or an error), so that a read after it does not block. Counts as the reading direction's
  // one coroutine.
  task<result<void>> wait_readable_some(std::stop_token stop, time_point deadline) override;

 private:
  std::unique_ptr<detail::tls_session> s_;
};

using tls_result = result<tls_stream, tls_error>;

// The client's handshake over `under` (Go's tls.Client + HandshakeContext). `server_name`, when
// not empty, replaces the config's (an HTTP transport's per-host name over one shared context).
// A stop ends it with operation_canceled, the deadline with timed_out; either way `under` is
// closed and nothing is left behind.
task<tls_result> tls_client(std::unique_ptr<stream> under, tls_context context,
                            std::stop_token stop = {}, time_point deadline = no_deadline,
                            std::string server_name = {});
task<tls_result> tls_client(conn under, tls_context context, std::stop_token stop = {},
                            time_point deadline = no_deadline, std::string server_name = {});
// The server's handshake over an accepted stream (Go's tls.Server + HandshakeContext).
task<tls_result> tls_server(std::unique_ptr<stream> under, tls_context context,
                            std::stop_token stop = {}, time_point deadline = no_deadline);
task<tls_result> tls_server(conn under, tls_context context, std::stop_token stop = {},
                            time_point deadline = no_deadline);

// Go's tls.Dial: dial_tls("tcp", "localhost:8443", context, stop) dials with a default dialer
// (Happy Eyeballs), then shakes hands. The server name defaults to the host dialed. Errors are
// op_errors: "dial tcp 127.0.0.1:8443: connect: connection refused", "dial tcp 127.0.0.1:8443:
// tls: failed to verify certificate: x509: certificate signed by unknown authority".
task<result<tls_stream, op_error>> dial_tls(std::string network, std::string addr,
                                            tls_context context, std::stop_token stop = {});
// Go's tls.DialWithDialer: the dialer's timeout and deadline bound the dial and the handshake
// together.
task<result<tls_stream, op_error>> dial_tls_with_dialer(dialer d, std::string network,
                                                        std::string addr, tls_context context,
                                                        std::stop_token stop = {});

}  // namespace ringo::net
