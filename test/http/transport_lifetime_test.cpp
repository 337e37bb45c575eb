// A transport is RAII (Go's Transport needs no Close): dropping one that holds idle connections
// and a dial in flight stops them, and its io_context finishes them before run() returns, so
// nothing aborts and no descriptor is left open; the same when an exception unwinds past it, and
// when the transport outlives the run() it was used in. The fd-leak fixture checks every case.
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include <ringo/http.hpp>
#include <ringo/http/httptest.hpp>
#include <ringo/runtime.hpp>

#include "client_test_support.hpp"
#include "ringo_test.hpp"

namespace ringo::http {
namespace {

using namespace std::chrono_literals;

class TransportLifetime : public ringo::test::RingoTest {};

task<void> hello(response_writer& w, request&) {
  co_await w.write("hello");
}

// Fills `t` with an idle connection to `srv` and starts a dial to `hole` that nobody waits for
// any more (its request gave up at once; the dial belongs to the transport).
task<void> make_busy(transport* t, std::string srv, std::string hole) {
  std::string got = co_await fetch(t, get(srv));
  EXPECT_EQ(got, "hello");
  client_request late = get(hole);
  late.deadline = clock::now() + 10ms;
  auto r = co_await t->round_trip(std::move(late));
  EXPECT_FALSE(r);
  EXPECT_EQ(t->idle_count(), 1u);
}

TEST_F(TransportLifetime, DroppingOneWithIdleConnsAndADialInFlightNeitherAbortsNorLeaks) {
  auto hole = ringo::test::make_blackhole();
  if (!hole) GTEST_SKIP() << "the kernel does not drop SYNs to a full accept queue";
  httptest::server srv(hello);
  const std::string hole_url = "http://" + hole->listener.address.to_string() + "/";
  auto start = clock::now();
  ringo::run([](std::string s, std::string h) -> task<void> {
    auto t = std::make_unique<transport>();
    co_await make_busy(t.get(), s, h);
    t.reset();  // no close(): the idle watcher and the dial are stopped and finished for us
    EXPECT_TRUE(co_await sleep_for(1ms));
  }(srv.url() + "/", hole_url));
  EXPECT_LT(clock::now() - start, 3s) << "the dial to the blackhole was not stopped";
}

TEST_F(TransportLifetime, DroppingOneWhileAnExceptionUnwindsNeitherAbortsNorLeaks) {
  auto hole = ringo::test::make_blackhole();
  if (!hole) GTEST_SKIP() << "the kernel does not drop SYNs to a full accept queue";
  httptest::server srv(hello);
  const std::string hole_url = "http://" + hole->listener.address.to_string() + "/";
  EXPECT_THROW(ringo::run([](std::string s, std::string h) -> task<void> {
                 transport t;
                 co_await make_busy(&t, s, h);
                 throw std::runtime_error("the caller fails with the transport in use");
               }(srv.url() + "/", hole_url)),
               std::runtime_error);
}

TEST_F(TransportLifetime, OneThatOutlivesItsRunIsStoppedWhenTheContextGoes) {
  auto hole = ringo::test::make_blackhole();
  if (!hole) GTEST_SKIP() << "the kernel does not drop SYNs to a full accept queue";
  httptest::server srv(hello);
  const std::string hole_url = "http://" + hole->listener.address.to_string() + "/";
  transport t;  // made outside any run(): its work runs on the context run() makes
  ringo::run(make_busy(&t, srv.url() + "/", hole_url));
  // run()'s context is gone: it stopped the watcher and the dial and ran them to their end.
  EXPECT_EQ(t.idle_count(), 0u);
}

TEST_F(TransportLifetime, CloseStillWaitsForEverything) {
  httptest::server srv(hello);
  ringo::run([](std::string s) -> task<void> {
    transport t;
    EXPECT_EQ(co_await fetch(&t, get(s)), "hello");
    co_await t.close();
    EXPECT_EQ(t.idle_count(), 0u);
  }(srv.url() + "/"));
}

}  // namespace
}  // namespace ringo::http
