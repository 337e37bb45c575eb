// reverse_proxy [--listen ADDR] [--max-idle-conns-per-host N] [--tls-cert FILE --tls-key FILE]
// URL: serves every request (over HTTPS with a certificate and key) by passing it on to URL (Go's
// httputil.ReverseProxy), e.g.
//   reverse_proxy --listen 127.0.0.1:8081 http://127.0.0.1:8080/
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

task<int> serve(std::string address, http::url target, int idle_per_host, std::string cert,
                std::string key) {
  // Go's DefaultTransport gives a dial 30 s; a dial that outlives its client ends for the pool.
  http::transport upstream(
      {.max_idle_conns_per_host = idle_per_host, .dialer = {.timeout = std::chrono::seconds(30)}});
  http::server server(http::reverse_proxy(target, upstream));
  scope s;
  s.spawn(shut_down_on_signal(&server, s.get_token()));
  result<void, net::op_error> served;
  if (cert.empty())
    served = co_await server.listen_and_serve(address);
  else
    served = co_await server.listen_and_serve_tls(address, cert, key);
  if (!served) std::fprintf(stderr, "%s\n", served.error().message().c_str());
  s.request_stop();
  co_await s.join();
  co_await upstream.close();
  co_return served ? 0 : 1;
}

int main(int argc, char** argv) {
  std::string address = "127.0.0.1:8080";
  std::string target, cert, key;
  int idle_per_host = http::transport_options::follow_demand;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--listen" && i + 1 < argc) {
      address = argv[++i];
    } else if (arg == "--max-idle-conns-per-host" && i + 1 < argc) {
      idle_per_host = std::atoi(argv[++i]);
    } else if (arg == "--tls-cert" && i + 1 < argc) {
      cert = argv[++i];
    } else if (arg == "--tls-key" && i + 1 < argc) {
      key = argv[++i];
    } else if (!arg.starts_with("-") && target.empty()) {
      target = arg;
    } else {
      target.clear();
      break;
    }
  }
  if (target.empty() || cert.empty() != key.empty()) {
    std::fprintf(stderr,
                 "usage: reverse_proxy [--listen ADDR] [--max-idle-conns-per-host N] "
                 "[--tls-cert FILE --tls-key FILE] URL\n");
    return 2;
  }
  auto url = http::parse_url(target);
  if (!url) {
    std::fprintf(stderr, "reverse_proxy: %s: %s\n", target.c_str(), url.error().message().c_str());
    return 2;
  }
  block_signals({SIGINT, SIGTERM}).value();  // before any thread starts: they inherit the mask
  return run(serve(address, *url, idle_per_host, cert, key));
}
