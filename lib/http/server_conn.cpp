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
constexpr std::size_t max_discard = 256 << 10;  // Go's maxPostHandlerReadBytes
constexpr duration close_wait = 500ms;          // Go's rstAvoidanceDelay (#3595)

time_point after_from(time_point start, duration d) {
  return d > duration::zero() ? start + d : no_deadline;
}

duration idle_timeout(const server& s) {
  return s.idle_timeout > duration::zero() ? s.idle_timeout : s.read_timeout;
}

duration header_timeout(const server& s) {
  return s.read_header_timeout > duration::zero() ? s.read_header_timeout : s.read_timeout;
}

time_point after(duration d) {
  return after_from(clock::now(), d);
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
// or "Invalid major version") with 505, and any Transfer-Encoding but one "chunked" (llhttp's
// strict mode refuses "chunked, gzip" and a second field) with 501, as a coding it does not
// implement; anything else is a bad request.
int head_error_status(const message_parser& p) {
  if (p.error() == HPE_INVALID_VERSION &&
      std::string_view(p.error_reason() ? p.error_reason() : "") == "Invalid HTTP version")
    return status::http_version_not_supported;
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

std::uint8_t network_code(std::string_view network) noexcept {
  for (std::uint8_t i = 0; i < std::size(network_names); ++i)
    if (network_names[i] == network) return i;
  return 0;
}

compact_address::compact_address(int fd) noexcept {
  net::address a;
  *a.size_ptr() = net::address::capacity();
  if (::getpeername(fd, a.data(), a.size_ptr()) == 0 && a.size() <= sizeof bytes_) {
    std::memcpy(bytes_, a.data(), a.size());
    size_ = a.size();
  }
}

void compact_address::get(const net::conn& c, net::address& out) const noexcept {
  if (size_ == 0)
    out = c.remote_address().value_or(net::address());
  else
    out = net::address(reinterpret_cast<const sockaddr*>(bytes_), size_);
}

namespace {

// Calls the conn_state hook from the light part, which keeps only the descriptor.
void report(server::state* st, unique_fd& fd, std::uint8_t network, conn_state s) {
  if (!st->srv->conn_state_hook) return;
  net::conn c(std::move(fd), std::string(network_names[network]));
  st->srv->conn_state_hook(c, s);
  fd = c.release();
}

}  // namespace

// The light part of a connection. Its frame holds the descriptor, the peer's address and a poll,
// and nothing else while the connection is idle (416 bytes with GCC 12: mind what you add); a
// server_conn serves it from a request's first byte until it is idle again.
task<void> serve_connection(server::state* st, unique_fd fd, std::uint8_t network) {
  ++st->open_conns;
  compact_address remote(fd.get());
  report(st, fd, network, conn_state::new_);
  time_point start = clock::now();
  // Go: a new connection's header deadline starts at once; a kept-alive one waits idle_timeout
  // for the first byte, then gives the head read_header_timeout.
  time_point deadline = after_from(start, header_timeout(*st->srv));
  bool first = true;
  server_conn::outcome end = server_conn::outcome::closed;
  while (!st->conn_stop.stop_requested()) {
    bool close_after = false;
    auto ready = co_await poll(fd.get(), POLLIN | POLLRDHUP, st->idle_stop.get_token(), deadline);
    if (!ready) {
      // Stopped while idle (graceful shutdown) with a request already on its way: serve it.
      if (ready.error() != ringo::errc::operation_canceled || st->close_source.stop_requested() ||
          !bytes_pending(fd.get()))
        break;
      close_after = true;
    }
    if (!first) start = clock::now();
    std::unique_ptr<server_conn> sc = st->take_conn();
    end = co_await sc->serve(fd, network, remote, start, close_after, !first);
    deadline = sc->idle_deadline();  // (idle: reported, and waited for a while, by serve())
    st->give_back(std::move(sc));
    if (end != server_conn::outcome::idle || st->shutting_down) break;
    first = false;
  }
  --st->open_conns;
  if (end == server_conn::outcome::hijacked) co_return;  // the handler owns the connection now
  report(st, fd, network, conn_state::closed);
}

server_conn::server_conn(server::state& st) : server_(st.srv), st_(&st), in_(initial_buffer) {}

void server_conn::reset() noexcept {
  conn_ = net::conn();  // (released to serve_connection, or taken by a hijacker, by now)
  remote_ = net::address();
  if (in_.size() != initial_buffer) std::vector<char>().swap(in_);  // serve() makes a new one
  begin_ = end_ = 0;
  parser_.reset();
  reset_request();
  req_.method.clear();
  req_.target.clear();
  req_.host.clear();
  req_.version_minor = 1;
  req_.remote_address = net::address();
  body_.reset(true);
  req_link_.reset();
  req_stop_ = std::stop_source(std::nostopstate);
  link_token_ = {};
  req_scope_.reset();  // (joined by serve_request)
  read_deadline_ = idle_deadline_ = write_deadline_ = no_deadline;
  expect_continue_ = close_after_ = broken_ = bad_body_ = hijacked_ = is_head_ = false;
  sending_ = answers_queued_ = handler_suspended_ = watching_ = false;
  for (std::string* s : {&out_, &sending_buf_, &body_buf_}) {
    s->clear();
    if (s->capacity() > out_flush_threshold * 2) std::string().swap(*s);
  }
  declared_length_ = 0;
  has_declared_length_ = false;
  send_done_.set();
  watch_stop_ = std::stop_source(std::nostopstate);
  watch_done_.set();
}

bool server_conn::pristine() const noexcept {
  const response_writer& w = writer_;
  return !conn_ && begin_ == 0 && end_ == 0 && out_.empty() && sending_buf_.empty() &&
         body_buf_.empty() && !sending_ && send_done_.is_set() && !answers_queued_ &&
         !expect_continue_ && !close_after_ && !broken_ && !bad_body_ && !hijacked_ &&
         !handler_suspended_ && !watching_ && watch_done_.is_set() && !req_scope_ && !req_link_ &&
         !req_stop_.stop_possible() && !has_declared_length_ && body_.done() &&
         req_.method.empty() && req_.header.empty() && req_.body == nullptr && w.status_ == 0 &&
         !w.header_sent_ && !w.chunked_ && !w.hijacked_ && w.header_.empty() && w.body_bytes_ == 0;
}

void server_conn::set_state(conn_state s) {
  if (server_->conn_state_hook) server_->conn_state_hook(conn_, s);
}

task<server_conn::outcome> server_conn::serve(unique_fd& fd, std::uint8_t network,
                                              const compact_address& remote, time_point head_start,
                                              bool close_after, bool returning) {
  conn_ = net::conn(std::move(fd), std::string(network_names[network]));
  if (in_.size() != initial_buffer) in_.resize(initial_buffer);  // (trim() freed a grown one)
  remote.get(conn_, remote_);
  begin_ = end_ = 0;
  hijacked_ = broken_ = false;
  close_after_ = close_after;
  time_point start = head_start;
  outcome end = outcome::closed;
  for (;;) {
    if (!co_await read_head(start)) break;
    co_await serve_request();
    if (hijacked_) {
      end = outcome::hijacked;
      break;
    }
    if (close_after_ || broken_ || st_->conn_stop.stop_requested()) break;
    set_state(conn_state::idle);  // (for no time when a pipelined request is buffered, as in Go)
    if (st_->shutting_down) break;
    if (begin_ == end_) {  // (finish_request sent every answer)
      // On a connection that keeps coming back the next request usually follows the answer
      // closely: it is awaited in a recv, buffers at hand, for a moment (idle_grace); only then
      // does the connection give them back and wait in serve_connection's poll, which costs no
      // memory but one more operation a request (~1,300 instructions, callgrind).
      idle_deadline_ = after(idle_timeout(*server_));
      if (!returning) {
        end = outcome::idle;
        break;
      }
      auto n = co_await recv(conn_.native_handle(), mutable_buffer(in_.data(), in_.size()),
                             st_->idle_stop.get_token(),
                             std::min(idle_deadline_, clock::now() + idle_grace));
      if (n && *n > 0) {
        begin_ = 0;  // (everything before was consumed)
        end_ = *n;
      } else if (!n && n.error() == ringo::errc::timed_out && clock::now() < idle_deadline_) {
        end = outcome::idle;  // the grace is over, not the idle timeout
        break;
      } else if (!n && n.error() == ringo::errc::operation_canceled &&
                 !st_->close_source.stop_requested() && bytes_pending(conn_.native_handle())) {
        close_after_ = true;  // stopped while idle (graceful shutdown) with a request on its way
      } else {
        break;  // closed by the client, the idle timeout, or a shutdown
      }
    }
    start = clock::now();
  }
  fd = conn_.release();  // (none after a hijack: the handler took the conn)
  co_return end;
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

bool server_conn::complete_head_buffered() const noexcept {
  std::string_view rest = buffered();
  return rest.find("\r\n\r\n") != std::string_view::npos;
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
    if (!active && begin_ < end_) {
      set_state(conn_state::active);
      active = true;
    }
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
    // Answers held back for a pipelined request that turned out incomplete (or only the empty
    // lines llhttp skips: found by server_fuzz) go out before waiting for more input.
    if (!out_.empty()) (void)co_await send_out();
    auto n = co_await fill(st_->conn_stop, header_deadline);
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
  if (!p.version_seen) co_return co_await reject(status::bad_request);  // "GET /": Go's 400
  if (p.version_major != 1) co_return co_await reject(status::http_version_not_supported);
  // One pass finds the fields to check (a lookup each cost a scan); Host without a list.
  std::optional<std::string_view> host, expect;
  std::size_t hosts = 0, te_fields = 0;
  bool te_chunked = false;
  for (const auto& f : p.fields) {
    switch (f.name.size()) {
      case 4:
        if (iequals(f.name, "Host") && hosts++ == 0) host = f.value;
        break;
      case 6:
        if (!expect && iequals(f.name, "Expect")) expect = f.value;
        break;
      case 17:
        if (iequals(f.name, "Transfer-Encoding")) {
          ++te_fields;
          te_chunked = iequals(f.value, "chunked");
        }
        break;
    }
  }
  // Go's parseTransferEncoding: one field, "chunked"; any other (a second field, even an empty
  // one after "chunked", which llhttp frames as chunked) is a coding it does not implement.
  if (te_fields > 1 || (te_fields == 1 && !te_chunked))
    co_return co_await reject(status::not_implemented);
  // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing (an HTTP/1.0
  // proxy would frame it by Content-Length or the connection's end).
  if (te_fields > 0 && p.version_minor == 0) co_return co_await reject(status::bad_request);
  if (p.error() != HPE_OK) co_return co_await reject(status::bad_request);
  if (hosts > 1 || (p.version_minor >= 1 && !host) || (host && !valid_host(*host)))
    co_return co_await reject(status::bad_request);
  expect_continue_ = false;
  if (expect) {
    if (!iequals(*expect, "100-continue") || p.version_minor < 1)
      co_return co_await reject(status::expectation_failed);
    expect_continue_ = true;
  }

  reset_request();
  request& r = req_;
  r.method = p.method;
  r.target = p.url;
  r.version_minor = p.version_minor;
  r.host = host ? std::string_view(*host) : std::string_view();
  // The parser's fields become the request's (no copy); the parser gets the last request's
  // vector, and both keep their capacity. Nothing reads the head's fields after this.
  std::swap(r.header, parser_.fields);
  r.chunked = p.chunked();
  if (p.has_content_length()) r.content_length = p.content_length();
  r.remote_address = remote_;
  r.body = &body_;
  bool empty_body = !p.chunked() && (!p.has_content_length() || p.content_length() == 0);
  body_.reset(empty_body);  // the parser is reset before the next head, so it needs no more
  is_head_ = r.method == "HEAD";
  close_after_ = close_after_ || !p.keep_alive() || st_->shutting_down;
  broken_ = bad_body_ = false;
  body_buf_.clear();  // out_ may still hold responses to earlier pipelined requests
  has_declared_length_ = false;
  handler_suspended_ = watching_ = false;
  answers_queued_ = !out_.empty();

  arm_request_stop();
  r.stop = req_stop_.get_token();
  co_await run_handler();
  if (req_scope_) {  // the handler suspended: the watcher and queued answers ran beside it
    co_await stop_watching();
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

// Clears the request and the writer for the next request, keeping what they allocated.
void server_conn::reset_request() {
  request& r = req_;
  r.header.clear();
  r.content_length.reset();
  r.chunked = false;
  r.stop = {};
  r.body = nullptr;
  r.pattern.clear();
  r.path_values.clear();
  response_writer& w = writer_;
  w.header_.clear();
  w.status_ = 0;
  w.header_sent_ = w.chunked_ = w.hijacked_ = false;
  w.body_bytes_ = 0;
}

task<void> server_conn::run_handler() {
  std::exception_ptr failure;
  try {
    if (server_->handler) {
      task<void> t = server_->handler(writer_, req_);
      co_await run_watched{std::move(t).operator co_await(), this, [](server_conn* c) {
                             c->handler_suspended_ = true;
                             c->req_scope_.emplace(c->req_stop_.get_token());
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
  if (writer_.header_sent_) broken_ = true;
  if (!writer_.header_sent_ && !hijacked_) {
    writer_.header_.clear();
    writer_.status_ = 0;
    body_buf_.clear();
    writer_.write_header(status::internal_server_error);
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

// A FIN stops the request but not the response, as in Go (its background read's EOF cancels the
// request's context; writes go on): a client that half-closed after its request still reads the
// whole answer (and answers to requests it pipelined before the FIN), and the connection closes
// after them. An error or a hang-up (RST) breaks it.
task<void> server_conn::watch_disconnect(std::stop_token stop) {
  auto ready = co_await poll(conn_.native_handle(), POLLRDHUP, std::move(stop));
  watching_ = false;
  watch_done_.set();
  if (!ready) co_return;  // the request is over: stopped on purpose
  bool hard_error = (*ready & (POLLERR | POLLHUP)) != 0;
  if (!hard_error && bytes_pending(conn_.native_handle())) co_return;  // pipelined, then FIN
  if (hard_error) broken_ = true;
  // Requests already buffered came before the FIN: they are answered, as Go answers what its
  // bufio.Reader holds; the connection closes when it would have to read again.
  if (hard_error || buffered().empty()) close_after_ = true;
  req_stop_.request_stop();
}

task<void> server_conn::stop_watching() {
  if (!watching_) co_return;
  watch_stop_.request_stop();
  (void)co_await watch_done_.wait();
}

bool server_conn::body::remaining_beyond(std::uint64_t limit) const noexcept {
  const message_parser& p = c_->parser_;
  // (llhttp counts a Content-Length body down as it hands it out.)
  return !done_ && !p.chunked() && p.content_length() + pending_.size() > limit;
}

bool server_conn::body_allowed() const noexcept {
  int code = writer_.status_ ? writer_.status_ : status::ok;
  return !is_head_ && status_allows_body(code);
}

void server_conn::commit_header(bool final) {
  response_writer& w = writer_;
  int code = w.status_ ? w.status_ : status::ok;
  if (code == status::ok) {
    out_ += "HTTP/1.1 200 OK\r\n";
  } else {
    out_ += "HTTP/1.1 ";
    append_number(out_, static_cast<std::uint64_t>(code));
    out_ += ' ';
    out_ += reason_phrase(code);
    out_ += "\r\n";
  }
  // One pass over the fields finds the few the framing depends on (a lookup each cost a scan).
  bool has_date = false;
  bool conn_close = false;
  const std::string* length = nullptr;
  for (const auto& f : w.header_) {
    out_ += f.name;
    out_ += ": ";
    out_ += f.value;
    out_ += "\r\n";
    switch (f.name.size()) {
      case 4:
        has_date = has_date || iequals(f.name, "Date");
        break;
      case 10:
        conn_close =
            conn_close || (iequals(f.name, "Connection") && list_has_token(f.value, "close"));
        break;
      case 14:
        if (!length && iequals(f.name, "Content-Length")) length = &f.value;
        break;
    }
  }
  if (!has_date) {
    out_ += "Date: ";
    out_ += st_->http_date();
    out_ += "\r\n";
  }
  bool body_ok = status_allows_body(code);
  if (length) {
    has_declared_length_ = true;
    declared_length_ = std::strtoull(length->c_str(), nullptr, 10);
  } else if (body_ok && final && (!is_head_ || !body_buf_.empty())) {
    out_ += "Content-Length: ";
    append_number(out_, body_buf_.size());
    out_ += "\r\n";
  } else if (body_ok && !final && !is_head_) {
    if (req_.version_minor >= 1) {
      out_ += "Transfer-Encoding: chunked\r\n";
      w.chunked_ = true;
    } else {
      close_after_ = true;  // HTTP/1.0: the body ends when the connection does
    }
  }
  if (conn_close) close_after_ = true;
  if (close_after_ && !conn_close) out_ += "Connection: close\r\n";
  if (!close_after_ && req_.version_minor == 0) out_ += "Connection: keep-alive\r\n";
  out_ += "\r\n";
  w.header_sent_ = true;
  if (!body_buf_.empty()) {
    if (!is_head_) append_body(body_buf_);  // (header_sent_: straight to out_)
    body_buf_.clear();
  }
}

void server_conn::append_body(const_buffer data) {
  response_writer& w = writer_;
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
  if (broken_) {
    out_.clear();  // it can never be sent: the connection is done
    co_return make_error_code(std::errc::broken_pipe);
  }
  // Not the request's token: a client that half-closed still gets its answer (watch_disconnect).
  // A client that left for good makes the write fail, and only a forced shutdown cancels it.
  const std::stop_token& stop = st_->conn_stop;
  sending_ = true;
  send_done_.reset();
  out_.swap(sending_buf_);
  // The loop of conn::write_all, without its coroutine frame (this runs once per response).
  result<std::size_t> n = std::size_t{0};
  for (std::size_t done = 0; done < sending_buf_.size();) {
    n = co_await conn_.write(const_buffer(sending_buf_).subspan(done), stop, write_deadline_);
    if (!n) break;
    done += *n;
  }
  sending_buf_.clear();
  sending_ = false;
  send_done_.set();
  if (!n) {
    broken_ = true;  // a write error also cancels the handler (seed 003)
    close_after_ = true;
    req_stop_.request_stop();
    co_return n.error();
  }
  co_return result<void>{};
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
  response_writer& w = writer_;
  // A body the handler left unread: its answer goes out first, as Go's and nginx's do (the client
  // may wait for it before it sends the rest); then the rest is read away within Go's allowance
  // (server.go, maxPostHandlerReadBytes) to keep the connection. A body known to be longer, or
  // one the client may never send (its 100 Continue was not sent), closes it instead.
  const bool unread_body = !body_.done();
  if (unread_body && (expect_continue_ || body_.remaining_beyond(max_discard))) close_after_ = true;
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
  if (unread_body && !close_after_) {
    (void)co_await send_out();
    if (!co_await discard_body()) close_after_ = true;
  }
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
  if (!stop.stop_possible()) stop = c.req_.stop;
  if (c.expect_continue_) {
    c.expect_continue_ = false;
    if (!c.writer_.header_sent_) {
      c.out_ += "HTTP/1.1 100 Continue\r\n\r\n";
      if (auto sent = co_await c.send_out(); !sent) co_return sent.error();
    }
  }
  while (pending_.empty()) {
    auto step = c.parser_.feed(c.buffered());
    c.begin_ += step.consumed;
    // Framing far beyond the data (Go #64433) and trailers past the header limit would have the
    // server read input without bound, a handler's reads and discard_body's alike.
    bool bounded = guard_.admit(step, c.parser_.trailer_bytes) &&
                   c.parser_.trailer_bytes <= c.server_->max_header_bytes;
    if (step.what == message_parser::event::error || !bounded) {
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
      // The client half-closed inside the body: the handler learns it, and may still answer (the
      // write fails if the client is gone for good), as in Go.
      c.close_after_ = true;
      co_return make_error_code(net::errc::unexpected_eof);
    }
  }
  std::size_t n = std::min(buf.size, pending_.size());
  std::memcpy(buf.data, pending_.data(), n);
  pending_.remove_prefix(n);
  co_return n;
}

}  // namespace ringo::http::detail
