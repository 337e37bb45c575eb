// A user's program against the installed library (pkg-config ringo): value() on the results of
// dial, listen, client::get and transport::round_trip throws ringo::system_error with Go's
// message; transports dropped without close(), normally and while an exception unwinds, neither
// abort nor leak. Prints what it checked and exits 0 when everything held.
#include <cstdio>
#include <dirent.h>
#include <stdexcept>
#include <string>

#include <ringo/ringo.hpp>

using namespace ringo;

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s: %s\n", ok ? "ok" : "FAILED", what.c_str());
  if (!ok) ++failures;
}

int open_fds() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d)) ++n;
    ::closedir(d);
  }
  return n;
}

// value() throws what the error says; returns the text.
template <typename F>
std::string thrown_by(F f) {
  try {
    f();
  } catch (const ringo::system_error& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

task<void> checks(std::string refused) {
  auto l = net::listen("tcp", "127.0.0.1:0").value();
  std::string taken = l.addr().to_string();
  std::string listen_error = thrown_by([&] { (void)net::listen("tcp", taken).value(); });
  check(listen_error == "listen tcp " + taken + ": bind: address already in use", listen_error);

  auto dialed = co_await net::dial("tcp", refused);
  std::string dial_error = thrown_by([&] { (void)dialed.value(); });
  check(dial_error == "dial tcp " + refused + ": connect: connection refused", dial_error);

  http::transport t;
  http::client c(t);
  auto got = co_await c.get("http://" + refused + "/items/42");
  std::string get_error = thrown_by([&] { (void)got.value(); });
  check(get_error == "Get \"http://" + refused + "/items/42\": dial tcp " + refused +
                         ": connect: connection refused",
        get_error);

  http::client_request req;
  req.url = http::parse_url("http://" + refused + "/").value();
  auto rt = co_await t.round_trip(std::move(req));
  std::string rt_error = thrown_by([&] { (void)rt.value(); });
  check(rt_error == "dial tcp " + refused + ": connect: connection refused", rt_error);
}

task<void> serve_on(http::server* srv, net::listener* l) {
  auto served = co_await srv->serve(*l);
  check(bool(served), "served until closed");
}

// A server with a handler, a transport that keeps the connection idle, then dropped.
task<void> drop_transports(bool unwind) {
  http::server srv(
      [](http::response_writer& w, http::request&) -> task<void> { co_await w.write("hello"); });
  auto l = net::listen("tcp", "127.0.0.1:0").value();
  std::string url = "http://" + l.addr().to_string() + "/";
  scope s;
  s.spawn(serve_on(&srv, &l));
  {
    http::transport t;
    http::client c(t);
    auto body = co_await c.fetch(url);
    check(body && *body == "hello", "fetched through a transport dropped afterwards");
    if (unwind) {
      srv.close();
      co_await s.join();
      throw std::runtime_error("unwinding past a transport");
    }
  }
  srv.close();
  co_await s.join();
}

}  // namespace

int main() {
  const int fds = open_fds();
  // A port nobody listens on: bound, never listening.
  std::string refused;
  {
    auto l = net::listen("tcp", "127.0.0.1:0").value();
    refused = l.addr().to_string();
  }
  run(checks(refused));
  run(drop_transports(false));
  try {
    run(drop_transports(true));
    check(false, "the exception did not reach main");
  } catch (const std::runtime_error& e) {
    check(std::string(e.what()) == "unwinding past a transport", "unwound past a transport");
  }
  check(open_fds() == fds, "no descriptor left open");
  return failures == 0 ? 0 : 1;
}
