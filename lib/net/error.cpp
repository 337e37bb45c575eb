#include "ringo/net/error.hpp"

#include <cctype>
#include <string>

namespace ringo::net {
namespace {

// Alert codes live above the errc values: 0x100 + alert for one the peer sent, 0x200 + alert for
// one this side sent.
constexpr int remote_alert_base = 0x100;
constexpr int local_alert_base = 0x200;

// Go's alertText (crypto/tls/alert.go).
struct alert_name {
  int alert;
  const char* text;
};
constexpr alert_name alert_names[] = {
    {0, "close notify"},
    {10, "unexpected message"},
    {20, "bad record MAC"},
    {21, "decryption failed"},
    {22, "record overflow"},
    {30, "decompression failure"},
    {40, "handshake failure"},
    {42, "bad certificate"},
    {43, "unsupported certificate"},
    {44, "revoked certificate"},
    {45, "expired certificate"},
    {46, "unknown certificate"},
    {47, "illegal parameter"},
    {48, "unknown certificate authority"},
    {49, "access denied"},
    {50, "error decoding message"},
    {51, "error decrypting message"},
    {60, "export restriction"},
    {70, "protocol version not supported"},
    {71, "insufficient security level"},
    {80, "internal error"},
    {86, "inappropriate fallback"},
    {90, "user canceled"},
    {100, "no renegotiation"},
    {109, "missing extension"},
    {110, "unsupported extension"},
    {111, "certificate unobtainable"},
    {112, "unrecognized name"},
    {113, "bad certificate status response"},
    {114, "bad certificate hash value"},
    {115, "unknown PSK identity"},
    {116, "certificate required"},
    {120, "no application protocol"},
    {121, "ECH required"},
};

const char* alert_text(int alert) noexcept {
  for (const alert_name& a : alert_names)
    if (a.alert == alert) return a.text;
  return nullptr;
}

std::string alert_message(int ev) {
  bool remote = ev < local_alert_base;
  int alert = ev - (remote ? remote_alert_base : local_alert_base);
  const char* text = alert_text(alert);
  std::string s = remote ? "remote error: tls: " : "local error: tls: ";
  return s + (text ? std::string(text) : "alert(" + std::to_string(alert) + ")");
}

class net_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ringo.net"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::closed:
        return "use of closed network connection";
      case errc::unexpected_eof:
        return "unexpected EOF";
      case errc::missing_address:
        return "missing address";
      case errc::no_such_host:
        return "no such host";
      case errc::unknown_network:
        return "unknown network";
      case errc::invalid_address:
        return "invalid address";
      case errc::mismatched_local:
        return "mismatched local address type";
      case errc::server_failure:
        return "server misbehaving";
      case errc::tls_unknown_authority:
        return "tls: failed to verify certificate: x509: certificate signed by unknown authority";
      case errc::tls_hostname_mismatch:
        return "tls: failed to verify certificate: x509: certificate is not valid for the host";
      case errc::tls_certificate_expired:
        return "tls: failed to verify certificate: x509: certificate has expired or is not yet "
               "valid";
      case errc::tls_certificate_invalid:
        return "tls: failed to verify certificate: x509: certificate is invalid";
      case errc::tls_record_header:
        return "tls: first record does not look like a TLS handshake";
      case errc::tls_no_certificate:
        return "tls: client didn't provide a certificate";
      case errc::tls_protocol_error:
        return "tls: protocol error";
      case errc::tls_config:
        return "tls: invalid configuration";
      case errc::tls_shutdown:
        return "tls: protocol is shutdown";
    }
    if (ev >= remote_alert_base && ev < local_alert_base + 0x100) return alert_message(ev);
    return "unknown net error";
  }
};

}  // namespace

const std::error_category& net_category() noexcept {
  static const net_category_impl category;
  return category;
}

std::error_code tls_alert_error(std::uint8_t alert, bool remote) noexcept {
  return {(remote ? remote_alert_base : local_alert_base) + alert, net_category()};
}

std::string error_text(std::error_code ec) {
  std::string text = ec.message();
  // strerror capitalizes ("Connection refused"); Go's messages are lower-case.
  if (ec.category() == std::system_category() && !text.empty())
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

std::string op_error::message() const {
  std::string s = op;
  if (!network.empty()) s += " " + network;
  if (!source.empty()) s += " " + source;
  if (!address.empty()) s += (source.empty() ? " " : "->") + address;
  s += ": ";
  if (!syscall.empty()) s += syscall + ": ";
  return s + (detail.empty() ? error_text(err) : detail);
}

std::string op_error::full_message() const {
  std::string s = message();
  for (const op_error& a : attempts) {
    if (a.address == address && a.err == err) continue;  // the main error, already said
    s += "\n  also: " + a.message();
  }
  return s;
}

}  // namespace ringo::net
