// server_stream: one HTTP/2 stream on the server side (Go's http2 stream + responseWriterState):
// the request its HEADERS carried, the body its DATA frames carry (a body_reader), and the
// response_sink its response_writer writes through. nghttp2 frames what the stream queues;
// server_conn owns the stream, feeds it nghttp2's events and runs its handler.
//
// Flow control is the handler's: request bytes are given back to the client's window (a
// WINDOW_UPDATE, nghttp2_session_consume) only as the handler reads them, so a client can send at
// most a window ahead of a handler; response bytes leave as the client's windows allow, and
// flush() waits for them, so a client that reads slowly stalls only its own stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <nghttp2/nghttp2.h>
#include <stop_token>
#include <string>
#include <string_view>
#include <sys/types.h>

#include "ringo/http/body.hpp"
#include "ringo/http/headers.hpp"
#include "ringo/http/request.hpp"
#include "ringo/http/response_writer.hpp"
#include "ringo/runtime/event.hpp"

namespace ringo::http::h2 {

class server_conn;

class server_stream final : public response_sink, public body_reader {
 public:
  server_stream(server_conn& c, std::int32_t id) noexcept;
  server_stream(const server_stream&) = delete;
  server_stream& operator=(const server_stream&) = delete;

  std::int32_t id() const noexcept { return id_; }
  // Makes a finished stream (its handler returned, nghttp2 done with it) stream `id` of the same
  // connection: everything the last request carried is cleared, what it allocated is kept. The
  // only way a stream is reused; streams are never shared between connections.
  void restart(std::int32_t id) noexcept;
  // Frees what a closed stream's request holds (its fields, its body bytes) while it waits to be
  // erased.
  void release() noexcept;
  request req;
  response_writer writer{*this};
  std::stop_source stop{std::nostopstate};  // request::stop's source, made when the handler starts
  std::list<server_stream>::iterator self;  // where server_conn keeps it

  // --- Its life, as server_conn sees it ---------------------------------------------------------
  bool started = false;       // handed to a handler (running, or waiting for a slot)
  bool listed = false;        // in server_conn's ready or unstarted list
  bool handler_done = false;  // the handler returned
  bool closed() const noexcept { return closed_; }
  bool remote_ended() const noexcept { return remote_ended_; }
  bool header_too_large() const noexcept { return too_large_; }

  // --- From nghttp2's callbacks ------------------------------------------------------------------
  // One field of the request's header block, or of its trailers (nghttp2 has checked it).
  void on_request_field(std::string_view name, std::string_view value);
  void on_trailer_field(std::string_view name, std::string_view value);
  void on_header_too_large() noexcept;
  // The request's header block is complete (HEADERS with END_HEADERS).
  void on_request_head();
  // DATA: body bytes (copied: they point into the connection's read buffer).
  void on_data(const std::uint8_t* data, std::size_t n);
  // END_STREAM from the client: the body is complete.
  void on_remote_end() noexcept;
  // nghttp2 closed the stream (both sides ended, or a RST_STREAM either way); `code` is the
  // RST_STREAM's error code, NO_ERROR for a normal end.
  void on_close(std::uint32_t code) noexcept;
  // A HEADERS frame of the response was serialized (or dropped).
  void on_headers_out() noexcept;
  // The data source nghttp2 pulls DATA frames from.
  ssize_t read_data(std::uint8_t* buf, std::size_t length, std::uint32_t* flags) noexcept;
  // The connection broke or is closing: nothing more can be sent or received.
  void on_connection_end() noexcept;

  // --- For the handler's end (server_conn::run_stream) -------------------------------------------
  // Gives the window of body bytes the handler left unread back to the client; later DATA is
  // dropped (and given back) as it comes.
  void discard_body() noexcept;
  // Stall detection (server_conn::check_stalls): whether no byte of the response was framed since
  // mark_progress().
  void mark_progress() noexcept { stall_mark_ = progress_; }
  bool stalled_since_mark() const noexcept { return progress_ == stall_mark_; }
  // Everything the stream queued has been framed.
  bool flushed() const noexcept { return queued() == 0 && headers_pending_ == 0; }
  bool detached() const noexcept { return detached_; }
  // Sends RST_STREAM(code) and forgets the stream on nghttp2's side.
  void reset(std::uint32_t code) noexcept;
  // Stops request::stop (the client reset the stream, the connection ended).
  void stop_request() noexcept;

  // --- response_sink ----------------------------------------------------------------------------
  void send_head(const head& h) override;
  void send_body(const_buffer data) override;
  void end_body(bool as_declared, const headers& trailers) override;
  void abort() noexcept override;
  std::size_t queued() const noexcept override { return out_.size() - out_pos_; }
  task<write_result> flush() override;
  task<write_result> send_informational(int code, const headers& fields) override;
  task<result<hijacked_conn>> hijack() override;

  // --- body_reader ------------------------------------------------------------------------------
  task<result<std::size_t>> read(mutable_buffer buf, std::stop_token stop = {}) override;
  bool done() const noexcept override { return remote_ended_ && in_pos_ == in_.size(); }
  const headers& trailers() const noexcept override { return trailers_; }

  // The request's deadlines (read_timeout, write_timeout from the stream's start); set at start.
  time_point read_deadline = no_deadline;
  time_point write_deadline = no_deadline;

 private:
  bool can_send() const noexcept;
  void submit_headers(int status, const headers& fields, const head* final_head);
  void wake() noexcept;
  std::error_code closed_error() const noexcept;
  void return_unread_window() noexcept;

  server_conn* conn_;
  std::int32_t id_;
  headers trailers_;
  headers out_trailers_;  // response_writer::trailer()'s fields, sent after the body
  std::string in_;        // body bytes received and not yet read (bounded by the stream's window)
  std::size_t in_pos_ = 0;
  std::string out_;  // body bytes queued and not yet framed
  std::size_t out_pos_ = 0;
  std::uint64_t progress_ = 0;  // bytes framed so far (stall detection)
  std::uint64_t stall_mark_ = 0;
  event in_ready_;           // body bytes, its end, or the stream's end
  event settled_;            // everything queued was framed, or the stream ended (flush, drain)
  int headers_pending_ = 0;  // HEADERS submitted and not yet serialized
  std::uint32_t close_code_ = 0;
  bool closed_ = false;
  bool detached_ = false;  // reset by this side: nghttp2 forgot it
  // The connection's window was given back for the unread body (the stream closed under its
  // handler, or nobody reads it): reads of what is left open nothing more.
  bool window_returned_ = false;
  bool remote_ended_ = false;
  bool too_large_ = false;
  bool expect_continue_ = false;
  bool head_sent_ = false;
  bool no_body_ = false;   // the HEADERS ended the stream (HEAD, 204, 304, an empty body)
  bool ended_ = false;     // end_body: the body is complete
  bool deferred_ = false;  // read_data found nothing: nghttp2 waits for resume_data
  bool conn_ended_ = false;
};

}  // namespace ringo::http::h2
