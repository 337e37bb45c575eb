// client (Go's Client.do): follow redirects with Go's method rewriting, bound the whole request
// with the client's timeout, and name the request in every error.
#include <algorithm>
#include <cctype>

#include <ringo/http/client.hpp>

#include "source_closer.hpp"

namespace ringo::http {

namespace {

// Lends the caller's body to one round trip, which must not close it: the client may replay it
// for a 307/308 and closes it once at the end.
class lent_source final : public body_source {
 public:
  explicit lent_source(std::shared_ptr<body_source> s) : s_(std::move(s)) {}
  task<result<std::size_t>> read(mutable_buffer buf, std::stop_token stop) override {
    return s_->read(buf, std::move(stop));
  }
  result<void> rewind() override { return s_->rewind(); }
  std::optional<std::size_t> length() const override { return s_->length(); }

 private:
  std::shared_ptr<body_source> s_;
};

// "GET" -> "Get", as Go's url.Error names the operation.
std::string operation_name(std::string_view method) {
  std::string op(method);
  for (std::size_t i = 1; i < op.size(); ++i)
    op[i] = char(std::tolower(static_cast<unsigned char>(op[i])));
  return op;
}

struct redirect_plan {
  bool follow = false;
  std::string method;
  bool keep_body = false;
};

// Go's redirectBehavior: 301/302/303 turn into GET (HEAD stays) without a body; 307/308 keep the
// method and the body, if it can be sent again.
redirect_plan plan_redirect(int status, const client_request& req, const response& r) {
  switch (status) {
    case 301:
    case 302:
    case 303:
      return {true, req.method == "HEAD" ? "HEAD" : "GET", false};
    case 307:
    case 308: {
      const bool has_body = req.source || !req.body.empty();
      // 308s without a Location have been seen in the wild (Go #17773): not a redirect.
      if (!r.header.contains("Location")) return {};
      if (has_body && req.source && !req.source->rewind()) return {};
      return {true, req.method, true};
    }
    default:
      return {};
  }
}

// Credentials go only to the host they were meant for (or its subdomains), like Go's
// shouldCopyHeaderOnRedirect.
bool same_or_subdomain(std::string_view next, std::string_view initial) {
  if (next == initial) return true;
  return next.size() > initial.size() && next.ends_with(initial) &&
         next[next.size() - initial.size() - 1] == '.';
}

// Reads a little of a redirect's body so a small one leaves its conn reusable (Go reads 2 KiB).
task<void> discard_redirect_body(response& r, std::stop_token stop) {
  char scratch[2048];
  std::size_t total = 0;
  while (total < sizeof scratch && !r.body->done()) {
    result<std::size_t> n = co_await r.body->read(mutable_buffer(scratch, sizeof scratch), stop);
    if (!n || *n == 0) break;
    total += *n;
  }
  r.close_body();
}

}  // namespace

task<result<response, client_error>> client::send(client_request req, std::stop_token stop) {
  detail::source_closer closer(req.source);
  if (req.method.empty()) req.method = "GET";
  const std::string op = operation_name(req.method);
  const std::string initial_host = req.url.host;
  const bool own_referer = req.header.contains("Referer");
  bool client_deadline = false;
  if (options_.timeout > duration::zero()) {
    time_point d = clock::now() + options_.timeout;
    client_deadline = d < req.deadline;
    req.deadline = std::min(req.deadline, d);
  }
  auto fail = [&](const client_error& e) {
    std::string text = e.message();
    if (client_deadline && e.code() == ringo::errc::timed_out)
      text += " (Client.Timeout exceeded while awaiting headers)";
    return client_error(e.code(), op + " \"" + req.url.string() + "\": " + text);
  };
  for (int redirects = 0;; ++redirects) {
    client_request attempt = req;
    if (req.source) attempt.source = std::make_shared<lent_source>(req.source);
    if (options_.jar)
      for (const cookie& c : options_.jar->cookies(req.url)) add_cookie(attempt.header, c);
    result<response, client_error> r = co_await transport_->round_trip(std::move(attempt), stop);
    if (!r) co_return fail(r.error());
    if (options_.jar) {
      if (std::vector<cookie> set = read_set_cookies(r->header); !set.empty())
        options_.jar->set_cookies(req.url, set);
    }
    redirect_plan plan = plan_redirect(r->status, req, *r);
    std::optional<std::string_view> location = r->header.get("Location");
    if (!plan.follow || !location) co_return r;  // 3xx without Location: Go #17773, #49281
    result<url, url_error> next = resolve(req.url, *location);
    if (!next) {
      r->close_body();
      co_return fail({make_error_code(errc::bad_location), "failed to parse Location header \"" +
                                                               std::string(*location) +
                                                               "\": " + next.error().message()});
    }
    if (redirects == options_.max_redirects) {
      r->close_body();
      co_return fail({make_error_code(errc::too_many_redirects),
                      "stopped after " + std::to_string(options_.max_redirects) + " redirects"});
    }
    co_await discard_redirect_body(*r, stop);
    // The last URL, or none from https to http (Go's refererForURL); the caller's own stays.
    std::string referer =
        req.url.scheme == "https" && next->scheme == "http" ? std::string() : req.url.string();
    req.method = plan.method;
    req.url = std::move(*next);
    if (!plan.keep_body) {
      req.body.clear();
      req.source.reset();  // the closer still holds it
    }
    if (!same_or_subdomain(req.url.host, initial_host))
      for (std::string_view h : {"Authorization", "Www-Authenticate", "Cookie", "Cookie2"})
        req.header.erase(h);
    if (!own_referer && referer.empty()) req.header.erase("Referer");
    if (!own_referer && !referer.empty()) req.header.set("Referer", referer);
    if (options_.check_redirect) {
      if (std::error_code ec = options_.check_redirect(req, redirects + 1))
        co_return fail({ec, ec.message()});
    }
  }
}

task<result<response, client_error>> client::send_url(std::string method, std::string u,
                                                      std::string content_type, std::string body,
                                                      std::stop_token stop) {
  result<url, url_error> parsed = parse_url(u);
  if (!parsed)
    co_return client_error{parsed.error().code(),
                           operation_name(method) + " \"" + u + "\": " + parsed.error().message()};
  client_request req;
  req.method = std::move(method);
  req.url = std::move(*parsed);
  if (!content_type.empty()) req.header.set("Content-Type", content_type);
  req.body = std::move(body);
  co_return co_await send(std::move(req), std::move(stop));
}

task<result<response, client_error>> client::get(std::string u, std::stop_token stop) {
  return send_url("GET", std::move(u), {}, {}, std::move(stop));
}

task<result<response, client_error>> client::post(std::string u, std::string content_type,
                                                  std::string body, std::stop_token stop) {
  return send_url("POST", std::move(u), std::move(content_type), std::move(body), std::move(stop));
}

task<result<std::string, client_error>> client::fetch(std::string u, std::stop_token stop) {
  result<response, client_error> r = co_await get(u, stop);
  if (!r) co_return r.error();
  if (r->status >= 400)
    co_return client_error{make_error_code(errc::bad_status),
                           "Get \"" + u + "\": " + std::to_string(r->status) + " " + r->reason};
  result<std::string> body = co_await r->body->read_all(std::size_t(1) << 30, stop);
  if (!body)
    co_return client_error{body.error(), "Get \"" + u + "\": body: " + body.error().message()};
  co_return std::move(*body);
}

task<result<std::string, client_error>> fetch(std::string u, std::stop_token stop) {
  transport t;
  result<std::string, client_error> got = co_await client(t).fetch(std::move(u), std::move(stop));
  co_await t.close();
  co_return got;
}

}  // namespace ringo::http
