// stream: the byte-stream seam. A conn seen through it (reads and writes straight to the ring),
// the watches that read nothing (wait_hangup, wait_readable) with their stops, and a stream that
// transforms its bytes (here: a rot13 filter over a conn) going through read_some/write_some with
// the same default deadlines.
#include <chrono>
#include <stdexcept>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>

#include <ringo/net.hpp>

#include "net_test.hpp"

namespace ringo::net {
namespace {

using namespace std::chrono_literals;
using ringo::test::value_or;

class Stream : public test::RingoTest {};

struct conn_pair {
  conn client;
  conn server;
};

task<conn_pair> connected_pair() {
  auto l = listen("tcp", "127.0.0.1:0").value();
  auto c = co_await dial("tcp", l.addr().to_string());
  auto s = co_await l.accept();
  co_return conn_pair{std::move(c).value(), std::move(s).value()};
}

// A stream over another one that rot13s every letter both ways: the shape of a TLS stream.
class rot13_stream final : public stream {
 public:
  explicit rot13_stream(stream& under) : under_(&under) {}
  task<result<void>> close_write(std::stop_token stop, time_point deadline) override {
    return under_->close_write(std::move(stop), deadline);
  }
  void close() noexcept override { under_->close(); }
  bool is_open() const noexcept override { return under_->is_open(); }
  task<result<hangup>> wait_hangup(std::stop_token stop) override {
    return under_->wait_hangup(std::move(stop));
  }
  bool has_buffered_input() const noexcept override { return under_->has_buffered_input(); }
  result<address> local_address() const noexcept override { return under_->local_address(); }
  result<address> remote_address() const noexcept override { return under_->remote_address(); }
  std::string_view network() const noexcept override { return "rot13"; }
  int reads = 0, writes = 0;

 protected:
  task<result<std::size_t>> read_some(mutable_buffer buf, std::stop_token stop,
                                      time_point deadline) override {
    ++reads;
    auto n = co_await under_->read(buf, std::move(stop), deadline);
    if (n) rot(static_cast<char*>(buf.data), *n);
    co_return n;
  }
  task<result<void>> wait_readable_some(std::stop_token stop, time_point deadline) override {
    co_return co_await under_->wait_readable(std::move(stop), deadline);
  }
  task<result<std::size_t>> write_some(const_buffer buf, std::stop_token stop,
                                       time_point deadline) override {
    ++writes;
    std::string copy(static_cast<const char*>(buf.data), buf.size);
    rot(copy.data(), copy.size());
    co_return co_await under_->write(copy, std::move(stop), deadline);
  }

 private:
  static void rot(char* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      char& c = p[i];
      if (c >= 'a' && c <= 'z') c = char('a' + (c - 'a' + 13) % 26);
      if (c >= 'A' && c <= 'Z') c = char('A' + (c - 'A' + 13) % 26);
    }
  }
  stream* under_;
};

TEST_F(Stream, AConnReadAndWrittenThroughTheSeam) {
  ringo::run([]() -> task<void> {
    auto [client, server] = co_await connected_pair();
    stream& a = client;
    stream& b = server;
    EXPECT_EQ(value_or(co_await a.write_all("hello"), 0u), 5u);
    char buf[5];
    EXPECT_EQ(value_or(co_await b.read_full(buf), 0u), 5u);
    EXPECT_EQ(std::string(buf, 5), "hello");
    EXPECT_EQ(b.network(), "tcp");
    EXPECT_TRUE(co_await a.close_write());
    auto eof = co_await b.read(buf);
    EXPECT_EQ(value_or(eof, 9u), 0u);
  }());
}

TEST_F(Stream, WaitHangupReadsNothingAndTellsAFinAfterDataFromAPlainOne) {
  ringo::run([]() -> task<void> {
    auto [client, server] = co_await connected_pair();
    // Bytes do not end the wait; the FIN does, and the bytes before it are still there.
    scope s;
    result<hangup> seen = make_error_code(ringo::errc::operation_canceled);
    s.spawn([](stream* st, result<hangup>* out) -> task<void> {
      *out = co_await st->wait_hangup({});
    }(&server, &seen));
    (void)co_await client.write_all("pipelined");
    (void)co_await sleep_for(20ms);
    EXPECT_FALSE(seen) << "bytes ended the wait";
    (void)client.shutdown(SHUT_WR);
    co_await s.join();
    EXPECT_EQ(value_or(seen, hangup::broken), hangup::closed_later);
    char buf[9];
    EXPECT_EQ(value_or(co_await server.read_full(buf), 0u), 9u);
    EXPECT_EQ(value_or(co_await server.wait_hangup({}), hangup::broken), hangup::closed);
  }());
}

TEST_F(Stream, WaitHangupSeesAReset) {
  ringo::run([]() -> task<void> {
    auto [client, server] = co_await connected_pair();
    ringo::test::set_reset_on_close(client.native_handle());
    client.close();
    EXPECT_EQ(value_or(co_await server.wait_hangup({}), hangup::closed), hangup::broken);
  }());
}

TEST_F(Stream, TheWatchesStopAndTimeOut) {
  ringo::run([]() -> task<void> {
    auto [client, server] = co_await connected_pair();
    std::stop_source stop;
    scope s;
    result<hangup> seen = hangup::closed;
    s.spawn([](stream* st, std::stop_token t, result<hangup>* out) -> task<void> {
      *out = co_await st->wait_hangup(std::move(t));
    }(&server, stop.get_token(), &seen));
    co_await yield();
    stop.request_stop();
    co_await s.join();
    EXPECT_EQ(seen.error(), ringo::errc::operation_canceled);
    auto quiet = co_await server.wait_readable({}, clock::now() + 20ms);
    EXPECT_EQ(quiet.error(), ringo::errc::timed_out);
    (void)co_await client.write_all("x");
    EXPECT_TRUE(co_await server.wait_readable({}, clock::now() + 2s));
    EXPECT_TRUE(server.has_buffered_input());
  }());
}

TEST_F(Stream, AFilterStreamGoesThroughReadSomeAndWriteSomeWithTheDefaultDeadlines) {
  ringo::run([]() -> task<void> {
    auto [client, server] = co_await connected_pair();
    rot13_stream a(client), b(server);
    EXPECT_EQ(value_or(co_await a.write_all("Hello"), 0u), 5u);
    char raw[5];
    EXPECT_EQ(value_or(co_await server.read_full(raw), 0u), 5u);
    EXPECT_EQ(std::string(raw, 5), "Uryyb");  // what crossed the wire
    (void)co_await client.write_all("Uryyb");
    char plain[5];
    EXPECT_EQ(value_or(co_await b.read_full(plain), 0u), 5u);
    EXPECT_EQ(std::string(plain, 5), "Hello");
    EXPECT_GE(b.reads, 1);
    EXPECT_EQ(a.writes, 1);
    b.set_read_deadline(clock::now() + 20ms);
    auto late = co_await b.read(plain);
    EXPECT_EQ(late.error(), ringo::errc::timed_out);
  }());
}

// --- send_file ----------------------------------------------------------------------------

// A temporary file with `data`, opened for reading; removed at once (the descriptor keeps it).
file temp_file(const std::string& data, std::uint64_t sparse_size = 0) {
  char path[] = "/tmp/ringo-send-file-XXXXXX";
  unique_fd fd(::mkstemp(path));
  ::unlink(path);
  if (!data.empty() && ::write(fd.get(), data.data(), data.size()) != ssize_t(data.size()))
    throw std::runtime_error("write");
  if (sparse_size && ::ftruncate(fd.get(), off_t(sparse_size)) != 0)
    throw std::runtime_error("ftruncate");
  return file(std::move(fd));
}

std::string alphabet(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += char('a' + i % 26);
  return s;
}

// Reads `in` to its end (or an error) into `got`: the receiving side of the send_file tests.
task<void> read_to_end(stream& in, std::string& got) {
  char buf[65536];
  for (;;) {
    auto n = co_await in.read(buf);
    if (!n || *n == 0) co_return;
    got.append(buf, *n);
  }
}

TEST_F(Stream, SendFileSplicesARangeOfAFileToTheSocket) {
  const std::string data = alphabet(3 << 20);  // several pipefuls
  file f = temp_file(data);
  auto body = [&]() -> task<void> {
    auto p = co_await connected_pair();
    scope s;
    std::string got;
    s.spawn(read_to_end(p.server, got));
    auto sent = co_await p.client.send_file(f, 1000, data.size() - 2000);
    EXPECT_EQ(value_or(sent, 0), data.size() - 2000);
    auto past_end = co_await p.client.send_file(f, data.size() - 10, 20);  // the file ends first
    EXPECT_EQ(past_end.error(), errc::unexpected_eof);
    (void)co_await p.client.close_write();
    co_await s.join();
    EXPECT_EQ(got.size(), data.size() - 2000 + 10);
    EXPECT_TRUE(got.substr(0, data.size() - 2000) == data.substr(1000, data.size() - 2000));
  };
  run(body());
}

TEST_F(Stream, SendFileThroughATransformingStreamReadsAndWrites) {
  const std::string data = alphabet(200000);
  file f = temp_file(data);
  auto body = [&]() -> task<void> {
    auto p = co_await connected_pair();
    rot13_stream out(p.client), in(p.server);
    scope s;
    std::string got;
    s.spawn(read_to_end(in, got));
    auto sent = co_await out.send_file(f, 5, 100000);
    EXPECT_EQ(value_or(sent, 0), 100000u);
    EXPECT_GT(out.writes, 0);  // through write_some: the bytes had to be transformed
    (void)co_await p.client.close_write();
    co_await s.join();
    EXPECT_TRUE(got == data.substr(5, 100000));
  };
  run(body());
}

TEST_F(Stream, SendFileToAPeerThatDoesNotReadStopsOrTimesOut) {
  file f = temp_file("", std::uint64_t(64) << 20);  // more than the socket buffers hold
  for (int round = 0; round < 10; ++round) {
    auto body = [&]() -> task<void> {
      auto p = co_await connected_pair();
      std::stop_source stop;
      scope s;
      s.spawn([&](std::stop_token) -> task<void> {
        (void)co_await sleep_for(std::chrono::milliseconds(5 + round));
        stop.request_stop();
      });
      auto sent = co_await p.client.send_file(f, 0, std::uint64_t(64) << 20, stop.get_token());
      co_await s.join();
      EXPECT_FALSE(sent);
      if (sent) co_return;
      EXPECT_EQ(sent.error(), ringo::errc::operation_canceled) << sent.error().message();
      const time_point deadline = clock::now() + 30ms;
      auto timed = co_await p.client.send_file(f, 0, std::uint64_t(64) << 20, {}, deadline);
      EXPECT_FALSE(timed);
      if (timed) co_return;
      EXPECT_EQ(timed.error(), ringo::errc::timed_out) << timed.error().message();
    };
    run(body());
  }
}

// The io_context keeps its splice pipes between sends: one left with bytes in it by a send that
// was stopped, or whose peer reset the connection, must never be handed to the next send. Each
// round abandons a send of zeros midway, then sends a file of letters on a new connection of the
// same io_context, which must arrive byte for byte with no zero before it.
TEST_F(Stream, SendFileAfterAnAbandonedOneSendsOnlyItsOwnBytes) {
  file zeros = temp_file("", std::uint64_t(64) << 20);  // more than the socket buffers hold
  const std::string letters = alphabet(3 << 20);
  file f = temp_file(letters);
  auto body = [&]() -> task<void> {
    for (int round = 0; round < 8; ++round) {
      {
        auto p = co_await connected_pair();
        std::stop_source stop;
        scope s;
        s.spawn([&](std::stop_token) -> task<void> {
          (void)co_await sleep_for(std::chrono::milliseconds(5 + round));
          if (round % 2 == 0)
            stop.request_stop();
          else
            p.server.close();  // unread bytes in its buffer: the close sends a RST
        });
        auto sent =
            co_await p.client.send_file(zeros, 0, std::uint64_t(64) << 20, stop.get_token());
        co_await s.join();
        EXPECT_FALSE(sent) << "round " << round;
      }
      auto p = co_await connected_pair();
      scope s;
      std::string got;
      s.spawn(read_to_end(p.server, got));
      auto sent = co_await p.client.send_file(f, 0, letters.size());
      EXPECT_EQ(value_or(sent, 0), letters.size()) << "round " << round;
      (void)co_await p.client.close_write();
      co_await s.join();
      EXPECT_EQ(got.size(), letters.size()) << "round " << round;
      EXPECT_TRUE(got == letters) << "round " << round << ": the first bytes were "
                                  << int(got.empty() ? -1 : got[0]);
    }
  };
  run(body());
}

}  // namespace
}  // namespace ringo::net
