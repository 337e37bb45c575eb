// listener: a listening stream socket and its accept loop (Go's net.Listener).
//
// accept() draws from one multishot accept kept armed on the ring. Errors that mean "out of
// resources for now" (EMFILE, ENFILE, ENOBUFS, ENOMEM) do not end the loop: accept() backs off
// 5 ms, doubling to 1 s, and tries again, as Go's http.Server does; a connection aborted before it
// was accepted is skipped. A stop request ends the wait with operation_canceled and loses nothing.
#pragma once

#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include <ringo/net/address.hpp>
#include <ringo/net/conn.hpp>
#include <ringo/net/error.hpp>
#include <ringo/runtime/multishot_acceptor.hpp>
#include <ringo/runtime/socket.hpp>
#include <ringo/runtime/task.hpp>
#include <ringo/runtime/unique_fd.hpp>

namespace ringo::net {

class listener {
 public:
  listener() = default;
  listener(listener&&) noexcept = default;
  listener& operator=(listener&&) noexcept = default;
  ~listener() { close(); }

  // Accepts connections on this thread's io_context.
  task<result<conn, op_error>> accept(std::stop_token stop = {});
  // The address it listens on (with the port the kernel chose for ":0").
  const address& addr() const noexcept { return address_; }
  const std::string& network() const noexcept { return network_; }
  int native_handle() const noexcept { return fd_.get(); }
  bool is_open() const noexcept { return bool(fd_); }
  // Stops listening; connections queued but not accepted are closed.
  void close() noexcept;

 private:
  friend result<listener, op_error> listen(std::string_view, std::string_view, listen_options);
  unique_fd fd_;
  address address_;
  std::string network_;
  std::unique_ptr<multishot_acceptor> acceptor_;
};

// Listens on "host:port" for network "tcp", "tcp4", "tcp6" or "unix" (a path). The host must be
// numeric, empty (every address: [::] accepting IPv4 too, or 0.0.0.0 for tcp4) or "localhost".
result<listener, op_error> listen(std::string_view network, std::string_view address,
                                  listen_options options = {});

}  // namespace ringo::net
