// transport::round_trip (Go's Transport.roundTrip + persistConn.roundTrip): get a conn, write the
// request, read the response head, and retry once on a new conn when a reused one failed before
// any response byte (Go #19943, #22158).
#include <memory>
#include <string>
#include <string_view>

#include <ringo/http/transport.hpp>
#include <ringo/net/error.hpp>

#include "client_body.hpp"
#include "parser.hpp"
#include "transport_state.hpp"

namespace ringo::http {

using detail::conn_ptr;
using detail::message_parser;

namespace {

struct attempt_info {
  bool written = false;   // some request byte reached the socket
  bool got_byte = false;  // some response byte arrived
  std::error_code body_error;
};

client_error canceled_error() {
  return {make_error_code(errc::operation_canceled), "context canceled"};
}

task<result<void>> write_bytes(conn_ptr pc, std::string_view data, std::stop_token stop,
                               attempt_info* info) {
  while (!data.empty()) {
    result<std::size_t> n = co_await pc->c.write(const_buffer(data.data(), data.size()), stop);
    if (!n) co_return n.error();
    if (*n > 0) info->written = true;
    data.remove_prefix(*n);
  }
  co_return result<void>{};
}

bool method_may_have_body(std::string_view m) {
  return m == "POST" || m == "PUT" || m == "PATCH";
}

std::string build_head(const client_request& req, const transport_options& o,
                       std::optional<std::size_t> length, bool chunked) {
  std::string head;
  head.reserve(256);
  head += req.method;
  head += ' ';
  head += req.url.target.empty() ? std::string_view("/") : std::string_view(req.url.target);
  head += " HTTP/1.1\r\nHost: ";
  std::optional<std::string_view> host = req.header.get("Host");
  head += host ? std::string(*host) : req.url.host_header();
  head += "\r\n";
  for (const auto& f : req.header) {
    if (iequals(f.name, "Host") || iequals(f.name, "Content-Length") ||
        iequals(f.name, "Transfer-Encoding"))
      continue;
    head += f.name;
    head += ": ";
    head += f.value;
    head += "\r\n";
  }
  if (!req.header.contains("User-Agent")) head += "User-Agent: ringo\r\n";
  if (chunked)
    head += "Transfer-Encoding: chunked\r\n";
  else if (length && (*length > 0 || method_may_have_body(req.method)))
    head += "Content-Length: " + std::to_string(*length) + "\r\n";
  if (o.disable_keep_alives && !req.header.has_token("Connection", "close"))
    head += "Connection: close\r\n";
  head += "\r\n";
  return head;
}

// Writes the head and the body. A body-source failure is recorded in info->body_error.
task<result<void, client_error>> write_request(conn_ptr pc, const client_request& req,
                                               const transport_options& o, std::stop_token stop,
                                               attempt_info* info) {
  const client_trace* trace = req.trace;
  std::optional<std::size_t> length =
      req.source ? req.source->length() : std::optional<std::size_t>(req.body.size());
  bool chunked = req.source && !length;
  std::string head = build_head(req, o, length, chunked);
  if (!req.source) head += req.body;
  result<void> w = co_await write_bytes(pc, head, stop, info);
  if (!w) co_return client_error{w.error(), "write: " + net::error_text(w.error())};
  if (trace && trace->wrote_headers) trace->wrote_headers();
  if (req.source) {
    std::string chunk(16384 + 32, '\0');
    for (;;) {
      const std::size_t room = 16384, at = chunked ? 16 : 0;
      result<std::size_t> n =
          co_await req.source->read(mutable_buffer(chunk.data() + at, room), stop);
      if (!n) {
        info->body_error = n.error();
        co_return client_error{make_error_code(client_errc::request_body),
                               "http: request body read failed: " + n.error().message()};
      }
      std::string_view out(chunk.data() + at, *n);
      std::string framed;
      if (chunked) {
        char size[20];
        int len = std::snprintf(size, sizeof size, "%zx\r\n", *n);
        framed.reserve(*n + 32);
        framed.append(size, std::size_t(len));
        framed.append(out);
        framed += "\r\n";
        if (*n == 0) framed += "\r\n";
        out = framed;
      }
      if (!out.empty()) {
        result<void> wb = co_await write_bytes(pc, out, stop, info);
        if (!wb) co_return client_error{wb.error(), "write: " + net::error_text(wb.error())};
      }
      if (*n == 0) break;
    }
  }
  if (trace && trace->wrote_request) trace->wrote_request({});
  co_return result<void, client_error>{};
}

task<result<std::unique_ptr<message_parser>, client_error>> read_head(
    conn_ptr pc, const client_request& req, const transport_options& o, bool reused,
    std::stop_token stop, attempt_info* info) {
  auto p = std::make_unique<message_parser>(HTTP_RESPONSE);
  const bool head_request = req.method == "HEAD";
  if (head_request) p->skip_body();
  time_point deadline = o.response_header_timeout > duration::zero()
                            ? clock::now() + o.response_header_timeout
                            : no_deadline;
  for (;;) {
    if (!pc->unread().empty()) {
      if (!info->got_byte) {
        info->got_byte = true;
        if (req.trace && req.trace->got_first_response_byte) req.trace->got_first_response_byte();
      }
      message_parser::step step = p->feed(pc->unread());
      pc->consume(step.consumed);
      if (step.what == message_parser::event::error)
        co_return client_error{make_error_code(client_errc::malformed_response),
                               std::string("malformed HTTP response: ") + p->error_reason()};
      if (p->head_bytes > o.max_response_header_bytes)
        co_return client_error{make_error_code(client_errc::header_too_large), {}};
      // A skipped body (HEAD) completes the message along with the head.
      if (step.what == message_parser::event::head_done ||
          (step.what == message_parser::event::message_done && p->head_complete())) {
        if (p->status >= 100 && p->status < 200 && p->status != 101) {
          if (p->status == 100 && req.trace && req.trace->got_100_continue)
            req.trace->got_100_continue();
          p->reset();
          if (head_request) p->skip_body();
          continue;
        }
        co_return std::move(p);
      }
      if (step.what != message_parser::event::need_more) continue;
    }
    result<std::size_t> n = co_await pc->fill(stop, deadline);
    if (!n) {
      if (n.error() == errc::timed_out)
        co_return client_error{make_error_code(client_errc::response_header_timeout), {}};
      if (n.error() == errc::operation_canceled) co_return canceled_error();
      co_return client_error{make_error_code(client_errc::connection_broken),
                             "connection broken: read: " + net::error_text(n.error())};
    }
    if (*n == 0) {
      if (!info->got_byte && reused)
        co_return client_error{make_error_code(client_errc::server_closed_idle), {}};
      co_return client_error{
          make_error_code(client_errc::connection_broken),
          info->got_byte ? "connection broken: unexpected EOF" : "connection broken: EOF"};
    }
  }
}

// Closes a streamed request body exactly once, whatever path the round trip takes (Go #49621).
struct source_closer {
  std::shared_ptr<body_source> source;
  ~source_closer() {
    if (source) source->close();
  }
};

}  // namespace

task<result<response, client_error>> transport::round_trip(client_request req,
                                                           std::stop_token stop) {
  std::shared_ptr<state> s = state_;
  source_closer closer{req.source};
  if (req.url.scheme != "http")
    co_return client_error{make_error_code(client_errc::unsupported_scheme),
                           "unsupported protocol scheme \"" + req.url.scheme + "\""};
  if (req.method.empty()) req.method = "GET";
  for (int attempt = 0;; ++attempt) {
    got_conn_info info;
    result<conn_ptr, client_error> got = co_await s->get_conn(req.url.authority(), req, stop, info);
    if (!got) {
      if (stop.stop_requested()) co_return canceled_error();
      co_return got.error();
    }
    conn_ptr pc = std::move(*got);
    if (req.trace && req.trace->got_conn) req.trace->got_conn(info);
    attempt_info ai;
    result<std::unique_ptr<message_parser>, client_error> head = client_error{};
    result<void, client_error> wrote = co_await write_request(pc, req, s->options, stop, &ai);
    if (wrote)
      head = co_await read_head(pc, req, s->options, info.reused, stop, &ai);
    else
      head = wrote.error();
    if (!head) {
      client_error err = head.error();
      s->close_conn(pc, "connection broken: " + err.message());
      // Precedence: cancellation, then the request body's error, then the connection's.
      if (stop.stop_requested()) co_return canceled_error();
      if (ai.body_error) co_return err;
      if (attempt == 0 && info.reused && !ai.got_byte && !s->closed) {
        bool retry = !ai.written;
        if (!retry && req.idempotent()) retry = !req.source || req.source->rewind().has_value();
        if (retry) continue;
      }
      co_return err;
    }
    std::unique_ptr<message_parser> p = std::move(*head);
    response r;
    r.status = p->status;
    r.reason = p->reason;
    r.version_major = p->version_major;
    r.version_minor = p->version_minor;
    r.close = !p->keep_alive();
    if (p->has_content_length()) r.content_length = p->content_length();
    bool no_body = req.method == "HEAD" || r.status == 204 || r.status == 304 ||
                   (r.status >= 100 && r.status < 200) ||
                   (p->has_content_length() && p->content_length() == 0 && !p->chunked());
    if (r.status == 204 || r.status == 304) r.content_length = 0;
    r.header = std::move(p->fields);
    if (no_body) {
      // The conn goes back before the caller sees the response.
      if (r.close || r.status == 101)
        s->close_conn(pc, "http: server asked to close the connection");
      else
        s->put_or_close_idle_conn(pc, req.trace);
      r.body = std::make_unique<detail::empty_body>();
    } else {
      r.body = std::make_unique<detail::client_body>(s, std::move(pc), std::move(p), req.trace);
    }
    co_return std::move(r);
  }
}

}  // namespace ringo::http
