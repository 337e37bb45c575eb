#!/usr/bin/env bash
# Reverse-proxy load benchmark (issue 16): examples/reverse_proxy against nginx (proxy_pass to a
# keep-alive upstream, 1 worker) and Go's httputil.ReverseProxy (GOMAXPROCS=1, 256 idle
# connections per host), each in front of one hello_server. The proxy is pinned to core 0;
# hello_server and `wrk -t1 -cCONNS` share core 1. For each proxy: requests/s and the proxy's
# CPU µs per proxied request (utime+stime from /proc/PID/stat over the wrk run, divided by the
# requests wrk counted). ringo runs twice: with its default pool (following demand) and with
# the bound pinned to Go's default of 2 idle connections per host, which re-dials for most
# requests at 32 connections. Proxies run in turn, ROUNDS times interleaved; the table shows the
# medians and the ratio to nginx. Missing peers (nginx, go) are left out; without wrk nothing
# runs.
#
#   bench/proxy.sh [BUILD_DIR]    default build/bench (bench/run's release build); prints the table
#                                 and writes bench/results/proxy.md and proxy.json
# Environment: PROXY_BENCH_SECONDS (5 per wrk run), PROXY_BENCH_ROUNDS (3), PROXY_BENCH_CONNS
# (32), PROXY_BENCH_PROXIES ("ringo ringo-pinned nginx go"), PROXY_BENCH_RESULTS (bench/results).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${1:-build/bench}
secs=${PROXY_BENCH_SECONDS:-5}
rounds=${PROXY_BENCH_ROUNDS:-3}
conns=${PROXY_BENCH_CONNS:-32}
proxies=(${PROXY_BENCH_PROXIES:-ringo ringo-pinned nginx go})
results=${PROXY_BENCH_RESULTS:-$root/bench/results}
py=/usr/bin/python3
[[ -x $py ]] || py=python3

say() { echo "proxy.sh: $*" >&2; }
source "$root/bench/lib.sh"

if ! command -v wrk >/dev/null; then
  say "wrk is not installed (tools/packages.txt): skipping the proxy benchmark"
  exit 0
fi
if [[ ! -x $build/examples/reverse_proxy || ! -x $build/examples/hello_server ]]; then
  say "building reverse_proxy and hello_server in $build"
  meson compile -C "$build" reverse_proxy hello_server >&2
fi

proxy_core=0 load_core=1
(($(nproc) >= 2)) || load_core=0

bench_scratch
go_bin=
[[ " ${proxies[*]} " == *" go "* ]] && go_bin=$(go_peer proxy go_proxy)
mapfile -t available < <(available_peers "${proxies[@]}")

# Starts proxy $1 on port $2 in front of port $3 (track_server: launch_pid, and server_pid, the
# process measured). nginx as a reverse proxy the way it is deployed: HTTP/1.1 to a keep-alive
# upstream pool, and the forwarding fields ringo and Go set too.
start_proxy() {
  local name=$1 port=$2 up=$3 addr=127.0.0.1:$2
  case $name in
    # (Their logs go to files: wrk's connections, cut at its end, make Go log "proxy error".)
    ringo)
      taskset -c "$proxy_core" "$build/examples/reverse_proxy" --listen "$addr" \
        "http://127.0.0.1:$up/" 2>>"$tmp/ringo.log" & ;;
    ringo-pinned)
      taskset -c "$proxy_core" "$build/examples/reverse_proxy" --listen "$addr" \
        --max-idle-conns-per-host 2 "http://127.0.0.1:$up/" 2>>"$tmp/ringo-pinned.log" & ;;
    nginx)
      nginx_conf "$tmp/nginx" <<CONF
  upstream hello {
    server 127.0.0.1:$up;
    keepalive 256;
    keepalive_requests 1000000000;
  }
  server {
    listen $addr;
    location / {
      proxy_pass http://hello;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Host \$host;
      proxy_set_header X-Forwarded-Proto \$scheme;
    }
  }
CONF
      start_nginx "$tmp/nginx" "$proxy_core" 2>>"$tmp/nginx.log" ;;
    go)
      GOMAXPROCS=1 taskset -c "$proxy_core" "$go_bin" --listen "$addr" "http://127.0.0.1:$up/" \
        2>>"$tmp/go.log" & ;;
  esac
  track_server "$name" "$port"
}

hz=$(getconf CLK_TCK)

# wrk through port $1; prints "requests seconds errors cpu_ticks p50 p75 p90 p99" (latency in µs).
measure() {
  local port=$1 before after out
  before=$(cpu_ticks "$server_pid")
  out=$(taskset -c "$load_core" wrk -t1 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port/")
  after=$(cpu_ticks "$server_pid")
  echo "$out" | wrk_figures $((after - before))
}

# One upstream for the whole run, beside the load generator.
up_port=$(free_port)
taskset -c "$load_core" "$build/examples/hello_server" --listen "127.0.0.1:$up_port" --threads 1 &
launched+=("$!")
wait_ready "$up_port" || { say "hello_server did not start"; exit 1; }

raw_tsv=$tmp/runs.tsv
: >"$raw_tsv"
say "proxies: ${available[*]}; $rounds round(s), ${secs}s per wrk run, $conns connections;" \
  "proxy on core $proxy_core, hello_server and wrk on core $load_core"
for ((round = 1; round <= rounds; round++)); do
  for p in "${available[@]}"; do
    port=$(free_port)
    start_proxy "$p" "$port" "$up_port" || continue
    taskset -c "$load_core" wrk -t1 -c"$conns" -d1s "http://127.0.0.1:$port/" >/dev/null  # warm-up
    read -r n t e cpu p50 _ _ p99 < <(measure "$port")
    stop_server
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$p" "$round" "$n" "$t" "$e" "$cpu" "$p50" "$p99" \
      >>"$raw_tsv"
    say "round $round $p: $n requests in ${t}s (cpu $cpu ticks, $e errors, p50 $p50 µs, p99 $p99 µs)"
  done
done

mkdir -p "$results"
versions="nginx $(nginx_version), $(go_version), wrk $(wrk_version)"
machine=$(machine_description)
"$py" - "$raw_tsv" "$hz" "$conns" "$secs" "$rounds" "$machine" "$versions" "$proxy_core" \
  "$load_core" "$results/proxy.json" <<'EOF' | tee "$results/proxy.md"
import json, math, statistics, sys, time
path, hz, conns, secs, rounds, machine, versions, pcore, lcore, json_path = sys.argv[1:]
hz = float(hz)
names = {"ringo": "ringo `reverse_proxy` (pool follows demand)",
         "ringo-pinned": "ringo `reverse_proxy --max-idle-conns-per-host 2` (Go's default)",
         "nginx": "nginx `proxy_pass`, keep-alive upstream, 1 worker",
         "go": "Go `httputil.ReverseProxy`, GOMAXPROCS=1, 256 idle per host"}
nan = float("nan")

def num(v):
    try:
        return float(v)
    except ValueError:
        return nan

runs = {}
for line in open(path):
    p, rnd, n, t, e, cpu, p50, p99 = line.rstrip("\n").split("\t")
    n, t = int(n), float(t)
    runs.setdefault(p, []).append({
        "round": int(rnd), "rps": n / t if t else 0,
        "us": int(cpu) / hz * 1e6 / n if n else nan,
        "pct": 100 * int(cpu) / hz / t if t else 0,
        "err": int(e), "p50": num(p50), "p99": num(p99)})

def median(vals):
    vals = [v for v in vals if not math.isnan(v)]
    return statistics.median(vals) if vals else nan

keys = ("rps", "us", "pct", "err", "p50", "p99")
med = {p: {k: median([r[k] for r in rs]) for k in keys} for p, rs in runs.items()}
order = [p for p in ("ringo", "ringo-pinned", "nginx", "go") if p in med]

def ratio(p, key):
    if "nginx" not in med or p == "nginx":
        return "—" if p == "nginx" else ""
    b, v = med["nginx"][key], med[p][key]
    return f"{v / b:.2f}×" if b and not math.isnan(b) and not math.isnan(v) else ""

def us(v):  # a latency
    if math.isnan(v):
        return "n/a"
    return f"{v / 1000:.2f} ms" if v >= 1000 else f"{v:.0f} µs"

def span(p, key):
    vals = [r[key] for r in runs[p] if not math.isnan(r[key])]
    return f"{min(vals):.1f}–{max(vals):.1f}" if vals else "n/a"

print(f"### Reverse proxy ({rounds} round(s), medians)\n")
print(f"{machine}; proxy pinned to core {pcore}; hello_server (1 thread) and wrk -t1 -c{conns} "
      f"pinned to core {lcore}, {secs} s per run; {versions}.\n")
print("| proxy | req/s | proxy CPU µs/req | range over rounds | × nginx | p50 | p99 |")
print("|---|---:|---:|---:|---:|---:|---:|")
for p in order:
    m = med[p]
    print(f"| {names[p]} | {m['rps']:,.0f} | {m['us']:.2f} | {span(p, 'us')} | "
          f"{ratio(p, 'us')} | {us(m['p50'])} | {us(m['p99'])} |")
print()
print("Proxy CPU busy during the runs (100% = its core saturated): " +
      ", ".join(f"{p} {med[p]['pct']:.0f}%" for p in order) + ".")
errs = {p: sum(r["err"] for r in rs) for p, rs in runs.items() if sum(r["err"] for r in rs)}
if errs:
    print("wrk reported errors (non-2xx or socket errors): " +
          ", ".join(f"{p} {n}" for p, n in errs.items()) + ".")
print("Goal (issue 16): ringo's CPU per proxied request ≤ nginx's.")

def clean(v):
    return None if isinstance(v, float) and math.isnan(v) else v

with open(json_path, "w") as f:
    json.dump({
        "benchmark": "bench/proxy.sh", "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine, "versions": versions, "rounds": int(rounds), "seconds": float(secs),
        "connections": int(conns), "proxy_core": int(pcore), "load_core": int(lcore),
        "units": {"rps": "requests/s", "us": "proxy CPU µs/request", "pct": "% of a core",
                  "err": "wrk errors", "p50": "µs", "p99": "µs"},
        "order": order,
        "proxies": {p: {"name": names[p], "median": {k: clean(v) for k, v in med[p].items()},
                        "rounds": [{k: clean(v) for k, v in r.items()} for r in runs[p]]}
                    for p in order},
    }, f, indent=1, ensure_ascii=False)
    f.write("\n")
EOF
say "table written to $results/proxy.md, figures to $results/proxy.json"
