// Cancellation by std::stop_token (design.md §2.3): a stop before the operation is submitted, while
// it waits in the kernel, and racing its completion; deadlines versus stops; stop requests from
// another thread, which reach the loop through its eventfd.
//
// The race tests run thousands of rounds and then account for every byte and every connection: a
// result that won the race must be returned, and one that lost must still be where it was.
#include <array>
#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <poll.h>
#include <random>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "ringo_test.hpp"

namespace ringo {
namespace {

using namespace std::chrono_literals;
using test::ms;
using test::race_plan;

constexpr int race_rounds = 10'000;

class Cancel : public test::RingoTest {};
class CrossThreadStop : public test::RingoTest {};

std::stop_token stopped_token() {
  static std::stop_source src = [] {
    std::stop_source s;
    s.request_stop();
    return s;
  }();
  return src.get_token();
}

template <typename Result>
void expect_canceled(const Result& r) {
  EXPECT_EQ(r.error(), errc::operation_canceled) << r.error().message();
  EXPECT_NE(r.error(), errc::timed_out);
  EXPECT_EQ(r.error(), std::errc::operation_canceled);
}

// Awaits make_op(token) and requests stop on the token `after` later, from a sibling coroutine.
// Returns the result and how long the op took. A factory returns the awaitable, which only points
// at its buffer: the factories below therefore read into static buffers, which outlive them.
template <typename MakeOp>
task<std::pair<test::op_result_t<MakeOp>, duration>> stop_while_waiting(MakeOp make_op,
                                                                        duration after = 10ms) {
  std::stop_source src;
  scope s;
  s.spawn(test::stop_after(&src, after));
  auto start = clock::now();
  auto r = co_await make_op(src.get_token());
  auto took = clock::now() - start;
  co_await s.join();
  co_return std::pair{std::move(r), took};
}

// Checks a stop_while_waiting outcome: cancelled, after the stop and soon after it.
template <typename Outcome>
void expect_canceled_in_flight(const Outcome& outcome) {
  expect_canceled(outcome.first);
  EXPECT_GE(ms(outcome.second), 9);
  EXPECT_LT(ms(outcome.second), 500);
}

// Runs make_op(token) with a stop requested while it waits: it must end canceled, promptly.
template <typename MakeOp>
void expect_stop_cancels_in_flight(MakeOp make_op) {
  expect_canceled_in_flight(run(stop_while_waiting(std::move(make_op))));
}

std::size_t read_until_eof(int fd) {
  char buf[65536];
  std::size_t total = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return total;
    total += static_cast<std::size_t>(n);
  }
}

// --- Stop before submit --------------------------------------------------------------------
//
// The operation must not start: whatever it would have done is still undone.

TEST_F(Cancel, NopStoppedBeforeSubmitIsCanceled) {
  auto body = []() -> task<result<void>> { co_return co_await nop(stopped_token()); };
  expect_canceled(run(body()));
}

TEST_F(Cancel, RecvStoppedBeforeSubmitLeavesTheBytesInTheSocket) {
  auto pair = test::make_tcp_pair();
  ASSERT_EQ(::send(pair.server.get(), "abc", 3, 0), 3);
  auto body = [&]() -> task<result<std::size_t>> {
    char buf[8];
    co_return co_await recv(pair.client.get(), buf, stopped_token());
  };
  expect_canceled(run(body()));
  EXPECT_EQ(test::drain_nonblocking(pair.client.get()), 3u);
}

TEST_F(Cancel, ReadStoppedBeforeSubmitLeavesTheBytesInThePipe) {
  auto p = test::make_pipe();
  ASSERT_EQ(::write(p.write.get(), "abc", 3), 3);
  auto body = [&]() -> task<result<std::size_t>> {
    char buf[8];
    co_return co_await read(p.read.get(), buf, stopped_token());
  };
  expect_canceled(run(body()));
  EXPECT_EQ(test::drain_nonblocking(p.read.get()), 3u);
}

TEST_F(Cancel, SendStoppedBeforeSubmitSendsNothing) {
  auto pair = test::make_tcp_pair();
  auto body = [&]() -> task<result<std::size_t>> {
    co_return co_await send(pair.client.get(), "abc", stopped_token());
  };
  expect_canceled(run(body()));
  EXPECT_EQ(test::drain_nonblocking(pair.server.get()), 0u);
}

TEST_F(Cancel, WriteWritevAndSendmsgStoppedBeforeSubmitWriteNothing) {
  auto pair = test::make_tcp_pair();
  auto body = [&]() -> task<void> {
    char a[] = "abc";
    std::array<iovec, 1> iov{{{a, 3}}};
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = 1;
    expect_canceled(co_await write(pair.client.get(), "abc", stopped_token()));
    expect_canceled(co_await writev(pair.client.get(), iov, stopped_token()));
    expect_canceled(co_await sendmsg(pair.client.get(), msg, stopped_token()));
  };
  run(body());
  EXPECT_EQ(test::drain_nonblocking(pair.server.get()), 0u);
}

TEST_F(Cancel, AcceptStoppedBeforeSubmitLeavesTheConnectionQueued) {
  auto listener = test::loopback_listener::open();
  auto client = open_socket(AF_INET, SOCK_STREAM).value();
  ASSERT_EQ(::connect(client.get(), listener.address.data(), listener.address.size()), 0);
  auto body = [&]() -> task<result<unique_fd>> {
    co_return co_await accept(listener.fd.get(), stopped_token());
  };
  expect_canceled(run(body()));
  EXPECT_TRUE(test::accept_nonblocking(listener.fd.get()));
}

TEST_F(Cancel, ConnectStoppedBeforeSubmitDoesNotConnect) {
  auto listener = test::loopback_listener::open();
  auto body = [&]() -> task<void> {
    auto fd = open_socket(AF_INET, SOCK_STREAM).value();
    expect_canceled(co_await connect(fd.get(), listener.address, stopped_token()));
    EXPECT_FALSE(peer_address(fd.get()));
  };
  run(body());
  EXPECT_FALSE(test::accept_nonblocking(listener.fd.get()));
}

TEST_F(Cancel, PollAndShutdownStoppedBeforeSubmitDoNothing) {
  auto pair = test::make_tcp_pair();
  ASSERT_EQ(::send(pair.server.get(), "x", 1, 0), 1);
  auto body = [&]() -> task<void> {
    expect_canceled(co_await poll(pair.client.get(), POLLIN, stopped_token()));
    expect_canceled(co_await ringo::shutdown(pair.client.get(), SHUT_WR, stopped_token()));
  };
  run(body());
  // The connection was not shut down: the peer has no end of stream to read.
  EXPECT_EQ(test::drain_nonblocking(pair.server.get()), 0u);
  char c;
  EXPECT_EQ(::recv(pair.server.get(), &c, 1, MSG_DONTWAIT), -1);
}

TEST_F(Cancel, SleepStoppedBeforeItStartsReturnsAtOnce) {
  auto start = clock::now();
  auto body = []() -> task<result<void>> { co_return co_await sleep_for(10s, stopped_token()); };
  expect_canceled(run(body()));
  EXPECT_LT(ms(clock::now() - start), 100);
}

// --- Stop while in flight ------------------------------------------------------------------

TEST_F(Cancel, StopCancelsARecvOnAnIdleSocket) {
  auto pair = test::make_tcp_pair();
  expect_stop_cancels_in_flight([fd = pair.client.get()](std::stop_token stop) {
    static char buf[8];
    return recv(fd, buf, std::move(stop));
  });
}

TEST_F(Cancel, StopCancelsARecvAwaitingOnAnIdleSocket) {
  auto pair = test::make_tcp_pair();
  expect_stop_cancels_in_flight([fd = pair.client.get()](std::stop_token stop) {
    static char buf[8];
    return recv_awaiting(fd, buf, std::move(stop));
  });
}

TEST_F(Cancel, StopCancelsAReadOnAnEmptyPipe) {
  auto p = test::make_pipe();
  expect_stop_cancels_in_flight([fd = p.read.get()](std::stop_token stop) {
    static char buf[8];
    return read(fd, buf, std::move(stop));
  });
}

TEST_F(Cancel, StopCancelsAConnectToABlackhole) {
  auto bh = test::make_blackhole();
  if (!bh) GTEST_SKIP() << "the kernel does not drop SYNs to a full accept queue";
  auto fd = open_socket(AF_INET, SOCK_STREAM).value();
  expect_stop_cancels_in_flight([fd = fd.get(), addr = bh->listener.address](std::stop_token stop) {
    return connect(fd, addr, std::move(stop));
  });
}

TEST_F(Cancel, StopCancelsAnAcceptOnAnIdleListener) {
  auto listener = test::loopback_listener::open();
  expect_stop_cancels_in_flight(
      [fd = listener.fd.get()](std::stop_token stop) { return accept(fd, std::move(stop)); });
}

TEST_F(Cancel, StopCancelsASendToAFullSocket) {
  auto pair = test::make_tcp_pair();
  test::fill_until_blocked(pair.client.get());
  expect_stop_cancels_in_flight(
      [fd = pair.client.get()](std::stop_token stop) { return send(fd, "more", std::move(stop)); });
}

TEST_F(Cancel, StopCancelsASendmsgToAFullSocket) {
  auto pair = test::make_tcp_pair();
  test::fill_until_blocked(pair.client.get());
  static char byte = 'x';
  static iovec iov{&byte, 1};
  static msghdr msg{nullptr, 0, &iov, 1, nullptr, 0, 0};
  expect_stop_cancels_in_flight(
      [fd = pair.client.get()](std::stop_token stop) { return sendmsg(fd, msg, std::move(stop)); });
}

TEST_F(Cancel, StopCancelsAWriteAndAWritevToAFullPipe) {
  auto p = test::make_pipe();
  test::fill_until_blocked(p.write.get());
  expect_stop_cancels_in_flight(
      [fd = p.write.get()](std::stop_token stop) { return write(fd, "more", std::move(stop)); });
  static char byte = 'x';
  static std::array<iovec, 1> iov{{{&byte, 1}}};
  expect_stop_cancels_in_flight(
      [fd = p.write.get()](std::stop_token stop) { return writev(fd, iov, std::move(stop)); });
}

TEST_F(Cancel, StopCancelsAPollOnAnIdleSocket) {
  auto pair = test::make_tcp_pair();
  expect_stop_cancels_in_flight(
      [fd = pair.client.get()](std::stop_token stop) { return poll(fd, POLLIN, std::move(stop)); });
}

// A cancelled recv leaves the socket usable: the next recv gets the next bytes.
TEST_F(Cancel, ASocketStaysUsableAfterACancelledRecv) {
  auto pair = test::make_tcp_pair();
  auto body = [&]() -> task<std::string> {
    auto first = co_await stop_while_waiting([fd = pair.client.get()](std::stop_token stop) {
      static char buf[8];
      return recv(fd, buf, std::move(stop));
    });
    expect_canceled(first.first);
    auto sent = co_await send(pair.server.get(), "after");
    EXPECT_TRUE(sent);
    char buf[8];
    auto n = co_await recv(pair.client.get(), buf);
    co_return std::string(buf, test::value_or(n, 0));
  };
  EXPECT_EQ(run(body()), "after");
}

// --- Deadline versus stop ------------------------------------------------------------------

TEST_F(Cancel, DeadlineAndStopAreDistinctErrors) {
  auto pair = test::make_tcp_pair();
  auto body = [&]() -> task<void> {
    char buf[8];
    auto timed_out = co_await recv(pair.client.get(), buf, {}, clock::now() + 10ms);
    auto stopped = co_await stop_while_waiting([fd = pair.client.get()](std::stop_token stop) {
      static char b[8];
      return recv(fd, b, std::move(stop));
    });
    EXPECT_EQ(timed_out.error(), errc::timed_out);
    EXPECT_EQ(stopped.first.error(), errc::operation_canceled);
    EXPECT_NE(timed_out.error(), stopped.first.error());
    EXPECT_EQ(timed_out.error().message(), "i/o timeout");
    EXPECT_EQ(stopped.first.error().message(), "operation was canceled");
  };
  run(body());
}

TEST_F(Cancel, TheEarlierOfDeadlineAndStopDecides) {
  auto pair = test::make_tcp_pair();
  auto body = [&]() -> task<void> {
    // Deadline first, stop later: timed out.
    auto a = co_await stop_while_waiting(
        [fd = pair.client.get()](std::stop_token stop) {
          static char buf[8];
          return recv(fd, buf, std::move(stop), clock::now() + 10ms);
        },
        40ms);
    EXPECT_EQ(a.first.error(), errc::timed_out);
    // Stop first, deadline later: cancelled, and the deadline's timer is gone with the op (ASan
    // would catch it firing into the finished frame while we sleep past it).
    auto b = co_await stop_while_waiting(
        [fd = pair.client.get()](std::stop_token stop) {
          static char buf[8];
          return recv(fd, buf, std::move(stop), clock::now() + 30ms);
        },
        5ms);
    EXPECT_EQ(b.first.error(), errc::operation_canceled);
    auto slept = co_await sleep_for(50ms);
    EXPECT_TRUE(slept);
  };
  run(body());
}

// --- Stop racing completion ----------------------------------------------------------------

// Each round writes a few bytes of a known sequence and requests stop while a recv waits for
// them. Every byte must arrive exactly once and in order: a recv that won the race returns its
// bytes, one that lost leaves them for the next recv.
TEST_F(Cancel, RecvReturnsBytesThatRacedTheStop) {
  auto pair = test::make_tcp_pair();
  std::string sent, received;
  int cancelled = 0;
  auto body = [&]() -> task<void> {
    std::mt19937 rng(1);
    for (int i = 0; i < race_rounds; ++i) {
      std::string chunk(1 + rng() % 32, '\0');
      for (std::size_t k = 0; k < chunk.size(); ++k)
        chunk[k] = static_cast<char>('a' + (sent.size() + k) % 26);
      std::array<char, 16> buf;  // smaller than some chunks: partial reads too
      auto r = co_await test::race_stop_with_completion(
          [fd = pair.client.get(), &buf](std::stop_token stop) {
            return recv(fd, buf, std::move(stop));
          },
          [&, fd = pair.server.get()] {
            EXPECT_EQ(::send(fd, chunk.data(), chunk.size(), 0), ssize_t(chunk.size()));
            sent += chunk;
          },
          race_plan::for_round(i));
      if (r) {
        EXPECT_GT(*r, 0u);
        received.append(buf.data(), *r);
      } else {
        EXPECT_EQ(r.error(), errc::operation_canceled) << r.error().message();
        ++cancelled;
      }
      // What the recv left (it lost the race, or the chunk was larger than its buffer) is taken
      // now, so that the next round starts on an empty socket rather than completing at once.
      received += test::take_available(pair.client.get());
    }
    EXPECT_EQ(::shutdown(pair.server.get(), SHUT_WR), 0);
    for (;;) {
      char tail[4096];
      auto n = co_await recv(pair.client.get(), tail);
      if (!n || *n == 0) break;
      received.append(tail, *n);
    }
  };
  run(body());
  EXPECT_EQ(received.size(), sent.size());
  EXPECT_TRUE(received == sent) << "bytes were lost, duplicated or reordered";
  EXPECT_GT(cancelled, 0) << "no round was cancelled: the race was never exercised";
  EXPECT_LT(cancelled, race_rounds) << "no round was won by the completion";
  RecordProperty("cancelled_rounds", cancelled);
}

// The same accounting when the op's deadline, not a stop, races the data: a sibling sends just
// before, at, or just after the deadline. The result is the bytes or timed_out, never a loss.
TEST_F(Cancel, RecvReturnsBytesThatRacedTheDeadline) {
  constexpr int rounds = 2000;
  auto pair = test::make_tcp_pair();
  std::size_t sent = 0, received = 0;
  int timed_out = 0;
  auto body = [&]() -> task<void> {
    for (int i = 0; i < rounds; ++i) {
      auto deadline = clock::now() + 200us;
      auto send_at = deadline + std::chrono::microseconds(i % 5 * 50 - 100);
      char buf[16];
      scope s;
      s.spawn([](int fd, time_point at, std::size_t* count) -> task<void> {
        (void)co_await sleep_until(at);
        EXPECT_EQ(::send(fd, "0123456789", 10, 0), 10);
        *count += 10;
      }(pair.server.get(), send_at, &sent));
      auto r = co_await recv(pair.client.get(), buf, {}, deadline);
      co_await s.join();
      if (r) {
        received += *r;
      } else {
        EXPECT_EQ(r.error(), errc::timed_out) << r.error().message();
        ++timed_out;
      }
      received += test::drain_nonblocking(pair.client.get());
    }
  };
  run(body());
  EXPECT_EQ(received, sent);
  EXPECT_GT(timed_out, 0);
  EXPECT_LT(timed_out, rounds);
  RecordProperty("timed_out_rounds", timed_out);
}

TEST_F(Cancel, ReadReturnsBytesThatRacedTheStop) {
  auto p = test::make_pipe();
  std::size_t sent = 0, received = 0;
  int cancelled = 0;
  auto body = [&]() -> task<void> {
    for (int i = 0; i < race_rounds; ++i) {
      char buf[4];
      auto r = co_await test::race_stop_with_completion(
          [fd = p.read.get(), &buf](std::stop_token stop) {
            return read(fd, buf, std::move(stop));
          },
          [&, fd = p.write.get()] {
            EXPECT_EQ(::write(fd, "12345678", 8), 8);
            sent += 8;
          },
          race_plan::for_round(i));
      if (r) {
        received += *r;
      } else {
        EXPECT_EQ(r.error(), errc::operation_canceled) << r.error().message();
        ++cancelled;
      }
      received += test::drain_nonblocking(p.read.get());
    }
  };
  run(body());
  p.write.reset();
  received += read_until_eof(p.read.get());
  EXPECT_EQ(received, sent);
  EXPECT_GT(cancelled, 0) << "no round was cancelled: the race was never exercised";
  EXPECT_LT(cancelled, race_rounds) << "no round was won by the completion";
  RecordProperty("cancelled_rounds", cancelled);
}

TEST_F(Cancel, PollReturnsReadinessThatRacedTheStop) {
  auto pair = test::make_tcp_pair();
  int ready = 0, cancelled = 0;
  auto body = [&]() -> task<void> {
    for (int i = 0; i < race_rounds; ++i) {
      auto r = co_await test::race_stop_with_completion(
          [fd = pair.client.get()](std::stop_token stop) {
            return poll(fd, POLLIN, std::move(stop));
          },
          [fd = pair.server.get()] { EXPECT_EQ(::send(fd, "x", 1, 0), 1); },
          race_plan::for_round(i));
      if (r) {
        EXPECT_TRUE(*r & POLLIN);
        ++ready;
      } else {
        EXPECT_EQ(r.error(), errc::operation_canceled) << r.error().message();
        ++cancelled;
      }
      EXPECT_EQ(test::drain_nonblocking(pair.client.get()), 1u);
    }
  };
  run(body());
  EXPECT_EQ(ready + cancelled, race_rounds);
  EXPECT_GT(cancelled, 0) << "no round was cancelled: the race was never exercised";
  EXPECT_LT(cancelled, race_rounds) << "no round was won by the completion";
  RecordProperty("cancelled_rounds", cancelled);
}

// Every round connects one client while an accept waits on the listener and a stop arrives. A
// connection the accept won is returned (and the fixture would see it leak if it were dropped); one
// it lost is still queued.
TEST_F(Cancel, AcceptReturnsAConnectionThatRacedTheStop) {
  auto listener = test::loopback_listener::open();
  int by_accept = 0, left_queued = 0;
  auto body = [&]() -> task<void> {
    for (int i = 0; i < race_rounds; ++i) {
      auto client = open_socket(AF_INET, SOCK_STREAM).value();
      test::set_reset_on_close(client.get());
      auto r = co_await test::race_stop_with_completion(
          [fd = listener.fd.get()](std::stop_token stop) { return accept(fd, std::move(stop)); },
          [&] {
            EXPECT_EQ(::connect(client.get(), listener.address.data(), listener.address.size()), 0);
          },
          race_plan::for_round(i));
      unique_fd server;
      if (r) {
        server = std::move(*r);
        ++by_accept;
      } else {
        EXPECT_EQ(r.error(), errc::operation_canceled) << r.error().message();
        server = test::accept_nonblocking(listener.fd.get());
        ++left_queued;
      }
      EXPECT_TRUE(server) << "round " << i << ": the connection was lost";
      if (!server) continue;
      EXPECT_EQ(peer_address(server.get()).value(), local_address(client.get()).value());
      test::set_reset_on_close(server.get());
    }
  };
  run(body());
  EXPECT_EQ(by_accept + left_queued, race_rounds);
  EXPECT_FALSE(test::accept_nonblocking(listener.fd.get()));
  EXPECT_GT(left_queued, 0) << "no round was cancelled: the race was never exercised";
  EXPECT_GT(by_accept, 0) << "no round was won by the connection";
  RecordProperty("cancelled_rounds", left_queued);
}

// A connect that completed before the cancel reached it reports success, and the connection
// really exists.
TEST_F(Cancel, ConnectThatRacedTheStopReportsItsRealResult) {
  auto listener = test::loopback_listener::open("127.0.0.1", 4096);
  int connected = 0, cancelled = 0;
  auto body = [&]() -> task<void> {
    for (int i = 0; i < race_rounds; ++i) {
      auto client = open_socket(AF_INET, SOCK_STREAM).value();
      test::set_reset_on_close(client.get());
      auto r = co_await test::race_stop_with_completion(
          [fd = client.get(), addr = listener.address](std::stop_token stop) {
            return connect(fd, addr, std::move(stop));
          },
          [] {}, race_plan::for_round(i));
      if (r) {
        ++connected;
        EXPECT_TRUE(peer_address(client.get()));
        auto server = test::accept_nonblocking(listener.fd.get());
        EXPECT_TRUE(server) << "round " << i << ": connect succeeded but nobody was accepted";
        if (server) {
          EXPECT_EQ(peer_address(server.get()).value(), local_address(client.get()).value());
          test::set_reset_on_close(server.get());
        }
      } else {
        EXPECT_EQ(r.error(), errc::operation_canceled) << r.error().message();
        ++cancelled;
        // The kernel may finish the handshake anyway: take what the listener got.
        while (auto server = test::accept_nonblocking(listener.fd.get()))
          test::set_reset_on_close(server.get());
      }
    }
  };
  run(body());
  EXPECT_EQ(connected + cancelled, race_rounds);
  RecordProperty("cancelled_rounds", cancelled);
}

// Each round fills `writer` (so a waiting write can go once the peer drains it), then drains
// `reader` while requesting stop. What the reader finally gets must equal what the writes
// reported: a write that moved bytes says so.
template <typename MakeWrite, typename EndStream>
void race_writes_against_a_drain(int writer, int reader, MakeWrite make_write,
                                 EndStream end_stream) {
  std::size_t reported = 0, drained = 0;
  int cancelled = 0;
  auto body = [&]() -> task<void> {
    for (int i = 0; i < race_rounds; ++i) {
      reported += test::fill_until_blocked(writer);
      auto r = co_await test::race_stop_with_completion(
          [&](std::stop_token stop) { return make_write(writer, std::move(stop)); },
          [&] { drained += test::drain_nonblocking(reader); }, race_plan::for_round(i));
      if (r) {
        reported += *r;
      } else {
        EXPECT_EQ(r.error(), errc::operation_canceled) << r.error().message();
        ++cancelled;
      }
    }
  };
  run(body());
  end_stream();
  drained += read_until_eof(reader);
  EXPECT_EQ(drained, reported);
  EXPECT_GT(cancelled, 0) << "no round was cancelled: the race was never exercised";
  EXPECT_LT(cancelled, race_rounds) << "no round was won by the completion";
  ::testing::Test::RecordProperty("cancelled_rounds", cancelled);
}

template <typename MakeSend>
void race_sends_into_a_full_socket(MakeSend make_send) {
  // A unix stream socket: a drained TCP socket with small buffers may reopen its window only when
  // the persist timer fires, and the send would never become completable within a round.
  auto pair = test::make_unix_pair();
  (void)set_option(pair.client.get(), SOL_SOCKET, SO_SNDBUF, 4096);
  race_writes_against_a_drain(pair.client.get(), pair.server.get(), make_send,
                              [&] { ASSERT_EQ(::shutdown(pair.client.get(), SHUT_WR), 0); });
}

TEST_F(Cancel, SendReturnsBytesThatRacedTheStop) {
  race_sends_into_a_full_socket([](int fd, std::stop_token stop) {
    static const std::string payload(3000, 's');
    return send(fd, payload, std::move(stop));
  });
}

TEST_F(Cancel, SendmsgReturnsBytesThatRacedTheStop) {
  race_sends_into_a_full_socket([](int fd, std::stop_token stop) {
    static std::string payload(3000, 'm');
    static iovec iov{payload.data(), payload.size()};
    static msghdr msg{nullptr, 0, &iov, 1, nullptr, 0, 0};
    return sendmsg(fd, msg, std::move(stop));
  });
}

template <typename MakeWrite>
void race_writes_into_a_full_pipe(MakeWrite make_write) {
  auto p = test::make_pipe();
  ASSERT_GE(::fcntl(p.write.get(), F_SETPIPE_SZ, 4096), 0);
  race_writes_against_a_drain(p.write.get(), p.read.get(), make_write, [&] { p.write.reset(); });
}

TEST_F(Cancel, WriteReturnsBytesThatRacedTheStop) {
  race_writes_into_a_full_pipe([](int fd, std::stop_token stop) {
    static const std::string payload(1000, 'w');
    return write(fd, payload, std::move(stop));
  });
}

TEST_F(Cancel, WritevReturnsBytesThatRacedTheStop) {
  race_writes_into_a_full_pipe([](int fd, std::stop_token stop) {
    static std::string a(500, 'v'), b(500, 'V');
    static std::array<iovec, 2> iov{{{a.data(), a.size()}, {b.data(), b.size()}}};
    return writev(fd, iov, std::move(stop));
  });
}

TEST_F(Cancel, NopThatRacedTheStopReportsEitherOutcome) {
  int done = 0, cancelled = 0;
  auto body = [&]() -> task<void> {
    for (int i = 0; i < race_rounds; ++i) {
      auto r = co_await test::race_stop_with_completion(
          [](std::stop_token stop) { return nop(std::move(stop)); }, [] {},
          race_plan::for_round(i));
      if (r) {
        ++done;
      } else {
        EXPECT_EQ(r.error(), errc::operation_canceled);
        ++cancelled;
      }
    }
  };
  run(body());
  EXPECT_EQ(done + cancelled, race_rounds);
  RecordProperty("cancelled_rounds", cancelled);
}

// --- Stop from another thread --------------------------------------------------------------

// Waits (on the requesting thread) until `flag` is set, then a little longer so that the loop
// thread is blocked in io_uring_enter by the time the stop is requested.
void wait_until_waiting(const std::atomic<bool>& flag) {
  while (!flag.load()) std::this_thread::yield();
  std::this_thread::sleep_for(10ms);
}

TEST_F(CrossThreadStop, CancelsARecvPromptly) {
  auto pair = test::make_tcp_pair();
  std::stop_source src;
  std::atomic<bool> waiting{false};
  std::atomic<time_point> requested{};
  std::thread stopper([&] {
    wait_until_waiting(waiting);
    requested = clock::now();
    src.request_stop();
  });
  auto body = [&]() -> task<result<std::size_t>> {
    char buf[8];
    waiting = true;
    co_return co_await recv(pair.client.get(), buf, src.get_token());
  };
  auto r = run(body());
  auto returned = clock::now();
  stopper.join();
  expect_canceled(r);
  EXPECT_LT(ms(returned - requested.load()), 100) << "the eventfd did not wake the loop promptly";
}

TEST_F(CrossThreadStop, CancelsAConnectToABlackhole) {
  auto bh = test::make_blackhole();
  if (!bh) GTEST_SKIP() << "the kernel does not drop SYNs to a full accept queue";
  std::stop_source src;
  std::atomic<bool> waiting{false};
  std::thread stopper([&] {
    wait_until_waiting(waiting);
    src.request_stop();
  });
  auto body = [&]() -> task<result<void>> {
    auto fd = open_socket(AF_INET, SOCK_STREAM).value();
    waiting = true;
    co_return co_await connect(fd.get(), bh->listener.address, src.get_token());
  };
  auto r = run(body());
  stopper.join();
  expect_canceled(r);
}

// A stop requested from another thread reaches every child of a scope chained to the token: the
// children wait on different things (I/O, a timer, an event) and all come back cancelled.
TEST_F(CrossThreadStop, ReachesEveryChildOfAScope) {
  auto pair = test::make_tcp_pair();
  auto listener = test::loopback_listener::open();
  std::stop_source src;
  std::atomic<bool> waiting{false};
  std::thread stopper([&] {
    wait_until_waiting(waiting);
    src.request_stop();
  });
  std::vector<std::error_code> errors(4);
  auto body = [&]() -> task<void> {
    event never;
    scope s(src.get_token());
    s.spawn([](int fd, std::stop_token stop, std::error_code* out) -> task<void> {
      char buf[8];
      *out = (co_await recv(fd, buf, std::move(stop))).error();
    }(pair.client.get(), s.get_token(), &errors[0]));
    s.spawn([](int fd, std::stop_token stop, std::error_code* out) -> task<void> {
      *out = (co_await accept(fd, std::move(stop))).error();
    }(listener.fd.get(), s.get_token(), &errors[1]));
    s.spawn([](std::stop_token stop, std::error_code* out) -> task<void> {
      *out = (co_await sleep_for(10s, std::move(stop))).error();
    }(s.get_token(), &errors[2]));
    s.spawn([](event* e, std::stop_token stop, std::error_code* out) -> task<void> {
      *out = (co_await e->wait(std::move(stop))).error();
    }(&never, s.get_token(), &errors[3]));
    waiting = true;
    co_await s.join();
  };
  auto start = clock::now();
  run(body());
  stopper.join();
  EXPECT_LT(ms(clock::now() - start), 1000);
  for (auto& e : errors) EXPECT_EQ(e, errc::operation_canceled) << e.message();
}

// Busy-waits: sleeping would round the short delays up to the scheduler's granularity.
void spin_for(std::chrono::microseconds d) {
  auto until = clock::now() + d;
  while (clock::now() < until) {
  }
}

// Rounds of a recv on the loop thread while another thread writes a byte and requests stop, in
// either order, after a random delay: the stop arrives before the op is submitted, while it waits,
// or while its completion is being handled (the stop_callback's destructor then waits for the
// other thread). Every byte must arrive once, in order.
TEST_F(CrossThreadStop, RacingCompletionLosesNothing) {
  constexpr int rounds = 1000;
  auto pair = test::make_tcp_pair();
  std::string received;
  int cancelled = 0;
  auto body = [&]() -> task<void> {
    std::mt19937 rng(7);
    for (int i = 0; i < rounds; ++i) {
      std::stop_source src;
      auto before = std::chrono::microseconds(rng() % 200);
      auto between = std::chrono::microseconds(rng() % 3 == 0 ? 0 : rng() % 100);
      bool stop_first = rng() % 2;
      char byte = static_cast<char>('a' + i % 26);
      std::thread other([&, before, between, stop_first, byte] {
        spin_for(before);
        auto send_byte = [&] { EXPECT_EQ(::send(pair.server.get(), &byte, 1, 0), 1); };
        if (stop_first)
          src.request_stop();
        else
          send_byte();
        spin_for(between);
        if (stop_first)
          send_byte();
        else
          src.request_stop();
      });
      char buf[4];
      auto r = co_await recv(pair.client.get(), buf, src.get_token());
      other.join();  // the stop_source must outlive the other thread's request_stop
      if (r) {
        received.append(buf, *r);
      } else {
        EXPECT_EQ(r.error(), errc::operation_canceled) << r.error().message();
        ++cancelled;
      }
      received += test::take_available(pair.client.get());  // the next round starts empty
    }
    EXPECT_EQ(::shutdown(pair.server.get(), SHUT_WR), 0);
    for (;;) {
      char tail[4096];
      auto n = co_await recv(pair.client.get(), tail);
      if (!n || *n == 0) break;
      received.append(tail, *n);
    }
  };
  run(body());
  std::string expected;
  for (int i = 0; i < rounds; ++i) expected += static_cast<char>('a' + i % 26);
  EXPECT_TRUE(received == expected) << "bytes were lost, duplicated or reordered";
  EXPECT_GT(cancelled, 0) << "no round was cancelled: the race was never exercised";
  EXPECT_LT(cancelled, rounds) << "no round was won by the completion";
  RecordProperty("cancelled_rounds", cancelled);
}

// A stop from another thread that lands just as a sleep's timer fires: either outcome is fine,
// but the queued stop must never reach the finished sleep (ASan watches the frame).
TEST_F(CrossThreadStop, RacingATimerIsClean) {
  constexpr int rounds = 1000;
  int slept = 0, cancelled = 0;
  auto body = [&]() -> task<void> {
    std::mt19937 rng(11);
    for (int i = 0; i < rounds; ++i) {
      std::stop_source src;
      auto delay = std::chrono::microseconds(rng() % 300);
      std::thread other([&src, delay] {
        std::this_thread::sleep_for(delay);
        src.request_stop();
      });
      auto r = co_await sleep_for(150us, src.get_token());
      other.join();
      if (r) {
        ++slept;
      } else {
        EXPECT_EQ(r.error(), errc::operation_canceled);
        ++cancelled;
      }
    }
  };
  run(body());
  EXPECT_EQ(slept + cancelled, rounds);
  RecordProperty("cancelled_rounds", cancelled);
}

}  // namespace
}  // namespace ringo
