#!/usr/bin/python3
"""A forward proxy for transport_proxy_test: absolute-form HTTP requests and CONNECT tunnels.

  forward_proxy.py [--refuse | --silent] [--tls CERT KEY]

Listens on 127.0.0.1 (a kernel-chosen port) and prints "listening PORT". For each request it
prints "request METHOD TARGET auth=PROXY-AUTHORIZATION" and flushes. An absolute-form request is
sent on to its host as an origin-form one with "Connection: close", and the answer is relayed
until the host closes, then the client's connection is closed too (GET only: a body beyond
the first read is not forwarded). CONNECT host:port opens a
tunnel (200, then bytes both ways until either side ends) or, with --refuse, gets 403 Forbidden; with --silent, no answer at all.
Talks to loopback only: a target that is not 127.0.0.1 or [::1] gets 502.
With --tls it is an https:// proxy: clients speak TLS to it (CERT and KEY: PEM files). A tunnel
relays both ways from one thread, since an ssl socket cannot be read and written from two.
"""

import select
import socket
import ssl
import sys
import threading

REFUSE = "--refuse" in sys.argv[1:]
SILENT = "--silent" in sys.argv[1:]  # reads a CONNECT and never answers it
TLS = None
if "--tls" in sys.argv[1:]:
    i = sys.argv.index("--tls")
    TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    TLS.load_cert_chain(sys.argv[i + 1], sys.argv[i + 2])
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return None, b""
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def pipe(src, dst):
    try:
        while True:
            chunk = src.recv(65536)
            if not chunk:
                break
            dst.sendall(chunk)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def relay(a, b):
    """Bytes both ways between a and b until either ends, from this thread alone."""
    socks = (a, b)
    try:
        while True:
            # Bytes an ssl socket already decrypted are not seen by select.
            ready = [s for s in socks if isinstance(s, ssl.SSLSocket) and s.pending()]
            if not ready:
                ready, _, _ = select.select(socks, [], [])
            for s in ready:
                chunk = s.recv(65536)
                if not chunk:
                    return
                (b if s is a else a).sendall(chunk)
    except OSError:
        pass
    finally:
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def split_host_port(hp):
    if hp.startswith("["):
        host, _, port = hp[1:].partition("]:")
    else:
        host, _, port = hp.rpartition(":")
    return host, int(port)


def serve(client):
    if TLS:
        try:
            client = TLS.wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError) as e:
            print(f"tls handshake failed: {e}", flush=True)
            client.close()
            return
    with client:
        head, rest = read_head(client)
        if head is None:
            return
        lines = head.split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        fields = [l.split(":", 1) for l in lines[1:] if ":" in l]
        auth = next((v.strip() for k, v in fields if k.lower() == "proxy-authorization"), "")
        print(f"request {method} {target} auth={auth}", flush=True)
        if method == "CONNECT":
            if SILENT:
                while client.recv(4096):  # until the client gives up and closes
                    pass
                return
            if REFUSE:
                client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            host, port = split_host_port(target)
            if host not in LOOPBACK:
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
                return
            up = socket.create_connection((host, port))
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                up.sendall(rest)
            relay(client, up)
            up.close()
            return
        # http://host:port/path -> host:port and /path
        hostport, _, path = target[len("http://"):].partition("/")
        if hostport.rfind(":") > hostport.rfind("]"):
            host, port = split_host_port(hostport)
        else:
            host, port = hostport.strip("[]"), 80
        if host not in LOOPBACK:
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
            return
        kept = [f"{k}:{v}" for k, v in fields
                if k.lower() not in ("proxy-authorization", "connection", "proxy-connection")]
        out = f"{method} /{path} HTTP/1.1\r\n" + "".join(f + "\r\n" for f in kept)
        out += "Connection: close\r\n\r\n"
        with socket.create_connection((host, port)) as up:
            up.sendall(out.encode("latin-1") + rest)
            pipe(up, client)


def main():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    print(f"listening {listener.getsockname()[1]}", flush=True)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=serve, args=(client,), daemon=True).start()


if __name__ == "__main__":
    main()
