// load: Go's http.Client as the peer of bench/http_load for bench/http_client.sh. CONNS goroutines
// each loop GET URL and read the body to the end, for SECONDS; the Transport keeps CONNS idle conns
// (the default 2 per host would dial all the time). Standard library only; run with GOMAXPROCS=1.
// Prints the same line as http_load.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func cpuSeconds() float64 {
	var u syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return float64(u.Utime.Sec+u.Stime.Sec) + float64(u.Utime.Usec+u.Stime.Usec)/1e6
}

func main() {
	conns := flag.Int("c", 64, "concurrent requests")
	seconds := flag.Float64("d", 10, "duration in seconds")
	flag.Parse()
	url := flag.Arg(0)
	tr := &http.Transport{MaxIdleConns: *conns, MaxIdleConnsPerHost: *conns}
	client := &http.Client{Transport: tr}
	var requests, errors int64
	cpuBefore := cpuSeconds()
	start := time.Now()
	until := start.Add(time.Duration(*seconds * float64(time.Second)))
	var wg sync.WaitGroup
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(until) {
				resp, err := client.Get(url)
				if err != nil {
					atomic.AddInt64(&errors, 1)
					continue
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					atomic.AddInt64(&errors, 1)
					continue
				}
				atomic.AddInt64(&requests, 1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	cpu := cpuSeconds() - cpuBefore
	perReq := 0.0
	if requests > 0 {
		perReq = cpu * 1e6 / float64(requests)
	}
	fmt.Printf("requests %d errors %d seconds %.3f rps %.0f cpu_us_per_req %.3f\n",
		requests, errors, elapsed, float64(requests)/elapsed, perReq)
	if requests == 0 {
		os.Exit(1)
	}
}
