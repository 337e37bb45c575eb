# Helpers the load benchmarks share (sourced by bench/http.sh, h2.sh, https.sh, proxy.sh, files.sh,
# cpu_split.sh). Each script defines say() before sourcing this. Loopback only.

free_port() {  # a port nobody listens on now
  "${py:-/usr/bin/python3}" -c \
    'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_ready() {  # port: until 127.0.0.1:port accepts, at most 5 s
  local i
  for ((i = 0; i < 100; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}

cpu_ticks() {  # utime + stime of $1 (all threads), in clock ticks; fields after "(comm) "
  sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

machine_ticks() {  # busy time of every CPU (user, nice, system, irq, softirq), in clock ticks
  awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat
}

median() {  # of the numbers on stdin (space or newline separated)
  tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

ratio() {  # a b: a / b to two places; "-" when b is not positive
  awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}

# A load tool's own CPU µs per request: runs the command after $1 under /usr/bin/time (which
# writes "cpu user system" on stderr after the tool's report); $1 is an awk pattern-action that
# sets n to the requests the report counts.
tool_cpu_per_request() {
  local count=$1 out
  shift
  out=$(/usr/bin/time -f 'cpu %U %S' "$@" 2>&1)
  echo "$out" | awk "$count"' /^cpu / { t = $2 + $3 }
    END { if (n > 0) printf "%.2f", t * 1e6 / n; else print "nan" }'
}

# --- Scratch space and the processes a benchmark starts ---------------------------------------

# Sets tmp (a fresh directory) and launched (PIDs to kill): both go on exit. A script that sets
# its own EXIT trap afterwards calls bench_cleanup from it.
bench_scratch() {
  tmp=$(mktemp -d)
  launched=()
  trap bench_cleanup EXIT
}
bench_cleanup() {
  local pid
  for pid in "${launched[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}

# Builds the Go program in bench/go/$1 offline (standard library only) as $tmp/$2: prints its
# path, or nothing (and says why) when Go is missing or the build fails.
go_peer() {
  command -v go >/dev/null || return 0
  if (cd "bench/go/$1" && GOFLAGS=-mod=mod GOPROXY=off GOENV=off GOCACHE=$tmp/gocache \
      GOPATH=$tmp/gopath go build -o "$tmp/$2" .) >&2; then
    echo "$tmp/$2"
  else
    say "go build failed: leaving Go out"
  fi
}

nginx_bin=$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null || true)

# The peers among $@ that are installed (nginx_bin, go_bin, h2o_bin; any other name is ours),
# one per line; says which are left out.
available_peers() {
  local s
  for s; do
    case $s in
      nginx) [[ -n $nginx_bin ]] || { say "nginx is not installed: left out"; continue; } ;;
      go) [[ -n ${go_bin:-} ]] || { say "go is not installed: left out"; continue; } ;;
      h2o) [[ -n ${h2o_bin:-} ]] || { say "h2o is not installed: left out"; continue; } ;;
    esac
    echo "$s"
  done
}

# Writes $1/nginx.conf: one worker in the foreground, no access log, keep-alive without limits,
# its temporary files under $1, and the http block's own lines (server blocks) from stdin.
nginx_conf() {
  mkdir -p "$1"
  {
    cat <<CONF
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
CONF
    cat
    echo "}"
  } >"$1/nginx.conf"
}

# Starts nginx from $1/nginx.conf pinned to core $2, in the background (track_server follows).
start_nginx() {
  taskset -c "$2" "$nginx_bin" -p "$1" -c "$1/nginx.conf" -e stderr &
}

# Right after a server $1 was started in the background (`... &`) on port $2: records it in
# launch_pid (what stop_server kills) and launched, waits until the port accepts, and sets
# server_pid to the process to measure (nginx's worker, else the one started).
track_server() {
  local name=$1 port=$2 i
  launch_pid=$!
  launched+=("$launch_pid")
  wait_ready "$port" || { say "$name did not start"; return 1; }
  server_pid=$launch_pid
  [[ $name == nginx ]] || return 0
  for ((i = 0; i < 50; i++)); do
    server_pid=$(pgrep -P "$launch_pid" | head -1 || true)
    [[ -n $server_pid ]] && return 0
    sleep 0.05
  done
  say "no nginx worker"
  return 1
}

stop_server() {
  kill "$launch_pid" 2>/dev/null || true
  wait "$launch_pid" 2>/dev/null || true
}

# --- Reading the load tools -------------------------------------------------------------------

# wrk's report on stdin, the server's CPU ticks over the run in $1: prints "requests seconds
# errors cpu_ticks p50 p75 p90 p99" (latency percentiles in µs, from --latency; nan when wrk
# printed none).
wrk_figures() {
  awk -v cpu="$1" '
    function us(v) {  # wrk prints 850.00us, 1.20ms, 2.00s, 1.00m
      if (v ~ /us$/) return v + 0
      if (v ~ /ms$/) return v * 1e3
      if (v ~ /m$/) return v * 6e7
      if (v ~ /s$/) return v * 1e6
      return "nan"
    }
    / requests in / { n = $1; t = $4; sub(/s,?$/, "", t) }
    /Non-2xx/ { e += $NF }
    /Socket errors/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
    /Latency Distribution/ { dist = 1; next }
    dist && $1 ~ /^[0-9.]+%$/ { p[$1 + 0] = us($2) }
    END {
      for (q = 50; q <= 99; q++) if (!(q in p)) p[q] = "nan"
      printf "%d %s %d %d %s %s %s %s\n", n, t, e, cpu, p[50], p[75], p[90], p[99]
    }'
}

# This machine, for a table's caption: kernel, cores and CPU model.
machine_description() {
  echo "$(uname -sr), $(nproc) cores ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo))"
}

# The peers' versions, for a table's caption. (wrk -v exits 1: each probe ends in `|| true`.)
nginx_version() { { [[ -n $nginx_bin ]] && "$nginx_bin" -v 2>&1; } | sed 's/.*\///' || true; }
go_version() { { go version 2>/dev/null || true; } | awk '{print $3}'; }
wrk_version() { { wrk -v 2>&1 || true; } | awk 'NR==1 {print $2}'; }
