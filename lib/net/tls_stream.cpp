// tls_stream: the net::stream over a tls_session. Reads decrypt what fill() brought in; writes
// encrypt into the pair and flush() it out before they return.
#include <openssl/err.h>

#include "tls_session.hpp"

namespace ringo::net {
namespace {

std::error_code closed() {
  return make_error_code(errc::closed);
}

// Marks the reading direction busy for as long as a reader, wait_readable or wait_hangup runs.
struct reading_guard {
  explicit reading_guard(detail::tls_session* s) noexcept : s_(s) { s_->reading = true; }
  ~reading_guard() { s_->reading = false; }
  reading_guard(const reading_guard&) = delete;
  reading_guard& operator=(const reading_guard&) = delete;
  detail::tls_session* s_;
};

// SSL_peek of one byte: processes what waits (records without data too, such as session
// tickets) and says what a read would meet, consuming nothing.
int peek(SSL* ssl) {
  char byte;
  std::size_t n = 0;
  ERR_clear_error();
  int r = SSL_peek_ex(ssl, &byte, 1, &n);
  return r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, r);
}

bool deadline_passed(time_point deadline) {
  return deadline != no_deadline && clock::now() >= deadline;
}

}  // namespace

tls_stream::tls_stream() noexcept : stream(-1) {}

tls_stream::tls_stream(std::unique_ptr<detail::tls_session> session) noexcept
    : stream(-1), s_(std::move(session)) {}

tls_stream::tls_stream(tls_stream&& other) noexcept
    : stream(std::move(other)), s_(std::move(other.s_)) {}

tls_stream& tls_stream::operator=(tls_stream&& other) noexcept {
  stream::operator=(std::move(other));
  s_ = std::move(other.s_);
  return *this;
}

tls_stream::~tls_stream() = default;

stream& tls_stream::underlying() noexcept {
  return *s_->under;
}

bool tls_stream::is_open() const noexcept {
  return s_ && s_->under && s_->under->is_open();
}

void tls_stream::close() noexcept {
  if (s_ && s_->under) s_->under->close();
}

task<result<std::size_t>> tls_stream::read_some(mutable_buffer buf, std::stop_token stop,
                                                time_point deadline) {
  if (!is_open()) co_return closed();
  detail::tls_session* s = s_.get();
  if (buf.size == 0) co_return std::size_t{0};
  if (!s->ensure_wire()) co_return make_error_code(std::errc::not_enough_memory);
  reading_guard busy(s);
  SSL* ssl = s->ssl.get();
  for (;;) {
    if (s->read_error) co_return s->read_error;
    ERR_clear_error();
    std::size_t n = 0;
    int r = SSL_read_ex(ssl, buf.data, buf.size, &n);
    if (r == 1) co_return n;
    int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_ZERO_RETURN) co_return std::size_t{0};  // close_notify: the end
    if (e == SSL_ERROR_WANT_READ) {
      // A bounded wait: a stop or the deadline returns here with nothing lost, since bytes a
      // cancelled recv got are kept in the pair.
      auto got = co_await s->fill(stop, deadline);
      if (!got) co_return got.error();
      continue;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
      // The SSL must answer something (a TLS 1.3 KeyUpdate) while a writer's records fill the
      // pair: take a turn at sending.
      auto turn = co_await s->write_lock.lock(stop, deadline);
      if (!turn) co_return turn.error();
      auto sent = co_await s->flush(stop, deadline);
      if (!sent) co_return s->write_error = sent.error();
      continue;
    }
    s->read_error = s->failure(e).err;
    co_await s->flush_alert(stop, deadline);
    co_return s->read_error;
  }
}

task<result<std::size_t>> tls_stream::write_some(const_buffer buf, std::stop_token stop,
                                                 time_point deadline) {
  if (!is_open()) co_return closed();
  detail::tls_session* s = s_.get();
  if (buf.size == 0) co_return std::size_t{0};
  auto turn = co_await s->write_lock.lock(stop, deadline);
  if (!turn) co_return turn.error();
  if (s->write_error) co_return s->write_error;
  if (s->close_notify_sent) co_return make_error_code(errc::tls_shutdown);
  // Fail before encrypting when the caller already gave up: past SSL_write the bytes are
  // committed, and a write stopped halfway breaks the write side for good.
  if (stop.stop_requested()) co_return make_error_code(ringo::errc::operation_canceled);
  if (deadline_passed(deadline)) co_return make_error_code(ringo::errc::timed_out);
  if (!s->ensure_wire()) co_return make_error_code(std::errc::not_enough_memory);
  SSL* ssl = s->ssl.get();
  for (;;) {
    ERR_clear_error();
    std::size_t n = 0;
    int r = SSL_write_ex(ssl, buf.data, buf.size, &n);  // one record at most (partial writes)
    int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, r);
    std::error_code failed;
    if (e != SSL_ERROR_NONE && e != SSL_ERROR_WANT_WRITE) failed = s->failure(e).err;
    auto sent = co_await s->flush(stop, deadline);
    if (!sent && !failed) failed = sent.error();
    if (failed) co_return s->write_error = failed;
    if (e == SSL_ERROR_NONE) co_return n;
    // WANT_WRITE: the pair was full and is empty now; OpenSSL wants the same bytes again.
  }
}

task<result<void>> tls_stream::close_write(std::stop_token stop, time_point deadline) {
  if (!is_open()) co_return closed();
  detail::tls_session* s = s_.get();
  auto turn = co_await s->write_lock.lock(stop, deadline);
  if (!turn) co_return turn.error();
  if (s->write_error) co_return s->write_error;
  // After a fatal error OpenSSL must not be asked to shut down; the peer learns of the end from
  // the underlying stream alone then.
  bool fatal = bool(s->read_error);
  if (!s->ensure_wire()) co_return make_error_code(std::errc::not_enough_memory);
  while (!s->close_notify_sent && !fatal) {
    ERR_clear_error();
    int r = SSL_shutdown(s->ssl.get());  // 0 or 1: close_notify is in the pair
    bool full = r < 0 && SSL_get_error(s->ssl.get(), r) == SSL_ERROR_WANT_WRITE;
    ERR_clear_error();
    if (!full) s->close_notify_sent = true;
    auto sent = co_await s->flush(stop, deadline);
    if (!sent) co_return s->write_error = sent.error();
  }
  co_return co_await s->under->close_write(std::move(stop), deadline);
}

task<result<hangup>> tls_stream::wait_hangup(std::stop_token stop) {
  if (!is_open()) co_return closed();
  detail::tls_session* s = s_.get();
  s->shed_wire();  // an idle connection's watch: it needs no buffers while it waits
  auto seen = co_await s->under->wait_hangup(stop);
  if (!seen) co_return seen;
  if (*seen == hangup::broken) co_return hangup::broken;
  SSL* ssl = s->ssl.get();
  if (SSL_pending(ssl) > 0 || s->pending_input() > 0 || s->reading) co_return hangup::closed_later;
  if (*seen == hangup::closed) co_return hangup::closed;
  // The peer's last bytes wait in the socket: they may be data, or only its close_notify (which a
  // clean TLS close always puts before the FIN). Decrypt enough to tell.
  if (!s->ensure_wire()) co_return make_error_code(std::errc::not_enough_memory);
  reading_guard busy(s);
  for (;;) {
    int e = peek(ssl);
    if (e == SSL_ERROR_NONE) co_return hangup::closed_later;
    if (e == SSL_ERROR_ZERO_RETURN) co_return hangup::closed;
    if (e != SSL_ERROR_WANT_READ) {
      s->read_error = s->failure(e).err;
      co_return s->read_error == errc::unexpected_eof ? hangup::closed : hangup::broken;
    }
    if (s->end_fed) co_return hangup::closed;  // (the SSL reports the end itself; be sure)
    auto got = co_await s->fill(stop, no_deadline);
    if (!got) co_return got.error();
  }
}

task<result<void>> tls_stream::wait_readable_some(std::stop_token stop, time_point deadline) {
  if (!is_open()) co_return closed();
  detail::tls_session* s = s_.get();
  SSL* ssl = s->ssl.get();
  if (s->read_error || SSL_pending(ssl) > 0) co_return result<void>{};
  reading_guard busy(s);
  for (;;) {
    if (s->pending_input() > 0 || SSL_has_pending(ssl) || s->end_fed) {
      if (!s->ensure_wire()) co_return make_error_code(std::errc::not_enough_memory);
      int e = peek(ssl);
      if (e != SSL_ERROR_WANT_READ) {
        if (e != SSL_ERROR_NONE && e != SSL_ERROR_ZERO_RETURN) s->read_error = s->failure(e).err;
        co_return result<void>{};  // data, the end, or an error: a read returns at once
      }
      if (s->end_fed) co_return result<void>{};
    } else {
      // Nothing here: wait for the socket without holding buffers (an idle connection's watch
      // costs little more than a plain conn's), then take what came.
      s->shed_wire(true);
      auto ready = co_await s->under->wait_readable(stop, deadline);
      if (!ready) co_return ready;
    }
    auto got = co_await s->fill(stop, deadline);
    if (!got) co_return got.error();
  }
}

bool tls_stream::has_buffered_input() const noexcept {
  if (!s_ || !s_->ssl) return false;
  SSL* ssl = s_->ssl.get();
  return SSL_pending(ssl) > 0 || SSL_has_pending(ssl) || s_->pending_input() > 0 ||
         (s_->under && s_->under->has_buffered_input());
}

result<address> tls_stream::local_address() const noexcept {
  if (!s_ || !s_->under) return closed();
  return s_->under->local_address();
}

result<address> tls_stream::remote_address() const noexcept {
  if (!s_ || !s_->under) return closed();
  return s_->under->remote_address();
}

std::string_view tls_stream::network() const noexcept {
  return s_ && s_->under ? s_->under->network() : std::string_view();
}

}  // namespace ringo::net
