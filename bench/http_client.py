#!/usr/bin/python3
"""HTTP client load benchmark (issue 5; design.md section 6): ringo's Transport (bench/http_load)
beside wrk and Go's http.Client (bench/go/load, GOMAXPROCS=1), each on one core, against one
fixed-response server on the other core: bench/raw_http_server, plain liburing, so the server
costs the same for every client. 64 connections, keep-alive. Each client runs ROUNDS times in
turn (ringo, wrk, go, ringo, wrk, go, ...); the table shows the medians: requests/s and the
client's CPU time (user + system) per request, and the ratios the issue sets goals for: CPU per
request against wrk's (goal <= 1.3x) and throughput against Go's (goal >= 2.5x).

Usage: bench/http_client.py BUILD_DIR     (env: HTTP_CLIENT_SECONDS=10, HTTP_CLIENT_ROUNDS=3,
                                           HTTP_CLIENT_CONNS=64, HTTP_CLIENT_RESULTS=bench/results)
Prints the table; writes the medians and every round's figures to HTTP_CLIENT_RESULTS/
http_client.json (bench/plot.py draws the chart from it).
"""

import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def say(msg):
    print(f"http_client: {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_measured(cmd, env=None):
    """Runs cmd to completion; returns (stdout, CPU seconds of it and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[3:]} failed ({p.returncode}): {p.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return p.stdout, cpu


def build_go_load(tmp):
    if not shutil.which("go"):
        say("go is not installed: Go's client left out")
        return None
    env = dict(os.environ, GOFLAGS="-mod=mod", GOPROXY="off", GOENV="off",
               GOCACHE=os.path.join(tmp, "gocache"), GOPATH=os.path.join(tmp, "gopath"))
    exe = os.path.join(tmp, "go_load")
    r = subprocess.run(["go", "build", "-o", exe, "."], cwd=os.path.join(ROOT, "bench/go/load"),
                       env=env, capture_output=True, text=True)
    if r.returncode != 0:
        say("go build failed: Go's client left out\n" + r.stderr)
        return None
    return exe


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build/bench"
    secs = float(os.environ.get("HTTP_CLIENT_SECONDS", "10"))
    rounds = int(os.environ.get("HTTP_CLIENT_ROUNDS", "3"))
    conns = int(os.environ.get("HTTP_CLIENT_CONNS", "64"))
    results_dir = os.environ.get("HTTP_CLIENT_RESULTS", os.path.join(ROOT, "bench/results"))
    server_core, client_core = "0", "1"
    if os.cpu_count() < 2:
        say("one core: server and client share it, the ratios mean little")
        client_core = "0"
    pin = ["taskset", "-c", client_core]
    tmp = tempfile.mkdtemp(prefix="ringo-http-client-")
    go_load = build_go_load(tmp)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen(["taskset", "-c", server_core,
                               os.path.join(build, "bench/raw_http_server"), "--listen",
                               f"127.0.0.1:{port}"])
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.02)

    clients = {"ringo": lambda: run_measured(pin + [os.path.join(build, "bench/http_load"), url,
                                                    "-c", str(conns), "-d", str(secs)])}
    if shutil.which("wrk"):
        clients["wrk"] = lambda: run_measured(pin + ["wrk", "-t1", f"-c{conns}", f"-d{secs:g}s", url])
    else:
        say("wrk is not installed: left out")
    if go_load:
        env = dict(os.environ, GOMAXPROCS="1")
        clients["go"] = lambda: run_measured(pin + [go_load, "-c", str(conns), "-d", str(secs),
                                                    url], env)
    results = {name: [] for name in clients}
    try:
        for rnd in range(rounds):
            for name, run in clients.items():
                out, cpu = run()
                if name == "wrk":
                    m = re.search(r"(\d+) requests in ([\d.]+)s", out)
                    reqs, elapsed = int(m.group(1)), float(m.group(2))
                    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
                    if errs:
                        raise RuntimeError(f"wrk: {errs.group(1)} bad responses")
                else:
                    m = re.search(r"requests (\d+) errors (\d+) seconds ([\d.]+)", out)
                    reqs, errs, elapsed = int(m.group(1)), int(m.group(2)), float(m.group(3))
                    if errs:
                        raise RuntimeError(f"{name}: {errs} errors")
                # The whole process's CPU (setup included) over the requests it made.
                results[name].append((reqs / elapsed, cpu * 1e6 / reqs))
                say(f"round {rnd + 1} {name}: {reqs / elapsed:,.0f} req/s, "
                    f"{cpu * 1e6 / reqs:.2f} us CPU/request")
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    med = {n: (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs))
           for n, rs in results.items()}
    print(f"\nHTTP client load: {conns} connections, {secs:g} s x {rounds} rounds (medians); "
          f"client on core {client_core}, raw_http_server on core {server_core}")
    print("| client | requests/s | client CPU µs/request | CPU vs wrk | throughput vs Go |")
    print("|---|---:|---:|---:|---:|")
    names = {"ringo": "ringo Transport (http_load)", "wrk": "wrk -t1",
             "go": "Go http.Client (GOMAXPROCS=1)"}
    for n, (rps, cpu) in med.items():
        vs_wrk = f"{cpu / med['wrk'][1]:.2f}x" if "wrk" in med else "-"
        vs_go = f"{rps / med['go'][0]:.2f}x" if "go" in med else "-"
        print(f"| {names[n]} | {rps:,.0f} | {cpu:.2f} | {vs_wrk} | {vs_go} |")

    os.makedirs(results_dir, exist_ok=True)
    path = os.path.join(results_dir, "http_client.json")
    with open(path, "w") as f:
        json.dump({
            "benchmark": "bench/http_client.py",
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "connections": conns, "seconds": secs, "rounds": rounds,
            "server_core": int(server_core), "client_core": int(client_core),
            "units": {"rps": "requests/s", "cpu_us": "client CPU µs/request"},
            "order": list(med),
            "clients": {n: {"name": names[n], "median": {"rps": rps, "cpu_us": cpu},
                            "rounds": [{"rps": r, "cpu_us": c} for r, c in results[n]]}
                        for n, (rps, cpu) in med.items()},
        }, f, indent=1, ensure_ascii=False)
        f.write("\n")
    say(f"figures written to {path}")


if __name__ == "__main__":
    main()
