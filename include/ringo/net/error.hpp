// Errors of the net layer: op_error is Go's *net.OpError, the value a failed dial, listen, accept,
// read or write returns: it names the operation, the network and the addresses, so the message
// reads like Go's: "dial tcp [::1]:8080: connect: connection refused".
#pragma once

#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include <ringo/runtime/result.hpp>

namespace ringo::net {

// errc: failures the net layer itself defines (the rest are errno values and ringo::errc).
enum class errc {
  closed = 1,        // "use of closed network connection"
  unexpected_eof,    // "unexpected EOF": the stream ended inside a read_full
  missing_address,   // "missing address": nothing to dial
  no_such_host,      // "no such host"
  unknown_network,   // "unknown network"
  invalid_address,   // "invalid address": not host:port, bad port, ...
  mismatched_local,  // "mismatched local address type"
  server_failure,    // "server misbehaving": the DNS server failed the query

  // TLS (tls.hpp), in Go's crypto/tls and crypto/x509 words. A tls_error's detail says more (the
  // names a certificate is valid for, its dates).
  tls_unknown_authority,    // "...: x509: certificate signed by unknown authority"
  tls_hostname_mismatch,    // "...: x509: certificate is not valid for the host"
  tls_certificate_expired,  // "...: x509: certificate has expired or is not yet valid"
  tls_certificate_invalid,  // "...: x509: certificate is invalid"
  tls_record_header,        // "tls: first record does not look like a TLS handshake"
  tls_no_certificate,       // "tls: client didn't provide a certificate"
  tls_protocol_error,       // "tls: protocol error": a failure with no alert to name it
  tls_config,    // "tls: invalid configuration" (a certificate or key that does not load)
  tls_shutdown,  // "tls: protocol is shutdown": a write after close_write
};

const std::error_category& net_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), net_category()};
}

// A TLS alert (RFC 8446 section 6) as an error code of net_category(): one the peer sent reads as
// Go's "remote error: tls: bad certificate", one this side sent as "local error: tls: bad record
// MAC". Compare with ==, e.g. `ec == tls_alert_error(116)` (certificate_required, which a TLS 1.3
// client whose certificate the server refused sees on its first read).
std::error_code tls_alert_error(std::uint8_t alert, bool remote = true) noexcept;

struct op_error {
  std::string op;       // "dial", "listen", "accept", "read", "write"
  std::string network;  // "tcp", "tcp4", "tcp6", "unix"
  std::string source;   // the local address, when known
  std::string address;  // the remote (or listening) address
  std::string syscall;  // "connect", "lookup localhost", ...: what failed underneath, if anything
  std::error_code err;
  // The error's text when err alone cannot say it (a TLS handshake that failed: "tls: failed to
  // verify certificate: x509: certificate is valid for other.test, not localhost"); else empty.
  std::string detail;
  // For a dial: every attempt that failed, in the order they finished (the main error is one of
  // them: the first primary's, as in Go).
  std::vector<op_error> attempts;

  std::error_code code() const noexcept { return err; }
  // Go's format: "dial tcp 127.0.0.1:80: connect: connection refused".
  std::string message() const;
  // message(), then one line per further failed attempt.
  std::string full_message() const;
  bool timeout() const noexcept { return err == std::errc::timed_out; }
  bool canceled() const noexcept { return err == std::errc::operation_canceled; }

  friend bool operator==(const op_error& e, std::errc c) noexcept { return e.err == c; }
  friend bool operator==(const op_error& e, ringo::errc c) noexcept {
    return e.err == ringo::make_error_code(c);
  }
  friend bool operator==(const op_error& e, errc c) noexcept { return e.err == make_error_code(c); }
};

// The text of an error code in Go's style: lower-case ("connection refused", "i/o timeout").
std::string error_text(std::error_code ec);

}  // namespace ringo::net

template <>
struct std::is_error_code_enum<ringo::net::errc> : std::true_type {};
