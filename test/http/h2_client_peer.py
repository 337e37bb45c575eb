"""Scripted HTTP/2 servers for the transport's tests (transport_h2_test.cpp), written with Python's
h2 package (python3-h2): what a well-behaved server never does, on purpose.

  h2_client_peer.py MODE

Listens on 127.0.0.1 (a kernel-chosen port, printed as "port N") and serves h2c with prior
knowledge:
  goaway  the first connection waits for three requests, answers stream 1, sends GOAWAY naming
          stream 1 and closes: the others were not processed and must come back on a second
          connection, which answers every request ("conn 2 stream N").
  silent  answers requests until one for /hang comes, then reads and answers nothing more (no
          PING ACK either): a dead peer for the health check.
  drop    closes the connection without a word at the first request for /drop, and at every one
          for /drop-post; answers the others.
  expect  for requests with a body: /continue sends a 100 after 300 ms and answers, at the body's
          end, "early E total T" (E bytes came before the 100); /ignore sends no 100 and answers
          the same at the body's end; /reject answers 417 at once; /stats answers
          "rejected-data N", the bytes that came on rejected streams.

Run by Debian's /usr/bin/python3 (h2 4.1).
"""

import socket
import sys
import time

import h2.config
import h2.connection
import h2.events


DROPPED = False  # drop mode: the first /drop was dropped


def start_conn(sock):
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return conn


def receive(sock, timeout):
    """What came within `timeout` seconds: None when nothing did, b"" at the end."""
    sock.settimeout(timeout)
    try:
        return sock.recv(65536)
    except socket.timeout:
        return None


def serve_conn(sock, number, mode):
    conn = start_conn(sock)
    pending = []
    deadline = time.monotonic() + 5
    while True:
        if mode == "goaway" and number == 1:
            data = receive(sock, max(0.01, deadline - time.monotonic()))
        else:
            data = receive(sock, 30)
        if data == b"":
            return
        events = conn.receive_data(data) if data else []
        for e in events:
            if isinstance(e, h2.events.RequestReceived):
                path = dict(e.headers).get(b":path", b"").decode()
                if mode == "drop" and (path == "/drop-post" or (path == "/drop" and not DROPPED)):
                    globals()["DROPPED"] = True
                    return
                if mode == "silent" and path == "/hang":
                    sock.sendall(conn.data_to_send())
                    time.sleep(30)
                    return
                pending.append(e.stream_id)
        if mode == "goaway" and number == 1:
            if len(pending) < 3 and data is not None:
                sock.sendall(conn.data_to_send())
                continue
            answer(conn, pending[0], number)
            conn.close_connection(last_stream_id=pending[0])
            sock.sendall(conn.data_to_send())
            time.sleep(0.2)
            return
        for stream_id in pending:
            answer(conn, stream_id, number)
        pending = []
        sock.sendall(conn.data_to_send())


def serve_expect(sock):
    conn = start_conn(sock)
    streams = {}  # id -> {"path", "early", "total", "continued"}
    timers = []  # (when, stream id): a 100 to send
    rejected_data = 0
    while True:
        now = time.monotonic()
        data = receive(sock, max(0.001, min(w for w, _ in timers) - now) if timers else 30)
        if data == b"":
            return
        for e in conn.receive_data(data) if data else []:
            if isinstance(e, h2.events.RequestReceived):
                path = dict(e.headers).get(b":path", b"").decode()
                st = {"path": path, "early": 0, "total": 0, "continued": False}
                streams[e.stream_id] = st
                if path == "/continue":
                    timers.append((time.monotonic() + 0.3, e.stream_id))
                elif path == "/reject":
                    conn.send_headers(e.stream_id, [(":status", "417"), ("content-length", "0")],
                                      end_stream=True)
                elif path == "/stats":
                    body = f"rejected-data {rejected_data}".encode()
                    conn.send_headers(e.stream_id, [(":status", "200"),
                                                    ("content-length", str(len(body)))])
                    conn.send_data(e.stream_id, body, end_stream=True)
            elif isinstance(e, h2.events.DataReceived):
                conn.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
                st = streams.get(e.stream_id)
                if st and st["path"] == "/reject":
                    rejected_data += len(e.data)
                elif st:
                    st["total"] += len(e.data)
                    if not st["continued"]:
                        st["early"] += len(e.data)
            elif isinstance(e, h2.events.StreamEnded):
                st = streams.get(e.stream_id)
                if st and st["path"] in ("/continue", "/ignore"):
                    body = f"early {st['early']} total {st['total']}".encode()
                    conn.send_headers(e.stream_id, [(":status", "200"),
                                                    ("content-length", str(len(body)))])
                    conn.send_data(e.stream_id, body, end_stream=True)
        now = time.monotonic()
        for when, stream_id in [t for t in timers if t[0] <= now]:
            timers.remove((when, stream_id))
            streams[stream_id]["continued"] = True
            conn.send_headers(stream_id, [(":status", "100")])
        sock.sendall(conn.data_to_send())


def answer(conn, stream_id, number):
    body = f"conn {number} stream {stream_id}".encode()
    conn.send_headers(stream_id, [(":status", "200"), ("content-length", str(len(body)))])
    conn.send_data(stream_id, body, end_stream=True)


def main():
    mode = sys.argv[1]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    print(f"port {listener.getsockname()[1]}", flush=True)
    number = 0
    listener.settimeout(60)
    while True:
        try:
            sock, _ = listener.accept()
        except socket.timeout:
            return
        number += 1
        try:
            if mode == "expect":
                serve_expect(sock)
            else:
                serve_conn(sock, number, mode)
        finally:
            sock.close()


if __name__ == "__main__":
    main()
