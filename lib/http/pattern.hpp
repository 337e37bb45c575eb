// pattern: a parsed ServeMux pattern (Go's net/http pattern.go), `[METHOD ][HOST]/[PATH]`, and the
// relations between two patterns that decide precedence and conflicts.
//
// A path is kept as segments rather than as text, which makes every comparison a walk over two
// lists: a trailing slash becomes an unnamed multi wildcard ("/a/" is `a` then `...`), `{$}`
// becomes a segment of its own kind, and literals are stored percent-decoded (Go 1.22: patterns
// are unescaped segment by segment, so "/%62" matches the path "/b").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ringo/http/mux.hpp"
#include "ringo/runtime/result.hpp"

namespace ringo::http::detail {

struct segment {
  enum class kind {
    literal,  // matches a path segment equal to `s` (after decoding)
    wild,     // {s}: matches one segment, any value but the trailing slash
    multi,    // {s...} or a trailing slash (s empty): matches the rest of the path
    dollar,   // {$}: matches only the trailing slash
  };
  kind k = kind::literal;
  std::string s;  // the decoded literal or the wildcard's name

  bool wild() const noexcept { return k == kind::wild || k == kind::multi; }
  bool multi() const noexcept { return k == kind::multi; }
  bool dollar() const noexcept { return k == kind::dollar; }
  bool operator==(const segment&) const = default;
};

struct pattern {
  std::string str;     // as registered, for messages and request::pattern
  std::string method;  // "" matches every method; "GET" matches HEAD too
  std::string host;    // "" matches every host
  std::vector<segment> segments;
  std::string loc;  // where it was registered ("file:line"), for conflict messages

  const segment& last_segment() const noexcept { return segments.back(); }
};

// Parses `s`; errors read like Go's: `parsing "/{x": at offset 1: bad wildcard segment`.
result<pattern, mux_error> parse_pattern(std::string_view s);

// How pattern p1 relates to p2 by the requests each matches.
enum class relationship {
  equivalent,     // both match the same requests
  more_general,   // p1 matches everything p2 does, and more
  more_specific,  // p2 matches everything p1 does, and more
  disjoint,       // no request matches both
  overlaps,       // some request matches both, but neither is more specific
};
std::string_view to_string(relationship r) noexcept;
relationship inverse(relationship r) noexcept;

relationship compare_methods(const pattern& p1, const pattern& p2) noexcept;
relationship compare_paths(const pattern& p1, const pattern& p2) noexcept;
relationship compare_paths_and_methods(const pattern& p1, const pattern& p2) noexcept;

// Whether some request matches both patterns with neither taking precedence: the two cannot both
// be registered. A pattern with a host always wins over one without, so only equal hosts conflict.
bool conflicts_with(const pattern& p1, const pattern& p2) noexcept;
// Why two conflicting patterns conflict, naming example paths when their paths overlap.
std::string describe_conflict(const pattern& p1, const pattern& p2);
// A path both patterns match (they must overlap), and one p1 matches but p2 does not.
std::string common_path(const pattern& p1, const pattern& p2);
std::string difference_path(const pattern& p1, const pattern& p2);

// The canonical form of an (escaped) request path: "." and ".." resolved, repeated slashes
// collapsed, a leading slash added, a trailing slash kept (Go's cleanPath).
std::string clean_path(std::string_view p);
// Whether clean_path(p) == p, without building the clean path (most requests' paths are clean).
bool path_is_clean(std::string_view p) noexcept;
// `s` with %XX escapes decoded (no '+' to space: this is a path); `s` itself when an escape is
// malformed, as Go's pathUnescape does.
std::string path_unescape(std::string_view s);
// `s` in double quotes with '"', '\\' and control bytes escaped (Go's %q, for messages).
std::string quote(std::string_view s);
// A request's Host without a trailing ":port" (Go's stripHostPort; unchanged if it will not split).
std::string_view strip_host_port(std::string_view host) noexcept;

}  // namespace ringo::http::detail
