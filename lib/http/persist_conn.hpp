// persist_conn: one pooled HTTP/1.1 client connection (Go's persistConn): the stream, its read
// buffer and response parser, where it is (active, idle, closed), and why it was closed.
#pragma once

#include <list>
#include <memory>
#include <stop_token>
#include <string>

#include <ringo/net/stream.hpp>
#include <ringo/runtime/time.hpp>

#include "h1/parser.hpp"
#include "h1/read_buffer.hpp"

namespace ringo::http::detail {

struct persist_conn;
using conn_ptr = std::shared_ptr<persist_conn>;
using conn_list = std::list<conn_ptr>;

struct persist_conn {
  enum class where { active, idle, closed };

  persist_conn(std::string key_, std::unique_ptr<net::stream> s)
      : key(std::move(key_)), stream(std::move(s)) {}

  std::string key;  // host:port
  std::unique_ptr<net::stream> stream;
  // Bytes read and not yet consumed. Allocated at the first read, released when the conn is
  // closed.
  h1::read_buffer in{16384, 4096};
  h1::message_parser parser{HTTP_RESPONSE};  // reset for each response
  std::string head;                          // the request head being written; keeps its capacity
  bool reused = false;                       // has served a request before
  bool reusable = true;  // false once a request on it left its body unsent (a 100-continue refused)
  where state = where::active;
  std::string closed_reason;
  time_point idle_since{};
  unsigned idle_generation = 0;  // which idle period a watcher belongs to
  // Stops this idle period's watcher; made when the watcher starts waiting.
  std::stop_source watch_stop{std::nostopstate};
  conn_list::iterator idle_it;  // in the host's idle list, while idle
  conn_list::iterator lru_it;   // in the transport's LRU, while idle
};

}  // namespace ringo::http::detail
