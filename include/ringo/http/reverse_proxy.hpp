// reverse_proxy: a handler that passes each request on to one upstream server and streams its
// answer back (Go's httputil.ReverseProxy, built as NewSingleHostReverseProxy builds it).
//
// The outgoing request goes to the target's scheme and authority, with the target's path joined to
// the request's (Go's singleJoiningSlash: "/base" and "/dir" make "/base/dir") and the two queries
// joined with '&'. It carries the request's fields but the hop-by-hop ones, which are removed both
// ways (RFC 9110 §7.6.1: Connection and every field it names, Keep-Alive, Proxy-Connection, TE
// except "trailers", Trailer, Transfer-Encoding, Upgrade; and Go's Proxy-Authenticate and
// Proxy-Authorization). Host is the target's; X-Forwarded-For (the client's address appended to
// what the client sent), X-Forwarded-Host and X-Forwarded-Proto tell the upstream who asked.
// Bodies stream both ways and are never held whole. A request with Upgrade (WebSocket) whose
// upstream answers 101 takes both connections over and copies bytes each way until one ends.
// The request's stop (the client left) ends the upstream exchange at once: the wait for a
// connection ends (a dial goes on for the pool, as in Go), the upstream connection in use is
// closed, and so the upstream's handler sees its client leave.
//
// Ownership: a reverse_proxy is a small copyable handle (copy it into a server or a mux); its
// copies share one state. The transport is the caller's, may serve other clients too, and must
// outlive every request the proxy serves. Dropping the proxy is safe at any time.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <ringo/http/client_request.hpp>
#include <ringo/http/request.hpp>
#include <ringo/http/response.hpp>
#include <ringo/http/response_writer.hpp>
#include <ringo/http/transport.hpp>
#include <ringo/http/url.hpp>
#include <ringo/runtime/result.hpp>
#include <ringo/runtime/task.hpp>

namespace ringo::http {

// What a rewrite hook sees (Go's ProxyRequest): the request as it came, and the one to be sent.
struct proxy_request {
  const request& in;
  client_request& out;

  // Sends `out` to `target` instead: its scheme and authority, its path joined with `in`'s and
  // their queries joined; the Host field is the target's (Go's ProxyRequest.SetURL).
  void set_url(const url& target);
  // Appends in's client address to out's X-Forwarded-For (one field, values joined with ", "),
  // and sets X-Forwarded-Host to in's Host and X-Forwarded-Proto to its scheme (Go's
  // ProxyRequest.SetXForwarded). The proxy has done this already; a rewrite that trusts no
  // X-Forwarded-For from clients erases out's and calls it again.
  void set_x_forwarded();
};

struct reverse_proxy_options {
  // Go's Director: changes the outgoing request first, before the hop-by-hop fields are removed
  // and X-Forwarded-* are set (so a Connection field it adds is not sent).
  std::function<void(client_request& out)> director;
  // Go's Rewrite: the last word on the outgoing request, after everything the proxy does; what it
  // sets is sent as set.
  std::function<void(proxy_request&)> rewrite;
  // Go's ModifyResponse: sees every upstream response (a 101 too) before the client does; an
  // error drops the response (its body is closed) and goes to error_handler.
  std::function<result<void, client_error>(response&)> modify_response;
  // Go's ErrorHandler: answers when the upstream cannot be reached or did not answer, or
  // modify_response failed. Unset: logs "http: proxy error: <error>" and answers 502.
  std::function<task<void>(response_writer&, request&, client_error)> error_handler;
  // Go's FlushInterval: 0 sends the response as the writer fills (16 KiB) and at its end;
  // negative: after every write (event streams); positive: at most that long after a write. A
  // response of unknown length or of type text/event-stream is sent after every write whatever
  // this says, as in Go.
  duration flush_interval{};
  // Where errors go (Go's ErrorLog). Unset: stderr.
  std::function<void(std::string_view)> error_log;
};

class reverse_proxy {
 public:
  // A proxy to `target` ("http://host:port/base?query") over `t`.
  reverse_proxy(url target, transport& t, reverse_proxy_options options = {});

  // Serves one request (the handler).
  task<void> operator()(response_writer& w, request& r) const;

  const url& target() const noexcept;

  struct state;

 private:
  std::shared_ptr<const state> state_;
};

// Go's singleJoiningSlash: `a` and `b` joined with exactly one slash between them.
std::string single_joining_slash(std::string_view a, std::string_view b);

// The request target sent upstream: `base`'s path joined with `target`'s, and their queries
// joined with '&' (NewSingleHostReverseProxy's rule). `target` is as a client sent it: a path
// ("/dir?x=1"), an absolute URL, or "*".
std::string join_target(std::string_view base, std::string_view target);

}  // namespace ringo::http
