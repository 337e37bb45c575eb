// hello_server [--listen ADDR] [--threads N] [--tls-cert FILE --tls-key FILE [--tls-tickets off]]
//              [--recv plain]:
// "Hello, World!"
// on GET /; a thread, io_context and SO_REUSEPORT listener per N (the first on the main thread).
// Ctrl-C stops it. HTTP/1.1 and HTTP/2 with prior knowledge on the same port (curl
// --http2-prior-knowledge, h2load); with a certificate and key, HTTPS instead (HTTP/2 by ALPN),
// one TLS context shared by every thread; `--tls-tickets off` issues no session tickets, so every
// connection is a full handshake (bench/https.sh measures both). `--recv plain`: one recv SQE per
// read instead of a multishot recv per connection (the path of kernels before 6.0; bench/http.sh
// compares them).
#include <cstdio>
#include <signal.h>
#include <string>
#include <thread>
#include <vector>

#include <ringo/ringo.hpp>

using namespace ringo;
using namespace std::string_view_literals;

task<void> hello(http::response_writer& w, http::request&) {
  w.header().set("Content-Type", "text/plain; charset=utf-8");
  co_await w.write("Hello, World!");
}

task<void> serve(std::string address, net::tls_context tls, std::stop_token stop) {
  http::mux mux;
  mux.handle("GET /{$}", hello);
  http::server server(mux.as_handler());
  auto listener = net::listen("tcp", address, {.reuse_port = true}).value();  // or throws
  if (tls)
    (co_await server.serve_tls(listener, tls, stop)).value();
  else
    (co_await server.serve(listener, stop)).value();
}

// Ctrl-C stops every server.
task<void> stop_on_signal(std::stop_source* stop, std::stop_token token) {
  auto signal = wait_for_signal({SIGINT, SIGTERM}, token);  // (GCC 12: not inside the co_await)
  if (co_await std::move(signal)) stop->request_stop();
}

// The first server runs on the main thread, beside the wait for Ctrl-C; a server that fails
// stops the wait, and its error reaches main.
task<void> serve_until_signal(std::string address, net::tls_context tls, std::stop_source* stop) {
  scope s(stop->get_token());
  s.spawn(serve(address, tls, s.get_token()));
  s.spawn(stop_on_signal(stop, s.get_token()));
  co_await s.join();
}

int main(int argc, char** argv) {
  std::string address = "127.0.0.1:8080";
  int threads = 1;
  std::string cert, key;
  bool tickets = true;
  io_context_options ring;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string_view(argv[i]) == "--listen") address = argv[i + 1];
    if (std::string_view(argv[i]) == "--threads") threads = std::max(1, std::atoi(argv[i + 1]));
    if (std::string_view(argv[i]) == "--tls-cert") cert = argv[i + 1];
    if (std::string_view(argv[i]) == "--tls-key") key = argv[i + 1];
    if (std::string_view(argv[i]) == "--recv") ring.multishot_recv = argv[i + 1] != "plain"sv;
    if (std::string_view(argv[i]) == "--tls-tickets") tickets = argv[i + 1] != "off"sv;
  }
  net::tls_context tls;
  if (!cert.empty()) {
    // "h2" first, as serve_tls offers it for a config.
    auto made =
        net::tls_context::make({.certificates = {{net::pem::file(cert), net::pem::file(key)}},
                                .next_protos = {"h2", "http/1.1"},
                                .session_tickets_disabled = !tickets});
    if (!made) {
      std::fprintf(stderr, "hello_server: %s\n", made.error().message().c_str());
      return 1;
    }
    tls = std::move(*made);
  }
  block_signals({SIGINT, SIGTERM}).value();  // before the threads start: they inherit the mask
  std::stop_source stop;
  std::vector<std::jthread> workers;
  auto run_here = [&ring](task<void> t) { io_context(ring).run(std::move(t)); };
  for (int i = 1; i < threads; ++i)
    workers.emplace_back([&] { run_here(serve(address, tls, stop.get_token())); });
  run_here(serve_until_signal(address, tls, &stop));
}
