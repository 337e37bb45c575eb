// Go's net/http/cookie.go: readSetCookies, readCookies, Cookie.String and their sanitizers.
#include "ringo/http/cookie.hpp"

#include <charconv>

#include "http_time.hpp"

namespace ringo::http {

namespace {

std::string_view trim(std::string_view s) {
  const auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

bool is_token_char(unsigned char c) {
  if (c <= 0x20 || c >= 0x7f) return false;
  return std::string_view("()<>@,;:\\\"/[]?={}").find(char(c)) == std::string_view::npos;
}

bool valid_name(std::string_view name) {
  if (name.empty()) return false;
  for (unsigned char c : name)
    if (!is_token_char(c)) return false;
  return true;
}

// RFC 6265 §4.1.1's cookie-octet, loosened as Go loosens it: space and comma are allowed.
bool valid_value_byte(unsigned char b) {
  return b >= 0x20 && b < 0x7f && b != '"' && b != ';' && b != '\\';
}

bool valid_path_byte(unsigned char b) {
  return b >= 0x20 && b < 0x7f && b != ';';
}

// Go's parseCookieValue: strips one pair of double quotes when allowed.
std::optional<std::string> parse_value(std::string_view raw, bool allow_quote, bool* quoted) {
  if (allow_quote && raw.size() > 1 && raw.front() == '"' && raw.back() == '"') {
    raw = raw.substr(1, raw.size() - 2);
    if (quoted) *quoted = true;
  }
  for (unsigned char c : raw)
    if (!valid_value_byte(c)) return std::nullopt;
  return std::string(raw);
}

std::optional<std::string> ascii_lower(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x80) return std::nullopt;
    out += char(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  return out;
}

// Go's isCookieDomainName: labels of letters, digits, '-' (not at a label's ends) and '_', at
// least one letter somewhere, a leading dot allowed, 255 bytes at most.
bool valid_domain_name(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  if (s.front() == '.') s.remove_prefix(1);
  bool letter = false, part_ok = false;
  char last = '.';
  std::size_t part_len = 0;
  for (char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
      letter = part_ok = true;
      ++part_len;
    } else if (c >= '0' && c <= '9') {
      part_ok = true;
      ++part_len;
    } else if (c == '-') {
      if (last == '.') return false;
      ++part_len;
    } else if (c == '.') {
      if (last == '.' || last == '-' || part_len > 63 || part_len == 0) return false;
      part_len = 0;
    } else {
      return false;
    }
    last = c;
  }
  if (last == '-' || part_len > 63) return false;
  return letter && part_ok;
}

bool is_ip(std::string_view s) {
  if (s.find(':') != std::string_view::npos) return true;  // (an IPv6 literal)
  int dots = 0;
  for (char c : s) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return dots == 3;
}

std::string quote_if_needed(std::string v, bool quoted) {
  std::string clean;
  for (unsigned char c : v)
    if (valid_value_byte(c)) clean += char(c);
  if (clean.empty()) return clean;
  if (quoted || clean.find_first_of(" ,") != std::string::npos) return '"' + clean + '"';
  return clean;
}

}  // namespace

std::optional<cookie> parse_set_cookie(std::string_view line) {
  std::string_view rest = trim(line);
  if (rest.empty()) return std::nullopt;
  std::vector<std::string_view> parts;
  for (;;) {
    const std::size_t semi = rest.find(';');
    parts.push_back(rest.substr(0, semi));
    if (semi == std::string_view::npos) break;
    rest.remove_prefix(semi + 1);
  }
  std::string_view first = trim(parts[0]);
  const std::size_t eq = first.find('=');
  if (eq == std::string_view::npos) return std::nullopt;
  std::string_view name = trim(first.substr(0, eq));
  if (!valid_name(name)) return std::nullopt;
  cookie c;
  std::optional<std::string> value = parse_value(first.substr(eq + 1), true, &c.quoted);
  if (!value) return std::nullopt;
  c.name = std::string(name);
  c.value = std::move(*value);
  c.raw = std::string(line);
  for (std::size_t i = 1; i < parts.size(); ++i) {
    std::string_view part = trim(parts[i]);
    if (part.empty()) continue;
    const std::size_t peq = part.find('=');
    std::optional<std::string> attr = ascii_lower(part.substr(0, peq));
    if (!attr) continue;
    std::optional<std::string> val = parse_value(
        peq == std::string_view::npos ? std::string_view() : part.substr(peq + 1), false, nullptr);
    if (!val) {
      c.unparsed.emplace_back(part);
      continue;
    }
    if (*attr == "samesite") {
      std::optional<std::string> v = ascii_lower(*val);
      c.same_site = !v               ? same_site::default_mode
                    : *v == "lax"    ? same_site::lax
                    : *v == "strict" ? same_site::strict
                    : *v == "none"   ? same_site::none
                                     : same_site::default_mode;
      continue;
    }
    if (*attr == "secure") {
      c.secure = true;
      continue;
    }
    if (*attr == "httponly") {
      c.http_only = true;
      continue;
    }
    if (*attr == "domain") {
      c.domain = *val;
      continue;
    }
    if (*attr == "max-age") {
      int secs = 0;
      auto [end, ec] = std::from_chars(val->data(), val->data() + val->size(), secs);
      // A leading zero (other than "0" itself) is not a number Go accepts here.
      if (ec == std::errc() && end == val->data() + val->size() && !val->empty() &&
          !(secs != 0 && val->front() == '0')) {
        c.max_age = secs <= 0 ? -1 : secs;
        continue;
      }
    } else if (*attr == "expires") {
      c.raw_expires = *val;
      if (std::optional<std::chrono::sys_seconds> t = detail::parse_cookie_time(*val)) {
        c.expires = *t;
        continue;
      }
      c.expires = {};
    } else if (*attr == "path") {
      c.path = *val;
      continue;
    } else if (*attr == "partitioned") {
      c.partitioned = true;
      continue;
    }
    c.unparsed.emplace_back(part);
  }
  return c;
}

std::vector<cookie> read_set_cookies(const headers& h) {
  std::vector<cookie> out;
  for (std::string_view line : h.values("Set-Cookie"))
    if (std::optional<cookie> c = parse_set_cookie(line)) out.push_back(std::move(*c));
  return out;
}

std::vector<cookie> read_cookies(const headers& h, std::string_view filter) {
  std::vector<cookie> out;
  for (std::string_view line : h.values("Cookie")) {
    line = trim(line);
    while (!line.empty()) {
      const std::size_t semi = line.find(';');
      std::string_view part = trim(line.substr(0, semi));
      line = semi == std::string_view::npos ? std::string_view() : line.substr(semi + 1);
      if (part.empty()) continue;
      const std::size_t eq = part.find('=');
      std::string_view name = trim(part.substr(0, eq));
      if (!valid_name(name)) continue;
      if (!filter.empty() && filter != name) continue;
      cookie c;
      std::optional<std::string> v = parse_value(
          eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1), true, &c.quoted);
      if (!v) continue;
      c.name = std::string(name);
      c.value = std::move(*v);
      out.push_back(std::move(c));
    }
  }
  return out;
}

std::string cookie::string() const {
  if (!valid_name(name)) return {};
  std::string b = name + "=" + quote_if_needed(value, quoted);
  if (!path.empty()) {
    b += "; Path=";
    for (unsigned char c : path)
      if (valid_path_byte(c)) b += char(c);
  }
  // A domain that is neither a domain name nor an IP is dropped (the cookie is host-only).
  // (Go's validCookieDomain: an IPv6 address is not a domain a cookie can name.)
  if (!domain.empty() &&
      (valid_domain_name(domain) || (is_ip(domain) && domain.find(':') == std::string::npos))) {
    b += "; Domain=";
    b += domain.front() == '.' ? domain.substr(1) : domain;
  }
  // Go's validCookieExpires: not before 1601 (the epoch here stands for "none").
  if (expires != std::chrono::sys_seconds{} &&
      expires >= std::chrono::sys_days(std::chrono::year(1601) / 1 / 1)) {
    b += "; Expires=";
    b += detail::format_http_time(expires);
  }
  if (max_age > 0)
    b += "; Max-Age=" + std::to_string(max_age);
  else if (max_age < 0)
    b += "; Max-Age=0";
  if (http_only) b += "; HttpOnly";
  if (secure) b += "; Secure";
  switch (same_site) {
    case same_site::none:
      b += "; SameSite=None";
      break;
    case same_site::lax:
      b += "; SameSite=Lax";
      break;
    case same_site::strict:
      b += "; SameSite=Strict";
      break;
    default:
      break;
  }
  if (partitioned) b += "; Partitioned";
  return b;
}

void add_cookie(headers& h, const cookie& c) {
  // Go's AddCookie: the name with CR and LF replaced, the value sanitized.
  std::string name = c.name;
  for (char& ch : name)
    if (ch == '\r' || ch == '\n') ch = '-';
  std::string pair = name + "=" + quote_if_needed(c.value, c.quoted);
  if (std::optional<std::string_view> existing = h.get("Cookie"); existing && !existing->empty())
    h.set("Cookie", std::string(*existing) + "; " + pair);
  else
    h.set("Cookie", pair);
}

}  // namespace ringo::http
