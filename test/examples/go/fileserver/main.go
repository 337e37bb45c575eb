// fileserver: Go's net/http serving a directory, a peer for examples/fetch's interop test.
// The idle timeout is short so the test can watch the server close an idle keep-alive conn.
//
//	fileserver -listen 127.0.0.1:PORT -root DIR -idle 300ms
package main

import (
	"flag"
	"log"
	"net/http"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address")
	root := flag.String("root", ".", "directory to serve")
	idle := flag.Duration("idle", 90*time.Second, "idle timeout")
	flag.Parse()
	srv := &http.Server{Addr: *listen, Handler: http.FileServer(http.Dir(*root)), IdleTimeout: *idle}
	log.Fatal(srv.ListenAndServe())
}
