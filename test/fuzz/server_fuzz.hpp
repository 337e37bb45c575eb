// What the server fuzz targets (server_fuzz, tls_server_fuzz) share: the client's two tasks on a
// socketpair, the HTTP/1 model of a connection's input (what the plain parser, llhttp in strict
// mode, finds in it), and the check of what the server answered against that model.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <vector>

#include "h1/parser.hpp"
#include "ringo/http/headers.hpp"
#include "ringo/runtime/operations.hpp"
#include "ringo/runtime/task.hpp"

namespace ringo::fuzz {

using http::h1::message_parser;
using event = message_parser::event;

// The target's name, in the message of a broken invariant.
inline const char* target_name = "fuzz";

[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "%s: invariant broken: %s\n", target_name, what);
  std::abort();
}

inline void check(bool ok, const char* what) {
  if (!ok) fail(what);
}
// What the plain parser finds in the input: the requests, in order, as far as they are complete.
struct model_request {
  std::string method, url, body;
  bool accepted = false;  // passes the server's checks, kept alive, no Expect
};
struct model {
  std::vector<model_request> requests;  // complete ones
  std::size_t heads = 0;                // heads parsed (complete or not)
  std::vector<std::string> methods;     // of every head parsed, the last maybe incomplete
  bool clean = true;                    // no error, nothing left over, all accepted
};

inline model parse_requests(std::string_view stream) {
  model m;
  message_parser p(HTTP_REQUEST);
  std::size_t begin = 0;
  while (begin < stream.size()) {
    p.reset();
    model_request r;
    bool head = false, done = false;
    std::size_t framing = 0;  // body-phase bytes that are not body (chunk lines, extensions)
    while (!done) {
      auto step = p.feed(stream.substr(begin));
      begin += step.consumed;
      if (head) framing += step.consumed - (step.what == event::body ? step.body.size() : 0);
      switch (step.what) {
        case event::error:
          m.clean = false;
          return m;
        case event::need_more:
          if (step.consumed == 0 || begin == stream.size()) {
            m.clean = false;
            return m;
          }
          break;
        case event::body:
          r.body.append(step.body);
          break;
        case event::head_done:
        case event::message_done:
          if (!head) {
            head = true;
            ++m.heads;
            m.methods.push_back(p.method);
            r.method = p.method;
            r.url = p.url;
            auto hosts = p.fields.values("Host");
            auto te = p.fields.values("Transfer-Encoding");
            r.accepted = p.version_major == 1 && p.version_minor == 1 && hosts.size() == 1 &&
                         (te.empty() || (te.size() == 1 && http::iequals(te.front(), "chunked"))) &&
                         !p.fields.contains("Expect") && p.keep_alive() &&
                         p.fields.get("Connection") == std::nullopt;
            for (char c : hosts.empty() ? std::string_view() : hosts.front())
              if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '.' || c == ':'))
                r.accepted = false;  // keep the model simple: plain host names only
          }
          if (step.what == event::message_done) done = true;
          break;
      }
    }
    // The server refuses chunk framing far beyond its data (Go #64433: 16 KiB): not modelled.
    if (framing > 8192) r.accepted = false;
    if (!r.accepted) m.clean = false;
    m.requests.push_back(std::move(r));
  }
  return m;
}

// Checks what the server sent on a connection whose input the model holds; returns the number of
// final responses. A response's X-Conn, when present, must be conn_id.
inline std::size_t check_responses(std::string_view out, const model& m, bool may_be_cut,
                                   std::string_view conn_id) {
  message_parser p(HTTP_RESPONSE);
  std::size_t begin = 0, finals = 0;
  bool error_to_head = false;
  while (begin < out.size()) {
    // An error response closes the connection; it carries its text even when the bad request was
    // a HEAD (as Go's do): what follows it is that body, not another response.
    if (error_to_head) break;
    p.reset();
    // A HEAD request's response has no body, whatever its Content-Length says (said before the
    // head is parsed; a 1xx response has none anyway).
    // (A request cut inside its body is answered too, the handler having seen the read fail.)
    if (finals < m.methods.size() && m.methods[finals] == "HEAD") p.skip_body();
    bool head = false;
    for (;;) {
      auto step = p.feed(out.substr(begin));
      begin += step.consumed;
      check(step.what != event::error, "the server sent a malformed response");
      if (!head && p.head_complete() && step.what != event::need_more) {  // head_done, or at
        // once message_done when a skipped body ends the message in the same feed
        head = true;
        check(p.version_major == 1 && p.version_minor == 1, "a response that is not HTTP/1.1");
        check(p.status >= 100 && p.status <= 599, "a status out of range");
        if (p.status >= 200) ++finals;
        auto conn = p.fields.get("X-Conn");
        check(!conn || *conn == conn_id, "a response made for another connection");
        error_to_head = p.status >= 400 && p.fields.has_token("Connection", "close") &&
                        finals <= m.methods.size() && m.methods[finals - 1] == "HEAD";
      }
      if (step.what == event::message_done) break;
      if (step.what == event::need_more && begin == out.size()) {
        // A handler that throws after its head went out leaves the response cut (on purpose).
        check(p.finish() || may_be_cut, "the server's output ends inside a response");
        return finals;
      }
    }
  }
  return finals;
}

// Sends all of `data`; false when the peer closed first.
inline task<bool> send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    auto n = co_await send(fd, data);
    if (!n) co_return false;
    data.remove_prefix(*n);
  }
  co_return true;
}

// Writes `stream` in two parts (split at `split`), then half-closes.
inline task<void> write_input(int fd, std::string_view stream, std::size_t split) {
  for (std::string_view part : {stream.substr(0, split), stream.substr(split)}) {
    if (!co_await send_all(fd, part)) co_return;  // the server closed: fine
    co_await yield();                             // let the server see the first part alone
  }
  ::shutdown(fd, SHUT_WR);
}

// Reads what the server sends until it closes; 10 s without its end is a hang.
inline task<void> read_output(int fd, std::string& out) {
  time_point deadline = clock::now() + std::chrono::seconds(10);
  char buf[16384];
  for (;;) {
    auto n = co_await recv(fd, buf, {}, deadline);
    if (!n && n.error() == ringo::errc::timed_out) fail("the server hangs");
    if (!n || *n == 0) co_return;
    out.append(buf, *n);
  }
}

}  // namespace ringo::fuzz
