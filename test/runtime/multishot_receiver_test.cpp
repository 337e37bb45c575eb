// multishot_receiver: every byte arrives once and in order, across buffer boundaries, through a
// ring that runs dry, and around stops and deadlines; the end of the stream and errors are
// reported; destroying a receiver gives every buffer back. Each test runs twice: on the multishot
// path (a provided-buffer ring) and on the fallback (one recv per receive into a private buffer).
#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "ringo_test.hpp"

namespace ringo {
namespace {

using namespace std::chrono_literals;
using test::race_plan;

enum class recv_path { multishot, fallback };

class MultishotReceiver : public test::RingoTest, public ::testing::WithParamInterface<recv_path> {
 protected:
  bool multishot() const { return GetParam() == recv_path::multishot; }

  io_context_options options(unsigned count = 256, unsigned size = 4096) const {
    io_context_options o;
    o.recv_buffer_count = count;
    o.recv_buffer_size = size;
    o.multishot_recv = multishot();
    return o;
  }
};

// Byte i of every test stream: a period (251) that no buffer size divides, so a chunk delivered
// twice, dropped or out of order shows.
char pattern_byte(std::size_t i) {
  return static_cast<char>(i % 251);
}

std::string pattern(std::size_t offset, std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t k = 0; k < n; ++k) s[k] = pattern_byte(offset + k);
  return s;
}

// Lets CQEs for bytes sent just now reach the receiver's queue.
task<void> settle() {
  for (int i = 0; i < 3; ++i) (void)co_await sleep_for(1ms);
}

task<void> send_all(int fd, std::string data) {
  std::size_t done = 0;
  while (done < data.size()) {
    auto n = co_await send(fd, const_buffer(data).subspan(done));
    EXPECT_TRUE(n) << n.error().message();
    if (!n) co_return;
    done += *n;
  }
}

// Takes what the receiver holds right now, after one trip through the kernel (a NOP) has let the
// CQEs for bytes already sent arrive: the next round of a race then starts on an empty queue
// instead of completing at once with the previous round's bytes.
task<std::string> take_queued(multishot_receiver* rx) {
  (void)co_await nop();
  std::string out;
  while (rx->queued() > 0) {
    auto chunk = co_await rx->receive();
    if (chunk) out += chunk->view();
  }
  co_return out;
}

// Receives until the end of the stream (or an error, or 10 s), releasing each buffer at once.
task<std::string> receive_to_end(multishot_receiver* rx) {
  std::string out;
  auto deadline = clock::now() + 10s;
  for (;;) {
    auto chunk = co_await rx->receive({}, deadline);
    EXPECT_TRUE(chunk) << chunk.error().message();
    if (!chunk || chunk->empty()) co_return out;
    out += chunk->view();
  }
}

// --- Data ------------------------------------------------------------------------------------

TEST_P(MultishotReceiver, TakesThePathItWasAskedFor) {
  auto pair = test::make_tcp_pair();
  io_context ctx(options());
  auto body = [&]() -> task<void> {
    multishot_receiver rx(pair.client.get());
    EXPECT_EQ(rx.uses_multishot(), multishot());
    co_return;
  };
  ctx.run(body());
}

// Messages of 1 byte to three buffers' worth arrive in order: several per buffer, and ones split
// across buffers.
TEST_P(MultishotReceiver, DeliversEveryByteInOrderAcrossManyMessages) {
  auto pair = test::make_tcp_pair();
  io_context ctx(options(64, 1024));
  std::string sent, got;
  auto body = [&]() -> task<void> {
    multishot_receiver rx(pair.client.get());
    scope s;
    s.spawn([](int fd, std::string* out) -> task<void> {
      std::mt19937 rng(7);
      for (int i = 0; i < 2000; ++i) {
        std::string msg = pattern(out->size(), 1 + rng() % 3000);
        *out += msg;
        co_await send_all(fd, std::move(msg));
        if (i % 7 == 0) co_await yield();
      }
      EXPECT_EQ(::shutdown(fd, SHUT_WR), 0);
    }(pair.server.get(), &sent));
    got = co_await receive_to_end(&rx);
    co_await s.join();
  };
  ctx.run(body());
  EXPECT_EQ(got.size(), sent.size());
  EXPECT_TRUE(got == sent) << "bytes were lost, duplicated or reordered";
  EXPECT_EQ(ctx.recv_buffers_out(), 0u);
}

// Two 64-byte buffers and a megabyte: the ring runs dry again and again (the multishot ends with
// -ENOBUFS and re-arms when the consumer gives buffers back), and the consumer holds each buffer
// over a loop turn so the ring stays dry while data keeps coming.
TEST_P(MultishotReceiver, ARingRunningDryRearmsWithoutLosingOrReordering) {
  auto pair = test::make_tcp_pair();
  io_context ctx(options(2, 64));
  const std::string sent = pattern(0, 1 << 20);
  std::string got;
  auto body = [&]() -> task<void> {
    multishot_receiver rx(pair.client.get());
    scope s;
    s.spawn([](int fd, std::string data) -> task<void> {
      co_await send_all(fd, std::move(data));
      EXPECT_EQ(::shutdown(fd, SHUT_WR), 0);
    }(pair.server.get(), sent));
    for (;;) {
      auto chunk = co_await rx.receive({}, clock::now() + 10s);
      EXPECT_TRUE(chunk) << chunk.error().message();
      if (!chunk || chunk->empty()) break;
      EXPECT_LE(chunk->size(), multishot() ? 64u : 4096u);
      got += chunk->view();
      co_await yield();  // still holding the buffer
    }
    co_await s.join();
  };
  ctx.run(body());
  EXPECT_EQ(got.size(), sent.size());
  EXPECT_TRUE(got == sent) << "bytes were lost, duplicated or reordered";
  EXPECT_EQ(ctx.recv_buffers_out(), 0u);
}

// The consumer holds every buffer of the ring and waits for more: its receive can only complete
// once a buffer comes back, and then it gets the next bytes, in order.
TEST_P(MultishotReceiver, AWaitOnADryRingCompletesWhenABufferComesBack) {
  auto pair = test::make_tcp_pair();
  io_context ctx(options(4, 16));
  auto body = [&]() -> task<void> {
    multishot_receiver rx(pair.client.get());
    std::string got;
    std::vector<lent_buffer> held;
    co_await send_all(pair.server.get(), pattern(0, 64));
    while (got.size() < 64) {
      auto chunk = co_await rx.receive({}, clock::now() + 2s);
      EXPECT_TRUE(chunk) << chunk.error().message();
      if (!chunk || chunk->empty()) co_return;
      got += chunk->view();
      held.push_back(std::move(*chunk));
    }
    if (multishot()) {
      EXPECT_EQ(ctx.recv_buffers_out(), 4u);
    }
    co_await send_all(pair.server.get(), pattern(64, 8));
    scope s;
    s.spawn([](std::vector<lent_buffer>* buffers) -> task<void> {
      (void)co_await sleep_for(20ms);
      buffers->clear();
    }(&held));
    auto start = clock::now();
    auto next = co_await rx.receive({}, clock::now() + 2s);
    auto took = clock::now() - start;
    co_await s.join();
    EXPECT_TRUE(next) << next.error().message();
    if (next) {
      EXPECT_EQ(next->view(), pattern(64, 8));
    }
    if (multishot()) {
      EXPECT_GE(test::ms(took), 15) << "received into a buffer that was lent out";
    }
    EXPECT_TRUE(got == pattern(0, 64));
  };
  ctx.run(body());
  EXPECT_EQ(ctx.recv_buffers_out(), 0u);
}

// A lent buffer goes back to the ring when it is released, not before.
TEST_P(MultishotReceiver, ReleasingALentBufferReturnsItToTheRing) {
  if (!multishot()) GTEST_SKIP() << "the fallback's private buffers are not a ring's";
  auto pair = test::make_tcp_pair();
  io_context ctx(options(8, 256));
  auto body = [&]() -> task<void> {
    multishot_receiver rx(pair.client.get());
    co_await send_all(pair.server.get(), "abc");
    auto chunk = co_await rx.receive({}, clock::now() + 2s);
    EXPECT_TRUE(chunk);
    if (!chunk) co_return;
    EXPECT_EQ(chunk->view(), "abc");
    EXPECT_EQ(ctx.recv_buffers_out(), 1u);
    chunk->remove_prefix(1);
    EXPECT_EQ(chunk->view(), "bc");
    EXPECT_EQ(ctx.recv_buffers_out(), 1u);
    lent_buffer moved = std::move(*chunk);
    EXPECT_TRUE(chunk->empty());
    EXPECT_EQ(ctx.recv_buffers_out(), 1u);
    moved.release();
    EXPECT_TRUE(moved.empty());
    EXPECT_EQ(ctx.recv_buffers_out(), 0u);
  };
  ctx.run(body());
}

// A connection whose consumer does not read stops receiving once it holds its share of the ring
// (an eighth): later bytes wait in the socket, so the other connections on the thread still find
// buffers. (One burst can overshoot the share: the kernel fills buffers for everything the socket
// holds before user space sees the first CQE.) Read later, every byte is there, in order.
TEST_P(MultishotReceiver, AReceiverNobodyReadsStopsAtItsShareOfTheRing) {
  auto a = test::make_tcp_pair();
  auto b = test::make_tcp_pair();
  io_context ctx(options(64, 64));
  std::string sent;
  auto body = [&]() -> task<void> {
    multishot_receiver slow(a.client.get());
    multishot_receiver other(b.client.get());
    auto armed = co_await slow.receive({}, clock::now() + 1ms);
    EXPECT_EQ(armed.error(), errc::timed_out);
    for (int i = 0; i < 16; ++i) {  // 16 bursts of 4 buffers: the whole ring, if nothing paused
      std::string burst = pattern(sent.size(), 256);
      sent += burst;
      co_await send_all(a.server.get(), std::move(burst));
      co_await settle();
    }
    EXPECT_LE(slow.queued(), 8u + 4u);
    EXPECT_LE(ctx.recv_buffers_out(), 8u + 4u);
    co_await send_all(b.server.get(), "other");
    auto got_other = co_await other.receive({}, clock::now() + 1s);
    EXPECT_TRUE(got_other && got_other->view() == "other") << "the slow receiver took the ring";
    EXPECT_EQ(::shutdown(a.server.get(), SHUT_WR), 0);
    std::string got = co_await receive_to_end(&slow);
    EXPECT_TRUE(got == sent) << "bytes were lost, duplicated or reordered";
  };
  ctx.run(body());
  EXPECT_EQ(ctx.recv_buffers_out(), 0u);
}

// --- End of stream and errors -----------------------------------------------------------------

TEST_P(MultishotReceiver, EndOfStreamComesAfterTheDataAndStays) {
  auto pair = test::make_tcp_pair();
  io_context ctx(options());
  auto body = [&]() -> task<void> {
    multishot_receiver rx(pair.client.get());
    co_await send_all(pair.server.get(), "hello");
    EXPECT_EQ(::shutdown(pair.server.get(), SHUT_WR), 0);
    co_await settle();
    std::string got = co_await receive_to_end(&rx);
    EXPECT_EQ(got, "hello");
    for (int i = 0; i < 3; ++i) {
      auto again = co_await rx.receive({}, clock::now() + 1s);
      EXPECT_TRUE(again && again->empty()) << "the end of the stream is not sticky";
    }
  };
  ctx.run(body());
}

// The peer resets the connection: the receive reports ECONNRESET once; the next one re-arms and
// ends (the socket now reads as closed) rather than hanging.
TEST_P(MultishotReceiver, AResetIsReportedAsAnError) {
  auto pair = test::make_tcp_pair();
  io_context ctx(options());
  auto body = [&]() -> task<void> {
    multishot_receiver rx(pair.client.get());
    test::set_reset_on_close(pair.server.get());
    pair.server.reset();
    auto r = co_await rx.receive({}, clock::now() + 2s);
    EXPECT_EQ(r.error(), std::errc::connection_reset) << r.error().message();
    auto after = co_await rx.receive({}, clock::now() + 2s);
    EXPECT_NE(after.error(), errc::timed_out);
  };
  ctx.run(body());
}

// --- Stops and deadlines ----------------------------------------------------------------------

std::stop_token stopped_token() {
  static std::stop_source src = [] {
    std::stop_source s;
    s.request_stop();
    return s;
  }();
  return src.get_token();
}

// Bytes still in the socket (MSG_PEEK: left there).
std::size_t in_socket(int fd) {
  char buf[256];
  ssize_t n = ::recv(fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

TEST_P(MultishotReceiver, AStopBeforeTheFirstReceiveArmsNothing) {
  auto pair = test::make_tcp_pair();
  io_context ctx(options());
  auto body = [&]() -> task<void> {
    multishot_receiver rx(pair.client.get());
    co_await send_all(pair.server.get(), "abc");
    auto r = co_await rx.receive(stopped_token());
    EXPECT_EQ(r.error(), errc::operation_canceled);
    auto late = co_await rx.receive({}, clock::now() - 1s);
    EXPECT_EQ(late.error(), errc::timed_out);
    co_await settle();
    EXPECT_EQ(rx.queued(), 0u);
    EXPECT_EQ(in_socket(pair.client.get()), 3u) << "a receive was armed";
    auto chunk = co_await rx.receive({}, clock::now() + 2s);
    EXPECT_TRUE(chunk && chunk->view() == "abc");
  };
  ctx.run(body());
}

// A stopped wait leaves the receive armed: bytes that arrive later are queued for the next call.
TEST_P(MultishotReceiver, AStopWhileWaitingLeavesTheReceiveArmed) {
  auto pair = test::make_tcp_pair();
  io_context ctx(options());
  auto body = [&]() -> task<void> {
    multishot_receiver rx(pair.client.get());
    std::stop_source src;
    scope s;
    s.spawn(test::stop_after(&src, 5ms));
    auto start = clock::now();
    auto r = co_await rx.receive(src.get_token());
    EXPECT_GE(test::ms(clock::now() - start), 4);
    co_await s.join();
    EXPECT_EQ(r.error(), errc::operation_canceled);
    co_await send_all(pair.server.get(), "later");
    co_await settle();
    EXPECT_EQ(rx.queued(), 1u) << "the receive was not left armed";
    EXPECT_EQ(in_socket(pair.client.get()), 0u);
    auto chunk = co_await rx.receive({}, clock::now() - 1s);  // ready: no wait, no timeout
    EXPECT_TRUE(chunk && chunk->view() == "later");
  };
  ctx.run(body());
}

TEST_P(MultishotReceiver, QueuedBytesAreReturnedEvenWhenStopWasRequested) {
  auto pair = test::make_tcp_pair();
  io_context ctx(options());
  auto body = [&]() -> task<void> {
    multishot_receiver rx(pair.client.get());
    co_await send_all(pair.server.get(), "one");
    auto first = co_await rx.receive({}, clock::now() + 2s);  // arms
    EXPECT_TRUE(first && first->view() == "one");
    co_await send_all(pair.server.get(), "two");
    co_await settle();
    EXPECT_EQ(rx.queued(), multishot() ? 1u : 0u);  // the fallback has no recv in flight
    auto second = co_await rx.receive(stopped_token());
    if (multishot()) {
      EXPECT_TRUE(second && second->view() == "two");
    } else {
      EXPECT_EQ(second.error(), errc::operation_canceled);
      second = co_await rx.receive({}, clock::now() + 2s);
      EXPECT_TRUE(second && second->view() == "two");
    }
  };
  ctx.run(body());
}

TEST_P(MultishotReceiver, AWaitPastItsDeadlineTimesOut) {
  auto pair = test::make_tcp_pair();
  io_context ctx(options());
  auto deadline = clock::now() + 15ms;
  auto body = [&]() -> task<void> {
    multishot_receiver rx(pair.client.get());
    auto r = co_await rx.receive({}, deadline);
    EXPECT_EQ(r.error(), errc::timed_out);
    EXPECT_GE(clock::now(), deadline);
    // Still armed: the next bytes are received.
    co_await send_all(pair.server.get(), "x");
    auto chunk = co_await rx.receive({}, clock::now() + 2s);
    EXPECT_TRUE(chunk && chunk->view() == "x");
  };
  ctx.run(body());
}

// Rounds of a receive whose stop races arriving bytes: the bytes are returned by that receive or
// queued for the next; across all rounds every byte arrives once and in order.
TEST_P(MultishotReceiver, BytesRacingTheStopAreNeverLost) {
  constexpr int rounds = 10'000;
  auto pair = test::make_tcp_pair();
  io_context ctx(options(16, 64));
  std::string sent, got;
  int cancelled = 0, won = 0;
  auto body = [&]() -> task<void> {
    multishot_receiver rx(pair.client.get());
    std::mt19937 rng(3);
    for (int i = 0; i < rounds; ++i) {
      std::string chunk = pattern(sent.size(), 1 + rng() % 32);
      auto r = co_await test::race_stop_with_completion(
          [&rx](std::stop_token stop) { return rx.receive(std::move(stop)); },
          [&, fd = pair.server.get()] {
            EXPECT_EQ(::send(fd, chunk.data(), chunk.size(), 0), ssize_t(chunk.size()));
            sent += chunk;
          },
          race_plan::for_round(i));
      if (r) {
        EXPECT_FALSE(r->empty());
        got += r->view();
        ++won;
      } else {
        EXPECT_EQ(r.error(), errc::operation_canceled) << r.error().message();
        ++cancelled;
      }
      got += co_await take_queued(&rx);
    }
    EXPECT_EQ(::shutdown(pair.server.get(), SHUT_WR), 0);
    got += co_await receive_to_end(&rx);
  };
  ctx.run(body());
  EXPECT_EQ(got.size(), sent.size());
  EXPECT_TRUE(got == sent) << "bytes were lost, duplicated or reordered";
  EXPECT_GT(cancelled, 0) << "no round was cancelled: the race was never exercised";
  EXPECT_GT(won, 0) << "no round was won by the bytes";
  EXPECT_EQ(ctx.recv_buffers_out(), 0u);
  RecordProperty("cancelled_rounds", cancelled);
}

// The same accounting when the deadline races the bytes: sent just before, at, or after it.
TEST_P(MultishotReceiver, BytesRacingTheDeadlineAreNeverLost) {
  constexpr int rounds = 2000;
  auto pair = test::make_tcp_pair();
  io_context ctx(options(16, 64));
  std::string sent, got;
  int timed_out = 0;
  auto body = [&]() -> task<void> {
    multishot_receiver rx(pair.client.get());
    for (int i = 0; i < rounds; ++i) {
      auto deadline = clock::now() + 200us;
      auto send_at = deadline + std::chrono::microseconds(i % 5 * 50 - 100);
      std::string chunk = pattern(sent.size(), 10);
      sent += chunk;
      scope s;
      s.spawn([](int fd, time_point at, std::string data) -> task<void> {
        (void)co_await sleep_until(at);
        EXPECT_EQ(::send(fd, data.data(), data.size(), 0), ssize_t(data.size()));
      }(pair.server.get(), send_at, std::move(chunk)));
      auto r = co_await rx.receive({}, deadline);
      co_await s.join();
      if (r)
        got += r->view();
      else if (r.error() == errc::timed_out)
        ++timed_out;
      else
        ADD_FAILURE() << r.error().message();
      got += co_await take_queued(&rx);
    }
    EXPECT_EQ(::shutdown(pair.server.get(), SHUT_WR), 0);
    got += co_await receive_to_end(&rx);
  };
  ctx.run(body());
  EXPECT_TRUE(got == sent) << "bytes were lost, duplicated or reordered";
  EXPECT_GT(timed_out, 0);
  RecordProperty("timed_out_rounds", timed_out);
}

// --- Lifetime ---------------------------------------------------------------------------------

// Destroyed with the receive armed, bytes queued and more arriving: the queued buffers go back at
// once, the rest when the cancelled receive's last CQE arrives (ASan would catch that CQE reaching
// freed state); afterwards nothing is received any more, so new bytes stay in the socket.
TEST_P(MultishotReceiver, DestroyingTheReceiverWhileArmedGivesEveryBufferBack) {
  auto pair = test::make_tcp_pair();
  io_context ctx(options(8, 64));
  auto body = [&]() -> task<void> {
    {
      multishot_receiver rx(pair.client.get());
      co_await send_all(pair.server.get(), "first");
      auto first = co_await rx.receive({}, clock::now() + 2s);
      EXPECT_TRUE(first);
      // Abandoned at its deadline: the receive stays in the kernel (the fallback's recv too).
      auto idle = co_await rx.receive({}, clock::now() + 2ms);
      EXPECT_EQ(idle.error(), errc::timed_out);
      co_await send_all(pair.server.get(), pattern(0, 200));
      co_await settle();
      EXPECT_GT(rx.queued(), 0u);
      co_await send_all(pair.server.get(), "racing");  // may arrive before or after the cancel
    }
    co_await settle();
    EXPECT_EQ(ctx.recv_buffers_out(), 0u);
    (void)test::take_available(pair.client.get());
    co_await send_all(pair.server.get(), "after");
    co_await settle();
    EXPECT_EQ(in_socket(pair.client.get()), 5u) << "a receive outlived its receiver";
  };
  ctx.run(body());
}

// The context goes away with a receiver's cancelled receive still in the kernel: its destructor
// reaps the last CQE (which frees the receiver's state) before it unmaps the ring.
TEST_P(MultishotReceiver, DestroyingTheContextReapsAnOrphanedReceive) {
  auto pair = test::make_tcp_pair();
  {
    io_context ctx(options(8, 64));
    auto body = [&]() -> task<void> {
      multishot_receiver rx(pair.client.get());
      (void)co_await rx.receive({}, clock::now() + 5ms);  // armed, then abandoned at the deadline
    };
    ctx.run(body());
  }
  ASSERT_EQ(::send(pair.server.get(), "z", 1, 0), 1);
  ::usleep(2000);
  EXPECT_EQ(in_socket(pair.client.get()), 1u);
}

TEST_P(MultishotReceiver, AMovedReceiverKeepsItsQueue) {
  auto pair = test::make_tcp_pair();
  io_context ctx(options());
  auto body = [&]() -> task<void> {
    multishot_receiver a(pair.client.get());
    co_await send_all(pair.server.get(), "one");
    auto first = co_await a.receive({}, clock::now() + 2s);
    EXPECT_TRUE(first && first->view() == "one");
    co_await send_all(pair.server.get(), "two");
    co_await settle();
    multishot_receiver b(std::move(a));
    multishot_receiver c(pair.server.get());
    c = std::move(b);
    auto second = co_await c.receive({}, clock::now() + 2s);
    EXPECT_TRUE(second && second->view() == "two");
  };
  ctx.run(body());
}

// --- read(): a byte stream's read, copying --------------------------------------------------

// read() into buffers of every size from 1 byte to several chunks: each byte once and in order,
// a chunk read in parts keeps its rest for the next call, and every buffer goes back to the ring.
TEST_P(MultishotReceiver, ReadCopiesEveryByteOnceWhateverTheBufferSize) {
  auto pair = test::make_tcp_pair();
  io_context ctx(options(16, 512));
  std::string sent, got;
  auto body = [&]() -> task<void> {
    multishot_receiver rx(pair.client.get());
    scope s;
    s.spawn([](int fd, std::string* out) -> task<void> {
      std::mt19937 rng(11);
      for (int i = 0; i < 500; ++i) {
        std::string msg = pattern(out->size(), 1 + rng() % 2000);
        *out += msg;
        co_await send_all(fd, std::move(msg));
        if (i % 5 == 0) co_await yield();
      }
      EXPECT_EQ(::shutdown(fd, SHUT_WR), 0);
    }(pair.server.get(), &sent));
    std::mt19937 rng(3);
    std::vector<char> buf(3000);
    const auto deadline = clock::now() + 10s;
    for (;;) {
      const std::size_t want = 1 + rng() % buf.size();
      auto n = co_await rx.read(mutable_buffer(buf.data(), want), {}, deadline);
      EXPECT_TRUE(n) << n.error().message();
      if (!n || *n == 0) break;
      EXPECT_LE(*n, want);
      got.append(buf.data(), *n);
    }
    co_await s.join();
    auto again = co_await rx.read(mutable_buffer(buf.data(), buf.size()), {}, clock::now() + 1s);
    EXPECT_TRUE(again && *again == 0) << "the end of the stream is not sticky";
  };
  ctx.run(body());
  EXPECT_EQ(got.size(), sent.size());
  EXPECT_TRUE(got == sent) << "bytes were lost, duplicated or reordered";
  EXPECT_EQ(ctx.recv_buffers_out(), 0u);
}

// read() and receive() on one receiver: receive() hands out what read() left of a chunk, and no
// more.
TEST_P(MultishotReceiver, ReceiveAfterAPartialReadHandsOutTheRestOfTheChunk) {
  auto pair = test::make_tcp_pair();
  io_context ctx(options());
  auto body = [&]() -> task<void> {
    multishot_receiver rx(pair.client.get());
    co_await send_all(pair.server.get(), "GET / HTTP/1.1\r\n\r\n");
    char head[4];
    auto n = co_await rx.read(mutable_buffer(head, sizeof head), {}, clock::now() + 2s);
    EXPECT_TRUE(n && *n == 4 && std::string_view(head, 4) == "GET ");
    auto rest = co_await rx.receive({}, clock::now() + 2s);
    EXPECT_TRUE(rest && rest->view() == "/ HTTP/1.1\r\n\r\n") << (rest ? rest->view() : "");
    co_await send_all(pair.server.get(), "next");
    auto next = co_await rx.receive({}, clock::now() + 2s);
    EXPECT_TRUE(next && next->view() == "next");
  };
  ctx.run(body());
  EXPECT_EQ(ctx.recv_buffers_out(), 0u);
}

// A read's stop or deadline, as a receive's: the wait ends, the receive stays armed and what
// arrives later is read by the next call; a reset is an error.
TEST_P(MultishotReceiver, AReadIsStoppedOrTimesOutAndLosesNothing) {
  auto pair = test::make_tcp_pair();
  io_context ctx(options());
  auto body = [&]() -> task<void> {
    multishot_receiver rx(pair.client.get());
    char buf[64];
    auto late = co_await rx.read(mutable_buffer(buf, sizeof buf), {}, clock::now() + 5ms);
    EXPECT_EQ(late.error(), errc::timed_out);
    std::stop_source stop;
    scope s;
    s.spawn([](std::stop_source* src) -> task<void> {
      (void)co_await sleep_for(5ms);
      src->request_stop();
    }(&stop));
    auto stopped = co_await rx.read(mutable_buffer(buf, sizeof buf), stop.get_token());
    EXPECT_EQ(stopped.error(), errc::operation_canceled);
    co_await s.join();
    co_await send_all(pair.server.get(), "later");
    auto n = co_await rx.read(mutable_buffer(buf, sizeof buf), {}, clock::now() + 2s);
    EXPECT_TRUE(n && std::string_view(buf, *n) == "later");
    test::set_reset_on_close(pair.server.get());
    pair.server.reset();
    auto reset = co_await rx.read(mutable_buffer(buf, sizeof buf), {}, clock::now() + 2s);
    EXPECT_EQ(reset.error(), std::errc::connection_reset);
  };
  ctx.run(body());
}

// wait_ready() takes nothing: the bytes are read after it, whole; it ends at the end of the
// stream too, and with its stop or deadline.
TEST_P(MultishotReceiver, WaitReadyTakesNothing) {
  auto pair = test::make_tcp_pair();
  io_context ctx(options());
  auto body = [&]() -> task<void> {
    multishot_receiver rx(pair.client.get());
    auto none = co_await rx.wait_ready({}, clock::now() + 5ms);
    EXPECT_EQ(none.error(), errc::timed_out);
    auto stopped = co_await rx.wait_ready(stopped_token());
    EXPECT_EQ(stopped.error(), errc::operation_canceled);
    co_await send_all(pair.server.get(), "abc");
    auto ready = co_await rx.wait_ready({}, clock::now() + 2s);
    EXPECT_TRUE(ready);
    EXPECT_GT(rx.queued(), 0u);
    char buf[8];
    auto n = co_await rx.read(mutable_buffer(buf, sizeof buf), {}, clock::now() + 2s);
    EXPECT_TRUE(n && std::string_view(buf, *n) == "abc");
    EXPECT_EQ(::shutdown(pair.server.get(), SHUT_WR), 0);
    auto end = co_await rx.wait_ready({}, clock::now() + 2s);
    EXPECT_TRUE(end) << "the end of the stream did not end the wait";
    auto zero = co_await rx.read(mutable_buffer(buf, sizeof buf), {}, clock::now() + 2s);
    EXPECT_TRUE(zero && *zero == 0);
  };
  ctx.run(body());
}

// The receiver is destroyed while a read waits on it (a transport closing an idle conn whose
// watcher has not resumed yet): the wait ends canceled, and its stop and deadline firing later
// touch nothing freed (ASan).
TEST_P(MultishotReceiver, AWaitEndsCanceledWhenItsReceiverIsDestroyed) {
  auto pair = test::make_tcp_pair();
  io_context ctx(options());
  auto body = [&]() -> task<void> {
    auto rx = std::make_unique<multishot_receiver>(pair.client.get());
    std::stop_source stop;
    result<std::size_t> got = std::size_t{0};
    scope s;
    s.spawn([](multishot_receiver* r, std::stop_token t, result<std::size_t>* out) -> task<void> {
      char buf[16];
      *out = co_await r->read(mutable_buffer(buf, sizeof buf), std::move(t), clock::now() + 20ms);
    }(rx.get(), stop.get_token(), &got));
    co_await yield();
    rx.reset();
    stop.request_stop();
    co_await s.join();
    EXPECT_EQ(got.error(), errc::operation_canceled);
    (void)co_await sleep_for(30ms);  // past the wait's deadline
  };
  ctx.run(body());
  EXPECT_EQ(ctx.recv_buffers_out(), 0u);
}

// --- Many connections, one ring --------------------------------------------------------------

// A burst of connections (unix socket pairs), each sending at once, through a ring far smaller
// than the burst: every receiver gets its own bytes in order, receivers starved by the dry ring
// are re-armed as buffers come back, and afterwards every buffer is back in the ring. The ring's
// memory is fixed at creation, so the burst leaves nothing behind but freed receiver states.
TEST_P(MultishotReceiver, ABurstOfConnectionsSharesOneSmallRing) {
  constexpr int connections = 2000;
  std::vector<test::unix_pair> pairs;
  pairs.reserve(connections);
  for (int i = 0; i < connections; ++i) pairs.push_back(test::make_unix_pair());
  io_context ctx(options(32, 128));
  int complete = 0;
  auto body = [&]() -> task<void> {
    scope s;
    for (int i = 0; i < connections; ++i) {
      s.spawn([](int fd, int* count) -> task<void> {
        multishot_receiver rx(fd);
        std::string got = co_await receive_to_end(&rx);
        EXPECT_TRUE(got == pattern(0, 300)) << got.size();
        if (got == pattern(0, 300)) ++*count;
      }(pairs[i].client.get(), &complete));
    }
    co_await yield();
    for (auto& p : pairs) {
      std::string data = pattern(0, 300);
      EXPECT_EQ(::send(p.server.get(), data.data(), data.size(), 0), 300);
      EXPECT_EQ(::shutdown(p.server.get(), SHUT_WR), 0);
    }
    co_await s.join();
  };
  ctx.run(body());
  EXPECT_EQ(complete, connections);
  EXPECT_EQ(ctx.recv_buffers_out(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Paths, MultishotReceiver,
                         ::testing::Values(recv_path::multishot, recv_path::fallback),
                         [](const ::testing::TestParamInfo<recv_path>& param) {
                           return param.param == recv_path::multishot ? "Multishot" : "Fallback";
                         });

}  // namespace
}  // namespace ringo
