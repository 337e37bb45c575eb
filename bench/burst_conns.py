#!/usr/bin/python3
"""A burst of keep-alive connections for bench/http.sh's burst memory columns.

  burst_conns.py PORT N

Talks to 127.0.0.1:PORT only. First a warm-up: 64 connections one after another, each with one
answered request, then closed, so the server's code paths and allocator are warm; prints "warm".
Then waits for a line on stdin (the benchmark samples the server's RSS meanwhile) and makes the
burst: connects N sockets at once (non-blocking), then sends one GET on every one of them before
reading any answer, so the server holds N connections with a request in flight together; then
reads every answer. Prints "ready N SECONDS" (the burst's wall time) and keeps all N open, idle,
until stdin closes (or it is killed); then closes them and exits. Errors go to stderr with a
non-zero exit. Raises RLIMIT_NOFILE for itself as far as the hard limit (or, as root, beyond)
allows.
"""

import errno
import resource
import selectors
import socket
import sys
import time

HOST = "127.0.0.1"  # loopback only
REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
BODY = b"Hello, World!"
WARM_UP = 64
TIMEOUT = 60.0  # seconds for the whole burst; a SYN dropped on a full accept queue costs 1 s


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < want:
        sys.exit(f"burst_conns: RLIMIT_NOFILE is below {want}")


def fail(msg):
    sys.exit(f"burst_conns: {msg}")


def read_answer(s, i):
    got = b""
    while not got.endswith(BODY):
        chunk = s.recv(4096)
        if not chunk:
            fail(f"warm-up connection {i} closed before its response")
        got += chunk


def warm_up(port):
    for i in range(WARM_UP):
        with socket.create_connection((HOST, port), timeout=10) as s:
            s.sendall(REQUEST)
            read_answer(s, i)


def burst(port, n):
    """Returns the N connected sockets, each with its answer read."""
    sel = selectors.DefaultSelector()  # epoll
    deadline = time.monotonic() + TIMEOUT
    socks = []
    # 1. Connect all of them; the kernel completes the handshakes while we issue the rest.
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        err = s.connect_ex((HOST, port))
        if err not in (0, errno.EINPROGRESS):
            fail(f"connect: {err}")
        socks.append(s)
        sel.register(s, selectors.EVENT_WRITE)
    pending = n
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            fail(f"{pending} of {n} connects still pending")
        for key, _ in sel.select(left):
            s = key.fileobj
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                fail(f"connect: error {err}")
            sel.unregister(s)
            pending -= 1
    # 2. One request on every connection before reading any answer.
    for s in socks:
        if s.send(REQUEST) != len(REQUEST):
            fail("short send of a request")
    # 3. Read every answer.
    got = {}
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
        got[s] = b""
    pending = n
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            fail(f"{pending} of {n} answers still pending")
        for key, _ in sel.select(left):
            s = key.fileobj
            chunk = s.recv(4096)
            if not chunk:
                fail("a connection closed before its response")
            got[s] += chunk
            if got[s].endswith(BODY):
                sel.unregister(s)
                pending -= 1
    sel.close()
    return socks


def main(port, n):
    raise_nofile(n + 256)
    warm_up(port)
    print("warm", flush=True)
    if not sys.stdin.readline():
        return
    start = time.monotonic()
    socks = burst(port, n)
    print(f"ready {len(socks)} {time.monotonic() - start:.3f}", flush=True)
    sys.stdin.read()  # idle until the benchmark closes our stdin
    for s in socks:
        s.close()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(int(sys.argv[1]), int(sys.argv[2]))
