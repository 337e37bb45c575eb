#include "server_output.hpp"

#include "h1/writer.hpp"
#include "ringo/http/status.hpp"

namespace ringo::http::detail {

void server_output::start_connection(net::stream& s, std::stop_token stop) noexcept {
  stream_ = &s;
  stop_ = std::move(stop);
}

void server_output::start_request(int version_minor, bool head_request, bool continue_owed,
                                  time_point write_deadline) noexcept {
  version_minor_ = version_minor;
  head_request_ = head_request;
  continue_owed_ = continue_owed;
  write_deadline_ = write_deadline;
  head_sent_ = chunked_ = false;
  answer_start_ = out_.size();  // out_ may still hold answers to earlier pipelined requests
}

void server_output::reset() noexcept {
  stream_ = nullptr;
  stop_ = {};
  for (std::string* s : {&out_, &sending_buf_}) {
    s->clear();
    if (s->capacity() > 2 * response_writer::flush_threshold) std::string().swap(*s);
  }
  send_done_.set();
  answer_start_ = 0;
  write_deadline_ = no_deadline;
  version_minor_ = 1;
  head_request_ = head_sent_ = chunked_ = sending_ = false;
  close_after_ = broken_ = continue_owed_ = false;
}

bool server_output::pristine() const noexcept {
  return stream_ == nullptr && out_.empty() && sending_buf_.empty() && !sending_ &&
         send_done_.is_set() && !close_after_ && !broken_ && !continue_owed_ &&
         answer_start_ == 0 && !head_sent_ && !chunked_;
}

// Go's chunkWriter.writeHeader, for HTTP/1.1 on the wire.
void server_output::send_head(const head& h) {
  h1::append_status_line(out_, h.status);
  // One pass finds the fields the framing depends on (a lookup each cost a scan).
  bool has_date = false;
  bool conn_close = false;
  for (const auto& f : h.fields) {
    h1::append_field(out_, f.name, f.value);
    if (f.name.size() == 4)
      has_date = has_date || iequals(f.name, "Date");
    else if (f.name.size() == 10)
      conn_close =
          conn_close || (iequals(f.name, "Connection") && list_has_token(f.value, "close"));
  }
  if (!has_date) h1::append_field(out_, "Date", conn_->http_date());
  if (h.length && !h.declared) {
    h1::append_field(out_, "Content-Length", *h.length);
  } else if (!h.length && (!h.final || h.trailers) && !head_request_ &&
             status_allows_body(h.status)) {
    if (version_minor_ >= 1) {
      out_ += "Transfer-Encoding: chunked\r\n";
      chunked_ = true;
    } else {
      close_after_ = true;  // HTTP/1.0: the body ends when the connection does
    }
  }
  if (conn_close) close_after_ = true;
  if (close_after_ && !conn_close) out_ += "Connection: close\r\n";
  if (!close_after_ && version_minor_ == 0) out_ += "Connection: keep-alive\r\n";
  out_ += "\r\n";
  head_sent_ = true;
}

void server_output::send_body(const_buffer data) {
  const std::string_view bytes(static_cast<const char*>(data.data), data.size);
  if (chunked_)
    h1::append_chunk(out_, bytes);
  else
    out_ += bytes;
}

// A small file is read into the output behind the head and leaves in one send with it: at 4 KiB
// that costs less than the head's send and two splices (bench/files.sh; README, "Serving
// files"). Cached pages are copied there at once; what the cache lacks is read through the ring
// (a cold disk never blocks) into a buffer of its own, since the output may be sent while the
// handler waits for it (earlier pipelined answers go out then: on_handler_suspended), and its
// bytes are appended when they are all there. A larger file goes through the stream after the
// queued bytes (no copy on a socket), and its send counts as the send in flight: a pipelined
// answer queued meanwhile waits.
task<write_result> server_output::send_file(const file& f, std::uint64_t offset,
                                            std::uint64_t length) {
  if (chunked_) {  // "size\r\n", the file, "\r\n"
    h1::append_hex(out_, length);
    out_ += h1::chunk_end;
  }
  if (length <= small_file && !broken_) {
    const std::size_t at = out_.size();
    std::size_t done = 0;
    out_.resize(at + length);
    while (done < length) {
      result<std::size_t> n =
          f.read_cached(mutable_buffer(out_.data() + at + done, length - done), offset + done);
      if (!n || *n == 0) break;
      done += *n;
    }
    out_.resize(at + done);
    if (done < length) {
      std::string rest(length - done, '\0');
      for (std::size_t got = 0; got < rest.size();) {
        result<std::size_t> n = co_await f.read_at(
            mutable_buffer(rest.data() + got, rest.size() - got), offset + done + got);
        if (!n || *n == 0) {
          co_await cut_answer();  // the client must see this answer cut
          conn_->send_failed();
          co_return n ? make_error_code(std::errc::io_error) : n.error();
        }
        got += *n;
      }
      out_ += rest;
    }
    if (chunked_) out_ += "\r\n";
    co_return write_result{};
  }
  if (result<void> sent = co_await send_out(); !sent) co_return sent.error();
  while (sending_) (void)co_await send_done_.wait();
  if (broken_) co_return make_error_code(std::errc::broken_pipe);
  sending_ = true;
  send_done_.reset();
  result<std::uint64_t> n = co_await stream_->send_file(f, offset, length, stop_, write_deadline_);
  sending_ = false;
  send_done_.set();
  if (!n) {
    set_broken();
    conn_->send_failed();
    co_return n.error();
  }
  if (chunked_) out_ += "\r\n";
  co_return write_result{};
}

void server_output::end_body(bool as_declared, const headers& trailers) {
  if (chunked_) h1::append_last_chunk(out_, trailers.empty() ? nullptr : &trailers);
  chunked_ = false;
  if (!as_declared) close_after_ = true;  // the client cannot tell where the next answer starts
}

// What is queued still goes out (as Go's final flush sends what its buffer holds), but never the
// body's end: a chunked body lacks its last chunk and a sized one its last bytes when the
// connection closes, so the client knows the response is cut.
void server_output::abort() noexcept {
  chunked_ = false;
  close_after_ = true;
}

task<write_result> server_output::flush() {
  co_return co_await send_out();
}

task<write_result> server_output::send_informational(int code, const headers& fields) {
  h1::append_status_line(out_, code);
  h1::append_fields(out_, fields);
  out_ += "\r\n";
  if (code == status::continue_) continue_owed_ = false;  // sent by hand: not owed any more
  co_return co_await send_out();
}

task<result<hijacked_conn>> server_output::hijack() {
  if (result<void> sent = co_await send_out(); !sent) co_return sent.error();
  co_return co_await conn_->take_over();
}

task<result<void>> server_output::send_out() {
  // One send at a time (an earlier pipelined answer's send may be in flight when the handler
  // sends), in order.
  while (sending_) (void)co_await send_done_.wait();
  if (out_.empty()) co_return result<void>{};
  if (broken_) {
    out_.clear();  // it can never be sent: the connection is done
    co_return make_error_code(std::errc::broken_pipe);
  }
  // Not the request's token: a client that half-closed still gets its answer (conn_reader). A
  // client that left for good makes the write fail, and only a forced shutdown cancels it.
  sending_ = true;
  send_done_.reset();
  out_.swap(sending_buf_);
  answer_start_ = 0;
  // The loop of stream::write_all, without its coroutine frame (this runs once per response).
  result<std::size_t> n = std::size_t{0};
  for (std::size_t done = 0; done < sending_buf_.size();) {
    n = co_await stream_->write(const_buffer(sending_buf_).subspan(done), stop_, write_deadline_);
    if (!n) break;
    done += *n;
  }
  sending_buf_.clear();
  sending_ = false;
  send_done_.set();
  if (!n) {
    set_broken();
    conn_->send_failed();
    co_return n.error();
  }
  co_return result<void>{};
}

task<result<void>> server_output::send_continue() {
  if (!continue_owed_) co_return result<void>{};
  continue_owed_ = false;
  if (head_sent_) co_return result<void>{};  // the answer came first: the body is not asked for
  out_ += "HTTP/1.1 100 Continue\r\n\r\n";
  co_return co_await send_out();
}

void server_output::queue_error(int code, std::string_view text) {
  h1::append_status_line(out_, code);
  out_ += "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n";
  h1::append_field(out_, "Content-Length", text.size() + 1);
  out_ += "\r\n";
  out_ += text;
  out_ += '\n';
  close_after_ = true;
}

void server_output::set_broken() noexcept {
  broken_ = close_after_ = true;
  out_.clear();
  answer_start_ = 0;
}

task<void> server_output::cut_answer() {
  if (!broken_) {
    out_.resize(answer_start_);
    (void)co_await send_out();  // the earlier answers: Go sends each as its request ends
  }
  set_broken();
}

}  // namespace ringo::http::detail
