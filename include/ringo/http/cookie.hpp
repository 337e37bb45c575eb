// cookie: an HTTP cookie as Set-Cookie and Cookie carry it (Go's http.Cookie, net/http/cookie.go):
// parsing both fields with Go's rules (invalid names and values dropped, unknown attributes kept
// in `unparsed`), and writing one back (Go's Cookie.String, which sanitizes what it cannot send).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <ringo/http/headers.hpp>

namespace ringo::http {

enum class same_site { unset, default_mode, lax, strict, none };

struct cookie {
  std::string name;
  std::string value;
  bool quoted = false;  // the value was (or is to be) sent in double quotes
  std::string path;
  std::string domain;
  // In whole seconds (what the field carries), which also reaches Go's 1601 floor and year
  // 9999: a system_clock::time_point in nanoseconds spans only 1678-2262. The epoch: none.
  std::chrono::sys_seconds expires{};
  std::string raw_expires;  // as received
  // Go's MaxAge: 0 means none given, a negative value "delete now" (Max-Age=0 or less).
  int max_age = 0;
  bool secure = false;
  bool http_only = false;
  http::same_site same_site = same_site::unset;
  bool partitioned = false;
  std::string raw;                    // the whole Set-Cookie line, when parsed from one
  std::vector<std::string> unparsed;  // attributes not understood, as received

  // The Set-Cookie value (or, with only a name and value, a Cookie pair): Go's Cookie.String.
  // Empty for an invalid name.
  std::string string() const;
};

// Every cookie in the Set-Cookie fields of `h` (Go's readSetCookies / Response.Cookies).
std::vector<cookie> read_set_cookies(const headers& h);
// One Set-Cookie value; nullopt when Go would drop it.
std::optional<cookie> parse_set_cookie(std::string_view line);
// The cookies in the Cookie fields of `h`, those named `filter` only when it is not empty (Go's
// readCookies / Request.Cookies).
std::vector<cookie> read_cookies(const headers& h, std::string_view filter = {});
// Adds name=value to the Cookie field of `h` (Go's Request.AddCookie): one field, "; "-joined.
void add_cookie(headers& h, const cookie& c);

}  // namespace ringo::http
