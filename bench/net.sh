#!/usr/bin/env bash
# Dialer benchmarks (issue 3; method: design.md §6): dial+close per second to a loopback listener,
# ringo (bench/net_bench.cpp, one io_context dialing and accepting) against Go's net.Dial
# (bench/go/dialbench, GOMAXPROCS=1, dialing its own listener), interleaved in one run, with the
# ratio; then the time from a stop request to dial returning and the Happy Eyeballs fallback
# timer's accuracy, beside its floor (a plain clock_nanosleep between the dials). Each side holds
# its client and its listener in one process, so each runs pinned to the same core (core 1), one
# at a time.
#
#   bench/net.sh [BUILD_DIR]     default build/bench (bench/run's release build); prints a
#                                markdown table and appends it to bench/results/net.md
# Environment: NET_BENCH_SECONDS (2 per dial+close round), NET_BENCH_ROUNDS (5).
# Without go (tools/packages.txt has golang-go) the Go column stays empty; loopback only.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${1:-build/bench}
secs=${NET_BENCH_SECONDS:-2}
rounds=${NET_BENCH_ROUNDS:-5}
results=$root/bench/results
py=/usr/bin/python3
[[ -x $py ]] || py=python3

say() { echo "net.sh: $*" >&2; }

if [[ ! -x $build/bench/net_bench ]]; then
  say "building net_bench in $build"
  meson compile -C "$build" net_bench >&2
fi
core=1
(($(nproc) >= 2)) || core=0

source "$root/bench/lib.sh"
bench_scratch
go_bin=$(go_peer dialbench dialbench)
[[ -n $go_bin ]] || say "no Go: leaving it out"

say "$rounds round(s) of ${secs}s dial+close each, ringo then Go, pinned to core $core"
for ((round = 1; round <= rounds; round++)); do
  taskset -c "$core" "$build/bench/net_bench" --benchmark_filter='^ringo_dial_close' \
    --benchmark_min_time="$secs" --benchmark_format=json >"$tmp/ringo_$round.json"
  if [[ -n $go_bin ]]; then
    GOMAXPROCS=1 taskset -c "$core" "$go_bin" -seconds "$secs" >"$tmp/go_$round.json"
  fi
  say "round $round done"
done
say "stop → return and fallback accuracy (about 30 s)"
taskset -c "$core" "$build/bench/net_bench" --benchmark_filter='stop|fallback' \
  --benchmark_format=json >"$tmp/latency.json"

mkdir -p "$results"
machine="$(uname -sr), $(nproc) cores ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo))"
machine+=", load average $(cut -d' ' -f1-3 /proc/loadavg) before the latency runs"
go_version=$({ go version 2>/dev/null || true; } | awk '{print $3}')
"$py" - "$tmp" "$rounds" "$secs" "$core" "$machine" "${go_version:-no go}" <<'EOF' |
import glob, json, os, statistics, sys, time
tmp, rounds, secs, core, machine, go_version = sys.argv[1:]

def load(path):
    with open(path) as f:
        return json.load(f)

def benchmarks(path):
    return {b["name"]: b for b in load(path)["benchmarks"]}

ringo, go = [], []
for path in sorted(glob.glob(os.path.join(tmp, "ringo_*.json"))):
    b = benchmarks(path)["ringo_dial_close/real_time"]
    if b.get("error_occurred"):
        sys.exit(f"net.sh: ringo_dial_close failed: {b.get('error_message')}")
    ringo.append((b["items_per_second"], b["cpu_ns_per_dial"]))
for path in sorted(glob.glob(os.path.join(tmp, "go_*.json"))):
    for line in open(path):
        r = json.loads(line)
        go.append((r["dials_per_sec"], r["cpu_ns_per_dial"]))

def median(rows, i):
    return statistics.median(r[i] for r in rows) if rows else None

print(f"### Dialer benchmarks ({time.strftime('%Y-%m-%d %H:%M')}, `bench/net.sh`)\n")
print(f"{machine}; each side's client and listener in one process pinned to core {core}; "
      f"{go_version}.\n")
print(f"| dial+close to a loopback listener (median of {len(ringo)} × {secs} s) | ringo | "
      "Go net.Dial, GOMAXPROCS=1 | ringo ÷ Go |")
print("|---|---:|---:|---:|")
for label, i, fmt, scale in (("dials per second", 0, "{:,.0f}", 1),
                             ("process CPU per dial", 1, "{:.1f} µs", 1e-3)):
    r, g = median(ringo, i), median(go, i)
    gtext = fmt.format(g * scale) if g else "n/a"
    ratio = f"{r / g:.2f}" if g else "n/a"
    print(f"| {label} | {fmt.format(r * scale)} | {gtext} | {ratio} |")

latency = benchmarks(os.path.join(tmp, "latency.json"))
rows = (
    ("ringo_dial_stop/1/iterations:2000/manual_time", "stop_to_return",
     "stop request → dial returns: one blackholed address (dial_serial)", "p99 < 1 ms"),
    ("ringo_dial_stop/2/iterations:2000/manual_time", "stop_to_return",
     "stop request → dial returns: both families blackholed, both racers in flight", "p99 < 1 ms"),
    ("ringo_fallback_delay/10/iterations:1000/manual_time", "return",
     "fallback accuracy: \\|dial's elapsed − 10 ms\\| (IPv6 blackholed, IPv4 live)", "p99 < 2 ms"),
    ("ringo_fallback_delay/10/iterations:1000/manual_time", "timer",
     "fallback accuracy: \\|fallback connect start − 10 ms\\| (the timer alone)", ""),
    ("ringo_fallback_delay/10/iterations:1000/manual_time", "floor",
     "floor, between those dials: \\|clock_nanosleep(10 ms) elapsed − 10 ms\\|", ""),
)
print()
print("| latency | samples | p50 | p99 | max | goal |")
print("|---|---:|---:|---:|---:|---|")
for name, prefix, label, goal in rows:
    b = latency.get(name)
    if not b or b.get("error_occurred"):
        why = b.get("error_message", "") if b else "not run"
        print(f"| {label} | skipped: {why} | | | | {goal} |")
        continue
    p50, p99, mx = (b[f"{prefix}_{k}_us"] for k in ("p50", "p99", "max"))
    limit = {"p99 < 1 ms": 1000, "p99 < 2 ms": 2000}.get(goal)
    verdict = "" if limit is None else (" ✓" if p99 < limit else " ✗")
    us = lambda v: f"{v:,.0f} µs" if v >= 100 else f"{v:.1f} µs"
    print(f"| {label} | {b['iterations']} | {us(p50)} | {us(p99)} | {us(mx)} | {goal}{verdict} |")
print()
EOF
  tee -a "$results/net.md"
say "table appended to bench/results/net.md"
