#include "ringo/http/httptest.hpp"

#include <cstring>
#include <future>
#include <stop_token>
#include <thread>

#include "ringo/http/server.hpp"
#include "ringo/net/address.hpp"
#include "ringo/net/listener.hpp"
#include "ringo/runtime/io_context.hpp"
#include "ringo/runtime/operations.hpp"
#include "ringo/runtime/scope.hpp"

namespace ringo::http::httptest {

// --- response_recorder ----------------------------------------------------------------------

response_recorder::response_recorder(bool head_request) : writer_(*this) {
  writer_.start(head_request);
}

void response_recorder::send_head(const head& h) {
  code_ = h.status;
  header_ = h.fields;
  if (h.length && !h.declared) header_.set("Content-Length", std::to_string(*h.length));
}

void response_recorder::send_body(const_buffer data) {
  body_.append(static_cast<const char*>(data.data), data.size);
}

task<write_result> response_recorder::flush() {
  flushed_ = true;
  co_return write_result{};
}

task<write_result> response_recorder::send_informational(int code, const headers&) {
  informational_.push_back(code);
  co_return write_result{};
}

task<result<hijacked_conn>> response_recorder::hijack() {
  co_return make_error_code(std::errc::operation_not_supported);  // (Go's recorder cannot either)
}

int response_recorder::code() {
  writer_.finish();
  return code_ ? code_ : 200;
}

const headers& response_recorder::header() {
  writer_.finish();
  return header_;
}

const std::string& response_recorder::body() {
  writer_.finish();
  return body_;
}

const headers& response_recorder::trailer() {
  writer_.finish();
  return trailer_;
}

// --- test_request ---------------------------------------------------------------------------

test_request::test_request(std::string_view verb, std::string_view where, std::string content)
    : body_(std::move(content)) {
  const std::size_t body_size = body_.size();
  std::string_view target_text = where;
  method = std::string(verb);
  host = "example.com";
  if (target_text.starts_with("http://") || target_text.starts_with("https://")) {
    target_text.remove_prefix(target_text.find("//") + 2);
    const std::size_t slash = target_text.find_first_of("/?");
    host = std::string(target_text.substr(0, slash));
    target_text =
        slash == std::string_view::npos ? std::string_view("/") : target_text.substr(slash);
  }
  target = std::string(target_text);
  header.add("Host", host);
  remote_address = net::parse_address("tcp", "127.0.0.1:1234").value_or(net::address());
  if (!body_.done()) content_length = body_size;  // as a client would declare it
  body = &body_;
}

task<result<std::size_t>> test_request::string_body::read(mutable_buffer buf, std::stop_token) {
  const std::size_t n = std::min(buf.size, data_.size() - at_);
  std::memcpy(buf.data, data_.data() + at_, n);
  at_ += n;
  co_return n;
}

// --- server ---------------------------------------------------------------------------------

struct server::state {
  http::server srv;
  std::stop_source stop;
  std::uint16_t port = 0;
  std::thread thread;

  explicit state(http::handler h) : srv(std::move(h)) {}

  static task<void> serve(http::server* s, net::listener* l) { (void)co_await s->serve(*l); }

  // The server's thread: listen, serve until stopped. The stop is requested from the test's
  // thread; a sleep on its token hears it through the loop (the runtime queues stops that come
  // from another thread), and close() then runs on the server's own thread.
  static task<void> run(state* self, std::promise<std::uint16_t>* ready) {
    auto l = net::listen("tcp", "127.0.0.1:0");
    if (!l) {
      ready->set_value(0);
      co_return;
    }
    ready->set_value(l->addr().port());
    scope s;
    s.spawn(serve(&self->srv, &*l));
    (void)co_await sleep_for(duration::max(), self->stop.get_token());
    self->srv.close();
    co_await s.join();
  }
};

server::server(http::handler h) : state_(std::make_unique<state>(std::move(h))) {
  std::promise<std::uint16_t> ready;
  auto port = ready.get_future();
  state_->thread = std::thread([s = state_.get(), &ready] { ringo::run(state::run(s, &ready)); });
  state_->port = port.get();
}

server::~server() {
  close();
}

void server::close() {
  if (!state_->thread.joinable()) return;
  state_->stop.request_stop();
  state_->thread.join();
}

std::string server::address() const {
  return "127.0.0.1:" + std::to_string(state_->port);
}

std::string server::url() const {
  return "http://" + address();
}

}  // namespace ringo::http::httptest
