// persist_conn: one pooled HTTP/1.1 client connection (Go's persistConn): the stream, its read
// buffer and response parser, where it is (active, idle, closed), and why it was closed.
#pragma once

#include <list>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include <ringo/http/transport.hpp>
#include <ringo/net/stream.hpp>
#include <ringo/net/tls.hpp>
#include <ringo/runtime/detail/timer_heap.hpp>
#include <ringo/runtime/io_context.hpp>

#include "h1/parser.hpp"
#include "h1/read_buffer.hpp"

namespace ringo::http::h2 {
class client_conn;
}  // namespace ringo::http::h2

namespace ringo::http::detail {

using h2_conn_ptr = std::shared_ptr<h2::client_conn>;

struct persist_conn;
using conn_ptr = std::shared_ptr<persist_conn>;
using conn_list = std::list<conn_ptr>;

struct persist_conn;
// Starts the watch of an idle conn (transport.cpp): what its idle_timer does when it fires.
void start_idle_watch(transport::state* s, persist_conn& pc) noexcept;

struct persist_conn : std::enable_shared_from_this<persist_conn> {
  enum class where { active, idle, closed };

  persist_conn(std::string key_, std::unique_ptr<net::stream> s)
      : key(std::move(key_)), stream(std::move(s)) {}
  persist_conn(const persist_conn&) = delete;
  persist_conn& operator=(const persist_conn&) = delete;

  std::string key;  // the pool key: "host:port", "https://host:port"
  std::unique_ptr<net::stream> stream;
  // An https conn's state after its handshake (response::tls); null for http.
  std::shared_ptr<const net::tls_connection_state> tls;
  // A conn to an HTTP proxy carrying http:// requests: they are written in absolute form, with
  // the proxy's Proxy-Authorization (empty: none).
  bool absolute_form = false;
  std::string proxy_authorization;
  // Bytes read and not yet consumed. Allocated at the first read, released when the conn is
  // closed.
  h1::read_buffer in{16384, 4096};
  h1::message_parser parser{HTTP_RESPONSE};  // reset for each response
  std::string head;                          // the request head being written; keeps its capacity
  bool reused = false;                       // has served a request before
  // Why the conn cannot carry another request once this one is done (empty: it can): the request
  // asked to close it, or left its body unsent (a 100-continue refused).
  std::string_view not_reusable;
  where state = where::active;
  std::string closed_reason;
  time_point idle_since{};
  unsigned idle_generation = 0;  // which idle period a watcher belongs to
  // Stops this idle period's watcher; made when the watcher starts waiting.
  std::stop_source watch_stop{std::nostopstate};
  conn_list::iterator idle_it;  // in the host's idle list, while idle
  conn_list::iterator lru_it;   // in the transport's LRU, while idle

  // Armed when the conn goes idle; when it fires, the conn is watched (transport.cpp,
  // watch_idle_conn). A conn taken before costs no coroutine and no wait.
  struct idle_timer final : ringo::detail::timer_node {
    persist_conn* conn;
    transport::state* pool = nullptr;  // the transport's state, which outlives its conns' timers
    explicit idle_timer(persist_conn* c) noexcept : conn(c) {}
    idle_timer(const idle_timer&) = delete;
    idle_timer& operator=(const idle_timer&) = delete;
    ~idle_timer() { disarm(); }
    void arm(transport::state* s, time_point when) {
      pool = s;
      io_context::current()->timers().arm(*this, when);
    }
    void disarm() noexcept {
      if (io_context* ctx = io_context::current(); ctx && armed()) ctx->timers().disarm(*this);
    }
    void on_timer() noexcept override { start_idle_watch(pool, *conn); }
  } watch_timer{this};
};

}  // namespace ringo::http::detail
