// mux: an HTTP request multiplexer (Go's http.ServeMux with Go 1.22 patterns). It matches each
// request against the registered patterns and calls the handler of the most specific one.
//
// A pattern is `[METHOD ][HOST]/[PATH]`:
//   - METHOD: only that method matches; GET also matches HEAD. No method: every method.
//   - HOST: only that host (the request's Host without its port). Patterns with a host win over
//     patterns without one.
//   - PATH: segments between slashes, each a literal or a wildcard: `{name}` matches one segment,
//     `{name...}` (last only) the rest of the path, `{$}` (last, after a slash) only the end. A
//     trailing slash makes a prefix: `/static/` matches `/static/x/y` (and `/static` is
//     redirected to it). Literals may be percent-encoded (`/%7B` is the only way to match `{`).
// Of the patterns matching a request, the one matching the fewest requests wins: `/items/new`
// beats `/items/{id}`, `GET /items/{id}` beats `/items/{id}`. Two patterns that match some same
// request with neither more specific than the other conflict, and handle() refuses the second.
//
// Paths are matched as sent (escaped), segment by segment, each segment decoded first, so
// `/a%2Fb` is one segment "a/b". Unclean paths (`/a/../b`, `//a`) are redirected to their clean
// form, except for CONNECT.
//
// Register every pattern before serving: match() and operator() only read the mux, so any number
// of threads may use one mux at once, but nothing guards them against a concurrent handle(). The
// mux must outlive every server using it (as_handler() and std::ref refer to it).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <ringo/http/error.hpp>
#include <ringo/http/handler.hpp>
#include <ringo/runtime/result.hpp>
#include <ringo/runtime/task.hpp>

namespace ringo::http {

class response_writer;
struct request;

namespace detail {
struct pattern;
struct routing_node;
}  // namespace detail

// Why mux::handle refused a registration: a programmer's error, thrown (Go's Handle panics). The
// message reads like Go's:
//   parsing "/{x": at offset 1: bad wildcard segment
//   pattern "/a/{y}" (registered at main.cpp:12) conflicts with pattern "/a/{x}" (registered at
//   main.cpp:11):
//   /a/{y} matches the same requests as /a/{x}
class mux_error : public std::invalid_argument {
 public:
  enum class kind {
    invalid_pattern,  // the pattern does not parse
    conflict,         // it conflicts with a registered pattern
    nil_handler,      // the handler is empty
  };
  mux_error() : std::invalid_argument("") {}
  mux_error(kind why, std::string pat, std::string other_pattern, const std::string& text)
      : std::invalid_argument(text),
        reason(why),
        pattern(std::move(pat)),
        other(std::move(other_pattern)) {}

  kind reason = kind::invalid_pattern;
  std::string pattern;  // the pattern being registered
  std::string other;    // kind::conflict: the registered pattern it conflicts with

  // errc::pattern_conflict for a conflict, else errc::invalid_pattern.
  std::error_code code() const noexcept;
  std::string message() const { return what(); }
};

class mux {
 public:
  // What match() found (Go's findHandler): one of four outcomes.
  enum class outcome {
    found,               // call `handler`
    redirect,            // send the client to `redirect_to` (301)
    not_found,           // 404: no pattern matches the path
    method_not_allowed,  // 405: patterns match the path, but not with this method
  };
  struct match_result {
    outcome kind = outcome::not_found;
    // found: the matched handler, owned by the mux.
    const http::handler* handler = nullptr;
    // found: the matched pattern as registered; redirect: the pattern that will match after it.
    std::string_view pattern;
    // found: each named wildcard and its (decoded) value, in the pattern's order.
    std::vector<std::pair<std::string, std::string>> path_values;
    // redirect: the escaped path the client should ask for (without the query).
    std::string redirect_to;
    // method_not_allowed: the methods that would match, sorted: "GET, HEAD, POST".
    std::string allow;
  };

  mux();
  ~mux();
  // Not movable: handlers made by as_handler() hold its address.
  mux(const mux&) = delete;
  mux& operator=(const mux&) = delete;

  // Registers `h` for `pattern` (Go's Handle). Throws mux_error, changing nothing, if the pattern
  // is invalid, conflicts with one registered before, or `h` is empty: a programmer's error, as
  // Go's panic. `file` and `line` (the caller's, by default: clang 14 cannot use GCC 12's
  // std::source_location) name the call in conflict messages.
  void handle(std::string_view pattern, http::handler h, const char* file = __builtin_FILE(),
              int line = __builtin_LINE());

  // Finds what serves a request: `method` as sent (case matters), `host` the Host header (its
  // port is ignored, except for CONNECT), `path` the target's path as sent (still escaped).
  match_result match(std::string_view method, std::string_view host, std::string_view path) const;

  // Serves a request (Go's ServeHTTP): sets r.pattern and r.path_values and calls the matched
  // handler, or answers 301 (to the clean path or the one with a trailing slash, keeping the
  // query), 404 "404 page not found", 405 with `Allow`, or 400 for the target "*".
  task<void> operator()(response_writer& w, request& r) const;

  // A handler that serves through this mux (the same as std::ref(mux)).
  http::handler as_handler() const;

 private:
  struct entry;  // a registered pattern and its handler

  std::vector<std::unique_ptr<entry>> entries_;
  std::unique_ptr<detail::routing_node> tree_;
};

}  // namespace ringo::http
