#!/usr/bin/python3
"""Soak test: every answer goes to the request that produced it.

Client threads run random exchanges against examples/httpbin for a bounded time: complete ones
(GET with a per-request marker, POST /echo with Content-Length and chunked bodies, /bytes,
/stream, pipelined batches) mixed with abandoned ones (a partial head, a body cut short, a
response left half-read, a request left before its answer), each ended by FIN or RST. Every
complete answer is checked to be its own: the X-Request-Id httpbin echoes, echoed bodies byte-exact,
generated bodies by length and content. Connections that finish an exchange cleanly are reused, so
a server that let one connection's state leak into the next shows it as a wrong answer.

Usage: soak_test.py PATH/TO/httpbin [SECONDS]
"""

import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time

THREADS = 6


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mismatch(Exception):
    pass


class Conn:
    """A client connection with a read buffer and a minimal HTTP/1.1 response reader."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("server closed the connection")
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self, head_request=False):
        """(status, headers dict with lowercase names, body, closes)."""
        status_line = self._line()
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise Mismatch(f"bad status line {status_line!r}")
        status = int(parts[1])
        headers = {}
        while True:
            line = self._line()
            if not line:
                break
            name, _, value = line.partition(b":")
            headers[name.strip().lower().decode()] = value.strip().decode()
        closes = headers.get("connection", "").lower() == "close"
        if head_request or status in (204, 304) or 100 <= status < 200:
            return status, headers, b"", closes
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():
                        pass
                    break
                body += self._exact(size)
                if self._exact(2) != b"\r\n":
                    raise Mismatch("chunk not followed by CRLF")
            return status, headers, body, closes
        if "content-length" in headers:
            return status, headers, self._exact(int(headers["content-length"])), closes
        while True:  # close-delimited
            try:
                self._fill()
            except EOFError:
                body, self.buf = self.buf, b""
                return status, headers, body, True

    def close(self, rst=False):
        try:
            if rst:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self.sock.close()


def xorshift_bytes(n):
    """The bytes httpbin's /bytes/{n} sends (a 32-bit xorshift, low byte of each step)."""
    x = 2463534242
    out = bytearray(n)
    for i in range(n):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[i] = x & 0xFF
    return bytes(out)


BYTES_CACHE = {n: xorshift_bytes(n) for n in (0, 1, 100, 4095, 4096, 4097, 20000, 70000)}


class Client(threading.Thread):
    def __init__(self, port, deadline, seed):
        super().__init__(daemon=True)
        self.port, self.deadline = port, deadline
        self.rng = random.Random(seed)
        self.seq = 0
        self.conn = None
        self.counts = {}
        self.failure = None
        self.name_prefix = f"t{seed}"

    # --- requests: each returns (bytes to send, a check of the response) ---

    def marker(self):
        self.seq += 1
        return f"{self.name_prefix}-{self.seq}-{self.rng.getrandbits(32):08x}"

    def req_get(self):
        m = self.marker()
        raw = f"GET /get?m={m} HTTP/1.1\r\nHost: soak\r\nX-Request-Id: {m}\r\n\r\n".encode()

        def check(status, headers, body):
            expect(status == 200 and headers.get("x-request-id") == m, m, status, headers)
            expect(f"url: /get?m={m}\n".encode() in body, m, "body", body[:200])
        return raw, check, False

    def req_echo(self):
        m = self.marker()
        n = self.rng.choice([0, 1, 17, 4096, self.rng.randrange(1, 200000)])
        data = os.urandom(n)
        if self.rng.random() < 0.5:
            raw = (f"POST /echo HTTP/1.1\r\nHost: soak\r\nX-Request-Id: {m}\r\n"
                   f"Content-Length: {n}\r\n\r\n").encode() + data
        else:
            raw = f"POST /echo HTTP/1.1\r\nHost: soak\r\nX-Request-Id: {m}\r\n".encode()
            raw += b"Transfer-Encoding: chunked\r\n\r\n"
            i = 0
            while i < n:
                k = self.rng.randrange(1, 9000)
                piece = data[i:i + k]
                raw += b"%x\r\n" % len(piece) + piece + b"\r\n"
                i += k
            raw += b"0\r\n\r\n"

        def check(status, headers, body):
            expect(status == 200 and headers.get("x-request-id") == m, m, status, headers)
            expect(body == data, m, "echo differs", len(body), n)
        return raw, check, False

    def req_bytes(self):
        m = self.marker()
        n = self.rng.choice(list(BYTES_CACHE))
        raw = f"GET /bytes/{n} HTTP/1.1\r\nHost: soak\r\nX-Request-Id: {m}\r\n\r\n".encode()

        def check(status, headers, body):
            expect(status == 200 and headers.get("x-request-id") == m, m, status, headers)
            expect(body == BYTES_CACHE[n], m, "bytes differ", len(body), n)
        return raw, check, False

    def req_stream(self):
        m = self.marker()
        n = self.rng.randrange(0, 40)
        raw = f"GET /stream/{n} HTTP/1.1\r\nHost: soak\r\nX-Request-Id: {m}\r\n\r\n".encode()
        want = "".join(f"chunk {i}\n" for i in range(n)).encode()

        def check(status, headers, body):
            expect(status == 200 and headers.get("x-request-id") == m, m, status, headers)
            expect(body == want, m, "stream differs", body[:100])
        return raw, check, False

    def req_delay(self):
        m = self.marker()
        raw = (f"GET /delay/{self.rng.randrange(0, 30)} HTTP/1.1\r\nHost: soak\r\n"
               f"X-Request-Id: {m}\r\n\r\n").encode()

        def check(status, headers, body):
            expect(status == 200 and headers.get("x-request-id") == m, m, status, headers)
            expect(body.startswith(b"slept "), m, "delay body", body[:100])
        return raw, check, False

    def req_head(self):
        m = self.marker()
        raw = f"HEAD /get HTTP/1.1\r\nHost: soak\r\nX-Request-Id: {m}\r\n\r\n".encode()

        def check(status, headers, body):
            expect(status == 200 and headers.get("x-request-id") == m, m, status, headers)
        return raw, check, True

    def random_request(self):
        return self.rng.choice([self.req_get, self.req_echo, self.req_bytes, self.req_stream,
                                self.req_delay, self.req_head, self.req_get])()

    # --- exchanges ---

    def connection(self):
        if self.conn is None:
            self.conn = Conn(self.port)
        return self.conn

    def drop(self, rst=None):
        if self.conn is not None:
            self.conn.close(self.rng.random() < 0.5 if rst is None else rst)
            self.conn = None

    def complete(self, batch):
        c = self.connection()
        reqs = [self.random_request() for _ in range(batch)]
        c.send(b"".join(raw for raw, _, _ in reqs))
        for _, check, is_head in reqs:
            status, headers, body, closes = c.response(is_head)
            check(status, headers, body)
            if closes:
                self.drop(rst=False)
                return
        if self.rng.random() < 0.1:
            self.drop()

    def abandon(self):
        kind = self.rng.randrange(5)
        c = self.connection()
        m = self.marker()
        if kind == 0:  # a partial head
            raw = f"GET /get HTTP/1.1\r\nHost: soak\r\nX-Request-Id: {m}\r\n\r\n".encode()
            c.send(raw[:self.rng.randrange(1, len(raw) - 1)])
        elif kind == 1:  # a body cut short
            c.send(f"POST /echo HTTP/1.1\r\nHost: soak\r\nX-Request-Id: {m}\r\n"
                   f"Content-Length: 100000\r\n\r\n".encode() + os.urandom(self.rng.randrange(50000)))
        elif kind == 2:  # a long response left half-read
            what = self.rng.choice(["/stream/100000", "/bytes/1000000"])
            c.send(f"GET {what} HTTP/1.1\r\nHost: soak\r\nX-Request-Id: {m}\r\n\r\n".encode())
            got = 0
            want = self.rng.randrange(1, 200000)
            while got < want:
                data = c.sock.recv(65536)
                if not data:
                    break
                got += len(data)
        elif kind == 3:  # gone before the answer, the handler still at work
            c.send(f"GET /delay/{self.rng.randrange(20, 120)} HTTP/1.1\r\nHost: soak\r\n"
                   f"X-Request-Id: {m}\r\n\r\n".encode())
            time.sleep(self.rng.random() * 0.02)
        else:  # a pipelined batch left unread
            c.send(b"".join(self.random_request()[0] for _ in range(self.rng.randrange(2, 6))))
        self.drop()

    def run(self):
        try:
            while time.monotonic() < self.deadline:
                r = self.rng.random()
                if r < 0.25:
                    self.abandon()
                    kind = "abandoned"
                elif r < 0.4:
                    self.complete(self.rng.randrange(2, 9))
                    kind = "pipelined"
                else:
                    self.complete(1)
                    kind = "complete"
                self.counts[kind] = self.counts.get(kind, 0) + 1
            self.drop(rst=False)
        except Exception as e:  # noqa: BLE001 (reported by the main thread)
            self.failure = f"{type(e).__name__}: {e}"


def expect(ok, marker, *what):
    if not ok:
        raise Mismatch(f"request {marker}: wrong answer: {what}")


def main():
    httpbin = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
    port = free_port()
    server = subprocess.Popen([httpbin, "--listen", f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(250):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.02)
        deadline = time.monotonic() + seconds
        seed = int(os.environ.get("SOAK_SEED", random.randrange(1 << 30)))
        print(f"soak: {THREADS} clients for {seconds:.0f} s, seed {seed}", flush=True)
        clients = [Client(port, deadline, seed + i) for i in range(THREADS)]
        for c in clients:
            c.start()
        for c in clients:
            c.join(seconds + 60)
        totals = {}
        for c in clients:
            for k, v in c.counts.items():
                totals[k] = totals.get(k, 0) + v
        print(f"soak: exchanges {totals}", flush=True)
        failures = [f"{c.name_prefix}: {c.failure}" for c in clients if c.failure]
        failures += [f"{c.name_prefix}: still running" for c in clients if c.is_alive()]
        if server.poll() is not None:
            failures.append(f"httpbin exited with {server.returncode}")
        if failures:
            print("soak: FAILED\n  " + "\n  ".join(failures), flush=True)
            return 1
        if sum(totals.values()) < 100:
            print("soak: FAILED: too few exchanges", flush=True)
            return 1
        print("soak: every answer went to its own request", flush=True)
        return 0
    finally:
        server.terminate()
        try:
            server.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())
