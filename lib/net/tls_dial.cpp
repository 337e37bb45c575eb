// tls_client, tls_server and dial_tls: the ways to a tls_stream (Go's tls.Client, tls.Server,
// tls.Dial and tls.DialWithDialer).
#include <algorithm>

#include "tls_session.hpp"

namespace ringo::net {
namespace {

task<tls_result> handshake_over(std::unique_ptr<stream> under, tls_context context, bool server,
                                std::string server_name, std::stop_token stop,
                                time_point deadline) {
  if (!under || !under->is_open())
    co_return tls_error{.err = make_error_code(errc::closed), .detail = {}};
  auto s = std::make_unique<detail::tls_session>(std::move(under), std::move(context), server);
  result<void, tls_error> ready =
      server ? s->prepare_server() : s->prepare_client(std::move(server_name));
  if (!ready) co_return ready.error();
  auto shook = co_await s->handshake(std::move(stop), deadline);
  if (!shook) co_return shook.error();
  co_return tls_stream(std::move(s));
}

}  // namespace

task<tls_result> tls_client(std::unique_ptr<stream> under, tls_context context,
                            std::stop_token stop, time_point deadline, std::string server_name) {
  return handshake_over(std::move(under), std::move(context), false, std::move(server_name),
                        std::move(stop), deadline);
}

task<tls_result> tls_client(conn under, tls_context context, std::stop_token stop,
                            time_point deadline, std::string server_name) {
  return handshake_over(std::make_unique<conn>(std::move(under)), std::move(context), false,
                        std::move(server_name), std::move(stop), deadline);
}

task<tls_result> tls_server(std::unique_ptr<stream> under, tls_context context,
                            std::stop_token stop, time_point deadline) {
  return handshake_over(std::move(under), std::move(context), true, {}, std::move(stop), deadline);
}

task<tls_result> tls_server(conn under, tls_context context, std::stop_token stop,
                            time_point deadline) {
  return handshake_over(std::make_unique<conn>(std::move(under)), std::move(context), true, {},
                        std::move(stop), deadline);
}

task<result<tls_stream, op_error>> dial_tls_with_dialer(dialer d, std::string network,
                                                        std::string addr, tls_context context,
                                                        std::stop_token stop) {
  // One deadline for both steps (Go: the dialer's Timeout covers the handshake too).
  if (d.timeout > duration::zero()) d.deadline = std::min(d.deadline, clock::now() + d.timeout);
  d.timeout = {};
  time_point deadline = d.deadline;
  auto c = co_await d.dial(network, addr, stop);
  if (!c) co_return c.error();
  std::string name;
  if (context.config().server_name.empty())
    if (auto hp = split_host_port(addr)) name = hp->host;
  auto peer = c->remote_address();
  op_error err{.op = "dial", .network = network, .address = peer ? peer->to_string() : addr};
  auto t = co_await tls_client(std::move(*c), std::move(context), std::move(stop), deadline,
                               std::move(name));
  if (!t) {
    err.err = t.error().err;
    err.detail = t.error().detail;
    co_return err;
  }
  co_return std::move(*t);
}

task<result<tls_stream, op_error>> dial_tls(std::string network, std::string addr,
                                            tls_context context, std::stop_token stop) {
  return dial_tls_with_dialer(dialer{}, std::move(network), std::move(addr), std::move(context),
                              std::move(stop));
}

}  // namespace ringo::net
