// Go's handler helpers (net/http/server.go): NotFound, Redirect, StripPrefix, TimeoutHandler,
// MaxBytesReader.
#include "ringo/http/handlers.hpp"

#include <algorithm>
#include <memory>

#include "html.hpp"
#include "pattern.hpp"
#include "ringo/http/error.hpp"
#include "ringo/http/status.hpp"
#include "ringo/runtime/event.hpp"
#include "ringo/runtime/scope.hpp"

namespace ringo::http {

namespace {

// Go's hexEscapeNonASCII: a Location must be ASCII.
std::string hex_escape_non_ascii(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";  // (lowercase, as Go writes them)
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x80) {
      out += char(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// Whether `url` names a scheme or a host (url.Parse's u.Scheme != "" || u.Host != "").
bool is_absolute(std::string_view url) {
  if (url.starts_with("//")) return url.size() > 2 && url[2] != '/';  // "///x" has no host
  const std::size_t colon = url.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!letter(url[0])) return false;
  for (std::size_t i = 1; i < colon; ++i) {
    const char c = url[i];
    if (!letter(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.') return false;
  }
  return true;
}

// Go's path.Clean, rooted, keeping a trailing slash as Redirect wants.
std::string clean_keeping_slash(std::string_view p) {
  const bool trailing = p.ends_with('/');
  std::string c = detail::clean_path(p);
  while (c.size() > 1 && c.back() == '/') c.pop_back();
  if (trailing && !c.ends_with('/')) c += '/';
  return c;
}

task<void> strip_and_serve(std::shared_ptr<const std::pair<std::string, handler>> st,
                           response_writer& w, request& r) {
  const std::string_view path = r.path();
  if (!path.starts_with(st->first)) co_return co_await not_found(w, r);
  std::string target(path.substr(st->first.size()));
  if (const std::string_view q = r.query(); !q.empty() || r.target.find('?') != std::string::npos)
    target += "?" + std::string(q);
  std::string original = std::exchange(r.target, std::move(target));
  std::exception_ptr failure;
  try {
    co_await st->second(w, r);
  } catch (...) {
    failure = std::current_exception();
  }
  r.target = std::move(original);
  if (failure) std::rethrow_exception(failure);
}

// What timeout_handler's handler writes into: the response, held until the handler returns.
class held_response final : public response_sink {
 public:
  int status = 0;
  headers fields;
  std::string body;
  headers trailers;
  bool timed_out = false;
  bool aborted = false;

 private:
  void send_head(const head& h) override {
    status = h.status;
    fields = h.fields;
  }
  void send_body(const_buffer data) override {
    if (!timed_out) body.append(static_cast<const char*>(data.data), data.size);
  }
  void end_body(bool, const headers& sent_trailers) override { trailers = sent_trailers; }
  void abort() noexcept override { aborted = true; }
  // Past the limit every write reports the timeout (write() flushes when this passes its
  // threshold), as Go's timeoutWriter returns ErrHandlerTimeout.
  std::size_t queued() const noexcept override { return timed_out ? ~std::size_t{0} : 0; }
  task<write_result> flush() override {
    if (timed_out) co_return make_error_code(errc::handler_timeout);
    co_return write_result{};
  }
  task<write_result> send_informational(int, const headers&) override {
    co_return make_error_code(std::errc::operation_not_supported);
  }
  task<result<hijacked_conn>> hijack() override {
    co_return make_error_code(std::errc::operation_not_supported);
  }
};

struct timeout_state {
  handler h;
  duration dt;
  std::string message;
};

task<void> run_then_signal(handler h, response_writer& w, request& r, event& done) {
  // (The event is set even when h throws: the scope rethrows at join.)
  struct on_exit {
    event* e;
    ~on_exit() { e->set(); }
  } signal{&done};
  co_await h(w, r);
}

task<void> serve_with_timeout(std::shared_ptr<const timeout_state> st, response_writer& w,
                              request& r) {
  held_response held;
  response_writer hw(held);
  hw.start(r.method == "HEAD");
  scope s(r.stop);
  request inner = r;
  inner.stop = s.get_token();
  event done;
  s.spawn(run_then_signal(st->h, hw, inner, done));
  // The client leaving (r.stop) ends the wait too: Go answers 503 then, without the message.
  result<void> in_time = co_await done.wait(r.stop, clock::now() + st->dt);
  if (!in_time && in_time.error() == ringo::errc::operation_canceled) {
    held.timed_out = true;
    s.request_stop();
    w.header().set("Content-Length", "0");
    w.write_header(status::service_unavailable);
    co_await s.join();
    co_return;
  }
  if (in_time) {
    co_await s.join();
    hw.finish();
    if (held.aborted) {  // the handler gave up on its response: the client sees it cut too
      w.abort();
      co_return;
    }
    for (const auto& f : held.fields) w.header().add(f.name, f.value);
    for (const auto& f : held.trailers) w.trailer().add(f.name, f.value);
    w.write_header(held.status ? held.status : status::ok);
    if (!held.body.empty()) (void)co_await w.write(held.body);
    co_return;
  }
  held.timed_out = true;
  s.request_stop();
  std::string text = st->message.empty()
                         ? "<html><head><title>Timeout</title></head><body><h1>Timeout</h1></body>"
                           "</html>"
                         : st->message;
  w.header().set("Content-Length", std::to_string(text.size()));
  w.write_header(status::service_unavailable);
  (void)co_await w.write(text);
  (void)co_await w.flush();  // the client hears now, not once the handler has given up
  co_await s.join();
}

}  // namespace

task<void> not_found(response_writer& w, request&) {
  (void)co_await error(w, status::not_found, "404 page not found");
}

handler not_found_handler() {
  return [](response_writer& w, request& r) { return not_found(w, r); };
}

task<void> redirect(response_writer& w, request& r, std::string url, int code) {
  if (!is_absolute(url)) {
    std::string old(r.path());
    if (old.empty()) old = "/";
    if (url.empty() || url.front() != '/') url = old.substr(0, old.rfind('/') + 1) + url;
    std::string query;
    if (const std::size_t q = url.find('?'); q != std::string::npos) {
      query = url.substr(q);
      url.resize(q);
    }
    url = clean_keeping_slash(url) + query;
  }
  const bool had_type = w.header().contains("Content-Type");
  w.header().set("Location", hex_escape_non_ascii(url));
  if (!had_type && (r.method == "GET" || r.method == "HEAD"))
    w.header().set("Content-Type", "text/html; charset=utf-8");
  w.write_header(code);
  // A short body for old agents that do not follow 301/307 (RFC 9110 §15.4); GET only.
  if (!had_type && r.method == "GET")
    (void)co_await w.write("<a href=\"" + detail::html_escape(url) + "\">" +
                           std::string(reason_phrase(code)) + "</a>.\n\n");
}

handler redirect_handler(std::string url, int code) {
  auto target = std::make_shared<const std::string>(std::move(url));
  return [target, code](response_writer& w, request& r) { return redirect(w, r, *target, code); };
}

handler strip_prefix(std::string prefix, handler h) {
  if (prefix.empty()) return h;
  auto st =
      std::make_shared<const std::pair<std::string, handler>>(std::move(prefix), std::move(h));
  return [st](response_writer& w, request& r) { return strip_and_serve(st, w, r); };
}

handler timeout_handler(handler h, duration dt, std::string message) {
  auto st =
      std::make_shared<const timeout_state>(timeout_state{std::move(h), dt, std::move(message)});
  return [st](response_writer& w, request& r) { return serve_with_timeout(st, w, r); };
}

task<result<std::size_t>> max_bytes_reader::read(mutable_buffer buf, std::stop_token stop) {
  if (failed_) co_return make_error_code(errc::body_too_large);
  if (buf.size == 0) co_return std::size_t{0};
  // One byte more than the limit allows tells a body that ends at it from one that goes on.
  if (buf.size - 1 > left_) buf.size = static_cast<std::size_t>(left_ + 1);
  result<std::size_t> n = co_await body_->read(buf, std::move(stop));
  if (!n) co_return n;
  if (*n <= left_) {
    left_ -= *n;
    co_return n;
  }
  const std::size_t within = static_cast<std::size_t>(left_);
  left_ = 0;
  failed_ = true;
  w_->close_after_response();
  if (within > 0) co_return within;  // the bytes within the limit; the error comes next
  co_return make_error_code(errc::body_too_large);
}

}  // namespace ringo::http
