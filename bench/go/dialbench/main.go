// dialbench: Go's side of bench/net.sh. It dials its own loopback listener in a loop, closing
// each connection at once while a goroutine accepts and closes the server's side, and prints one
// JSON line per round: dials, seconds, dials/s and process CPU ns per dial. Run it with
// GOMAXPROCS=1, pinned to one core, next to net_bench's ringo_dial_close, which does the same on
// one io_context. Standard library only: the benchmark builds with no network.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"syscall"
	"time"
)

type round struct {
	Dials        int     `json:"dials"`
	Seconds      float64 `json:"seconds"`
	DialsPerSec  float64 `json:"dials_per_sec"`
	CPUNsPerDial float64 `json:"cpu_ns_per_dial"`
	GOMAXPROCS   int     `json:"gomaxprocs"`
}

// cpuTime is this process's user+system CPU time: every thread, the runtime's included.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// acceptAndClose is the server: accept, close, until the listener closes.
func acceptAndClose(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

// dialLoop dials and closes until `length` has passed; returns how many dials it made.
func dialLoop(addr string, length time.Duration) (int, time.Duration, error) {
	start := time.Now()
	n := 0
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return n, time.Since(start), err
		}
		c.Close()
		n++
		if elapsed := time.Since(start); elapsed >= length {
			return n, elapsed, nil
		}
	}
}

func main() {
	seconds := flag.Float64("seconds", 2, "length of each round")
	rounds := flag.Int("rounds", 1, "rounds to run (one JSON line each)")
	warmup := flag.Float64("warmup", 0.2, "seconds of dialing before the first round")
	flag.Parse()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "dialbench:", err)
		os.Exit(1)
	}
	defer ln.Close()
	go acceptAndClose(ln)
	addr := ln.Addr().String()

	if _, _, err := dialLoop(addr, time.Duration(*warmup*float64(time.Second))); err != nil {
		fmt.Fprintln(os.Stderr, "dialbench:", err)
		os.Exit(1)
	}
	out := json.NewEncoder(os.Stdout)
	for i := 0; i < *rounds; i++ {
		cpu := cpuTime()
		n, elapsed, err := dialLoop(addr, time.Duration(*seconds*float64(time.Second)))
		if err != nil {
			fmt.Fprintln(os.Stderr, "dialbench:", err)
			os.Exit(1)
		}
		used := cpuTime() - cpu
		out.Encode(round{
			Dials:        n,
			Seconds:      elapsed.Seconds(),
			DialsPerSec:  float64(n) / elapsed.Seconds(),
			CPUNsPerDial: float64(used.Nanoseconds()) / float64(n),
			GOMAXPROCS:   runtime.GOMAXPROCS(0),
		})
	}
}
