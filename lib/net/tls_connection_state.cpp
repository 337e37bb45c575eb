// tls_stream::connection_state: Go's ConnectionState, read from the SSL when asked (nothing is
// copied per connection unless someone wants it).
#include <openssl/x509.h>

#include "tls_session.hpp"

namespace ringo::net {
namespace {

std::vector<std::uint8_t> der_of(X509* cert) {
  int len = i2d_X509(cert, nullptr);
  if (len <= 0) return {};
  std::vector<std::uint8_t> der(static_cast<std::size_t>(len));
  unsigned char* p = der.data();
  i2d_X509(cert, &p);
  return der;
}

// RFC 2253, most specific first, as Go's pkix.Name.String: "CN=localhost,O=ringo".
std::string subject_text(X509* cert) {
  detail::bio_ptr out(BIO_new(BIO_s_mem()));
  if (!out) return {};
  X509_NAME_print_ex(out.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(out.get(), &data);
  return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string();
}

}  // namespace

tls_connection_state tls_stream::connection_state() const {
  tls_connection_state st;
  if (!s_ || !s_->ssl) return st;
  SSL* ssl = s_->ssl.get();
  st.handshake_complete = SSL_is_init_finished(ssl) == 1;
  st.did_resume = SSL_session_reused(ssl) == 1;
  st.version = static_cast<std::uint16_t>(SSL_version(ssl));
  if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl)) {
    st.cipher_suite = SSL_CIPHER_get_protocol_id(c);
    if (const char* name = SSL_CIPHER_standard_name(c)) st.cipher_suite_name = name;
  }
  const unsigned char* proto = nullptr;
  unsigned int proto_len = 0;
  SSL_get0_alpn_selected(ssl, &proto, &proto_len);
  if (proto) st.negotiated_protocol.assign(reinterpret_cast<const char*>(proto), proto_len);
  if (s_->server) {
    if (const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) st.server_name = sni;
  } else {
    st.server_name = s_->server_name;
  }
  // The leaf, then the rest of the chain. A client's chain from OpenSSL starts with the leaf, a
  // server's does not; a resumed session keeps the leaf only.
  X509* leaf = SSL_get0_peer_certificate(ssl);
  if (leaf) {
    st.peer_certificates.push_back(der_of(leaf));
    st.peer_subject = subject_text(leaf);
  }
  if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl)) {
    for (int i = 0; i < sk_X509_num(chain); ++i) {
      X509* c = sk_X509_value(chain, i);
      if (leaf && X509_cmp(c, leaf) == 0) continue;
      st.peer_certificates.push_back(der_of(c));
    }
  }
  return st;
}

}  // namespace ringo::net
