// tls_server_fuzz: libFuzzer target over the server's TLS path, in-process and without the
// network: the server's TLS connection path (net::tls_server's handshake and record layer on
// OpenSSL's memory BIOs, then lib/http's server_conn over the tls_stream) serves one end of a
// socketpair on an io_context; a client task on the same context writes to the other end and reads
// everything the server answers.
//
// Two modes, picked by byte 0's low bit:
// - raw (0): the rest of the input is what a client sends to the TLS port, byte for byte (a
//   ClientHello and records; the seeds in test/fuzz/corpus-tls hold real ClientHellos). This
//   fuzzes the record layer and the handshake as a client drives them, and the plaintext-HTTP
//   answer. Random bytes cannot finish a handshake (the client's Finished depends on the server's
//   random key share), so the HTTP server is never reached this way; hence the second mode.
// - handshake first (1): an OpenSSL client on memory BIOs, in this process, shakes hands with the
//   server over the socketpair, then sends the rest of the input as application data, in records
//   of 1 + 64 * byte 1 bytes, and ends with close_notify (byte 0 bit 1) or a bare FIN. This is
//   the HTTP server with TLS in front. OpenSSL's randomness cannot be fixed, so the ciphertext
//   differs from run to run, but what the server decrypts, and so the path through ringo's code
//   after the handshake, depends on the input alone: deterministic enough for libFuzzer.
// In raw mode byte 1 picks where the client splits its writes; byte 0 bits 2 and 3 pick how the
// handler behaves (read the body or not; a plain or a streamed response).
//
// Invariants: the server neither crashes nor hangs nor leaks (ASan, which sees OpenSSL's
// allocations too); it ends every connection. Raw: a client whose first bytes look like plaintext
// HTTP gets Go's 400 answer and nothing else; otherwise the server sends whole TLS records only.
// Handshake first: the handshake succeeds, everything the server sends decrypts and, when the
// client sent close_notify, ends with close_notify; the plaintext is a sequence of HTTP/1.1
// responses to the requests the plain parser finds in the input (one each when they are all
// well-formed), and every handler sees the connection's TLS state.
//
// The server's certificate and key are made in memory at start-up (no private key is committed).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string>
#include <string_view>
#include <sys/socket.h>

#include "ringo/http/request.hpp"
#include "ringo/http/response_writer.hpp"
#include "ringo/http/server.hpp"
#include "ringo/net/conn.hpp"
#include "ringo/net/tls.hpp"
#include "ringo/runtime/io_context.hpp"
#include "ringo/runtime/operations.hpp"
#include "ringo/runtime/when_all.hpp"
#include "server_conn.hpp"
#include "server_fuzz.hpp"
#include "server_state.hpp"

namespace {

using namespace ringo;
using namespace ringo::fuzz;
using namespace std::chrono_literals;

template <class T, void (*Free)(T*)>
struct openssl_deleter {
  void operator()(T* p) const noexcept { Free(p); }
};
template <class T, void (*Free)(T*)>
using openssl_ptr = std::unique_ptr<T, openssl_deleter<T, Free>>;

std::string drain(BIO* b) {
  std::string out(static_cast<std::size_t>(BIO_pending(b)), '\0');
  if (!out.empty())
    check(BIO_read(b, out.data(), static_cast<int>(out.size())) == static_cast<int>(out.size()),
          "BIO_read");
  return out;
}

// A self-signed ECDSA P-256 certificate for "localhost" and its key, as PEM.
net::tls_certificate make_certificate() {
  openssl_ptr<EVP_PKEY, EVP_PKEY_free> key(EVP_EC_gen("P-256"));
  openssl_ptr<X509, X509_free> x(X509_new());
  check(key && x, "making the certificate");
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 30L * 24 * 3600);
  X509_set_pubkey(x.get(), key.get());
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  check(X509_sign(x.get(), key.get(), EVP_sha256()) > 0, "signing the certificate");
  openssl_ptr<BIO, BIO_free_all> cert(BIO_new(BIO_s_mem())), pkey(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_X509(cert.get(), x.get()) == 1 &&
            PEM_write_bio_PrivateKey(pkey.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                     nullptr) == 1,
        "writing the certificate");
  return {net::pem::data(drain(cert.get())), net::pem::data(drain(pkey.get()))};
}

const net::tls_context& server_context() {
  static const net::tls_context context = [] {
    net::tls_config config{.certificates = {make_certificate()}, .next_protos = {"http/1.1"}};
    net::tls_context c(config);
    check(static_cast<bool>(c), "the server's TLS context");
    return c;
  }();
  return context;
}

SSL_CTX* client_context() {
  static SSL_CTX* const ctx = [] {
    SSL_CTX* c = SSL_CTX_new(TLS_client_method());
    check(c != nullptr, "the client's SSL_CTX");
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);  // the certificate is not what is fuzzed
    static constexpr unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(c, alpn, sizeof alpn - 1);
    return c;
  }();
  return ctx;
}

unsigned mode = 0;

task<void> handler(http::response_writer& w, http::request& r) {
  check(r.tls != nullptr && r.tls->handshake_complete && r.tls->version != 0,
        "a request over TLS without the connection's TLS state");
  if (mode & 4) (void)co_await r.body->read_all(1 << 20);
  if (mode & 8) {
    (void)co_await w.write("stream");
    (void)co_await w.flush();  // the rest goes chunked
    (void)co_await w.write(" more");
  } else {
    (void)co_await w.write("ok");
  }
}

task<void> serve(http::server::state& st, int fd) {
  co_await http::detail::serve_tls_connection(&st, net::conn(unique_fd(fd), "unix"),
                                              server_context());
}

// The client's side of the handshake, its records carried over fd.
task<bool> client_handshake(int fd, SSL* ssl, BIO* in, BIO* out) {
  const time_point deadline = clock::now() + 10s;
  char buf[16384];
  for (;;) {
    int rc = SSL_do_handshake(ssl);
    if (!co_await send_all(fd, drain(out))) co_return false;
    if (rc == 1) co_return true;
    if (SSL_get_error(ssl, rc) != SSL_ERROR_WANT_READ) co_return false;
    auto n = co_await recv(fd, buf, {}, deadline);
    if (!n && n.error() == ringo::errc::timed_out) fail("the server hangs in the handshake");
    if (!n || *n == 0) co_return false;
    BIO_write(in, buf, static_cast<int>(*n));
  }
}

// Handshake first: shakes hands, sends `plain` as application data, reads to the server's end;
// `ok` is whether the handshake succeeded.
task<void> tls_client(int fd, std::string_view plain, std::size_t record, std::string& decrypted,
                      bool& ok) {
  openssl_ptr<SSL, SSL_free> ssl(SSL_new(client_context()));
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), in, out);  // the SSL owns both
  SSL_set_connect_state(ssl.get());
  SSL_set_tlsext_host_name(ssl.get(), "localhost");
  ok = co_await client_handshake(fd, ssl.get(), in, out);
  if (ok) {
    for (std::size_t at = 0; at < plain.size(); at += record) {
      std::string_view part = plain.substr(at, record);
      check(SSL_write(ssl.get(), part.data(), static_cast<int>(part.size())) ==
                static_cast<int>(part.size()),
            "SSL_write");
    }
    if (mode & 2) SSL_shutdown(ssl.get());  // close_notify
    std::string cipher = drain(out), raw;
    co_await when_all(write_input(fd, cipher, cipher.size() / 2), read_output(fd, raw));
    BIO_write(in, raw.data(), static_cast<int>(raw.size()));
    char buf[16384];
    int n;
    while ((n = SSL_read(ssl.get(), buf, sizeof buf)) > 0) decrypted.append(buf, n);
    // After the client's close_notify the server ends with its own. After a bare FIN it cannot:
    // OpenSSL's session is dead after an unexpected EOF (unlike Go's tls.Conn, whose Close still
    // sends close_notify), so the records stop there, or end with the decode_error alert OpenSSL
    // sends when the EOF came inside a read.
    const int end = SSL_get_error(ssl.get(), n);
    const bool eof_alert =
        end == SSL_ERROR_SSL && ERR_GET_REASON(ERR_peek_error()) == SSL_R_TLSV1_ALERT_DECODE_ERROR;
    static const bool verbose = std::getenv("RINGO_FUZZ_VERBOSE") != nullptr;
    if (verbose)
      std::fprintf(stderr,
                   "mode %u, %zu bytes of records, SSL_get_error %d, server sent:\n%s\n--\n", mode,
                   raw.size(), end, decrypted.c_str());
    ERR_clear_error();
    check(
        end == SSL_ERROR_ZERO_RETURN || (!(mode & 2) && (end == SSL_ERROR_WANT_READ || eof_alert)),
        "the server's records do not decrypt, or end without close_notify");
  }
  ::close(fd);
}

// Raw: the input as it is.
task<void> raw_client(int fd, std::string_view input, std::size_t split, std::string& out) {
  co_await when_all(write_input(fd, input, split), read_output(fd, out));
  ::close(fd);
}

// Whole TLS records only: content types change_cipher_spec to heartbeat, version 3.x, at most
// 2^14 + 256 bytes each. One exception: the fatal protocol_version alert OpenSSL sends to a
// ClientHello whose version it cannot take carries that ClientHello's legacy_version, whatever it
// was (tls_early_post_process_client_hello sets the session's version to the client's first).
void check_records(std::string_view out) {
  while (!out.empty()) {
    check(out.size() >= 5, "the server's output ends inside a record header");
    auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(out[i]); };
    std::size_t length = std::size_t(byte(3)) << 8 | byte(4);
    const bool version_alert = byte(0) == 21 && length == 2 && out.size() >= 7 && byte(5) == 2 &&
                               byte(6) == 70;  // fatal, protocol_version
    check(byte(0) >= 20 && byte(0) <= 24 && (byte(1) == 3 || version_alert),
          "the server sent a bad record header");
    check(length <= (1 << 14) + 256, "the server sent an oversized record");
    check(out.size() >= 5 + length, "the server's output ends inside a record");
    out.remove_prefix(5 + length);
  }
}

bool looks_like_http(std::string_view in) {
  for (std::string_view p : {"GET /", "HEAD ", "POST ", "PUT /", "OPTIO"})
    if (in.starts_with(p)) return true;
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  fuzz::target_name = "tls_server_fuzz";
  static io_context ctx;  // one ring for the whole run
  std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  mode = data[0];
  http::server srv(handler);
  srv.error_log = [](std::string_view) {};
  http::server::state st(srv);
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
  std::string out;
  if (mode & 1) {
    bool ok = false;
    ctx.run(when_all(serve(st, fds[0]),
                     tls_client(fds[1], input, 1 + 64 * std::size_t(data[1]), out, ok)));
    check(ok, "the handshake failed");
    const model m = parse_requests(input);
    const std::size_t finals = check_responses(out, m, false, {});
    check(finals <= m.requests.size() + 1, "more responses than requests");
    if (m.clean) check(finals == m.requests.size(), "a well-formed request went unanswered");
  } else {
    ctx.run(
        when_all(serve(st, fds[0]), raw_client(fds[1], input, data[1] * input.size() / 255, out)));
    if (looks_like_http(input))
      check(out ==
                "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS "
                "server.\n",
            "plaintext HTTP did not get Go's answer");
    else
      check_records(out);
  }
  return 0;
}
