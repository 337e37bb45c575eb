#!/usr/bin/env bash
# HTTP load benchmarks (design.md §6): hello_server (1 thread) against nginx (1 worker,
# `return 200`), Go's net/http (GOMAXPROCS=1) and a raw io_uring fixed-response loop (the floor,
# bench/raw_http_server.cpp), all serving "Hello, World!" on 127.0.0.1, in one run on this
# machine: the server pinned to one core, wrk (and the idle-connection client) to the other.
#
# For each server: requests/s and server CPU µs per request (utime+stime from /proc/PID/stat over
# the wrk run, divided by the requests wrk counted) with 64 keep-alive connections, with wrk's
# latency percentiles (--latency: p50, p75, p90, p99), the same with 16 requests pipelined per
# write, and RSS per idle keep-alive connection (VmRSS growth while N connections, each having had
# one request answered one after another, sit idle; /N). Then, on a fresh server, the burst case
# (bench/burst_conns.py): after a warm-up, BURST connections made at once each send a request
# before any answer is read, read their answers and sit idle: RSS per idle connection after the
# burst (VmRSS growth from before the burst, /BURST) and, once the client has closed them all and
# the server's descriptors are back to the pre-burst count (polled for up to 2 s), the RSS left
# above the pre-burst value. Servers run in turn, ROUNDS times interleaved; the tables show each
# figure's median and its ratio to the raw loop and to nginx. Missing peers (nginx, go) are left
# out; without wrk nothing runs.
#
#   bench/http.sh [BUILD_DIR]     default build/bench (bench/run's release build); prints the
#                                 tables and writes bench/results/http.md, and the medians and
#                                 every round's figures as bench/results/http.json (bench/plot.py
#                                 draws the charts from it)
# Environment: HTTP_BENCH_SECONDS (5 per wrk run), HTTP_BENCH_ROUNDS (3), HTTP_BENCH_CONNS (64),
# HTTP_BENCH_DEPTH (16), HTTP_BENCH_IDLE (5000), HTTP_BENCH_BURST (10000; 0 leaves the burst out),
# HTTP_BENCH_SERVERS ("raw ringo ringo_plain nginx go"; ringo_plain is hello_server --recv plain,
# a recv SQE per read instead of the multishot recv), HTTP_BENCH_RESULTS (bench/results: where http.md and
# http.json go; another directory keeps a trial run from replacing the figures README.md quotes).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${1:-build/bench}
secs=${HTTP_BENCH_SECONDS:-5}
rounds=${HTTP_BENCH_ROUNDS:-3}
conns=${HTTP_BENCH_CONNS:-64}
depth=${HTTP_BENCH_DEPTH:-16}
idle=${HTTP_BENCH_IDLE:-5000}
burst=${HTTP_BENCH_BURST:-10000}
servers=(${HTTP_BENCH_SERVERS:-raw ringo ringo_plain nginx go})
results=${HTTP_BENCH_RESULTS:-$root/bench/results}
py=/usr/bin/python3
[[ -x $py ]] || py=python3

say() { echo "http.sh: $*" >&2; }
source "$root/bench/lib.sh"

if ! command -v wrk >/dev/null; then
  say "wrk is not installed (tools/packages.txt): skipping the HTTP load benchmarks"
  exit 0
fi
if [[ ! -x $build/examples/hello_server || ! -x $build/bench/raw_http_server ]]; then
  say "building hello_server and raw_http_server in $build"
  meson compile -C "$build" hello_server raw_http_server >&2
fi

# Server on core 0, load on core 1 (one core only: both share it, and the table says so).
server_core=0 client_core=1
(($(nproc) >= 2)) || client_core=0

# 5,000 idle connections and the burst's 10,000 need descriptors; the servers and the clients
# inherit this limit.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if (($(ulimit -n) < idle + 256)); then
  idle=$(($(ulimit -n) - 256))
  say "RLIMIT_NOFILE is $(ulimit -n): $idle idle connections"
fi
if (($(ulimit -n) < burst + 256)); then
  burst=$(($(ulimit -n) - 256))
  say "RLIMIT_NOFILE is $(ulimit -n): a burst of $burst connections"
fi

bench_scratch
go_bin=
[[ " ${servers[*]} " == *" go "* ]] && go_bin=$(go_peer hello go_hello)
mapfile -t available < <(available_peers "${servers[@]}")

# Starts server $1 on port $2 (track_server: launch_pid, server_pid).
start_server() {
  local name=$1 port=$2 addr=127.0.0.1:$2
  case $name in
    raw) taskset -c "$server_core" "$build/bench/raw_http_server" --listen "$addr" & ;;
    ringo) taskset -c "$server_core" "$build/examples/hello_server" --listen "$addr" --threads 1 & ;;
    ringo_plain)
      taskset -c "$server_core" "$build/examples/hello_server" --listen "$addr" --recv plain & ;;
    nginx)
      nginx_conf "$tmp/nginx" <<CONF
  server {
    listen $addr;
    default_type text/plain;
    location / { return 200 "Hello, World!"; }
  }
CONF
      start_nginx "$tmp/nginx" "$server_core" ;;
    go) GOMAXPROCS=1 taskset -c "$server_core" "$go_bin" --listen "$addr" & ;;
  esac
  track_server "$name" "$port"
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

hz=$(getconf CLK_TCK)

# wrk against port $1, extra arguments after the URL; prints "requests seconds errors cpu_ticks
# p50 p75 p90 p99" (latency percentiles in µs, from --latency; nan when wrk printed none).
measure() {
  local port=$1
  shift
  local before after out
  before=$(cpu_ticks "$server_pid")
  out=$(taskset -c "$client_core" wrk -t1 -c"$conns" -d"${secs}s" --latency \
    "http://127.0.0.1:$port/" "$@")
  after=$(cpu_ticks "$server_pid")
  echo "$out" | wrk_figures $((after - before))
}

# RSS growth per idle keep-alive connection, in bytes.
idle_rss() {
  local port=$1 before after ready
  before=$(rss_kb "$server_pid")
  coproc IDLE { taskset -c "$client_core" "$py" bench/idle_conns.py 127.0.0.1 "$port" "$idle"; }
  launched+=("$IDLE_PID")
  read -r ready _ <&"${IDLE[0]}" || true
  if [[ $ready != ready ]]; then
    echo nan
    return
  fi
  sleep 1
  after=$(rss_kb "$server_pid")
  local fd=${IDLE[1]}
  exec {fd}>&-  # the client closes its connections when its stdin closes
  wait "$IDLE_PID" 2>/dev/null || true
  echo $(((after - before) * 1024 / idle))
}

# The burst on a fresh server: prints "before_kb after_kb left_kb burst_seconds close_seconds
# open_fds_left" (VmRSS before the burst, with the burst's connections idle, and after they have
# all closed; nan when the client failed).
burst_rss() {
  local port=$1 warm ready n took took_close before after left fds0 fds i start
  coproc BURST { taskset -c "$client_core" "$py" bench/burst_conns.py "$port" "$burst"; }
  launched+=("$BURST_PID")
  local from=${BURST[0]} to=${BURST[1]}
  read -r warm <&"$from" || true
  if [[ $warm != warm ]]; then
    exec {to}>&-
    wait "$BURST_PID" 2>/dev/null || true
    echo nan nan nan nan nan nan
    return
  fi
  sleep 0.2
  fds0=$(fd_count "$server_pid")
  before=$(rss_kb "$server_pid")
  echo go >&"$to"
  read -r ready n took <&"$from" || true
  if [[ $ready != ready ]]; then
    exec {to}>&-
    wait "$BURST_PID" 2>/dev/null || true
    echo nan nan nan nan nan nan
    return
  fi
  sleep 1
  after=$(rss_kb "$server_pid")
  start=$(date +%s.%N)
  exec {to}>&-  # the client closes its connections when its stdin closes
  wait "$BURST_PID" 2>/dev/null || true
  for ((i = 0; i < 40; i++)); do  # until the server has closed them too, at most 2 s
    fds=$(fd_count "$server_pid")
    ((fds > fds0)) || break
    sleep 0.05
  done
  fds=$(fd_count "$server_pid")
  took_close=$(echo "$start $(date +%s.%N)" | awk '{ printf "%.2f", $2 - $1 }')
  sleep 0.2
  left=$(rss_kb "$server_pid")
  echo "$before $after $left $took $took_close $((fds > fds0 ? fds - fds0 : 0))"
}

raw_tsv=$tmp/runs.tsv
: >"$raw_tsv"
say "servers: ${available[*]}; $rounds round(s), ${secs}s per wrk run, $conns connections," \
  "pipelined depth $depth, $idle idle connections, a burst of $burst; server on core" \
  "$server_core, load on core $client_core"
for ((round = 1; round <= rounds; round++)); do
  for s in "${available[@]}"; do
    port=$(free_port)
    start_server "$s" "$port" || continue
    mem=$(idle_rss "$port")
    taskset -c "$client_core" wrk -t1 -c"$conns" -d1s "http://127.0.0.1:$port/" >/dev/null  # warm-up
    read -r n t e cpu p50 p75 p90 p99 < <(measure "$port")
    read -r pn pt pe pcpu pp50 pp75 pp90 pp99 < <(measure "$port" -s bench/pipeline.lua -- "$depth")
    stop_server
    # The burst on a fresh server, so the sequential idle connections leave nothing behind.
    b=(nan nan nan nan nan nan)
    if ((burst > 0)); then
      port=$(free_port)
      if start_server "$s" "$port"; then
        read -r -a b < <(burst_rss "$port") || true
        ((${#b[@]} == 6)) || b=(nan nan nan nan nan nan)
        stop_server
      fi
    fi
    printf '%s\t' "$s" "$round" "$n" "$t" "$e" "$cpu" "$pn" "$pt" "$pe" "$pcpu" "$mem" \
      "$p50" "$p75" "$p90" "$p99" "$pp50" "$pp75" "$pp90" "$pp99" "$burst" "${b[@]:0:5}" \
      >>"$raw_tsv"
    printf '%s\n' "${b[5]}" >>"$raw_tsv"
    say "round $round $s: $n requests in ${t}s (cpu $cpu ticks, $e errors, p50 ${p50} µs, p99" \
      "${p99} µs); pipelined $pn in ${pt}s (cpu $pcpu ticks, $pe errors); idle conn $mem B;" \
      "burst of $burst: RSS ${b[0]} → ${b[1]} kB in ${b[3]}s, ${b[2]} kB after closing" \
      "(${b[4]}s, ${b[5]} descriptors left)"
  done
done

mkdir -p "$results"
versions="nginx $(nginx_version), $(go_version), wrk $(wrk_version)"
machine=$(machine_description)
"$py" - "$raw_tsv" "$hz" "$conns" "$depth" "$idle" "$secs" "$rounds" "$machine" "$versions" \
  "$server_core" "$client_core" "$burst" "$results/http.json" <<'EOF' | tee "$results/http.md"
import json, math, statistics, sys, time
(path, hz, conns, depth, idle, secs, rounds, machine, versions, score, ccore, burst,
 json_path) = sys.argv[1:]
hz = float(hz)
names = {"raw": "raw io_uring loop (floor)", "ringo": "ringo hello_server, 1 thread",
         "ringo_plain": "ringo hello_server --recv plain (a recv SQE per read)",
         "nginx": "nginx, 1 worker", "go": "Go net/http, GOMAXPROCS=1"}
nan = float("nan")

def num(v):
    try:
        return float(v)
    except ValueError:
        return nan

# One row per server and round: the figures every table and chart is made of.
keys = ("rps", "us", "pct", "prps", "pus", "ppct", "mem", "err", "p50", "p75", "p90", "p99",
        "pp50", "pp75", "pp90", "pp99", "burst_mem", "burst_left_mib", "burst_s", "burst_close_s",
        "burst_fds_left")
runs = {}
for line in open(path):
    (s, rnd, n, t, e, cpu, pn, pt, pe, pcpu, mem, p50, p75, p90, p99, pp50, pp75, pp90, pp99,
     nb, before, after, left, took, took_close, fds_left) = line.rstrip("\n").split("\t")
    n, t, pn, pt, nb = int(n), float(t), int(pn), float(pt), int(nb)
    before, after, left = num(before), num(after), num(left)
    r = {
        "round": int(rnd),
        "rps": n / t if t else 0,
        "us": int(cpu) / hz * 1e6 / n if n else nan,
        "pct": 100 * int(cpu) / hz / t if t else 0,
        "prps": pn / pt if pt else 0,
        "pus": int(pcpu) / hz * 1e6 / pn if pn else nan,
        "ppct": 100 * int(pcpu) / hz / pt if pt else 0,
        "mem": num(mem),
        "err": int(e) + int(pe),
        "p50": num(p50), "p75": num(p75), "p90": num(p90), "p99": num(p99),
        "pp50": num(pp50), "pp75": num(pp75), "pp90": num(pp90), "pp99": num(pp99),
        "burst_mem": (after - before) * 1024 / nb if nb else nan,
        "burst_left_mib": (left - before) / 1024,
        "burst_s": num(took), "burst_close_s": num(took_close), "burst_fds_left": num(fds_left),
    }
    runs.setdefault(s, []).append(r)

def median(vals):
    vals = [v for v in vals if not math.isnan(v)]
    return statistics.median(vals) if vals else nan

med = {s: {k: median([r[k] for r in rs]) for k in keys} for s, rs in runs.items()}
order = [s for s in ("raw", "ringo", "ringo_plain", "nginx", "go") if s in med]

def ratio(s, key, base):
    if base not in med or s == base:
        return "—" if s == base else ""
    b, v = med[base][key], med[s][key]
    return f"{v / b:.2f}×" if b and not math.isnan(b) and not math.isnan(v) else ""

def us(v):  # a latency
    if math.isnan(v):
        return "n/a"
    return f"{v / 1000:.2f} ms" if v >= 1000 else f"{v:.0f} µs"

print(f"### HTTP server benchmarks ({rounds} round(s), medians)\n")
print(f"{machine}; server pinned to core {score}, wrk -t1 -c{conns} pinned to core {ccore}, "
      f"{secs} s per run; {versions}.\n")
print("| server | req/s | CPU µs/req | ×raw | ×nginx | pipelined ×" + depth +
      " req/s | CPU µs/req | ×raw | ×nginx | RSS per idle conn | ×nginx |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for s in order:
    m = med[s]
    mem = f"{m['mem']:,.0f} B" if m["mem"] == m["mem"] else "n/a"
    print(f"| {names[s]} | {m['rps']:,.0f} | {m['us']:.2f} | {ratio(s, 'us', 'raw')} | "
          f"{ratio(s, 'us', 'nginx')} | {m['prps']:,.0f} | {m['pus']:.2f} | {ratio(s, 'pus', 'raw')} | "
          f"{ratio(s, 'pus', 'nginx')} | {mem} | {ratio(s, 'mem', 'nginx')} |")
print()
print("Server CPU busy during the runs (100% = the server's core saturated): " + ", ".join(
    f"{s} {med[s]['pct']:.0f}% / {med[s]['ppct']:.0f}% pipelined" for s in med) + ".")
errs = {s: sum(r["err"] for r in rs) for s, rs in runs.items() if sum(r["err"] for r in rs)}
if errs:
    print("wrk reported errors (non-2xx or socket errors): " +
          ", ".join(f"{s} {n}" for s, n in errs.items()) + ".")
print(f"RSS per idle conn: VmRSS growth of the server process (nginx: its worker) while {idle} "
      "keep-alive connections, each after one answered request, sit idle, divided by their number.")
print("Goals (issue 4): CPU per request ≤ 1.1× the raw loop; memory per idle connection ≤ nginx's.")
print()
burst = int(burst)
print(f"### Latency (wrk --latency, {conns} keep-alive connections) and memory after a burst of "
      f"{burst:,} connections\n")
print(f"| server | p50 | p90 | p99 | p99 ×nginx | RSS per idle conn after the burst | ×nginx | "
      "RSS left after all close |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for s in order:
    m = med[s]
    bm = f"{m['burst_mem']:,.0f} B" if not math.isnan(m["burst_mem"]) else "n/a"
    left = f"{m['burst_left_mib']:.1f} MiB" if not math.isnan(m["burst_left_mib"]) else "n/a"
    print(f"| {names[s]} | {us(m['p50'])} | {us(m['p90'])} | {us(m['p99'])} | "
          f"{ratio(s, 'p99', 'nginx')} | {bm} | {ratio(s, 'burst_mem', 'nginx')} | {left} |")
print()
print(f"Latency: wrk's percentiles over the keep-alive run above (closed loop: {conns} "
      "connections, each sending its next request when the last answer arrives).")
if burst:
    print(f"Burst: after a warm-up, {burst:,} connections opened at once each send one request "
          "before any answer is read, read their answers and sit idle (bench/burst_conns.py; a "
          "fresh server each time); RSS per idle conn is the VmRSS growth from before the burst, "
          "divided by their number; RSS left is VmRSS above the pre-burst value once the client "
          "has closed them all and the server's descriptors are back to their pre-burst count "
          "(polled up to 2 s, then 0.2 s more).")
else:
    print("Burst: left out (HTTP_BENCH_BURST=0).")
slow = {s: med[s]["burst_fds_left"] for s in order if med[s]["burst_fds_left"] > 0}
if slow:
    print("Connections the server still held 2 s after the client closed them: " +
          ", ".join(f"{s} {n:.0f}" for s, n in slow.items()) + ".")
if burst:
    print("Burst wall time (connect, send, read all): " +
          ", ".join(f"{s} {med[s]['burst_s']:.2f} s" for s in order) + ".")
print("Goals: p99 ≤ nginx's; memory per idle connection ≤ nginx's, after a burst too.")

def clean(v):  # JSON has no NaN
    return None if isinstance(v, float) and math.isnan(v) else v

with open(json_path, "w") as f:
    json.dump({
        "benchmark": "bench/http.sh",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine, "versions": versions, "rounds": int(rounds), "seconds": float(secs),
        "connections": int(conns), "pipeline_depth": int(depth), "idle_connections": int(idle),
        "burst_connections": burst, "server_core": int(score), "client_core": int(ccore),
        "units": {"rps": "requests/s", "us": "server CPU µs/request", "pct": "% of a core",
                  "prps": "requests/s pipelined", "pus": "server CPU µs/request pipelined",
                  "ppct": "% of a core pipelined", "mem": "bytes per idle connection",
                  "err": "wrk errors", "p50": "µs", "p75": "µs", "p90": "µs", "p99": "µs",
                  "pp50": "µs pipelined", "pp75": "µs pipelined", "pp90": "µs pipelined",
                  "pp99": "µs pipelined", "burst_mem": "bytes per idle connection after the burst",
                  "burst_left_mib": "MiB above the pre-burst RSS after all closed",
                  "burst_s": "s", "burst_close_s": "s", "burst_fds_left": "descriptors"},
        "order": order,
        "servers": {s: {"name": names[s], "median": {k: clean(v) for k, v in med[s].items()},
                        "rounds": [{k: clean(v) for k, v in r.items()} for r in runs[s]]}
                    for s in order},
    }, f, indent=1, ensure_ascii=False)
    f.write("\n")
EOF
say "tables written to $results/http.md, figures to $results/http.json"
