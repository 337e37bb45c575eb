#include "server_conn.hpp"

#include <algorithm>
#include <cstring>
#include <exception>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "ringo/http/error.hpp"
#include "ringo/http/status.hpp"
#include "ringo/runtime/operations.hpp"
#include "server_state.hpp"

namespace ringo::http::detail {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t initial_buffer = 4096;
constexpr std::size_t max_framing_overhead = 16 << 10;  // Go's chunkedReader excess limit
constexpr std::size_t max_discard = 256 << 10;          // Go's maxPostHandlerReadBytes
constexpr duration close_wait = 500ms;                  // Go's rstAvoidanceDelay (#3595)

time_point after(duration d) {
  return d > duration::zero() ? clock::now() + d : no_deadline;
}

// Bytes the kernel holds for us beyond what we read: a pipelined request behind a FIN.
bool bytes_pending(int fd) {
  int n = 0;
  return ::ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

void append_number(std::string& out, std::uint64_t v) {
  char buf[24];
  char* end = buf + sizeof buf;
  char* p = end;
  do *--p = static_cast<char>('0' + v % 10);
  while ((v /= 10) != 0);
  out.append(p, end);
}

void append_hex(std::string& out, std::uint64_t v) {
  char buf[20];
  char* end = buf + sizeof buf;
  char* p = end;
  do *--p = "0123456789abcdef"[v & 15];
  while ((v >>= 4) != 0);
  out.append(p, end);
}

// The status for a head llhttp refused before its end. Go answers a well-formed version it does
// not speak ("HTTP/3.0": llhttp's "Invalid HTTP version", unlike the syntax errors "Expected dot"
// or "Invalid major version") with 505; anything else is a bad request.
int head_error_status(const message_parser& p) {
  if (p.error() == HPE_INVALID_VERSION &&
      std::string_view(p.error_reason() ? p.error_reason() : "") == "Invalid HTTP version")
    return status::http_version_not_supported;
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

// Runs a handler task and starts the disconnect watcher if (and only when) it suspends: a handler
// that completes without waiting cannot observe a stop, so it costs no poll.
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

}  // namespace

server_conn::server_conn(server& srv, server::state& st, net::conn c, std::stop_token force)
    : server_(&srv),
      st_(&st),
      conn_(std::move(c)),
      remote_(conn_.remote_address().value_or(net::address())),
      force_link_(std::move(force), std::function<void()>([this] { stop_.request_stop(); })),
      in_(initial_buffer) {
  st_->conns.push_back(this);
}

void server_conn::set_state(conn_state s) {
  state_ = s;
  if (server_->conn_state_hook) server_->conn_state_hook(conn_, s);
}

void server_conn::stop_if_idle() noexcept {
  if (state_ == conn_state::idle || state_ == conn_state::new_) stop_.request_stop();
}

task<void> server_conn::run() {
  set_state(conn_state::new_);
  bool first = true;
  while (!stop_.stop_requested() && !hijacked_) {
    if (!first) set_state(conn_state::idle);
    if (!first && st_->shutting_down) break;
    if (!co_await read_head()) break;  // active by now: the head has bytes
    co_await serve_request();
    if (hijacked_ || close_after_ || broken_) break;
    first = false;
  }
  std::erase(st_->conns, this);
  if (hijacked_) co_return;  // the handler owns the connection now
  set_state(conn_state::closed);
}

// Reads more input into in_, compacting or growing it. 0 at end of stream.
task<result<std::size_t>> server_conn::fill(std::stop_token stop, time_point deadline) {
  if (end_ == in_.size()) {
    if (begin_ > 0 && body_.pending_.empty()) {
      std::memmove(in_.data(), in_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    } else {
      in_.resize(in_.size() * 2);
    }
  }
  auto n =
      co_await recv(conn_.native_handle(), mutable_buffer(in_.data() + end_, in_.size() - end_),
                    std::move(stop), deadline);
  if (n) end_ += *n;
  co_return n;
}

// Waits for a kept-alive connection's next request in a poll, which needs no buffer, and lends
// the connection's buffers to the server meanwhile: an idle connection costs its frames and little
// else (nginx frees its buffers the same way; Go keeps 4 KiB), and a connection that wakes takes
// buffers that another one lent, so a busy server allocates nothing. Idle memory: 7.5 KB -> 2.9 KB
// a connection (bench/http.sh). The poll costs ~700 user-space instructions a request (callgrind)
// but no CPU time measurable under wrk: a recv on an empty socket arms the same wait in the kernel.
task<result<std::size_t>> server_conn::fill_idle(std::stop_token stop, time_point deadline) {
  if (begin_ == end_ && out_.empty() && !sending_) {
    begin_ = end_ = 0;
    st_->lend(in_, out_, sending_buf_, initial_buffer);
    auto ready = co_await poll(conn_.native_handle(), POLLIN | POLLRDHUP, stop, deadline);
    st_->borrow(in_, out_, sending_buf_, initial_buffer);
    if (!ready) co_return ready.error();
  }
  co_return co_await fill(std::move(stop), deadline);
}

bool server_conn::complete_head_buffered() const noexcept {
  std::string_view rest = buffered();
  return rest.find("\r\n\r\n") != std::string_view::npos;
}

// Reads and parses the next request's head. False: the connection is done (closed, timed out,
// or answered with an error).
task<bool> server_conn::read_head() {
  parser_.reset();
  bool first_byte_seen = begin_ < end_;
  // Go: a new connection's header deadline starts at once; a kept-alive one waits idle_timeout
  // for the first byte, then gives the head read_header_timeout.
  duration idle =
      server_->idle_timeout > duration::zero() ? server_->idle_timeout : server_->read_timeout;
  duration header = server_->read_header_timeout > duration::zero() ? server_->read_header_timeout
                                                                    : server_->read_timeout;
  time_point start = clock::now();
  time_point header_deadline = after(header);
  read_deadline_ = after(server_->read_timeout);
  if (state_ == conn_state::idle && !first_byte_seen) {
    auto n = co_await fill_idle(stop_.get_token(), after(idle));
    if (!n || *n == 0) {
      // Stopped while idle (graceful shutdown) with a request already on its way: serve it.
      if (!n && n.error() == ringo::errc::operation_canceled &&
          !st_->close_source.stop_requested() && bytes_pending(conn_.native_handle())) {
        close_after_ = true;
        auto more = co_await fill({}, after(header));
        if (!more || *more == 0) co_return false;
      } else {
        co_return false;
      }
    }
    start = clock::now();
    header_deadline = after(header);
    read_deadline_ = after(server_->read_timeout);
  }
  (void)start;
  const std::size_t limit = server_->max_header_bytes + 4096;  // Go's slop
  for (;;) {
    // Active from the request's first byte, as in Go: a graceful shutdown then waits for this
    // request instead of closing the connection under a head that is on its way.
    if (begin_ < end_ && state_ != conn_state::active) set_state(conn_state::active);
    auto step = parser_.feed(buffered());
    begin_ += step.consumed;
    // Checked before the head's end too: a head that crosses the limit and ends within one read
    // is as large as one that does not end.
    if (parser_.head_bytes > limit) {
      (void)co_await write_error_response(status::request_header_fields_too_large,
                                          "431 Request Header Fields Too Large");
      co_return false;
    }
    if (step.what == message_parser::event::head_done ||
        step.what == message_parser::event::message_done)
      break;
    if (step.what == message_parser::event::error) {
      if (parser_.head_complete()) break;  // a framing error found at the head's end: check_head
      co_await reject(head_error_status(parser_));
      co_return false;
    }
    auto n = co_await fill(stop_.get_token(), header_deadline);
    if (!n || *n == 0) co_return false;  // closed, timed out (Go sends nothing), or stopped
  }
  write_deadline_ = after(server_->write_timeout);
  co_return true;
}

task<void> server_conn::reject(int code) {
  std::string text = std::to_string(code) + " " + std::string(reason_phrase(code));
  (void)co_await write_error_response(code, text);
}

task<void> server_conn::serve_request() {
  const message_parser& p = parser_;
  // Validation (Go's readRequest), before any handler sees the request.
  if (p.version_major != 1) co_return co_await reject(status::http_version_not_supported);
  auto te = p.fields.get("Transfer-Encoding");
  if (te && !iequals(*te, "chunked")) co_return co_await reject(status::not_implemented);
  if (p.error() != HPE_OK) co_return co_await reject(status::bad_request);
  std::optional<std::string_view> host;  // the Host field, found without allocating a list
  std::size_t hosts = 0;
  for (const auto& f : p.fields)
    if (iequals(f.name, "Host") && hosts++ == 0) host = f.value;
  if (hosts > 1 || (p.version_minor >= 1 && !host) || (host && !valid_host(*host)))
    co_return co_await reject(status::bad_request);
  auto expect = p.fields.get("Expect");
  expect_continue_ = false;
  if (expect) {
    if (!iequals(*expect, "100-continue") || p.version_minor < 1)
      co_return co_await reject(status::expectation_failed);
    expect_continue_ = true;
  }

  req_.emplace();
  request& r = *req_;
  r.method = p.method;
  r.target = p.url;
  r.version_minor = p.version_minor;
  r.header = p.fields;
  r.host = host ? std::string(*host) : std::string();
  r.chunked = p.chunked();
  if (p.has_content_length()) r.content_length = p.content_length();
  r.remote_address = remote_;
  r.body = &body_;
  bool empty_body = !p.chunked() && (!p.has_content_length() || p.content_length() == 0);
  body_.reset(empty_body);  // the parser is reset before the next head, so it needs no more
  is_head_ = r.method == "HEAD";
  close_after_ = !p.keep_alive() || st_->shutting_down;
  broken_ = bad_body_ = false;
  body_buf_.clear();  // out_ may still hold responses to earlier pipelined requests
  has_declared_length_ = false;
  handler_suspended_ = watching_ = false;
  answers_queued_ = !out_.empty();
  writer_.emplace(*this);

  {
    scope req_scope(stop_.get_token());
    req_scope_ = &req_scope;
    r.stop = req_scope.get_token();
    co_await run_handler();
    co_await stop_watching();
    co_await req_scope.join();
    req_scope_ = nullptr;
  }
  if (!hijacked_) co_await finish_request();
  writer_.reset();
  req_.reset();
}

task<void> server_conn::run_handler() {
  std::exception_ptr failure;
  try {
    if (server_->handler) {
      task<void> t = server_->handler(*writer_, *req_);
      co_await run_watched{std::move(t).operator co_await(), this, [](server_conn* c) {
                             c->handler_suspended_ = true;
                             c->maybe_watch();
                             c->flush_queued_answers();
                           }};
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
  close_after_ = true;
  // With the head already out a 500 is impossible, and ending the body properly ("0\r\n\r\n",
  // or bytes still queued) would make a cut response look complete: drop what is queued and
  // close, so the client sees an aborted response (Go: the panic closes the connection).
  if (writer_->header_sent_) broken_ = true;
  if (!writer_->header_sent_ && !hijacked_) {
    writer_->header_.clear();
    writer_->status_ = 0;
    body_buf_.clear();
    writer_->write_header(status::internal_server_error);
    append_body("500 Internal Server Error\n");
  }
}

void server_conn::maybe_watch() {
  if (watching_ || !handler_suspended_ || !body_.done() || hijacked_ || !req_scope_) return;
  watching_ = true;
  watch_done_.reset();
  watch_stop_ = std::stop_source();
  req_scope_->spawn(watch_disconnect(watch_stop_.get_token()));
}

task<void> server_conn::watch_disconnect(std::stop_token stop) {
  auto ready = co_await poll(conn_.native_handle(), POLLRDHUP, std::move(stop));
  watching_ = false;
  watch_done_.set();
  if (!ready) co_return;  // the request is over: stopped on purpose
  bool hard_error = (*ready & (POLLERR | POLLHUP)) != 0;
  if (!hard_error && bytes_pending(conn_.native_handle())) co_return;  // pipelined, then FIN
  broken_ = true;
  close_after_ = true;
  if (req_scope_) req_scope_->request_stop();
}

task<void> server_conn::stop_watching() {
  if (!watching_) co_return;
  watch_stop_.request_stop();
  (void)co_await watch_done_.wait();
}

bool server_conn::body_allowed() const noexcept {
  int code = writer_->status_ ? writer_->status_ : status::ok;
  return !is_head_ && status_allows_body(code);
}

void server_conn::commit_header(bool final) {
  response_writer& w = *writer_;
  int code = w.status_ ? w.status_ : status::ok;
  out_ += "HTTP/1.1 ";
  append_number(out_, static_cast<std::uint64_t>(code));
  out_ += ' ';
  out_ += reason_phrase(code);
  out_ += "\r\n";
  for (const auto& f : w.header_) {
    out_ += f.name;
    out_ += ": ";
    out_ += f.value;
    out_ += "\r\n";
  }
  if (!w.header_.contains("Date")) {
    out_ += "Date: ";
    out_ += st_->http_date();
    out_ += "\r\n";
  }
  bool body_ok = status_allows_body(code);
  if (auto cl = w.header_.get("Content-Length")) {
    has_declared_length_ = true;
    declared_length_ = std::strtoull(std::string(*cl).c_str(), nullptr, 10);
  } else if (body_ok && final && (!is_head_ || !body_buf_.empty())) {
    out_ += "Content-Length: ";
    append_number(out_, body_buf_.size());
    out_ += "\r\n";
  } else if (body_ok && !final && !is_head_) {
    if (req_->version_minor >= 1) {
      out_ += "Transfer-Encoding: chunked\r\n";
      w.chunked_ = true;
    } else {
      close_after_ = true;  // HTTP/1.0: the body ends when the connection does
    }
  }
  if (w.header_.has_token("Connection", "close")) close_after_ = true;
  if (close_after_ && !w.header_.has_token("Connection", "close")) out_ += "Connection: close\r\n";
  if (!close_after_ && req_->version_minor == 0) out_ += "Connection: keep-alive\r\n";
  out_ += "\r\n";
  w.header_sent_ = true;
  if (!body_buf_.empty()) {
    std::string held = std::move(body_buf_);
    body_buf_.clear();
    if (!is_head_) append_body(held);
  }
}

void server_conn::append_body(const_buffer data) {
  response_writer& w = *writer_;
  if (data.size == 0) return;
  if (!w.header_sent_) {
    body_buf_.append(static_cast<const char*>(data.data), data.size);
    return;
  }
  if (w.chunked_) {
    append_hex(out_, data.size);
    out_ += "\r\n";
    out_.append(static_cast<const char*>(data.data), data.size);
    out_ += "\r\n";
  } else {
    out_.append(static_cast<const char*>(data.data), data.size);
  }
}

// Answers to earlier pipelined requests wait in out_ so that they share a send with the next
// ones; but a handler that suspends may take long, and Go sends every answer when its request is
// done: the client may need it before it goes on. So they go out now, beside the handler.
void server_conn::flush_queued_answers() {
  if (answers_queued_ && !out_.empty() && !sending_ && req_scope_) req_scope_->spawn(send_queued());
}

task<void> server_conn::send_queued() {
  (void)co_await send_out();
}

task<result<void>> server_conn::send_out() {
  // One send at a time (send_queued may be in flight when the handler sends), in order. The bytes
  // in flight live in sending_buf_, so out_ takes appends meanwhile.
  while (sending_) (void)co_await send_done_.wait();
  if (out_.empty()) co_return result<void>{};
  if (broken_) co_return make_error_code(std::errc::broken_pipe);
  std::stop_token stop = req_scope_ ? req_scope_->get_token() : stop_.get_token();
  sending_ = true;
  send_done_.reset();
  out_.swap(sending_buf_);
  auto n = co_await conn_.write_all(sending_buf_, stop, write_deadline_);
  sending_buf_.clear();
  sending_ = false;
  send_done_.set();
  if (!n) {
    broken_ = true;  // a write error also cancels the handler (seed 003)
    close_after_ = true;
    if (req_scope_) req_scope_->request_stop();
    co_return n.error();
  }
  co_return result<void>{};
}

task<bool> server_conn::discard_body() {
  char scratch[8192];
  std::size_t discarded = 0;
  while (!body_.done()) {
    auto n = co_await body_.read(scratch, stop_.get_token());
    if (!n) co_return false;
    discarded += *n;
    if (discarded > max_discard) co_return false;
  }
  co_return true;
}

task<void> server_conn::finish_request() {
  response_writer& w = *writer_;
  if (!body_.done()) {
    // The handler left body unread. With 100-continue pending the client may never send it;
    // otherwise read away a little (Go: 256 KiB) to keep the connection, else close it.
    if (expect_continue_ || !co_await discard_body()) close_after_ = true;
  }
  if (bad_body_ && !w.header_sent_ && !broken_) {
    // The request turned out malformed in its body (a bare LF in a chunk line, Go #71988): it is
    // answered as a malformed head would be, whatever the handler meant to send.
    body_buf_.clear();
    (void)co_await write_error_response(status::bad_request, "400 Bad Request");
    co_return;
  }
  if (!w.header_sent_)
    commit_header(true);
  else if (w.chunked_)
    out_ += "0\r\n\r\n";
  if (has_declared_length_ && body_allowed() && w.body_bytes_ != declared_length_)
    close_after_ = true;
  // Pipelined requests already buffered: answer them before sending, so responses share writes.
  if (close_after_ || !complete_head_buffered()) (void)co_await send_out();
  // Closing with unread input would send RST; without any, a plain close is safe and quicker.
  bool unread_input = begin_ != end_ || !body_.done();
  if (close_after_ && !broken_ && unread_input) co_await close_write_and_wait();
}

task<result<void>> server_conn::write_error_response(int code, std::string_view text) {
  out_ += "HTTP/1.1 ";
  append_number(out_, static_cast<std::uint64_t>(code));
  out_ += ' ';
  out_ += reason_phrase(code);
  out_ += "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: ";
  append_number(out_, text.size() + 1);
  out_ += "\r\n\r\n";
  out_ += text;
  out_ += '\n';
  close_after_ = true;
  auto sent = co_await send_out();
  if (sent) co_await close_write_and_wait();
  co_return sent;
}

// FIN first, then wait (briefly) for the client to close: closing with unread input would send RST
// and could destroy the response in flight (Go #3595).
task<void> server_conn::close_write_and_wait() {
  (void)conn_.shutdown(SHUT_WR);
  char scratch[4096];
  time_point deadline = clock::now() + close_wait;
  for (;;) {
    auto n = co_await recv(conn_.native_handle(), scratch, st_->close_source.get_token(), deadline);
    if (!n || *n == 0) co_return;
  }
}

// The request body, decoded by the parser from the connection's buffer.
task<result<std::size_t>> server_conn::body::read(mutable_buffer buf, std::stop_token stop) {
  server_conn& c = *c_;
  if (done_) co_return std::size_t{0};
  if (!stop.stop_possible() && c.req_) stop = c.req_->stop;
  if (c.expect_continue_) {
    c.expect_continue_ = false;
    if (!c.writer_->header_sent_) {
      c.out_ += "HTTP/1.1 100 Continue\r\n\r\n";
      if (auto sent = co_await c.send_out(); !sent) co_return sent.error();
    }
  }
  while (pending_.empty()) {
    auto step = c.parser_.feed(c.buffered());
    c.begin_ += step.consumed;
    // Go #64433: chunk extensions (any framing) far beyond the data they carry would have the
    // server read input without bound, a handler's reads and discard_body's alike. Each piece of
    // data earns an allowance (Go's: 16 bytes plus twice its length); past 16 KiB of framing
    // beyond it, the body is malformed.
    std::size_t data = step.what == message_parser::event::body ? step.body.size() : 0;
    overhead_ += step.consumed - data;
    overhead_ -= std::min(overhead_, data == 0 ? 0 : 16 + 2 * data);
    if (step.what == message_parser::event::error || overhead_ > max_framing_overhead) {
      // Not an I/O error: the connection can still carry the 400 that finish_request sends if
      // the handler has not started its response (broken_ would forbid any write).
      c.bad_body_ = c.close_after_ = true;
      co_return make_error_code(errc::malformed);
    }
    if (step.what == message_parser::event::body) {
      pending_ = step.body;
      break;
    }
    if (step.what == message_parser::event::message_done) {
      done_ = true;
      c.maybe_watch();
      co_return std::size_t{0};
    }
    auto n = co_await c.fill(stop, c.read_deadline_);
    if (!n) {
      c.close_after_ = true;
      co_return n.error();
    }
    if (*n == 0) {
      c.broken_ = c.close_after_ = true;
      co_return make_error_code(net::errc::unexpected_eof);
    }
  }
  std::size_t n = std::min(buf.size, pending_.size());
  std::memcpy(buf.data, pending_.data(), n);
  pending_.remove_prefix(n);
  co_return n;
}

}  // namespace ringo::http::detail
