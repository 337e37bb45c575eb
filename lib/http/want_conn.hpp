// want_conn: a round trip waiting for a connection (Go's wantConn). The oneshot is its result: a
// conn from the idle pool or from a dial, or the dial's error, whichever comes first. A waiter that
// gives up closes the oneshot (so a late conn goes to the pool instead) and leaves both queues; it
// holds no conn and no buffers.
#pragma once

#include <list>
#include <memory>
#include <string>

#include <ringo/http/transport.hpp>
#include <ringo/runtime/oneshot.hpp>

#include "persist_conn.hpp"

namespace ringo::http::detail {

struct want_conn;
using want_ptr = std::shared_ptr<want_conn>;
using want_list = std::list<want_ptr>;

struct want_conn {
  struct delivery {
    conn_ptr pc;
    client_error err;
    std::shared_ptr<h2::client_conn> h2;  // instead of pc: a stream slot on an HTTP/2 conn
  };
  explicit want_conn(std::string key_) : key(std::move(key_)) {}

  std::string key;
  const client_trace* trace = nullptr;  // the request's, valid while waiting()
  oneshot<delivery> result;
  bool in_idle_queue = false;
  bool in_dial_queue = false;
  bool dial_started = false;  // a dial runs for it (else it follows a host's HTTP/2 dial)
  want_list::iterator idle_it;
  want_list::iterator dial_it;

  bool waiting() const noexcept { return !result.closed() && !result.ready(); }
};

}  // namespace ringo::http::detail
