// Private to lib/net/tls_*.cpp: the OpenSSL side of tls.hpp. Nothing here reaches a public header
// (test/lint checks that no public header includes OpenSSL).
//
// A tls_context_state owns one SSL_CTX and the client session cache; a tls_session owns one SSL,
// the network half of its BIO pair and the underlying stream. The SSL reads and writes the other
// half of the pair; tls_session moves ciphertext between the pair and the underlying stream,
// without a copy of its own: recv lands in the pair's buffer (BIO_nwrite0) and send goes out of
// it (BIO_nread0).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <optional>
#include <stop_token>
#include <string>
#include <unordered_map>

#include "ringo/net/tls.hpp"
#include "ringo/runtime/async_mutex.hpp"

namespace ringo::net::detail {

struct ssl_ctx_free {
  void operator()(SSL_CTX* p) const noexcept { SSL_CTX_free(p); }
};
struct ssl_free {
  void operator()(SSL* p) const noexcept { SSL_free(p); }
};
struct bio_free {
  void operator()(BIO* p) const noexcept { BIO_free(p); }
};
struct x509_free {
  void operator()(X509* p) const noexcept { X509_free(p); }
};
struct x509_store_free {
  void operator()(X509_STORE* p) const noexcept { X509_STORE_free(p); }
};
struct session_free {
  void operator()(SSL_SESSION* p) const noexcept { SSL_SESSION_free(p); }
};
using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, ssl_ctx_free>;
using ssl_ptr = std::unique_ptr<SSL, ssl_free>;
using bio_ptr = std::unique_ptr<BIO, bio_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;
using x509_store_ptr = std::unique_ptr<X509_STORE, x509_store_free>;
using session_ptr = std::unique_ptr<SSL_SESSION, session_free>;

// Go's LRU client session cache. The context may be shared by several io_context threads: the
// cache is the one piece of it that changes after the build, so it takes a lock (only around a
// handshake, never per record).
class client_session_cache {
 public:
  explicit client_session_cache(std::size_t capacity) : capacity_(capacity) {}
  // The session to offer for `key`, with a reference for the caller; null when none.
  session_ptr get(const std::string& key);
  void put(const std::string& key, SSL_SESSION* session);  // takes a reference
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  struct entry {
    std::string key;
    session_ptr session;
  };
  std::mutex mutex_;
  std::size_t capacity_;
  std::list<entry> lru_;  // most recently used first
  std::unordered_map<std::string, std::list<entry>::iterator> index_;
};

struct tls_context_state {
  tls_config config;
  ssl_ctx_ptr ctx;
  x509_store_ptr client_ca_store;  // server: roots for client certificates; null: ctx's store
  std::unique_ptr<client_session_cache> sessions;  // null when the cache is off
  std::string alpn_wire;  // next_protos in ALPN's wire format (length-prefixed)
  tls_error error;        // why the build failed; err is empty when it did not
};

// The ex_data slot of an SSL that points at its tls_session (for OpenSSL's callbacks).
int session_index();

// One TLS connection's state. Lives on the heap so that tls_stream moves cheaply and OpenSSL's
// callbacks can keep a pointer to it.
struct tls_session {
  tls_session(std::unique_ptr<stream> under_stream, tls_context context, bool is_server);
  ~tls_session();
  tls_session(const tls_session&) = delete;
  tls_session& operator=(const tls_session&) = delete;

  // Sets the SSL up for a client handshake with `name` (SNI, verification, a cached session); an
  // empty name means the config's.
  result<void, tls_error> prepare_client(std::string name);
  result<void, tls_error> prepare_server();
  task<result<void, tls_error>> handshake(std::stop_token stop, time_point deadline);

  // Receives ciphertext from the underlying stream into the BIO pair: the count, 0 at its end
  // (then the SSL sees the end too). `awaiting`: nothing is expected to be there yet.
  task<result<std::size_t>> fill(std::stop_token stop, time_point deadline, bool awaiting = false);
  // Sends every ciphertext byte the SSL has produced. The caller holds write_lock.
  task<result<void>> flush(std::stop_token stop, time_point deadline);
  // Best effort: sends an alert the reading side produced when no writer is busy.
  task<void> flush_alert(std::stop_token stop, time_point deadline);

  // What the last failed SSL call means, from the error queue and the callbacks' notes. Call it
  // before the next co_await: the queue is per thread, and other connections run meanwhile.
  tls_error failure(int ssl_error);
  const tls_context_state& context_state() const;
  // Ciphertext the SSL wrote and flush() has not sent; ciphertext fill() brought that the SSL
  // has not taken yet.
  std::size_t pending_output() const noexcept { return wire ? BIO_ctrl_pending(wire.get()) : 0; }
  std::size_t pending_input() const noexcept { return wire ? BIO_ctrl_wpending(wire.get()) : 0; }

  // The BIO pair's two 17 KiB buffers are most of an idle connection's memory: the idle watches
  // (wait_readable, wait_hangup) shed the pair when nothing waits in it, and whatever does I/O
  // next makes a new one. ensure_wire() is false when memory ran out; `by_reader`: the caller is
  // the reading direction's coroutine itself, holding no pointer into the pair.
  bool ensure_wire();
  void shed_wire(bool by_reader = false) noexcept;

  std::unique_ptr<stream> under;  // null once handed back in a tls_error
  tls_context context;
  ssl_ptr ssl;
  bio_ptr wire;  // our half of the BIO pair (the ciphertext side), or null when shed; the SSL owns
                 // the other half
  bool server;
  bool verify_any = false;  // accept any certificate (server modes that do not verify)
  std::string server_name;  // the client's name to verify (and SNI unless an address)
  std::string cache_key;    // the client's session cache key; empty: do not cache

  // Read side.
  bool reading = false;        // a read, wait_readable or wait_hangup is running
  bool end_fed = false;        // the underlying stream ended and the SSL was told
  std::error_code read_error;  // sticky: a broken record layer, a truncation
  // Write side.
  async_mutex write_lock;       // the writer, close_write and the reader's alerts take turns
  std::error_code write_error;  // sticky (see tls_stream)
  bool close_notify_sent = false;

  // Notes from OpenSSL's callbacks during the handshake.
  int alert_sent = -1;         // the fatal alert this side sent, if any
  int alert_received = -1;     // the fatal alert the peer sent, if any
  int verify_error = 0;        // X509_V_OK, or the first verification failure
  x509_ptr verify_cert;        // the certificate that failed
  std::string offered_protos;  // server: the client's ALPN offer, Go-formatted, when none matched
  std::array<std::uint8_t, 5> first_bytes{};  // the peer's first record header
  std::size_t first_count = 0;
  bool first_checked = false;

 private:
  result<void, tls_error> init();
  std::optional<tls_error> check_first_record();
};

// Whether `host` is an IPv4 or IPv6 address (then verified against IP SANs, never sent as SNI).
bool is_ip_literal(const std::string& host);

// Go's texts for a failed verification of `cert` for `host` (HostnameError, CertificateInvalid).
std::string hostname_error_text(X509* cert, const std::string& host);
std::string validity_error_text(X509* cert, int verify_error);

}  // namespace ringo::net::detail
