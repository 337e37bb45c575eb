// TLS failures in Go's words: OpenSSL's error queue, its verification result and the alerts seen
// become tls_error values whose messages read like crypto/tls's and crypto/x509's.
#include <arpa/inet.h>
#include <cstring>
#include <ctime>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls_session.hpp"

namespace ringo::net {
namespace detail {
namespace {

constexpr const char* verify_prefix = "tls: failed to verify certificate: ";

// RFC 3339 in UTC, as Go prints times in x509 errors.
std::string rfc3339(const std::tm& t) {
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &t);
  return buf;
}

std::string ip_text(const ASN1_OCTET_STRING* ip) {
  char buf[INET6_ADDRSTRLEN] = "";
  int len = ASN1_STRING_length(ip);
  const unsigned char* data = ASN1_STRING_get0_data(ip);
  if (len == 4 || len == 16) inet_ntop(len == 4 ? AF_INET : AF_INET6, data, buf, sizeof buf);
  return buf;
}

struct san_names {
  bool present = false;  // the certificate has a subjectAltName extension
  std::vector<std::string> dns, ips;
};

san_names subject_alt_names(X509* cert) {
  san_names out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return out;
  out.present = true;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_DNS) {
      const ASN1_STRING* s = n->d.dNSName;
      out.dns.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                           static_cast<std::size_t>(ASN1_STRING_length(s)));
    } else if (n->type == GEN_IPADD) {
      out.ips.push_back(ip_text(n->d.iPAddress));
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

std::string common_name(X509* cert) {
  X509_NAME* subject = X509_get_subject_name(cert);
  char buf[256] = "";
  if (subject) X509_NAME_get_text_by_NID(subject, NID_commonName, buf, sizeof buf);
  return buf;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

bool is_unknown_authority(int verify_error) {
  switch (verify_error) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
      return true;
  }
  return false;
}

tls_error make(errc code, std::string detail = {}) {
  return {.err = make_error_code(code), .detail = std::move(detail)};
}

// Go's texts where crypto/tls has its own words for what OpenSSL reports.
std::string reason_text(unsigned long code) {
  switch (ERR_GET_REASON(code)) {
    case SSL_R_NO_SHARED_CIPHER:
      return "tls: no cipher suite supported by both client and server";
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
      return "tls: protocol version not supported";
  }
  const char* r = code ? ERR_reason_error_string(code) : nullptr;
  return r ? std::string("tls: ") + r : std::string();
}

}  // namespace

// Go's HostnameError.Error (crypto/x509/verify.go).
std::string hostname_error_text(X509* cert, const std::string& host) {
  if (!cert) return "x509: certificate is not valid for " + host;
  san_names names = subject_alt_names(cert);
  if (!names.present && common_name(cert) == host)
    return "x509: certificate relies on legacy Common Name field, use SANs instead";
  std::string valid;
  if (is_ip_literal(host)) {
    if (names.ips.empty())
      return "x509: cannot validate certificate for " + host +
             " because it doesn't contain any IP SANs";
    valid = joined(names.ips);
  } else {
    valid = joined(names.dns);
  }
  if (valid.empty())
    return "x509: certificate is not valid for any names, but wanted to match " + host;
  return "x509: certificate is valid for " + valid + ", not " + host;
}

// Go's CertificateInvalidError for Expired: "current time ... is after ..." (or before the start).
std::string validity_error_text(X509* cert, int verify_error) {
  std::string text = "x509: certificate has expired or is not yet valid";
  if (!cert) return text;
  bool expired = verify_error == X509_V_ERR_CERT_HAS_EXPIRED;
  const ASN1_TIME* bound = expired ? X509_get0_notAfter(cert) : X509_get0_notBefore(cert);
  std::tm when{};
  if (!bound || ASN1_TIME_to_tm(bound, &when) != 1) return text;
  std::time_t now = std::time(nullptr);
  std::tm now_tm{};
  gmtime_r(&now, &now_tm);
  return text + ": current time " + rfc3339(now_tm) + (expired ? " is after " : " is before ") +
         rfc3339(when);
}

tls_error tls_session::failure(int ssl_error) {
  unsigned long code = ERR_peek_error();  // the first: the cause, where later ones are context
  int reason = ERR_GET_REASON(code);
  std::string reason_detail = reason_text(code);
  ERR_clear_error();

  if (verify_error != X509_V_OK && !verify_any) {
    X509* cert = verify_cert.get();
    switch (verify_error) {
      case X509_V_ERR_HOSTNAME_MISMATCH:
      case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return make(errc::tls_hostname_mismatch,
                    verify_prefix + hostname_error_text(cert, server_name));
      case X509_V_ERR_CERT_HAS_EXPIRED:
      case X509_V_ERR_CERT_NOT_YET_VALID:
        return make(errc::tls_certificate_expired,
                    verify_prefix + validity_error_text(cert, verify_error));
    }
    if (is_unknown_authority(verify_error)) return make(errc::tls_unknown_authority);
    return make(errc::tls_certificate_invalid, verify_prefix + std::string("x509: ") +
                                                   X509_verify_cert_error_string(verify_error));
  }
  if (alert_received >= 0)
    return {.err = tls_alert_error(static_cast<std::uint8_t>(alert_received), true), .detail = {}};
  if (reason == SSL_R_UNEXPECTED_EOF_WHILE_READING || (end_fed && ssl_error == SSL_ERROR_SYSCALL))
    return make(errc::unexpected_eof);
  if (reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) return make(errc::tls_no_certificate);
  if (!offered_protos.empty())
    return {.err = tls_alert_error(120, false),
            .detail =
                "tls: client requested unsupported application protocols (" + offered_protos + ")"};
  if (alert_sent >= 0)
    return {.err = tls_alert_error(static_cast<std::uint8_t>(alert_sent), false),
            .detail = reason_detail};
  return make(errc::tls_protocol_error, reason_detail);
}

}  // namespace detail

std::string tls_error::message() const {
  return detail.empty() ? error_text(err) : detail;
}

// Go's tlsRecordHeaderLooksLikeHTTP (net/http/server.go).
bool tls_error::looks_like_http() const noexcept {
  static constexpr const char* starts[] = {"GET /", "HEAD ", "POST ", "PUT /", "OPTIO"};
  for (const char* s : starts)
    if (std::memcmp(record_header.data(), s, record_header.size()) == 0) return true;
  return false;
}

}  // namespace ringo::net
