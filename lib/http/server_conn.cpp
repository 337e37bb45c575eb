#include "server_conn.hpp"

#include <algorithm>
#include <cstring>
#include <exception>
#include <netinet/in.h>
#include <type_traits>

#include "h1/writer.hpp"
#include "h2/server.hpp"
#include "ringo/http/error.hpp"
#include "ringo/http/status.hpp"
#include "ringo/runtime/operations.hpp"
#include "server_state.hpp"

namespace ringo::http::detail {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t max_discard = 256 << 10;  // Go's maxPostHandlerReadBytes
constexpr duration close_wait = 500ms;          // Go's rstAvoidanceDelay (#3595)

time_point after_from(time_point start, duration d) {
  return d > duration::zero() ? start + d : no_deadline;
}

time_point after(duration d) {
  return after_from(clock::now(), d);
}

duration idle_timeout(const server& s) {
  return s.idle_timeout > duration::zero() ? s.idle_timeout : s.read_timeout;
}

duration header_timeout(const server& s) {
  return s.read_header_timeout > duration::zero() ? s.read_header_timeout : s.read_timeout;
}

// The status for a head llhttp refused before its end. Any Transfer-Encoding but one "chunked"
// (llhttp's strict mode refuses "chunked, gzip" and a second field) is a coding Go does not
// implement (501); anything else is a bad request.
int head_error_status(const h1::message_parser& p) {
  if (p.error() == HPE_INVALID_TRANSFER_ENCODING) return status::not_implemented;
  return status::bad_request;
}

// Go's httpguts.ValidHostHeader: the bytes a Host may hold (reg-name, IP literal, port, and the
// '%' of IPv6 zones). Anything else ("a b", a control byte) is a 400, not a name to route on.
bool valid_host(std::string_view host) noexcept {
  for (unsigned char ch : host) {
    bool ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              std::string_view("!$%&'()*+,-.:;=[]_~").find(static_cast<char>(ch)) !=
                  std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// Runs a handler task and calls `on_suspend` if (and only when) it suspends: a handler that
// completes without waiting cannot observe a stop, so it costs no watch.
struct run_watched {
  task<void>::awaiter inner;
  server_conn* conn;
  void (*on_suspend)(server_conn*);
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    bool suspended = inner.await_suspend(h);
    if (suspended) on_suspend(conn);
    return suspended;
  }
  void await_resume() { inner.await_resume(); }
};

// Calls the conn_state hook from the light part.
void report(server::state* st, const net::stream& s, conn_state state) {
  if (st->srv->conn_state_hook) st->srv->conn_state_hook(s, state);
}

}  // namespace

compact_address::compact_address(const net::stream& s) noexcept {
  result<net::address> a = s.remote_address();
  if (!a) return;
  if (a->family() == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(a->data());
    std::memcpy(ip_, &in->sin_addr, 4);
    std::memcpy(port_, &in->sin_port, 2);
    kind_ = ipv4;
  } else if (a->family() == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a->data());
    if (in6->sin6_scope_id != 0 || in6->sin6_flowinfo != 0) return;
    std::memcpy(ip_, &in6->sin6_addr, 16);
    std::memcpy(port_, &in6->sin6_port, 2);
    kind_ = ipv6;
  }
}

void compact_address::get(const net::stream& s, net::address& out) const noexcept {
  if (kind_ == ipv4) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    std::memcpy(&in.sin_addr, ip_, 4);
    std::memcpy(&in.sin_port, port_, 2);
    out = net::address(reinterpret_cast<const sockaddr*>(&in), sizeof in);
  } else if (kind_ == ipv6) {
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    std::memcpy(&in6.sin6_addr, ip_, 16);
    std::memcpy(&in6.sin6_port, port_, 2);
    out = net::address(reinterpret_cast<const sockaddr*>(&in6), sizeof in6);
  } else {
    out = s.remote_address().value_or(net::address());
  }
}

namespace {

// The connection opened with HTTP/2's preface: its HTTP/1 parts go back to the spares, and HTTP/2
// serves it from the bytes read so far. (A coroutine of its own: the light part's frame, which
// every idle connection keeps, does not grow by what this needs.)
task<void> serve_http2(server::state* st, net::stream* c, std::unique_ptr<server_conn> sc,
                       const net::tls_connection_state* tls) {
  std::string preread = sc->take_input();
  st->give_back(std::move(sc));
  co_await h2::serve_connection(st, *c, std::move(preread), tls);
}

template <typename Stream>
std::unique_ptr<net::stream> take_stream(net::stream& s) {
  return std::make_unique<Stream>(std::move(static_cast<Stream&>(s)));
}

// The light part of a connection, for a socket (net::conn) or a TLS stream: one instance each, so
// that the socket's calls stay direct. Its frame holds the connection, the peer's address and a
// wait for readability, and nothing else while the connection is idle (mind what you add); a
// server_conn serves it from a request's first byte until it is idle again. `start`: when the
// first request's header deadline starts (the accept, or the handshake's end). `counted`: the
// connection is counted open already (by its handshake).
// From a request's first byte until the connection is idle again (or over): a server_conn lent to
// it. A coroutine of its own, so that the light part's frame, which every idle connection keeps,
// holds no room for what serving needs (GCC gives each await's temporaries their own).
template <typename Stream>
task<server_conn::outcome> serve_requests(server::state* st, Stream* c,
                                          const net::tls_connection_state* tls,
                                          const compact_address* remote, time_point start,
                                          bool close_after, bool first, time_point* deadline) {
  std::unique_ptr<server_conn> sc = st->take_conn();
  const server_conn::outcome end =
      co_await sc->serve(*c, {&take_stream<Stream>, tls}, *remote, start, close_after, !first);
  if (end == server_conn::outcome::http2) {
    co_await serve_http2(st, c, std::move(sc), tls);
    co_return end;
  }
  *deadline = sc->idle_deadline();  // (idle: reported, and waited for a while, by serve())
  st->give_back(std::move(sc));
  co_return end;
}

// A client that comes back receives through one multishot recv from then on: no recv SQE a
// request (net::conn::receive_multishot), under TLS too. Not from the first request: a connection
// that makes one and idles (a burst) then keeps no receive state (~130 B) while it idles.
void receive_multishot(net::conn& c) {
  c.receive_multishot();
}
void receive_multishot(net::tls_stream& s) {
  if (auto* c = dynamic_cast<net::conn*>(&s.underlying())) c->receive_multishot();
}

// What the light part keeps of a connection's TLS state: nothing for a plain socket (its frame,
// which every idle connection keeps, holds no pointer that is always null).
struct no_tls_state {
  operator const net::tls_connection_state*() const noexcept { return nullptr; }
};
template <typename Stream>
using tls_state_of = std::conditional_t<std::is_same_v<Stream, net::conn>, no_tls_state,
                                        const net::tls_connection_state*>;

template <typename Stream>
task<void> serve_light(server::state* st, Stream c, tls_state_of<Stream> tls, time_point start,
                       bool counted) {
  if (!counted) st->conn_opened();
  // (The small locals next to the address's 19 bytes: the frame packs them there.)
  const compact_address remote(c);
  bool first = true;
  server_conn::outcome end = server_conn::outcome::closed;
  bool close_after = false;
  report(st, c, conn_state::new_);
  // Go: a new connection's header deadline starts at once; a kept-alive one waits idle_timeout
  // for the first byte, then gives the head read_header_timeout.
  time_point deadline = after_from(start, header_timeout(*st->srv));
  while (!st->conn_stop.stop_requested()) {
    close_after = false;
    auto ready = co_await c.wait_readable(st->idle_stop.get_token(), deadline);
    if (!ready) {
      // Stopped while idle (graceful shutdown) with a request already on its way: serve it.
      if (ready.error() != ringo::errc::operation_canceled || st->close_source.stop_requested() ||
          !c.has_buffered_input())
        break;
      close_after = true;
    }
    if (!first) {
      start = clock::now();
      receive_multishot(c);
    }
    end = co_await serve_requests(st, &c, tls, &remote, start, close_after, first, &deadline);
    if (end != server_conn::outcome::idle || st->shutting_down) break;
    first = false;
  }
  st->conn_closed();
  if (end == server_conn::outcome::hijacked) co_return;  // the handler owns the connection now
  report(st, c, conn_state::closed);
  // TLS ends with close_notify, as Go's tls.Conn.Close sends it: a client reading a response
  // framed by the connection's end can then tell it from a truncation.
  if constexpr (!std::is_same_v<Stream, net::conn>)
    (void)co_await c.close_write(st->close_source.get_token(), clock::now() + close_wait);
}

// Go's Server.tlsHandshakeTimeout: the shortest of the read header, read and write timeouts that
// are set.
duration tls_handshake_timeout(const server& s) {
  duration out{};
  for (duration d : {s.read_header_timeout, s.read_timeout, s.write_timeout})
    if (d > duration::zero() && (out == duration::zero() || d < out)) out = d;
  return out;
}

// Go's answer to plaintext HTTP on a TLS port (server.go, conn.serve, on a RecordHeaderError that
// looks like HTTP), then an end that lets the client read it: FIN, and a short wait for its
// close, since closing with its request unread would send RST over the answer (Go #3595).
task<void> answer_plaintext(server::state* st, net::stream& s) {
  static constexpr std::string_view text =
      "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";
  const time_point deadline = clock::now() + close_wait;
  const std::stop_token stop = st->close_source.get_token();
  if (!co_await s.write_all(text, stop, deadline)) co_return;
  if (!co_await s.close_write(stop, deadline)) co_return;
  char scratch[4096];
  for (;;) {
    auto n = co_await s.read(scratch, stop, deadline);
    if (!n || *n == 0) co_return;
  }
}

}  // namespace

task<void> serve_connection(server::state* st, net::conn c) {
  return serve_light<net::conn>(st, std::move(c), {}, clock::now(), false);
}

// The handshake runs here, in the connection's own coroutine (never in the accept loop), within
// Go's handshake timeout, and a shutdown (graceful or forced) stops it: a connection that has not
// finished its handshake has no request on its way. Counted in connections() meanwhile; reported
// to the conn_state hook from the handshake's end, on the TLS stream.
task<void> serve_tls_connection(server::state* st, net::conn c, net::tls_context context) {
  const compact_address remote(c);
  st->conn_opened();
  net::tls_result tls =
      co_await net::tls_server(std::move(c), std::move(context), st->idle_stop.get_token(),
                               after(tls_handshake_timeout(*st->srv)));
  if (!tls) {
    st->conn_closed();
    const net::tls_error e = tls.error();
    std::string reason;
    if (e.conn && e.looks_like_http()) {
      co_await answer_plaintext(st, *e.conn);
      reason = "client sent an HTTP request to an HTTPS server";
    } else {
      reason = e.message();
    }
    if (e.conn) e.conn->close();
    if (e.err == ringo::errc::operation_canceled) co_return;  // a shutdown: nothing to tell
    net::address a;
    remote.get(c, a);
    st->log(*st->srv, "TLS handshake error from " + a.to_string() + ": " + reason);
    co_return;
  }
  // The state is read once; every request on the connection points at it (request::tls).
  const net::tls_connection_state state = tls->connection_state();
  if (state.negotiated_protocol == "h2") {
    report(st, *tls, conn_state::new_);
    std::string none;  // (nothing read ahead: ALPN chose HTTP/2 before any byte of it)
    co_await h2::serve_connection(st, *tls, std::move(none), &state);
    st->conn_closed();
    report(st, *tls, conn_state::closed);
    tls->close();
    co_return;
  }
  co_await serve_light<net::tls_stream>(st, std::move(*tls), &state, clock::now(), true);
}

server_conn::server_conn(server::state& st) : server_(st.srv), st_(&st) {}

void server_conn::reset() noexcept {
  conn_ = nullptr;
  info_ = {};
  remote_ = net::address();
  in_.clear();
  parser_.reset();
  reset_request();
  req_.method.clear();
  req_.target.clear();
  req_.host.clear();
  req_.version_minor = 1;
  req_.remote_address = net::address();
  req_.tls = nullptr;
  body_.decoder.start(true, 0);
  output_.reset();
  writer_.start(false);
  disarm_watch();
  reader_.reset();
  req_link_.reset();
  req_stop_ = std::stop_source(std::nostopstate);
  link_token_ = {};
  req_scope_.reset();  // (joined by serve_request)
  read_deadline_ = idle_deadline_ = no_deadline;
  bad_body_ = hijacked_ = handler_suspended_ = preface_check_ = http2_ = false;
}

bool server_conn::pristine() const noexcept {
  return conn_ == nullptr && info_.tls == nullptr && in_.empty() && output_.pristine() &&
         reader_.pristine() && !watch_timer_.armed() && !bad_body_ && !hijacked_ &&
         !handler_suspended_ && !preface_check_ && !http2_ && !req_scope_ && !req_link_ &&
         !req_stop_.stop_possible() && body_.done() && req_.method.empty() && req_.header.empty() &&
         req_.body == nullptr && req_.tls == nullptr && writer_.status() == 0 &&
         !writer_.header_written() && !writer_.hijacked() && writer_.body_bytes() == 0;
}

void server_conn::set_state(conn_state s) {
  if (server_->conn_state_hook) server_->conn_state_hook(*conn_, s);
}

task<server_conn::outcome> server_conn::serve(net::stream& c, stream_info info,
                                              const compact_address& remote, time_point head_start,
                                              bool close_after, bool returning) {
  conn_ = &c;
  info_ = info;
  remote.get(c, remote_);
  output_.start_connection(c, st_->conn_stop);
  if (close_after) output_.close_after();
  time_point start = head_start;
  outcome end = outcome::closed;
  // Only a connection's first bytes can be HTTP/2's preface (Go 1.24's unencrypted HTTP/2).
  // (Over TLS, HTTP/2 is ALPN's choice only, as in Go.)
  preface_check_ = !returning && server_->http2.unencrypted && !info.tls;
  for (;;) {
    if (!co_await read_head(start)) {
      if (http2_) end = outcome::http2;
      break;
    }
    co_await serve_request();
    if (hijacked_) {
      end = outcome::hijacked;
      break;
    }
    if (output_.closing() || st_->conn_stop.stop_requested()) break;
    set_state(conn_state::idle);  // (for no time when a pipelined request is buffered, as in Go)
    if (st_->shutting_down) break;
    if (in_.empty()) {  // (finish_request sent every answer)
      // On a connection that keeps coming back the next request usually follows the answer
      // closely: it is awaited in a read, buffers at hand, for a moment (idle_grace); only then
      // does the connection give them back and wait in serve_connection, which costs no memory
      // but one more operation a request (~1,300 instructions, callgrind).
      idle_deadline_ = after(idle_timeout(*server_));
      if (!returning) {
        end = outcome::idle;
        break;
      }
      auto n = co_await in_.fill(c, st_->idle_stop.get_token(),
                                 std::min(idle_deadline_, clock::now() + idle_grace));
      if (!n && n.error() == ringo::errc::timed_out && clock::now() < idle_deadline_) {
        end = outcome::idle;  // the grace is over, not the idle timeout
        break;
      }
      if (!n && n.error() == ringo::errc::operation_canceled &&
          !st_->close_source.stop_requested() && c.has_buffered_input()) {
        output_.close_after();  // stopped while idle (graceful shutdown), a request on its way
      } else if (!n || *n == 0) {
        break;  // closed by the client, the idle timeout, or a shutdown
      }
    }
    start = clock::now();
  }
  co_return end;
}

bool server_conn::complete_head_buffered() const noexcept {
  return in_.unread().find("\r\n\r\n") != std::string_view::npos;
}

// Reads and parses the next request's head. False: the connection is done (closed, timed out,
// or answered with an error).
task<bool> server_conn::read_head(time_point start) {
  parser_.reset();
  time_point header_deadline = after_from(start, header_timeout(*server_));
  read_deadline_ = after_from(start, server_->read_timeout);
  bool active = false;
  const std::size_t limit = server_->max_header_bytes + 4096;  // Go's slop
  for (;;) {
    // Active from the request's first byte, as in Go: a graceful shutdown then waits for this
    // request instead of closing the connection under a head that is on its way.
    if (!active && !in_.empty()) {
      set_state(conn_state::active);
      active = true;
    }
    // HTTP/2's preface is decided before llhttp sees a byte of it (it would take
    // "PRI * HTTP/2.0" for a request): a beginning of it waits for more.
    if (preface_check_) {
      const h2::preface_match m = h2::match_preface(in_.unread());
      if (m == h2::preface_match::complete) {
        http2_ = true;
        co_return false;
      }
      preface_check_ = m == h2::preface_match::partial;
    }
    // (Nothing to parse before the first read: llhttp would be handed a null pointer.)
    if (!preface_check_ && !in_.empty()) {
      auto step = parser_.feed(in_.unread());
      in_.consume(step.consumed);
      // Checked before the head's end too: a head that crosses the limit and ends within one read
      // is as large as one that does not end.
      if (parser_.head_bytes > limit) {
        co_await reject(status::request_header_fields_too_large);
        co_return false;
      }
      if (step.what == h1::message_parser::event::head_done ||
          step.what == h1::message_parser::event::message_done)
        break;
      if (step.what == h1::message_parser::event::error) {
        if (parser_.head_complete()) break;  // a framing error found at the head's end
        co_await reject(head_error_status(parser_));
        co_return false;
      }
    }
    // Answers held back for a pipelined request that turned out incomplete (or only the empty
    // lines llhttp skips: found by server_fuzz) go out before waiting for more input.
    if (output_.queued()) (void)co_await output_.send_out();
    auto n = co_await in_.fill(*conn_, st_->conn_stop, header_deadline);
    if (!n || *n == 0) co_return false;  // closed, timed out (Go sends nothing), or stopped
  }
  co_return true;
}

task<void> server_conn::reject(int code) {
  std::string text = std::to_string(code) + " " + std::string(reason_phrase(code));
  output_.queue_error(code, text);
  if (co_await output_.send_out()) co_await close_write_and_wait();
}

task<void> server_conn::serve_request() {
  const h1::message_parser& p = parser_;
  // Validation (Go's readRequest), before any handler sees the request.
  if (!p.version_seen) co_return co_await reject(status::bad_request);  // "GET /": Go's 400
  // Go's http1ServerSupportsRequest: any HTTP/1.x (a higher minor is served as 1.1, RFC 9110
  // §2.5); every other version is one it does not speak.
  if (p.version_major != 1) co_return co_await reject(status::http_version_not_supported);
  const h1::request_coding coding = h1::transfer_coding(p.fields);
  if (coding == h1::request_coding::unsupported) co_return co_await reject(status::not_implemented);
  // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing (an HTTP/1.0
  // proxy would frame it by Content-Length or the connection's end).
  if (coding != h1::request_coding::identity && p.version_minor == 0)
    co_return co_await reject(status::bad_request);
  if (p.error() != HPE_OK) co_return co_await reject(status::bad_request);
  // One pass finds the fields to check (a lookup each cost a scan); Host without a list.
  std::optional<std::string_view> host, expect;
  std::size_t hosts = 0;
  for (const auto& f : p.fields) {
    if (f.name.size() == 4 && iequals(f.name, "Host") && hosts++ == 0) host = f.value;
    if (f.name.size() == 6 && !expect && iequals(f.name, "Expect")) expect = f.value;
  }
  if (hosts > 1 || (p.version_minor >= 1 && !host) || (host && !valid_host(*host)))
    co_return co_await reject(status::bad_request);
  bool expect_continue = false;
  if (expect) {
    if (!iequals(*expect, "100-continue") || p.version_minor < 1)
      co_return co_await reject(status::expectation_failed);
    expect_continue = true;
  }

  reset_request();
  request& r = req_;
  r.method = p.method;
  r.target = p.url;
  r.version_major = 1;  // (a handler may have changed it: the request object serves the next)
  r.version_minor = p.version_minor;
  r.host = host ? std::string_view(*host) : std::string_view();
  // The parser's fields become the request's (no copy); the parser gets the last request's
  // vector, and both keep their capacity. Nothing reads the head's fields after this.
  std::swap(r.header, parser_.fields);
  r.chunked = p.chunked();
  if (p.has_content_length()) r.content_length = p.content_length();
  r.remote_address = remote_;
  r.tls = info_.tls;
  r.body = &body_;
  const bool empty_body = !p.chunked() && (!p.has_content_length() || p.content_length() == 0);
  body_.decoder.start(empty_body, server_->max_header_bytes);
  const bool head_request = r.method == "HEAD";
  if (!p.keep_alive() || st_->shutting_down) output_.close_after();
  output_.start_request(p.version_minor, head_request, expect_continue,
                        after(server_->write_timeout));
  writer_.start(head_request);
  bad_body_ = handler_suspended_ = false;

  arm_request_stop();
  r.stop = req_stop_.get_token();
  co_await run_handler();
  // The watch for a client that leaves is the handler's: the rest of an unread body, read away
  // after it (finish_request), must not start one outside the scope joined here.
  handler_suspended_ = false;
  disarm_watch();
  if (req_scope_) {  // the watcher or queued answers ran beside the handler
    co_await reader_.stop();
    co_await req_scope_->join();
    req_scope_.reset();
  }
  if (!hijacked_) co_await finish_request();
  r.stop = {};
}

// The request's stop source is kept from one request to the next while nothing stopped it, and so
// is its link to the server's forced shutdown: a source and a scope made for each request cost
// ~300 instructions (callgrind), for a handler that usually never looks at its token. The scope
// for the work beside a handler (the watcher, queued answers) is made when the handler suspends.
void server_conn::arm_request_stop() {
  if (!req_stop_.stop_requested() && req_link_ && link_token_ == st_->conn_stop) return;
  req_link_.reset();
  if (req_stop_.stop_requested() || !req_stop_.stop_possible()) req_stop_ = std::stop_source();
  link_token_ = st_->conn_stop;
  req_link_.emplace(link_token_, forward_stop{&req_stop_});
}

// Clears the request for the next one, keeping what it allocated.
void server_conn::reset_request() noexcept {
  request& r = req_;
  r.header.clear();
  r.content_length.reset();
  r.chunked = false;
  r.stop = {};
  r.body = nullptr;
  r.pattern.clear();
  r.path_values.clear();
}

task<void> server_conn::run_handler() {
  std::exception_ptr failure;
  try {
    if (server_->handler) {
      task<void> t = server_->handler(writer_, req_);
      co_await run_watched{std::move(t).operator co_await(), this,
                           [](server_conn* c) { c->on_handler_suspended(); }};
    }
  } catch (...) {
    failure = std::current_exception();
  }
  if (!failure) co_return;
  std::string what = "panic serving " + remote_.to_string() + ": ";
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    what += e.what();
  } catch (...) {
    what += "unknown exception";
  }
  st_->log(*server_, what);
  output_.close_after();
  if (hijacked_) co_return;
  if (!writer_.discard()) {
    // With the head already out a 500 is impossible, and ending the body properly ("0\r\n\r\n",
    // or bytes still queued) would make a cut response look complete: drop what is queued of it
    // and close, so the client sees an aborted response (Go: the panic closes the connection).
    co_return co_await output_.cut_answer();
  }
  writer_.write_header(status::internal_server_error);
  (void)co_await writer_.write("500 Internal Server Error\n");
}

// The handler waits: the work beside it (the watch for a client that leaves, answers to earlier
// pipelined requests) starts in a scope of its own.
void server_conn::on_handler_suspended() {
  handler_suspended_ = true;
  maybe_watch();
  // Answers to earlier pipelined requests wait in the output so that they share a send with the
  // next ones; but a handler that suspends may take long, and Go sends every answer when its
  // request is done: the client may need it before it goes on. So they go out now.
  if (output_.answers_queued() && output_.queued() && !output_.sending())
    beside_handler().spawn(send_queued());
}

// The scope of the work beside a suspended handler, made when there is some.
scope& server_conn::beside_handler() {
  if (!req_scope_) req_scope_.emplace(req_stop_.get_token());
  return *req_scope_;
}

task<void> server_conn::send_queued() {
  (void)co_await output_.send_out();
}

void server_conn::maybe_watch() {
  if (!handler_suspended_ || !body_.done() || hijacked_ || reader_.watching() ||
      watch_timer_.armed())
    return;
  io_context::current()->timers().arm(watch_timer_, clock::now() + watch_delay);
}

void server_conn::start_watch() {
  if (!hijacked_) reader_.start(beside_handler(), *conn_, *this);
}

void server_conn::disarm_watch() noexcept {
  if (watch_timer_.armed()) io_context::current()->timers().disarm(watch_timer_);
}

// A FIN stops the request but not the response, as in Go (its background read's EOF cancels the
// request's context; writes go on): a client that half-closed after its request still reads the
// whole answer (and answers to requests it pipelined before the FIN), and the connection closes
// after them. An error or a hang-up (RST) breaks it.
void server_conn::on_hangup(net::hangup h) noexcept {
  if (h == net::hangup::closed_later) return;  // pipelined requests, then the FIN (Go #23921)
  if (h == net::hangup::broken) output_.set_broken();
  // Requests already buffered came before the FIN: they are answered, as Go answers what its
  // bufio.Reader holds; the connection closes when it would have to read again.
  if (in_.empty()) output_.close_after();
  req_stop_.request_stop();
}

task<result<hijacked_conn>> server_conn::take_over() {
  disarm_watch();
  co_await reader_.stop();  // nothing may wait on the connection once it is the handler's
  hijacked_ = true;
  // Body bytes the parser took from the buffer but the handler has not read go first (they point
  // into the buffer take_unread() frees), and the body ends: its bytes are the hijacker's now.
  std::string buffered(body_.decoder.pending_bytes());
  buffered += in_.take_unread();
  body_.decoder.start(true, 0);
  hijacked_conn out{info_.take(*conn_), std::move(buffered)};
  if (server_->conn_state_hook) server_->conn_state_hook(*out.conn, conn_state::hijacked);
  co_return out;
}

void server_conn::send_failed() noexcept {
  req_stop_.request_stop();  // a write error also cancels the handler (Go's conn_reader)
}

std::string_view server_conn::http_date() {
  return st_->http_date();
}

bool server_conn::remaining_body_beyond(std::uint64_t limit) const noexcept {
  // (llhttp counts a Content-Length body down as it hands it out.)
  return !body_.done() && !parser_.chunked() &&
         parser_.content_length() + body_.decoder.pending() > limit;
}

task<bool> server_conn::discard_body() {
  char scratch[8192];
  std::size_t discarded = 0;
  // The answer is out: the rest of the body gets no longer than an idle connection would.
  read_deadline_ = std::min(read_deadline_, after(idle_timeout(*server_)));
  while (!body_.done()) {
    auto n = co_await body_.read(scratch, st_->conn_stop);
    if (!n) co_return false;
    discarded += *n;
    if (discarded > max_discard) co_return false;
  }
  co_return true;
}

task<void> server_conn::finish_request() {
  // A body the handler left unread: its answer goes out first, as Go's and nginx's do (the client
  // may wait for it before it sends the rest); then the rest is read away within Go's allowance
  // (server.go, maxPostHandlerReadBytes) to keep the connection. A body known to be longer, or
  // one the client may never send (its 100 Continue was not sent), closes it instead.
  const bool unread_body = !body_.done();
  if (unread_body && (output_.continue_owed() || remaining_body_beyond(max_discard)))
    output_.close_after();
  if (bad_body_ && !output_.broken() && writer_.discard()) {
    // The request turned out malformed in its body (a bare LF in a chunk line, Go #71988): it is
    // answered as a malformed head would be, whatever the handler meant to send.
    co_return co_await reject(status::bad_request);
  }
  writer_.finish();
  if (unread_body && !output_.closing()) {
    (void)co_await output_.send_out();
    if (!co_await discard_body()) output_.close_after();
  }
  // Pipelined requests already buffered: answer them before sending, so responses share writes.
  if (output_.closing() || !complete_head_buffered()) (void)co_await output_.send_out();
  // Closing with unread input would send RST; without any, a plain close is safe and quicker.
  const bool unread_input = !in_.empty() || !body_.done();
  if (output_.closing() && !output_.broken() && unread_input) co_await close_write_and_wait();
}

// FIN first, then wait (briefly) for the client to close: closing with unread input would send RST
// and could destroy the response in flight (Go #3595).
task<void> server_conn::close_write_and_wait() {
  (void)co_await conn_->close_write();
  char scratch[4096];
  const time_point deadline = clock::now() + close_wait;
  for (;;) {
    auto n = co_await conn_->read(scratch, st_->close_source.get_token(), deadline);
    if (!n || *n == 0) co_return;
  }
}

const headers& server_conn::request_body::trailers() const noexcept {
  return c_->parser_.trailers;
}

// The request body, decoded from the connection's buffer.
task<result<std::size_t>> server_conn::request_body::read(mutable_buffer buf,
                                                          std::stop_token stop) {
  server_conn& c = *c_;
  if (c.hijacked_) co_return make_error_code(errc::hijacked);
  if (decoder.done()) co_return std::size_t{0};
  if (!stop.stop_possible()) stop = c.req_.stop;
  if (c.output_.continue_owed()) {
    if (auto sent = co_await c.output_.send_continue(); !sent) co_return sent.error();
  }
  std::optional<result<std::size_t>> decoded = decoder.decode(buf, c.parser_, c.in_);
  if (!decoded)
    decoded =
        co_await decoder.read(buf, c.parser_, c.in_, *c.conn_, std::move(stop), c.read_deadline_);
  result<std::size_t>& n = *decoded;
  if (!n) {
    // A body that broke its framing is not an I/O error: the connection can still carry the 400
    // finish_request sends if the handler has not started its response. A client that
    // half-closed inside the body learns nothing more, and may still read the answer (Go).
    if (n.error() == errc::malformed || n.error() == errc::too_much_framing ||
        n.error() == errc::header_too_large)
      c.bad_body_ = true;
    c.output_.close_after();
    co_return n.error();
  }
  if (decoder.done()) c.maybe_watch();
  co_return n;
}

}  // namespace ringo::http::detail
