// proxy: Go's httputil.ReverseProxy, the peer of examples/reverse_proxy for bench/proxy.sh.
// Standard library only; proxy.sh builds it offline (GOFLAGS=-mod=mod GOPROXY=off) and runs it
// with GOMAXPROCS=1. The transport keeps 256 idle connections per host: Go's default of 2 would
// re-dial for most requests at the benchmark's 32 connections.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "address to serve on")
	flag.Parse()
	target, err := url.Parse(flag.Arg(0))
	if err != nil || target.Host == "" {
		log.Fatalf("usage: proxy [--listen ADDR] URL")
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
	log.Fatal(http.ListenAndServe(*listen, rp))
}
