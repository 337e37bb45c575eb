// hello: Go's net/http peer for bench/http.sh, the same "Hello, World!" hello_server answers.
// Standard library only; http.sh builds it offline (GOFLAGS=-mod=mod GOPROXY=off) and runs it with
// GOMAXPROCS=1.
package main

import (
	"flag"
	"log"
	"net/http"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to serve on")
	flag.Parse()
	body := []byte("Hello, World!")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(body)
	})
	log.Fatal(http.ListenAndServe(*listen, nil))
}
