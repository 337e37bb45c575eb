#!/usr/bin/env bash
# HTTPS load benchmarks (issue 12): hello_server --tls-cert (1 thread) against nginx (1 worker,
# `listen ... ssl`, `return 200`) and Go's net/http ListenAndServeTLS (GOMAXPROCS=1), all serving
# "Hello, World!" on 127.0.0.1 with the same ECDSA P-256 certificate (made here with the openssl
# CLI), the server pinned to core 0 and wrk to core 1.
#
# For each server, three loads: keep-alive (wrk -t1 -c64: the record layer's cost per request); a
# new TLS connection per request (wrk -t1 -c16 -H 'Connection: close'), which wrk resumes with the
# ticket of its previous connection (it keeps the session across SSL_clear: a TLS 1.3 PSK
# handshake with X25519, no certificate, no signature); and the same with the server issuing no
# tickets (ringo --tls-tickets off, nginx ssl_session_tickets off, Go SessionTicketsDisabled), so
# each is a full handshake. Figures: requests/s and server CPU µs per request (utime+stime from
# /proc/PID/stat over the run, divided by the requests wrk counted). Servers run in turn, ROUNDS
# times interleaved; the table shows medians and ratios to nginx.
#
# Then the client: bench/http_load https://... --cacert (ringo's transport, one thread) and
# wrk -t1, each -c64 keep-alive, in turn ROUNDS times against one hello_server --tls-cert, the
# client on core 1 and the server on core 0. Figure: the client's CPU per request (http_load's own
# getrusage; wrk's user + system time from /usr/bin/time over the requests it counted), printed
# as "client: http_load https vs wrk: X.XX× CPU/request" with both medians.
#
#   bench/https.sh [BUILD_DIR]    default build/bench; prints a markdown table
# Environment: HTTPS_BENCH_SECONDS (5 per wrk run), HTTPS_BENCH_ROUNDS (3),
# HTTPS_BENCH_SERVERS ("ringo nginx go"), HTTPS_BENCH_CLIENT (1; 0 leaves the client out).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${1:-build/bench}
secs=${HTTPS_BENCH_SECONDS:-5}
rounds=${HTTPS_BENCH_ROUNDS:-3}
servers=(${HTTPS_BENCH_SERVERS:-ringo nginx go})
py=/usr/bin/python3
[[ -x $py ]] || py=python3

say() { echo "https.sh: $*" >&2; }
source "$root/bench/lib.sh"

for tool in wrk openssl; do
  command -v "$tool" >/dev/null || { say "$tool is not installed: skipping"; exit 0; }
done
for target in examples/hello_server bench/http_load; do
  if [[ ! -x $build/$target ]]; then
    say "building ${target#*/} in $build"
    meson compile -C "$build" "${target#*/}" >&2
  fi
done

server_core=0 client_core=1
(($(nproc) >= 2)) || client_core=0

bench_scratch

# One ECDSA P-256 certificate for all: self-signed, for 127.0.0.1 (wrk verifies nothing).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/key.pem" \
  -out "$tmp/cert.pem" -days 2 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null

go_bin=
[[ " ${servers[*]} " == *" go "* ]] && go_bin=$(go_peer hello go_hello)
mapfile -t available < <(available_peers "${servers[@]}")

# Starts server $1 on port $2 (track_server: launch_pid, server_pid), tickets on unless $tickets
# is off. nginx with the settings a TLS deployment would use (it keeps no session cache by
# default: without tickets nothing resumes).
start_server() {
  local name=$1 port=$2 addr=127.0.0.1:$2
  local tls=(--tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem")
  local go_tls=(-tls-cert "$tmp/cert.pem" -tls-key "$tmp/key.pem")
  [[ $tickets == on ]] || go_tls+=(-tls-no-tickets)
  case $name in
    ringo) taskset -c "$server_core" "$build/examples/hello_server" --listen "$addr" \
             --threads 1 "${tls[@]}" --tls-tickets "$tickets" 2>/dev/null & ;;
    nginx)
      nginx_conf "$tmp/nginx" <<CONF
  server {
    listen $addr ssl;
    ssl_certificate $tmp/cert.pem;
    ssl_certificate_key $tmp/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets $tickets;
    default_type text/plain;
    location / { return 200 "Hello, World!"; }
  }
CONF
      start_nginx "$tmp/nginx" "$server_core" ;;
    go) GOMAXPROCS=1 taskset -c "$server_core" "$go_bin" --listen "$addr" "${go_tls[@]}" \
          2>/dev/null & ;;
  esac
  track_server "$name" "$port"
}

hz=$(getconf CLK_TCK)

# wrk against port $1 with $2 connections, extra arguments after; prints "rps us_per_request".
measure() {
  local port=$1 conns=$2
  shift 2
  local before after out
  before=$(cpu_ticks "$server_pid")
  out=$(taskset -c "$client_core" wrk -t1 -c"$conns" -d"${secs}s" "https://127.0.0.1:$port/" "$@")
  after=$(cpu_ticks "$server_pid")
  echo "$out" | awk -v cpu=$((after - before)) -v hz="$hz" -v secs="$secs" '
    / requests in / { n = $1 }
    END { if (n > 0) printf "%.0f %.2f\n", n / secs, cpu / hz * 1e6 / n; else print "0 nan" }'
}

declare -A ka_rps ka_us new_rps new_us full_rps full_us
tickets=on
for ((round = 1; round <= rounds; round++)); do
  for s in "${available[@]}"; do
    port=$(free_port)
    tickets=on
    start_server "$s" "$port" || continue
    taskset -c "$client_core" wrk -t1 -c16 -d1s "https://127.0.0.1:$port/" >/dev/null  # warm-up
    read -r rps us < <(measure "$port" 64)
    ka_rps[$s]+="$rps " ka_us[$s]+="$us "
    read -r rps us < <(measure "$port" 16 -H "Connection: close")
    new_rps[$s]+="$rps " new_us[$s]+="$us "
    stop_server
    tickets=off
    start_server "$s" "$port" || continue
    read -r rps us < <(measure "$port" 16 -H "Connection: close")
    full_rps[$s]+="$rps " full_us[$s]+="$us "
    stop_server
    say "round $round $s: keep-alive ${ka_us[$s]}µs, new connection (resumed) ${new_us[$s]}µs," \
      "full handshake ${full_us[$s]}µs"
  done
done
tickets=on

echo "| server | keep-alive req/s | CPU µs/req | ×nginx | new conn, resumed req/s | CPU µs/req |" \
  "×nginx | new conn, full handshake req/s | CPU µs/req | ×nginx |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
nginx_ka=$(echo "${ka_us[nginx]:-}" | median)
nginx_new=$(echo "${new_us[nginx]:-}" | median)
nginx_full=$(echo "${full_us[nginx]:-}" | median)
for s in "${available[@]}"; do
  [[ -n ${full_us[$s]:-} ]] || continue
  kr=$(echo "${ka_rps[$s]}" | median) ku=$(echo "${ka_us[$s]}" | median)
  nr=$(echo "${new_rps[$s]}" | median) nu=$(echo "${new_us[$s]}" | median)
  fr=$(echo "${full_rps[$s]}" | median) fu=$(echo "${full_us[$s]}" | median)
  echo "| $s | $kr | $ku | $(ratio "$ku" "$nginx_ka") | $nr | $nu | $(ratio "$nu" "$nginx_new") |" \
    "$fr | $fu | $(ratio "$fu" "$nginx_full") |"
done
echo
echo "ECDSA P-256, TLS 1.3 (wrk's OpenSSL), ${secs} s per run, medians of $rounds rounds; server on"
echo "core $server_core, wrk on core $client_core. Goals (issue 12): keep-alive ≤ 1.1× nginx's CPU per"
echo "request; per new connection ≤ nginx's. New connections: wrk resumes its last session where"
echo "the server issued a ticket; with tickets off every one is a full handshake."

# The client against wrk, over the same TLS 1.3 keep-alive load.
[[ ${HTTPS_BENCH_CLIENT:-1} == 1 ]] || exit 0
[[ -x /usr/bin/time ]] || { say "/usr/bin/time is missing: the client left out"; exit 0; }
port=$(free_port)
start_server ringo "$port" || exit 0
url=https://127.0.0.1:$port/
taskset -c "$client_core" wrk -t1 -c16 -d1s "$url" >/dev/null  # warm-up
load_us= wrk_us=
for ((round = 1; round <= rounds; round++)); do
  us=$(taskset -c "$client_core" "$build/bench/http_load" "$url" -c 64 -d "$secs" \
    --cacert "$tmp/cert.pem" | awk '{ for (i = 1; i < NF; i++) if ($i == "cpu_us_per_req") print $(i + 1) }')
  load_us+="$us "
  wrk_us+="$(tool_cpu_per_request '/ requests in / { n = $1 }' taskset -c "$client_core" \
    wrk -t1 -c64 -d"${secs}s" "$url") "
  say "client round $round: http_load ${load_us}µs, wrk ${wrk_us}µs"
done
stop_server
load_med=$(echo "$load_us" | median) wrk_med=$(echo "$wrk_us" | median)
echo
echo "client: http_load https vs wrk: $(ratio "$load_med" "$wrk_med")× CPU/request (http_load $load_med µs, wrk $wrk_med µs;"
echo "-c64 keep-alive, TLS 1.3, medians of $rounds rounds of ${secs} s; client on core $client_core)"
