// server::state: what a server shares with its connections.
#pragma once

#include <cstddef>
#include <ctime>
#include <stop_token>
#include <string>
#include <utility>
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

  // Buffers that idle connections lent (server_conn::fill_idle), for the next one that wakes. At
  // most spare_limit of each are kept, and only input buffers of the usual size.
  static constexpr std::size_t spare_limit = 128;
  std::vector<std::vector<char>> spare_input;
  std::vector<std::string> spare_output;
  void lend(std::vector<char>& in, std::string& out, std::string& out2, std::size_t size) {
    if (in.size() == size && spare_input.size() < spare_limit) spare_input.push_back(std::move(in));
    std::vector<char>().swap(in);
    for (std::string* s : {&out, &out2}) {
      if (s->capacity() > std::string().capacity() && spare_output.size() < spare_limit)
        spare_output.push_back(std::move(*s));
      std::string().swap(*s);
    }
  }
  void borrow(std::vector<char>& in, std::string& out, std::string& out2, std::size_t size) {
    if (!spare_input.empty() && spare_input.back().size() == size) {
      in.swap(spare_input.back());
      spare_input.pop_back();
    } else {
      in.resize(size);
    }
    for (std::string* s : {&out, &out2}) {
      if (spare_output.empty()) break;
      s->swap(spare_output.back());
      s->clear();
      spare_output.pop_back();
    }
  }
};

}  // namespace ringo::http
