// The client against ringo's own server on 127.0.0.1: redirects (Go's method rewriting, the limit,
// credentials kept from other hosts, replayed bodies), the whole-request timeout, fetch, and
// errors that name the request.
#include <chrono>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include <ringo/http.hpp>
#include <ringo/runtime.hpp>

#include "client_test_support.hpp"
#include "ringo_test.hpp"
#include "server_test_support.hpp"

namespace ringo::http {
namespace {

using namespace std::chrono_literals;

int trailing_number(std::string_view target) {
  return std::atoi(std::string(target.substr(target.rfind('/') + 1)).c_str());
}

// /hop/N redirects N times, then says "done"; /code/C answers C with Location /echo; /far
// redirects to another host name (which the test's dial hook maps back to 127.0.0.1); /echo
// describes the request; /slow-head and /slow-body stall until the client leaves.
task<void> routes(response_writer& w, request& r) {
  std::string_view t = r.target;
  if (t.starts_with("/hop/")) {
    int n = trailing_number(t);
    if (n == 0) {
      (void)co_await w.write(std::string_view("done"));
      co_return;
    }
    w.header().set("Location", "/hop/" + std::to_string(n - 1));
    w.write_header(302);
    (void)co_await w.write(std::string_view("moved"));
  } else if (t.starts_with("/code/")) {
    w.header().set("Location", "/echo");
    w.write_header(trailing_number(t));
  } else if (t == "/far") {
    std::string port = r.host.substr(r.host.rfind(':') + 1);
    w.header().set("Location", "http://elsewhere.test:" + port + "/echo");
    w.write_header(302);
  } else if (t == "/echo") {
    result<std::string> body = co_await r.body->read_all(1 << 20, r.stop);
    std::string out = r.method + " body=" + body.value_or("?") +
                      " auth=" + std::string(r.header.get("Authorization").value_or("-")) +
                      " referer=" + std::string(r.header.get("Referer").value_or("-"));
    (void)co_await w.write(std::string_view(out));
  } else if (t == "/slow-head") {
    (void)co_await sleep_for(10s, r.stop);
  } else if (t == "/slow-body") {
    w.header().set("Content-Length", "100");
    (void)co_await w.write(std::string_view("part"));
    (void)co_await w.flush();
    (void)co_await sleep_for(10s, r.stop);
  } else if (t == "/bare308") {
    w.write_header(308);  // no Location: seen in the wild (Go #17773)
  } else if (t == "/missing") {
    (void)co_await error(w, 404, "no such thing");
  }
}

transport_options with_elsewhere() {
  transport_options o;
  o.dial = [](std::string network, std::string addr,
              std::stop_token stop) -> task<result<net::conn, net::op_error>> {
    constexpr std::string_view far = "elsewhere.test:";
    if (addr.starts_with(far)) addr = "127.0.0.1:" + addr.substr(far.size());
    net::dialer d;
    co_return co_await d.dial(network, addr, stop);
  };
  return o;
}

class ClientTest : public ringo::test::RingoTest {
 protected:
  http::server srv_{routes};
  http::test::server_thread thread_{srv_};
  std::string url(std::string_view path) const { return thread_.url(path); }
  // The server's side of a conn the client closed may take a moment to go: wait for it (up to
  // 2 s) before the descriptors are counted.
  void TearDown() override {
    wait_for_server_conns(0);
    RingoTest::TearDown();
  }
  void wait_for_server_conns(std::size_t n) {
    auto until = clock::now() + 2s;
    while (thread_.connections() != n && clock::now() < until) std::this_thread::sleep_for(5ms);
    EXPECT_EQ(thread_.connections(), n);
  }
};

// Runs `body(client&)` on a fresh transport, closing it afterwards.
template <typename F>
void with_client(F body, transport_options o = {}, client_options co = {}) {
  transport t(std::move(o));
  ringo::run([](transport* tp, client_options copts, F f) -> task<void> {
    client c(*tp, std::move(copts));
    co_await f(c);
    co_await tp->close();
  }(&t, std::move(co), std::move(body)));
}

TEST_F(ClientTest, FollowsRedirectsOnOneConn) {
  std::size_t dials = 0;
  transport t;
  ringo::run([](transport* tp, std::string u, std::size_t* d) -> task<void> {
    client c(*tp);
    result<std::string, client_error> got = co_await c.fetch(u);
    EXPECT_EQ(got.value_or(std::string()), "done");
    *d = tp->dial_count();
    co_await tp->close();
  }(&t, url("/hop/5"), &dials));
  EXPECT_EQ(dials, 1u);  // each small redirect body was read, so its conn was reused
}

TEST_F(ClientTest, StopsAfterTenRedirects) {
  with_client([u = url("/hop/11")](client& c) -> task<void> {
    result<response, client_error> r = co_await c.get(u);
    EXPECT_FALSE(r.has_value());
    if (r) co_return;
    EXPECT_EQ(r.error(), errc::too_many_redirects);
    EXPECT_NE(r.error().message().find("stopped after 10 redirects"), std::string::npos)
        << r.error().message();
    EXPECT_TRUE(r.error().message().starts_with("Get \"http://127.0.0.1:")) << r.error().message();
  });
  with_client([u = url("/hop/10")](client& c) -> task<void> {
    result<std::string, client_error> got = co_await c.fetch(u);
    EXPECT_EQ(got.value_or(std::string()), "done");
  });
}

TEST_F(ClientTest, RedirectMethodRewriting) {  // Go's redirectBehavior
  struct row {
    int code;
    const char* method;
    const char* want;
  };
  const row rows[] = {
      {301, "POST", "GET body= auth=- referer="},
      {302, "POST", "GET body= auth=- referer="},
      {303, "POST", "GET body= auth=- referer="},
      {303, "PUT", "GET body= auth=- referer="},
      {307, "POST", "POST body=data auth=- referer="},
      {308, "PUT", "PUT body=data auth=- referer="},
      {302, "HEAD", ""},
  };
  for (const row& rw : rows) {
    SCOPED_TRACE(std::to_string(rw.code) + " " + rw.method);
    std::string from = url("/code/" + std::to_string(rw.code));
    with_client([&rw, from](client& c) -> task<void> {
      client_request req;
      req.method = rw.method;
      req.url = parse_url(from).value();
      if (std::string_view(rw.method) != "HEAD") req.body = "data";
      result<response, client_error> r = co_await c.send(std::move(req));
      EXPECT_TRUE(r.has_value());
      if (!r) co_return;
      EXPECT_EQ(r->status, 200);
      result<std::string> body = co_await r->body->read_all();
      EXPECT_EQ(body.value_or("?"), std::string(rw.want) + (*rw.want ? from : ""));
    });
  }
}

TEST_F(ClientTest, RedirectWithoutLocationIsReturned) {
  with_client([u = url("/bare308")](client& c) -> task<void> {
    result<response, client_error> r = co_await c.get(u);
    EXPECT_EQ(r ? r->status : 0, 308);
  });
}

TEST_F(ClientTest, ErrorStatusIsAResponseButAFetchError) {
  with_client([u = url("/missing")](client& c) -> task<void> {
    result<response, client_error> r = co_await c.get(u);
    EXPECT_EQ(r ? r->status : 0, 404);
    result<std::string, client_error> f = co_await c.fetch(u);
    EXPECT_FALSE(f.has_value());
    if (!f) {
      EXPECT_EQ(f.error(), errc::bad_status);
      EXPECT_NE(f.error().message().find("404 Not Found"), std::string::npos);
    }
  });
}

TEST_F(ClientTest, CredentialsStayWithTheirHost) {
  with_client(
      [near = url("/code/302"), far = url("/far")](client& c) -> task<void> {
        for (const std::string& u : {near, far}) {
          client_request req;
          req.url = parse_url(u).value();
          req.header.set("Authorization", "Bearer secret");
          result<response, client_error> r = co_await c.send(std::move(req));
          EXPECT_TRUE(r.has_value());
          if (!r) co_return;
          result<std::string> body = co_await r->body->read_all();
          std::string want = u == near ? "auth=Bearer secret" : "auth=-";
          EXPECT_NE(body.value_or("").find(want), std::string::npos) << *body;
        }
      },
      with_elsewhere());
}

TEST_F(ClientTest, StreamedBodyIsReplayedFor307AndClosedOnce) {
  int rewinds = 0, closes = 0;
  with_client([&, u = url("/code/307")](client& c) -> task<void> {
    client_request req;
    req.method = "POST";
    req.url = parse_url(u).value();
    req.source = std::make_shared<counting_source>("streamed", false, &rewinds, &closes);
    result<response, client_error> r = co_await c.send(std::move(req));
    EXPECT_TRUE(r.has_value());
    if (!r) co_return;
    result<std::string> body = co_await r->body->read_all();
    EXPECT_TRUE(body.value_or("").starts_with("POST body=streamed ")) << *body;
  });
  EXPECT_EQ(rewinds, 1);
  EXPECT_EQ(closes, 1);
}

TEST_F(ClientTest, TimeoutWhileAwaitingHeaders) {
  client_options co;
  co.timeout = 200ms;
  auto start = clock::now();
  with_client(
      [u = url("/slow-head")](client& c) -> task<void> {
        result<response, client_error> r = co_await c.get(u);
        EXPECT_FALSE(r.has_value());
        if (r) co_return;
        EXPECT_EQ(r.error().code(), ringo::errc::timed_out);
        EXPECT_EQ(r.error().message(), "Get \"" + u +
                                           "\": context deadline exceeded (Client.Timeout "
                                           "exceeded while awaiting headers)");
      },
      {}, co);
  expect_took_at_least(start, 200ms);
  wait_for_server_conns(0);  // the server saw the client go
}

TEST_F(ClientTest, TimeoutCoversTheBody) {
  client_options co;
  co.timeout = 300ms;
  auto start = clock::now();
  with_client(
      [u = url("/slow-body")](client& c) -> task<void> {
        result<response, client_error> r = co_await c.get(u);
        EXPECT_TRUE(r.has_value());
        if (!r) co_return;
        result<std::string> body = co_await r->body->read_all();
        EXPECT_FALSE(body.has_value());
        if (!body) {
          EXPECT_EQ(body.error(), ringo::errc::timed_out);
        }
      },
      {}, co);
  expect_took_at_least(start, 300ms);
}

TEST_F(ClientTest, StopCancelsARedirectChain) {
  auto start = clock::now();
  with_client([u = url("/slow-head")](client& c) -> task<void> {
    std::stop_source ss;
    auto [r, ignored] =
        co_await when_all(c.get(u, ss.get_token()), ringo::test::stop_after(&ss, 50ms));
    EXPECT_FALSE(r.has_value());
    if (!r) {
      EXPECT_EQ(r.error().code(), ringo::errc::operation_canceled);
    }
  });
  EXPECT_LT(clock::now() - start, 5s);
}

TEST_F(ClientTest, ErrorsNameTheRequest) {
  std::string u = "http://" + ringo::test::refused_address().to_string() + "/x";
  with_client([u](client& c) -> task<void> {
    result<response, client_error> r = co_await c.post(u, "text/plain", "x");
    EXPECT_FALSE(r.has_value());
    if (r) co_return;
    std::string host_port = u.substr(7, u.size() - 9);
    EXPECT_EQ(r.error().message(),
              "Post \"" + u + "\": dial tcp " + host_port + ": connect: connection refused");
  });
  with_client([](client& c) -> task<void> {
    result<response, client_error> r = co_await c.get("ftp://127.0.0.1/");
    EXPECT_FALSE(r.has_value());
    if (!r) {
      EXPECT_EQ(r.error().message(),
                "Get \"ftp://127.0.0.1/\": unsupported protocol scheme \"ftp\"");
    }
  });
}

TEST_F(ClientTest, OneOffFetch) {
  std::string got = ringo::run([](std::string u) -> task<std::string> {
    result<std::string, client_error> r = co_await ringo::http::fetch(u);
    co_return r ? *r : r.error().message();
  }(url("/hop/2")));
  EXPECT_EQ(got, "done");
}

TEST(UrlResolve, References) {
  url base = parse_url("http://a.test:8080/b/c/d?q=1").value();
  struct row {
    const char* ref;
    const char* want;
  };
  const row rows[] = {
      {"/x", "http://a.test:8080/x"},
      {"x/y", "http://a.test:8080/b/c/x/y"},
      {"?z=2", "http://a.test:8080/b/c/d?z=2"},
      {"//other.test/p", "http://other.test/p"},
      {"http://third.test:81/", "http://third.test:81/"},
      {"/frag#part", "http://a.test:8080/frag"},
  };
  for (const row& r : rows) {
    result<url, url_error> u = resolve(base, r.ref);
    EXPECT_EQ(u ? u->string() : u.error().message(), r.want) << r.ref;
  }
  EXPECT_EQ(resolve(base, "https://secure.test/")->string(), "https://secure.test/");
  EXPECT_FALSE(resolve(base, "ftp://files.test/").has_value());
}

}  // namespace
}  // namespace ringo::http
