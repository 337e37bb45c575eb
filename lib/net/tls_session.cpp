// tls_session: one SSL on a BIO pair, the handshake, and the two pumps that move ciphertext
// between the pair and the underlying stream (fill: stream -> pair, flush: pair -> stream).
#include "tls_session.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cstring>
#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace ringo::net::detail {
namespace {

tls_session* session_of(const SSL* ssl) {
  return static_cast<tls_session*>(SSL_get_ex_data(ssl, session_index()));
}

// OpenSSL reports each alert it sends or receives here; a fatal one names the failure better than
// the error queue does ("remote error: tls: bad certificate").
void note_alert(const SSL* ssl, int where, int ret) {
  if (!(where & SSL_CB_ALERT) || (ret >> 8) != SSL3_AL_FATAL) return;
  tls_session* s = session_of(ssl);
  if (!s) return;
  int& slot = (where & SSL_CB_WRITE) ? s->alert_sent : s->alert_received;
  if (slot < 0) slot = ret & 0xff;
}

// Keeps the first verification failure and the certificate it concerns (OpenSSL's verify result
// keeps only the last), for Go's error texts.
int note_verify(int ok, X509_STORE_CTX* store) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  tls_session* s = ssl ? session_of(ssl) : nullptr;
  if (!s) return ok;
  if (!ok && s->verify_error == X509_V_OK) {
    s->verify_error = X509_STORE_CTX_get_error(store);
    if (X509* cert = X509_STORE_CTX_get_current_cert(store); cert && X509_up_ref(cert) == 1)
      s->verify_cert.reset(cert);
  }
  return s->verify_any ? 1 : ok;
}

tls_error io_error(std::error_code ec) {
  return {.err = ec, .detail = {}};
}

}  // namespace

bool is_ip_literal(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

int session_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

tls_session::tls_session(std::unique_ptr<stream> under_stream, tls_context ctx, bool is_server)
    : under(std::move(under_stream)), context(std::move(ctx)), server(is_server) {}

tls_session::~tls_session() {
  // OpenSSL forgets the session of an SSL freed without close_notify (a truncation in TLS 1.0's
  // rules). A client that simply drops a connection should still resume next time, as Go's does;
  // a fatal alert has already made the session unusable anyway.
  if (ssl) SSL_set_shutdown(ssl.get(), SSL_SENT_SHUTDOWN);
}

const tls_context_state& tls_session::context_state() const {
  return *context.state_;
}

result<void, tls_error> tls_session::init() {
  if (auto ok = context.status(); !ok) return ok.error();
  ssl.reset(SSL_new(context_state().ctx.get()));
  if (!ssl || !ensure_wire()) {
    ERR_clear_error();
    return tls_error{.err = make_error_code(std::errc::not_enough_memory), .detail = {}};
  }
  SSL_set_ex_data(ssl.get(), session_index(), this);
  SSL_set_info_callback(ssl.get(), note_alert);
  return {};
}

bool tls_session::ensure_wire() {
  if (wire) return true;
  BIO* inside = nullptr;
  BIO* outside = nullptr;
  // Default sizes: 17 KiB each way, one TLS record (OpenSSL's own choice for a pair).
  if (BIO_new_bio_pair(&inside, 0, &outside, 0) != 1) {
    ERR_clear_error();
    return false;
  }
  SSL_set_bio(ssl.get(), inside, inside);
  wire.reset(outside);
  return true;
}

void tls_session::shed_wire(bool by_reader) noexcept {
  // Only when no byte waits in either direction, no one holds a pointer into the buffers (a
  // reader's recv, a writer's send) and the end has not been fed (the new pair would forget it).
  if (!wire || (reading && !by_reader) || end_fed || write_lock.locked() || pending_input() ||
      pending_output())
    return;
  SSL_set_bio(ssl.get(), nullptr, nullptr);  // frees the SSL's half, which unpairs ours
  wire.reset();
}

result<void, tls_error> tls_session::prepare_client(std::string name) {
  if (auto ok = init(); !ok) return ok;
  const tls_config& cfg = context_state().config;
  if (name.empty()) name = cfg.server_name;
  if (name.size() > 2 && name.front() == '[' && name.back() == ']')
    name = name.substr(1, name.size() - 2);
  server_name = name;
  SSL_set_connect_state(ssl.get());
  bool ip = is_ip_literal(name);
  if (!name.empty() && !ip) SSL_set_tlsext_host_name(ssl.get(), name.c_str());
  if (cfg.insecure_skip_verify) {
    SSL_set_verify(ssl.get(), SSL_VERIFY_NONE, nullptr);
  } else {
    if (name.empty())
      return tls_error{.err = make_error_code(errc::tls_config),
                       .detail =
                           "tls: either server_name or insecure_skip_verify must be set in the "
                           "tls_config (Go: ServerName, InsecureSkipVerify)"};
    SSL_set_verify(ssl.get(), SSL_VERIFY_PEER, note_verify);
    int set = 0;
    if (ip) {
      set = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), name.c_str());
    } else {
      SSL_set_hostflags(ssl.get(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      set = SSL_set1_host(ssl.get(), name.c_str());
    }
    if (set != 1) {
      ERR_clear_error();
      return tls_error{.err = make_error_code(errc::tls_config),
                       .detail = "tls: invalid server name " + name};
    }
  }
  if (client_session_cache* cache = context_state().sessions.get()) {
    auto peer = under->remote_address();
    std::string port = peer ? std::to_string(peer->port()) : std::string();
    cache_key = name.empty() ? (peer ? peer->to_string() : std::string()) : name + ":" + port;
    if (!cache_key.empty())
      if (session_ptr cached = cache->get(cache_key)) SSL_set_session(ssl.get(), cached.get());
  }
  ERR_clear_error();
  return {};
}

result<void, tls_error> tls_session::prepare_server() {
  if (auto ok = init(); !ok) return ok;
  const tls_context_state& st = context_state();
  SSL_set_accept_state(ssl.get());
  int mode = SSL_VERIFY_NONE;
  switch (st.config.client_auth) {
    case client_auth_type::no_client_cert:
      break;
    case client_auth_type::request_client_cert:
      mode = SSL_VERIFY_PEER;
      verify_any = true;
      break;
    case client_auth_type::require_any_client_cert:
      mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
      verify_any = true;
      break;
    case client_auth_type::verify_client_cert_if_given:
      mode = SSL_VERIFY_PEER;
      break;
    case client_auth_type::require_and_verify_client_cert:
      mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
      break;
  }
  SSL_set_verify(ssl.get(), mode, mode == SSL_VERIFY_NONE ? nullptr : note_verify);
  if (st.client_ca_store) SSL_set1_verify_cert_store(ssl.get(), st.client_ca_store.get());
  return {};
}

task<result<std::size_t>> tls_session::fill(std::stop_token stop, time_point deadline,
                                            bool awaiting) {
  if (!ensure_wire()) co_return make_error_code(std::errc::not_enough_memory);
  char* space = nullptr;
  int room = BIO_nwrite0(wire.get(), &space);
  // The SSL takes what it needs of a record out of the pair before it asks for more, so the
  // pair is never full when it does.
  if (room <= 0) {
    ERR_clear_error();
    co_return make_error_code(errc::tls_protocol_error);
  }
  mutable_buffer into(space, static_cast<std::size_t>(room));
  result<std::size_t> n = std::size_t{0};
  if (awaiting)  // (no co_await inside ?: with GCC 12)
    n = co_await under->read_awaiting(into, std::move(stop), deadline);
  else
    n = co_await under->read(into, std::move(stop), deadline);
  if (!n) co_return n;
  if (*n == 0) {
    BIO_shutdown_wr(wire.get());  // the SSL reads the end once the bytes before it are gone
    end_fed = true;
    co_return n;
  }
  std::size_t keep = std::min(*n, first_bytes.size() - first_count);
  std::memcpy(first_bytes.data() + first_count, space, keep);
  first_count += keep;
  BIO_nwrite(wire.get(), &space, static_cast<int>(*n));
  co_return n;
}

task<result<void>> tls_session::flush(std::stop_token stop, time_point deadline) {
  while (wire) {
    char* data = nullptr;
    int n = BIO_nread0(wire.get(), &data);
    if (n <= 0) break;
    auto sent =
        co_await under->write(const_buffer(data, static_cast<std::size_t>(n)), stop, deadline);
    if (!sent) co_return sent.error();
    BIO_nread(wire.get(), &data, static_cast<int>(*sent));
  }
  ERR_clear_error();  // BIO_nread0 on an empty pair leaves a retry, not an error, but be tidy
  co_return result<void>{};
}

task<void> tls_session::flush_alert(std::stop_token stop, time_point deadline) {
  if (pending_output() == 0 || write_error || !write_lock.try_lock()) co_return;
  async_mutex::guard held(write_lock);
  auto sent = co_await flush(std::move(stop), deadline);
  if (!sent) write_error = sent.error();
}

// Go's check of the first record (conn.go, readRecordOrCCS): a peer that is not speaking TLS is
// told apart before OpenSSL reads a "record" of whatever length its bytes spell.
std::optional<tls_error> tls_session::check_first_record() {
  if (first_checked || first_count < first_bytes.size()) return std::nullopt;
  first_checked = true;
  std::uint8_t type = first_bytes[0];
  unsigned version = unsigned(first_bytes[1]) << 8 | first_bytes[2];
  constexpr std::uint8_t alert_record = 21, handshake_record = 22;
  if ((type == alert_record || type == handshake_record) && version < 0x1000) return std::nullopt;
  tls_error e{.err = make_error_code(errc::tls_record_header), .detail = {}};
  e.record_header = first_bytes;
  e.conn = std::shared_ptr<stream>(std::move(under));
  return e;
}

task<result<void, tls_error>> tls_session::handshake(std::stop_token stop, time_point deadline) {
  for (;;) {
    ERR_clear_error();
    int r = SSL_do_handshake(ssl.get());
    int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl.get(), r);
    bool waiting = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
    // Read the failure now: the error queue is per thread, and the flush below lets other
    // connections run.
    std::optional<tls_error> failed;
    if (e != SSL_ERROR_NONE && !waiting) failed = failure(e);
    if (pending_output() > 0) {  // our next flight, or the alert that tells the peer why
      auto sent = co_await flush(stop, deadline);
      if (!sent && !failed) failed = io_error(sent.error());
    }
    if (failed) co_return std::move(*failed);
    if (e == SSL_ERROR_NONE) co_return result<void, tls_error>{};
    if (e == SSL_ERROR_WANT_WRITE) continue;  // flushed: there is room again
    // Whatever the SSL wants next is the peer's answer to what was just sent.
    auto got = co_await fill(stop, deadline, true);
    if (!got) co_return io_error(got.error());
    if (*got == 0) co_return io_error(make_error_code(errc::unexpected_eof));
    if (auto bad = check_first_record()) co_return std::move(*bad);
  }
}

}  // namespace ringo::net::detail
