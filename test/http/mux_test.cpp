// The mux's tables follow Go's net/http pattern_test.go, routing_tree_test.go and server_test.go:
// they are the specification of precedence, conflicts and redirects.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include <ringo/http/mux.hpp>
#include <ringo/http/request.hpp>

#include "pattern.hpp"  // lib/http: the relations between patterns are tested directly
#include "ringo_test.hpp"

namespace ringo::http {
namespace {

// mux::handle's refusal as a value (it throws: a programmer's error, Go's panic), for the tables.
std::optional<mux_error> refused(mux& m, std::string_view pattern, http::handler h) {
  try {
    m.handle(pattern, std::move(h));
    return std::nullopt;
  } catch (const mux_error& e) {
    return e;
  }
}

using detail::parse_pattern;
using detail::relationship;
using detail::segment;
using enum detail::relationship;

using ParsePattern = test::RingoTest;
using ComparePatterns = test::RingoTest;
using MuxPaths = test::RingoTest;
using MuxHandle = test::RingoTest;
using MuxMatch = test::RingoTest;
using Request = test::RingoTest;

// A handler that says which registration it came from (read back with std::function::target).
struct tagged {
  int id = 0;
  task<void> operator()(response_writer&, request&) const { co_return; }
};

detail::pattern must_parse(std::string_view s) {
  auto p = parse_pattern(s);
  EXPECT_TRUE(p.has_value()) << p.error().message();
  return p.has_value() ? *p : detail::pattern{};
}

std::unique_ptr<mux> build(std::initializer_list<std::string_view> patterns) {
  auto m = std::make_unique<mux>();
  int id = 0;
  for (auto p : patterns) {
    auto r = refused(*m, p, tagged{++id});
    EXPECT_FALSE(r) << r->message();
  }
  return m;
}

// A match outcome as one line, so tables read as specifications:
// "GET /item/{user} user=jba", "301 /bar/", "404", "405 GET, HEAD".
std::string describe(const mux::match_result& m) {
  switch (m.kind) {
    case mux::outcome::found: {
      std::string s(m.pattern);
      for (const auto& [name, value] : m.path_values) s += " " + name + "=" + value;
      return s;
    }
    case mux::outcome::redirect:
      return "301 " + m.redirect_to;
    case mux::outcome::not_found:
      return "404";
    case mux::outcome::method_not_allowed:
      return "405 " + m.allow;
  }
  return "?";
}

struct match_case {
  std::string_view method, host, path;
  std::string_view want;
};

void expect_matches(const mux& m, const std::vector<match_case>& cases) {
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.method) + " " + std::string(c.host) + std::string(c.path));
    EXPECT_EQ(describe(m.match(c.method, c.host, c.path)), c.want);
  }
}

segment lit(std::string s) {
  return {segment::kind::literal, std::move(s)};
}
segment wild(std::string s) {
  return {segment::kind::wild, std::move(s)};
}
segment multi(std::string s) {
  return {segment::kind::multi, std::move(s)};
}
segment dollar() {
  return {segment::kind::dollar, ""};
}

// --- patterns -----------------------------------------------------------------------------------

TEST_F(ParsePattern, SplitsMethodHostAndSegments) {
  struct {
    std::string_view in;
    std::string method, host;
    std::vector<segment> segments;
  } cases[] = {
      {"/", "", "", {multi("")}},
      {"/a", "", "", {lit("a")}},
      {"/a/", "", "", {lit("a"), multi("")}},
      {"/path/to/something", "", "", {lit("path"), lit("to"), lit("something")}},
      {"/{w1}/lit/{w2}", "", "", {wild("w1"), lit("lit"), wild("w2")}},
      {"/{w1}/lit/{w2}/", "", "", {wild("w1"), lit("lit"), wild("w2"), multi("")}},
      {"example.com/", "", "example.com", {multi("")}},
      {"GET /", "GET", "", {multi("")}},
      {"POST example.com/foo/{w}", "POST", "example.com", {lit("foo"), wild("w")}},
      {"/{$}", "", "", {dollar()}},
      {"DELETE example.com/a/{foo12}/{$}",
       "DELETE",
       "example.com",
       {lit("a"), wild("foo12"), dollar()}},
      {"/foo/{$}", "", "", {lit("foo"), dollar()}},
      {"/{a}/foo/{rest...}", "", "", {wild("a"), lit("foo"), multi("rest")}},
      {"//", "", "", {lit(""), multi("")}},
      {"/foo///./../bar", "", "", {lit("foo"), lit(""), lit(""), lit("."), lit(".."), lit("bar")}},
      {"a.com/foo//", "", "a.com", {lit("foo"), lit(""), multi("")}},
      // Literals are unescaped per segment; an escape that does not decode stays as written.
      {"/%61%62/%7b/%", "", "", {lit("ab"), lit("{"), lit("%")}},
      // Any run of blanks may follow the method (Go 1.23).
      {"GET\t  /", "GET", "", {multi("")}},
      {"POST \t  example.com/foo/{w}", "POST", "example.com", {lit("foo"), wild("w")}},
      {"DELETE    \texample.com/a/{foo12}/{$}",
       "DELETE",
       "example.com",
       {lit("a"), wild("foo12"), dollar()}},
      // {$} is its own kind of segment, not a literal "/": "/%2F" is a literal slash.
      {"/a/%2F", "", "", {lit("a"), lit("/")}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    auto p = must_parse(c.in);
    EXPECT_EQ(p.str, c.in);
    EXPECT_EQ(p.method, c.method);
    EXPECT_EQ(p.host, c.host);
    EXPECT_EQ(p.segments, c.segments);
  }
}

TEST_F(ParsePattern, RejectsMalformedPatternsWithTheOffset) {
  struct {
    std::string_view in, want;
  } cases[] = {
      {"", R"(parsing "": empty pattern)"},
      {"A=B /", R"(parsing "A=B /": at offset 0: invalid method "A=B")"},
      {" ", "at offset 1: host/path missing /"},
      {"GET", "at offset 0: host/path missing /"},
      {"/{w}x", "at offset 1: bad wildcard segment (must end with '}')"},
      {"/x{w}", "at offset 1: bad wildcard segment (must start with '{')"},
      {"/{wx", "at offset 1: bad wildcard segment"},
      {"/a/{/}/c", "at offset 3: bad wildcard segment"},
      {"/a/{%61}/c", R"(at offset 3: bad wildcard name "%61")"},  // names are not unescaped
      {"/{a$}", "at offset 1: bad wildcard name"},
      {"/{1a}", "at offset 1: bad wildcard name"},
      {"/{}", "at offset 1: empty wildcard"},
      {"POST a.com/x/{}/y", "at offset 13: empty wildcard"},
      {"/{...}", "at offset 1: empty wildcard"},
      {"/{$...}", "at offset 1: bad wildcard"},
      {"/{$}/", "at offset 1: {$} not at end"},
      {"/{$}/x", "at offset 1: {$} not at end"},
      {"/abc/{$}/x", "at offset 5: {$} not at end"},
      {"/{a...}/", "at offset 1: {...} wildcard not at end"},
      {"/{a...}/x", "at offset 1: {...} wildcard not at end"},
      {"{a}/b", "at offset 0: host contains '{' (missing initial '/'?)"},
      {"/a/{x}/b/{x...}", R"(at offset 9: duplicate wildcard name "x")"},
      {"GET //", "at offset 4: non-CONNECT pattern with unclean path can never match"},
      {"GET /a/../b", "at offset 4: non-CONNECT pattern with unclean path"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    auto p = parse_pattern(c.in);
    ASSERT_FALSE(p.has_value());
    EXPECT_EQ(p.error().reason, mux_error::kind::invalid_pattern);
    EXPECT_EQ(p.error().pattern, c.in);
    EXPECT_NE(p.error().message().find(c.want), std::string::npos) << p.error().message();
  }
}

TEST_F(ParsePattern, AcceptsUncleanPathsWithoutAMethodOrForConnect) {
  // They can only ever match CONNECT requests, whose paths are not cleaned.
  EXPECT_TRUE(parse_pattern("//foo").has_value());
  EXPECT_TRUE(parse_pattern("CONNECT /a//b").has_value());
}

TEST_F(ComparePatterns, MethodsByTheMethodsEachMatches) {
  struct {
    std::string_view p1, p2;
    relationship want;
  } cases[] = {
      {"/", "/", equivalent},           {"GET /", "GET /", equivalent},
      {"HEAD /", "HEAD /", equivalent}, {"POST /", "POST /", equivalent},
      {"GET /", "POST /", disjoint},    {"GET /", "/", more_specific},
      {"HEAD /", "/", more_specific},   {"GET /", "HEAD /", more_general},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.p1) + " vs " + std::string(c.p2));
    auto p1 = must_parse(c.p1);
    auto p2 = must_parse(c.p2);
    EXPECT_EQ(to_string(compare_methods(p1, p2)), to_string(c.want));
    EXPECT_EQ(to_string(compare_methods(p2, p1)), to_string(inverse(c.want)));
  }
}

TEST_F(ComparePatterns, PathsByThePathsEachMatches) {
  struct {
    std::string_view p1, p2;
    relationship want;
  } cases[] = {
      // A literal is more specific than anything it overlaps, except itself.
      {"/a", "/a", equivalent},
      {"/a", "/b", disjoint},
      {"/a", "/", more_specific},
      {"/a", "/{$}", disjoint},
      {"/a", "/{x}", more_specific},
      {"/a", "/{x...}", more_specific},
      {"/b/a", "/b/a", equivalent},
      {"/b/a", "/b/b", disjoint},
      {"/b/a", "/b/", more_specific},
      {"/b/a", "/b/{$}", disjoint},
      {"/b/a", "/b/{x}", more_specific},
      {"/b/a", "/b/{x...}", more_specific},
      {"/{z}/a", "/{z}/a", equivalent},
      {"/{z}/a", "/{z}/b", disjoint},
      {"/{z}/a", "/{z}/", more_specific},
      {"/{z}/a", "/{z}/{$}", disjoint},
      {"/{z}/a", "/{z}/{x}", more_specific},
      {"/{z}/a", "/{z}/{x...}", more_specific},
      // A single wildcard on the left.
      {"/{z}", "/a", more_general},
      {"/{z}", "/a/b", disjoint},
      {"/{z}", "/{$}", disjoint},
      {"/{z}", "/{x}", equivalent},
      {"/{z}", "/", more_specific},
      {"/{z}", "/{x...}", more_specific},
      {"/b/{z}", "/b/a", more_general},
      {"/b/{z}", "/b/a/b", disjoint},
      {"/b/{z}", "/b/{$}", disjoint},
      {"/b/{z}", "/b/{x}", equivalent},
      {"/b/{z}", "/b/", more_specific},
      {"/b/{z}", "/b/{x...}", more_specific},
      // A trailing slash on the left.
      {"/", "/a", more_general},
      {"/", "/a/b", more_general},
      {"/", "/{$}", more_general},
      {"/", "/{x}", more_general},
      {"/", "/", equivalent},
      {"/", "/{x...}", equivalent},
      {"/b/", "/b/a", more_general},
      {"/b/", "/b/a/b", more_general},
      {"/b/", "/b/{$}", more_general},
      {"/b/", "/b/{x}", more_general},
      {"/b/", "/b/", equivalent},
      {"/b/", "/b/{x...}", equivalent},
      {"/{z}/", "/{z}/a", more_general},
      {"/{z}/", "/{z}/a/b", more_general},
      {"/{z}/", "/{z}/{$}", more_general},
      {"/{z}/", "/{z}/{x}", more_general},
      {"/{z}/", "/{z}/", equivalent},
      {"/{z}/", "/a/", more_general},
      {"/{z}/", "/{z}/{x...}", equivalent},
      {"/{z}/", "/a/{x...}", more_general},
      {"/a/{z}/", "/{z}/a/", overlaps},
      {"/a/{z}/b/", "/{x}/c/{y...}", overlaps},
      // A multi wildcard on the left.
      {"/{m...}", "/a", more_general},
      {"/{m...}", "/a/b", more_general},
      {"/{m...}", "/{$}", more_general},
      {"/{m...}", "/{x}", more_general},
      {"/{m...}", "/", equivalent},
      {"/{m...}", "/{x...}", equivalent},
      {"/b/{m...}", "/b/a", more_general},
      {"/b/{m...}", "/b/a/b", more_general},
      {"/b/{m...}", "/b/{$}", more_general},
      {"/b/{m...}", "/b/{x}", more_general},
      {"/b/{m...}", "/b/", equivalent},
      {"/b/{m...}", "/b/{x...}", equivalent},
      {"/b/{m...}", "/a/{x...}", disjoint},
      {"/{z}/{m...}", "/{z}/a", more_general},
      {"/{z}/{m...}", "/{z}/a/b", more_general},
      {"/{z}/{m...}", "/{z}/{$}", more_general},
      {"/{z}/{m...}", "/{z}/{x}", more_general},
      {"/{z}/{m...}", "/{w}/", equivalent},
      {"/{z}/{m...}", "/a/", more_general},
      {"/{z}/{m...}", "/{z}/{x...}", equivalent},
      {"/{z}/{m...}", "/a/{x...}", more_general},
      {"/a/{m...}", "/a/b/{y...}", more_general},
      {"/a/{m...}", "/a/{x}/{y...}", more_general},
      {"/a/{z}/{m...}", "/a/b/{y...}", more_general},
      {"/a/{z}/{m...}", "/{z}/a/", overlaps},
      {"/a/{z}/{m...}", "/{z}/b/{y...}", overlaps},
      {"/a/{z}/b/{m...}", "/{x}/c/{y...}", overlaps},
      {"/a/{z}/a/{m...}", "/{x}/b", disjoint},
      // {$} on the left.
      {"/{$}", "/a", disjoint},
      {"/{$}", "/a/b", disjoint},
      {"/{$}", "/{$}", equivalent},
      {"/{$}", "/{x}", disjoint},
      {"/{$}", "/", more_specific},
      {"/{$}", "/{x...}", more_specific},
      {"/b/{$}", "/b", disjoint},
      {"/b/{$}", "/b/a", disjoint},
      {"/b/{$}", "/b/a/b", disjoint},
      {"/b/{$}", "/b/{$}", equivalent},
      {"/b/{$}", "/b/{x}", disjoint},
      {"/b/{$}", "/b/", more_specific},
      {"/b/{$}", "/b/{x...}", more_specific},
      {"/b/{$}", "/b/c/{x...}", disjoint},
      {"/b/{x}/a/{$}", "/{x}/c/{y...}", overlaps},
      {"/{x}/b/{$}", "/a/{x}/{y}", disjoint},
      {"/{x}/b/{$}", "/a/{x}/c", disjoint},
      {"/{z}/{$}", "/{z}/a", disjoint},
      {"/{z}/{$}", "/{z}/a/b", disjoint},
      {"/{z}/{$}", "/{z}/{$}", equivalent},
      {"/{z}/{$}", "/{z}/{x}", disjoint},
      {"/{z}/{$}", "/{z}/", more_specific},
      {"/{z}/{$}", "/a/", overlaps},
      {"/{z}/{$}", "/a/{x...}", overlaps},
      {"/{z}/{$}", "/{z}/{x...}", more_specific},
      {"/a/{z}/{$}", "/{z}/a/", overlaps},
      // An escaped slash is a literal, not the end {$} stands for.
      {"/a/%2F", "/a/{$}", disjoint},
      {"/a/%2F", "/a/{x}", more_specific},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.p1) + " vs " + std::string(c.p2));
    auto p1 = must_parse(c.p1);
    auto p2 = must_parse(c.p2);
    EXPECT_EQ(to_string(compare_paths(p1, p1)), "equivalent");
    EXPECT_EQ(to_string(compare_paths(p2, p2)), "equivalent");
    EXPECT_EQ(to_string(compare_paths(p1, p2)), to_string(c.want));
    EXPECT_EQ(to_string(compare_paths(p2, p1)), to_string(inverse(c.want)));
  }
}

TEST_F(ComparePatterns, ConflictWhenSomeRequestMatchesBothAndNeitherIsMoreSpecific) {
  struct {
    std::string_view p1, p2;
    bool want;
  } cases[] = {
      {"/a", "/a", true},
      {"/a", "/ab", false},
      {"/a/b/cd", "/a/b/cd", true},
      {"/a/b/cd", "/a/b/c", false},
      {"/a/b/c", "/a/c/c", false},
      {"/{x}", "/{y}", true},
      {"/{x}", "/a", false},  // more specific
      {"/{x}/{y}", "/{x}/a", false},
      {"/{x}/{y}", "/{x}/a/b", false},
      {"/{x}", "/a/{y}", false},
      {"/{x}/{y}", "/{x}/a/", false},
      {"/{x}", "/a/{y...}", false},            // more specific
      {"/{x}/a/{y}", "/{x}/a/{y...}", false},  // more specific
      {"/{x}/{y}", "/{x}/a/{$}", false},       // more specific
      {"/{x}/{y}/{$}", "/{x}/a/{$}", false},
      {"/a/{x}", "/{x}/b", true},
      {"/", "GET /", false},
      {"/", "GET /foo", false},
      {"GET /", "GET /foo", false},
      {"GET /", "/foo", true},
      {"GET /foo", "HEAD /", true},
      {"GET /x", "HEAD /x", false},
      // A host wins over no host; different hosts never meet.
      {"example.com/", "/", false},
      {"example.com/{x}", "/a", false},
      {"a.com/", "b.com/", false},
      {"a.com/{x}", "a.com/{y}", true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.p1) + " vs " + std::string(c.p2));
    auto p1 = must_parse(c.p1);
    auto p2 = must_parse(c.p2);
    EXPECT_EQ(conflicts_with(p1, p2), c.want);
    EXPECT_EQ(conflicts_with(p2, p1), c.want);
  }
}

TEST_F(ComparePatterns, DescribesWhyTwoPatternsConflict) {
  struct {
    std::string_view p1, p2, want;
  } cases[] = {
      {"/a/{x}", "/a/{y}", "/a/{x} matches the same requests as /a/{y}"},
      {"/", "/{m...}", "the same requests"},
      {"/a/{x}", "/{y}/b",
       "/a/{x} and /{y}/b both match some paths, like \"/a/b\".\n"
       "But neither is more specific than the other.\n"
       "/a/{x} matches \"/a/x\", but /{y}/b doesn't.\n"
       "/{y}/b matches \"/y/b\", but /a/{x} doesn't."},
      {"/a", "GET /{x}",
       "/a matches more methods than GET /{x}, but has a more specific path pattern"},
      {"GET /a", "HEAD /",
       "matches more methods than HEAD /, but has a more specific path pattern"},
      {"POST /", "/a", "POST / matches fewer methods than /a, but has a more general path pattern"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.p1) + " vs " + std::string(c.p2));
    auto got = describe_conflict(must_parse(c.p1), must_parse(c.p2));
    EXPECT_NE(got.find(c.want), std::string::npos) << got;
  }
}

TEST_F(ComparePatterns, CommonPathIsMatchedByBothOverlappingPatterns) {
  struct {
    std::string_view p1, p2, want;
  } cases[] = {
      {"/a/{x}", "/{x}/a", "/a/a"},
      {"/a/{z}/", "/{z}/a/", "/a/a/"},
      {"/a/{z}/{m...}", "/{z}/a/", "/a/a/"},
      {"/{z}/{$}", "/a/", "/a/"},
      {"/{z}/{$}", "/a/{x...}", "/a/"},
      {"/a/{z}/{$}", "/{z}/a/", "/a/a/"},
      {"/a/{x}/b/{y...}", "/{x}/c/{y...}", "/a/c/b/"},
      {"/a/{x}/b/", "/{x}/c/{y...}", "/a/c/b/"},
      {"/a/{x}/b/{$}", "/{x}/c/{y...}", "/a/c/b/"},
      {"/a/{z}/{x...}", "/{z}/b/{y...}", "/a/b/"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.p1) + " vs " + std::string(c.p2));
    auto p1 = must_parse(c.p1);
    auto p2 = must_parse(c.p2);
    ASSERT_EQ(compare_paths(p1, p2), overlaps);
    EXPECT_EQ(common_path(p1, p2), c.want);
  }
}

TEST_F(ComparePatterns, DifferencePathIsMatchedByTheFirstPatternOnly) {
  struct {
    std::string_view p1, p2, want;
  } cases[] = {
      {"/a/{x}", "/{x}/a", "/a/x"},
      {"/{x}/a", "/a/{x}", "/x/a"},
      {"/a/{z}/", "/{z}/a/", "/a/z/"},
      {"/{z}/a/", "/a/{z}/", "/z/a/"},
      {"/{a}/a/", "/a/{z}/", "/ax/a/"},
      {"/a/{z}/{x...}", "/{z}/b/{y...}", "/a/z/"},
      {"/{z}/b/{y...}", "/a/{z}/{x...}", "/z/b/"},
      {"/a/b/", "/a/b/c", "/a/b/"},
      {"/a/b/{x...}", "/a/b/c", "/a/b/"},
      {"/a/b/{x...}", "/a/b/c/d", "/a/b/"},
      {"/a/b/{x...}", "/a/b/c/d/", "/a/b/"},
      {"/a/{z}/{m...}", "/{z}/a/", "/a/z/"},
      {"/{z}/a/", "/a/{z}/{m...}", "/z/a/"},
      {"/{z}/{$}", "/a/", "/z/"},
      {"/a/", "/{z}/{$}", "/a/x"},
      {"/{z}/{$}", "/a/{x...}", "/z/"},
      {"/a/{foo...}", "/{z}/{$}", "/a/foo"},
      {"/a/{z}/{$}", "/{z}/a/", "/a/z/"},
      {"/{z}/a/", "/a/{z}/{$}", "/z/a/x"},
      {"/a/{x}/b/{y...}", "/{x}/c/{y...}", "/a/x/b/"},
      {"/{x}/c/{y...}", "/a/{x}/b/{y...}", "/x/c/"},
      {"/a/{c}/b/", "/{x}/c/{y...}", "/a/cx/b/"},
      {"/{x}/c/{y...}", "/a/{c}/b/", "/x/c/"},
      {"/a/{x}/b/{$}", "/{x}/c/{y...}", "/a/x/b/"},
      {"/{x}/c/{y...}", "/a/{x}/b/{$}", "/x/c/"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.p1) + " vs " + std::string(c.p2));
    auto p1 = must_parse(c.p1);
    auto p2 = must_parse(c.p2);
    auto rel = compare_paths(p1, p2);
    ASSERT_TRUE(rel == overlaps || rel == more_general) << to_string(rel);
    EXPECT_EQ(difference_path(p1, p2), c.want);
  }
}

// --- path helpers -------------------------------------------------------------------------------

TEST_F(MuxPaths, CleanPathResolvesDotsAndRepeatedSlashesKeepingTheTrailingOne) {
  struct {
    std::string_view in, want;
  } cases[] = {
      {"", "/"},
      {"/", "/"},
      {"//", "/"},
      {"/x", "/x"},
      {"//x", "/x"},
      {"x//", "/x/"},
      {"a//b/////c", "/a/b/c"},
      {"/foo/../bar/./..//baz", "/baz"},
      {"/a/b/", "/a/b/"},
      {"/a/.", "/a"},
      {"/a/./", "/a/"},
      {"/a/..", "/"},
      {"/../../x", "/x"},
      {"/a/%2e%2e/b", "/a/%2e%2e/b"},  // cleaning sees the escaped path, as Go's does
      {"/a//", "/a/"},
      {"/.a/..b/", "/.a/..b/"},
      {"/a/b/..", "/a"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    EXPECT_EQ(detail::clean_path(c.in), c.want);
    EXPECT_EQ(detail::path_is_clean(c.in), c.in == c.want);
  }
}

TEST_F(MuxPaths, PathUnescapeDecodesPercentEscapesOrGivesUp) {
  EXPECT_EQ(detail::path_unescape("a%20b"), "a b");
  EXPECT_EQ(detail::path_unescape("a%2Fb%2fc"), "a/b/c");
  EXPECT_EQ(detail::path_unescape("a+b"), "a+b");  // a path, not a form
  EXPECT_EQ(detail::path_unescape("%"), "%");
  EXPECT_EQ(detail::path_unescape("%zz"), "%zz");
  EXPECT_EQ(detail::path_unescape("ok%4"), "ok%4");
}

TEST_F(MuxPaths, StripHostPortDropsOnlyAWellFormedPort) {
  struct {
    std::string_view in, want;
  } cases[] = {
      {"example.com", "example.com"},
      {"example.com:8080", "example.com"},
      {"127.0.0.1:80", "127.0.0.1"},
      {"[::1]:80", "::1"},
      {"[::1]", "[::1]"},
      {"::1", "::1"},
      {"host:", "host"},
      {"", ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    EXPECT_EQ(detail::strip_host_port(c.in), c.want);
  }
}

// --- registration -------------------------------------------------------------------------------

TEST_F(MuxHandle, RefusesAConflictNamingBothPatternsAndWhereTheyWereRegistered) {
  mux m;
  ASSERT_FALSE(refused(m, "/a/{x}/", tagged{1}));
  auto r = refused(m, "/a/{y}/{z...}", tagged{2});
  ASSERT_TRUE(r);
  const mux_error& e = *r;
  EXPECT_EQ(e.reason, mux_error::kind::conflict);
  EXPECT_EQ(e.pattern, "/a/{y}/{z...}");
  EXPECT_EQ(e.other, "/a/{x}/");
  EXPECT_EQ(e.code(), errc::pattern_conflict);
  EXPECT_EQ(e.message().rfind("pattern \"/a/{y}/{z...}\" (registered at ", 0), 0u) << e.message();
  EXPECT_NE(e.message().find("mux_test.cpp:"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find(") conflicts with pattern \"/a/{x}/\" (registered at "),
            std::string::npos)
      << e.message();
  EXPECT_NE(e.message().find("matches the same requests as"), std::string::npos) << e.message();
}

TEST_F(MuxHandle, RefusesEveryKindOfConflict) {
  struct {
    std::string_view first, second, why;
  } cases[] = {
      {"/a", "/a", "matches the same requests as"},
      {"GET /items/{id}", "GET /items/{name}", "matches the same requests as"},
      {"/a/{x}", "/{y}/b", "both match some paths"},
      // The message starts with the pattern being registered.
      {"GET /", "/foo",
       "/foo matches more methods than GET /, but has a more specific path pattern"},
      {"/foo", "GET /",
       "GET / matches fewer methods than /foo, but has a more general path pattern"},
      {"GET /foo", "HEAD /", "HEAD / matches fewer methods than GET /foo"},
      {"/", "/{rest...}", "matches the same requests as"},
      {"example.com/{x}", "example.com/{y}", "matches the same requests as"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.first) + " then " + std::string(c.second));
    mux m;
    ASSERT_FALSE(refused(m, c.first, tagged{1}));
    auto r = refused(m, c.second, tagged{2});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->reason, mux_error::kind::conflict);
    EXPECT_NE(r->message().find(c.why), std::string::npos) << r->message();
  }
}

TEST_F(MuxHandle, AcceptsPatternsThatAreMoreSpecificOrDisjoint) {
  mux m;
  // Not "/items/new" beside "POST /items/{id}": each is more specific in one way (POST /items/new
  // would match both); "GET /items/new" is more specific than both GET and method-less {id}.
  for (auto p : {"/", "/{$}", "GET /{$}", "HEAD /{$}", "/items/", "/items/{id}", "GET /items/{id}",
                 "POST /items/{id}", "GET /items/new", "/items/{id}/{$}", "/files/{rest...}",
                 "example.com/", "example.com/items/{id}", "other.com/items/{id}"}) {
    auto r = refused(m, p, tagged{});
    EXPECT_FALSE(r) << p << ": " << r->message();
  }
}

TEST_F(MuxHandle, RefusesInvalidPatternsAndEmptyHandlers) {
  mux m;
  auto bad = refused(m, "/{x", tagged{});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->reason, mux_error::kind::invalid_pattern);
  EXPECT_EQ(bad->code(), errc::invalid_pattern);
  EXPECT_EQ(bad->message(),
            R"(parsing "/{x": at offset 1: bad wildcard segment (must end with '}'))");

  auto empty = refused(m, "", tagged{});
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->message(), R"(parsing "": empty pattern)");

  auto nil = refused(m, "/", http::handler{});
  ASSERT_TRUE(nil);
  EXPECT_EQ(nil->reason, mux_error::kind::nil_handler);
  EXPECT_EQ(nil->message(), "http: nil handler");
}

TEST_F(MuxHandle, ThrowsWithTheMessage) {
  mux m;
  try {
    m.handle("/{}", tagged{});
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("empty wildcard"), std::string::npos) << e.what();
  }
}

TEST_F(MuxHandle, FailedRegistrationLeavesTheMuxUnchanged) {
  mux m;
  ASSERT_FALSE(refused(m, "/a/{x}", tagged{1}));
  ASSERT_TRUE(refused(m, "/{y}/b", tagged{2}));
  ASSERT_TRUE(refused(m, "/{y", tagged{3}));
  expect_matches(m, {
                        {"GET", "", "/a/b", "/a/{x} x=b"},
                        {"GET", "", "/c/b", "404"},
                    });
  ASSERT_FALSE(refused(m, "/a/b", tagged{4}));
  expect_matches(m, {{"GET", "", "/a/b", "/a/b"}});
}

TEST_F(MuxHandle, MatchReturnsTheHandlerRegisteredWithThePattern) {
  auto m = build({"/", "/a", "GET /b/{x}", "/b/"});
  struct {
    std::string_view path;
    int id;
  } cases[] = {{"/", 1}, {"/zzz", 1}, {"/a", 2}, {"/b/1", 3}, {"/b/1/2", 4}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.path);
    auto r = m->match("GET", "", c.path);
    ASSERT_EQ(r.kind, mux::outcome::found);
    ASSERT_NE(r.handler, nullptr);
    const auto* t = r.handler->target<tagged>();
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->id, c.id);
  }
}

TEST_F(MuxHandle, IsAHandlerByReferenceOrThroughAsHandler) {
  mux m;
  http::handler by_ref = std::ref(m);
  http::handler made = m.as_handler();
  EXPECT_TRUE(by_ref);
  EXPECT_TRUE(made);
  // A mux can be registered in another mux, Go's way of mounting a sub-tree.
  mux outer;
  EXPECT_FALSE(refused(outer, "/api/", std::ref(m)));
}

// --- matching -----------------------------------------------------------------------------------

// Go's TestRoutingNodeMatch, first tree.
TEST_F(MuxMatch, LiteralsBeatWildcardsWhichBeatMultis) {
  auto m =
      build({"/a", "/a/b", "/a/{x}", "/g/h/i", "/g/{x}/j", "/a/b/{x...}", "/a/b/{y}", "/a/b/{$}"});
  expect_matches(*m, {
                         {"GET", "", "/a", "/a"},
                         {"Get", "", "/b", "404"},
                         {"Get", "", "/a/b", "/a/b"},
                         {"Get", "", "/a/c", "/a/{x} x=c"},
                         {"Get", "", "/a/b/", "/a/b/{$}"},
                         {"Get", "", "/a/b/c", "/a/b/{y} y=c"},
                         {"Get", "", "/a/b/c/d", "/a/b/{x...} x=c/d"},
                         {"Get", "", "/g/h/i", "/g/h/i"},
                         // Backtracks: /g/h/... fails under h, then succeeds under {x}.
                         {"Get", "", "/g/h/j", "/g/{x}/j x=h"},
                     });
}

// Go's TestRoutingNodeMatch, second tree.
TEST_F(MuxMatch, MethodsAndHostsMakePatternsMoreSpecific) {
  auto m = build({"/item/", "POST /item/{user}", "GET /item/{user}", "/item/{user}",
                  "/item/{user}/{id}", "/item/{user}/new", "/item/{$}", "POST alt.com/item/{user}",
                  "GET /headwins", "HEAD /headwins", "/path/{p...}"});
  expect_matches(*m, {
                         {"GET", "", "/item/jba", "GET /item/{user} user=jba"},
                         {"POST", "", "/item/jba", "POST /item/{user} user=jba"},
                         {"HEAD", "", "/item/jba", "GET /item/{user} user=jba"},
                         // Methods are case-sensitive: "get" is not GET.
                         {"get", "", "/item/jba", "/item/{user} user=jba"},
                         {"POST", "", "/item/jba/17", "/item/{user}/{id} user=jba id=17"},
                         {"GET", "", "/item/jba/new", "/item/{user}/new user=jba"},
                         {"GET", "", "/item/", "/item/{$}"},
                         {"GET", "", "/item/jba/17/line2", "/item/"},
                         {"POST", "alt.com", "/item/jba", "POST alt.com/item/{user} user=jba"},
                         {"POST", "alt.com:8080", "/item/jba", "POST alt.com/item/{user} user=jba"},
                         // alt.com has no GET pattern: the hostless ones get their turn.
                         {"GET", "alt.com", "/item/jba", "GET /item/{user} user=jba"},
                         {"GET", "", "/item", "301 /item/"},
                         {"GET", "", "/headwins", "GET /headwins"},
                         // HEAD is more specific than GET.
                         {"HEAD", "", "/headwins", "HEAD /headwins"},
                         {"GET", "", "/path/to/file", "/path/{p...} p=to/file"},
                         {"GET", "", "/path/*", "/path/{p...} p=*"},
                     });
}

TEST_F(MuxMatch, DollarMatchesOnlyTheTrailingSlash) {
  expect_matches(*build({"/a/b/{$}"}), {
                                           {"GET", "", "/a/b", "301 /a/b/"},
                                           {"GET", "", "/a/b/", "/a/b/{$}"},
                                           {"GET", "", "/a/b/c", "404"},
                                           {"GET", "", "/a/b/c/d", "404"},
                                       });
  expect_matches(*build({"/{$}"}), {
                                       {"GET", "", "/", "/{$}"},
                                       {"GET", "", "/x", "404"},
                                   });
  // The usual way to serve the root but nothing else, beside a catch-all.
  expect_matches(*build({"/{$}", "/"}), {
                                            {"GET", "", "/", "/{$}"},
                                            {"GET", "", "/x", "/"},
                                        });
}

TEST_F(MuxMatch, SingleWildcardNeverMatchesATrailingSlash) {
  expect_matches(*build({"/a/b/{w}"}), {
                                           {"GET", "", "/a/b", "404"},
                                           {"GET", "", "/a/b/", "404"},
                                           {"GET", "", "/a/b/c", "/a/b/{w} w=c"},
                                           {"GET", "", "/a/b/c/d", "404"},
                                       });
}

TEST_F(MuxMatch, MultiWildcardMatchesTheRestIncludingNothing) {
  expect_matches(*build({"/a/b/{w...}"}), {
                                              {"GET", "", "/a/b", "301 /a/b/"},
                                              {"GET", "", "/a/b/", "/a/b/{w...} w="},
                                              {"GET", "", "/a/b/c", "/a/b/{w...} w=c"},
                                              {"GET", "", "/a/b/c/d", "/a/b/{w...} w=c/d"},
                                          });
  // All three kinds of end together.
  expect_matches(*build({"/a/b/{$}", "/a/b/{w}", "/a/b/{w...}"}),
                 {
                     {"GET", "", "/a/b", "301 /a/b/"},
                     {"GET", "", "/a/b/", "/a/b/{$}"},
                     {"GET", "", "/a/b/c", "/a/b/{w} w=c"},
                     {"GET", "", "/a/b/c/d", "/a/b/{w...} w=c/d"},
                 });
}

TEST_F(MuxMatch, TrailingSlashMakesAPrefixAndRedirectsTheBarePath) {
  expect_matches(*build({"/static/"}), {
                                           {"GET", "", "/static/", "/static/"},
                                           {"GET", "", "/static/x", "/static/"},
                                           {"GET", "", "/static/x/y", "/static/"},
                                           {"GET", "", "/static", "301 /static/"},
                                           {"POST", "", "/static", "301 /static/"},
                                           {"GET", "", "/staticx", "404"},
                                       });
  // The bare path is redirected only when the slashed one would match for this method.
  expect_matches(*build({"GET /static/"}), {
                                               {"GET", "", "/static", "301 /static/"},
                                               {"POST", "", "/static", "405 GET, HEAD"},
                                           });
  // A registered bare path, or a catch-all that matches it exactly, wins over the redirect.
  expect_matches(*build({"/static/", "/static"}), {{"GET", "", "/static", "/static"}});
  expect_matches(*build({"/static/", "/{x}"}), {{"GET", "", "/static", "/{x} x=static"}});
  // "/" is not an exact match for "/static", so the redirect still happens.
  expect_matches(*build({"/static/", "/"}), {{"GET", "", "/static", "301 /static/"}});
}

TEST_F(MuxMatch, MethodNotAllowedListsTheMethodsThatWouldMatch) {
  auto m = build({"GET a.com/", "PUT b.com/", "POST /foo/{x}"});
  expect_matches(*m, {
                         {"DELETE", "", "/foo", "404"},
                         {"DELETE", "", "/foo/bar", "405 POST"},
                         {"DELETE", "a.com", "/foo/bar", "405 GET, HEAD, POST"},
                         {"DELETE", "b.com", "/bar", "405 PUT"},
                     });
  expect_matches(*build({"POST /"}), {{"GET", "", "/foo", "405 POST"}});
  expect_matches(*build({"GET /"}), {{"POST", "", "/foo", "405 GET, HEAD"}});
  expect_matches(*build({"GET /x", "HEAD /x", "PUT /x", "DELETE /x"}),
                 {{"POST", "", "/x", "405 DELETE, GET, HEAD, PUT"}});
}

TEST_F(MuxMatch, GetAlsoServesHeadButNotTheOtherWayRound) {
  expect_matches(*build({"GET /x"}), {
                                         {"HEAD", "", "/x", "GET /x"},
                                         {"GET", "", "/x", "GET /x"},
                                     });
  expect_matches(*build({"HEAD /x"}), {
                                          {"HEAD", "", "/x", "HEAD /x"},
                                          {"GET", "", "/x", "405 HEAD"},
                                      });
}

TEST_F(MuxMatch, HostPatternsWinAndIgnoreThePort) {
  auto m = build({"/", "/items/{id}", "example.com/", "example.com/items/{id}", "::1/v6"});
  expect_matches(*m, {
                         {"GET", "example.com", "/x", "example.com/"},
                         {"GET", "example.com:8080", "/items/7", "example.com/items/{id} id=7"},
                         {"GET", "other.com", "/items/7", "/items/{id} id=7"},
                         {"GET", "", "/items/7", "/items/{id} id=7"},
                         {"GET", "[::1]:8080", "/v6", "::1/v6"},
                         // Hosts match as written (Go does not fold case either).
                         {"GET", "EXAMPLE.com", "/x", "/"},
                     });
}

// Go's TestFindHandler: cleaning, redirects, and CONNECT's exemption from both.
TEST_F(MuxMatch, CleansPathsByRedirectingExceptForConnect) {
  auto m = build({"/", "/foo/", "/foo", "/bar/", "//foo"});
  expect_matches(*m, {
                         {"GET", "", "/", "/"},
                         {"GET", "", "//", "301 /"},
                         {"GET", "", "/foo/../bar/./..//baz", "301 /baz"},
                         {"GET", "", "/foo", "/foo"},
                         {"GET", "", "/foo/x", "/foo/"},
                         {"GET", "", "/bar/x", "/bar/"},
                         {"GET", "", "/bar", "301 /bar/"},
                         {"GET", "", "/a/../b", "301 /b"},
                         {"GET", "", "", "301 /"},
                         {"CONNECT", "", "/", "/"},
                         {"CONNECT", "", "//", "/"},
                         {"CONNECT", "", "//foo", "//foo"},
                         {"CONNECT", "", "/foo/../bar/./..//baz", "/foo/"},
                         {"CONNECT", "", "/foo", "/foo"},
                         {"CONNECT", "", "/foo/x", "/foo/"},
                         {"CONNECT", "", "/bar/x", "/bar/"},
                         {"CONNECT", "", "/bar", "301 /bar/"},
                     });
  // The redirect names the pattern that will match after it.
  auto r = m->match("GET", "", "/bar");
  EXPECT_EQ(r.pattern, "/bar/");
}

// CONNECT paths keep empty segments: a single wildcard matches one, an empty literal only one.
TEST_F(MuxMatch, ConnectPathsKeepEmptySegments) {
  expect_matches(*build({"CONNECT /a//b", "/a/{x}/b", "/{x}/{y...}"}),
                 {
                     {"CONNECT", "", "/a//b", "CONNECT /a//b"},
                     {"CONNECT", "", "/a/z/b", "/a/{x}/b x=z"},
                     {"CONNECT", "", "//c", "/{x}/{y...} x= y=c"},
                     {"CONNECT", "", "/a//c", "/{x}/{y...} x=a y=/c"},
                 });
  expect_matches(*build({"CONNECT /a//b"}), {{"CONNECT", "", "/a/z/b", "404"}});
  expect_matches(*build({"CONNECT /a//b", "CONNECT /a/{x}/b"}),
                 {
                     {"CONNECT", "", "/a//b", "CONNECT /a//b"},
                     {"CONNECT", "", "/a/z/b", "CONNECT /a/{x}/b x=z"},
                 });
  expect_matches(*build({"/a/{x}/b", "/{x}/", "/{x}/{y}/{z}"}),
                 {
                     {"CONNECT", "", "/a//b", "/a/{x}/b x="},
                     {"CONNECT", "", "//", "/{x}/ x="},
                     {"CONNECT", "", "///c", "/{x}/{y}/{z} x= y= z=c"},
                 });
}

// Go's TestEscapedPathsAndPatterns: both sides are decoded segment by segment.
TEST_F(MuxMatch, EscapedPathsMatchDecodedPatterns) {
  auto m = build({"/a", "/%62", "/%7B/%7D", "/%x", "/items/{id}", "/files/{rest...}"});
  expect_matches(*m, {
                         {"GET", "", "/a", "/a"},
                         {"GET", "", "/%61", "/a"},
                         {"GET", "", "/b", "/%62"},
                         {"GET", "", "/%62", "/%62"},
                         {"GET", "", "/{/}", "/%7B/%7D"},
                         {"GET", "", "/%7b/}", "/%7B/%7D"},
                         {"GET", "", "/{/%7d", "/%7B/%7D"},
                         {"GET", "", "/%7B/%7D", "/%7B/%7D"},
                         {"GET", "", "/%25x", "/%x"},
                         // Values are decoded; an escaped slash stays inside its segment.
                         {"GET", "", "/items/a%20b", "/items/{id} id=a b"},
                         {"GET", "", "/items/a%2Fb", "/items/{id} id=a/b"},
                         {"GET", "", "/files/a%2Fb/c%3F", "/files/{rest...} rest=a/b/c?"},
                         // A malformed escape is kept as sent.
                         {"GET", "", "/items/100%", "/items/{id} id=100%"},
                     });
}

TEST_F(MuxMatch, EmptyMuxFindsNothing) {
  mux m;
  expect_matches(m, {
                        {"GET", "", "/", "404"},
                        {"GET", "example.com", "/x", "404"},
                        {"CONNECT", "example.com:443", "", "404"},
                    });
}

TEST_F(MuxMatch, PathValuesFollowThePatternsOrder) {
  auto m = build({"/{b}/x/{a}/{c...}"});
  auto r = m->match("GET", "", "/1/x/2/3/4");
  ASSERT_EQ(r.kind, mux::outcome::found);
  std::vector<std::pair<std::string, std::string>> want = {{"b", "1"}, {"a", "2"}, {"c", "3/4"}};
  EXPECT_EQ(r.path_values, want);
}

// --- request ------------------------------------------------------------------------------------

TEST_F(Request, PathAndQuerySplitTheTarget) {
  struct {
    std::string_view target, path, query;
  } cases[] = {
      {"/a/b?x=1&y=2", "/a/b", "x=1&y=2"},
      {"/a/b", "/a/b", ""},
      {"/a/b?", "/a/b", ""},
      {"/?q", "/", "q"},
      {"/a%20b?c=%20", "/a%20b", "c=%20"},  // both as sent, still escaped
      {"http://example.com:8080/p/q?x", "/p/q", "x"},
      {"http://example.com", "", ""},
      {"http://example.com?x", "", "x"},
      {"*", "*", ""},
      {"example.com:443", "", ""},  // CONNECT's authority-form has no path
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.target);
    request r;
    r.target = c.target;
    EXPECT_EQ(r.path(), c.path);
    EXPECT_EQ(r.query(), c.query);
  }
}

TEST_F(Request, PathValueIsEmptyForUnknownNames) {
  request r;
  r.path_values = {{"id", "42"}, {"rest", "a/b"}};
  EXPECT_EQ(r.path_value("id"), "42");
  EXPECT_EQ(r.path_value("rest"), "a/b");
  EXPECT_EQ(r.path_value("nope"), "");
  EXPECT_EQ(request{}.path_value("id"), "");
}

}  // namespace
}  // namespace ringo::http
