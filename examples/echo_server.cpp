// echo_server: a TCP echo server on 127.0.0.1:PORT, written with ringo's runtime alone.
//
//   echo_server 8080      (port 0 picks a free port; the address is printed on start)
//
// serve() accepts in a loop and starts a coroutine per connection in a scope, next to one that
// waits for SIGINT or SIGTERM (read from a signalfd through the ring). The signal requests stop on
// the scope: the accept and every connection's pending recv or send are cancelled, each coroutine
// returns, and join() waits for the last one before main prints how many connections it served.
#include <charconv>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <string_view>
#include <system_error>

#include <ringo/runtime.hpp>

namespace {

using namespace std::chrono_literals;

// Echoes until the peer closes, an error occurs, or stop is requested.
ringo::task<void> echo(ringo::unique_fd conn, std::stop_token stop) {
  char buf[16 * 1024];
  for (;;) {
    auto n = co_await ringo::recv(conn.get(), buf, stop);
    if (!n || *n == 0) co_return;
    // A send may take only part of the bytes: loop until all of them are out.
    for (ringo::const_buffer rest(buf, *n); rest.size > 0;) {
      auto sent = co_await ringo::send(conn.get(), rest, stop);
      if (!sent) co_return;
      rest = rest.subspan(*sent);
    }
  }
}

// Requests stop on `server` at the first SIGINT or SIGTERM.
ringo::task<void> stop_on_signal(ringo::scope* server) {
  // Outside the co_await: GCC 12 rejects a braced list there ("array used as initializer").
  auto signal = ringo::wait_for_signal({SIGINT, SIGTERM}, server->get_token());
  auto sig = co_await std::move(signal);
  if (!sig && sig.error() != ringo::errc::operation_canceled)
    std::fprintf(stderr, "signalfd: %s\n", sig.error().message().c_str());
  server->request_stop();
}

// Accepts connections until stopped; returns how many it accepted.
ringo::task<int> serve(int listener) {
  int served = 0;
  ringo::scope server;
  server.spawn(stop_on_signal(&server));
  ringo::multishot_acceptor acceptor(listener);
  for (;;) {
    auto conn = co_await acceptor.next(server.get_token());
    if (server.get_token().stop_requested()) break;
    if (!conn) {
      // Out of descriptors, for instance: report it and give connections time to finish.
      std::fprintf(stderr, "accept: %s\n", conn.error().message().c_str());
      if (!co_await ringo::sleep_for(100ms, server.get_token())) break;
      continue;
    }
    ++served;
    server.spawn(echo(std::move(*conn), server.get_token()));
  }
  co_await server.join();
  co_return served;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint16_t port = 0;
  std::string_view arg = argc == 2 ? argv[1] : "";
  if (auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), port);
      arg.empty() || ec != std::errc() || end != arg.data() + arg.size()) {
    std::fprintf(stderr, "usage: %s PORT\n", argv[0]);
    return 2;
  }

  // Before anything else: from here on these signals wait for the signalfd instead of killing us.
  if (auto r = ringo::block_signals({SIGINT, SIGTERM}); !r) {
    std::fprintf(stderr, "block signals: %s\n", r.error().message().c_str());
    return 1;
  }

  auto listener = ringo::listen_stream(*ringo::socket_address::numeric("127.0.0.1", port));
  if (!listener) {
    std::fprintf(stderr, "listen 127.0.0.1:%u: %s\n", port, listener.error().message().c_str());
    return 1;
  }
  std::printf("listening on %s\n", ringo::local_address(listener->get())->to_string().c_str());
  std::fflush(stdout);

  int served = ringo::run(serve(listener->get()));
  std::printf("served %d connections\n", served);
  return 0;
}
