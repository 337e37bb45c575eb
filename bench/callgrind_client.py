"""A keep-alive client for bench/callgrind.sh: N GET / requests over C connections, one at a time
per connection, round-robin; checks each answer is "Hello, World!".

  callgrind_client.py HOST PORT N C
"""

import socket
import sys

REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"


def main(host, port, n, c):
    conns = [socket.create_connection((host, port)) for _ in range(c)]
    for s in conns:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    bufs = [b""] * c
    for i in range(n):
        k = i % c
        s = conns[k]
        s.sendall(REQUEST)
        while b"Hello, World!" not in bufs[k]:
            data = s.recv(65536)
            if not data:
                raise SystemExit("server closed the connection")
            bufs[k] += data
        bufs[k] = bufs[k].split(b"Hello, World!", 1)[1]
    for s in conns:
        s.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
