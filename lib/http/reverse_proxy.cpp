// reverse_proxy (Go's net/http/httputil/reverseproxy.go): the outgoing request, the round trip,
// and the copy of the answer back: its head, its body as it arrives, its trailers, or, after a
// 101, the bytes of both connections.
#include <algorithm>
#include <array>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <ringo/http/reverse_proxy.hpp>
#include <ringo/http/status.hpp>
#include <ringo/runtime/event.hpp>
#include <ringo/runtime/operations.hpp>
#include <ringo/runtime/when_all.hpp>

#include "h1/writer.hpp"

namespace ringo::http {

struct reverse_proxy::state {
  url target;
  transport* t;  // the caller's, outlives every request served
  reverse_proxy_options options;
};

namespace {

constexpr std::size_t copy_buffer_size = 32 << 10;  // Go's copyBuffer

// Fields removed whether or not Connection names them: RFC 9110 §7.6.1's list, plus Trailer and
// Go's Proxy-Authenticate and Proxy-Authorization (reverseproxy.go, hopHeaders).
bool fixed_hop_header(std::string_view name) noexcept {
  switch (name.size()) {
    case 2:
      return iequals(name, "te");
    case 7:
      return iequals(name, "upgrade") || iequals(name, "trailer");
    case 10:
      return iequals(name, "connection") || iequals(name, "keep-alive");
    case 16:
      return iequals(name, "proxy-connection");
    case 17:
      return iequals(name, "transfer-encoding");
    case 18:
      return iequals(name, "proxy-authenticate");
    case 19:
      return iequals(name, "proxy-authorization");
  }
  return false;
}

// The hop-by-hop fields of a message: the fixed ones, and the fields Connection names
// (go.dev/issue/16875), collected first (most messages have no Connection field).
struct hop_by_hop {
  std::string named;  // the Connection fields' values, each followed by ','

  explicit hop_by_hop(const headers& h) {
    for (const auto& f : h)
      if (iequals(f.name, "connection")) (named += f.value) += ',';
  }
  bool operator()(std::string_view name) const noexcept {
    return fixed_hop_header(name) || (!named.empty() && list_has_token(named, name));
  }
};

// Go's removeHopByHopHeaders.
void remove_hop_by_hop(headers& h) {
  const hop_by_hop hop(h);
  h.erase_if([&](const headers::field& f) { return hop(f.name); });
}

// Go's upgradeType: the protocol asked for, when Connection says "upgrade".
std::string upgrade_type(const headers& h) {
  if (!h.has_token("Connection", "upgrade")) return {};
  return std::string(h.get("Upgrade").value_or(""));
}

bool printable_ascii(std::string_view s) noexcept {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

// The scheme the request came over (X-Forwarded-Proto): ringo's server serves plain HTTP/1.1, and
// a request it serves over TLS will say so (Go's Request.TLS).
std::string_view incoming_scheme(const request&) noexcept {
  return "http";
}

client_error proxy_error(std::errc code, std::string text) {
  return {std::make_error_code(code), std::move(text)};
}

void log(const reverse_proxy::state& s, std::string_view line) {
  if (s.options.error_log)
    s.options.error_log(line);
  else
    std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
}

// Go's defaultErrorHandler.
task<void> report_error(const reverse_proxy::state* s, response_writer& w, request& r,
                        client_error e) {
  if (s->options.error_handler) co_return co_await s->options.error_handler(w, r, std::move(e));
  log(*s, "http: proxy error: " + e.message());
  w.write_header(status::bad_gateway);
}

// The request's body as the outgoing request's, read as the transport sends it. It cannot be
// replayed once read from: a retry is possible only before its first byte.
//
// The body is the handler's request's, so no read may run once the handler returns. Over HTTP/1
// the round trip writes the body itself; an HTTP/2 upstream reads it from a pump of its own, which
// a dropped response stops (RST_STREAM(CANCEL)) but may not have finished when the handler
// would return: settle() refuses later reads and waits for one still running.
class request_body_source final : public body_source {
 public:
  request_body_source(body_reader* body, std::optional<std::size_t> length) noexcept
      : body_(body), length_(length) {}
  task<result<std::size_t>> read(mutable_buffer buf, std::stop_token stop) override {
    if (settled_) co_return make_error_code(ringo::errc::operation_canceled);
    started_ = true;
    reading_ = true;
    idle_.reset();
    result<std::size_t> n = co_await body_->read(buf, std::move(stop));
    reading_ = false;
    idle_.set();
    co_return n;
  }
  task<void> settle() {
    settled_ = true;
    if (reading_) (void)co_await idle_.wait();
  }
  result<void> rewind() override {
    if (started_) return std::make_error_code(std::errc::operation_not_supported);
    return {};
  }
  std::optional<std::size_t> length() const override { return length_; }

 private:
  body_reader* body_;  // the handler's request's: valid while the handler runs
  std::optional<std::size_t> length_;
  event idle_{true};  // no read running
  bool started_ = false;
  bool reading_ = false;
  bool settled_ = false;
};

// The request as the upstream will see it, and the protocol it asks to switch to.
struct outgoing {
  client_request out;
  std::string upgrade;
  std::shared_ptr<request_body_source> body;  // out.source, when the request has a body
};

// The outgoing fields when there is no director: one pass over the request's, with what
// set_x_forwarded and the hop-by-hop rules would do to a copy done as it goes (the same fields,
// without a scan per rule).
void copy_fields(const request& in, client_request& out, std::string& upgrade) {
  const hop_by_hop hop(in.header);
  std::string forwarded_for;
  bool user_agent = false, te_trailers = false, connection_upgrade = false;
  std::string_view upgrade_value;
  out.header.reserve(in.header.size() + 4);
  for (const auto& f : in.header) {
    const std::string_view name = f.name;
    if (hop(name)) {
      if (iequals(name, "te")) te_trailers = te_trailers || list_has_token(f.value, "trailers");
      if (iequals(name, "connection"))
        connection_upgrade = connection_upgrade || list_has_token(f.value, "upgrade");
      if (iequals(name, "upgrade") && upgrade_value.empty()) upgrade_value = f.value;
      continue;
    }
    if (iequals(name, "host") || iequals(name, "x-forwarded-host") ||
        iequals(name, "x-forwarded-proto"))
      continue;
    if (iequals(name, "x-forwarded-for")) {
      (forwarded_for += f.value) += ", ";
      continue;
    }
    user_agent = user_agent || iequals(name, "user-agent");
    out.header.add(name, f.value);
  }
  if (te_trailers) out.header.add("TE", "trailers");
  if (connection_upgrade && !upgrade_value.empty()) {
    upgrade = upgrade_value;
    out.header.add("Connection", "Upgrade");
    out.header.add("Upgrade", upgrade);
  }
  if (in.remote_address.port() != 0)
    out.header.add("X-Forwarded-For", forwarded_for += in.remote_address.host());
  if (!in.host.empty()) out.header.add("X-Forwarded-Host", in.host);
  out.header.add("X-Forwarded-Proto", incoming_scheme(in));
  if (!user_agent) out.header.add("User-Agent", "");
}

// Go's ReverseProxy.ServeHTTP, up to the round trip.
outgoing outgoing_request(const reverse_proxy::state& s, request& in) {
  outgoing o;
  client_request& out = o.out;
  out.method = in.method;
  // The transport would ask for gzip and decode it (so does Go's, behind its ReverseProxy): the
  // upstream would see a field the client did not send, and the client get bytes decoded for
  // nothing. The client's Accept-Encoding, or none, goes on as sent, and the body comes back so.
  out.disable_compression = true;
  out.url.scheme = s.target.scheme;
  out.url.host = s.target.host;
  out.url.port = s.target.port;
  out.url.target = join_target(s.target.target, in.target);
  if (!s.options.director) {
    copy_fields(in, out, o.upgrade);
  } else {
    // Go's order: the director sees every field but Host, then the hop-by-hop ones go.
    out.header.reserve(in.header.size() + 4);
    for (const auto& f : in.header)
      if (!iequals(f.name, "host")) out.header.add(f.name, f.value);
    s.options.director(out);
    o.upgrade = upgrade_type(out.header);
    remove_hop_by_hop(out.header);
    // The one hop-by-hop value that says something end to end: the client takes trailers
    // (go.dev/issue/21096).
    if (in.header.has_token("TE", "trailers")) out.header.set("TE", "trailers");
    // An upgrade is asked for again, hop by hop: Connection and Upgrade were just removed.
    if (!o.upgrade.empty()) {
      out.header.set("Connection", "Upgrade");
      out.header.set("Upgrade", o.upgrade);
    }
    proxy_request pr{in, out};
    pr.set_x_forwarded();
    // A client that sent no User-Agent gets none added (go.dev/issue/15524).
    if (!out.header.contains("User-Agent")) out.header.set("User-Agent", "");
  }
  if (s.options.rewrite) {
    proxy_request pr{in, out};
    s.options.rewrite(pr);
  }

  // No body: none is sent (go.dev/issue/16036); a body of unknown length goes out chunked.
  if (in.chunked || (in.content_length && *in.content_length > 0)) {
    o.body = std::make_shared<request_body_source>(
        in.body, in.chunked ? std::nullopt : std::optional<std::size_t>(*in.content_length));
    out.source = o.body;
  }
  return o;
}

// Go's flushInterval: streams (an event stream, or a body of unknown length) go out with every
// write.
duration flush_interval_for(const reverse_proxy::state& s, const response& resp) {
  if (std::optional<std::string_view> ct = resp.header.get("Content-Type")) {
    std::string_view base = ct->substr(0, ct->find(';'));
    while (!base.empty() && base.back() == ' ') base.remove_suffix(1);
    if (iequals(base, "text/event-stream")) return duration(-1);
  }
  if (!resp.content_length) return duration(-1);
  return s.options.flush_interval;
}

// Go's maxLatencyWriter: with a positive flush interval, what is written goes out at most that
// long after it was written, while the copy waits for the upstream's next bytes.
struct latency_flusher {
  response_writer* w;
  duration latency;
  event armed;
  bool pending = true;  // Go: the head goes out after the interval even if the body is slow
  time_point due;

  void wrote() {
    if (pending) return;
    pending = true;
    due = clock::now() + latency;
    armed.set();
  }
};

task<void> flush_after_latency(latency_flusher* f, std::stop_token stop) {
  for (;;) {
    result<void> woke = co_await f->armed.wait(stop, f->pending ? f->due : no_deadline);
    if (woke) {
      f->armed.reset();
      continue;
    }
    if (woke.error() != ringo::errc::timed_out) co_return;  // the copy is over
    f->pending = false;
    if (!co_await f->w->flush()) co_return;
  }
}

enum class copy_end { done, read_failed, write_failed };

// Go's copyResponse: the upstream's body to the client, as it arrives.
task<copy_end> copy_body(const reverse_proxy::state* s, response* resp, response_writer* w,
                         duration interval, latency_flusher* flusher, std::stop_token stop) {
  // A small body of known length (most answers) passes through the frame, which is recycled;
  // others through a buffer of Go's size.
  constexpr std::size_t inline_size = 1024;
  char inline_buf[inline_size];
  std::unique_ptr<char[]> heap;
  char* buf = inline_buf;
  std::size_t size = inline_size;
  if (!resp->content_length || *resp->content_length > inline_size) {
    size = copy_buffer_size;
    heap = std::make_unique_for_overwrite<char[]>(size);
    buf = heap.get();
  }
  for (;;) {
    result<std::size_t> n = co_await resp->body->read(mutable_buffer(buf, size), stop);
    if (!n) {
      if (n.error() != ringo::errc::operation_canceled)  // (the client left: nothing to report)
        log(*s, "httputil: ReverseProxy read error during body copy: " + n.error().message());
      co_return copy_end::read_failed;
    }
    if (*n == 0) co_return copy_end::done;
    if (!co_await w->write(const_buffer(buf, *n))) co_return copy_end::write_failed;
    if (interval < duration::zero()) {
      if (!co_await w->flush()) co_return copy_end::write_failed;
    } else if (flusher) {
      flusher->wrote();
    }
    // The read that ended the body gave the conn back: no read is needed to learn it.
    if (resp->body->done()) co_return copy_end::done;
  }
}

task<copy_end> copy_body_flushing(const reverse_proxy::state* s, response* resp, response_writer* w,
                                  duration interval, std::stop_token stop) {
  latency_flusher flusher{w, interval, event(true), true, clock::now() + interval};
  scope sc;
  sc.spawn(flush_after_latency(&flusher, sc.get_token()));
  copy_end end = co_await copy_body(s, resp, w, interval, &flusher, std::move(stop));
  sc.request_stop();
  co_await sc.join();
  co_return end;
}

// One direction of an upgraded connection.
task<void> pipe(net::stream* from, net::stream* to, std::stop_token stop) {
  auto buf = std::make_unique_for_overwrite<char[]>(copy_buffer_size);
  for (;;) {
    result<std::size_t> n = co_await from->read(mutable_buffer(buf.get(), copy_buffer_size), stop);
    if (!n || *n == 0) co_return;
    result<std::size_t> sent = co_await to->write_all(const_buffer(buf.get(), *n), stop);
    if (!sent) co_return;
  }
}

// Go's handleUpgradeResponse: after a 101 the client's connection and the upstream's are joined
// until either ends; then both close.
task<void> serve_upgrade(const reverse_proxy::state* s, response_writer& w, request& r,
                         std::string asked, response resp) {
  const std::string got = upgrade_type(resp.header);
  if (!printable_ascii(got))
    co_return co_await report_error(
        s, w, r,
        proxy_error(std::errc::protocol_error,
                    "backend tried to switch to invalid protocol \"" + got + "\""));
  if (!iequals(asked, got))
    co_return co_await report_error(
        s, w, r,
        proxy_error(std::errc::protocol_error, "backend tried to switch protocol \"" + got +
                                                   "\" when \"" + asked + "\" was requested"));
  if (s->options.modify_response) {
    if (result<void, client_error> ok = s->options.modify_response(resp); !ok)
      co_return co_await report_error(s, w, r, ok.error());
  }
  // The head is written by hand on the hijacked connection: the writer cannot send a 101.
  std::string head;
  h1::append_status_line(head, status::switching_protocols);
  h1::append_fields(head, w.header());
  h1::append_fields(head, resp.header);
  head += "\r\n";
  result<hijacked_conn> client = co_await w.hijack();
  if (!client)
    co_return co_await report_error(
        s, w, r,
        proxy_error(std::errc::operation_not_supported,
                    "Hijack failed on protocol switch: " + client.error().message()));
  net::stream* down = client->conn.get();
  net::stream* up = resp.upgraded.get();
  // What either side sent beyond its head goes first.
  head += resp.upgraded_bytes;
  if (!co_await down->write_all(const_buffer(head.data(), head.size()), r.stop)) co_return;
  if (!client->buffered.empty() &&
      !co_await up->write_all(const_buffer(client->buffered.data(), client->buffered.size()),
                              r.stop))
    co_return;
  auto to_upstream = [down, up](std::stop_token stop) { return pipe(down, up, std::move(stop)); };
  auto to_client = [down, up](std::stop_token stop) { return pipe(up, down, std::move(stop)); };
  // (GCC 12: the lambdas are named, not temporaries in the co_await's expression.)
  auto joined = when_any(r.stop, to_upstream, to_client);
  co_await std::move(joined);
}  // both connections close here

// Go's ReverseProxy.ServeHTTP, given the outgoing request.
task<void> exchange(std::shared_ptr<const reverse_proxy::state> s, response_writer& w, request& r,
                    outgoing o) {
  const std::string asked = std::move(o.upgrade);
  if (!printable_ascii(asked))
    co_return co_await report_error(
        s.get(), w, r,
        proxy_error(std::errc::invalid_argument,
                    "client tried to switch to invalid protocol \"" + asked + "\""));

  result<response, client_error> got = co_await s->t->round_trip(std::move(o.out), r.stop);
  if (!got) co_return co_await report_error(s.get(), w, r, got.error());
  response& resp = *got;
  if (resp.status == status::switching_protocols)
    co_return co_await serve_upgrade(s.get(), w, r, asked, std::move(resp));

  // Trailers the upstream announced are announced again (the Trailer field itself is removed
  // with the hop-by-hop ones, as Go's transport moves it into Response.Trailer).
  std::string announced;
  for (const auto& f : resp.header) {
    if (!iequals(f.name, "trailer") || f.value.empty()) continue;
    if (!announced.empty()) announced += ", ";
    announced += f.value;
  }
  remove_hop_by_hop(resp.header);
  if (s->options.modify_response) {
    if (result<void, client_error> ok = s->options.modify_response(resp); !ok) {
      resp.close_body();
      co_return co_await report_error(s.get(), w, r, ok.error());
    }
  }
  const duration interval = flush_interval_for(*s, resp);  // (before the fields move)
  if (w.header().empty()) {
    w.header() = std::move(resp.header);
  } else {
    for (const auto& f : resp.header) w.header().add(f.name, f.value);
  }
  if (!announced.empty()) w.header().add("Trailer", announced);
  w.write_header(resp.status);

  copy_end end = copy_end::done;
  if (resp.body->done())  // (HEAD, 204, 304)
    end = copy_end::done;
  else if (interval > duration::zero())
    end = co_await copy_body_flushing(s.get(), &resp, &w, interval, r.stop);
  else
    end = co_await copy_body(s.get(), &resp, &w, interval, nullptr, r.stop);
  if (end != copy_end::done) {
    // The head may be out already: all that is left is to cut the response, so that the client
    // does not take a part for the whole (Go panics with http.ErrAbortHandler, go.dev/issue/23643).
    w.abort();
    co_return;
  }
  // Trailers, announced or not, follow the body (a response with trailers is chunked).
  if (!resp.trailer().empty()) w.trailer() = resp.trailer();
}

task<void> serve(std::shared_ptr<const reverse_proxy::state> s, response_writer& w, request& r) {
  outgoing o = outgoing_request(*s, r);
  std::shared_ptr<request_body_source> body = o.body;
  co_await exchange(std::move(s), w, r, std::move(o));
  // The upstream's response is gone with exchange(): no read of r's body runs past this.
  if (body) co_await body->settle();
}

}  // namespace

// ---- proxy_request ----------------------------------------------------------------------------

void proxy_request::set_url(const url& target) {
  out.url = target;
  out.url.target = join_target(target.target, in.target);
  out.header.erase("Host");
}

void proxy_request::set_x_forwarded() {
  if (in.remote_address.port() != 0) {  // an IP client (a unix socket's has no address to give)
    std::string forwarded;
    for (const auto& f : out.header) {
      if (!iequals(f.name, "X-Forwarded-For")) continue;
      forwarded += f.value;
      forwarded += ", ";
    }
    forwarded += in.remote_address.host();
    out.header.set("X-Forwarded-For", forwarded);
  } else {
    out.header.erase("X-Forwarded-For");
  }
  if (!in.host.empty())
    out.header.set("X-Forwarded-Host", in.host);
  else
    out.header.erase("X-Forwarded-Host");  // (an HTTP/1.0 request without Host)
  out.header.set("X-Forwarded-Proto", incoming_scheme(in));
}

// ---- reverse_proxy ----------------------------------------------------------------------------

reverse_proxy::reverse_proxy(url target, transport& t, reverse_proxy_options options)
    : state_(std::make_shared<const state>(state{std::move(target), &t, std::move(options)})) {}

task<void> reverse_proxy::operator()(response_writer& w, request& r) const {
  return serve(state_, w, r);
}

const url& reverse_proxy::target() const noexcept {
  return state_->target;
}

std::string single_joining_slash(std::string_view a, std::string_view b) {
  const bool a_slash = a.ends_with('/');
  const bool b_slash = b.starts_with('/');
  std::string out(a);
  if (a_slash && b_slash)
    out += b.substr(1);
  else if (!a_slash && !b_slash)
    (out += '/') += b;
  else
    out += b;
  return out;
}

std::string join_target(std::string_view base, std::string_view target) {
  // An absolute URL's path and query (a request sent to a proxy, RFC 9112 §3.2.2).
  if (std::size_t scheme = target.find("://");
      scheme != std::string_view::npos && scheme < target.find_first_of("/?")) {
    std::string_view rest = target.substr(scheme + 3);
    std::size_t path = rest.find_first_of("/?");
    target = path == std::string_view::npos ? std::string_view("/") : rest.substr(path);
  }
  const std::size_t bq = base.find('?');
  const std::size_t tq = target.find('?');
  const std::string_view base_query =
      bq == std::string_view::npos ? std::string_view() : base.substr(bq + 1);
  const std::string_view target_query =
      tq == std::string_view::npos ? std::string_view() : target.substr(tq + 1);
  std::string out = single_joining_slash(base.substr(0, bq), target.substr(0, tq));
  if (!base_query.empty() || !target_query.empty()) {
    out += '?';
    out += base_query;
    if (!base_query.empty() && !target_query.empty()) out += '&';
    out += target_query;
  }
  return out;
}

}  // namespace ringo::http
