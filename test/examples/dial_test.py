#!/usr/bin/python3
"""End-to-end test of examples/dial against loopback listeners.

Usage: dial_test.py PATH/TO/dial

The name tests make dial look up a real name, and nothing may leave the machine. As root, the
script therefore re-runs itself inside a private mount and network namespace (unshare --mount
--net), where the only interface is a loopback one, and bind-mounts its own files over
/etc/hosts (`dual.test` with both ::1 and 127.0.0.1) and /etc/resolv.conf (127.0.0.1 as the only
name server). UDP sockets on 127.0.0.1:53 and [::1]:53 are a tripwire: a name the hosts file has
must never reach DNS (c-ares's lookup order is "fb": file, then DNS), so they must stay silent;
a name the hosts file lacks must trip them, which shows that they would see a leak.

Without root or a working unshare the name tests are skipped with a message; the tests with
numeric addresses run anyway (they only touch loopback).
"""

import errno
import fcntl
import os
import re
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import unittest

DIAL = None  # the dial executable, from the command line
IN_NAMESPACE = "RINGO_DIAL_TEST_NAMESPACE"  # set when this script runs inside its namespace
NAME = "dual.test"  # in our hosts file, with ::1 and 127.0.0.1
RUN_TIMEOUT = 20.0  # seconds one run of dial may take before the test fails

namespace_skip = None  # why the name tests cannot run, or None when they can
tripwires = []  # the UDP sockets on port 53 inside the namespace


def has_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def listener(host, port=0, backlog=128):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # 127.0.0.1 may share the port
    s.bind((host, port))
    s.listen(backlog)
    return s


class Blackhole:
    """A listener with backlog 0 and one connection nobody accepts: its queue is full, so the
    kernel drops further SYNs and a connect hangs until the client gives up."""

    def __init__(self, host, port=0):
        self.listener = listener(host, port, backlog=0)
        self.port = self.listener.getsockname()[1]
        self.filler = socket.create_connection((host, self.port), timeout=5)
        probe = socket.socket(self.listener.family, socket.SOCK_STREAM)
        probe.setblocking(False)
        try:
            code = probe.connect_ex((host, self.port))
            _, writable, _ = select.select([], [probe], [], 0.02)
            self.works = code == errno.EINPROGRESS and not writable
        finally:
            probe.close()

    def close(self):
        self.filler.close()
        self.listener.close()


def closed_port(host):
    """A port nothing listens on (connections to it are refused)."""
    with listener(host) as s:
        return s.getsockname()[1]


def run_dial(*args):
    """Runs dial; returns (exit code, stdout, stderr)."""
    r = subprocess.run([DIAL, *args], capture_output=True, text=True, timeout=RUN_TIMEOUT)
    return r.returncode, r.stdout, r.stderr


def connected_in(test, out, address):
    """Checks that dial's last line says it connected to `address`; returns the milliseconds."""
    m = re.fullmatch(r"connected to (\S+) in (\d+) ms", out.strip().splitlines()[-1])
    test.assertIsNotNone(m, out)
    test.assertEqual(m.group(1), address, out)
    return int(m.group(2))


def trace_lines(out):
    """dial -v's trace as (milliseconds, text) pairs."""
    lines = []
    for line in out.splitlines():
        m = re.fullmatch(r"\s*(\d+\.\d) ms  (.*)", line)
        if m:
            lines.append((float(m.group(1)), m.group(2)))
    return lines


def when(trace, text):
    """When the trace line `text` was printed (the test fails if it is missing)."""
    for ms, line in trace:
        if line == text:
            return ms
    raise AssertionError(f"no {text!r} in the trace: {trace}")


class NumericAddressTest(unittest.TestCase):
    """No name lookup: these run everywhere."""

    def test_connects_and_says_where(self):
        with listener("127.0.0.1") as s:
            port = s.getsockname()[1]
            code, out, err = run_dial(f"127.0.0.1:{port}")
        self.assertEqual(code, 0, err)
        self.assertLess(connected_in(self, out, f"127.0.0.1:{port}"), 1000)

    def test_prints_a_refused_connection_as_go_does(self):
        port = closed_port("127.0.0.1")
        code, out, err = run_dial(f"127.0.0.1:{port}")
        self.assertEqual(code, 1, out)
        self.assertEqual(err.strip(), f"dial tcp 127.0.0.1:{port}: connect: connection refused")

    def test_times_out_on_a_blackhole(self):
        hole = Blackhole("127.0.0.1")
        self.addCleanup(hole.close)
        if not hole.works:
            self.skipTest("a full accept queue does not drop SYNs here: no blackhole")
        code, out, err = run_dial("--timeout", "200", f"127.0.0.1:{hole.port}")
        self.assertEqual(code, 1, out)
        self.assertEqual(err.strip(), f"dial tcp 127.0.0.1:{hole.port}: i/o timeout")

    def test_verbose_prints_the_attempt_and_its_outcome(self):
        with listener("127.0.0.1") as s:
            port = s.getsockname()[1]
            code, out, err = run_dial("-v", f"127.0.0.1:{port}")
        self.assertEqual(code, 0, err)
        trace = trace_lines(out)
        start = when(trace, f"connect 127.0.0.1:{port}")
        self.assertLessEqual(start, when(trace, f"connect 127.0.0.1:{port}: connected"))

    def test_rejects_bad_usage(self):
        for args in ([], ["-x", "127.0.0.1:1"], ["--timeout"], ["--timeout", "soon", "a:1"],
                     ["a:1", "b:2"]):
            code, _, err = run_dial(*args)
            self.assertEqual(code, 2, args)
            self.assertIn("usage:", err)


class NameLookupTest(unittest.TestCase):
    """`dual.test` from the namespace's hosts file: ::1 first, then 127.0.0.1, on one port."""

    def setUp(self):
        if namespace_skip:
            self.skipTest(namespace_skip)
        if not has_ipv6():
            self.skipTest("no IPv6 loopback (::1)")
        drain_tripwires()

    def tearDown(self):
        if not namespace_skip:
            self.assertEqual(drain_tripwires(), 0, "a lookup of a hosts-file name reached DNS")

    def blackholed_ipv6_beside_live_ipv4(self):
        """A blackhole on [::1]:P and a listener on 127.0.0.1:P; returns P."""
        for _ in range(20):
            hole = Blackhole("::1")
            try:
                live = listener("127.0.0.1", hole.port)
            except OSError:  # the port is taken on 127.0.0.1: try another
                hole.close()
                continue
            self.addCleanup(hole.close)
            self.addCleanup(live.close)
            if not hole.works:
                self.skipTest("a full accept queue does not drop SYNs here: no blackhole")
            return hole.port
        raise AssertionError("no port free on both ::1 and 127.0.0.1")

    def test_finds_ipv4_behind_a_blackholed_ipv6_address_after_the_fallback_delay(self):
        port = self.blackholed_ipv6_beside_live_ipv4()
        code, out, err = run_dial("-v", "--fallback-delay", "200", f"{NAME}:{port}")
        self.assertEqual(code, 0, err)
        took = connected_in(self, out, f"127.0.0.1:{port}")
        self.assertTrue(150 <= took <= 1500, f"connected after {took} ms, fallback delay 200 ms")
        trace = trace_lines(out)
        when(trace, f"lookup {NAME}: ::1 127.0.0.1")
        primary = when(trace, f"connect [::1]:{port}")
        fallback = when(trace, f"connect 127.0.0.1:{port}")
        self.assertGreaterEqual(fallback - primary, 150, out)
        when(trace, f"connect 127.0.0.1:{port}: connected")
        # The blackholed attempt is stopped and awaited before dial returns.
        when(trace, f"connect [::1]:{port}: operation was canceled")

    def test_prefers_ipv6_when_it_answers(self):
        for _ in range(20):
            v6 = listener("::1")
            port = v6.getsockname()[1]
            try:
                v4 = listener("127.0.0.1", port)
                break
            except OSError:  # the port is taken on 127.0.0.1: try another
                v6.close()
        else:
            raise AssertionError("no port free on both ::1 and 127.0.0.1")
        self.addCleanup(v6.close)
        self.addCleanup(v4.close)
        code, out, err = run_dial("--fallback-delay", "200", f"{NAME}:{port}")
        self.assertEqual(code, 0, err)
        self.assertLess(connected_in(self, out, f"[::1]:{port}"), 150)

    def test_rfc8305_finds_ipv4_behind_a_blackholed_ipv6_address(self):
        port = self.blackholed_ipv6_beside_live_ipv4()
        code, out, err = run_dial("-v", "--he2", "--fallback-delay", "100", f"{NAME}:{port}")
        self.assertEqual(code, 0, err)
        took = connected_in(self, out, f"127.0.0.1:{port}")
        self.assertTrue(75 <= took <= 1500, f"connected after {took} ms, attempt delay 100 ms")
        when(trace_lines(out), f"connect [::1]:{port}: operation was canceled")

    def test_without_dual_stack_the_blackhole_takes_the_whole_timeout(self):
        port = self.blackholed_ipv6_beside_live_ipv4()
        code, out, err = run_dial("--no-dual-stack", "--timeout", "300", f"{NAME}:{port}")
        self.assertEqual(code, 1, out)
        self.assertEqual(err.splitlines()[0], f"dial tcp [::1]:{port}: i/o timeout")

    def test_reports_every_refused_address(self):
        port = closed_port("127.0.0.1")
        code, out, err = run_dial(f"{NAME}:{port}")
        self.assertEqual(code, 1, out)
        self.assertEqual(err.strip().splitlines(), [
            f"dial tcp [::1]:{port}: connect: connection refused",
            f"  also: dial tcp 127.0.0.1:{port}: connect: connection refused",
        ])

    def test_a_name_missing_from_the_hosts_file_trips_the_dns_tripwire(self):
        # Shows that the tripwire sees a query when one is sent; nobody answers it.
        code, out, err = run_dial("--timeout", "300", "absent.test:80")
        self.assertEqual(code, 1, out)
        self.assertEqual(err.strip(), "dial tcp: lookup absent.test: i/o timeout")
        self.assertGreater(drain_tripwires(), 0, "the DNS tripwire saw no query")


def drain_tripwires():
    """How many datagrams reached the fake name servers since the last call."""
    count = 0
    for s in tripwires:
        while True:
            try:
                s.recv(4096, socket.MSG_DONTWAIT)
                count += 1
            except BlockingIOError:
                break
    return count


def bring_loopback_up():
    """`ip link set lo up`, with no dependency on iproute2: a new network namespace starts down."""
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(s, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | IFF_UP))


def enter_namespace_setup(workdir):
    """Inside the namespace: loopback up, our hosts file and resolv.conf, the DNS tripwire.
    Returns why the name tests cannot run, or None."""
    bring_loopback_up()
    files = {
        "/etc/hosts": f"127.0.0.1 localhost\n::1 {NAME}\n127.0.0.1 {NAME}\n",
        "/etc/resolv.conf": "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
    }
    for target, text in files.items():
        source = os.path.join(workdir, os.path.basename(target))
        with open(source, "w") as f:
            f.write(text)
        # A bind mount needs a file to cover; creating one would change the real /etc.
        if not os.path.isfile(target):
            return f"{target} does not exist: nothing to bind-mount over"
        mount = subprocess.run(["mount", "--bind", source, target], capture_output=True, text=True)
        if mount.returncode != 0:
            return f"mount --bind over {target} failed: {mount.stderr.strip()}"
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.bind((host, 53))
        tripwires.append(s)
    return None


def main():
    global DIAL, namespace_skip
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    DIAL = os.path.abspath(sys.argv[1])
    if os.environ.get(IN_NAMESPACE) == "1":
        with tempfile.TemporaryDirectory() as workdir:
            namespace_skip = enter_namespace_setup(workdir)
            if namespace_skip:
                print(f"dial_test: name tests skipped: {namespace_skip}", file=sys.stderr)
            unittest.main(argv=[sys.argv[0], *sys.argv[2:]], verbosity=2)
        return
    if os.geteuid() != 0:
        namespace_skip = "not root: cannot make a private hosts file (unshare --mount --net)"
    elif not shutil.which("unshare"):
        namespace_skip = "unshare is not installed (util-linux)"
    elif subprocess.run(["unshare", "--mount", "--net", "true"],
                        capture_output=True).returncode != 0:
        namespace_skip = "unshare --mount --net failed: no private namespace here"
    else:
        # Everything from here runs where only loopback exists and the hosts file is ours.
        env = dict(os.environ, **{IN_NAMESPACE: "1"})
        os.execvpe("unshare", ["unshare", "--mount", "--net", sys.executable,
                               os.path.abspath(__file__), DIAL, *sys.argv[2:]], env)
    print(f"dial_test: name tests skipped: {namespace_skip}", file=sys.stderr)
    unittest.main(argv=[sys.argv[0], *sys.argv[2:]], verbosity=2)


if __name__ == "__main__":
    main()
