#!/usr/bin/env bash
# User-space instructions per HTTP request, counted by callgrind: stable on a noisy machine, so two
# versions of a hot path compare by this figure (README "Benchmarks"; the wire-layer work kept it
# within 3%).
#   server: examples/hello_server under callgrind, a keep-alive client (bench/callgrind_client.py)
#           sending N requests over 8 connections;
#   client: bench/http_load -n N (ringo's Transport) under callgrind against raw_http_server;
#   h2:     examples/hello_server under callgrind, h2load -c4 -m10 -n N over HTTP/2 (prior
#           knowledge): nghttp2's instructions included (about 7,600 of ~13,500 a request).
#   proxy:  examples/reverse_proxy under callgrind in front of hello_server, the same client as
#           the server's sending N requests through it over 4 connections.
# Each runs with N1 and N2 requests; (Ir(N2) - Ir(N1)) / (N2 - N1) cancels start-up and exit.
#
#   bench/callgrind.sh [BUILD_DIR] [server|client|h2|proxy|both|all]   default build/bench,
#                                   both (h1 server and client); all adds the proxy
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${1:-build/bench}
what=${2:-both}
n1=${CALLGRIND_N1:-2000}
n2=${CALLGRIND_N2:-12000}
py=/usr/bin/python3
say() { echo "callgrind.sh: $*" >&2; }
source "$root/bench/lib.sh"
bench_scratch

wait_port() {  # port: until it accepts, at most 30 s (valgrind starts slowly)
  local i
  for i in $(seq 1 300); do
    "$py" -c "import socket; socket.create_connection(('127.0.0.1',$1),timeout=1).close()" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
total_ir() { grep -E '^(summary|totals):' "$1" | head -1 | awk '{print $2}'; }

server_ir() {  # N -> total instructions of hello_server serving N requests
  local n=$1 port out
  port=$(free_port)
  out=$tmp/server.$n
  valgrind --tool=callgrind --callgrind-out-file="$out" "$build/examples/hello_server" \
    --listen "127.0.0.1:$port" >/dev/null 2>&1 &
  local pid=$!
  launched+=("$pid")
  wait_port "$port"
  "$py" bench/callgrind_client.py 127.0.0.1 "$port" "$n" 4
  kill -INT "$pid"
  wait "$pid" || true
  total_ir "$out"
}

client_ir() {  # N -> total instructions of http_load making N requests
  local n=$1 port out
  port=$(free_port)
  "$build/bench/raw_http_server" --listen "127.0.0.1:$port" >/dev/null 2>&1 &
  local spid=$!
  launched+=("$spid")
  wait_port "$port"
  out=$tmp/client.$n
  valgrind --tool=callgrind --callgrind-out-file="$out" "$build/bench/http_load" \
    "http://127.0.0.1:$port/" -c 8 -n "$n" >/dev/null 2>&1
  kill "$spid"
  wait "$spid" 2>/dev/null || true
  total_ir "$out"
}

h2_server_ir() {  # N -> total instructions of hello_server serving N HTTP/2 requests
  local n=$1 port out
  port=$(free_port)
  out=$tmp/h2.$n
  valgrind --tool=callgrind --callgrind-out-file="$out" "$build/examples/hello_server" \
    --listen "127.0.0.1:$port" >/dev/null 2>&1 &
  local pid=$!
  launched+=("$pid")
  wait_port "$port"
  h2load -n"$n" -c4 -m10 "http://127.0.0.1:$port/" >/dev/null
  kill -INT "$pid"
  wait "$pid" || true
  total_ir "$out"
}

proxy_ir() {  # N -> total instructions of reverse_proxy passing N requests to hello_server
  local n=$1 up port out
  up=$(free_port)
  "$build/examples/hello_server" --listen "127.0.0.1:$up" >/dev/null 2>&1 &
  local upid=$!
  launched+=("$upid")
  wait_port "$up"
  port=$(free_port)
  out=$tmp/proxy.$n
  valgrind --tool=callgrind --callgrind-out-file="$out" "$build/examples/reverse_proxy" \
    --listen "127.0.0.1:$port" "http://127.0.0.1:$up/" >/dev/null 2>&1 &
  local pid=$!
  launched+=("$pid")
  wait_port "$port"
  "$py" bench/callgrind_client.py 127.0.0.1 "$port" "$n" 4
  kill -INT "$pid"
  wait "$pid" || true
  kill "$upid"
  wait "$upid" 2>/dev/null || true
  total_ir "$out"
}

per_request() {  # FUNCTION -> instructions per request
  local a b
  a=$($1 "$n1")
  b=$($1 "$n2")
  echo $(((b - a) / (n2 - n1)))
}

if [[ $what == server || $what == both || $what == all ]]; then
  echo "callgrind: hello_server: $(per_request server_ir) instructions per keep-alive request"
fi
if [[ $what == h2 ]]; then
  echo "callgrind: hello_server: $(per_request h2_server_ir) instructions per HTTP/2 request"
fi
if [[ $what == client || $what == both || $what == all ]]; then
  echo "callgrind: http_load: $(per_request client_ir) instructions per round trip"
fi
if [[ $what == proxy || $what == all ]]; then
  echo "callgrind: reverse_proxy: $(per_request proxy_ir) instructions per proxied request"
fi
