// httpbin [--listen ADDR] [--idle-timeout MS] [--tls-cert FILE --tls-key FILE]: a demo server and
// a test peer, after httpbin.org; HTTPS (HTTP/1.1 and HTTP/2 by ALPN) with a certificate and key.
//   /get  /headers  /status/{code}  /delay/{ms}  /bytes/{n}  /stream/{n}  /redirect/{n}  POST /echo
// /get describes the request, and over HTTPS the TLS state (version, cipher, ALPN, SNI).
// /delay notices a client that leaves: its sleep takes the request's stop token. Every answer
// carries the request's X-Request-Id back, so a client can tell that an answer is its own. The
// same handlers serve HTTP/2 with prior knowledge (h2c), where a client that resets its /delay
// stream stops the sleep too.
#include <charconv>
#include <cstdio>
#include <signal.h>
#include <string>

#include <ringo/ringo.hpp>

using namespace ringo;
using namespace std::chrono;

int number(http::request& r, std::string_view name, int fallback = 0) {
  std::string_view text = r.path_value(name);
  int n = fallback;
  std::from_chars(text.data(), text.data() + text.size(), n);
  return n;
}

std::string describe_headers(const http::request& r) {
  std::string out;
  for (const auto& f : r.header) out += f.name + ": " + f.value + "\n";
  return out;
}

task<void> get(http::response_writer& w, http::request& r) {
  std::string text = "method: " + r.method + "\nurl: " + r.target + "\n";
  if (r.tls)  // HTTPS: what the handshake agreed
    text += "tls: " + r.tls->version_name() + " " + r.tls->cipher_suite_name +
            " alpn=" + r.tls->negotiated_protocol + " sni=" + r.tls->server_name + "\n";
  co_await w.write(text + describe_headers(r));
}

task<void> headers(http::response_writer& w, http::request& r) {
  co_await w.write(describe_headers(r));
}

task<void> status(http::response_writer& w, http::request& r) {
  int code = number(r, "code", 200);
  if (code < 200 || code > 999) {
    co_await http::error(w, 400, "bad status code");
    co_return;
  }
  w.write_header(code);
}

task<void> delay(http::response_writer& w, http::request& r) {
  auto start = steady_clock::now();
  auto slept = co_await sleep_for(milliseconds(number(r, "ms")), r.stop);
  auto waited = duration_cast<milliseconds>(steady_clock::now() - start).count();
  if (!slept) {
    std::fprintf(stderr, "canceled after %lld ms\n", static_cast<long long>(waited));
    co_return;
  }
  co_await w.write("slept " + std::to_string(waited) + " ms\n");
}

task<void> bytes(http::response_writer& w, http::request& r) {
  std::string data(static_cast<std::size_t>(std::max(0, number(r, "n"))), '\0');
  std::uint32_t x = 2463534242u;  // xorshift: varied bytes, the same every time
  for (char& c : data) c = static_cast<char>(x ^= x << 13, x ^= x >> 17, x ^= x << 5);
  w.header().set("Content-Type", "application/octet-stream");
  w.header().set("Content-Length", std::to_string(data.size()));
  co_await w.write(data);
}

task<void> stream(http::response_writer& w, http::request& r) {
  for (int i = 0, n = number(r, "n"); i < n && !r.stop.stop_requested(); ++i) {
    co_await w.write("chunk " + std::to_string(i) + "\n");
    if (!co_await w.flush()) co_return;  // the client left
  }
}

task<void> redirect(http::response_writer& w, http::request& r) {
  int n = number(r, "n");
  w.header().set("Location", n > 1 ? "/redirect/" + std::to_string(n - 1) : "/get");
  w.write_header(302);
  co_return;
}

task<void> echo(http::response_writer& w, http::request& r) {
  auto body = co_await r.body->read_all(64 << 20, r.stop);
  if (!body) {
    co_await http::error(w, 400, body.error().message());
    co_return;
  }
  co_await w.write(*body);
}

// Ctrl-C: finish the requests in flight, then exit.
task<void> shut_down_on_signal(http::server* server, std::stop_token stop) {
  auto signal = wait_for_signal({SIGINT, SIGTERM}, stop);
  if (co_await std::move(signal)) co_await server->shutdown();
}

task<int> serve(std::string address, milliseconds idle_timeout, std::string cert, std::string key) {
  http::mux mux;
  mux.handle("GET /get", get);
  mux.handle("GET /headers", headers);
  mux.handle("/status/{code}", status);
  mux.handle("GET /delay/{ms}", delay);
  mux.handle("GET /bytes/{n}", bytes);
  mux.handle("GET /stream/{n}", stream);
  mux.handle("GET /redirect/{n}", redirect);
  mux.handle("POST /echo", echo);
  http::server server([&mux](http::response_writer& w, http::request& r) {
    if (auto id = r.header.get("X-Request-Id")) w.header().set("X-Request-Id", std::string(*id));
    return mux(w, r);
  });
  if (idle_timeout.count() > 0) server.idle_timeout = idle_timeout;
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
  co_return served ? 0 : 1;
}

int main(int argc, char** argv) {
  std::string address = "127.0.0.1:8080";
  milliseconds idle_timeout{};
  std::string cert, key;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view flag = argv[i];
    if (flag == "--listen") {
      address = argv[i + 1];
    } else if (flag == "--idle-timeout") {
      idle_timeout = milliseconds(std::atoi(argv[i + 1]));
    } else if (flag == "--tls-cert") {
      cert = argv[i + 1];
    } else if (flag == "--tls-key") {
      key = argv[i + 1];
    } else {
      std::fprintf(stderr,
                   "usage: httpbin [--listen ADDR] [--idle-timeout MS] [--tls-cert FILE "
                   "--tls-key FILE]\n");
      return 2;
    }
  }
  if (cert.empty() != key.empty()) {
    std::fprintf(stderr, "httpbin: --tls-cert and --tls-key go together\n");
    return 2;
  }
  block_signals({SIGINT, SIGTERM}).value();
  return run(serve(address, idle_timeout, cert, key));
}
