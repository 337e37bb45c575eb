// hello: Go's net/http peer for bench/http.sh (and, with -tls-cert and -tls-key, bench/https.sh:
// ListenAndServeTLS), the same "Hello, World!" hello_server answers. Standard library only; the
// scripts build it offline (GOFLAGS=-mod=mod GOPROXY=off) and run it with GOMAXPROCS=1.
package main

import (
	"crypto/tls"
	"flag"
	"log"
	"net/http"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to serve on")
	cert := flag.String("tls-cert", "", "serve HTTPS with this certificate (PEM)")
	key := flag.String("tls-key", "", "and this key (PEM)")
	noTickets := flag.Bool("tls-no-tickets", false, "issue no session tickets: every connection a full handshake")
	flag.Parse()
	body := []byte("Hello, World!")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(body)
	})
	if *cert != "" {
		srv := &http.Server{Addr: *listen, TLSConfig: &tls.Config{SessionTicketsDisabled: *noTickets}}
		log.Fatal(srv.ListenAndServeTLS(*cert, *key))
	}
	log.Fatal(http.ListenAndServe(*listen, nil))
}
