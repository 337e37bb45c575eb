#!/usr/bin/python3
"""End-to-end tests of examples/hello_server and examples/httpbin with real clients: curl,
Python's http.client and wrk; over HTTP/2 with prior knowledge (h2c) too: curl
--http2-prior-knowledge, h2load and Python's h2.

Usage: http_examples_test.py PATH/TO/hello_server PATH/TO/httpbin
"""

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest

HELLO = HTTPBIN = None
EXIT_WITHIN = 5.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """An example program listening on a free loopback port."""

    def __init__(self, program, *args):
        self.port = free_port()
        self.proc = subprocess.Popen([program, "--listen", f"127.0.0.1:{self.port}", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.02)
        self.proc.kill()
        raise AssertionError(f"{program} did not start: {self.proc.communicate()}")

    def stop(self):
        """SIGINT; returns (exit code, stderr)."""
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=EXIT_WITHIN)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("server did not exit after SIGINT")
        return self.proc.returncode, err

    def curl(self, *args):
        return subprocess.run(["curl", "-sS", "--max-time", "5", *args], capture_output=True,
                              text=True, timeout=10)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"


@unittest.skipUnless(shutil.which("curl"), "curl is not installed")
class HelloServer(unittest.TestCase):
    def setUp(self):
        self.server = Server(HELLO, "--threads", "2")

    def tearDown(self):
        code, err = self.server.stop()
        self.assertEqual(code, 0, err)

    def test_curl_gets_hello_world(self):
        r = self.server.curl("-i", self.server.url("/"))
        self.assertIn("HTTP/1.1 200 OK", r.stdout)
        self.assertIn("Content-Length: 13", r.stdout)
        self.assertTrue(r.stdout.endswith("Hello, World!"), r.stdout)

    def test_other_paths_are_not_found(self):
        r = self.server.curl("-o", "/dev/null", "-w", "%{http_code}", self.server.url("/x"))
        self.assertEqual(r.stdout, "404")

    def test_python_reuses_one_connection(self):
        c = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=5)
        for _ in range(100):
            c.request("GET", "/")
            r = c.getresponse()
            self.assertEqual((r.status, r.read()), (200, b"Hello, World!"))
        c.close()

    def test_curl_gets_hello_world_over_h2c(self):
        r = self.server.curl("-i", "--http2-prior-knowledge", self.server.url("/"))
        self.assertIn("HTTP/2 200", r.stdout)
        self.assertIn("content-length: 13", r.stdout)
        self.assertTrue(r.stdout.endswith("Hello, World!"), r.stdout)

    @unittest.skipUnless(shutil.which("h2load"), "h2load is not installed")
    def test_h2load_sees_only_successes(self):
        r = subprocess.run(["h2load", "-n5000", "-c4", "-m10", self.server.url("/")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("5000 succeeded, 0 failed, 0 errored", r.stdout)

    @unittest.skipUnless(shutil.which("wrk"), "wrk is not installed")
    def test_wrk_sees_only_successes(self):
        r = subprocess.run(["wrk", "-t1", "-c8", "-d1s", self.server.url("/")],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("Non-2xx", r.stdout)
        self.assertNotIn("Socket errors", r.stdout)
        requests = int(r.stdout.split(" requests in ")[0].split()[-1])
        self.assertGreater(requests, 100)


@unittest.skipUnless(shutil.which("curl"), "curl is not installed")
class Httpbin(unittest.TestCase):
    def setUp(self):
        self.server = Server(HTTPBIN)

    def tearDown(self):
        code, err = self.server.stop()
        self.assertEqual(code, 0, err)

    def test_get_describes_the_request(self):
        r = self.server.curl("-H", "X-Test: yes", self.server.url("/get"))
        self.assertIn("method: GET", r.stdout)
        self.assertIn("X-Test: yes", r.stdout)

    def test_status_answers_with_the_code(self):
        r = self.server.curl("-o", "/dev/null", "-w", "%{http_code}", self.server.url("/status/418"))
        self.assertEqual(r.stdout, "418")

    def test_bytes_and_echo_round_trip(self):
        c = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=5)
        c.request("GET", "/bytes/100000")
        data = c.getresponse().read()
        self.assertEqual(len(data), 100000)
        c.request("POST", "/echo", body=data)
        self.assertEqual(c.getresponse().read(), data)
        c.close()

    def test_stream_is_chunked(self):
        c = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=5)
        c.request("GET", "/stream/5")
        r = c.getresponse()
        self.assertEqual(r.getheader("Transfer-Encoding"), "chunked")
        self.assertEqual(r.read().decode().count("chunk "), 5)
        c.close()

    def test_redirects_end_at_get(self):
        r = self.server.curl("-L", "-o", "/dev/null", "-w", "%{http_code} %{num_redirects}",
                             self.server.url("/redirect/3"))
        self.assertEqual(r.stdout, "200 3")

    def test_delay_notices_the_client_leaving(self):
        r = self.server.curl("--max-time", "0.3", self.server.url("/delay/5000"))
        self.assertNotEqual(r.returncode, 0)
        time.sleep(0.3)
        code, err = self.server.stop()
        self.assertEqual(code, 0)
        self.assertRegex(err, r"canceled after \d+ ms")
        self.server = Server(HTTPBIN)  # for tearDown

    # --- HTTP/2 with prior knowledge (one URL per curl: Debian's curl 7.88.1 fails the second of
    # several URLs given with --http2-prior-knowledge, against nginx too).

    def h2(self, *args):
        return self.server.curl("--http2-prior-knowledge", *args)

    def test_every_route_over_h2c(self):
        r = self.h2("-H", "X-Test: yes", self.server.url("/get"))
        self.assertIn("method: GET", r.stdout)
        self.assertIn("x-test: yes", r.stdout)
        r = self.h2(self.server.url("/headers"))
        self.assertIn("user-agent: curl", r.stdout)
        r = self.h2("-o", "/dev/null", "-w", "%{http_version} %{http_code}",
                    self.server.url("/status/418"))
        self.assertEqual(r.stdout, "2 418")
        r = self.h2(self.server.url("/delay/50"))
        self.assertRegex(r.stdout, r"slept \d+ ms")
        r = self.h2(self.server.url("/stream/3"))
        self.assertEqual(r.stdout.count("chunk "), 3)
        # (Not followed: that is a second request on curl's connection, see above.)
        r = self.h2("-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                    self.server.url("/redirect/2"))
        self.assertEqual(r.stdout, "302 " + self.server.url("/redirect/1"))
        r = self.h2("--data-binary", "hello", self.server.url("/echo"))
        self.assertEqual(r.stdout, "hello")

    def test_20_mib_both_ways_over_h2c(self):
        n = 20 << 20
        got = subprocess.run(["curl", "-sS", "--http2-prior-knowledge",
                              self.server.url(f"/bytes/{n}")], capture_output=True, timeout=60)
        self.assertEqual(got.returncode, 0, got.stderr)
        self.assertEqual(len(got.stdout), n)
        back = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "--data-binary", "@-",
                               self.server.url("/echo")], input=got.stdout, capture_output=True,
                              timeout=60)
        self.assertEqual(back.returncode, 0, back.stderr)
        self.assertTrue(back.stdout == got.stdout, "the echoed body differs")

    @unittest.skipUnless(os.path.exists("/usr/lib/python3/dist-packages/h2"),
                         "Python's h2 is not installed (python3-h2)")
    def test_delay_notices_a_reset_stream(self):
        """A client resets its /delay stream (RST_STREAM CANCEL): the handler's stop fires
        ("canceled after N ms"), and the connection serves the next request."""
        import h2.config
        import h2.connection
        import h2.errors
        import h2.events
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=5)
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        base = [(":scheme", "http"), (":authority", f"127.0.0.1:{self.server.port}")]
        conn.send_headers(1, [(":method", "GET"), (":path", "/delay/5000")] + base,
                          end_stream=True)
        sock.sendall(conn.data_to_send())
        time.sleep(0.2)
        conn.reset_stream(1, h2.errors.ErrorCodes.CANCEL)
        conn.send_headers(3, [(":method", "GET"), (":path", "/get")] + base, end_stream=True)
        sock.sendall(conn.data_to_send())
        ended, body = False, b""
        while not ended:
            data = sock.recv(65536)
            self.assertTrue(data, "the server closed the connection")
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.DataReceived) and ev.stream_id == 3:
                    body += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, 3)
                ended = ended or (isinstance(ev, h2.events.StreamEnded) and ev.stream_id == 3)
            sock.sendall(conn.data_to_send())
        self.assertIn(b"method: GET", body)
        sock.close()
        code, err = self.server.stop()
        self.assertEqual(code, 0)
        self.assertRegex(err, r"canceled after \d+ ms")
        self.server = Server(HTTPBIN)  # for tearDown


if __name__ == "__main__":
    HELLO, HTTPBIN = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
