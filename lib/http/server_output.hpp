// server_output: what a server connection sends (Go's chunkWriter and the conn's bufio.Writer):
// the response_sink of its response_writer, framing each response for HTTP/1.1 (a Content-Length,
// chunked, or the connection's end for HTTP/1.0), the Date, Connection, 100 Continue and the
// error answers the server makes itself.
//
// Output is queued and sent in as few writes as possible: answers to pipelined requests share a
// send with the next ones. One send is in flight at a time; the bytes in flight have their own
// buffer, so the handler can queue more meanwhile. A send that fails breaks the connection: what
// is queued then can never be sent and is dropped at once. An answer that cannot be completed is
// cut: what is queued of it is dropped, the earlier answers still go out, and the connection ends.
#pragma once

#include <cstddef>
#include <stop_token>
#include <string>
#include <string_view>

#include <ringo/http/response_writer.hpp>
#include <ringo/net/stream.hpp>
#include <ringo/runtime/event.hpp>

namespace ringo::http::detail {

class server_output final : public response_sink {
 public:
  // What the output needs from its connection.
  class connection {
   public:
    // Hands the connection to a hijacker (the output has sent what was queued).
    virtual task<result<hijacked_conn>> take_over() = 0;
    // A send failed: the connection is broken (its request's token is stopped).
    virtual void send_failed() noexcept = 0;
    // The Date field's value, formatted once a second.
    virtual std::string_view http_date() = 0;

   protected:
    ~connection() = default;
  };

  explicit server_output(connection& c) noexcept : conn_(&c) {}

  // A new connection: `s` is where bytes go, `stop` cancels sends (a forced shutdown).
  void start_connection(net::stream& s, std::stop_token stop) noexcept;
  // A new request: the response's framing depends on its version and method; `continue_owed`: it
  // expects 100-continue, sent at its body's first read (send_continue).
  void start_request(int version_minor, bool head_request, bool continue_owed,
                     time_point write_deadline) noexcept;
  // Clears everything (server_conn::reset).
  void reset() noexcept;

  // --- response_sink ---
  void send_head(const head& h) override;
  void send_body(const_buffer data) override;
  task<write_result> send_file(const file& f, std::uint64_t offset, std::uint64_t length) override;
  void end_body(bool as_declared, const headers& trailers) override;
  void abort() noexcept override;
  std::size_t queued() const noexcept override { return out_.size(); }
  task<write_result> flush() override;
  task<write_result> send_informational(int code, const headers& fields) override;
  task<result<hijacked_conn>> hijack() override;
  void close_after_response() noexcept override { close_after(); }

  // --- For the connection ---
  // Sends everything queued.
  task<result<void>> send_out();
  // Sends "100 Continue" if the request expects it and no answer has started.
  task<result<void>> send_continue();
  bool continue_owed() const noexcept { return continue_owed_; }
  // Queues an answer the server makes itself (400, 431, 501 ...), with Connection: close.
  void queue_error(int code, std::string_view text);
  // No keep-alive after the current response.
  void close_after() noexcept { close_after_ = true; }
  bool closing() const noexcept { return close_after_; }
  // The connection broke: nothing more can be sent.
  void set_broken() noexcept;
  bool broken() const noexcept { return broken_; }
  // The current answer cannot be completed (its handler failed after its head was committed, or
  // its file could not be read): cut as the class comment says; then broken().
  task<void> cut_answer();
  // Whether answers to earlier pipelined requests are queued, unsent, before the current one.
  bool answers_queued() const noexcept { return answer_start_ != 0; }
  bool sending() const noexcept { return sending_; }
  bool pristine() const noexcept;

  // Files up to this size are read into the output and sent with the head (send_file).
  static constexpr std::uint64_t small_file = 16 << 10;

 private:
  connection* conn_;
  net::stream* stream_ = nullptr;
  std::stop_token stop_;
  std::string out_;          // bytes ready to send
  std::string sending_buf_;  // the bytes of the send in flight (swapped with out_: no allocation)
  std::size_t answer_start_ = 0;  // where the current answer starts in out_ (earlier ones before)
  event send_done_{true};
  time_point write_deadline_ = no_deadline;
  int version_minor_ = 1;
  bool head_request_ = false;
  bool head_sent_ = false;  // the current response's head is queued or sent
  bool chunked_ = false;    // the current response's body is chunked
  bool sending_ = false;
  bool close_after_ = false;
  bool broken_ = false;
  bool continue_owed_ = false;
};

}  // namespace ringo::http::detail
