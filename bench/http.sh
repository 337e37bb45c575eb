#!/usr/bin/env bash
# HTTP load benchmarks (design.md §6): hello_server (1 thread) against nginx (1 worker,
# `return 200`), Go's net/http (GOMAXPROCS=1) and a raw io_uring fixed-response loop (the floor,
# bench/raw_http_server.cpp), all serving "Hello, World!" on 127.0.0.1, in one run on this
# machine: the server pinned to one core, wrk (and the idle-connection client) to the other.
#
# For each server: requests/s and server CPU µs per request (utime+stime from /proc/PID/stat over
# the wrk run, divided by the requests wrk counted) with 64 keep-alive connections, the same with
# 16 requests pipelined per write, and RSS per idle keep-alive connection (VmRSS growth while N
# connections, each having had one request answered, sit idle; /N). Servers run in turn, ROUNDS
# times interleaved; the table shows each figure's median and its ratio to the raw loop and to
# nginx. Missing peers (nginx, go) are left out; without wrk nothing runs.
#
#   bench/http.sh [BUILD_DIR]     default build/bench (bench/run's release build); prints the
#                                 table and writes bench/results/http.md
# Environment: HTTP_BENCH_SECONDS (5 per wrk run), HTTP_BENCH_ROUNDS (3), HTTP_BENCH_CONNS (64),
# HTTP_BENCH_DEPTH (16), HTTP_BENCH_IDLE (5000), HTTP_BENCH_SERVERS ("raw ringo nginx go"),
# HTTP_BENCH_RESULTS (bench/results: where http.md goes; another directory keeps a trial run from
# replacing the figures README.md quotes).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${1:-build/bench}
secs=${HTTP_BENCH_SECONDS:-5}
rounds=${HTTP_BENCH_ROUNDS:-3}
conns=${HTTP_BENCH_CONNS:-64}
depth=${HTTP_BENCH_DEPTH:-16}
idle=${HTTP_BENCH_IDLE:-5000}
servers=(${HTTP_BENCH_SERVERS:-raw ringo nginx go})
results=${HTTP_BENCH_RESULTS:-$root/bench/results}
py=/usr/bin/python3
[[ -x $py ]] || py=python3

say() { echo "http.sh: $*" >&2; }

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

# 5,000 idle connections need descriptors; the servers inherit this limit.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if (($(ulimit -n) < idle + 256)); then
  idle=$(($(ulimit -n) - 256))
  say "RLIMIT_NOFILE is $(ulimit -n): $idle idle connections"
fi

tmp=$(mktemp -d)
launched=()  # PIDs we started, stopped by PID on exit
cleanup() {
  local pid
  for pid in "${launched[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# Go's peer, built offline from the standard library only.
go_bin=
if [[ " ${servers[*]} " == *" go "* ]] && command -v go >/dev/null; then
  if (cd bench/go/hello && GOFLAGS=-mod=mod GOPROXY=off GOENV=off GOCACHE=$tmp/gocache \
      GOPATH=$tmp/gopath go build -o "$tmp/go_hello" .) >&2; then
    go_bin=$tmp/go_hello
  else
    say "go build failed: leaving Go out"
  fi
fi
nginx_bin=$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null || true)

available=()
for s in "${servers[@]}"; do
  case $s in
    nginx) [[ -n $nginx_bin ]] || { say "nginx is not installed: left out"; continue; } ;;
    go) [[ -n $go_bin ]] || { say "go is not installed: left out"; continue; } ;;
  esac
  available+=("$s")
done

free_port() {
  "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_ready() {  # port
  local i
  for ((i = 0; i < 100; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}

nginx_conf() {  # dir port
  mkdir -p "$1"
  cat >"$1/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $1/nginx.pid;
error_log $1/error.log warn;
worker_rlimit_nofile 65536;
events { worker_connections 16384; }
http {
  access_log off;
  server_tokens off;
  keepalive_requests 1000000000;
  keepalive_timeout 300s;
  client_body_temp_path $1/body;
  proxy_temp_path $1/proxy;
  fastcgi_temp_path $1/fastcgi;
  uwsgi_temp_path $1/uwsgi;
  scgi_temp_path $1/scgi;
  server {
    listen 127.0.0.1:$2;
    default_type text/plain;
    location / { return 200 "Hello, World!"; }
  }
}
EOF
}

# Starts server $1 on port $2: sets launch_pid (what we kill) and server_pid (what we measure:
# nginx's worker, else the process itself).
start_server() {
  local name=$1 port=$2 addr=127.0.0.1:$2
  case $name in
    raw) taskset -c "$server_core" "$build/bench/raw_http_server" --listen "$addr" & ;;
    ringo) taskset -c "$server_core" "$build/examples/hello_server" --listen "$addr" --threads 1 & ;;
    nginx)
      nginx_conf "$tmp/nginx" "$port"
      taskset -c "$server_core" "$nginx_bin" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e stderr & ;;
    go) GOMAXPROCS=1 taskset -c "$server_core" "$go_bin" --listen "$addr" & ;;
  esac
  launch_pid=$!
  launched+=("$launch_pid")
  wait_ready "$port" || { say "$name did not start"; return 1; }
  server_pid=$launch_pid
  if [[ $name == nginx ]]; then
    local i
    for ((i = 0; i < 50; i++)); do
      server_pid=$(pgrep -P "$launch_pid" | head -1 || true)
      [[ -n $server_pid ]] && break
      sleep 0.05
    done
    [[ -n $server_pid ]] || { say "no nginx worker"; return 1; }
  fi
}

stop_server() {
  kill "$launch_pid" 2>/dev/null || true
  wait "$launch_pid" 2>/dev/null || true
}

cpu_ticks() {  # utime + stime of $1 (all threads), in clock ticks; fields after "(comm) "
  sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

hz=$(getconf CLK_TCK)

# wrk against port $1, extra arguments after the URL; prints "requests seconds errors cpu_ticks".
measure() {
  local port=$1
  shift
  local before after out
  before=$(cpu_ticks "$server_pid")
  out=$(taskset -c "$client_core" wrk -t1 -c"$conns" -d"${secs}s" "http://127.0.0.1:$port/" "$@")
  after=$(cpu_ticks "$server_pid")
  echo "$out" | awk -v cpu=$((after - before)) '
    / requests in / { n = $1; t = $4; sub(/s,?$/, "", t) }
    /Non-2xx/ { e += $NF }
    /Socket errors/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
    END { printf "%d %s %d %d\n", n, t, e, cpu }'
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

raw_tsv=$tmp/runs.tsv
: >"$raw_tsv"
say "servers: ${available[*]}; $rounds round(s), ${secs}s per wrk run, $conns connections," \
  "pipelined depth $depth, $idle idle connections; server on core $server_core, load on core $client_core"
for ((round = 1; round <= rounds; round++)); do
  for s in "${available[@]}"; do
    port=$(free_port)
    start_server "$s" "$port" || continue
    mem=$(idle_rss "$port")
    taskset -c "$client_core" wrk -t1 -c"$conns" -d1s "http://127.0.0.1:$port/" >/dev/null  # warm-up
    read -r n t e cpu < <(measure "$port")
    read -r pn pt pe pcpu < <(measure "$port" -s bench/pipeline.lua -- "$depth")
    stop_server
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
      "$s" "$round" "$n" "$t" "$e" "$cpu" "$pn" "$pt" "$pe" "$pcpu" "$mem" >>"$raw_tsv"
    say "round $round $s: $n requests in ${t}s (cpu $cpu ticks, $e errors); pipelined $pn in ${pt}s" \
      "(cpu $pcpu ticks, $pe errors); idle conn $mem B"
  done
done

mkdir -p "$results"
# (wrk -v exits 1: each probe ends in `|| true` so pipefail does not end the script here.)
versions="nginx $({ [[ -n $nginx_bin ]] && "$nginx_bin" -v 2>&1; } | sed 's/.*\///' || true)"
versions+=", $({ go version 2>/dev/null || true; } | awk '{print $3}'), wrk $({ wrk -v 2>&1 || true; } | awk 'NR==1 {print $2}')"
machine="$(uname -sr), $(nproc) cores ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo))"
"$py" - "$raw_tsv" "$hz" "$conns" "$depth" "$idle" "$secs" "$rounds" "$machine" "$versions" \
  "$server_core" "$client_core" <<'EOF' | tee "$results/http.md"
import statistics, sys
path, hz, conns, depth, idle, secs, rounds, machine, versions, score, ccore = sys.argv[1:]
hz = float(hz)
names = {"raw": "raw io_uring loop (floor)", "ringo": "ringo hello_server, 1 thread",
         "nginx": "nginx, 1 worker", "go": "Go net/http, GOMAXPROCS=1"}
runs = {}
for line in open(path):
    s, rnd, n, t, e, cpu, pn, pt, pe, pcpu, mem = line.rstrip("\n").split("\t")
    r = runs.setdefault(s, {k: [] for k in ("rps", "us", "pct", "prps", "pus", "ppct", "mem", "err")})
    n, t, pn, pt = int(n), float(t), int(pn), float(pt)
    r["rps"].append(n / t if t else 0)
    r["us"].append(int(cpu) / hz * 1e6 / n if n else float("nan"))
    r["pct"].append(100 * int(cpu) / hz / t if t else 0)
    r["prps"].append(pn / pt if pt else 0)
    r["pus"].append(int(pcpu) / hz * 1e6 / pn if pn else float("nan"))
    r["ppct"].append(100 * int(pcpu) / hz / pt if pt else 0)
    if mem != "nan":
        r["mem"].append(float(mem))
    r["err"].append(int(e) + int(pe))
med = {s: {k: (statistics.median(v) if v else float("nan")) for k, v in r.items()} for s, r in runs.items()}

def ratio(s, key, base):
    if base not in med or s == base:
        return "—" if s == base else ""
    b = med[base][key]
    return f"{med[s][key] / b:.2f}×" if b and b == b else ""

print(f"### HTTP server benchmarks ({rounds} round(s), medians)\n")
print(f"{machine}; server pinned to core {score}, wrk -t1 -c{conns} pinned to core {ccore}, "
      f"{secs} s per run; {versions}.\n")
print("| server | req/s | CPU µs/req | ×raw | ×nginx | pipelined ×" + depth +
      " req/s | CPU µs/req | ×raw | ×nginx | RSS per idle conn | ×nginx |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for s in ("raw", "ringo", "nginx", "go"):
    if s not in med:
        continue
    m = med[s]
    mem = f"{m['mem']:,.0f} B" if m["mem"] == m["mem"] else "n/a"
    print(f"| {names[s]} | {m['rps']:,.0f} | {m['us']:.2f} | {ratio(s, 'us', 'raw')} | "
          f"{ratio(s, 'us', 'nginx')} | {m['prps']:,.0f} | {m['pus']:.2f} | {ratio(s, 'pus', 'raw')} | "
          f"{ratio(s, 'pus', 'nginx')} | {mem} | {ratio(s, 'mem', 'nginx')} |")
print()
print("Server CPU busy during the runs (100% = the server's core saturated): " + ", ".join(
    f"{s} {med[s]['pct']:.0f}% / {med[s]['ppct']:.0f}% pipelined" for s in med) + ".")
errs = {s: sum(r["err"]) for s, r in runs.items() if sum(r["err"])}
if errs:
    print("wrk reported errors (non-2xx or socket errors): " +
          ", ".join(f"{s} {n}" for s, n in errs.items()) + ".")
print(f"RSS per idle conn: VmRSS growth of the server process (nginx: its worker) while {idle} "
      "keep-alive connections, each after one answered request, sit idle, divided by their number.")
print("Goals (issue 4): CPU per request ≤ 1.1× the raw loop; memory per idle connection ≤ nginx's.")
EOF
say "table written to $results/http.md"
