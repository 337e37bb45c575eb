// transport::round_trip (Go's Transport.roundTrip + persistConn.roundTrip): get a conn, write the
// request, read the response head, and retry once on a new conn when a reused one failed before
// any response byte (Go #19943, #22158).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <ringo/http/transport.hpp>
#include <ringo/net/error.hpp>
#include <ringo/runtime/scope.hpp>

#include "client_body.hpp"
#include "context_errors.hpp"
#include "gzip_body.hpp"
#include "h1/parser.hpp"
#include "h1/writer.hpp"
#include "h2/client_conn.hpp"
#include "source_closer.hpp"
#include "transport_state.hpp"

namespace ringo::http {

using detail::canceled_error;
using detail::conn_ptr;
using detail::deadline_error;
using h1::message_parser;

namespace {

struct attempt_info {
  bool written = false;   // some request byte reached the socket
  bool got_byte = false;  // some response byte arrived
  std::error_code body_error;
};

client_error broken_error(std::string_view op, std::error_code ec) {
  return {make_error_code(errc::connection_broken),
          "connection broken: " + std::string(op) + ": " + net::error_text(ec)};
}

// Writes all of data by the request's deadline; a failure is the attempt's error.
task<result<void, client_error>> write_bytes(conn_ptr pc, std::string_view data,
                                             std::stop_token stop, time_point deadline,
                                             attempt_info* info) {
  while (!data.empty()) {
    result<std::size_t> n =
        co_await pc->stream->write(const_buffer(data.data(), data.size()), stop, deadline);
    if (!n) {
      if (n.error() == ringo::errc::timed_out) co_return deadline_error();
      co_return broken_error("write", n.error());
    }
    if (*n > 0) info->written = true;
    data.remove_prefix(*n);
  }
  co_return result<void, client_error>{};
}

constexpr int max_1xx_responses = 5;

// Go's transport (persistConn.roundTrip, requestedGzip): ask for gzip, and decode it, only when
// the caller said nothing about encodings or ranges; a Range of gzipped bytes could not be
// decoded (go.dev/issue/8923), and HEAD has no body to decode.
bool adds_gzip(const client_request& req, const transport_options& o) {
  return !o.disable_compression && !req.disable_compression &&
         !req.header.contains("Accept-Encoding") && !req.header.contains("Range") &&
         req.method != "HEAD";
}

bool has_body(const client_request& req) {
  return req.source ? req.source->length() != std::size_t(0) : !req.body.empty();
}

// Returns whether the request asks to close the connection (its own "Connection: close").
bool build_head(std::string& head, const client_request& req, const transport_options& o,
                std::optional<std::size_t> length, bool chunked, const detail::persist_conn& pc) {
  head.clear();
  if (pc.absolute_form) {  // to an HTTP proxy: "GET http://host:port/path HTTP/1.1"
    h1::append_request_line(head, req.method, req.url.string());
    if (!pc.proxy_authorization.empty())
      h1::append_field(head, "Proxy-Authorization", pc.proxy_authorization);
  } else {
    h1::append_request_line(head, req.method, req.url.target);
  }
  if (std::optional<std::string_view> host = req.header.get("Host")) {
    h1::append_field(head, "Host", *host);
  } else {  // url::host_header(), written in place
    const url& u = req.url;
    const bool v6 = u.host.find(':') != std::string::npos;
    head += v6 ? "Host: [" : "Host: ";
    head += u.host;
    if (v6) head += ']';
    if (u.port != (std::string_view(u.scheme) == "https" ? 443 : 80)) {
      head += ':';
      h1::append_decimal(head, u.port);
    }
    head += "\r\n";
  }
  bool user_agent = false, close = false;
  for (const auto& f : req.header) {
    if (iequals(f.name, "Host") || iequals(f.name, "Content-Length") ||
        iequals(f.name, "Transfer-Encoding"))
      continue;
    if (f.name.size() == 10 && iequals(f.name, "Connection"))
      close = close || list_has_token(f.value, "close");
    // An empty User-Agent asks for none (Go's Request.write): a proxy forwards a request that
    // had none without adding its own (go.dev/issue/15524).
    if (f.name.size() == 10 && iequals(f.name, "User-Agent")) {
      user_agent = true;
      if (f.value.empty()) continue;
    }
    h1::append_field(head, f.name, f.value);
  }
  if (!user_agent) head += "User-Agent: ringo\r\n";
  if (adds_gzip(req, o)) head += "Accept-Encoding: gzip\r\n";
  if (chunked)
    head += "Transfer-Encoding: chunked\r\n";
  else if (length && (*length > 0 || h1::method_expects_body(req.method)))
    h1::append_field(head, "Content-Length", *length);
  if (o.disable_keep_alives && !close) head += "Connection: close\r\n";
  head += "\r\n";
  return close;
}

// A string body up to this size goes in the head's write.
constexpr std::size_t body_in_head_limit = 16 << 10;

// Writes the head, and the body too when `body_follows` (a string body, small, and nothing waits
// for a 100 Continue).
task<result<void, client_error>> write_head(conn_ptr pc, const client_request& req,
                                            const transport_options& o, bool body_follows,
                                            std::stop_token stop, attempt_info* info) {
  std::optional<std::size_t> length =
      req.source ? req.source->length() : std::optional<std::size_t>(req.body.size());
  std::string& head = pc->head;
  // The caller's own "Connection: close" (Go's Request.Close): the server may close without
  // saying so, and a conn pooled after it would fail the next request.
  if (build_head(head, req, o, length, req.source && !length, *pc))
    pc->not_reusable = "http: request asked to close the connection";
  if (body_follows) head += req.body;
  result<void, client_error> w = co_await write_bytes(pc, head, stop, req.deadline, info);
  if (!w) co_return w.error();
  if (req.trace && req.trace->wrote_headers) req.trace->wrote_headers();
  co_return result<void, client_error>{};
}

// Writes the body (chunked when its length is unknown). A body-source failure is recorded in
// info->body_error.
task<result<void, client_error>> write_body(conn_ptr pc, const client_request& req,
                                            std::stop_token stop, attempt_info* info) {
  if (!req.source) co_return co_await write_bytes(pc, req.body, stop, req.deadline, info);
  const bool chunked = !req.source->length();
  constexpr std::size_t room = 16384, prefix = 20;  // a chunk-size line fits in the prefix
  auto chunk = std::make_unique_for_overwrite<char[]>(prefix + room + 2);
  for (;;) {
    result<std::size_t> n =
        co_await req.source->read(mutable_buffer(chunk.get() + prefix, room), stop);
    if (!n) {
      info->body_error = n.error();
      co_return client_error{make_error_code(errc::request_body),
                             "http: request body read failed: " + n.error().message()};
    }
    std::string_view out(chunk.get() + prefix, *n);
    if (chunked) {  // "size\r\n" before the data, "\r\n" after; the last chunk is "0\r\n\r\n"
      char size[prefix];
      const std::size_t len = h1::format_chunk_size(size, *n);
      char* begin = chunk.get() + prefix - len;
      std::memcpy(begin, size, len);
      std::memcpy(chunk.get() + prefix + *n, h1::chunk_end.data(), h1::chunk_end.size());
      out = std::string_view(begin, len + *n + h1::chunk_end.size());
    }
    if (!out.empty()) {
      result<void, client_error> w = co_await write_bytes(pc, out, stop, req.deadline, info);
      if (!w) co_return w.error();
    }
    if (*n == 0) co_return result<void, client_error>{};
  }
}

// What read_head stopped at.
enum class head_event {
  final_head,  // a final response (or 101): p holds it
  continued,   // 100 Continue, when waiting for one
  waited,      // until_continue passed without a response
};

// Reads a response head into p. 1xx responses are skipped (got_100_continue reported), except
// 101 and, when `until_continue` is set, a 100. Timeouts: the request's deadline, then
// until_continue, then the response header timeout (unless `header_timeout` is false: the caller
// runs it).
task<result<head_event, client_error>> read_head(conn_ptr pc, message_parser& p,
                                                 const client_request& req,
                                                 const transport_options& o, bool reused,
                                                 time_point until_continue, std::stop_token stop,
                                                 attempt_info* info, bool header_timeout = true) {
  const bool head_request = req.method == "HEAD";
  if (head_request) p.skip_body();
  const time_point header_deadline = header_timeout && o.response_header_timeout > duration::zero()
                                         ? clock::now() + o.response_header_timeout
                                         : no_deadline;
  const time_point deadline = std::min({req.deadline, until_continue, header_deadline});
  int informational = 0;
  for (;;) {
    if (!pc->in.empty()) {
      if (!info->got_byte) {
        info->got_byte = true;
        if (req.trace && req.trace->got_first_response_byte) req.trace->got_first_response_byte();
      }
      message_parser::step step = p.feed(pc->in.unread());
      pc->in.consume(step.consumed);
      if (step.what == message_parser::event::error)
        co_return client_error{make_error_code(errc::malformed_response),
                               std::string("malformed HTTP response: ") + p.error_reason()};
      if (p.head_bytes > o.max_response_header_bytes)
        co_return client_error{make_error_code(errc::response_header_too_large), {}};
      // A skipped body (HEAD) completes the message along with the head.
      if (step.what == message_parser::event::head_done ||
          (step.what == message_parser::event::message_done && p.head_complete())) {
        if (p.status >= 100 && p.status < 200 && p.status != 101) {
          // Go's transport.go (max1xxResponses): a server cannot keep a client reading 1xx
          // responses for ever.
          if (++informational > max_1xx_responses)
            co_return client_error{make_error_code(errc::malformed_response),
                                   "net/http: too many 1xx informational responses"};
          const bool is_continue = p.status == 100;
          if (is_continue && req.trace && req.trace->got_100_continue)
            req.trace->got_100_continue();
          p.reset();
          if (head_request) p.skip_body();
          if (is_continue && until_continue != no_deadline) co_return head_event::continued;
          continue;
        }
        co_return head_event::final_head;
      }
      if (step.what != message_parser::event::need_more) continue;
    }
    // The answer to a request just written: a socket waits for readability before it tries.
    result<std::size_t> n = co_await pc->in.fill(*pc->stream, stop, deadline, true);
    if (!n) {
      if (n.error() == ringo::errc::timed_out) {
        const time_point now = clock::now();
        if (now >= req.deadline) co_return deadline_error();
        if (now >= until_continue) co_return head_event::waited;
        co_return client_error{make_error_code(errc::response_header_timeout), {}};
      }
      if (n.error() == ringo::errc::operation_canceled) co_return canceled_error();
      co_return broken_error("read", n.error());
    }
    if (*n == 0) {
      if (!info->got_byte && reused)
        co_return client_error{make_error_code(errc::server_closed_idle), {}};
      co_return client_error{
          make_error_code(errc::connection_broken),
          info->got_byte ? "connection broken: unexpected EOF" : "connection broken: EOF"};
    }
  }
}

// The body's upload and the wait for the answer, side by side (upload_body, await_head).
struct upload_race {
  std::stop_source write_stop, read_stop, read_done;
  std::optional<result<void, client_error>> sent;
  std::optional<result<head_event, client_error>> got;
  bool write_failed = false;      // the write failed by itself (not stopped)
  bool header_timed_out = false;  // the response header timeout passed after the body's end
};

// How long a failed upload waits for an answer already on its way (a server that answered and
// closed: its 413 says more than the reset).
constexpr duration answer_grace = std::chrono::milliseconds(50);

task<void> upload_body(conn_ptr pc, const client_request* req, const transport_options* o,
                       attempt_info* info, upload_race* race) {
  race->sent = co_await write_body(std::move(pc), *req, race->write_stop.get_token(), info);
  if (race->read_done.stop_requested()) co_return;
  if (!*race->sent) {
    race->write_failed = !race->write_stop.stop_requested();
    if (race->write_failed && !info->body_error)  // (the socket's failure, not the source's)
      (void)co_await sleep_for(answer_grace, race->read_done.get_token());
    race->read_stop.request_stop();
    co_return;
  }
  // Go's ResponseHeaderTimeout counts from the request's end, body included. (GCC 12: no
  // co_await in a && condition.)
  if (o->response_header_timeout <= duration::zero()) co_return;
  result<void> slept = co_await sleep_for(o->response_header_timeout, race->read_done.get_token());
  if (slept) {
    race->header_timed_out = true;
    race->read_stop.request_stop();
  }
}

task<void> await_head(conn_ptr pc, message_parser* p, const client_request* req,
                      const transport_options* o, bool reused, attempt_info* info,
                      upload_race* race) {
  race->got = co_await read_head(std::move(pc), *p, *req, *o, reused, no_deadline,
                                 race->read_stop.get_token(), info, false);
  race->read_done.request_stop();
  race->write_stop.request_stop();  // an answer, or the attempt failed: the upload is over
}

// Go's persistConn.roundTrip writes the body "concurrently with waiting for a response, in case
// the server decides to reply before reading our full request body": a final answer that comes
// first (a 413, a 401, a redirect) ends the upload and is the response, and the conn carries no
// other request (the server expects a body it never got). A write that fails by itself is the
// attempt's error, unless an answer comes within answer_grace.
task<result<void, client_error>> upload_and_read_head(conn_ptr pc, message_parser& p,
                                                      const client_request& req,
                                                      const transport_options& o, bool reused,
                                                      std::stop_token stop, attempt_info* info) {
  upload_race race;
  using ringo::detail::forward_stop;
  std::stop_callback<forward_stop> stop_write(stop, forward_stop{&race.write_stop});
  std::stop_callback<forward_stop> stop_read(stop, forward_stop{&race.read_stop});
  {
    scope both;
    both.spawn(upload_body(pc, &req, &o, info, &race));
    both.spawn(await_head(pc, &p, &req, &o, reused, info, &race));
    co_await both.join();
  }
  if (*race.got) {
    if (!*race.sent)
      pc->not_reusable = "http: server answered before the request's body was sent";
    else if (req.trace && req.trace->wrote_request)
      req.trace->wrote_request({});
    co_return result<void, client_error>{};
  }
  if (stop.stop_requested()) co_return canceled_error();
  if (race.header_timed_out)
    co_return client_error{make_error_code(errc::response_header_timeout), {}};
  if (race.write_failed) co_return race.sent->error();
  co_return race.got->error();
}

// One attempt on one conn (Go's persistConn.roundTrip): the head, the body (after a 100 Continue
// or expect_continue_timeout when the request expects one), the response head.
task<result<void, client_error>> exchange(conn_ptr pc, message_parser& p, const client_request& req,
                                          const transport_options& o, bool reused,
                                          std::stop_token stop, attempt_info* info) {
  const bool body = has_body(req);
  const bool expect_continue = body && o.expect_continue_timeout > duration::zero() &&
                               req.header.has_token("Expect", "100-continue");
  // A small string body leaves in one write with the head; a larger one (not copied into the
  // head, which the conn keeps) and a streamed one are uploaded while the answer is awaited.
  const bool body_in_head =
      body && !expect_continue && !req.source && req.body.size() <= body_in_head_limit;
  result<void, client_error> wrote = co_await write_head(pc, req, o, body_in_head, stop, info);
  if (!wrote) co_return wrote.error();
  const bool send_body = body && !body_in_head;
  if (expect_continue) {
    if (req.trace && req.trace->wait_100_continue) req.trace->wait_100_continue();
    result<head_event, client_error> got = co_await read_head(
        pc, p, req, o, reused, clock::now() + o.expect_continue_timeout, stop, info);
    if (!got) co_return got.error();
    if (*got == head_event::final_head) {
      // The server answered without the body (a 417, a 401...): the conn cannot carry another
      // request, the server expects a body it will never get.
      pc->not_reusable = "http: server answered before the request's body was sent";
      co_return result<void, client_error>{};
    }
  }
  if (send_body) co_return co_await upload_and_read_head(pc, p, req, o, reused, stop, info);
  if (req.trace && req.trace->wrote_request) req.trace->wrote_request({});
  result<head_event, client_error> got =
      co_await read_head(pc, p, req, o, reused, no_deadline, stop, info);
  if (!got) co_return got.error();
  co_return result<void, client_error>{};
}

// The gzip answer to a request the transport asked gzip for is decoded on the way out (Go's
// gzipReader), whichever protocol carried it.
void decode_gzip(response& r, const client_request& req, const transport_options& o) {
  if (!adds_gzip(req, o) || !iequals(r.header.get("Content-Encoding").value_or(""), "gzip")) return;
  r.body = std::make_unique<detail::gzip_body>(std::move(r.body));
  r.header.erase("Content-Encoding");
  r.header.erase("Content-Length");
  r.content_length.reset();
  r.uncompressed = true;
}

// Go's http2 Transport retries a request the server did not process (RFC 9113 §8.7) on another
// conn, a few times.
constexpr int max_h2_attempts = 6;

}  // namespace

task<result<response, client_error>> transport::round_trip(client_request req,
                                                           std::stop_token stop) {
  std::shared_ptr<state> s = state_;
  // (Shared with an HTTP/2 body pump, which may outlive the round trip.)
  std::shared_ptr<detail::source_closer> closer =
      req.source ? std::make_shared<detail::source_closer>(req.source) : nullptr;
  // (string_view comparisons: a size check first, no strlen or out-of-line compare)
  const std::string_view scheme = req.url.scheme;
  const bool tls = scheme == "https";
  if (!tls && scheme != "http")
    co_return client_error{make_error_code(errc::unsupported_scheme),
                           "unsupported protocol scheme \"" + req.url.scheme + "\""};
  if (req.method.empty()) req.method = "GET";
  std::optional<proxy_target> proxy;
  if (s->options.proxy) {
    auto chosen = s->options.proxy(req.url);
    if (!chosen) co_return client_error{make_error_code(errc::invalid_url), chosen.error().text};
    proxy = std::move(*chosen);
  }
  for (int attempt = 0;; ++attempt) {
    got_conn_info info;
    std::string key = req.url.authority();
    if (tls) key.insert(0, detail::https_key_prefix);
    if (proxy) key = s->proxied_key(std::move(key), *proxy, tls);
    detail::h2_conn_ptr h2;
    result<conn_ptr, client_error> got = s->get_idle_conn(key, req, stop, info, h2);
    if (got && !*got && !h2) got = co_await s->wait_for_conn(std::move(key), req, stop, info, h2);
    if (!got) {
      if (stop.stop_requested()) co_return canceled_error();
      co_return got.error();
    }
    if (h2) {
      if (req.trace && req.trace->got_conn) req.trace->got_conn(info);
      h2::retry_kind retry = h2::retry_kind::no;
      result<response, client_error> r = co_await h2::client_conn::round_trip(
          std::move(h2), req, stop, closer, adds_gzip(req, s->options), &retry);
      if (!r) {
        if (stop.stop_requested()) co_return canceled_error();
        const bool again = retry == h2::retry_kind::unprocessed ||
                           (retry == h2::retry_kind::lost_unanswered && attempt == 0 &&
                            info.reused && req.idempotent());
        if (again && attempt + 1 < max_h2_attempts && !s->closed &&
            (!req.source || req.source->rewind().has_value()))
          continue;
        co_return r.error();
      }
      if (!r->body->done()) decode_gzip(*r, req, s->options);
      co_return r;
    }
    conn_ptr pc = std::move(*got);
    if (req.trace && req.trace->got_conn) req.trace->got_conn(info);
    attempt_info ai;
    message_parser* p = &pc->parser;
    p->reset();
    result<void, client_error> head =
        co_await exchange(pc, *p, req, s->options, info.reused, stop, &ai);
    if (!head) {
      client_error err = head.error();
      s->close_conn(pc, err.message());
      // Precedence: cancellation, then the request body's error, then the connection's.
      if (stop.stop_requested()) co_return canceled_error();
      if (ai.body_error) co_return err;
      if (attempt == 0 && info.reused && !ai.got_byte && !s->closed &&
          err.code() != ringo::errc::timed_out) {
        bool retry = !ai.written;
        if (!retry && req.idempotent()) retry = !req.source || req.source->rewind().has_value();
        if (retry) continue;
      }
      co_return err;
    }
    response r;
    r.status = p->status;
    r.reason = p->reason;
    r.version_major = p->version_major;
    r.version_minor = p->version_minor;
    r.close = !p->keep_alive();
    if (p->has_content_length()) r.content_length = p->content_length();
    bool no_body = !h1::response_has_body(req.method, r.status) ||
                   (p->has_content_length() && p->content_length() == 0 && !p->chunked());
    if (r.status == 204 || r.status == 304) r.content_length = 0;
    r.header = std::move(p->fields);
    r.tls = pc->tls;
    if (r.status == 101 && !req.header.contains("Upgrade")) {
      // Nothing asked to switch: the bytes after it are not HTTP, and the caller expects a
      // response it will not get.
      s->close_conn(pc, "http: unsolicited 101 Switching Protocols");
      co_return client_error{make_error_code(errc::malformed_response),
                             "net/http: server sent 101 Switching Protocols without an Upgrade "
                             "request"};
    }
    if (r.status == 101) {
      // Switching protocols: the conn and the bytes after the head are the caller's now.
      r.upgraded_bytes = pc->in.take_unread();
      r.upgraded = s->hand_over(pc);
      r.body = std::make_unique<detail::empty_body>();
    } else if (no_body) {
      // The conn goes back before the caller sees the response.
      if (!pc->not_reusable.empty())
        s->close_conn(pc, std::string(pc->not_reusable));
      else if (r.close)
        s->close_conn(pc, "http: server asked to close the connection");
      else
        s->put_or_close_idle_conn(pc, req.trace);
      r.body = std::make_unique<detail::empty_body>();
    } else {
      r.body = std::make_unique<detail::client_body>(s, std::move(pc), req.trace, req.deadline);
      decode_gzip(r, req, s->options);
    }
    co_return std::move(r);
  }
}

}  // namespace ringo::http
