// fetch: a small curl on ringo's client. Fetches each URL (http:// or https://) in order over one
// transport, so later URLs reuse the connections of earlier ones; follows redirects like Go's
// http.Client.
//
//   fetch [-v] [-X METHOD] [-H 'K: V']... [-d DATA|@FILE] [-o FILE] [--timeout MS] [--pause MS]
//         [--compressed|--raw] [-r|--range A-B] [-b|--cookie-jar FILE] [--cacert FILE]
//         [-k|--insecure] [-x|--proxy URL] [--http1.1|--http2-prior-knowledge] URL...
//
// https:// speaks HTTP/2 when the server accepts it by ALPN (h2 is offered first, as Go's
// transport does); --http1.1 offers HTTP/1.1 only. http:// speaks HTTP/1.1, or HTTP/2 from the
// first byte with --http2-prior-knowledge (h2c, for a server known to speak it). One HTTP/2
// connection carries all the URLs to a host.
// Requests go through the proxy -x names, or as Go's DefaultTransport sends them, through
// HTTP_PROXY / HTTPS_PROXY unless NO_PROXY (or loopback) says otherwise.
// https:// verifies the server's certificate against the system's roots, or against the PEM
// certificates in FILE with --cacert; -k accepts any certificate (for self-signed test servers).
// -b keeps cookies in FILE across runs (curl's Netscape cookie file format): loaded before the
// first request when it exists, sent and updated as Go's cookiejar does (redirects included),
// saved at the end.
// Like Go's transport, fetch asks for gzip and decodes it (--compressed, the default); --raw sends
// Accept-Encoding: gzip itself, so the body is written as the server encoded it. -r asks for a
// byte range (Range: bytes=A-B; A- and -N too), which also turns the transparent gzip off.
// --timeout bounds each URL (redirects and body included); --pause waits between URLs (long
// enough, and the server closes the idle connection: the next request just dials again).
// The body goes to stdout, or to FILE with -o (a progress bar on stderr when that is a terminal).
// -v prints what the transport's trace reports, the request head once a connection is chosen (in
// its protocol), and the response head, to stderr:
//
//   $ fetch -v http://127.0.0.1:8080/ http://127.0.0.1:8080/
//   * connect 127.0.0.1:8080
//   * connected 127.0.0.1:8080 (new connection)
//   > GET / HTTP/1.1
//   < HTTP/1.1 200 OK
//   < Content-Length: 13
//   * connection kept for reuse
//   * reused connection (idle 0.3 ms)
//   ...
//
// and over TLS, after the connect (curl's words):
//
//   * SSL connection using TLSv1.3 / TLS_AES_128_GCM_SHA256
//   * ALPN: server accepted http/1.1
//   * Server certificate: CN=localhost,O=ringo (verified)
//   * SSL session: new (a later connection says "resumed")
//
// and over HTTP/2 "> GET / HTTP/2", the response's stream and status: "* HTTP/2 stream 1",
// "< HTTP/2 200".
//
// Exit status: 0 when every response was 1xx-3xx, 22 when one was 4xx or 5xx (like curl -f), 1
// when a request failed (the message is printed), 130 on SIGINT.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <ringo/ringo.hpp>

namespace {

namespace http = ringo::http;
using ringo::task;

struct options {
  bool verbose = false;
  std::string method;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::string> data;
  std::string output;  // empty: stdout
  long timeout_ms = 0;
  long pause_ms = 0;
  bool raw = false;
  std::string range;
  std::string cookie_file;
  std::string cacert;  // roots for https, instead of the system's
  bool insecure = false;
  std::string proxy;                   // -x: every request through it; empty: the environment's
  bool http1 = false;                  // --http1.1
  bool http2_prior_knowledge = false;  // --http2-prior-knowledge
  std::vector<std::string> urls;
};

const char* const usage =
    "usage: fetch [-v] [-X METHOD] [-H 'K: V']... [-d DATA|@FILE] [-o FILE] [--timeout MS] "
    "[--pause MS] [--compressed|--raw] [-r A-B] [-b FILE] [--cacert FILE] [-k] [-x URL] "
    "[--http1.1|--http2-prior-knowledge] URL...\n";

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream all;
  all << in.rdbuf();
  return all.str();
}

// nullopt (after a message) when the command line does not parse.
std::optional<options> parse_args(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "-v") {
      o.verbose = true;
    } else if (arg == "-X" && has_value) {
      o.method = argv[++i];
    } else if (arg == "-H" && has_value) {
      std::string_view h = argv[++i];
      std::size_t colon = h.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        std::fprintf(stderr, "fetch: bad header %s (want 'Name: value')\n", argv[i]);
        return std::nullopt;
      }
      std::string_view value = h.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      o.headers.emplace_back(std::string(h.substr(0, colon)), std::string(value));
    } else if (arg == "-d" && has_value) {
      std::string d = argv[++i];
      if (d.starts_with("@")) {
        std::optional<std::string> file = read_file(d.substr(1));
        if (!file) {
          std::fprintf(stderr, "fetch: cannot read %s\n", d.c_str() + 1);
          return std::nullopt;
        }
        d = std::move(*file);
      }
      o.data = std::move(d);
    } else if (arg == "-o" && has_value) {
      o.output = argv[++i];
    } else if ((arg == "--timeout" || arg == "--pause") && has_value) {
      char* end = nullptr;
      long ms = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || ms < 0) {
        std::fprintf(stderr, "fetch: bad %s %s\n", argv[i - 1], argv[i]);
        return std::nullopt;
      }
      (arg == "--timeout" ? o.timeout_ms : o.pause_ms) = ms;
    } else if (arg == "--compressed") {
      o.raw = false;
    } else if (arg == "--raw") {
      o.raw = true;
    } else if ((arg == "-b" || arg == "--cookie-jar") && has_value) {
      o.cookie_file = argv[++i];
    } else if (arg == "--cacert" && has_value) {
      o.cacert = argv[++i];
    } else if ((arg == "-x" || arg == "--proxy") && has_value) {
      o.proxy = argv[++i];
    } else if (arg == "--http1.1") {
      o.http1 = true;
    } else if (arg == "--http2-prior-knowledge") {
      o.http2_prior_knowledge = true;
    } else if (arg == "-k" || arg == "--insecure") {
      o.insecure = true;
    } else if ((arg == "-r" || arg == "--range") && has_value) {
      o.range = argv[++i];
    } else if (arg.starts_with("-")) {
      std::fputs(usage, stderr);
      return std::nullopt;
    } else {
      o.urls.emplace_back(arg);
    }
  }
  if (o.urls.empty()) {
    std::fputs(usage, stderr);
    return std::nullopt;
  }
  if (o.method.empty()) o.method = o.data ? "POST" : "GET";
  return o;
}

double ms_since(ringo::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// "TLS 1.3" as curl says it: "TLSv1.3".
std::string curl_version_name(const ringo::net::tls_connection_state& st) {
  std::string v = st.version_name();
  if (v.starts_with("TLS ")) v.replace(0, 4, "TLSv");
  return v;
}

// What -v prints: the trace hooks of every request.
struct verbose_trace {
  http::client_trace client;
  ringo::net::dial_trace dial;
  // The request head, printed once the connection (and so the protocol) is known.
  std::string method, target;
  std::vector<std::pair<std::string, std::string>> fields;
  bool head_pending = false;

  explicit verbose_trace(bool verified) {
    dial.resolve_start = [](ringo::time_point, std::string_view host) {
      std::fprintf(stderr, "* lookup %.*s\n", int(host.size()), host.data());
    };
    dial.connect_start = [](ringo::time_point, const ringo::net::address& a) {
      std::fprintf(stderr, "* connect %s\n", a.to_string().c_str());
    };
    dial.connect_done = [](ringo::time_point, const ringo::net::address& a, std::error_code ec) {
      std::fprintf(stderr, "* connect %s: %s\n", a.to_string().c_str(),
                   ec ? ec.message().c_str() : "connected");
    };
    client.dial = &dial;
    client.tls_handshake_start = [] { std::fprintf(stderr, "* TLS handshake\n"); };
    client.tls_handshake_done = [verified](const ringo::net::tls_connection_state& st,
                                           std::error_code ec) {
      if (ec) {
        std::fprintf(stderr, "* TLS handshake failed: %s\n", ec.message().c_str());
        return;
      }
      std::fprintf(stderr, "* SSL connection using %s / %s\n", curl_version_name(st).c_str(),
                   st.cipher_suite_name.c_str());
      if (st.negotiated_protocol.empty())
        std::fprintf(stderr, "* ALPN: server did not agree on a protocol\n");
      else
        std::fprintf(stderr, "* ALPN: server accepted %s\n", st.negotiated_protocol.c_str());
      std::fprintf(stderr, "* Server certificate: %s (%s)\n", st.peer_subject.c_str(),
                   verified ? "verified" : "NOT verified: --insecure");
      std::fprintf(stderr, "* SSL session: %s\n", st.did_resume ? "resumed" : "new");
    };
    client.got_conn = [this](const http::got_conn_info& i) {
      if (i.reused)
        std::fprintf(stderr, "* reused connection (idle %.1f ms)\n", ms_since(i.idle_time));
      else
        std::fprintf(stderr, "* new connection\n");
      if (!head_pending) return;
      head_pending = false;
      std::fprintf(stderr, "> %s %s %s\n", method.c_str(), target.c_str(),
                   i.version_major == 2 ? "HTTP/2" : "HTTP/1.1");
      for (const auto& [k, v] : fields) std::fprintf(stderr, "> %s: %s\n", k.c_str(), v.c_str());
    };
    client.got_100_continue = [] { std::fprintf(stderr, "< HTTP/1.1 100 Continue\n"); };
    client.put_idle_conn = [](std::error_code ec) {
      if (ec)
        std::fprintf(stderr, "* connection not kept: %s\n", ec.message().c_str());
      else
        std::fprintf(stderr, "* connection kept for reuse\n");
    };
  }
};

// A progress bar on stderr, redrawn at most every 100 ms.
class progress {
 public:
  explicit progress(std::optional<std::uint64_t> total) : total_(total) {}
  void add(std::size_t n) {
    done_ += n;
    auto now = ringo::clock::now();
    if (now - drawn_ < std::chrono::milliseconds(100)) return;
    drawn_ = now;
    draw();
  }
  void finish() {
    draw();
    std::fputc('\n', stderr);
  }

 private:
  void draw() const {
    if (total_ && *total_ > 0) {
      int width = 40, filled = int(double(done_) / double(*total_) * width);
      std::fprintf(stderr, "\r[%-*s] %3d%% %llu bytes", width,
                   std::string(std::size_t(filled), '#').c_str(), int(100 * done_ / *total_),
                   static_cast<unsigned long long>(done_));
    } else {
      std::fprintf(stderr, "\r%llu bytes", static_cast<unsigned long long>(done_));
    }
  }
  std::optional<std::uint64_t> total_;
  std::uint64_t done_ = 0;
  ringo::time_point drawn_{};
};

// Writes a whole buffer to fd through the ring.
task<ringo::result<void>> write_out(int fd, std::string_view data, std::stop_token stop) {
  while (!data.empty()) {
    auto n = co_await ringo::write(fd, ringo::const_buffer(data.data(), data.size()), stop);
    if (!n) co_return n.error();
    data.remove_prefix(*n);
  }
  co_return ringo::result<void>{};
}

// One URL: 0, 22 or 1, as the exit status.
task<int> fetch_one(http::client& c, const options& o, const std::string& u, int out_fd,
                    verbose_trace* trace, std::stop_token stop) {
  auto parsed = http::parse_url(u);
  if (!parsed) {
    std::fprintf(stderr, "fetch: %s: %s\n", u.c_str(), parsed.error().message().c_str());
    co_return 1;
  }
  http::client_request req;
  req.method = o.method;
  req.url = std::move(*parsed);
  for (const auto& [k, v] : o.headers) req.header.add(k, v);
  if (o.raw && !req.header.contains("Accept-Encoding")) req.header.set("Accept-Encoding", "gzip");
  if (!o.range.empty()) req.header.set("Range", "bytes=" + o.range);
  if (o.data) req.body = *o.data;
  if (trace) {
    req.trace = &trace->client;
    trace->method = req.method;
    trace->target = req.url.target;
    trace->fields.clear();
    for (const auto& f : req.header) trace->fields.emplace_back(f.name, f.value);
    trace->head_pending = true;  // printed with the connection's protocol (got_conn)
  }
  auto r = co_await c.send(std::move(req), stop);
  if (!r) {
    std::fprintf(stderr, "fetch: %s\n", r.error().message().c_str());
    co_return 1;
  }
  if (trace && r->version_major == 2) {
    std::fprintf(stderr, "* HTTP/2 stream %u\n", r->stream_id);
    std::fprintf(stderr, "< HTTP/2 %d\n", r->status);  // (curl's words: no reason phrase)
    for (const auto& f : r->header)
      std::fprintf(stderr, "< %s: %s\n", f.name.c_str(), f.value.c_str());
  } else if (trace) {
    std::fprintf(stderr, "< HTTP/%d.%d %d %s\n", r->version_major, r->version_minor, r->status,
                 r->reason.c_str());
    for (const auto& f : r->header)
      std::fprintf(stderr, "< %s: %s\n", f.name.c_str(), f.value.c_str());
  }
  std::optional<progress> bar;
  if (out_fd != STDOUT_FILENO && ::isatty(STDERR_FILENO)) bar.emplace(r->content_length);
  std::string buf(64 * 1024, '\0');
  for (;;) {
    auto n = co_await r->body->read(ringo::mutable_buffer(buf.data(), buf.size()), stop);
    if (!n) {
      std::fprintf(stderr, "fetch: %s: reading the body: %s\n", u.c_str(),
                   n.error().message().c_str());
      co_return 1;
    }
    if (*n == 0) break;
    if (auto w = co_await write_out(out_fd, std::string_view(buf.data(), *n), stop); !w) {
      std::fprintf(stderr, "fetch: writing: %s\n", w.error().message().c_str());
      co_return 1;
    }
    if (bar) bar->add(*n);
  }
  if (bar) bar->finish();
  co_return r->status >= 400 ? 22 : 0;
}

// curl's cookie file: "domain TAB subdomains TAB path TAB secure TAB expires TAB name TAB value",
// a "#HttpOnly_" prefix on the domain, 0 for a session cookie's expiry.
void load_cookies(http::cookie_jar& jar, const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    bool http_only = false;
    if (line.starts_with("#HttpOnly_")) {
      http_only = true;
      line.erase(0, 10);
    }
    if (line.empty() || line.front() == '#') continue;
    std::vector<std::string> f;
    std::istringstream fields(line);
    for (std::string x; std::getline(fields, x, '\t');) f.push_back(x);
    if (f.size() != 7) continue;
    http::cookie_jar::entry e;
    e.domain = f[0].starts_with('.') ? f[0].substr(1) : f[0];
    e.host_only = f[1] != "TRUE";
    e.path = f[2];
    e.secure = f[3] == "TRUE";
    const long long exp = std::atoll(f[4].c_str());
    e.persistent = exp != 0;
    e.expires = e.persistent ? std::chrono::sys_seconds(std::chrono::seconds(exp))
                             : std::chrono::sys_days(std::chrono::year(9999) / 12 / 31);
    e.name = f[5];
    e.value = f[6];
    e.http_only = http_only;
    e.creation = e.last_access =
        std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    jar.restore(std::move(e));
  }
}

void save_cookies(const http::cookie_jar& jar, const std::string& path) {
  std::ofstream out(path, std::ios::trunc);
  out << "# Netscape HTTP Cookie File\n";
  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  for (const auto& e : jar.entries()) {
    if (e.persistent && e.expires <= now) continue;
    const long long exp =
        e.persistent
            ? std::chrono::duration_cast<std::chrono::seconds>(e.expires.time_since_epoch()).count()
            : 0;
    out << (e.http_only ? "#HttpOnly_" : "") << (e.host_only ? "" : ".") << e.domain << '\t'
        << (e.host_only ? "FALSE" : "TRUE") << '\t' << e.path << '\t'
        << (e.secure ? "TRUE" : "FALSE") << '\t' << exp << '\t' << e.name << '\t' << e.value
        << '\n';
  }
}

task<int> fetch_all(const options& o, int out_fd, std::stop_token stop) {
  http::transport_options to;
  if (!o.cacert.empty()) to.tls.root_cas = {ringo::net::pem::file(o.cacert)};
  to.tls.insecure_skip_verify = o.insecure;
  to.force_http1 = o.http1;
  to.http2_prior_knowledge = o.http2_prior_knowledge;
  if (o.proxy.empty()) {
    to.proxy = http::proxy_from_environment();
  } else {
    auto p = http::parse_proxy(o.proxy);
    if (!p) {
      std::fprintf(stderr, "fetch: %s\n", p.error().message().c_str());
      co_return 2;
    }
    to.proxy = http::fixed_proxy(std::move(*p));
  }
  http::transport t(std::move(to));
  http::cookie_jar jar({.public_suffixes = []() -> std::shared_ptr<const http::public_suffix_list> {
    auto l = http::public_suffix_list::load();
    return l ? std::make_shared<const http::public_suffix_list>(std::move(*l)) : nullptr;
  }()});
  if (!o.cookie_file.empty()) load_cookies(jar, o.cookie_file);
  http::client_options co;
  if (!o.cookie_file.empty()) co.jar = &jar;
  co.timeout = std::chrono::milliseconds(o.timeout_ms);
  if (o.verbose)
    co.check_redirect = [](const http::client_request& next, int) {
      std::fprintf(stderr, "* redirected to %s\n", next.url.string().c_str());
      return std::error_code{};
    };
  http::client c(t, co);
  std::optional<verbose_trace> trace;
  if (o.verbose) trace.emplace(!o.insecure);
  int status = 0;
  for (const std::string& u : o.urls) {
    if (&u != &o.urls.front() && o.pause_ms > 0 &&
        !co_await ringo::sleep_for(std::chrono::milliseconds(o.pause_ms), stop))
      break;
    int s = co_await fetch_one(c, o, u, out_fd, trace ? &*trace : nullptr, stop);
    if (s == 1 || (s == 22 && status == 0)) status = s;  // an error outweighs a 4xx/5xx
    if (stop.stop_requested()) break;
  }
  co_await t.close();
  if (!o.cookie_file.empty()) save_cookies(jar, o.cookie_file);
  co_return status;
}

task<int> main_task(options o, int out_fd) {
  // SIGINT stops the fetches; whichever ends first stops the other.
  auto fetches = [&](std::stop_token stop) { return fetch_all(o, out_fd, std::move(stop)); };
  auto interrupt = [](std::stop_token stop) -> task<int> {
    auto wait = ringo::wait_for_signal({SIGINT}, std::move(stop));  // (GCC 12: not inside co_await)
    auto sig = co_await std::move(wait);
    co_return sig ? 130 : 0;
  };
  auto done = co_await ringo::when_any(std::stop_token{}, fetches, interrupt);
  if (done.index == 1) co_return 130;
  co_return std::get<0>(done.values).value_or(1);
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<options> o = parse_args(argc, argv);
  if (!o) return 2;
  if (auto r = ringo::block_signals({SIGINT}); !r) {
    std::fprintf(stderr, "fetch: block signals: %s\n", r.error().message().c_str());
    return 1;
  }
  int out_fd = STDOUT_FILENO;
  if (!o->output.empty()) {
    out_fd = ::open(o->output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out_fd < 0) {
      std::perror(("fetch: " + o->output).c_str());
      return 1;
    }
  }
  int status = ringo::run(main_task(std::move(*o), out_fd));
  if (out_fd != STDOUT_FILENO) ::close(out_fd);
  return status;
}
