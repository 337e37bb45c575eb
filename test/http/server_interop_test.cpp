// server: real clients over loopback. curl (keep-alive across URLs, POST with 100-continue,
// HTTP/1.0, HEAD, chunked streams, a client that gives up), Python's http.client, h11 as a strict
// checker of every byte we send (framing, 1xx, 204/304, errors, keep-alive), and Go's net/http
// client running 1,000 concurrent requests. Each test skips with a message when its client is not
// installed (test/run installs curl, python3-h11 and golang-go).
#include <atomic>
#include <charconv>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "server_test_support.hpp"

namespace ringo::http {
namespace {

using namespace test;

using Curl = ringo::test::RingoTest;
using PythonHttpClient = ringo::test::RingoTest;
using H11 = ringo::test::RingoTest;
using GoClient = ringo::test::RingoTest;

// Debian's python3: a pyenv python3 earlier on PATH may lack h11.
constexpr const char* python = "/usr/bin/python3";

int number_after(std::string_view path, std::string_view prefix) {
  int n = 0;
  path.remove_prefix(prefix.size());
  std::from_chars(path.data(), path.data() + path.size(), n);
  return n;
}

// What the interop server observed, for the tests to check.
struct observations {
  moment delay_stopped;
  std::atomic<int> requests{0};
};

// A small httpbin: /hello, /echo (the body back), /stream/N (N chunks, flushed), /delay/MS
// (cancellable), /hints (103 then 200), /status/CODE, /concurrent?i=N (20 ms, then "hello N").
http::handler interop_handler(observations* seen) {
  return [seen](response_writer& w, request& r) -> task<void> {
    ++seen->requests;
    std::string_view path = r.path();
    if (path == "/hello") {
      w.header().set("Content-Type", "text/plain");
      co_await w.write("Hello, World!");
    } else if (path == "/echo") {
      auto body = co_await r.body->read_all();
      if (!body) {
        (void)co_await http::error(w, status::bad_request, body.error().message());
        co_return;
      }
      co_await w.write(*body);
    } else if (path.starts_with("/stream/")) {
      for (int i = 0, n = number_after(path, "/stream/"); i < n; ++i) {
        co_await w.write("chunk " + std::to_string(i) + "\n");
        if (!co_await w.flush()) co_return;
      }
    } else if (path.starts_with("/delay/")) {
      auto slept =
          co_await sleep_for(std::chrono::milliseconds(number_after(path, "/delay/")), r.stop);
      if (!slept) {
        seen->delay_stopped.mark();
        co_return;
      }
      co_await w.write("slept");
    } else if (path == "/hints") {
      w.header().add("Link", "</a.css>; rel=preload; as=style");
      co_await w.write_informational(status::early_hints);
      co_await w.write("hinted");
    } else if (path.starts_with("/status/")) {
      w.write_header(number_after(path, "/status/"));
    } else if (path == "/concurrent") {
      (void)co_await sleep_for(20ms, r.stop);
      std::string text = "hello " + std::string(r.query().substr(2));
      co_await w.write(text);
    } else {
      (void)co_await http::error(w, status::not_found, "404 page not found");
    }
  };
}

struct interop_server {
  observations seen;
  http::server srv{interop_handler(&seen)};
  server_thread thread{srv};
};

// --- curl ----------------------------------------------------------------------------------------

std::string curl_path() {
  return find_program("curl");
}

TEST_F(Curl, GetsTwoUrlsOverOneKeptAliveConnection) {
  auto curl = curl_path();
  if (curl.empty()) GTEST_SKIP() << "curl is not installed (test/run installs it)";
  interop_server s;
  auto r = run_process({curl, "-sS", "-v", s.thread.url("/hello"), s.thread.url("/stream/3")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Hello, World!chunk 0\nchunk 1\nchunk 2\n");
  EXPECT_NE(r.err.find("Re-using existing connection"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("< Content-Length: 13"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("< Transfer-Encoding: chunked"), std::string::npos) << r.err;
}

TEST_F(Curl, PostsALargeBodyAfter100Continue) {
  auto curl = curl_path();
  if (curl.empty()) GTEST_SKIP() << "curl is not installed (test/run installs it)";
  interop_server s;
  std::string body(2 << 20, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + (i * 7) % 26);
  auto r = run_process({curl, "-sS", "-v", "--data-binary", "@-", "-H", "Expect: 100-continue",
                        "-H", "Content-Type: application/octet-stream", s.thread.url("/echo")},
                       {}, body);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("< HTTP/1.1 100 Continue"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.size(), body.size());
  EXPECT_TRUE(r.out == body) << "the echoed body differs";
}

TEST_F(Curl, SpeaksHttp10AndHead) {
  auto curl = curl_path();
  if (curl.empty()) GTEST_SKIP() << "curl is not installed (test/run installs it)";
  interop_server s;
  auto old = run_process({curl, "-sS", "-v", "--http1.0", s.thread.url("/stream/2")});
  ASSERT_EQ(old.exit_code, 0) << old.err;
  EXPECT_EQ(old.out, "chunk 0\nchunk 1\n") << "close-delimited for HTTP/1.0";
  EXPECT_EQ(old.err.find("Transfer-Encoding"), std::string::npos) << old.err;

  auto head = run_process({curl, "-sS", "-I", s.thread.url("/hello")});
  ASSERT_EQ(head.exit_code, 0) << head.err;
  EXPECT_EQ(head.out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head.out;
  EXPECT_NE(head.out.find("Content-Length: 13\r\n"), std::string::npos) << head.out;
  EXPECT_NE(head.out.find("Date: "), std::string::npos) << head.out;
}

TEST_F(Curl, SeesErrorStatuses) {
  auto curl = curl_path();
  if (curl.empty()) GTEST_SKIP() << "curl is not installed (test/run installs it)";
  interop_server s;
  auto r =
      run_process({curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}\n", s.thread.url("/nowhere"),
                   s.thread.url("/status/204"), s.thread.url("/status/503")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "404\n204\n503\n");
}

// Go commit 5c70d51's point, with a real client: curl gives up after 200 ms, and the handler's stop
// token fires at once rather than when its 5 s sleep ends.
TEST_F(Curl, AClientThatGivesUpStopsTheHandler) {
  auto curl = curl_path();
  if (curl.empty()) GTEST_SKIP() << "curl is not installed (test/run installs it)";
  interop_server s;
  auto start = steady::now();
  auto r = run_process({curl, "-sS", "--max-time", "0.2", s.thread.url("/delay/5000")});
  auto curl_done = steady::now();
  EXPECT_NE(r.exit_code, 0) << "curl did not time out";
  auto stopped = s.seen.delay_stopped.wait_for(2s);
  ASSERT_TRUE(stopped) << "the handler never saw the client leave";
  EXPECT_LT(ms(*stopped - start), 1000);
  EXPECT_LT(ms(*stopped - curl_done), 50) << "stop came late after curl exited";
}

// --- Python's http.client ------------------------------------------------------------------------

// (No 103 here: http.client skips only 100 and takes any other 1xx for the final response; h11
// checks Early Hints below.)
const char* const http_client_script = R"PY(
import http.client, sys
host, port = sys.argv[1], int(sys.argv[2])
c = http.client.HTTPConnection(host, port, timeout=5)

def get(method, path, body=None, headers={}, **kw):
    c.request(method, path, body=body, headers=headers, **kw)
    r = c.getresponse()
    return r, r.read()

r, b = get("GET", "/hello")
assert r.status == 200 and b == b"Hello, World!", (r.status, b)
assert r.getheader("Content-Length") == "13"
sock = c.sock
for i in range(5):
    r, b = get("POST", "/echo", body=b"x" * (i * 1000))
    assert r.status == 200 and b == b"x" * (i * 1000), (i, r.status, len(b))
assert c.sock is sock, "http.client reconnected: keep-alive broken"
r, b = get("GET", "/stream/4")
assert r.getheader("Transfer-Encoding") == "chunked"
assert b == b"".join(b"chunk %d\n" % i for i in range(4)), b
r, b = get("HEAD", "/hello")
assert r.status == 200 and b == b"" and r.getheader("Content-Length") == "13"
r, b = get("POST", "/echo", body=iter([b"abc", b"def"]), encode_chunked=True,
           headers={"Transfer-Encoding": "chunked"})
assert b == b"abcdef", b
r, b = get("GET", "/status/204")
assert r.status == 204 and b == b""
r, b = get("GET", "/status/304")
assert r.status == 304 and b == b""
r, b = get("GET", "/hello")
assert b == b"Hello, World!"
assert c.sock is sock, "keep-alive broken after 204/304"
print("ok")
)PY";

TEST_F(PythonHttpClient, GetPostHeadChunkedAndKeepAlive) {
  if (::access(python, X_OK) != 0) GTEST_SKIP() << python << " is not installed";
  interop_server s;
  auto r =
      run_process({python, "-c", http_client_script, "127.0.0.1", std::to_string(s.thread.port())});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "ok\n") << r.err;
}

// --- h11: a strict check of our bytes
// -------------------------------------------------------------

// Each scenario sends a request (h11 writes it, so h11 knows what to expect back, except where the
// raw bytes are replaced by a malformed request) and lets h11 parse the answer: any framing error,
// bad field, or 1xx/204/304 carrying a body raises. Keep-alive scenarios run on one connection.
const char* const h11_script = R"PY(
import socket, sys, h11
host, port = sys.argv[1], int(sys.argv[2])

def exchange(sock, conn, method, target, body=b"", headers=(), raw=None):
    hdrs = [("Host", "example.com")] + list(headers)
    if body:
        hdrs.append(("Content-Length", str(len(body))))
    data = conn.send(h11.Request(method=method, target=target, headers=hdrs))
    expect_continue = any(k.lower() == "expect" for k, _ in headers)
    if raw is not None:
        data = raw
    sock.sendall(data)
    events = []
    sent_body = False
    if body and not expect_continue:
        sock.sendall(conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage()))
        sent_body = True
    elif not body and raw is None:
        sock.sendall(conn.send(h11.EndOfMessage()))
    while True:
        ev = conn.next_event()
        if ev is h11.NEED_DATA:
            chunk = sock.recv(65536)
            conn.receive_data(chunk)
            continue
        events.append(ev)
        if isinstance(ev, h11.InformationalResponse) and ev.status_code == 100 and not sent_body:
            sock.sendall(conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage()))
            sent_body = True
        if isinstance(ev, (h11.EndOfMessage, h11.ConnectionClosed)):
            return events

def body_of(events):
    return b"".join(bytes(e.data) for e in events if isinstance(e, h11.Data))

def final(events):
    return [e for e in events if isinstance(e, h11.Response)][0]

def fresh():
    s = socket.create_connection((host, port), timeout=5)
    return s, h11.Connection(h11.CLIENT)

# Keep-alive: a run of requests of every kind on one connection.
s, c = fresh()
ev = exchange(s, c, "GET", "/hello")
assert final(ev).status_code == 200 and body_of(ev) == b"Hello, World!"
cases = [
    ("GET", "/stream/3", b"", (), 200, b"chunk 0\nchunk 1\nchunk 2\n"),
    ("HEAD", "/hello", b"", (), 200, b""),
    ("HEAD", "/stream/3", b"", (), 200, b""),
    ("POST", "/echo", b"payload", (), 200, b"payload"),
    ("POST", "/echo", b"expected", (("Expect", "100-continue"),), 200, b"expected"),
    ("GET", "/hints", b"", (), 200, b"hinted"),
    ("GET", "/status/204", b"", (), 204, b""),
    ("GET", "/status/304", b"", (), 304, b""),
    ("GET", "/status/404", b"", (), 404, b""),
    ("GET", "/nowhere", b"", (), 404, b"404 page not found\n"),
]
for method, target, body, headers, status, want in cases:
    c.start_next_cycle()
    ev = exchange(s, c, method, target, body, headers)
    r = final(ev)
    assert r.status_code == status, (target, r.status_code)
    assert body_of(ev) == want, (target, body_of(ev))
    if target == "/hints":
        info = [e for e in ev if isinstance(e, h11.InformationalResponse)]
        assert [i.status_code for i in info] == [103], info
    if "Expect" in dict(headers):
        info = [e for e in ev if isinstance(e, h11.InformationalResponse)]
        assert [i.status_code for i in info] == [100], info
    assert c.their_state is h11.DONE, (target, c.their_state)
s.close()

# Error responses: well-formed, and they close the connection.
bad = [
    (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Foo : bar\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    (b"POST / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\nx", 417),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1100 << 10) + b"\r\n\r\n", 431),
    (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", 400),
]
for raw, status in bad:
    s, c = fresh()
    ev = exchange(s, c, "GET", "/", raw=raw)
    r = final(ev)
    assert r.status_code == status, (raw[:40], r.status_code)
    assert c.their_state in (h11.MUST_CLOSE, h11.CLOSED), (raw[:40], c.their_state)
    s.close()
print("ok")
)PY";

bool python_has_h11() {
  if (::access(python, X_OK) != 0) return false;
  return run_process({python, "-c", "import h11"}).exit_code == 0;
}

TEST_F(H11, AcceptsEveryResponseWeSend) {
  if (!python_has_h11())
    GTEST_SKIP() << python << " cannot import h11 (Debian: python3-h11; test/run installs it)";
  interop_server s;
  auto r = run_process({python, "-c", h11_script, "127.0.0.1", std::to_string(s.thread.port())});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "ok\n") << r.err;
}

// --- Go's net/http client ------------------------------------------------------------------------

const char* const go_client = R"GO(
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
)

func main() {
	url := os.Args[1]
	n, _ := strconv.Atoi(os.Args[2])
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	failures := 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp, err := client.Get(fmt.Sprintf("%s?i=%d", url, i))
			if err == nil {
				body, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := fmt.Sprintf("hello %d", i)
				if rerr != nil || resp.StatusCode != 200 || string(body) != want {
					err = fmt.Errorf("status %d body %q (%v)", resp.StatusCode, body, rerr)
				}
			}
			if err != nil {
				mu.Lock()
				failures++
				if failures <= 5 {
					fmt.Fprintln(os.Stderr, "request", i, ":", err)
				}
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	// A second round reuses the idle connections.
	for i := 0; i < 10; i++ {
		resp, err := client.Get(fmt.Sprintf("%s?i=%d", url, i))
		if err != nil {
			failures++
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	fmt.Printf("ok %d failed %d\n", n-failures, failures)
	if failures > 0 {
		os.Exit(1)
	}
}
)GO";

TEST_F(GoClient, RunsAThousandConcurrentRequests) {
  auto go = find_program("go");
  if (go.empty()) GTEST_SKIP() << "go is not installed (Debian: golang-go; test/run installs it)";
  temp_dir dir;
  {
    std::FILE* f = std::fopen((dir.path / "main.go").c_str(), "w");
    ASSERT_TRUE(f);
    std::fputs(go_client, f);
    std::fclose(f);
  }
  // Offline and self-contained: no module proxy (nothing to download: the standard library only),
  // a private build cache and GOPATH. cgo stays as installed: with CGO_ENABLED=0, Go 1.19 rebuilds
  // net and its dependencies instead of using the packages it ships (8 s instead of 1).
  std::vector<std::string> env = {
      "GOFLAGS=-mod=mod", "GOPROXY=off", "GOCACHE=" + (dir.path / "cache").string(),
      "GOPATH=" + (dir.path / "gopath").string(), "HOME=" + dir.path.string()};
  std::string exe = (dir.path / "client").string();
  auto built =
      run_process({go, "build", "-o", exe, (dir.path / "main.go").string()}, env, "", 120s);
  ASSERT_EQ(built.exit_code, 0) << "go build: " << built.out << built.err;

  interop_server s;
  constexpr int n = 1000;
  auto r = run_process({exe, s.thread.url("/concurrent"), std::to_string(n)}, env, "", 60s);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "ok 1000 failed 0\n") << r.err;
  EXPECT_GE(s.seen.requests.load(), n + 10);
}

}  // namespace
}  // namespace ringo::http
