// HTTP dates (Go's http.TimeFormat and http.ParseTime): Last-Modified, If-Modified-Since,
// cookies' Expires.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace ringo::http::detail {

using sys_seconds = std::chrono::sys_seconds;

// "Mon, 02 Jan 2006 15:04:05 GMT" (IMF-fixdate, always GMT), truncated to the second.
std::string format_http_time(std::chrono::system_clock::time_point t);
std::string format_http_time(sys_seconds t);
// IMF-fixdate, RFC 850 ("Monday, 02-Jan-06 15:04:05 GMT") or asctime ("Mon Jan  2 15:04:05
// 2006"), as Go's ParseTime; nullopt for anything else.
std::optional<sys_seconds> parse_http_time(std::string_view s);
// A cookie's Expires (Go's readSetCookies): RFC 1123 ("Mon, 02 Jan 2006 15:04:05 MST") or with
// dashes ("Mon, 02-Jan-2006 15:04:05 MST"); the zone is taken as GMT.
std::optional<sys_seconds> parse_cookie_time(std::string_view s);

}  // namespace ringo::http::detail
