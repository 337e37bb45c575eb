// tls_context: a tls_config turned into one SSL_CTX, built once and shared by every connection
// (OpenSSL 3.0's per-context setup, provider lookups included, is what makes its handshakes slow
// when repeated per connection).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tls_session.hpp"

namespace ringo::net {
namespace detail {
namespace {

// Go's default preference (X25519, then P-256), which also keeps OpenSSL 3.0 from offering key
// shares for groups it would rarely use.
constexpr const char* groups = "X25519:P-256:P-384";
// TLS 1.2 suites: ECDHE with an AEAD only, in Go's order (TLS 1.3's are OpenSSL's defaults, all
// AEAD).
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
// The session ID context a server must set to resume sessions of verified clients; any constant.
constexpr unsigned char session_id_context[] = "ringo";

tls_error config_error(std::string detail) {
  return {.err = make_error_code(errc::tls_config), .detail = std::move(detail)};
}

// A BIO that reads the PEM source: the file, or the text in place.
result<bio_ptr, tls_error> open_pem(const pem& source, const char* what) {
  if (!source.path.empty()) {
    errno = 0;
    bio_ptr b(BIO_new_file(source.path.c_str(), "r"));
    int err = errno;
    ERR_clear_error();
    if (!b)
      return config_error("tls: open " + source.path + ": " +
                          error_text(errno_code(err ? err : ENOENT)));
    return b;
  }
  if (source.text.empty()) return config_error(std::string("tls: no ") + what + " given");
  bio_ptr b(BIO_new_mem_buf(source.text.data(), static_cast<int>(source.text.size())));
  if (!b) return config_error("tls: out of memory");
  return b;
}

// Every certificate in the PEM source.
result<std::vector<x509_ptr>, tls_error> read_certificates(const pem& source, const char* what) {
  auto b = open_pem(source, what);
  if (!b) return b.error();
  std::vector<x509_ptr> certs;
  while (X509* c = PEM_read_bio_X509(b->get(), nullptr, nullptr, nullptr)) certs.emplace_back(c);
  ERR_clear_error();  // the read after the last certificate fails: that ends the loop
  if (certs.empty())
    return config_error(std::string("tls: failed to find any PEM data in ") + what + " input");
  return certs;
}

result<void, tls_error> use_certificate(SSL_CTX* ctx, const tls_certificate& c) {
  auto chain = read_certificates(c.chain, "certificate");
  if (!chain) return chain.error();
  auto key_bio = open_pem(c.key, "key");
  if (!key_bio) return key_bio.error();
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio->get(), nullptr, nullptr, nullptr);
  ERR_clear_error();
  if (!key) return config_error("tls: failed to find any PEM data in key input");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key_owner(key, &EVP_PKEY_free);

  // The leaf becomes the current certificate; the chain certificates attach to it.
  bool ok = SSL_CTX_use_certificate(ctx, (*chain)[0].get()) == 1;
  for (std::size_t i = 1; ok && i < chain->size(); ++i)
    ok = SSL_CTX_add1_chain_cert(ctx, (*chain)[i].get()) == 1;
  if (ok && (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1)) {
    ERR_clear_error();
    return config_error("tls: private key does not match public key");
  }
  ERR_clear_error();
  if (!ok) return config_error("tls: certificate not accepted");
  return {};
}

// The system's roots, as SSL_CTX_set_default_verify_paths finds them (SSL_CERT_FILE and
// SSL_CERT_DIR, else OpenSSL's defaults), read once per process and shared by every context, as
// Go reads its systemRoots once: parsing the ca-certificates bundle costs ~40 ms, which would
// otherwise be paid per context. The store is not changed after this (OpenSSL locks the lookups
// that fill its cache from the hashed directory), so contexts on any thread can share it.
X509_STORE* system_roots() {
  static const x509_store_ptr store = [] {
    x509_store_ptr s(X509_STORE_new());
    if (s && X509_STORE_set_default_paths(s.get()) != 1) s.reset();
    ERR_clear_error();
    return s;
  }();
  return store.get();
}

// A store of the given roots, or of the system's when none are given.
result<x509_store_ptr, tls_error> make_store(const std::vector<pem>& roots, const char* what,
                                             SSL_CTX* ca_names_for) {
  if (roots.empty()) {
    X509_STORE* shared = system_roots();
    if (!shared || X509_STORE_up_ref(shared) != 1)
      return config_error("tls: cannot load the system's root certificates");
    return x509_store_ptr(shared);
  }
  x509_store_ptr store(X509_STORE_new());
  if (!store) return config_error("tls: out of memory");
  for (const pem& p : roots) {
    auto certs = read_certificates(p, what);
    if (!certs) return certs.error();
    for (x509_ptr& c : *certs) {
      X509_STORE_add_cert(store.get(), c.get());
      // A server names the CAs it accepts in its certificate request (Go sends ClientCAs too).
      if (ca_names_for) SSL_CTX_add_client_CA(ca_names_for, c.get());
    }
  }
  ERR_clear_error();
  // As Go's CertPool: any certificate in the pool is a trust anchor, an intermediate included.
  X509_STORE_set_flags(store.get(), X509_V_FLAG_PARTIAL_CHAIN);
  return store;
}

// Go's negotiateALPN: the server's first protocol that the client offered; an "http/1.1" client
// of an "h2" server gets no protocol rather than a refusal.
int select_alpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void* arg) {
  auto* state = static_cast<const tls_context_state*>(arg);
  const auto& ours = state->config.next_protos;
  if (ours.empty() || inlen == 0) return SSL_TLSEXT_ERR_NOACK;
  bool http11_fallback = false;
  for (const std::string& s : ours) {
    for (unsigned int i = 0; i < inlen; i += 1u + in[i]) {
      std::string_view c(reinterpret_cast<const char*>(in + i + 1),
                         std::min<unsigned int>(in[i], inlen - i - 1));
      if (c == s) {
        *out = in + i + 1;
        *outlen = in[i];
        return SSL_TLSEXT_ERR_OK;
      }
      if (s == "h2" && c == "http/1.1") http11_fallback = true;
    }
  }
  if (http11_fallback) return SSL_TLSEXT_ERR_NOACK;
  if (auto* s = static_cast<tls_session*>(SSL_get_ex_data(ssl, session_index()))) {
    std::string offered = "[";
    for (unsigned int i = 0; i < inlen; i += 1u + in[i]) {
      if (i) offered += ' ';
      offered.append(reinterpret_cast<const char*>(in + i + 1),
                     std::min<unsigned int>(in[i], inlen - i - 1));
    }
    s->offered_protos = offered + "]";
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;  // no_application_protocol
}

// A client's new session (a TLS 1.3 ticket arrives after the handshake, during a read).
int remember_session(SSL* ssl, SSL_SESSION* session) {
  auto* s = static_cast<tls_session*>(SSL_get_ex_data(ssl, session_index()));
  if (!s || s->server || s->cache_key.empty()) return 0;
  client_session_cache* cache = s->context_state().sessions.get();
  if (!cache || !SSL_SESSION_is_resumable(session)) return 0;
  cache->put(s->cache_key, session);
  return 1;  // the cache keeps the reference it was given
}

std::string wire_protos(const std::vector<std::string>& protos) {
  std::string wire;
  for (const std::string& p : protos) {
    if (p.empty() || p.size() > 255) continue;
    wire += static_cast<char>(p.size());
    wire += p;
  }
  return wire;
}

result<void, tls_error> configure(tls_context_state& st) {
  const tls_config& cfg = st.config;
  SSL_CTX* ctx = st.ctx.get();
  if (SSL_CTX_set_min_proto_version(ctx, cfg.min_version) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, cfg.max_version) != 1)
    return config_error("tls: unsupported protocol version");
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // Partial writes let write_some return after a record; a moving buffer lets a retried write
  // come from another address; idle connections give their record buffers back; a chain is sent
  // as configured, not completed from the trusted roots (Go sends Certificates as given).
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);
  if (SSL_CTX_set1_groups_list(ctx, groups) != 1 ||
      SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1)
    return config_error("tls: cannot set the key exchange groups or cipher suites");

  for (const tls_certificate& c : cfg.certificates)
    if (auto r = use_certificate(ctx, c); !r) return r;

  // The roots that verify servers: the context's own store.
  auto roots = make_store(cfg.root_cas, "root CA", nullptr);
  if (!roots) return roots.error();
  SSL_CTX_set_cert_store(ctx, roots->release());
  bool verifies_clients = cfg.client_auth == client_auth_type::verify_client_cert_if_given ||
                          cfg.client_auth == client_auth_type::require_and_verify_client_cert;
  if (verifies_clients) {
    auto client_roots = make_store(cfg.client_cas, "client CA", ctx);
    if (!client_roots) return client_roots.error();
    st.client_ca_store = std::move(*client_roots);
  }

  if (!cfg.next_protos.empty()) {
    st.alpn_wire = wire_protos(cfg.next_protos);
    // (SSL_CTX_set_alpn_protos returns 0 on success.)
    if (SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(st.alpn_wire.data()),
                                static_cast<unsigned>(st.alpn_wire.size())) != 0)
      return config_error("tls: invalid ALPN protocols");
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, &st);
  }

  // Sessions: servers resume from tickets only (stateless, as Go), so nothing is stored here;
  // clients keep theirs in our cache, keyed by server.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_BOTH | SSL_SESS_CACHE_NO_INTERNAL);
  SSL_CTX_set_session_id_context(ctx, session_id_context, sizeof session_id_context - 1);
  if (cfg.session_tickets_disabled) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
  } else {
    SSL_CTX_set_num_tickets(ctx, 1);  // OpenSSL sends two by default; Go one
  }
  if (cfg.client_session_cache_size > 0) {
    st.sessions = std::make_unique<client_session_cache>(cfg.client_session_cache_size);
    SSL_CTX_sess_set_new_cb(ctx, remember_session);
  }
  ERR_clear_error();
  return {};
}

std::shared_ptr<const tls_context_state> build(const tls_config& config) {
  auto st = std::make_shared<tls_context_state>();
  st->config = config;
  st->ctx.reset(SSL_CTX_new(TLS_method()));
  if (!st->ctx) {
    ERR_clear_error();
    st->error = config_error("tls: cannot create an SSL_CTX");
    return st;
  }
  if (auto r = configure(*st); !r) {
    st->error = r.error();
    st->ctx.reset();
  }
  return st;
}

}  // namespace

session_ptr client_session_cache::get(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  SSL_SESSION* s = it->second->session.get();
  SSL_SESSION_up_ref(s);
  return session_ptr(s);
}

void client_session_cache::put(const std::string& key, SSL_SESSION* session) {
  session_ptr owned(session);
  std::lock_guard lock(mutex_);
  if (auto it = index_.find(key); it != index_.end()) {
    it->second->session = std::move(owned);
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.push_front({key, std::move(owned)});
  index_[key] = lru_.begin();
  if (lru_.size() > capacity_) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
}

}  // namespace detail

tls_context::tls_context(const tls_config& config) : state_(detail::build(config)) {}

result<tls_context, tls_error> tls_context::make(const tls_config& config) {
  tls_context c(config);
  if (auto s = c.status(); !s) return s.error();
  return c;
}

tls_context::operator bool() const noexcept {
  return state_ && !state_->error.err;
}

result<void, tls_error> tls_context::status() const {
  if (!state_) return tls_error{.err = make_error_code(errc::tls_config), .detail = {}};
  if (state_->error.err) return state_->error;
  return {};
}

const tls_config& tls_context::config() const {
  static const tls_config none;
  return state_ ? state_->config : none;
}

std::string tls_version_name(std::uint16_t version) {
  switch (version) {
    case 0x0301:
      return "TLS 1.0";
    case 0x0302:
      return "TLS 1.1";
    case version_tls12:
      return "TLS 1.2";
    case version_tls13:
      return "TLS 1.3";
  }
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%04X", version);
  return hex;
}

}  // namespace ringo::net
