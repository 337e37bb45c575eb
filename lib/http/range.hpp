// The parts of serveContent that are rules on strings (Go's net/http/fs.go): Range parsing, ETag
// scanning and matching, and the five conditional checks, each answering none / true / false.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <ringo/runtime/result.hpp>

namespace ringo::http::detail {

struct byte_range {
  std::uint64_t start = 0;
  std::uint64_t length = 0;
  // "bytes 0-9/100"
  std::string content_range(std::uint64_t size) const;
  friend bool operator==(const byte_range&, const byte_range&) = default;
};

enum class range_error {
  invalid,     // "invalid range"
  no_overlap,  // "invalid range: failed to overlap": every range starts past the end
};

// Go's parseRange: a "bytes=" Range against content of `size` bytes. An empty header: no ranges.
result<std::vector<byte_range>, range_error> parse_range(std::string_view header,
                                                         std::uint64_t size);
std::uint64_t sum_ranges(const std::vector<byte_range>& ranges);

// An entity tag at the start of `s` (`"x"` or `W/"x"`) and what follows it; an empty tag when
// there is none (Go's scanETag).
std::pair<std::string_view, std::string_view> scan_etag(std::string_view s);
bool etag_strong_match(std::string_view a, std::string_view b);
bool etag_weak_match(std::string_view a, std::string_view b);

enum class cond { none, is_true, is_false };
using sys_time = std::chrono::system_clock::time_point;

// RFC 9110 §13.1, as Go's checkIf* functions: `field` is the request's field, `etag` the
// response's ETag ("" for none).
cond check_if_match(std::optional<std::string_view> field, std::string_view etag);
cond check_if_unmodified_since(std::optional<std::string_view> field, sys_time modtime);
cond check_if_none_match(std::optional<std::string_view> field, std::string_view etag);
cond check_if_modified_since(std::string_view method, std::optional<std::string_view> field,
                             sys_time modtime);
cond check_if_range(std::string_view method, std::optional<std::string_view> field,
                    std::string_view etag, sys_time modtime);

}  // namespace ringo::http::detail
