#include "ringo/http/server.hpp"

#include <algorithm>
#include <cassert>
#include <cstdio>

#include "ringo/runtime/memory.hpp"
#include "ringo/runtime/scope.hpp"
#include "server_conn.hpp"
#include "server_state.hpp"

namespace ringo::http {

namespace {

// A TLS config that did not build: the listener closes (no client waits on it), and the error
// reads as Go's listen errors do, the TLS text last.
net::op_error config_failed(net::listener& l, const net::tls_error& err) {
  net::op_error e;
  e.op = "listen";
  e.network = l.network();
  e.address = l.addr().to_string();
  e.err = err.err;
  e.detail = err.message();
  l.close();
  return e;
}

}  // namespace

std::string_view to_string(conn_state s) noexcept {
  switch (s) {
    case conn_state::new_:
      return "new";
    case conn_state::active:
      return "active";
    case conn_state::idle:
      return "idle";
    case conn_state::hijacked:
      return "hijacked";
    case conn_state::closed:
      return "closed";
  }
  return "?";
}

std::string_view server::state::http_date() {
  std::time_t now = std::time(nullptr);
  if (now != date_time || date.empty()) {
    date_time = now;
    std::tm tm{};
    ::gmtime_r(&now, &tm);
    char buf[64];
    std::size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    date.assign(buf, n);
  }
  return date;
}

void server::state::log(const server& s, std::string_view message) const {
  if (s.error_log)
    s.error_log(message);
  else
    std::fprintf(stderr, "http: %.*s\n", static_cast<int>(message.size()), message.data());
}

server::state::state(server& s) : srv(&s) {
  spare_conns.reserve(spare_limit);  // give_back then never allocates
}
server::state::~state() = default;

std::unique_ptr<detail::server_conn> server::state::take_conn() {
  lent_high.rose(++lent_conns);
  if (spare_conns.empty()) return std::make_unique<detail::server_conn>(*this);
  std::unique_ptr<detail::server_conn> c = std::move(spare_conns.back());
  spare_conns.pop_back();
  assert(c->pristine() && "a spare server_conn carries state from its last connection");
  return c;
}

void server::state::give_back(std::unique_ptr<detail::server_conn> c) noexcept {
  if (spare_conns.size() < spare_limit) {
    c->reset();
    spare_conns.push_back(std::move(c));
  } else {
    c.reset();
  }
  if (lent_high.fell_to_quarter(--lent_conns)) release_free_memory();
}

void server::state::conn_opened() noexcept {
  open_high.rose(++open_conns);
}

void server::state::conn_closed() noexcept {
  if (open_high.fell_to_quarter(--open_conns)) release_free_memory();
}

// After a burst glibc keeps the freed memory (each connection's parts, scattered among the ones
// still live): 5.8 MiB stayed after 10,000 connections had closed (bench/http.sh's burst). A trim
// walks the allocator's free lists, so it runs once per fall to a quarter, not per close.
bool server::state::high_water::fell_to_quarter(std::size_t now) noexcept {
  if (peak < trim_floor || now > peak / 4) return false;
  peak = now;
  return true;
}

server::server() : state_(std::make_unique<state>(*this)) {}
server::server(http::handler h) : server() {
  handler = std::move(h);
}
server::~server() = default;

std::size_t server::connections() const noexcept {
  return state_->open_conns;
}

task<result<void, net::op_error>> server::serve(net::listener& l, std::stop_token stop) {
  return serve_on(l, net::tls_context(), std::move(stop));
}

task<result<void, net::op_error>> server::serve_on(net::listener& l, net::tls_context tls,
                                                   std::stop_token stop) {
  state& st = *state_;
  if (st.serves++ == 0) {
    st.serve_done.reset();
    st.conns_link.reset();
    st.conns_source = std::stop_source();
    st.conns_link.emplace(st.close_source.get_token(), state::forward_stop{&st.conns_source});
    st.conn_stop = st.conns_source.get_token();
  }
  std::stop_callback on_stop(stop, [this] { close(); });
  result<void, net::op_error> outcome;
  {
    scope conns(st.conn_stop);
    // A connection that threw stops its scope: the connections of every serve_on wind down.
    // Idle connections wait on idle_stop alone: whatever stops the others must wake them too.
    std::stop_callback failed(conns.get_token(), [&st] {
      st.conns_source.request_stop();
      st.idle_stop.request_stop();
    });
    while (!st.shutting_down && !st.close_source.stop_requested()) {
      auto c = co_await l.accept(st.accept_stop.get_token());
      if (!c) {
        if (!c.error().canceled()) outcome = c.error();
        break;
      }
      if (tls)
        conns.spawn(detail::serve_tls_connection(&st, std::move(*c), tls));
      else
        conns.spawn(detail::serve_connection(&st, std::move(*c)));
    }
    // Go's Serve closes its listener too. Here it matters more: the multishot accept stays armed
    // in the kernel, so an open listener would keep taking connections nobody serves, and a
    // client arriving during a graceful shutdown would hang instead of being refused.
    l.close();
    co_await conns.join();
  }
  if (--st.serves == 0) st.serve_done.set();
  co_return outcome;
}

task<result<void, net::op_error>> server::listen_and_serve(std::string address,
                                                           std::stop_token stop) {
  auto l = net::listen("tcp", address);
  if (!l) co_return l.error();
  co_return co_await serve(*l, std::move(stop));
}

task<result<void, net::op_error>> server::serve_tls(net::listener& l, net::tls_config config,
                                                    std::stop_token stop) {
  // Go's ServeTLS (and http2's ConfigureServer): "h2" first, then "http/1.1", unless given.
  auto offers = [&config](std::string_view p) {
    return std::find(config.next_protos.begin(), config.next_protos.end(), p) !=
           config.next_protos.end();
  };
  if (http2.over_tls && !offers("h2")) config.next_protos.insert(config.next_protos.begin(), "h2");
  if (!offers("http/1.1")) config.next_protos.emplace_back("http/1.1");
  auto context = net::tls_context::make(config);
  if (!context) {
    co_return config_failed(l, context.error());
  }
  co_return co_await serve_on(l, std::move(*context), std::move(stop));
}

task<result<void, net::op_error>> server::serve_tls(net::listener& l, net::tls_context context,
                                                    std::stop_token stop) {
  if (auto ok = context.status(); !ok) {
    co_return config_failed(l, ok.error());
  }
  co_return co_await serve_on(l, std::move(context), std::move(stop));
}

task<result<void, net::op_error>> server::listen_and_serve_tls(std::string address,
                                                               std::string cert_file,
                                                               std::string key_file,
                                                               std::stop_token stop) {
  auto l = net::listen("tcp", address);
  if (!l) co_return l.error();
  net::tls_config config;
  config.certificates.push_back(
      {net::pem::file(std::move(cert_file)), net::pem::file(std::move(key_file))});
  co_return co_await serve_tls(*l, std::move(config), std::move(stop));
}

task<void> server::shutdown(std::stop_token force) {
  state& st = *state_;
  st.shutting_down = true;
  st.accept_stop.request_stop();
  st.idle_stop.request_stop();
  std::stop_callback on_force(force, [this] { close(); });
  (void)co_await st.serve_done.wait();
}

void server::close() {
  state_->shutting_down = true;
  state_->accept_stop.request_stop();
  state_->idle_stop.request_stop();
  state_->close_source.request_stop();
}

task<result<void, net::op_error>> listen_and_serve(std::string address, http::handler h,
                                                   std::stop_token stop) {
  server s(std::move(h));
  co_return co_await s.listen_and_serve(std::move(address), std::move(stop));
}

}  // namespace ringo::http

namespace ringo::http {

task<result<void, net::op_error>> listen_and_serve_tls(std::string address, std::string cert_file,
                                                       std::string key_file, http::handler h,
                                                       std::stop_token stop) {
  server s(std::move(h));
  co_return co_await s.listen_and_serve_tls(std::move(address), std::move(cert_file),
                                            std::move(key_file), std::move(stop));
}

}  // namespace ringo::http
