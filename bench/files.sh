#!/usr/bin/env bash
# File serving benchmark (README, "Serving files"): examples/file_server (1 thread) against nginx
# (1 worker, `sendfile on`, access_log off), each serving the same directory on 127.0.0.1, the
# server pinned to core 0 and `wrk -t1` to core 1. For a 4 KiB and a 1 MiB file: requests/s,
# bytes/s, server CPU µs per request (utime + stime from /proc/PID/stat over the wrk run, all
# threads: the kernel's splice workers count for ringo) and machine CPU µs per request (the busy
# time of both cores from /proc/stat: server, wrk, and the kernel's softirq work wherever it ran;
# on loopback the sender's TCP work is often done by the receiver's core as it processes ACKs,
# which moves cost between the two columns from run to run). Servers alternate,
# FILES_BENCH_ROUNDS times; the table shows medians and ringo's figures as ratios to nginx's.
#
#   bench/files.sh [BUILD_DIR]   default build/bench; writes bench/results/files.md
# Environment: FILES_BENCH_SECONDS (5), FILES_BENCH_ROUNDS (5), FILES_BENCH_CONNS (16),
# FILES_BENCH_RESULTS (bench/results).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${1:-build/bench}
secs=${FILES_BENCH_SECONDS:-5}
rounds=${FILES_BENCH_ROUNDS:-5}
conns=${FILES_BENCH_CONNS:-16}
results=${FILES_BENCH_RESULTS:-$root/bench/results}
py=/usr/bin/python3
say() { echo "files.sh: $*" >&2; }
source "$root/bench/lib.sh"

command -v wrk >/dev/null || { say "wrk is not installed: skipped"; exit 0; }
[[ -x $build/examples/file_server ]] || meson compile -C "$build" file_server >&2

server_core=0 client_core=1
(($(nproc) >= 2)) || client_core=0
bench_scratch

mkdir -p "$tmp/www"
chmod 755 "$tmp" "$tmp/www"  # nginx's worker runs as nobody
head -c 4096 /dev/urandom >"$tmp/www/4k.bin"
head -c $((1 << 20)) /dev/urandom >"$tmp/www/1m.bin"
chmod 644 "$tmp/www/"*

hz=$(getconf CLK_TCK)

start_server() {  # name port (track_server: launch_pid, server_pid)
  local name=$1 port=$2
  case $name in
    ringo) taskset -c "$server_core" "$build/examples/file_server" --listen "127.0.0.1:$port" "$tmp/www" & ;;
    nginx)
      nginx_conf "$tmp/nginx" <<CONF
  sendfile on;
  default_type application/octet-stream;
  server { listen 127.0.0.1:$port; root $tmp/www; }
CONF
      start_nginx "$tmp/nginx" "$server_core" ;;
  esac
  track_server "$name" "$port"
}

measure() {  # port path: "requests seconds bytes_per_s cpu_ticks machine_ticks"
  local before after out machine_before machine_after
  before=$(cpu_ticks "$server_pid")
  machine_before=$(machine_ticks)
  out=$(taskset -c "$client_core" wrk -t1 -c"$conns" -d"${secs}s" "http://127.0.0.1:$1$2")
  after=$(cpu_ticks "$server_pid")
  machine_after=$(machine_ticks)
  echo "$out" | awk -v cpu=$((after - before)) -v machine=$((machine_after - machine_before)) '
    function bytes(v) {
      if (v ~ /GB$/) return v * 2^30
      if (v ~ /MB$/) return v * 2^20
      if (v ~ /KB$/) return v * 2^10
      return v + 0
    }
    / requests in / { n = $1; t = $4; sub(/s,?$/, "", t) }
    /^Transfer\/sec/ { b = bytes($2) }
    END { printf "%d %s %.0f %d %d\n", n, t, b, cpu, machine }'
}

servers=(ringo)
[[ -n $nginx_bin ]] && servers+=(nginx) || say "nginx is not installed: ringo alone"
declare -A rps cpu bps machine
for ((round = 1; round <= rounds; round++)); do
  for s in "${servers[@]}"; do
    port=$(free_port)
    start_server "$s" "$port" || continue
    for f in 4k 1m; do
      taskset -c "$client_core" wrk -t1 -c"$conns" -d1s "http://127.0.0.1:$port/$f.bin" >/dev/null
      read -r n t b ticks mticks < <(measure "$port" "/$f.bin")
      rps[$s.$f]+="$(awk -v n="$n" -v t="$t" 'BEGIN { printf "%.0f", n / t }') "
      cpu[$s.$f]+="$(awk -v c="$ticks" -v n="$n" -v hz="$hz" 'BEGIN { printf "%.2f", c / hz / n * 1e6 }') "
      machine[$s.$f]+="$(awk -v c="$mticks" -v n="$n" -v hz="$hz" 'BEGIN { printf "%.2f", c / hz / n * 1e6 }') "
      bps[$s.$f]+="$b "
      say "round $round $s $f: $n requests in ${t}s, $ticks ticks (machine $mticks)"
    done
    stop_server
  done
done

mkdir -p "$results"
{
  echo "| file | server | requests/s | MB/s | server CPU µs/request | × nginx | machine CPU µs/request | × nginx |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  for f in 4k 1m; do
    base=$(echo "${cpu[nginx.$f]:-}" | median)
    machine_base=$(echo "${machine[nginx.$f]:-}" | median)
    for s in "${servers[@]}"; do
      c=$(echo "${cpu[$s.$f]}" | median)
      m=$(echo "${machine[$s.$f]}" | median)
      ratio=$([[ -n $base ]] && ratio "$c" "$base" || echo "")
      machine_ratio=$([[ -n $machine_base ]] && ratio "$m" "$machine_base" || echo "")
      mb=$(echo "${bps[$s.$f]}" | median | awk '{ printf "%.0f", $1 / 2^20 }')
      name=$([[ $s == ringo ]] && echo "ringo file_server" || echo "nginx 1 worker, sendfile")
      echo "| $([[ $f == 4k ]] && echo "4 KiB" || echo "1 MiB") | $name | $(echo "${rps[$s.$f]}" | median) | $mb | $c | $ratio | $m | $machine_ratio |"
    done
  done
} | tee "$results/files.md"
