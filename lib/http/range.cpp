#include "range.hpp"

#include <charconv>

#include "http_time.hpp"

namespace ringo::http::detail {

namespace {

// textproto.TrimString: spaces and tabs (and CR, LF) at both ends.
std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// strconv.ParseInt(s, 10, 64) for a non-negative value: an optional '+', digits, no overflow.
std::optional<std::uint64_t> parse_count(std::string_view s) {
  if (s.starts_with('+')) s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > std::uint64_t(INT64_MAX))
    return std::nullopt;
  return v;
}

std::chrono::sys_seconds seconds(sys_time t) {
  return std::chrono::floor<std::chrono::seconds>(t);
}

}  // namespace

std::string byte_range::content_range(std::uint64_t size) const {
  return "bytes " + std::to_string(start) + "-" + std::to_string(start + length - 1) + "/" +
         std::to_string(size);
}

result<std::vector<byte_range>, range_error> parse_range(std::string_view header,
                                                         std::uint64_t size) {
  std::vector<byte_range> out;
  if (header.empty()) return out;
  constexpr std::string_view prefix = "bytes=";
  if (!header.starts_with(prefix)) return range_error::invalid;
  header.remove_prefix(prefix.size());
  bool no_overlap = false;
  while (true) {
    const std::size_t comma = header.find(',');
    std::string_view ra = trim(header.substr(0, comma));
    if (!ra.empty()) {
      const std::size_t dash = ra.find('-');
      if (dash == std::string_view::npos) return range_error::invalid;
      const std::string_view first = trim(ra.substr(0, dash)), last = trim(ra.substr(dash + 1));
      byte_range r;
      if (first.empty()) {
        // "-N": the last N bytes (a suffix length, never negative: RFC 9110 §14.1.1).
        if (last.empty() || last.front() == '-') return range_error::invalid;
        std::optional<std::uint64_t> n = parse_count(last);
        if (!n) return range_error::invalid;
        r.start = size - std::min(*n, size);
        r.length = size - r.start;
        out.push_back(r);
      } else {
        std::optional<std::uint64_t> start = parse_count(first);
        if (!start) return range_error::invalid;
        if (*start >= size) {
          no_overlap = true;  // begins past the end: does not overlap
        } else {
          r.start = *start;
          if (last.empty()) {
            r.length = size - r.start;
          } else {
            std::optional<std::uint64_t> end = parse_count(last);
            if (!end || r.start > *end) return range_error::invalid;
            r.length = std::min(*end, size - 1) - r.start + 1;
          }
          out.push_back(r);
        }
      }
    }
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  if (no_overlap && out.empty()) return range_error::no_overlap;
  return out;
}

std::uint64_t sum_ranges(const std::vector<byte_range>& ranges) {
  std::uint64_t sum = 0;
  for (const byte_range& r : ranges) sum += r.length;
  return sum;
}

std::pair<std::string_view, std::string_view> scan_etag(std::string_view s) {
  s = trim(s);
  const std::size_t start = s.starts_with("W/") ? 2 : 0;
  if (s.size() - start < 2 || s[start] != '"') return {};
  for (std::size_t i = start + 1; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"') return {s.substr(0, i + 1), s.substr(i + 1)};
    // RFC 9110 §8.8.3's etagc: '!', '#'..'~', and obs-text.
    if (!(c == 0x21 || (c >= 0x23 && c <= 0x7E) || c >= 0x80)) return {};
  }
  return {};
}

bool etag_strong_match(std::string_view a, std::string_view b) {
  return a == b && !a.empty() && a.front() == '"';
}

bool etag_weak_match(std::string_view a, std::string_view b) {
  if (a.starts_with("W/")) a.remove_prefix(2);
  if (b.starts_with("W/")) b.remove_prefix(2);
  return a == b;
}

cond check_if_match(std::optional<std::string_view> field, std::string_view etag) {
  if (!field || field->empty()) return cond::none;
  std::string_view im = *field;
  for (;;) {
    im = trim(im);
    if (im.empty()) break;
    if (im.front() == ',') {
      im.remove_prefix(1);
      continue;
    }
    if (im.front() == '*') return cond::is_true;
    auto [tag, rest] = scan_etag(im);
    if (tag.empty()) break;
    if (etag_strong_match(tag, etag)) return cond::is_true;
    im = rest;
  }
  return cond::is_false;
}

cond check_if_unmodified_since(std::optional<std::string_view> field, sys_time modtime) {
  if (!field || field->empty() || modtime == sys_time{}) return cond::none;
  std::optional<std::chrono::sys_seconds> t = parse_http_time(*field);
  if (!t) return cond::none;
  // Last-Modified has whole seconds: compare whole seconds.
  return seconds(modtime) <= *t ? cond::is_true : cond::is_false;
}

cond check_if_none_match(std::optional<std::string_view> field, std::string_view etag) {
  if (!field || field->empty()) return cond::none;
  std::string_view buf = *field;
  for (;;) {
    buf = trim(buf);
    if (buf.empty()) break;
    if (buf.front() == ',') {
      buf.remove_prefix(1);
      continue;
    }
    if (buf.front() == '*') return cond::is_false;
    auto [tag, rest] = scan_etag(buf);
    if (tag.empty()) break;
    if (etag_weak_match(tag, etag)) return cond::is_false;
    buf = rest;
  }
  return cond::is_true;
}

cond check_if_modified_since(std::string_view method, std::optional<std::string_view> field,
                             sys_time modtime) {
  if (method != "GET" && method != "HEAD") return cond::none;
  if (!field || field->empty() || modtime == sys_time{}) return cond::none;
  std::optional<std::chrono::sys_seconds> t = parse_http_time(*field);
  if (!t) return cond::none;
  return seconds(modtime) <= *t ? cond::is_false : cond::is_true;
}

cond check_if_range(std::string_view method, std::optional<std::string_view> field,
                    std::string_view etag, sys_time modtime) {
  if (method != "GET" && method != "HEAD") return cond::none;
  if (!field || field->empty()) return cond::none;
  auto [tag, rest] = scan_etag(*field);
  if (!tag.empty()) return etag_strong_match(tag, etag) ? cond::is_true : cond::is_false;
  // The value may be a date instead (go.dev/issue/8367): it must be the modification time.
  if (modtime == sys_time{}) return cond::is_false;
  std::optional<std::chrono::sys_seconds> t = parse_http_time(*field);
  if (!t) return cond::is_false;
  return *t == seconds(modtime) ? cond::is_true : cond::is_false;
}

}  // namespace ringo::http::detail
