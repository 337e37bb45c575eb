// file_server [--listen ADDR] [--tls-cert FILE --tls-key FILE] DIR: serves DIR over HTTP, or
// HTTPS with a certificate and key (Go's http.FileServer): files with ranges and conditional
// requests, index.html, directory listings; nothing outside DIR. Ctrl-C stops it.
//
//   $ file_server --listen 127.0.0.1:8080 /srv/www
//   $ curl -r 0-99 http://127.0.0.1:8080/big.iso
#include <cstdio>
#include <signal.h>
#include <string>

#include <ringo/ringo.hpp>

using namespace ringo;

task<void> serve_until_stopped(http::server* server, net::listener* l, net::tls_config* tls,
                               std::stop_token stop) {
  if (tls->certificates.empty())
    (co_await server->serve(*l, std::move(stop))).value();
  else
    (co_await server->serve_tls(*l, *tls, std::move(stop))).value();
}

task<int> serve(std::string address, std::string dir, net::tls_config tls) {
  http::server server(http::file_server(dir));
  auto listener = net::listen("tcp", address);
  if (!listener) {
    std::fprintf(stderr, "file_server: %s\n", listener.error().message().c_str());
    co_return 1;
  }
  scope s;
  s.spawn(serve_until_stopped(&server, &*listener, &tls, s.get_token()));
  auto signal = wait_for_signal({SIGINT, SIGTERM});  // (GCC 12: not inside the co_await)
  if (auto got = co_await std::move(signal); !got)
    std::fprintf(stderr, "file_server: %s\n", got.error().message().c_str());
  s.request_stop();
  co_await s.join();
  co_return 0;
}

int main(int argc, char** argv) {
  std::string address = "127.0.0.1:8080", dir, cert, key;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--listen" && i + 1 < argc)
      address = argv[++i];
    else if (arg == "--tls-cert" && i + 1 < argc)
      cert = argv[++i];
    else if (arg == "--tls-key" && i + 1 < argc)
      key = argv[++i];
    else
      dir = argv[i];
  }
  if (dir.empty() || cert.empty() != key.empty()) {
    std::fputs("usage: file_server [--listen ADDR] [--tls-cert FILE --tls-key FILE] DIR\n", stderr);
    return 2;
  }
  net::tls_config tls;
  if (!cert.empty()) tls.certificates = {{net::pem::file(cert), net::pem::file(key)}};
  block_signals({SIGINT, SIGTERM}).value();  // before any thread starts: they inherit the mask
  return run(serve(address, dir, std::move(tls)));
}
