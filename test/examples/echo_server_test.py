#!/usr/bin/python3
"""End-to-end test of examples/echo_server with a real client (plain sockets).

Usage: echo_server_test.py PATH/TO/echo_server

Each test starts the server on a free port (argument 0; the server prints the address it bound),
talks to it over loopback, stops it with a signal and checks that it exits 0 within a few seconds
and reports how many connections it served.
"""

import select
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

SERVER = None  # the echo_server executable, from the command line
EXIT_WITHIN = 5.0  # seconds a signalled server may take to exit
IO_TIMEOUT = 5.0  # seconds any socket operation may take before the test fails


class EchoServer:
    """The echo_server program under test, listening on a port it chose."""

    def __init__(self):
        self.proc = subprocess.Popen([SERVER, "0"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], IO_TIMEOUT)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("listening on 127.0.0.1:"):
            self.proc.kill()
            raise AssertionError(f"server did not start: {line!r} {self.proc.stderr.read()!r}")
        self.port = int(line.rsplit(":", 1)[1])

    def connect(self):
        conn = socket.create_connection(("127.0.0.1", self.port), timeout=IO_TIMEOUT)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def stop(self, signum):
        """Sends `signum`; returns (exit code, rest of stdout, stderr, seconds taken to exit)."""
        start = time.monotonic()
        self.proc.send_signal(signum)
        try:
            out, err = self.proc.communicate(timeout=EXIT_WITHIN)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"server still running {EXIT_WITHIN} s after signal {signum}: "
                                 f"{out!r} {err!r}")
        return self.proc.returncode, out, err, time.monotonic() - start

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
        else:
            self.proc.stdout.close()
            self.proc.stderr.close()


def recv_exactly(conn, n):
    chunks = []
    while n > 0:
        data = conn.recv(min(n, 1 << 16))
        if not data:
            raise AssertionError(f"connection closed with {n} bytes still expected")
        chunks.append(data)
        n -= len(data)
    return b"".join(chunks)


def echo(conn, message):
    conn.sendall(message)
    return recv_exactly(conn, len(message))


class EchoServerTest(unittest.TestCase):
    def setUp(self):
        self.server = EchoServer()
        self.addCleanup(self.server.close)

    def connect(self):
        conn = self.server.connect()
        self.addCleanup(conn.close)
        return conn

    def test_echoes_interleaved_messages_on_concurrent_connections(self):
        conns = [self.connect() for _ in range(3)]
        for round_ in range(5):
            for i, conn in enumerate(conns):
                message = f"connection {i} message {round_}\n".encode()
                self.assertEqual(echo(conn, message), message)

    def test_echoes_a_large_message_sent_while_reading(self):
        # 4 MiB is more than the socket buffers hold: the server must keep reading and sending
        # (including partial sends) while the client is still writing.
        conn = self.connect()
        message = bytes(range(256)) * (4 * 1024 * 1024 // 256)
        sender = threading.Thread(target=conn.sendall, args=(message,))
        sender.start()
        received = recv_exactly(conn, len(message))
        sender.join()
        self.assertEqual(received, message)

    def test_sigint_cancels_open_connections_and_reports_the_count(self):
        conns = [self.connect() for _ in range(3)]
        for i, conn in enumerate(conns):
            self.assertEqual(echo(conn, f"hello {i}\n".encode()), f"hello {i}\n".encode())
        # One client leaves; the server closes its side too.
        conns[0].shutdown(socket.SHUT_WR)
        self.assertEqual(conns[0].recv(1), b"", "server did not close after the client did")
        # The other two stay connected and idle: the server must not wait for them.
        code, out, err, took = self.server.stop(signal.SIGINT)
        self.assertEqual(code, 0, err)
        self.assertLess(took, EXIT_WITHIN)
        self.assertEqual(out.strip().splitlines()[-1], "served 3 connections", out)
        for conn in conns[1:]:
            self.assertEqual(conn.recv(1), b"", "an open connection outlived the server's stop")

    def test_sigterm_with_no_connections_reports_zero(self):
        code, out, err, _ = self.server.stop(signal.SIGTERM)
        self.assertEqual(code, 0, err)
        self.assertEqual(out.strip().splitlines()[-1], "served 0 connections", out)


class UsageTest(unittest.TestCase):
    def test_rejects_a_missing_or_malformed_port(self):
        for args in ([], ["http"], ["70000"]):
            result = subprocess.run([SERVER, *args], capture_output=True, text=True,
                                    timeout=IO_TIMEOUT)
            self.assertEqual(result.returncode, 2, args)
            self.assertIn("usage:", result.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    SERVER = sys.argv.pop(1)
    unittest.main(verbosity=2)
