# Helpers the load benchmarks share (sourced by bench/http.sh, h2.sh, https.sh, proxy.sh, files.sh).
# Loopback only.

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
