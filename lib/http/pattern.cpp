#include "pattern.hpp"

#include <algorithm>
#include <cstddef>

namespace ringo::http::detail {
namespace {

constexpr auto npos = std::string_view::npos;

// RFC 9110 §5.6.2 tchar: what a method is made of (Go's validMethod).
bool is_tchar(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != npos;
}

bool valid_method(std::string_view m) noexcept {
  return !m.empty() && std::all_of(m.begin(), m.end(), is_tchar);
}

// Go wants wildcard names to be Go identifiers. Without Unicode tables a UTF-8 letter cannot be
// told from other code points, so every non-ASCII byte passes as a letter.
bool is_name_start(char c) noexcept {
  auto u = static_cast<unsigned char>(c);
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || u >= 0x80;
}

bool valid_wildcard_name(std::string_view s) noexcept {
  if (s.empty() || !is_name_start(s.front())) return false;
  return std::all_of(s.begin() + 1, s.end(),
                     [](char c) { return is_name_start(c) || (c >= '0' && c <= '9'); });
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

mux_error invalid(std::string_view s, std::string what) {
  return {mux_error::kind::invalid_pattern,
          std::string(s),
          {},
          "parsing " + quote(s) + ": " + std::move(what)};
}

mux_error invalid_at(std::string_view s, std::size_t offset, std::string_view what) {
  return invalid(s, "at offset " + std::to_string(offset) + ": " + std::string(what));
}

bool is_blank(char c) noexcept {
  return c == ' ' || c == '\t';
}

relationship compare_segments(const segment& s1, const segment& s2) noexcept {
  using enum relationship;
  if (s1.multi() && s2.multi()) return equivalent;
  if (s1.multi()) return more_general;
  if (s2.multi()) return more_specific;
  if (s1.wild() && s2.wild()) return equivalent;
  // A single wildcard never matches the trailing slash that {$} stands for.
  if (s1.wild()) return s2.dollar() ? disjoint : more_general;
  if (s2.wild()) return s1.dollar() ? disjoint : more_specific;
  if (s1.dollar() || s2.dollar()) return s1.dollar() == s2.dollar() ? equivalent : disjoint;
  return s1.s == s2.s ? equivalent : disjoint;
}

// The relationship of two patterns from the relationships of two parts of them: more general in
// one part and more specific in the other makes an overlap.
relationship combine(relationship r1, relationship r2) noexcept {
  using enum relationship;
  switch (r1) {
    case equivalent:
      return r2;
    case disjoint:
      return disjoint;
    case overlaps:
      return r2 == disjoint ? disjoint : overlaps;
    case more_general:
    case more_specific:
      if (r2 == equivalent) return r1;
      if (r2 == inverse(r1)) return overlaps;
      return r2;
  }
  return disjoint;
}

void write_segment(std::string& b, const segment& s) {
  b += '/';
  if (s.k == segment::kind::literal || s.k == segment::kind::wild) b += s.s;
}

void write_matching_path(std::string& b, const std::vector<segment>& segs, std::size_t from) {
  for (std::size_t i = from; i < segs.size(); ++i) write_segment(b, segs[i]);
}

}  // namespace

std::string quote(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

result<pattern, mux_error> parse_pattern(std::string_view s) {
  if (s.empty()) return invalid(s, "empty pattern");
  pattern p;
  p.str = s;

  // The method, if any, ends at the first blank; Go 1.23 accepts any run of blanks after it.
  std::string_view rest = s;
  std::size_t base = 0;  // where `rest` starts in `s`, for error offsets
  if (auto blank = s.find_first_of(" \t"); blank != npos) {
    p.method = s.substr(0, blank);
    base = blank + 1;
    while (base < s.size() && is_blank(s[base])) ++base;
    rest = s.substr(base);
    while (!rest.empty() && is_blank(rest.back())) rest.remove_suffix(1);
    if (!p.method.empty() && !valid_method(p.method)) {
      return invalid_at(s, 0, "invalid method " + quote(p.method));
    }
  }

  auto slash = rest.find('/');
  if (slash == npos) return invalid_at(s, base, "host/path missing /");
  p.host = rest.substr(0, slash);
  if (auto brace = p.host.find('{'); brace != npos) {
    return invalid_at(s, base + brace, "host contains '{' (missing initial '/'?)");
  }
  std::string_view path = rest.substr(slash);
  std::size_t off = base + slash;

  // Requests other than CONNECT are redirected to their clean path before matching, so such a
  // pattern would never be reached.
  if (!p.method.empty() && p.method != "CONNECT" && path != clean_path(path)) {
    return invalid_at(s, off, "non-CONNECT pattern with unclean path can never match");
  }

  std::vector<std::string_view> names;  // to catch duplicates
  while (!path.empty()) {
    path.remove_prefix(1);  // the '/'
    ++off;
    if (path.empty()) {  // a trailing slash: the path is a prefix
      p.segments.push_back({segment::kind::multi, ""});
      break;
    }
    std::size_t end = std::min(path.find('/'), path.size());
    std::string_view seg = path.substr(0, end);
    std::size_t seg_off = off;
    path.remove_prefix(end);
    off += end;

    auto brace = seg.find('{');
    if (brace == npos) {
      p.segments.push_back({segment::kind::literal, path_unescape(seg)});
      continue;
    }
    if (brace != 0) return invalid_at(s, seg_off, "bad wildcard segment (must start with '{')");
    if (seg.back() != '}')
      return invalid_at(s, seg_off, "bad wildcard segment (must end with '}')");
    std::string_view name = seg.substr(1, seg.size() - 2);
    if (name == "$") {
      if (!path.empty()) return invalid_at(s, seg_off, "{$} not at end");
      p.segments.push_back({segment::kind::dollar, ""});
      break;
    }
    bool multi = name.ends_with("...");
    if (multi) {
      name.remove_suffix(3);
      if (!path.empty()) return invalid_at(s, seg_off, "{...} wildcard not at end");
    }
    if (name.empty()) return invalid_at(s, seg_off, "empty wildcard");
    if (!valid_wildcard_name(name)) {
      return invalid_at(s, seg_off, "bad wildcard name " + quote(name));
    }
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      return invalid_at(s, seg_off, "duplicate wildcard name " + quote(name));
    }
    names.push_back(name);
    p.segments.push_back({multi ? segment::kind::multi : segment::kind::wild, std::string(name)});
  }
  return p;
}

std::string_view to_string(relationship r) noexcept {
  switch (r) {
    case relationship::equivalent:
      return "equivalent";
    case relationship::more_general:
      return "more general";
    case relationship::more_specific:
      return "more specific";
    case relationship::disjoint:
      return "disjoint";
    case relationship::overlaps:
      return "overlaps";
  }
  return "?";
}

relationship inverse(relationship r) noexcept {
  if (r == relationship::more_general) return relationship::more_specific;
  if (r == relationship::more_specific) return relationship::more_general;
  return r;
}

// No method matches every method; GET matches GET and HEAD; any other method only itself.
relationship compare_methods(const pattern& p1, const pattern& p2) noexcept {
  using enum relationship;
  if (p1.method == p2.method) return equivalent;
  if (p1.method.empty()) return more_general;
  if (p2.method.empty()) return more_specific;
  if (p1.method == "GET" && p2.method == "HEAD") return more_general;
  if (p1.method == "HEAD" && p2.method == "GET") return more_specific;
  return disjoint;
}

relationship compare_paths(const pattern& p1, const pattern& p2) noexcept {
  using enum relationship;
  const auto& a = p1.segments;
  const auto& b = p2.segments;
  // Without a final multi wildcard a pattern only matches paths of its own length.
  if (a.size() != b.size() && !p1.last_segment().multi() && !p2.last_segment().multi()) {
    return disjoint;
  }
  relationship rel = equivalent;
  std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    rel = combine(rel, compare_segments(a[i], b[i]));
    if (rel == disjoint) return rel;
  }
  if (a.size() == b.size()) return rel;
  // The shorter pattern can only match the longer's extra segments with its final multi, which is
  // more general than whatever they are.
  if (a.size() < b.size() && p1.last_segment().multi()) return combine(rel, more_general);
  if (b.size() < a.size() && p2.last_segment().multi()) return combine(rel, more_specific);
  return disjoint;
}

relationship compare_paths_and_methods(const pattern& p1, const pattern& p2) noexcept {
  relationship mrel = compare_methods(p1, p2);
  if (mrel == relationship::disjoint) return mrel;
  return combine(mrel, compare_paths(p1, p2));
}

bool conflicts_with(const pattern& p1, const pattern& p2) noexcept {
  // Different hosts: either one has none and the other wins, or they never match the same request.
  if (p1.host != p2.host) return false;
  relationship rel = compare_paths_and_methods(p1, p2);
  return rel == relationship::equivalent || rel == relationship::overlaps;
}

std::string describe_conflict(const pattern& p1, const pattern& p2) {
  relationship mrel = compare_methods(p1, p2);
  relationship prel = compare_paths(p1, p2);
  relationship rel = combine(mrel, prel);
  const std::string& a = p1.str;
  const std::string& b = p2.str;
  if (rel == relationship::equivalent) return a + " matches the same requests as " + b;
  if (prel == relationship::overlaps) {
    return a + " and " + b + " both match some paths, like " + quote(common_path(p1, p2)) +
           ".\nBut neither is more specific than the other.\n" + a + " matches " +
           quote(difference_path(p1, p2)) + ", but " + b + " doesn't.\n" + b + " matches " +
           quote(difference_path(p2, p1)) + ", but " + a + " doesn't.";
  }
  if (mrel == relationship::more_general && prel == relationship::more_specific) {
    return a + " matches more methods than " + b + ", but has a more specific path pattern";
  }
  if (mrel == relationship::more_specific && prel == relationship::more_general) {
    return a + " matches fewer methods than " + b + ", but has a more general path pattern";
  }
  return "patterns " + a + " and " + b + " conflict (methods " + std::string(to_string(mrel)) +
         ", paths " + std::string(to_string(prel)) + ")";
}

std::string common_path(const pattern& p1, const pattern& p2) {
  const auto& a = p1.segments;
  const auto& b = p2.segments;
  std::string path;
  std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) write_segment(path, a[i].wild() ? b[i] : a[i]);
  write_matching_path(path, a.size() > n ? a : b, n);
  return path;
}

std::string difference_path(const pattern& p1, const pattern& p2) {
  const auto& a = p1.segments;
  const auto& b = p2.segments;
  std::string path;
  std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const segment& s1 = a[i];
    const segment& s2 = b[i];
    if (s1.multi() && s2.multi()) {
      // From here on both match the same paths: the difference came earlier.
      path += '/';
      return path;
    }
    if (s1.multi()) {
      // A trailing slash tells them apart, unless p2 ends in {$}: then any segment does.
      path += '/';
      if (s2.dollar()) path += s1.s.empty() ? std::string("x") : s1.s;
      return path;
    }
    if (s1.k == segment::kind::wild && !s2.wild() && !s2.dollar() && s1.s == s2.s) {
      // Any segment but the literal will do; the wildcard's name happens to be the literal.
      path += '/' + s2.s + 'x';
      continue;
    }
    write_segment(path, s1);
  }
  write_matching_path(path, a.size() > n ? a : b, n);
  return path;
}

std::string clean_path(std::string_view p) {
  if (p.empty()) return "/";
  std::string out = "/";
  out.reserve(p.size() + 1);
  std::size_t i = 0;
  while (i < p.size()) {
    if (p[i] == '/') {
      ++i;
      continue;
    }
    std::size_t end = std::min(p.find('/', i), p.size());
    std::string_view elem = p.substr(i, end - i);
    i = end;
    if (elem == ".") continue;
    if (elem == "..") {
      // Up one element; ".." at the root stays at the root.
      std::size_t last = out.rfind('/');
      out.resize(last == 0 ? 1 : last);
      continue;
    }
    if (out.size() > 1) out += '/';
    out += elem;
  }
  if (p.back() == '/' && out.size() > 1) out += '/';
  return out;
}

bool path_is_clean(std::string_view p) noexcept {
  if (p.empty() || p.front() != '/') return false;
  // Every element after a slash must be a name: not empty ("//"), "." or "..". A trailing slash
  // ends the loop before its (empty) element.
  for (std::size_t i = 1; i < p.size();) {
    std::size_t end = std::min(p.find('/', i), p.size());
    std::string_view elem = p.substr(i, end - i);
    if (elem.empty() || elem == "." || elem == "..") return false;
    i = end + 1;
  }
  return true;
}

std::string path_unescape(std::string_view s) {
  if (s.find('%') == npos) return std::string(s);
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
    int lo = hi >= 0 ? hex_value(s[i + 2]) : -1;
    if (lo < 0) return std::string(s);
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::string_view strip_host_port(std::string_view host) noexcept {
  auto colon = host.rfind(':');
  if (colon == npos) return host;
  if (host.front() == '[') {
    // "[v6]:port" splits; "[v6]" or "[v6]junk" does not.
    auto close = host.find(']');
    if (close == npos || close + 1 != colon) return host;
    return host.substr(1, close - 1);
  }
  auto name = host.substr(0, colon);
  // More colons: a bare IPv6 address, which net.SplitHostPort refuses too.
  if (name.find_first_of(":[]") != npos) return host;
  return name;
}

}  // namespace ringo::http::detail
