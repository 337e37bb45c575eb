#include "ringo/net/listener.hpp"

#include <algorithm>
#include <cerrno>
#include <sys/socket.h>
#include <unistd.h>

#include "ringo/runtime/operations.hpp"
#include "ringo/runtime/socket.hpp"

namespace ringo::net {
namespace {

using namespace std::chrono_literals;

// Resource exhaustion passes; Go's Server sleeps and retries on these instead of giving up.
bool temporary(std::error_code ec) {
  return ec == std::errc::too_many_files_open || ec == std::errc::too_many_files_open_in_system ||
         ec == std::errc::no_buffer_space || ec == std::errc::not_enough_memory;
}

result<address> listen_address(std::string_view network, std::string_view hostport) {
  if (network == "unix") return parse_address(network, hostport);
  auto hp = split_host_port(hostport);
  if (!hp) return hp.error();
  auto port = parse_port(hp->port);
  if (!port) return port.error();
  std::string host = hp->host;
  bool v6 = network == "tcp6";
  if (host.empty()) host = (network == "tcp4") ? "0.0.0.0" : "::";  // [::] takes IPv4 too
  if (host == "localhost") host = v6 ? "::1" : "127.0.0.1";
  auto a = address::numeric(host, *port);
  if (!a || (network == "tcp4" && !a->is_ipv4()) || (v6 && !a->is_ipv6()))
    return make_error_code(errc::invalid_address);
  return *a;
}

}  // namespace

result<listener, op_error> listen(std::string_view network, std::string_view where,
                                  listen_options options) {
  op_error error{.op = "listen", .network = std::string(network), .address = std::string(where)};
  if (network != "tcp" && network != "tcp4" && network != "tcp6" && network != "unix") {
    error.err = errc::unknown_network;
    return error;
  }
  auto addr = listen_address(network, where);
  if (!addr) {
    error.err = addr.error();
    return error;
  }
  auto fd = listen_stream(*addr, options);
  if (!fd) {
    error.syscall = "bind";
    error.err = fd.error();
    return error;
  }
  listener l;
  l.address_ = local_address(fd->get()).value_or(*addr);
  l.network_ = std::string(network);
  l.fd_ = std::move(*fd);
  return l;
}

task<result<conn, op_error>> listener::accept(std::stop_token stop) {
  duration backoff{};
  for (;;) {
    if (!fd_) co_return op_error{"accept", network_, "", address_.to_string(), "", errc::closed};
    // Armed by the first accept, not by listen(): the acceptor belongs to the io_context of the
    // thread it is created on, and a listener is often made before ringo::run creates one.
    if (!acceptor_) acceptor_ = std::make_unique<multishot_acceptor>(fd_.get());
    auto fd = co_await acceptor_->next(stop);
    if (fd) {
      conn c(std::move(*fd), network_);
      if (network_ != "unix") (void)c.set_nodelay(true);  // Go's default for TCP
      co_return c;
    }
    std::error_code ec = fd.error();
    if (ec == std::errc::connection_aborted) continue;  // the peer gave up while queued
    if (temporary(ec)) {
      backoff = std::min<duration>(backoff == duration{} ? 5ms : backoff * 2, 1s);
      if (auto slept = co_await sleep_for(backoff, stop); !slept)
        ec = slept.error();
      else
        continue;
    }
    co_return op_error{"accept", network_, "", address_.to_string(), "", ec};
  }
}

void listener::close() noexcept {
  acceptor_.reset();
  if (fd_ && network_ == "unix") {
    std::string path = address_.host();
    if (!path.empty() && path[0] != '@') ::unlink(path.c_str());
  }
  fd_.reset();
}

}  // namespace ringo::net
