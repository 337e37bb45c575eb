// server::state: what a server shares with its connections.
#pragma once

#include <ctime>
#include <stop_token>
#include <string>
#include <vector>

#include "ringo/http/server.hpp"
#include "ringo/runtime/event.hpp"

namespace ringo::http {
namespace detail {
class server_conn;
}

struct server::state {
  std::stop_source close_source;  // close(): every connection stops
  std::stop_source accept_stop;   // shutdown() or close(): no more accepts
  bool shutting_down = false;
  bool serving = false;
  event serve_done{true};
  std::vector<detail::server_conn*> conns;  // open, not hijacked

  // The Date header, formatted once a second.
  std::string date;
  std::time_t date_time = 0;
  std::string_view http_date();

  void log(const server& s, std::string_view message) const;
};

}  // namespace ringo::http
