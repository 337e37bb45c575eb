// hello_server [--listen ADDR] [--threads N]: "Hello, World!" on GET /; a thread, io_context
// and SO_REUSEPORT listener per N (the first on the main thread). Ctrl-C stops it. HTTP/1.1 and
// HTTP/2 with prior knowledge on the same port (curl --http2-prior-knowledge, h2load).
#include <signal.h>
#include <string>
#include <thread>
#include <vector>

#include <ringo/ringo.hpp>

using namespace ringo;

task<void> hello(http::response_writer& w, http::request&) {
  w.header().set("Content-Type", "text/plain; charset=utf-8");
  co_await w.write("Hello, World!");
}

task<void> serve(std::string address, std::stop_token stop) {
  http::mux mux;
  (void)mux.handle("GET /{$}", hello);
  http::server server(mux.as_handler());
  auto listener = net::listen("tcp", address, {.reuse_port = true}).value();  // or throws
  (void)co_await server.serve(listener, stop);
}

// The first server runs on the main thread beside the wait for Ctrl-C, which stops them all.
task<void> serve_until_signal(std::string address, std::stop_source* stop) {
  scope s;
  s.spawn(serve(address, stop->get_token()));
  auto signal = wait_for_signal({SIGINT, SIGTERM}, stop->get_token());  // (GCC 12: not inside
  (void)co_await std::move(signal);                                     // the co_await)
  stop->request_stop();
  co_await s.join();
}

int main(int argc, char** argv) {
  std::string address = "127.0.0.1:8080";
  int threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string_view(argv[i]) == "--listen") address = argv[i + 1];
    if (std::string_view(argv[i]) == "--threads") threads = std::max(1, std::atoi(argv[i + 1]));
  }
  (void)block_signals({SIGINT, SIGTERM});  // before the threads start, so they inherit the mask
  std::stop_source stop;
  std::vector<std::jthread> workers;
  for (int i = 1; i < threads; ++i)
    workers.emplace_back([&] { run(serve(address, stop.get_token())); });
  run(serve_until_signal(address, &stop));
}
