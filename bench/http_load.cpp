// http_load: a load client on ringo's Transport, for bench/http_client.sh (beside wrk and Go's
// http.Client). CONNS workers on one thread each loop GET URL, read the body to the end (so the
// conn goes back to the pool) until SECONDS have passed; the pool keeps up to CONNS idle conns.
//
//   http_load URL [-c CONNS] [-d SECONDS] [-n REQUESTS] [--cacert FILE | -k] [--h2]
//
// HTTP/1.1 by default (https:// offers only http/1.1 by ALPN), so a row measures one protocol.
// --h2 speaks HTTP/2: with prior knowledge on http:// (h2c), by ALPN on https://; the CONNS workers
// are then concurrent streams, carried by one connection up to the server's
// MAX_CONCURRENT_STREAMS (h2load's -c1 -mCONNS, more connections beyond the limit).
//
// An https:// URL is verified against the system's roots, or FILE's with --cacert; -k verifies
// nothing (a benchmark's self-signed server).
// -n stops after REQUESTS requests in all instead of after a time (bench/callgrind.sh counts the
// instructions of a fixed number of round trips).
// Prints one line: requests, errors, seconds, requests/s and the process's CPU µs per request
// (user + system, from getrusage), which is what the benchmark compares.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/resource.h>
#include <vector>

#include <ringo/ringo.hpp>

namespace {

namespace http = ringo::http;
using ringo::task;

struct tally {
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  std::string first_error;
};

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto secs = [](timeval t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

task<void> worker(http::transport* t, const http::url* u, ringo::time_point until,
                  std::uint64_t limit, tally* out) {
  char sink[16384];
  while (ringo::clock::now() < until && out->requests + out->errors < limit) {
    http::client_request req;
    req.url = *u;
    auto r = co_await t->round_trip(std::move(req));
    bool ok = r.has_value() && r->status == 200;
    if (r) {
      for (;;) {
        auto n = co_await r->body->read(ringo::mutable_buffer(sink, sizeof sink));
        if (!n) ok = false;
        if (!n || *n == 0) break;
      }
    }
    if (ok) {
      ++out->requests;
    } else {
      if (out->errors++ == 0)
        out->first_error = r ? "status " + std::to_string(r->status) : r.error().message();
    }
  }
}

task<int> load(http::url u, int conns, double seconds, std::uint64_t limit, std::string cacert,
               bool insecure, bool h2) {
  http::transport_options o;
  o.force_http1 = !h2;
  o.http2_prior_knowledge = h2;
  if (!cacert.empty()) o.tls.root_cas = {ringo::net::pem::file(cacert)};
  o.tls.insecure_skip_verify = insecure;
  o.max_idle_conns_per_host = conns;
  o.max_idle_conns = conns;
  http::transport t(o);
  tally total;
  const double cpu_before = cpu_seconds();
  const auto start = ringo::clock::now();
  const auto until =
      start + std::chrono::duration_cast<ringo::duration>(std::chrono::duration<double>(seconds));
  {
    ringo::scope workers;
    for (int i = 0; i < conns; ++i) workers.spawn(worker(&t, &u, until, limit, &total));
    co_await workers.join();
  }
  const double elapsed = std::chrono::duration<double>(ringo::clock::now() - start).count();
  const double cpu = cpu_seconds() - cpu_before;
  co_await t.close();
  std::printf("requests %llu errors %llu seconds %.3f rps %.0f cpu_us_per_req %.3f\n",
              static_cast<unsigned long long>(total.requests),
              static_cast<unsigned long long>(total.errors), elapsed,
              double(total.requests) / elapsed,
              total.requests ? cpu * 1e6 / double(total.requests) : 0.0);
  if (total.errors) std::fprintf(stderr, "http_load: first error: %s\n", total.first_error.c_str());
  co_return total.requests > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string target;
  int conns = 64;
  double seconds = 10;
  std::uint64_t limit = UINT64_MAX;
  std::string cacert;
  bool insecure = false;
  bool h2 = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "-n" && i + 1 < argc) {
      limit = std::strtoull(argv[++i], nullptr, 10);
      seconds = 1e6;
    } else if (a == "-c" && i + 1 < argc) {
      conns = std::atoi(argv[++i]);
    } else if (a == "-d" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (a == "--cacert" && i + 1 < argc) {
      cacert = argv[++i];
    } else if (a == "--h2") {
      h2 = true;
    } else if (a == "-k") {
      insecure = true;
    } else {
      target = a;
    }
  }
  auto u = http::parse_url(target);
  if (!u || conns <= 0 || seconds <= 0) {
    std::fprintf(stderr,
                 "usage: http_load URL [-c CONNS] [-d SECONDS] [-n REQUESTS] [--cacert FILE | -k] "
                 "[--h2]%s%s\n",
                 u ? "" : ": ", u ? "" : u.error().message().c_str());
    return 2;
  }
  return ringo::run(load(std::move(*u), conns, seconds, limit, std::move(cacert), insecure, h2));
}
