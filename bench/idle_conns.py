"""Idle keep-alive connections for bench/http.sh's memory column.

  idle_conns.py HOST PORT N

Opens N connections to HOST:PORT one after another, sends one GET on each and reads its response
("Hello, World!"), so the server has served a request on every one and holds it as an idle
keep-alive connection. Then prints "ready N" and keeps them all open until stdin closes (or it is
killed). Raises RLIMIT_NOFILE for itself as far as the hard limit (or, as root, beyond) allows.
"""

import resource
import socket
import sys

REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
BODY = b"Hello, World!"


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(host, port, n):
    raise_nofile(n + 64)
    conns = []
    for i in range(n):
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(REQUEST)
        got = b""
        while not got.endswith(BODY):
            chunk = s.recv(4096)
            if not chunk:
                sys.exit(f"idle_conns: connection {i} closed before its response")
            got += chunk
        conns.append(s)
    print(f"ready {len(conns)}", flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
    for s in conns:
        s.close()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
