// reverse_proxy [--listen ADDR] [--max-idle-conns-per-host N] [--tls-cert FILE --tls-key FILE]
//               [--cacert FILE] [-k|--insecure] URL
// serves every request (over HTTPS with a certificate and key) by passing it on to URL (Go's
// httputil.ReverseProxy), e.g.
//   reverse_proxy --listen 127.0.0.1:8081 http://127.0.0.1:8080/
//   reverse_proxy --listen 127.0.0.1:8081 --cacert ca.pem https://localhost:8443/
// An https:// upstream is verified against the system's roots, or FILE's with --cacert; -k accepts
// any certificate (a self-signed test upstream). A failed verification is a 502, logged as Go's
// "http: proxy error: tls: failed to verify certificate: ...".
// Ctrl-C finishes the requests in flight, then exits.
//
// The upstream connections are the transport's: it keeps as many idle as were lately in use at
// once, so a steady load re-dials nothing; N pins the bound instead (2 is Go's default). Which
// schemes it speaks upstream is the transport's business; serving TLS is one call of the server's.
#include <cstdio>
#include <cstdlib>
#include <signal.h>
#include <string>

#include <ringo/ringo.hpp>

using namespace ringo;

// Ctrl-C: finish the requests in flight, then exit.
task<void> shut_down_on_signal(http::server* server, std::stop_token stop) {
  auto signal = wait_for_signal({SIGINT, SIGTERM}, stop);
  if (co_await std::move(signal)) co_await server->shutdown();
}

struct options {
  std::string address = "127.0.0.1:8080";
  std::string target, cert, key;
  int idle_per_host = http::transport_options::follow_demand;
  net::tls_config upstream_tls;  // for an https:// URL: --cacert, -k
};

task<int> serve(options o, http::url target) {
  // Go's DefaultTransport gives a dial 30 s; a dial that outlives its client ends for the pool.
  http::transport upstream({.max_idle_conns_per_host = o.idle_per_host,
                            .dialer = {.timeout = std::chrono::seconds(30)},
                            .tls = o.upstream_tls});
  http::server server(http::reverse_proxy(target, upstream));
  scope s;
  s.spawn(shut_down_on_signal(&server, s.get_token()));
  result<void, net::op_error> served;
  if (o.cert.empty())
    served = co_await server.listen_and_serve(o.address);
  else
    served = co_await server.listen_and_serve_tls(o.address, o.cert, o.key);
  if (!served) std::fprintf(stderr, "%s\n", served.error().message().c_str());
  s.request_stop();
  co_await s.join();
  co_await upstream.close();
  co_return served ? 0 : 1;
}

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--listen" && i + 1 < argc) {
      o.address = argv[++i];
    } else if (arg == "--max-idle-conns-per-host" && i + 1 < argc) {
      o.idle_per_host = std::atoi(argv[++i]);
    } else if (arg == "--tls-cert" && i + 1 < argc) {
      o.cert = argv[++i];
    } else if (arg == "--tls-key" && i + 1 < argc) {
      o.key = argv[++i];
    } else if (arg == "--cacert" && i + 1 < argc) {
      o.upstream_tls.root_cas = {net::pem::file(argv[++i])};
    } else if (arg == "-k" || arg == "--insecure") {
      o.upstream_tls.insecure_skip_verify = true;
    } else if (!arg.starts_with("-") && o.target.empty()) {
      o.target = arg;
    } else {
      o.target.clear();
      break;
    }
  }
  if (o.target.empty() || o.cert.empty() != o.key.empty()) {
    std::fprintf(stderr,
                 "usage: reverse_proxy [--listen ADDR] [--max-idle-conns-per-host N] "
                 "[--tls-cert FILE --tls-key FILE] [--cacert FILE] [-k|--insecure] URL\n");
    return 2;
  }
  auto url = http::parse_url(o.target);
  if (!url) {
    std::fprintf(stderr, "reverse_proxy: %s: %s\n", o.target.c_str(),
                 url.error().message().c_str());
    return 2;
  }
  block_signals({SIGINT, SIGTERM}).value();  // before any thread starts: they inherit the mask
  return run(serve(std::move(o), *url));
}
