// TLS handshake benchmarks: what a handshake costs ringo's client and server together in one
// process, against the floor of OpenSSL alone doing the same handshakes in memory.
//
// - ringo_tls_handshake/0: net::dial + tls_client against a listener whose tls_server runs on the
//   same io_context; one byte from the server (the TLS 1.3 ticket comes before it), then both
//   close. Full handshakes (the client's session cache off). /1: the same with resumption.
// - openssl_handshake/0, /1: the same handshakes and byte between two SSL objects joined by a BIO
//   pair, no sockets and no ring: OpenSSL's own cost, the floor for the ratio.
// Counters: cpu_us, the process's user+system CPU per handshake (client and server together);
// resumed, the share of ringo's handshakes that resumed.
// ECDSA P-256 certificate, X25519, TLS 1.3, made with the openssl CLI at start. Pin it:
//   taskset -c 1 build-rel/bench/tls_bench
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <string>
#include <sys/resource.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <ringo/net.hpp>

namespace {

namespace net = ringo::net;
using ringo::task;

double process_cpu_ns() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto ns = [](const timeval& tv) { return tv.tv_sec * 1e9 + tv.tv_usec * 1e3; };
  return ns(ru.ru_utime) + ns(ru.ru_stime);
}

// A self-signed ECDSA P-256 certificate for localhost in a temporary directory (removed at exit).
struct bench_cert {
  std::string dir, cert, key;
  bool ok = false;
};

// Removed at exit; a plain array, so that no destructor runs before the atexit handler does.
char cert_dir[64];

void remove_cert_dir() {
  std::error_code ec;
  std::filesystem::remove_all(cert_dir, ec);
}

const bench_cert& certificate() {
  static const bench_cert c = [] {
    bench_cert b;
    std::snprintf(cert_dir, sizeof cert_dir, "/tmp/ringo-tls-bench-XXXXXX");
    if (!::mkdtemp(cert_dir)) return b;
    std::atexit(remove_cert_dir);
    b.dir = cert_dir;
    b.cert = b.dir + "/cert.pem";
    b.key = b.dir + "/key.pem";
    std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
        "-keyout " +
        b.key + " -out " + b.cert +
        " -subj /CN=localhost -addext subjectAltName=DNS:localhost -days 2 "
        ">/dev/null 2>&1";
    b.ok = std::system(cmd.c_str()) == 0;
    return b;
  }();
  return c;
}

void report_cpu(benchmark::State& state, double cpu_start) {
  double n = static_cast<double>(std::max<benchmark::IterationCount>(state.iterations(), 1));
  state.counters["cpu_us"] = (process_cpu_ns() - cpu_start) / n / 1e3;
  state.SetItemsProcessed(state.iterations());
}

// --- ringo, client and server on one io_context ----------------------------------------------

task<void> serve(net::listener* l, net::tls_context ctx, std::stop_token stop) {
  while (!stop.stop_requested()) {
    auto c = co_await l->accept(stop);
    if (!c) continue;
    auto s = co_await net::tls_server(std::move(*c), ctx, stop);
    if (!s) continue;
    (void)co_await s->write_all("x", stop);
    char b;
    (void)co_await s->read({&b, 1}, stop);  // the client's close
  }
}

task<void> ringo_rounds(benchmark::State* state) {
  const bench_cert& bc = certificate();
  net::tls_context server_ctx(
      net::tls_config{.certificates = {{net::pem::file(bc.cert), net::pem::file(bc.key)}}});
  net::tls_context client_ctx(net::tls_config{
      .root_cas = {net::pem::file(bc.cert)},
      .client_session_cache_size = state->range(0) ? std::size_t{64} : std::size_t{0}});
  auto l = net::listen("tcp", "127.0.0.1:0").value();
  ringo::scope server;
  server.spawn(serve(&l, server_ctx, server.get_token()));
  std::string where = l.addr().to_string();
  double resumed = 0;
  double cpu_start = process_cpu_ns();
  for (auto _ : *state) {
    auto c = co_await net::dial("tcp", where);
    if (!c) {
      state->SkipWithError(c.error().message().c_str());
      break;
    }
    auto t =
        co_await net::tls_client(std::move(*c), client_ctx, {}, ringo::no_deadline, "localhost");
    if (!t) {
      state->SkipWithError(t.error().message().c_str());
      break;
    }
    char b;
    (void)co_await t->read({&b, 1});
    resumed += t->connection_state().did_resume ? 1 : 0;
  }
  report_cpu(*state, cpu_start);
  state->counters["resumed"] = resumed / std::max<double>(double(state->iterations()), 1);
  server.request_stop();
  co_await server.join();
}

void ringo_tls_handshake(benchmark::State& state) {
  if (!certificate().ok) return state.SkipWithError("the openssl CLI failed");
  ringo::run(ringo_rounds(&state));
}
BENCHMARK(ringo_tls_handshake)->Arg(0)->Arg(1)->UseRealTime();

// --- OpenSSL alone: two SSL objects joined by a BIO pair
// ------------------------------------------

SSL_CTX* make_ctx(bool server) {
  const bench_cert& bc = certificate();
  SSL_CTX* ctx = SSL_CTX_new(TLS_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set1_groups_list(ctx, "X25519:P-256");
  SSL_CTX_set_num_tickets(ctx, 1);
  if (server) {
    SSL_CTX_use_certificate_chain_file(ctx, bc.cert.c_str());
    SSL_CTX_use_PrivateKey_file(ctx, bc.key.c_str(), SSL_FILETYPE_PEM);
  } else {
    SSL_CTX_load_verify_locations(ctx, bc.cert.c_str(), nullptr);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
  }
  return ctx;
}

// One handshake and one byte from the server; returns the client's session for the next one.
SSL_SESSION* raw_handshake(SSL_CTX* cctx, SSL_CTX* sctx, SSL_SESSION* resume, double* resumed) {
  SSL* client = SSL_new(cctx);
  SSL* server = SSL_new(sctx);
  BIO *a = nullptr, *b = nullptr;
  BIO_new_bio_pair(&a, 0, &b, 0);
  SSL_set_bio(client, a, a);
  SSL_set_bio(server, b, b);
  SSL_set_connect_state(client);
  SSL_set_accept_state(server);
  SSL_set_tlsext_host_name(client, "localhost");
  SSL_set1_host(client, "localhost");
  if (resume) SSL_set_session(client, resume);
  bool c_done = false, s_done = false;
  while (!c_done || !s_done) {
    if (!c_done) c_done = SSL_do_handshake(client) == 1;
    if (!s_done) s_done = SSL_do_handshake(server) == 1;
  }
  SSL_write(server, "x", 1);
  char x;
  SSL_read(client, &x, 1);
  *resumed += SSL_session_reused(client) ? 1 : 0;
  SSL_SESSION* next = SSL_get1_session(client);
  SSL_set_shutdown(client, SSL_SENT_SHUTDOWN);  // else OpenSSL makes the session unresumable
  SSL_free(client);
  SSL_free(server);
  ERR_clear_error();
  return next;
}

void openssl_handshake(benchmark::State& state) {
  if (!certificate().ok) return state.SkipWithError("the openssl CLI failed");
  SSL_CTX* cctx = make_ctx(false);
  SSL_CTX* sctx = make_ctx(true);
  SSL_SESSION* session = nullptr;
  double resumed = 0;
  double cpu_start = process_cpu_ns();
  for (auto _ : state) {
    SSL_SESSION* next = raw_handshake(cctx, sctx, state.range(0) ? session : nullptr, &resumed);
    SSL_SESSION_free(session);
    session = next;
  }
  report_cpu(state, cpu_start);
  state.counters["resumed"] = resumed / std::max<double>(double(state.iterations()), 1);
  SSL_SESSION_free(session);
  SSL_CTX_free(cctx);
  SSL_CTX_free(sctx);
}
BENCHMARK(openssl_handshake)->Arg(0)->Arg(1)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
