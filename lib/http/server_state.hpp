// server::state: what a server shares with its connections.
#pragma once

#include <cstddef>
#include <ctime>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "ringo/http/server.hpp"
#include "ringo/runtime/event.hpp"
#include "ringo/runtime/scope.hpp"

namespace ringo::http {
namespace detail {
class server_conn;
}

struct server::state {
  explicit state(server& s);
  ~state();
  server* srv;
  std::stop_source close_source;  // close(): every connection stops
  std::stop_source accept_stop;   // shutdown() or close(): no more accepts
  std::stop_source idle_stop;     // shutdown() or close(): idle connections close
  bool shutting_down = false;
  // serve_on calls running: a server may serve several listeners at once (Go's Serve, called for
  // each); shutdown() waits for them all (serve_done).
  std::size_t serves = 0;
  event serve_done{true};
  std::size_t open_conns = 0;  // not hijacked
  void conn_opened() noexcept;
  void conn_closed() noexcept;
  using forward_stop = ringo::detail::forward_stop;
  // While serving: stops every connection's work, of every serve_on (forced): close(), or a
  // connection that threw. Made afresh when serving starts with none running.
  std::stop_source conns_source;
  std::optional<std::stop_callback<forward_stop>> conns_link;  // close_source → conns_source
  std::stop_token conn_stop;

  // The Date header, formatted once a second.
  std::string date;
  std::time_t date_time = 0;
  std::string_view http_date();

  void log(const server& s, std::string_view message) const;

  // The heavy part of a connection (parser, buffers, request, writer) is lent to a connection from
  // a request's first byte until it is idle again (detail::serve_connection; after a short grace on
  // one that keeps coming back), and kept here in between for the next one: a busy server
  // allocates none, and an idle connection holds none. At most spare_limit are kept.
  static constexpr std::size_t spare_limit = 128;
  std::vector<std::unique_ptr<detail::server_conn>> spare_conns;
  std::unique_ptr<detail::server_conn> take_conn();
  void give_back(std::unique_ptr<detail::server_conn> c) noexcept;

  // A burst's memory goes back to the system once it is over: when the open connections, or the
  // server_conns lent out, fall to a quarter of their peak, what was freed is trimmed
  // (release_free_memory). A fall to a quarter takes at least trim_floor * 3/4 closes, so trims
  // are rare however a peer opens and closes; below that a burst is too small to matter.
  struct high_water {
    std::size_t peak = 0;
    void rose(std::size_t now) noexcept { peak = now > peak ? now : peak; }
    // Whether `now` is down to a quarter of a peak worth a trim; that level is the next peak.
    bool fell_to_quarter(std::size_t now) noexcept;
  };
  static constexpr std::size_t trim_floor = 512;
  std::size_t lent_conns = 0;
  high_water open_high, lent_high;
};

}  // namespace ringo::http
