// persist_conn: one pooled HTTP/1.1 client connection (Go's persistConn): the socket, its read
// buffer, where it is (active, idle, closed), and why it was closed.
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include <ringo/net/conn.hpp>
#include <ringo/runtime/detail/timer_heap.hpp>
#include <ringo/runtime/result.hpp>
#include <ringo/runtime/task.hpp>

#include "parser.hpp"

namespace ringo::http::detail {

struct persist_conn;
using conn_ptr = std::shared_ptr<persist_conn>;
using conn_list = std::list<conn_ptr>;

struct persist_conn {
  enum class where { active, idle, closed };

  persist_conn(std::string key_, net::conn c_)
      : key(std::move(key_)), c(std::move(c_)), parser(HTTP_RESPONSE) {}

  std::string key;  // host:port
  net::conn c;
  // Bytes read and not yet consumed: buf[begin, end). Allocated at the first read, released when
  // the conn is closed; never zero-filled.
  std::unique_ptr<char[]> buf;
  std::size_t capacity = 0, begin = 0, end = 0;
  message_parser parser;  // reset for each response
  std::string head;       // the request head being written; keeps its capacity
  bool reused = false;    // has served a request before
  bool reusable = true;  // false once a request on it left its body unsent (a 100-continue refused)
  where state = where::active;
  std::string closed_reason;
  time_point idle_since{};
  unsigned idle_generation = 0;  // which idle period a watcher belongs to
  // Stops this idle period's watcher; made when the watcher starts polling.
  std::stop_source watch_stop{std::nostopstate};
  conn_list::iterator idle_it;  // in the host's idle list, while idle
  conn_list::iterator lru_it;   // in the transport's LRU, while idle

  std::string_view unread() const noexcept { return {buf.get() + begin, end - begin}; }
  // Bytes stay in place until the next fill(), so views into them stay valid until then.
  void consume(std::size_t n) noexcept { begin += n; }
  // Reads more bytes into the buffer; 0 at EOF.
  task<result<std::size_t>> fill(std::stop_token stop, time_point deadline);
  // Takes the unread bytes out (for a connection handed over after 101) and frees the buffer.
  std::string take_unread();
  void release_buffer() noexcept;
};

}  // namespace ringo::http::detail
