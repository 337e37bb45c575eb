#!/usr/bin/env bash
# Where a server's CPU per request goes (issue 13's stage-by-stage figures): user and kernel time
# (utime and stime from /proc/PID/stat), system calls and context switches per request (perf stat
# on the server's process), under wrk -t1 -c64 keep-alive and then pipelined x16
# (bench/pipeline.lua), for the raw io_uring loop and hello_server with and without its multishot
# recv. The server is pinned to core 0 and wrk to core 1, 5 s a run, servers in turn.
#
#   bench/cpu_split.sh [BUILD_DIR] [SERVER...]   default build/bench; servers raw ringo ringo_plain
# Environment: CPU_SPLIT_SECONDS (5). Needs perf (linux-perf) for the syscall and context-switch
# columns; without it they are left empty. Loopback only.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${1:-build/bench}
(($#)) && shift
servers=(raw ringo ringo_plain)
(($#)) && servers=("$@")
secs=${CPU_SPLIT_SECONDS:-5}
py=/usr/bin/python3
say() { echo "cpu_split.sh: $*" >&2; }
source "$root/bench/lib.sh"
hz=$(getconf CLK_TCK)
perf_bin=$(command -v perf || true)
bench_scratch

# One run against $port with wrk's extra arguments; prints a table row.
measure() {
  local name=$1 load=$2
  shift 2
  local stat0 stat1 out n perf_pid=
  if [[ -n $perf_bin ]]; then
    "$perf_bin" stat -x, -e raw_syscalls:sys_enter,context-switches -p "$server_pid" \
      -o "$tmp/perf" -- sleep "$secs" 2>/dev/null &
    perf_pid=$!
  fi
  stat0=$(awk '{ sub(/.*\) /, ""); print $12, $13 }' "/proc/$server_pid/stat")
  out=$(taskset -c 1 wrk -t1 -c64 -d"${secs}s" "http://127.0.0.1:$port/" "$@")
  stat1=$(awk '{ sub(/.*\) /, ""); print $12, $13 }' "/proc/$server_pid/stat")
  [[ -n $perf_pid ]] && wait "$perf_pid"
  n=$(echo "$out" | awk '/ requests in / { print $1 }')
  "$py" - "$name" "$load" "$n" "$stat0" "$stat1" "$hz" "$tmp/perf" <<'EOF'
import os, sys
name, load, n, s0, s1, hz, perf = sys.argv[1:]
n, hz = int(n), int(hz)
(u0, k0), (u1, k1) = map(int, s0.split()), map(int, s1.split())
counts = {}
if os.path.exists(perf):
    for line in open(perf):
        f = line.strip().split(",")
        if len(f) > 2 and f[0].replace(".", "").isdigit():
            counts[f[2]] = float(f[0])
us = lambda t: (t) / hz * 1e6 / n
per = lambda k: f"{counts[k] / n:.3f}" if k in counts else ""
print(f"| {name} | {load} | {n / float(os.environ.get('SECS', 1)):,.0f} | {us(u1 - u0):.2f} | "
      f"{us(k1 - k0):.2f} | {us(u1 - u0 + k1 - k0):.2f} | {per('raw_syscalls:sys_enter')} | "
      f"{per('context-switches')} |")
EOF
}

echo "| server | load | req/s | user µs/req | kernel µs/req | total | syscalls/req | context switches/req |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
export SECS=$secs
for s in "${servers[@]}"; do
  port=$(free_port)
  case $s in
    raw) taskset -c 0 "$build/bench/raw_http_server" --listen "127.0.0.1:$port" & ;;
    ringo) taskset -c 0 "$build/examples/hello_server" --listen "127.0.0.1:$port" & ;;
    ringo_plain)
      taskset -c 0 "$build/examples/hello_server" --listen "127.0.0.1:$port" --recv plain & ;;
    *) say "unknown server $s"; continue ;;
  esac
  track_server "$s" "$port" || continue
  taskset -c 1 wrk -t1 -c64 -d1s "http://127.0.0.1:$port/" >/dev/null  # warm-up
  measure "$s" keep-alive
  measure "$s" "pipelined x16" -s bench/pipeline.lua -- 16
  stop_server
done
