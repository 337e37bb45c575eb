#!/usr/bin/env bash
# HTTP/2 load benchmark (design.md §6, issue 14): hello_server (1 thread) against nginx (1 worker,
# `listen ... http2` on a plaintext listener, `return 200`) and h2o (1 thread, a file with
# "Hello, World!" served by file.dir), all over cleartext HTTP/2 with prior knowledge on
# 127.0.0.1: `h2load -t1 -c64 -m10 -D SECONDS`, the server pinned to core 0, h2load to core 1.
# Server CPU per request is the server process's utime + stime (/proc/PID/stat) over the h2load
# run divided by the requests h2load counted; servers run in turn, ROUNDS times interleaved, and
# the table shows medians and the ratio to h2o's (the issue's goal: ringo ≤ h2o).
#
#   bench/h2.sh [BUILD_DIR]    default build/bench (bench/run's release build); prints the table
#                              and writes bench/results/h2.md and bench/results/h2.json
# Environment: H2_BENCH_SECONDS (5), H2_BENCH_ROUNDS (3), H2_BENCH_CONNS (64), H2_BENCH_STREAMS
# (10: h2load -m), H2_BENCH_SERVERS ("ringo nginx h2o"), H2_BENCH_RESULTS (bench/results),
# H2_BENCH_CLIENT (1; 0 leaves the client out), H2_BENCH_CLIENT_STREAMS (64).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${1:-build/bench}
secs=${H2_BENCH_SECONDS:-5}
rounds=${H2_BENCH_ROUNDS:-3}
conns=${H2_BENCH_CONNS:-64}
streams=${H2_BENCH_STREAMS:-10}
servers=(${H2_BENCH_SERVERS:-ringo nginx h2o})
results=${H2_BENCH_RESULTS:-$root/bench/results}
py=/usr/bin/python3
[[ -x $py ]] || py=python3

say() { echo "h2.sh: $*" >&2; }
source "$root/bench/lib.sh"

if ! command -v h2load >/dev/null; then
  say "h2load is not installed (nghttp2-client, tools/packages.txt): skipping the HTTP/2 benchmark"
  exit 0
fi
if [[ ! -x $build/examples/hello_server ]]; then
  say "building hello_server in $build"
  meson compile -C "$build" hello_server >&2
fi

server_core=0 client_core=1
(($(nproc) >= 2)) || client_core=0

bench_scratch
h2o_bin=$(command -v h2o || true)
mapfile -t available < <(available_peers "${servers[@]}")

h2o_conf() {  # dir port
  mkdir -p "$1/www"
  printf 'Hello, World!' >"$1/www/index.txt"
  {
    # h2o refuses to run as root unless told which user to be.
    [[ $(id -u) == 0 ]] && echo "user: root"
    cat <<EOF
num-threads: 1
pid-file: $1/h2o.pid
error-log: $1/error.log
listen:
  host: 127.0.0.1
  port: $2
hosts:
  default:
    paths:
      /:
        file.dir: $1/www
        file.index: [index.txt]
EOF
  } >"$1/h2o.conf"
}

# Starts server $1 on port $2 (track_server: launch_pid, server_pid).
start_server() {
  local name=$1 port=$2 addr=127.0.0.1:$2
  case $name in
    ringo) taskset -c "$server_core" "$build/examples/hello_server" --listen "$addr" --threads 1 & ;;
    nginx)
      nginx_conf "$tmp/nginx" <<CONF
  server {
    listen $addr http2;
    default_type text/plain;
    location / { return 200 "Hello, World!"; }
  }
CONF
      start_nginx "$tmp/nginx" "$server_core" ;;
    h2o)
      h2o_conf "$tmp/h2o" "$port"
      taskset -c "$server_core" "$h2o_bin" -c "$tmp/h2o/h2o.conf" >"$tmp/h2o/out.log" 2>&1 & ;;
  esac
  track_server "$name" "$port"
}

hz=$(getconf CLK_TCK)

# h2load against port $1 for $2 seconds; prints "requests seconds failed cpu_ticks".
measure() {
  local port=$1 duration=$2 before after out
  before=$(cpu_ticks "$server_pid")
  out=$(taskset -c "$client_core" h2load -t1 -c"$conns" -m"$streams" -D"$duration" \
    "http://127.0.0.1:$port/")
  after=$(cpu_ticks "$server_pid")
  echo "$out" | awk -v cpu=$((after - before)) '
    /^finished in/ { t = $3; sub(/s,?$/, "", t); if ($3 ~ /ms,?$/) t = t / 1000 }
    /^requests:/ { n = $8; f = $10 + $12 }
    END { printf "%d %s %d %d\n", n, t, f, cpu }'
}

raw_tsv=$tmp/runs.tsv
: >"$raw_tsv"
say "servers: ${available[*]}; $rounds round(s), h2load -t1 -c$conns -m$streams -D$secs; server on" \
  "core $server_core, h2load on core $client_core"
for ((round = 1; round <= rounds; round++)); do
  for s in "${available[@]}"; do
    port=$(free_port)
    start_server "$s" "$port" || continue
    measure "$port" 1 >/dev/null  # warm-up
    read -r n t f cpu < <(measure "$port" "$secs")
    stop_server
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$round" "$n" "$t" "$f" "$cpu" >>"$raw_tsv"
    say "round $round $s: $n requests in ${t}s ($f failed), server cpu $cpu ticks"
  done
done

mkdir -p "$results"
versions="nginx $(nginx_version)"
versions+=", h2o $({ [[ -n $h2o_bin ]] && "$h2o_bin" --version 2>&1; } | awk 'NR==1 {print $3}' || true)"
versions+=", $(h2load --version 2>&1 | head -1)"
machine=$(machine_description)
"$py" - "$raw_tsv" "$hz" "$conns" "$streams" "$secs" "$rounds" "$machine" "$versions" \
  "$results/h2.json" <<'EOF' | tee "$results/h2.md"
import json, math, statistics, sys, time
path, hz, conns, streams, secs, rounds, machine, versions, json_path = sys.argv[1:]
hz = float(hz)
names = {"ringo": "ringo hello_server, 1 thread", "nginx": "nginx, 1 worker",
         "h2o": "h2o, 1 thread"}
runs = {}
for line in open(path):
    s, rnd, n, t, f, cpu = line.rstrip("\n").split("\t")
    n, t, f, cpu = int(n), float(t), int(f), int(cpu)
    runs.setdefault(s, []).append({
        "round": int(rnd), "rps": n / t if t else 0.0,
        "us": cpu / hz * 1e6 / n if n else float("nan"),
        "pct": 100 * cpu / hz / t if t else 0.0, "failed": f, "requests": n})

def median(vals):
    vals = [v for v in vals if not math.isnan(v)]
    return statistics.median(vals) if vals else float("nan")

med = {s: {k: median([r[k] for r in rs]) for k in ("rps", "us", "pct")} for s, rs in runs.items()}
order = [s for s in ("ringo", "nginx", "h2o") if s in med]
print(f"### HTTP/2 server benchmark ({rounds} round(s), medians)\n")
print(f"{machine}; server pinned to core 0, `h2load -t1 -c{conns} -m{streams} -D{secs}` "
      f"(cleartext, prior knowledge) pinned to core 1; {versions}.\n")
print("| server | req/s | server CPU µs/req | × h2o | CPU busy | rounds (µs/req) |")
print("|---|---:|---:|---:|---:|---|")
for s in order:
    m = med[s]
    ratio = ""
    if "h2o" in med and med["h2o"]["us"] and not math.isnan(m["us"]):
        ratio = f"{m['us'] / med['h2o']['us']:.2f}"
    each = ", ".join(f"{r['us']:.2f}" for r in runs[s])
    print(f"| {names[s]} | {m['rps']:,.0f} | {m['us']:.2f} | {ratio} | {m['pct']:.0f}% | {each} |")
failed = {s: sum(r["failed"] for r in rs) for s, rs in runs.items() if sum(r["failed"] for r in rs)}
if failed:
    print("\nh2load reported failed requests: " + ", ".join(f"{s} {n}" for s, n in failed.items()))
print("\nGoal (issue 14): ringo's CPU per HTTP/2 request ≤ h2o's.")

def clean(v):
    return None if isinstance(v, float) and math.isnan(v) else v

with open(json_path, "w") as f:
    json.dump({"benchmark": "bench/h2.sh", "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
               "machine": machine, "versions": versions, "rounds": int(rounds),
               "seconds": float(secs), "connections": int(conns), "streams": int(streams),
               "units": {"rps": "requests/s", "us": "server CPU µs/request", "pct": "% of a core"},
               "order": order,
               "servers": {s: {"name": names[s], "median": {k: clean(v) for k, v in med[s].items()},
                               "rounds": [{k: clean(v) for k, v in r.items()} for r in runs[s]]}
                           for s in order}}, f, indent=1, ensure_ascii=False)
    f.write("\n")
EOF
say "table written to $results/h2.md, figures to $results/h2.json"

# The client (issue 14): ringo's transport over HTTP/2 (bench/http_load --h2: h2c with prior
# knowledge, CONNS concurrent streams multiplexed on one connection) against h2load's own client
# doing the same (-t1 -c1 -mCONNS), in turn ROUNDS times against one hello_server on core 0, the
# client on core 1. Figure: the client's CPU per request (http_load's getrusage; h2load's user +
# system time from /usr/bin/time over the requests it counted).
[[ ${H2_BENCH_CLIENT:-1} == 1 ]] || exit 0
[[ -x /usr/bin/time ]] || { say "/usr/bin/time is missing: the client left out"; exit 0; }
if [[ ! -x $build/bench/http_load ]]; then
  meson compile -C "$build" http_load >&2 || { say "no http_load: the client left out"; exit 0; }
fi
client_streams=${H2_BENCH_CLIENT_STREAMS:-64}
port=$(free_port)
start_server ringo "$port" || exit 0
url=http://127.0.0.1:$port/
measure "$port" 1 >/dev/null  # warm-up
load_us= h2load_us=
for ((round = 1; round <= rounds; round++)); do
  us=$(taskset -c "$client_core" "$build/bench/http_load" "$url" --h2 -c "$client_streams" \
    -d "$secs" | awk '{ for (i = 1; i < NF; i++) if ($i == "cpu_us_per_req") print $(i + 1) }')
  load_us+="${us:-nan} "
  h2load_us+="$(tool_cpu_per_request '/^requests:/ { n = $8 }' taskset -c "$client_core" \
    h2load -t1 -c1 -m"$client_streams" -D"$secs" "$url") "
  say "client round $round: http_load --h2 ${load_us}µs, h2load ${h2load_us}µs"
done
stop_server
load_med=$(echo "$load_us" | median) h2load_med=$(echo "$h2load_us" | median)
echo
echo "client: http_load --h2 vs h2load: $(ratio "$load_med" "$h2load_med")× CPU/request (http_load $load_med µs, h2load" \
  "$h2load_med µs; one connection, $client_streams concurrent streams, medians of $rounds rounds of" \
  "$secs s; client on core $client_core)" | tee -a "$results/h2.md"
