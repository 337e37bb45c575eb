// conn: reads and writes with stop tokens and deadlines, Go's SetDeadline defaults, half close,
// addresses and socket options, over real loopback connections.
#include <chrono>
#include <filesystem>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include <ringo/net.hpp>

#include "net_test.hpp"

namespace ringo::net {
namespace {

using namespace std::chrono_literals;
using ringo::test::value_or;
using test::ms;

class Conn : public test::RingoTest {};

// Both ends of one connection: `client` dialed, `server` accepted.
struct conn_pair {
  conn client;
  conn server;
};

task<conn_pair> connected_pair(std::string network = "tcp", std::string where = "127.0.0.1:0") {
  auto l = listen(network, where).value();
  auto c = co_await dial(network, l.addr().to_string());
  EXPECT_TRUE(c) << c.error().message();
  auto s = co_await l.accept();
  EXPECT_TRUE(s) << s.error().message();
  co_return conn_pair{std::move(c).value(), std::move(s).value()};
}

// --- read / write --------------------------------------------------------------------------

task<void> echo_once() {
  auto [client, server] = co_await connected_pair();
  auto w = co_await client.write("hello");
  EXPECT_EQ(value_or(w, 0u), 5u);
  char buf[16];
  auto r = co_await server.read(buf);
  EXPECT_EQ(value_or(r, 0u), 5u);
  EXPECT_EQ(std::string(buf, value_or(r, 0u)), "hello");

  // End of stream reads as 0, as often as asked.
  client.close();
  EXPECT_FALSE(client.is_open());
  client.close();  // idempotent
  for (int i = 0; i < 2; ++i) {
    auto eof = co_await server.read(buf);
    EXPECT_TRUE(eof) << eof.error().message();
    EXPECT_EQ(value_or(eof, 99u), 0u);
  }
}
TEST_F(Conn, WritesAndReadsAndSeesEndOfStream) {
  run(echo_once());
}

task<void> writer_in_pieces(conn* c, std::string text) {
  for (char ch : text) {
    auto w = co_await c->write(std::string_view(&ch, 1));
    EXPECT_TRUE(w);
    (void)co_await sleep_for(1ms);
  }
}

task<void> read_full_across_writes() {
  auto [client, server] = co_await connected_pair();
  const std::string text = "read_full waits for every byte";
  std::string got(text.size(), '\0');
  std::optional<result<std::size_t>> r;
  scope s;
  s.spawn(writer_in_pieces(&client, text));
  r.emplace(co_await server.read_full(got));
  co_await s.join();
  EXPECT_EQ(value_or(*r, 0u), text.size());
  EXPECT_EQ(got, text);

  // A stream that ends inside the buffer is unexpected_eof ("unexpected EOF").
  auto w = co_await client.write("abc");
  EXPECT_TRUE(w);
  EXPECT_TRUE(client.shutdown());
  char buf[8];
  auto short_read = co_await server.read_full(buf);
  EXPECT_FALSE(short_read);
  EXPECT_EQ(short_read.error(), errc::unexpected_eof);
  EXPECT_EQ(error_text(short_read.error()), "unexpected EOF");
}
TEST_F(Conn, ReadFullFillsTheBufferOrReportsUnexpectedEof) {
  run(read_full_across_writes());
}

task<void> drain(conn* c, std::size_t* total) {
  std::vector<char> buf(1 << 16);
  for (;;) {
    auto r = co_await c->read(buf);
    if (!r || *r == 0) break;
    *total += *r;
  }
}

task<void> write_all_large() {
  auto [client, server] = co_await connected_pair();
  // Far more than the socket buffers hold: write_all must loop over short writes.
  std::vector<char> big(16 << 20);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
  std::size_t received = 0;
  scope s;
  s.spawn(drain(&server, &received));
  auto w = co_await client.write_all(big);
  client.close();
  co_await s.join();
  EXPECT_EQ(value_or(w, 0u), big.size());
  EXPECT_EQ(received, big.size());
}
TEST_F(Conn, WriteAllWritesEverything) {
  run(write_all_large());
}

task<void> write_to_closed_peer() {
  auto [client, server] = co_await connected_pair();
  server.close();
  // The first writes may still be accepted; then the peer's reset surfaces as an error (EPIPE or
  // ECONNRESET), never as SIGPIPE.
  result<std::size_t> w = std::size_t{0};
  for (int i = 0; i < 100 && w; ++i) {
    w = co_await client.write("x");
    (void)co_await sleep_for(1ms);
  }
  EXPECT_FALSE(w);
  EXPECT_TRUE(w.error() == std::errc::broken_pipe || w.error() == std::errc::connection_reset)
      << w.error().message();
}
TEST_F(Conn, WriteToAClosedPeerFailsWithoutSigpipe) {
  run(write_to_closed_peer());
}

// --- stop and deadlines ----------------------------------------------------------------------

task<void> stop_read() {
  auto [client, server] = co_await connected_pair();
  std::stop_source src;
  scope s;
  s.spawn(test::stop_after(&src, 20ms));
  char buf[8];
  auto start = clock::now();
  auto r = co_await server.read(buf, src.get_token());
  co_await s.join();
  EXPECT_EQ(r.error(), std::errc::operation_canceled);
  EXPECT_GE(ms(clock::now() - start), 19.0);
  // The conn is still usable afterwards.
  (void)co_await client.write("z");
  auto again = co_await server.read(buf);
  EXPECT_EQ(value_or(again, 0u), 1u);
}
TEST_F(Conn, StopEndsARead) {
  run(stop_read());
}

task<void> read_deadlines() {
  auto [client, server] = co_await connected_pair();
  char buf[8];

  // The call's own deadline.
  auto start = clock::now();
  auto r = co_await server.read(buf, {}, start + 30ms);
  EXPECT_EQ(r.error(), std::errc::timed_out);
  EXPECT_GE(clock::now(), start + 30ms);

  // Go's SetReadDeadline: applies to calls that give none.
  start = clock::now();
  server.set_read_deadline(start + 30ms);
  r = co_await server.read(buf);
  EXPECT_EQ(r.error(), std::errc::timed_out);
  EXPECT_GE(clock::now(), start + 30ms);
  EXPECT_LT(ms(clock::now() - start), 500.0);

  // The earlier of the two wins.
  start = clock::now();
  server.set_read_deadline(start + 10s);
  r = co_await server.read(buf, {}, start + 20ms);
  EXPECT_EQ(r.error(), std::errc::timed_out);
  EXPECT_LT(ms(clock::now() - start), 1000.0);
  start = clock::now();
  server.set_read_deadline(start + 20ms);
  r = co_await server.read(buf, {}, start + 10s);
  EXPECT_EQ(r.error(), std::errc::timed_out);
  EXPECT_LT(ms(clock::now() - start), 1000.0);

  // A deadline in the past fails at once, as in Go.
  server.set_read_deadline(clock::now() - 1ms);
  start = clock::now();
  r = co_await server.read(buf);
  EXPECT_EQ(r.error(), std::errc::timed_out);
  EXPECT_LT(ms(clock::now() - start), 5.0);

  // no_deadline clears it; read_full obeys it too.
  server.set_read_deadline(no_deadline);
  (void)co_await client.write("ok");
  r = co_await server.read(buf);
  EXPECT_EQ(value_or(r, 0u), 2u);
  server.set_deadline(clock::now() + 20ms);
  auto full = co_await server.read_full(buf);
  EXPECT_EQ(full.error(), std::errc::timed_out);
  EXPECT_EQ(error_text(full.error()), "i/o timeout");
}
TEST_F(Conn, ReadDeadlinesWorkLikeSetReadDeadline) {
  run(read_deadlines());
}

task<void> write_deadlines() {
  auto [client, server] = co_await connected_pair();
  // Nobody reads the server side: once the buffers are full a write waits, until its deadline.
  test::fill_until_blocked(client.native_handle());
  std::string more(1 << 20, 'w');
  auto start = clock::now();
  client.set_write_deadline(start + 30ms);
  auto w = co_await client.write_all(more);
  EXPECT_EQ(w.error(), std::errc::timed_out);
  EXPECT_GE(clock::now(), start + 30ms);
  EXPECT_LT(ms(clock::now() - start), 1000.0);

  // set_deadline sets both; the write deadline does not limit reads and vice versa.
  client.set_deadline(no_deadline);
  client.set_write_deadline(clock::now() - 1ms);
  server.set_read_deadline(clock::now() - 1ms);
  auto w2 = co_await server.write("fine");  // server's write deadline is unset
  EXPECT_EQ(value_or(w2, 0u), 4u);
  char buf[8];
  auto r = co_await client.read(buf);  // client's read deadline is unset
  EXPECT_EQ(value_or(r, 0u), 4u);
  auto w3 = co_await client.write("x");
  EXPECT_EQ(w3.error(), std::errc::timed_out);
}
TEST_F(Conn, WriteDeadlinesWorkLikeSetWriteDeadline) {
  run(write_deadlines());
}

// --- shutdown, addresses, options, ownership -------------------------------------------------

task<void> half_close() {
  auto [client, server] = co_await connected_pair();
  (void)co_await client.write("last words");
  EXPECT_TRUE(client.shutdown(SHUT_WR));
  // The server reads the data, then end of stream...
  std::string got;
  char buf[64];
  for (;;) {
    auto r = co_await server.read(buf);
    EXPECT_TRUE(r);
    if (!r || *r == 0) break;
    got.append(buf, *r);
  }
  EXPECT_EQ(got, "last words");
  // ...and can still answer: the other direction stays open.
  auto w = co_await server.write("reply");
  EXPECT_EQ(value_or(w, 0u), 5u);
  auto r = co_await client.read(buf);
  EXPECT_EQ(std::string(buf, value_or(r, 0u)), "reply");
  // Writing after SHUT_WR is EPIPE.
  auto late = co_await client.write("more");
  EXPECT_EQ(late.error(), std::errc::broken_pipe);
  // SHUT_RD and a shutdown of a closed conn.
  EXPECT_TRUE(server.shutdown(SHUT_RDWR));
  client.close();
  EXPECT_EQ(client.shutdown().error(), std::errc::bad_file_descriptor);
}
TEST_F(Conn, ShutdownHalfClosesTheConnection) {
  run(half_close());
}

task<void> addresses(std::string host) {
  auto [client, server] = co_await connected_pair("tcp", join_host_port(host, "0"));
  auto cl = client.local_address(), cr = client.remote_address();
  auto sl = server.local_address(), sr = server.remote_address();
  EXPECT_TRUE(cl && cr && sl && sr);
  if (!(cl && cr && sl && sr)) co_return;
  EXPECT_EQ(*cl, *sr);
  EXPECT_EQ(*cr, *sl);
  EXPECT_EQ(cr->host(), host);
  EXPECT_EQ(cl->host(), host);
  EXPECT_NE(cl->port(), cr->port());
  client.close();
  EXPECT_EQ(client.local_address().error(), std::errc::bad_file_descriptor);
  EXPECT_EQ(client.remote_address().error(), std::errc::bad_file_descriptor);
}
TEST_F(Conn, ReportsLocalAndRemoteAddresses) {
  run(addresses("127.0.0.1"));
  if (!test::has_ipv6()) GTEST_SKIP() << "IPv6 loopback unavailable";
  run(addresses("::1"));
}

task<void> options() {
  auto [client, server] = co_await connected_pair();
  int fd = client.native_handle();
  // Dialed and accepted TCP conns start with TCP_NODELAY, as in Go.
  EXPECT_EQ(test::get_option(fd, IPPROTO_TCP, TCP_NODELAY), 1);
  EXPECT_EQ(test::get_option(server.native_handle(), IPPROTO_TCP, TCP_NODELAY), 1);
  EXPECT_TRUE(client.set_nodelay(false));
  EXPECT_EQ(test::get_option(fd, IPPROTO_TCP, TCP_NODELAY), 0);
  EXPECT_TRUE(client.set_nodelay());
  EXPECT_EQ(test::get_option(fd, IPPROTO_TCP, TCP_NODELAY), 1);

  // Keep-alive: the period is both the idle time and the probe interval.
  EXPECT_TRUE(server.set_keepalive(true, 30s));
  int sfd = server.native_handle();
  EXPECT_EQ(test::get_option(sfd, SOL_SOCKET, SO_KEEPALIVE), 1);
  EXPECT_EQ(test::get_option(sfd, IPPROTO_TCP, TCP_KEEPIDLE), 30);
  EXPECT_EQ(test::get_option(sfd, IPPROTO_TCP, TCP_KEEPINTVL), 30);
  EXPECT_TRUE(server.set_keepalive(true, 0s));  // rounded up to the kernel's minimum, 1 s
  EXPECT_EQ(test::get_option(sfd, IPPROTO_TCP, TCP_KEEPIDLE), 1);
  EXPECT_TRUE(server.set_keepalive(false));
  EXPECT_EQ(test::get_option(sfd, SOL_SOCKET, SO_KEEPALIVE), 0);

  client.close();
  EXPECT_EQ(client.set_nodelay().error(), std::errc::bad_file_descriptor);
  EXPECT_EQ(client.set_keepalive(true).error(), std::errc::bad_file_descriptor);
}
TEST_F(Conn, SetsNodelayAndKeepalive) {
  run(options());
}

task<void> ownership() {
  auto [client, server] = co_await connected_pair();
  int fd = client.native_handle();
  unique_fd raw = client.release();
  EXPECT_EQ(raw.get(), fd);
  EXPECT_FALSE(client.is_open());
  EXPECT_FALSE(bool(client));
  EXPECT_EQ(client.native_handle(), -1);
  // A conn made from the descriptor works like the original.
  conn again(std::move(raw), "tcp");
  EXPECT_TRUE(again);
  auto w = co_await again.write("!");
  EXPECT_EQ(value_or(w, 0u), 1u);
  char b;
  auto r = co_await server.read(mutable_buffer(&b, 1));
  EXPECT_EQ(value_or(r, 0u), 1u);
  // Moving a conn moves the descriptor.
  conn moved = std::move(again);
  EXPECT_TRUE(moved.is_open());
  EXPECT_EQ(moved.native_handle(), fd);
}
TEST_F(Conn, ReleaseAndMoveTransferTheDescriptor) {
  run(ownership());
}

// --- unix ----------------------------------------------------------------------------------

task<void> unix_echo(std::string path) {
  auto [client, server] = co_await connected_pair("unix", path);
  EXPECT_EQ(client.network(), "unix");
  EXPECT_EQ(server.network(), "unix");
  EXPECT_EQ(value_or(client.remote_address(), socket_address()).to_string(), path);
  (void)co_await client.write_all("over a unix socket");
  char buf[18];
  auto r = co_await server.read_full(buf);
  EXPECT_EQ(std::string(buf, value_or(r, 0u)), "over a unix socket");
}
// --- receive_multishot: the same conn, read through one multishot recv ----------------------

// Reads of every size, the default deadline, a stop, wait_readable and has_buffered_input behave
// as on the plain path; a partly read chunk keeps its rest; closing with bytes queued gives every
// ring buffer back.
task<void> multishot_reads() {
  auto [client, server] = co_await connected_pair();
  EXPECT_TRUE(server.receive_multishot()) << "this kernel has multishot recv and buffer rings";
  EXPECT_TRUE(server.receives_multishot());
  EXPECT_FALSE(server.has_buffered_input());
  char buf[64];
  auto late = co_await server.read(buf, {}, clock::now() + 10ms);
  EXPECT_EQ(late.error(), std::errc::timed_out);
  std::stop_source stop;
  stop.request_stop();
  auto stopped = co_await server.read(buf, stop.get_token());
  EXPECT_EQ(stopped.error(), std::errc::operation_canceled);

  const std::string text = "0123456789abcdefghijklmnopqrstuvwxyz";
  auto sent = co_await client.write_all(text);
  EXPECT_TRUE(sent);
  auto ready = co_await server.wait_readable({}, clock::now() + 2s);
  EXPECT_TRUE(ready);
  EXPECT_TRUE(server.has_buffered_input()) << "queued bytes are input still to read";
  std::string got;
  while (got.size() < text.size()) {
    auto n = co_await server.read(mutable_buffer(buf, 5), {}, clock::now() + 2s);
    EXPECT_TRUE(n && *n > 0);
    if (!n || *n == 0) break;
    got.append(buf, *n);
  }
  EXPECT_EQ(got, text);
  EXPECT_FALSE(server.has_buffered_input());

  // A megabyte, through a ring of 256 buffers of 4 KiB: byte-exact.
  std::string big(1 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i % 251);
  scope s;
  s.spawn([](conn* c, const std::string* data) -> task<void> {
    auto w = co_await c->write_all(*data);
    EXPECT_TRUE(w);
  }(&client, &big));
  std::string back(big.size(), '\0');
  auto full = co_await server.read_full(back, {}, clock::now() + 10s);
  co_await s.join();
  EXPECT_TRUE(full);
  EXPECT_TRUE(back == big) << "bytes were lost, duplicated or reordered";

  // Bytes left queued at close go back to the ring.
  auto left = co_await client.write_all("left unread");
  EXPECT_TRUE(left);
  (void)co_await server.wait_readable({}, clock::now() + 2s);
  server.close();
  EXPECT_EQ(io_context::current()->recv_buffers_out(), 0u);
}
TEST_F(Conn, ReadsThroughAMultishotReceive) {
  run(multishot_reads());
}

// The watches that read nothing see what the receive queued: a FIN behind unread bytes is
// closed_later, a moved conn keeps its queue, and the end of the stream reads as 0.
task<void> multishot_hangup() {
  auto [client, server] = co_await connected_pair();
  EXPECT_TRUE(server.receive_multishot());
  auto sent = co_await client.write_all("pipelined");
  EXPECT_TRUE(sent);
  (void)co_await server.wait_readable({}, clock::now() + 2s);
  client.close();
  auto seen = co_await server.wait_hangup({});
  EXPECT_EQ(value_or(seen, hangup::broken), hangup::closed_later);
  conn moved = std::move(server);
  EXPECT_TRUE(moved.receives_multishot());
  char buf[32];
  auto n = co_await moved.read(buf, {}, clock::now() + 2s);
  EXPECT_EQ(std::string(buf, value_or(n, 0u)), "pipelined");
  auto eof = co_await moved.read(buf, {}, clock::now() + 2s);
  EXPECT_EQ(value_or(eof, 99u), 0u);
  auto after = co_await moved.wait_hangup({});
  EXPECT_EQ(value_or(after, hangup::broken), hangup::closed);
}
TEST_F(Conn, AMultishotConnSeesHangupsBehindQueuedBytes) {
  run(multishot_hangup());
}

// Without buffer rings (io_context_options::multishot_recv = false, as on kernels before 6.0) the
// conn keeps its plain recvs.
TEST_F(Conn, ReceiveMultishotChangesNothingWhereTheRingCannot) {
  io_context ctx({.multishot_recv = false});
  ctx.run([]() -> task<void> {
    auto [client, server] = co_await connected_pair();
    EXPECT_FALSE(server.receive_multishot());
    EXPECT_FALSE(server.receives_multishot());
    auto sent = co_await client.write_all("plain");
    EXPECT_TRUE(sent);
    char buf[8];
    auto n = co_await server.read(buf, {}, clock::now() + 2s);
    EXPECT_EQ(std::string(buf, value_or(n, 0u)), "plain");
  }());
}

TEST_F(Conn, WorksOverUnixSockets) {
  auto dir = std::filesystem::temp_directory_path() / ("ringo-conn-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  run(unix_echo((dir / "c.sock").string()));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ringo::net
