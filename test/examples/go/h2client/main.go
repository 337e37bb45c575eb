// h2client: Go's net/http client against a ringo server over TLS, HTTP/2 by ALPN (Go's default
// for https). test/examples/https_examples_test.py runs it against examples/httpbin and reads
// one line per check on stdout:
//
//	proto HTTP/2.0
//	concurrent N conns C      N GETs of /bytes/1000 at once, over C TCP connections
//	echo ok SIZE              a POST /echo of SIZE bytes came back byte-exact
//	cancel ok MS              a /delay/10000 canceled after 300 ms returned after MS ms
//	after-cancel ok           a request on the same connection after the cancel
//
// Usage: h2client -url https://127.0.0.1:PORT -cacert ca.pem
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"sync"
	"time"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "h2client: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	base := flag.String("url", "", "https://127.0.0.1:PORT")
	caFile := flag.String("cacert", "", "the CA's PEM")
	n := flag.Int("n", 50, "concurrent requests")
	flag.Parse()

	pem, err := os.ReadFile(*caFile)
	if err != nil {
		fail("%v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		fail("no certificate in %s", *caFile)
	}
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2: true, // a Transport with its own TLS config asks for h2 only when told
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	resp, err := client.Get(*base + "/get")
	if err != nil {
		fail("GET /get: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	fmt.Printf("proto %s\n", resp.Proto)

	// Concurrent GETs share one connection: count the local addresses the trace saw.
	var mu sync.Mutex
	conns := map[string]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, *n)
	for i := 0; i < *n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
				mu.Lock()
				conns[info.Conn.LocalAddr().String()] = true
				mu.Unlock()
			}}
			ctx := httptrace.WithClientTrace(context.Background(), trace)
			req, _ := http.NewRequestWithContext(ctx, "GET", *base+"/bytes/1000", nil)
			r, err := client.Do(req)
			if err != nil {
				errs <- err
				return
			}
			body, err := io.ReadAll(r.Body)
			r.Body.Close()
			if err != nil || len(body) != 1000 || r.StatusCode != 200 {
				errs <- fmt.Errorf("status %d, %d bytes, %v", r.StatusCode, len(body), err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		fail("concurrent GET: %v", err)
	}
	fmt.Printf("concurrent %d conns %d\n", *n, len(conns))

	// A body both ways.
	payload := make([]byte, 5<<20)
	rand.Read(payload)
	resp, err = client.Post(*base+"/echo", "application/octet-stream", bytes.NewReader(payload))
	if err != nil {
		fail("POST /echo: %v", err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(got, payload) {
		fail("POST /echo: %d bytes back of %d, %v", len(got), len(payload), err)
	}
	fmt.Printf("echo ok %d\n", len(payload))

	// A request given up on: Go resets the stream (RST_STREAM CANCEL); the connection goes on.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", *base+"/delay/10000", nil)
	start := time.Now()
	_, err = client.Do(req)
	if err == nil {
		fail("GET /delay/10000 was not canceled")
	}
	fmt.Printf("cancel ok %d\n", time.Since(start).Milliseconds())

	resp, err = client.Get(*base + "/get")
	if err != nil {
		fail("GET after the cancel: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" {
		fail("GET after the cancel: %d %s", resp.StatusCode, resp.Proto)
	}
	fmt.Println("after-cancel ok")
}
