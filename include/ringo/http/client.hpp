// client: Go's http.Client over a transport: redirects (Go's method rewriting), a timeout for the
// whole request including its body, and errors that name the request, like
// `Get "http://127.0.0.1:1/": dial tcp 127.0.0.1:1: connect: connection refused`.
#pragma once

#include <functional>
#include <stop_token>
#include <string>
#include <string_view>

#include <ringo/http/client_request.hpp>
#include <ringo/http/cookie_jar.hpp>
#include <ringo/http/response.hpp>
#include <ringo/http/transport.hpp>
#include <ringo/runtime/result.hpp>
#include <ringo/runtime/task.hpp>
#include <ringo/runtime/time.hpp>

namespace ringo::http {

struct client_options {
  // Bounds everything a request takes: redirects, and reading the last response's body
  // (Go's Client.Timeout). 0: none.
  duration timeout{};
  int max_redirects = 10;
  // Called before following a redirect to `next`, with the requests made so far; an error
  // stops and is returned (Go's CheckRedirect). Unset: follow up to max_redirects.
  std::function<std::error_code(const client_request& next, int redirects)> check_redirect;
  // Go's Client.Jar: its cookies for each request's URL are added to the request's Cookie field
  // (redirects included), and what each response sets is stored. Not owned; it must outlive the
  // client. Null: no cookies but the caller's own.
  cookie_jar* jar = nullptr;
};

class client {
 public:
  explicit client(transport& t, client_options options = {})
      : transport_(&t), options_(std::move(options)) {}

  // Sends the request and follows redirects. A streamed body (client_request::source) is replayed
  // with rewind() for a 307/308 and closed once, at the end.
  task<result<response, client_error>> send(client_request request, std::stop_token stop = {});
  task<result<response, client_error>> get(std::string url, std::stop_token stop = {});
  task<result<response, client_error>> post(std::string url, std::string content_type,
                                            std::string body, std::stop_token stop = {});
  // GET url and read the whole body; a 4xx or 5xx status is an error (errc::bad_status).
  task<result<std::string, client_error>> fetch(std::string url, std::stop_token stop = {});

  transport& underlying_transport() const noexcept { return *transport_; }
  const client_options& options() const noexcept { return options_; }

 private:
  task<result<response, client_error>> send_url(std::string method, std::string url,
                                                std::string content_type, std::string body,
                                                std::stop_token stop);

  transport* transport_;
  client_options options_;
};

// A one-off fetch on a transport of its own (closed before it returns): for scripts and tests.
task<result<std::string, client_error>> fetch(std::string url, std::stop_token stop = {});

}  // namespace ringo::http
