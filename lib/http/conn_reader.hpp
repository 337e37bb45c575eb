// conn_reader: notices a client that leaves while its handler runs (Go's connReader and its
// background read). While a handler that has suspended runs with its body consumed (from
// server_conn::watch_delay on), the reader waits on the stream for the client to hang up, reading
// nothing (net::stream::wait_hangup): no byte a pipelined client sent can be lost, and the same
// holds across hijack. What a hang-up means is the connection's to decide
// (listener::on_hangup). The wait has no deadline, so read timeouts never end it (Go #18447).
#pragma once

#include <stop_token>

#include <ringo/net/stream.hpp>
#include <ringo/runtime/event.hpp>
#include <ringo/runtime/scope.hpp>
#include <ringo/runtime/task.hpp>

namespace ringo::http::detail {

class conn_reader {
 public:
  class listener {
   public:
    virtual void on_hangup(net::hangup h) noexcept = 0;

   protected:
    ~listener() = default;
  };

  // Starts watching `s` in `sc` (the scope beside the handler), unless already watching. The
  // watch takes the scope's stop token: a stop source of its own would cost an allocation a
  // request.
  void start(scope& sc, net::stream& s, listener& l);
  // Ends the watch and waits for it (before the stream is read again or handed over), by stopping
  // the scope it was started in: whatever else runs there must not depend on that scope's token.
  task<void> stop();
  bool watching() const noexcept { return watching_; }

  bool pristine() const noexcept { return !watching_ && done_.is_set(); }
  void reset() noexcept;

 private:
  task<void> watch(net::stream* s, listener* l, std::stop_token stop);

  bool watching_ = false;
  scope* scope_ = nullptr;  // the scope the watch runs in (the server_conn's), while watching
  event done_{true};
};

}  // namespace ringo::http::detail
