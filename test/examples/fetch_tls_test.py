#!/usr/bin/python3
"""End-to-end tests of examples/fetch over https:// against nginx (ssl) and Go's crypto/tls
server (net/http's ServeTLS, built from the program below) on 127.0.0.1, with certificates made
here with the openssl CLI. For each: a 20 MiB download arrives intact with --cacert, -v shows the
TLS version, cipher, ALPN, the verified subject, one handshake for two URLs (keep-alive) and a
resumed session on a later connection; without --cacert the error is Go's; -k accepts the
certificate anyway. Against Go also: a 20 MiB upload (-d @FILE) arrives intact. A missing peer
is skipped.

Usage: fetch_tls_test.py PATH/TO/fetch
"""

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

FETCH = None
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
GO = shutil.which("go")
BIG = 20 << 20
CERTS = None  # a TemporaryDirectory with ca.pem, leaf.pem, leaf.key


def pattern(n):
    """Byte i is i % 251, as the Go server below sends it."""
    block = bytes(i % 251 for i in range(251))
    return (block * (n // 251 + 1))[:n]


def setUpModule():
    global CERTS
    if not os.path.exists(OPENSSL):
        raise unittest.SkipTest("the openssl CLI is missing")
    CERTS = tempfile.TemporaryDirectory()
    d = CERTS.name
    os.chmod(d, 0o755)  # nginx's master reads them as root, but be generous
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run = lambda *a: subprocess.run([OPENSSL, *a], cwd=d, check=True, capture_output=True)
    run("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-subj",
        "/O=ringo/CN=ringo test CA", "-days", "30")
    run("req", "-new", *key, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj",
        "/O=ringo/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1")
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "30", "-copy_extensions", "copyall", "-out", "leaf.pem")


def tearDownModule():
    if CERTS:
        CERTS.cleanup()


def cert(name):
    return os.path.join(CERTS.name, name)


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


def fetch(*args, timeout=60):
    return subprocess.run([FETCH, *args], capture_output=True, timeout=timeout)


class TlsPeerTests:
    """Subclasses start the peer in setUpClass and set port, small (a path and its body), big (a
    path holding pattern(BIG)), idle_ms (the server's keep-alive idle timeout), tls_minor (the
    TLS version it agrees to: 1.tls_minor) and alpn (what it picks from fetch's "h2, http/1.1")."""

    def url(self, path):
        return f"https://127.0.0.1:{self.port}{path}"

    def test_download_intact(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "out")
            r = fetch("--cacert", cert("ca.pem"), "-o", out, self.url(self.big))
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(out, "rb") as f:
                got = f.read()
            self.assertEqual(len(got), BIG)
            self.assertTrue(hashlib.sha256(got).digest() == hashlib.sha256(pattern(BIG)).digest(),
                            "the download differs")

    def test_verbose_shows_the_tls_connection_and_reuse(self):
        r = fetch("-v", "--cacert", cert("ca.pem"), self.url(self.small[0]), self.url(self.small[0]))
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 0, err)
        self.assertEqual(r.stdout, 2 * self.small[1])
        # nginx 1.22 offers TLS 1.2 at most unless told otherwise; Go 1.3.
        self.assertRegex(err, r"\* SSL connection using TLSv1\.%d / TLS_[A-Z0-9_]+\n" % self.tls_minor)
        self.assertIn(f"* ALPN: server accepted {self.alpn}\n", err)
        self.assertIn("* Server certificate: CN=localhost,O=ringo (verified)\n", err)
        self.assertIn("* SSL session: new\n", err)
        self.assertEqual(err.count("* TLS handshake\n"), 1, err)  # keep-alive: one handshake
        self.assertEqual(err.count("* reused connection"), 1, err)

    def test_http11_option_offers_only_http11(self):
        r = fetch("-v", "--http1.1", "--cacert", cert("ca.pem"), self.url(self.small[0]))
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 0, err)
        self.assertEqual(r.stdout, self.small[1])
        self.assertIn("* ALPN: server accepted http/1.1\n", err)
        self.assertRegex(err, r"< HTTP/1\.1 200 OK\n")

    def test_later_connection_resumes_the_session(self):
        pause = str(self.idle_ms * 2 + 500)  # the server closes the first conn meanwhile
        r = fetch("-v", "--cacert", cert("ca.pem"), "--pause", pause, self.url(self.small[0]),
                  self.url(self.small[0]))
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 0, err)
        self.assertEqual(err.count("* TLS handshake\n"), 2, err)
        self.assertIn("* SSL session: new\n", err)
        self.assertIn("* SSL session: resumed\n", err)

    def test_unknown_authority_is_a_go_error(self):
        u = self.url(self.small[0])
        r = fetch(u)  # the system's roots do not know the test CA
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stderr.decode(), f'fetch: Get "{u}": tls: failed to verify certificate: '
                         "x509: certificate signed by unknown authority\n")

    def test_insecure_accepts_the_certificate(self):
        r = fetch("-k", "-v", self.url(self.small[0]))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, self.small[1])
        self.assertIn(b"(NOT verified: --insecure)", r.stderr)


GO_SERVER = r"""
package main

import (
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "small\n") })
	mux.HandleFunc("/bytes/", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/bytes/"))
		w.Header().Set("Content-Length", strconv.Itoa(n))
		buf := make([]byte, 251*1024)
		for i := range buf {
			buf[i] = byte(i % 251)
		}
		for n > 0 {
			k := n
			if k > len(buf) {
				k = len(buf)
			}
			w.Write(buf[:k])
			n -= k
		}
	})
	mux.HandleFunc("/sum", func(w http.ResponseWriter, r *http.Request) {
		h := fnv.New64a()
		n, _ := io.Copy(h, r.Body)
		fmt.Fprintf(w, "%d %d", n, h.Sum64())
	})
	srv := &http.Server{Addr: os.Args[1], Handler: mux, IdleTimeout: 300 * time.Millisecond}
	panic(srv.ListenAndServeTLS(os.Args[2], os.Args[3]))
}
"""


def fnv64a(data):
    h = 14695981039346656037
    for b in data:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


@unittest.skipUnless(GO, "go is not installed (Debian: golang-go)")
class GoCryptoTls(TlsPeerTests, unittest.TestCase):
    small, big, idle_ms, tls_minor = ("/small", b"small\n"), f"/bytes/{BIG}", 300, 3
    alpn = "h2"  # Go's net/http server over TLS speaks HTTP/2 by default

    def test_verbose_shows_http2_streams_on_one_connection(self):
        r = fetch("-v", "--cacert", cert("ca.pem"), self.url(self.small[0]), self.url(self.small[0]))
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 0, err)
        self.assertIn("* HTTP/2 stream 1\n< HTTP/2 200\n", err)
        self.assertIn("* HTTP/2 stream 3\n< HTTP/2 200\n", err)
        self.assertEqual(err.count("* new connection"), 1, err)

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        with open(os.path.join(d, "main.go"), "w") as f:
            f.write(GO_SERVER)
        env = dict(os.environ, GOFLAGS="-mod=mod", GOPROXY="off", GOENV="off",
                   GOCACHE=os.path.join(d, "cache"), GOPATH=os.path.join(d, "gopath"), HOME=d)
        exe = os.path.join(d, "server")
        built = subprocess.run([GO, "build", "-o", exe, "main.go"], cwd=d, env=env,
                               capture_output=True, text=True, timeout=300)
        if built.returncode != 0:
            raise AssertionError("go build: " + built.stderr)
        cls.port = free_port()
        cls.proc = subprocess.Popen([exe, f"127.0.0.1:{cls.port}", cert("leaf.pem"), cert("leaf.key")],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_listening(cls.port, cls.proc, "go server")

    @classmethod
    def tearDownClass(cls):
        cls.proc.kill()
        cls.proc.communicate()
        cls.tmp.cleanup()

    def test_upload_intact(self):
        with tempfile.NamedTemporaryFile() as f:
            body = pattern(BIG)
            f.write(body)
            f.flush()
            r = fetch("--cacert", cert("ca.pem"), "-d", "@" + f.name, self.url("/sum"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), f"{BIG} {fnv64a(body)}")


@unittest.skipUnless(NGINX, "nginx is not installed")
class NginxSsl(TlsPeerTests, unittest.TestCase):
    small, big, idle_ms = ("/small.txt", b"small\n"), "/big.bin", 1000  # in seconds there
    tls_minor = 2
    alpn = "http/1.1"  # no http2 on its listener
    listen_extra = ""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        root = os.path.join(d, "root")
        os.mkdir(root)
        for path in (d, root):  # run as root, nginx's worker is "nobody": let it in
            os.chmod(path, 0o755)
        with open(os.path.join(root, "small.txt"), "wb") as f:
            f.write(b"small\n")
        with open(os.path.join(root, "big.bin"), "wb") as f:
            f.write(pattern(BIG))
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
    listen 127.0.0.1:{cls.port} ssl{cls.listen_extra};
    http2_idle_timeout 1s;
    ssl_certificate {cert("leaf.pem")};
    ssl_certificate_key {cert("leaf.key")};
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


@unittest.skipUnless(NGINX, "nginx is not installed")
class NginxSslHttp2(NginxSsl):
    """nginx with http2 on its TLS listener: fetch speaks HTTP/2 to it by ALPN."""
    alpn = "h2"
    listen_extra = " http2"


class Options(unittest.TestCase):
    def test_cacert_needs_a_file(self):
        r = fetch("--cacert")
        self.assertEqual(r.returncode, 2)

    def test_missing_cacert_file_is_reported(self):
        with socket.socket() as s:  # connects succeed (the backlog); the roots fail to load
            s.bind(("127.0.0.1", 0))
            s.listen(4)
            u = f"https://127.0.0.1:{s.getsockname()[1]}/"
            r = fetch("--cacert", "/nonexistent/ca.pem", u)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"/nonexistent/ca.pem", r.stderr)


if __name__ == "__main__":
    FETCH = sys.argv[1]
    unittest.main(argv=sys.argv[:1], verbosity=2)
