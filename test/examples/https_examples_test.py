#!/usr/bin/python3
"""End-to-end tests of examples/httpbin and examples/hello_server over HTTPS (--tls-cert,
--tls-key) with real clients: curl --cacert (HTTP/1.1, and HTTP/2 by ALPN), Python's ssl and
http.client, openssl s_client; plaintext HTTP and garbage on the TLS port, a client that leaves
mid-request. The certificates (a CA and a leaf for localhost, 127.0.0.1 and ::1) are made here
with the openssl CLI; loopback only.

Usage: https_examples_test.py PATH/TO/hello_server PATH/TO/httpbin
"""

import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

HELLO = HTTPBIN = None
CERTS = None  # (dir, ca, cert, key)
EXIT_WITHIN = 5.0


def make_certs():
    d = tempfile.mkdtemp(prefix="ringo-https-")

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=ringo https test CA")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost")
    with open(os.path.join(d, "leaf.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n")
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext")
    return d, os.path.join(d, "ca.pem"), os.path.join(d, "leaf.pem"), os.path.join(d, "leaf.key")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Server:
    """An example program serving HTTPS on a free loopback port."""

    def __init__(self, program, *args):
        _, _, cert, key = CERTS
        self.port = free_port()
        self.proc = subprocess.Popen([program, "--listen", f"127.0.0.1:{self.port}", *args,
                                      "--tls-cert", cert, "--tls-key", key],
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

    def curl(self, *args, timeout=10, text=True, data=None):
        return subprocess.run(["curl", "-sS", "--max-time", str(timeout), "--cacert", CERTS[1],
                               *args], capture_output=True, text=text, input=data,
                              timeout=timeout + 5)

    def url(self, path, host="127.0.0.1"):
        return f"https://{host}:{self.port}{path}"

    def resolve(self):
        return ["--resolve", f"localhost:{self.port}:127.0.0.1"]

    def context(self):
        ctx = ssl.create_default_context(cafile=CERTS[1])
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    def tls_socket(self):
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        return self.context().wrap_socket(raw, server_hostname="localhost")

    def wait_fds(self, n, within=3.0):
        """Waits until the server holds at most `n` descriptors; returns what it holds."""
        deadline = time.monotonic() + within
        while open_fds(self.proc.pid) > n and time.monotonic() < deadline:
            time.sleep(0.02)
        return open_fds(self.proc.pid)


def read_to_end(s):
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


class LeakChecked(unittest.TestCase):
    """A test whose server must hold no more descriptors at its end than after its first
    request (its signal wait opens one lazily)."""

    def start(self, program, *args):
        self.server = Server(program, *args)
        self.addCleanup(self.kill_if_running, self.server)
        with self.server.tls_socket() as s:
            s.sendall(b"GET /get HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            read_to_end(s)
        time.sleep(0.1)
        self.fds = open_fds(self.server.proc.pid)

    @staticmethod
    def kill_if_running(server):
        """A failed check must not leave its server behind."""
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.communicate()

    def tearDown(self):
        fds = self.server.wait_fds(self.fds)
        code, err = self.server.stop()
        self.assertLessEqual(fds, self.fds, "descriptors leaked")
        self.assertEqual(code, 0, err)


@unittest.skipUnless(shutil.which("curl"), "curl is not installed")
class Httpbin(LeakChecked):
    def setUp(self):
        self.start(HTTPBIN)

    def test_every_route_over_http11_and_h2(self):
        for version, alpn in (("--http1.1", "http/1.1"), ("--http2", "h2")):
            r = self.server.curl(version, *self.server.resolve(), "-H", "X-Test: yes",
                                 self.server.url("/get", "localhost"))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("method: GET", r.stdout)
            self.assertRegex(r.stdout, rf"tls: TLS 1.3 TLS_\w+ alpn={alpn} sni=localhost")
            self.assertIn("x-test: yes", r.stdout.lower())
            r = self.server.curl(version, "-o", "/dev/null", "-w", "%{http_code}",
                                 self.server.url("/status/418"))
            self.assertEqual(r.stdout, "418")
            r = self.server.curl(version, self.server.url("/stream/3"))
            self.assertEqual(r.stdout.count("chunk "), 3)
            r = self.server.curl(version, "-w", " %{http_version}",
                                 self.server.url("/delay/30"))
            self.assertRegex(r.stdout, r"slept \d+ ms\s+(1.1|2)")

    def test_20_mib_both_ways(self):
        n = 20 << 20
        for version in ("--http1.1", "--http2"):
            got = self.server.curl(version, self.server.url(f"/bytes/{n}"), timeout=60, text=False)
            self.assertEqual(got.returncode, 0, got.stderr)
            self.assertEqual(len(got.stdout), n)
            back = self.server.curl(version, "--data-binary", "@-", self.server.url("/echo"),
                                    timeout=60, text=False, data=got.stdout)
            self.assertEqual(back.returncode, 0, back.stderr)
            self.assertTrue(back.stdout == got.stdout, f"{version}: the echoed body differs")

    def test_python_http_client_keeps_one_connection(self):
        c = http.client.HTTPSConnection("localhost", self.server.port,
                                        context=self.server.context(), timeout=5)
        c.request("GET", "/bytes/100000")
        data = c.getresponse().read()
        self.assertEqual(len(data), 100000)
        sock = c.sock
        c.request("POST", "/echo", body=data)
        self.assertEqual(c.getresponse().read(), data)
        self.assertIs(c.sock, sock)
        c.close()

    def test_pipelined_requests_over_a_raw_ssl_socket(self):
        with self.server.tls_socket() as s:
            reqs = b"".join(b"GET /status/%d HTTP/1.1\r\nHost: localhost\r\n\r\n" % code
                            for code in (201, 202, 203))
            s.sendall(reqs + b"GET /get HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            data = read_to_end(s).decode()  # (no close_notify: SSLEOFError)
        self.assertEqual([line.split()[1] for line in data.split("\r\n")
                          if line.startswith("HTTP/1.1 ")], ["201", "202", "203", "200"])
        self.assertIn("alpn=http/1.1 sni=localhost", data)

    @unittest.skipUnless(shutil.which("openssl"), "openssl is not installed")
    def test_openssl_s_client(self):
        r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.server.port}",
                            "-CAfile", CERTS[1], "-verify_return_error", "-servername",
                            "localhost", "-quiet"],
                           input=b"GET /get HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                           capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"HTTP/1.1 200 OK", r.stdout)
        self.assertIn(b"sni=localhost", r.stdout)

    def test_plaintext_http_gets_the_400_text(self):
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as s:
            s.sendall(b"GET /get HTTP/1.1\r\nHost: localhost\r\n\r\n")
            data = read_to_end(s)
        self.assertEqual(data, b"HTTP/1.0 400 Bad Request\r\n\r\n"
                               b"Client sent an HTTP request to an HTTPS server.\n")

    def test_garbage_gets_a_close(self):
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as s:
            s.sendall(b"\x00\x01garbage, not a TLS record\r\n\r\n")
            try:
                data = read_to_end(s)
            except ConnectionResetError:
                data = b""
        self.assertEqual(data, b"")

    def test_delay_notices_the_client_leaving(self):
        r = self.server.curl("--max-time", "0.3", self.server.url("/delay/5000"))
        self.assertNotEqual(r.returncode, 0)
        time.sleep(0.3)
        code, err = self.server.stop()
        self.assertEqual(code, 0)
        self.assertRegex(err, r"canceled after \d+ ms")
        self.start(HTTPBIN)  # for tearDown


@unittest.skipUnless(shutil.which("curl"), "curl is not installed")
class HelloServer(LeakChecked):
    def setUp(self):
        self.start(HELLO, "--threads", "2")

    def test_curl_gets_hello_world_over_both_protocols(self):
        r = self.server.curl("-w", " %{http_version}", self.server.url("/"),
                             self.server.url("/"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "Hello, World! 2Hello, World! 2")
        r = self.server.curl("--http1.1", "-i", self.server.url("/"))
        self.assertIn("HTTP/1.1 200 OK", r.stdout)
        self.assertTrue(r.stdout.endswith("Hello, World!"), r.stdout)

    def test_many_connections(self):
        for _ in range(50):
            with self.server.tls_socket() as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                self.assertTrue(read_to_end(s).endswith(b"Hello, World!"))


if __name__ == "__main__":
    HELLO, HTTPBIN = sys.argv[1], sys.argv[2]
    if not shutil.which("openssl"):
        print("SKIP: the openssl CLI is not installed (it makes the test certificates)")
        sys.exit(77)
    CERTS = make_certs()
    try:
        run = unittest.main(argv=sys.argv[:1], verbosity=2, exit=False)
    finally:
        shutil.rmtree(CERTS[0], ignore_errors=True)
    sys.exit(0 if run.result.wasSuccessful() else 1)
