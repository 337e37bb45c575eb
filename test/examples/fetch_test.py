#!/usr/bin/python3
"""End-to-end tests of examples/fetch against real servers on 127.0.0.1: ringo's httpbin example,
Go's net/http (a file server built from test/examples/go/fileserver) and nginx. For each: a
download arrives intact, connection reuse shows in -v, a server closing an idle connection is
invisible to the next GET, and the exit status follows curl -f. Against httpbin also: -X, -H,
-d @FILE, redirects, --timeout, and SIGINT cancelling a request in flight.

Against h2o over h2c (--http2-prior-knowledge): two URLs on one connection's streams 1 and 3, a
download intact.

Against ringo's file_server: ranges (-r). Against nginx with `gzip on`: the body decoded by
default, the encoded bytes with --raw. Against a Python server that sets cookies: -b keeps them
across a redirect and across runs, in curl's cookie file format.

Usage: fetch_test.py PATH/TO/fetch PATH/TO/httpbin PATH/TO/file_server
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

FETCH = HTTPBIN = FILE_SERVER = None
HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, what):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited: {proc.communicate()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise AssertionError(f"{what} did not start listening")


def fetch(*args, timeout=30):
    return subprocess.run([FETCH, *args], capture_output=True, timeout=timeout)


class PeerTests:
    """The cases every server gets. Subclasses start the peer in setUpClass and set: port,
    small (a path with a small body), big (a path with a large body), big_bytes (what it holds)
    and idle_ms (the server's keep-alive idle timeout)."""

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def test_download_intact(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "out")
            r = fetch("-o", out, self.url(self.big))
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(out, "rb") as f:
                got = f.read()
            self.assertEqual(len(got), len(self.big_bytes))
            self.assertTrue(got == self.big_bytes, "the download differs")

    def test_reuse_is_visible(self):
        r = fetch("-v", self.url(self.small), self.url(self.small), self.url(self.small))
        self.assertEqual(r.returncode, 0, r.stderr)
        err = r.stderr.decode()
        self.assertEqual(err.count("* new connection"), 1, err)
        self.assertEqual(err.count("* reused connection"), 2, err)
        self.assertEqual(err.count("connected"), 1, err)  # one dial

    def test_server_closing_idle_conn_is_invisible(self):
        pause = str(self.idle_ms * 2 + 500)
        r = fetch("-v", "--pause", pause, self.url(self.small), self.url(self.small))
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 0, err)
        self.assertNotIn("fetch:", err)
        self.assertEqual(err.count("* new connection"), 2, err)  # the server closed the first
        self.assertEqual(r.stdout, 2 * self.small_body(), err)

    def test_error_status_exits_22(self):
        r = fetch(self.url("/no/such/thing"))
        self.assertEqual(r.returncode, 22, r.stderr)

    def small_body(self):
        with urllib.request.urlopen(self.url(self.small), timeout=5) as resp:
            return resp.read()


class RingoHttpbin(PeerTests, unittest.TestCase):
    small, big, idle_ms = "/headers", "/bytes/1000003", 300

    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.proc = subprocess.Popen(
            [HTTPBIN, "--listen", f"127.0.0.1:{cls.port}", "--idle-timeout", str(cls.idle_ms)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_listening(cls.port, cls.proc, "httpbin")
        # What Python's http.client gets is the reference for fetch's download.
        with urllib.request.urlopen(f"http://127.0.0.1:{cls.port}{cls.big}", timeout=10) as resp:
            cls.big_bytes = resp.read()

    @classmethod
    def tearDownClass(cls):
        cls.proc.send_signal(signal.SIGINT)
        cls.proc.communicate(timeout=10)

    def small_body(self):  # /headers echoes the request's own headers: fetch's are these
        return b"Host: 127.0.0.1:%d\nUser-Agent: ringo\nAccept-Encoding: gzip\n" % self.port

    def test_http2_prior_knowledge_multiplexes_one_connection(self):
        r = fetch("-v", "--http2-prior-knowledge", self.url("/get"), self.url("/get"))
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 0, err)
        self.assertIn("* HTTP/2 stream 1\n< HTTP/2 200\n", err)
        self.assertIn("* HTTP/2 stream 3\n< HTTP/2 200\n", err)
        self.assertEqual(err.count("> GET /get HTTP/2\n"), 2, err)
        self.assertEqual(err.count("* new connection"), 1, err)
        self.assertEqual(err.count("* reused connection"), 1, err)
        r = fetch("--http2-prior-knowledge", self.url("/bytes/1000003"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout), 1000003)

    def test_method_headers_and_data_from_a_file(self):
        with tempfile.NamedTemporaryFile() as f:
            f.write(b"line one\nline two\n")
            f.flush()
            r = fetch("-X", "POST", "-H", "X-Test: yes", "-d", "@" + f.name, self.url("/echo"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"line one\nline two\n")
        r = fetch("-H", "X-Test: yes", self.url("/headers"))
        self.assertIn(b"X-Test: yes\n", r.stdout)
        r = fetch("-X", "DELETE", self.url("/get"))
        self.assertEqual(r.returncode, 22, r.stderr)  # GET only: 405

    def test_redirects_are_followed(self):
        r = fetch("-v", self.url("/redirect/3"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"url: /get\n", r.stdout)
        self.assertEqual(r.stderr.count(b"* redirected to"), 3, r.stderr)
        self.assertEqual(r.stderr.count(b"* new connection"), 1, r.stderr)

    def test_streamed_chunked_body(self):
        r = fetch(self.url("/stream/5"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"".join(b"chunk %d\n" % i for i in range(5)))

    def test_timeout(self):
        start = time.monotonic()
        r = fetch("--timeout", "200", self.url("/delay/10000"))
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"Client.Timeout exceeded", r.stderr)
        self.assertLess(time.monotonic() - start, 5)

    def test_sigint_cancels_the_request(self):
        p = subprocess.Popen([FETCH, self.url("/delay/10000")], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        time.sleep(0.3)
        start = time.monotonic()
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=5)
        self.assertEqual(p.returncode, 130)
        self.assertLess(time.monotonic() - start, 2)

    def test_refused(self):
        r = fetch(f"http://127.0.0.1:{free_port()}/")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"connect: connection refused", r.stderr)


def scratch_root(cls, name="root"):
    """cls.tmp, a temporary directory, and a directory `name` in it, both open to a server's
    worker that runs as "nobody" (the tests run as root): (the directory, the one in it)."""
    cls.tmp = tempfile.TemporaryDirectory()
    d = cls.tmp.name
    root = os.path.join(d, name)
    os.mkdir(root)
    for path in (d, root):
        os.chmod(path, 0o755)
    return d, root


def make_root(d):
    big = os.urandom(1_000_003)
    with open(os.path.join(d, "big.bin"), "wb") as f:
        f.write(big)
    with open(os.path.join(d, "small.txt"), "wb") as f:
        f.write(b"small file\n")
    for name in ("big.bin", "small.txt"):
        os.chmod(os.path.join(d, name), 0o644)
    return big


@unittest.skipUnless(shutil.which("go"), "go is not installed (Debian: golang-go)")
class GoNetHttp(PeerTests, unittest.TestCase):
    small, big, idle_ms = "/small.txt", "/big.bin", 300

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        env = dict(os.environ, GOFLAGS="-mod=mod", GOPROXY="off", GOENV="off",
                   GOCACHE=os.path.join(cls.tmp.name, "cache"),
                   GOPATH=os.path.join(cls.tmp.name, "gopath"))
        exe = os.path.join(cls.tmp.name, "fileserver")
        built = subprocess.run(["go", "build", "-o", exe, "."], cwd=os.path.join(HERE, "go", "fileserver"),
                               env=env, capture_output=True, text=True, timeout=300)
        if built.returncode != 0:
            raise AssertionError("go build: " + built.stderr)
        root = os.path.join(cls.tmp.name, "root")
        os.mkdir(root)
        cls.big_bytes = make_root(root)
        cls.port = free_port()
        cls.proc = subprocess.Popen([exe, "-listen", f"127.0.0.1:{cls.port}", "-root", root,
                                     "-idle", f"{cls.idle_ms}ms"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_listening(cls.port, cls.proc, "go fileserver")

    @classmethod
    def tearDownClass(cls):
        cls.proc.kill()
        cls.proc.communicate()
        cls.tmp.cleanup()


NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


@unittest.skipUnless(NGINX, "nginx is not installed")
class Nginx(PeerTests, unittest.TestCase):
    small, big, idle_ms = "/small.txt", "/big.bin", 1000  # keepalive_timeout counts in seconds

    @classmethod
    def setUpClass(cls):
        d, root = scratch_root(cls)
        cls.big_bytes = make_root(root)
        cls.port = free_port()
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  keepalive_timeout 1s;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{cls.port};
    root {root};
  }}
}}
""")
        cls.proc = subprocess.Popen([NGINX, "-p", d, "-c", conf, "-e", "stderr"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_listening(cls.port, cls.proc, "nginx")

    @classmethod
    def tearDownClass(cls):
        cls.proc.send_signal(signal.SIGQUIT)
        try:
            cls.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            cls.proc.kill()
            cls.proc.communicate()
        cls.tmp.cleanup()


class HostileServer:
    """A raw server on 127.0.0.1 that answers one request with `head`, then `filler` over and
    over (64 MiB at most) until the client hangs up; `sent` counts what it wrote."""

    def __init__(self, head, filler):
        import threading
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.sent = 0
        self.head, self.filler = head, filler
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        conn, _ = self.sock.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(4096)
            block = self.filler * (65536 // len(self.filler))
            try:
                conn.sendall(self.head)
                while self.sent < (64 << 20):
                    conn.sendall(block)
                    self.sent += len(block)
            except OSError:
                pass  # the client hung up

    def close(self):
        self.thread.join(10)
        self.sock.close()


class HostileServers(unittest.TestCase):
    """What a server sends is bounded (the wire layer's body decoder, shared with the server):
    fetch fails with a clear error after a bounded amount of input."""

    def run_against(self, head, filler):
        srv = HostileServer(head, filler)
        try:
            r = fetch(f"http://127.0.0.1:{srv.port}/", timeout=60)
        finally:
            srv.close()
        return r, srv.sent

    def test_an_endless_chunk_extension(self):
        r, sent = self.run_against(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;", b"a" * 64)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"chunked encoding contains too much non-data", r.stderr)
        self.assertLess(sent, 8 << 20, "fetch read on through the extension")

    def test_endless_trailers(self):
        r, sent = self.run_against(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Big: ",
            b"v" * 64)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"header too large", r.stderr)
        self.assertLess(sent, 40 << 20, "fetch read on through the trailer")


class RingoFileServer(unittest.TestCase):
    """examples/file_server: a download intact, and byte ranges with -r."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.big_bytes = make_root(cls.tmp.name)
        cls.port = free_port()
        cls.proc = subprocess.Popen([FILE_SERVER, "--listen", f"127.0.0.1:{cls.port}",
                                     cls.tmp.name], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_listening(cls.port, cls.proc, "file_server")

    @classmethod
    def tearDownClass(cls):
        cls.proc.send_signal(signal.SIGINT)
        cls.proc.communicate(timeout=10)
        cls.tmp.cleanup()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def test_download_intact(self):
        r = fetch(self.url("/big.bin"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout == self.big_bytes, "the download differs")

    def test_ranges(self):
        for spec, want in (("10-19", self.big_bytes[10:20]), ("-5", self.big_bytes[-5:]),
                           ("999990-", self.big_bytes[999990:])):
            r = fetch("-r", spec, self.url("/big.bin"))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, want, spec)
        r = fetch("-r", "2000000-", self.url("/big.bin"))
        self.assertEqual(r.returncode, 22, r.stderr)  # 416

    def test_outside_the_root_is_404(self):
        r = fetch(self.url("/%2e%2e/%2e%2e/etc/passwd"))
        self.assertEqual(r.returncode, 22, r.stderr)
        self.assertNotIn(b"root:", r.stdout)


@unittest.skipUnless(NGINX, "nginx is not installed")
class NginxGzip(unittest.TestCase):
    """nginx with gzip on: fetch decodes by default (as Go's transport), --raw keeps the encoding."""

    @classmethod
    def setUpClass(cls):
        d, root = scratch_root(cls)
        cls.text = b"".join(b"line %d of a compressible text\n" % i for i in range(50000))
        with open(os.path.join(root, "text.txt"), "wb") as f:
            f.write(cls.text)
        os.chmod(os.path.join(root, "text.txt"), 0o644)
        cls.port = free_port()
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  gzip on;
  gzip_min_length 0;
  gzip_types text/plain;
  types {{ text/plain txt; }}
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{ listen 127.0.0.1:{cls.port}; root {root}; }}
}}
""")
        cls.proc = subprocess.Popen([NGINX, "-p", d, "-c", conf, "-e", "stderr"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_listening(cls.port, cls.proc, "nginx")

    @classmethod
    def tearDownClass(cls):
        cls.proc.send_signal(signal.SIGQUIT)
        cls.proc.communicate(timeout=10)
        cls.tmp.cleanup()

    def test_decoded_by_default(self):
        url = f"http://127.0.0.1:{self.port}/text.txt"
        r = fetch("-v", url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"< Content-Type: text/plain", r.stderr)
        self.assertNotIn(b"< Content-Encoding", r.stderr)  # dropped with the decoding
        self.assertTrue(r.stdout == self.text, "the decoded body differs from the file")
        r = fetch("--compressed", url)
        self.assertTrue(r.stdout == self.text)

    def test_raw_keeps_the_encoding(self):
        import gzip
        r = fetch("-v", "--raw", f"http://127.0.0.1:{self.port}/text.txt")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"< Content-Encoding: gzip", r.stderr)
        self.assertTrue(r.stdout.startswith(b"\x1f\x8b"))
        self.assertLess(len(r.stdout), len(self.text) // 4)
        self.assertTrue(gzip.decompress(r.stdout) == self.text)


class CookieServer:
    """A Python server: /login sets a session cookie and a persistent one and redirects to /echo,
    which answers with the Cookie field it got."""

    def __init__(self):
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                if self.path == "/login":
                    self.send_response(302)
                    self.send_header("Set-Cookie", "session=s1; Path=/; HttpOnly")
                    self.send_header("Set-Cookie", "pref=dark; Path=/; Max-Age=3600")
                    self.send_header("Location", "/echo")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = ("cookie: " + self.headers.get("Cookie", "none") + "\n").encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Cookies(unittest.TestCase):
    def test_cookie_jar_file_across_a_redirect_and_runs(self):
        srv = CookieServer()
        try:
            with tempfile.TemporaryDirectory() as d:
                jar = os.path.join(d, "cookies.txt")
                base = f"http://127.0.0.1:{srv.port}"
                r = fetch("-b", jar, base + "/login")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout, b"cookie: session=s1; pref=dark\n")
                with open(jar) as f:
                    saved = f.read()
                self.assertIn("# Netscape HTTP Cookie File", saved)
                self.assertIn("#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\ts1", saved)
                self.assertRegex(saved, r"127\.0\.0\.1\tFALSE\t/\tFALSE\t[1-9][0-9]*\tpref\tdark")
                r = fetch("-b", jar, base + "/echo")  # a later run sends what was saved
                self.assertEqual(r.stdout, b"cookie: session=s1; pref=dark\n")
                r = fetch(base + "/echo")  # without -b, no cookies
                self.assertEqual(r.stdout, b"cookie: none\n")
        finally:
            srv.close()


@unittest.skipUnless(shutil.which("h2o"), "h2o is not installed")
class H2oCleartext(unittest.TestCase):
    """h2o (1 thread, files) over h2c with prior knowledge: fetch multiplexes its URLs on one
    connection and the download arrives intact."""

    @classmethod
    def setUpClass(cls):
        d, www = scratch_root(cls, "www")
        cls.big_bytes = bytes(i % 251 for i in range(1000003))
        with open(os.path.join(www, "big.bin"), "wb") as f:
            f.write(cls.big_bytes)
        with open(os.path.join(www, "small.txt"), "wb") as f:
            f.write(b"small\n")
        cls.port = free_port()
        conf = os.path.join(d, "h2o.conf")
        with open(conf, "w") as f:
            if os.getuid() == 0:
                f.write("user: root\n")  # h2o refuses to run as root unless told
            f.write(f"""num-threads: 1
pid-file: {d}/h2o.pid
error-log: {d}/error.log
listen:
  host: 127.0.0.1
  port: {cls.port}
hosts:
  default:
    paths:
      /:
        file.dir: {www}
""")
        cls.proc = subprocess.Popen([shutil.which("h2o"), "-c", conf],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_listening(cls.port, cls.proc, "h2o")

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.communicate(timeout=10)
        cls.tmp.cleanup()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def test_streams_share_one_connection(self):
        r = fetch("-v", "--http2-prior-knowledge", self.url("/small.txt"), self.url("/small.txt"))
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 0, err)
        self.assertEqual(r.stdout, b"small\nsmall\n")
        self.assertIn("* HTTP/2 stream 1\n< HTTP/2 200\n", err)
        self.assertIn("* HTTP/2 stream 3\n< HTTP/2 200\n", err)
        self.assertEqual(err.count("* new connection"), 1, err)

    def test_download_intact(self):
        r = fetch("--http2-prior-knowledge", self.url("/big.bin"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout), len(self.big_bytes))
        self.assertTrue(r.stdout == self.big_bytes, "the download differs")


if __name__ == "__main__":
    FETCH, HTTPBIN, FILE_SERVER = sys.argv[1], sys.argv[2], sys.argv[3]
    unittest.main(argv=sys.argv[:1], verbosity=2)
