// request_fuzz: libFuzzer target over request parsing and body decoding (lib/http's
// message_parser, llhttp in strict mode), driven the way server_conn drives it: a connection
// buffer that reads arrive in, heads parsed, bodies (Content-Length or chunked) decoded piece by
// piece, pipelined requests one after another on the same parser.
//
// Input: byte 0 picks where the stream is split into two reads, byte 1 caps the size of every
// read (0: no cap), the rest is what the client sent. The same stream is also parsed in one read;
// both parses must agree, since where TCP happens to cut the bytes must not change what a request
// means. Other invariants: no step consumes more than it was given, body pieces lie inside the
// bytes consumed, decoded body bytes never outnumber input bytes, a Content-Length body has
// exactly that length, and a head the server would accept frames its body unambiguously (the
// request smuggling classes: CL+TE, duplicate CL, a Transfer-Encoding other than chunked).
//
//   request_fuzz test/fuzz/corpus            # fuzz
//   RINGO_FUZZ_VERBOSE=1 request_fuzz FILE   # print what one input parses to
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "h1/parser.hpp"
#include "ringo/http/headers.hpp"

namespace {

using ringo::http::iequals;
using ringo::http::h1::message_parser;
using event = message_parser::event;

bool verbose() {
  static const bool on = std::getenv("RINGO_FUZZ_VERBOSE") != nullptr;
  return on;
}

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "request_fuzz: invariant broken: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

struct message {
  std::string method, url;
  int version_major = 0, version_minor = 0;
  std::vector<std::pair<std::string, std::string>> fields;
  bool chunked = false, has_content_length = false, keep_alive = false;
  std::uint64_t content_length = 0;
  std::string body;
  bool complete = false;
  bool operator==(const message&) const = default;
};

struct outcome {
  std::vector<message> messages;
  bool error = false;  // the parser rejected the stream (the server answers 400 and closes)
  llhttp_errno_t code = HPE_OK;
  std::size_t consumed = 0;  // bytes of the stream the parser used
  bool operator==(const outcome&) const = default;
};

// The server's checks on a complete head (server_conn::serve_request, Go's readRequest).
bool server_accepts(const message_parser& p) {
  if (p.version_major != 1) return false;
  auto te = p.fields.get("Transfer-Encoding");
  if (te && !iequals(*te, "chunked")) return false;
  if (p.error() != HPE_OK) return false;
  auto hosts = p.fields.values("Host");
  if (hosts.size() > 1 || (p.version_minor >= 1 && hosts.empty())) return false;
  return true;
}

// Content-Length as the field says: digits only, no overflow; -1 otherwise.
long double field_length(std::string_view v) {
  if (v.empty()) return -1;
  long double n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

// A head the server accepts must say its framing once and plainly.
void check_framing(const message_parser& p) {
  if (!server_accepts(p)) return;
  std::size_t cl = 0, te = 0;
  std::string_view cl_value;
  for (const auto& f : p.fields) {
    if (iequals(f.name, "Content-Length")) ++cl, cl_value = f.value;
    if (iequals(f.name, "Transfer-Encoding")) ++te;
    // llhttp strict mode: header names are tokens, values have no CR or LF (no obs-fold).
    check(!f.name.empty(), "empty header name");
    for (char c : f.name)
      check(c > ' ' && c != ':' && c != 0x7f && static_cast<unsigned char>(c) < 0x80,
            "header name with a separator or control byte");
    for (char c : f.value)
      check(c != '\r' && c != '\n' && c != '\0', "header value with CR/LF/NUL");
    if (!f.value.empty())
      for (char c : {f.value.front(), f.value.back()})
        check(c != ' ' && c != '\t', "header value with whitespace around it");
  }
  check(cl <= 1, "accepted duplicate Content-Length");
  check(!(cl && te), "accepted Content-Length with Transfer-Encoding");
  check(te <= 1 || p.chunked(), "accepted several Transfer-Encodings without chunked framing");
  check(p.chunked() == (te > 0), "chunked framing does not match Transfer-Encoding");
  check(p.has_content_length() == (cl > 0), "Content-Length flag does not match the fields");
  if (cl) {
    long double n = field_length(cl_value);
    check(n >= 0, "accepted a Content-Length that is not a decimal number");
    check(n == static_cast<long double>(p.content_length()), "Content-Length value mismatch");
  }
  check(!p.method.empty(), "empty method");
  check(!p.url.empty(), "empty target");
}

// Parses `stream` arriving in reads: first `split` bytes, then the rest, no read larger than
// `cap` bytes. Mirrors server_conn: read_head, then body::read until message_done, then the next
// request from the bytes left over.
outcome parse(std::string_view stream, std::size_t split, std::size_t cap) {
  outcome out;
  std::string in;  // the connection buffer: bytes [begin, in.size()) not yet parsed
  std::size_t begin = 0, delivered = 0;
  auto fill = [&]() -> bool {
    if (delivered == stream.size()) return false;
    std::size_t limit = delivered < split ? split : stream.size();
    std::size_t n = std::min(limit - delivered, cap);
    // Compact like h1::read_buffer::fill; the parser keeps no pointer into the buffer between
    // feeds.
    in.erase(0, begin);
    begin = 0;
    in.append(stream.substr(delivered, n));
    delivered += n;
    return true;
  };

  message_parser p(HTTP_REQUEST);
  std::size_t body_total = 0;
  for (;;) {
    p.reset();
    if (begin == in.size() && !fill()) break;  // end of stream between requests
    message m;
    bool head = false;
    // One feed per loop; a feed that stops short of its input (a pause) is fed again before
    // reading more.
    std::size_t stalls = 0;
    for (;;) {
      std::string_view data(in.data() + begin, in.size() - begin);
      auto step = p.feed(data);
      check(step.consumed <= data.size(), "consumed more than the input");
      begin += step.consumed;
      out.consumed += step.consumed;
      check(out.consumed <= delivered, "consumed more than was delivered");
      if (step.what == event::error) {
        out.error = true;
        out.code = p.error();
        out.consumed = 0;  // where the error is found depends on how the input was cut
        check(p.error() != HPE_OK, "error event without an error code");
        check(p.feed("x").what == event::error, "an error is not sticky");
        if (head) m.complete = false, out.messages.push_back(m);
        if (verbose())
          std::fprintf(stderr, "error %s: %s\n", llhttp_errno_name(p.error()), p.error_reason());
        return out;
      }
      bool head_now = step.what == event::head_done ||
                      (!head && (step.what == event::body || step.what == event::message_done) &&
                       p.head_complete());
      if (head_now && !head) {
        check(p.head_complete(), "head event before the head is complete");
        head = true;
        m.method = p.method, m.url = p.url;
        m.version_major = p.version_major, m.version_minor = p.version_minor;
        for (const auto& f : p.fields) m.fields.emplace_back(f.name, f.value);
        m.chunked = p.chunked(), m.has_content_length = p.has_content_length();
        m.content_length = p.content_length();
        m.keep_alive = p.keep_alive();
        check_framing(p);
      }
      if (step.what == event::body) {
        check(head, "body before the head");
        check(!step.body.empty(), "empty body piece");
        check(step.body.data() >= data.data() &&
                  step.body.data() + step.body.size() <= data.data() + step.consumed,
              "body piece outside the bytes consumed");
        m.body.append(step.body);
        body_total += step.body.size();
        check(body_total <= delivered, "more body bytes than input bytes");
        if (m.has_content_length && !m.chunked)
          check(m.body.size() <= m.content_length, "body longer than Content-Length");
      }
      if (step.what == event::message_done) {
        check(head, "message done without a head");
        check(p.message_complete(), "message done but not complete");
        check(p.feed("GET / HTTP/1.1\r\n").what == event::message_done,
              "a complete message takes more input before reset");
        if (m.has_content_length && !m.chunked && server_accepts(p))
          check(m.body.size() == m.content_length, "body length differs from Content-Length");
        m.complete = true;
        break;
      }
      // need_more may leave bytes unconsumed: a request's method is taken whole (feed() waits
      // for its end), and those bytes stay buffered for the next read.
      if (step.what == event::need_more && step.consumed > 0 && step.consumed < data.size()) {
        check(++stalls < 1000, "the parser makes no progress");
        continue;
      }
      if (step.what != event::need_more) continue;  // head_done or body: feed on
      if (!fill()) {                                // end of stream inside a message
        if (head) out.messages.push_back(m);
        return out;
      }
    }
    if (verbose())
      std::fprintf(stderr, "%s %s HTTP/%d.%d, %zu fields, body %zu bytes%s\n", m.method.c_str(),
                   m.url.c_str(), m.version_major, m.version_minor, m.fields.size(), m.body.size(),
                   m.chunked ? " (chunked)" : "");
    out.messages.push_back(std::move(m));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);
  std::size_t split = data[0] * stream.size() / 255;
  std::size_t cap = data[1] == 0 ? stream.size() + 1 : data[1];

  outcome whole = parse(stream, stream.size(), stream.size() + 1);
  outcome pieces = parse(stream, split, cap);
  check(whole == pieces, "splitting the input changed what it parses to");
  check(whole.consumed <= stream.size(), "consumed more than the stream");
  return 0;
}
