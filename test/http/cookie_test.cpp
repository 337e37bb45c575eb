// Cookies: Go's cookie_test.go tables (Set-Cookie and Cookie parsing, Cookie.String) and Go's
// cookiejar jar_test.go tables (TestBasics, TestUpdateAndDelete, TestExpiration, the Chromium
// basics) on ringo's jar with Go's test list of public suffixes ("co.uk" and the default rule);
// then Debian's list itself, and a client that carries cookies across a redirect.
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <ringo/http.hpp>
#include <ringo/http/httptest.hpp>

#include "ringo_test.hpp"

namespace ringo::http {
namespace {

using namespace std::chrono_literals;
using sys_time = std::chrono::system_clock::time_point;

class Cookie : public ringo::test::RingoTest {};
class CookieJar : public ringo::test::RingoTest {};

std::chrono::sys_seconds at(int y, unsigned mo, unsigned d, int h, int mi, int s) {
  return std::chrono::sys_days(std::chrono::year(y) / mo / d) + std::chrono::hours(h) +
         std::chrono::minutes(mi) + std::chrono::seconds(s);
}

TEST_F(Cookie, WritesSetCookieAsGo) {
  struct {
    http::cookie c;
    const char* want;
  } cases[] = {
      {{.name = "cookie-1", .value = "v$1"}, "cookie-1=v$1"},
      {{.name = "cookie-2", .value = "two", .max_age = 3600}, "cookie-2=two; Max-Age=3600"},
      {{.name = "cookie-3", .value = "three", .domain = ".example.com"},
       "cookie-3=three; Domain=example.com"},
      {{.name = "cookie-4", .value = "four", .path = "/restricted/"},
       "cookie-4=four; Path=/restricted/"},
      {{.name = "cookie-5", .value = "five", .domain = "wrong;bad.abc"}, "cookie-5=five"},
      {{.name = "cookie-6", .value = "six", .domain = "bad-.abc"}, "cookie-6=six"},
      {{.name = "cookie-7", .value = "seven", .domain = "127.0.0.1"},
       "cookie-7=seven; Domain=127.0.0.1"},
      {{.name = "cookie-8", .value = "eight", .domain = "::1"}, "cookie-8=eight"},
      {{.name = "cookie-9", .value = "expiring", .expires = at(2009, 11, 10, 23, 0, 0)},
       "cookie-9=expiring; Expires=Tue, 10 Nov 2009 23:00:00 GMT"},
      {{.name = "cookie-10", .value = "expiring-1601", .expires = at(1601, 1, 1, 1, 1, 1)},
       "cookie-10=expiring-1601; Expires=Mon, 01 Jan 1601 01:01:01 GMT"},
      {{.name = "cookie-11", .value = "invalid-expiry", .expires = at(1600, 1, 1, 1, 1, 1)},
       "cookie-11=invalid-expiry"},
      {{.name = "cookie-12", .value = "samesite-default", .same_site = same_site::default_mode},
       "cookie-12=samesite-default"},
      {{.name = "cookie-13", .value = "samesite-lax", .same_site = same_site::lax},
       "cookie-13=samesite-lax; SameSite=Lax"},
      {{.name = "cookie-14", .value = "samesite-strict", .same_site = same_site::strict},
       "cookie-14=samesite-strict; SameSite=Strict"},
      {{.name = "cookie-15", .value = "samesite-none", .same_site = same_site::none},
       "cookie-15=samesite-none; SameSite=None"},
      {{.name = "cookie-16",
        .value = "partitioned",
        .path = "/",
        .secure = true,
        .same_site = same_site::none,
        .partitioned = true},
       "cookie-16=partitioned; Path=/; Secure; SameSite=None; Partitioned"},
      {{.name = "special-1", .value = "a z"}, "special-1=\"a z\""},
      {{.name = "special-2", .value = " z"}, "special-2=\" z\""},
      {{.name = "special-4", .value = " "}, "special-4=\" \""},
      {{.name = "special-5", .value = "a,z"}, "special-5=\"a,z\""},
      {{.name = "special-8", .value = ","}, "special-8=\",\""},
      {{.name = "empty-value", .value = ""}, "empty-value="},
      {{.name = ""}, ""},
      {{.name = "\t"}, ""},
      {{.name = "a\nb", .value = "v"}, ""},
      {{.name = "cookie", .value = "quoted", .quoted = true}, "cookie=\"quoted\""},
      {{.name = "cookie", .value = "quoted with spaces", .quoted = true},
       "cookie=\"quoted with spaces\""},
      {{.name = "cookie", .value = "a\"b;c\\d"}, "cookie=abcd"},  // sanitized
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.want);
    EXPECT_EQ(c.c.string(), c.want);
  }
}

TEST_F(Cookie, ReadsSetCookieAsGo) {
  struct {
    const char* line;
    bool ok;
    http::cookie want;
  } cases[] = {
      {"Cookie-1=v$1", true, {.name = "Cookie-1", .value = "v$1"}},
      {"NID=99=YsDT5i3E-CXax-; expires=Wed, 23-Nov-2011 01:05:03 GMT; path=/; domain=.google.ch; "
       "HttpOnly",
       true,
       {.name = "NID",
        .value = "99=YsDT5i3E-CXax-",
        .path = "/",
        .domain = ".google.ch",
        .expires = at(2011, 11, 23, 1, 5, 3),
        .raw_expires = "Wed, 23-Nov-2011 01:05:03 GMT",
        .http_only = true}},
      {".ASPXAUTH=7E3AA; expires=Wed, 07-Mar-2012 14:25:06 GMT; path=/; HttpOnly",
       true,
       {.name = ".ASPXAUTH",
        .value = "7E3AA",
        .path = "/",
        .expires = at(2012, 3, 7, 14, 25, 6),
        .raw_expires = "Wed, 07-Mar-2012 14:25:06 GMT",
        .http_only = true}},
      {"ASP.NET_SessionId=foo; path=/; HttpOnly",
       true,
       {.name = "ASP.NET_SessionId", .value = "foo", .path = "/", .http_only = true}},
      {"samesitedefault=foo; SameSite",
       true,
       {.name = "samesitedefault", .value = "foo", .same_site = same_site::default_mode}},
      {"samesiteinvalidisdefault=foo; SameSite=invalid",
       true,
       {.name = "samesiteinvalidisdefault", .value = "foo", .same_site = same_site::default_mode}},
      {"samesitelax=foo; SameSite=Lax",
       true,
       {.name = "samesitelax", .value = "foo", .same_site = same_site::lax}},
      {"samesitestrict=foo; SameSite=Strict",
       true,
       {.name = "samesitestrict", .value = "foo", .same_site = same_site::strict}},
      {"samesitenone=foo; SameSite=None",
       true,
       {.name = "samesitenone", .value = "foo", .same_site = same_site::none}},
      {"special-1=a z", true, {.name = "special-1", .value = "a z"}},
      {"special-2=\" z\"", true, {.name = "special-2", .value = " z", .quoted = true}},
      {"special-5=a,z", true, {.name = "special-5", .value = "a,z"}},
      {"special-9 =\",\"", true, {.name = "special-9", .value = ",", .quoted = true}},
      {"cookie=\"quoted\"", true, {.name = "cookie", .value = "quoted", .quoted = true}},
      {"a=1; Max-Age=0", true, {.name = "a", .value = "1", .max_age = -1}},
      {"a=1; Max-Age=010", true, {.name = "a", .value = "1", .unparsed = {"Max-Age=010"}}},
      {"a=1; Partitioned; Secure",
       true,
       {.name = "a", .value = "1", .secure = true, .partitioned = true}},
      {"a=1; Frobnicate=yes", true, {.name = "a", .value = "1", .unparsed = {"Frobnicate=yes"}}},
      {"", false, {}},
      {"noequals", false, {}},
      {"bad name=1", false, {}},
      {"a=b\"c", false, {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    std::optional<http::cookie> got = parse_set_cookie(c.line);
    ASSERT_EQ(got.has_value(), c.ok);
    if (!got) continue;
    EXPECT_EQ(got->name, c.want.name);
    EXPECT_EQ(got->value, c.want.value);
    EXPECT_EQ(got->quoted, c.want.quoted);
    EXPECT_EQ(got->path, c.want.path);
    EXPECT_EQ(got->domain, c.want.domain);
    EXPECT_EQ(got->expires, c.want.expires);
    EXPECT_EQ(got->raw_expires, c.want.raw_expires);
    EXPECT_EQ(got->max_age, c.want.max_age);
    EXPECT_EQ(got->secure, c.want.secure);
    EXPECT_EQ(got->http_only, c.want.http_only);
    EXPECT_EQ(got->same_site, c.want.same_site);
    EXPECT_EQ(got->partitioned, c.want.partitioned);
    EXPECT_EQ(got->unparsed, c.want.unparsed);
    EXPECT_EQ(got->raw, c.line);
  }
}

TEST_F(Cookie, ReadsCookieFieldsAsGo) {
  struct {
    std::vector<const char*> lines;
    const char* filter;
    std::string want;  // "name=value[q] ..."
  } cases[] = {
      {{"Cookie-1=v$1", "c2=v2"}, "", "Cookie-1=v$1 c2=v2"},
      {{"Cookie-1=v$1", "c2=v2"}, "c2", "c2=v2"},
      {{"Cookie-1=v$1; c2=v2"}, "", "Cookie-1=v$1 c2=v2"},
      {{"Cookie-1=v$1; c2=v2"}, "c2", "c2=v2"},
      {{"Cookie-1=\"v$1\"; c2=\"v2\""}, "", "Cookie-1=v$1q c2=v2q"},
      {{"Cookie-1=\"v$1\"; c2=v2;"}, "", "Cookie-1=v$1q c2=v2"},
      {{""}, "", ""},
      {{"bad name=1; ok=2; bad=\"x"}, "", "ok=2"},
  };
  for (const auto& c : cases) {
    headers h;
    for (const char* l : c.lines) h.add("Cookie", l);
    std::string got;
    for (const auto& ck : read_cookies(h, c.filter))
      got += (got.empty() ? "" : " ") + ck.name + "=" + ck.value + (ck.quoted ? "q" : "");
    EXPECT_EQ(got, c.want);
  }
  headers h;
  add_cookie(h, {.name = "a", .value = "1"});
  add_cookie(h, {.name = "b", .value = "x y"});
  EXPECT_EQ(h.get("Cookie"), "a=1; b=\"x y\"");
}

// --- The jar, with Go's jar_test.go tables -------------------------------------------------------

// Go's tNow, and the clock the jar reads in these tests.
const sys_time t_now = sys_time(at(2013, 1, 1, 12, 0, 0));
sys_time clock_now = t_now;
sys_time test_clock() {
  return clock_now;
}

// "scheme://host[:port]/path" into ringo's url (https and ftp too: the jar only looks).
url make_url(std::string_view s) {
  url u;
  const std::size_t colon = s.find("://");
  u.scheme = std::string(s.substr(0, colon));
  s.remove_prefix(colon + 3);
  const std::size_t slash = s.find('/');
  std::string_view authority = s.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(s.substr(slash));
  if (const std::size_t p = authority.rfind(':');
      p != std::string_view::npos && authority.find(':') == p) {
    u.port = std::uint16_t(std::stoi(std::string(authority.substr(p + 1)).empty()
                                         ? "80"
                                         : std::string(authority.substr(p + 1))));
    authority = authority.substr(0, p);
  }
  u.host = std::string(authority);
  return u;
}

std::string expires_in(int secs) {
  const http::cookie c{.name = "x",
                       .expires = at(2013, 1, 1, 12, 0, 0) + std::chrono::seconds(secs)};
  return "expires=" + c.string().substr(std::string("x=; Expires=").size());
}

struct query {
  std::string to;
  std::string want;
};
struct jar_test {
  std::string description;
  std::string from;
  std::vector<std::string> set;
  std::vector<query> queries;
};

// Go's jarTest.run: set at tNow, each query 1001 ms later than the one before.
void run_jar_test(cookie_jar& jar, const jar_test& t) {
  SCOPED_TRACE(t.description);
  clock_now = t_now;
  std::vector<http::cookie> cookies;
  for (const std::string& s : t.set)
    if (auto c = parse_set_cookie(s)) cookies.push_back(*c);
  jar.set_cookies(make_url(t.from), cookies);
  clock_now += 1001ms;
  for (const query& q : t.queries) {
    clock_now += 1001ms;
    std::string got;
    for (const auto& c : jar.cookies(make_url(q.to)))
      got += (got.empty() ? "" : " ") + c.name + "=" + c.value;
    EXPECT_EQ(got, q.want) << "query " << q.to;
  }
}

std::shared_ptr<const public_suffix_list> test_psl() {
  // Go's testPSL: "co.uk" and the default rule.
  return std::make_shared<const public_suffix_list>(public_suffix_list::parse("co.uk\n"));
}

cookie_jar new_test_jar() {
  cookie_jar jar({.public_suffixes = test_psl()});
  jar.set_clock(test_clock);
  return jar;
}

const std::vector<query> path_queries = {
    {"http://www.host.test", ""},
    {"http://www.host.test/", ""},
    {"http://www.host.test/some", ""},
    {"http://www.host.test/some/", ""},
    {"http://www.host.test/some/path", "A=a"},
    {"http://www.host.test/some/paths", ""},
    {"http://www.host.test/some/path/foo", "A=a"},
    {"http://www.host.test/some/path/foo/", "A=a"},
};

TEST_F(CookieJar, PassesGosBasicsTests) {
  const std::vector<jar_test> tests = {
      {"Retrieval of a plain host cookie.",
       "http://www.host.test/",
       {"A=a"},
       {{"http://www.host.test", "A=a"},
        {"http://www.host.test/", "A=a"},
        {"http://www.host.test/some/path", "A=a"},
        {"https://www.host.test", "A=a"},
        {"https://www.host.test/some/path", "A=a"},
        {"ftp://www.host.test", ""},
        {"http://www.other.org", ""},
        {"http://sibling.host.test", ""},
        {"http://deep.www.host.test", ""}}},
      {"Secure cookies are not returned to http.",
       "http://www.host.test/",
       {"A=a; secure"},
       {{"http://www.host.test", ""},
        {"http://www.host.test/some/path", ""},
        {"https://www.host.test", "A=a"},
        {"https://www.host.test/some/path", "A=a"}}},
      {"Explicit path.", "http://www.host.test/", {"A=a; path=/some/path"}, path_queries},
      {"Implicit path #1: path is a directory.",
       "http://www.host.test/some/path/",
       {"A=a"},
       path_queries},
      {"Implicit path #2: path is not a directory.",
       "http://www.host.test/some/path/index.html",
       {"A=a"},
       path_queries},
      {"Implicit path #3: no path in URL at all.",
       "http://www.host.test",
       {"A=a"},
       {{"http://www.host.test", "A=a"},
        {"http://www.host.test/", "A=a"},
        {"http://www.host.test/some/path", "A=a"}}},
      {"Cookies are sorted by path length.",
       "http://www.host.test/",
       {"A=a; path=/foo/bar", "B=b; path=/foo/bar/baz/qux", "C=c; path=/foo/bar/baz",
        "D=d; path=/foo"},
       {{"http://www.host.test/foo/bar/baz/qux", "B=b C=c A=a D=d"},
        {"http://www.host.test/foo/bar/baz/", "C=c A=a D=d"},
        {"http://www.host.test/foo/bar", "A=a D=d"}}},
      {"Creation time determines sorting on same length paths.",
       "http://www.host.test/",
       {"A=a; path=/foo/bar", "X=x; path=/foo/bar", "Y=y; path=/foo/bar/baz/qux",
        "B=b; path=/foo/bar/baz/qux", "C=c; path=/foo/bar/baz", "W=w; path=/foo/bar/baz",
        "Z=z; path=/foo", "D=d; path=/foo"},
       {{"http://www.host.test/foo/bar/baz/qux", "Y=y B=b C=c W=w A=a X=x Z=z D=d"},
        {"http://www.host.test/foo/bar/baz/", "C=c W=w A=a X=x Z=z D=d"},
        {"http://www.host.test/foo/bar", "A=a X=x Z=z D=d"}}},
      {"Sorting of same-name cookies.",
       "http://www.host.test/",
       {"A=1; path=/", "A=2; path=/path", "A=3; path=/quux", "A=4; path=/path/foo",
        "A=5; domain=.host.test; path=/path", "A=6; domain=.host.test; path=/quux",
        "A=7; domain=.host.test; path=/path/foo"},
       {{"http://www.host.test/path", "A=2 A=5 A=1"},
        {"http://www.host.test/path/foo", "A=4 A=7 A=2 A=5 A=1"}}},
      {"Disallow domain cookie on public suffix.",
       "http://www.bbc.co.uk",
       {"a=1", "b=2; domain=co.uk"},
       {{"http://www.bbc.co.uk", "a=1"}}},
      {"Host cookie on IP.", "http://192.168.0.10", {"a=1"}, {{"http://192.168.0.10", "a=1"}}},
      {"Domain cookies on IP.",
       "http://192.168.0.10",
       {"a=1; domain=192.168.0.10", "b=2; domain=172.31.9.9", "c=3; domain=.192.168.0.10"},
       {{"http://192.168.0.10", "a=1"},
        {"http://172.31.9.9", ""},
        {"http://192.168.0.10/", "a=1"}}},
      {"Port is ignored #1.",
       "http://www.host.test/",
       {"a=1"},
       {{"http://www.host.test", "a=1"}, {"http://www.host.test:8080/", "a=1"}}},
      {"Port is ignored #2.",
       "http://www.host.test:8080/",
       {"a=1"},
       {{"http://www.host.test", "a=1"},
        {"http://www.host.test:8080/", "a=1"},
        {"http://www.host.test:1234/", "a=1"}}},
  };
  for (const jar_test& t : tests) {
    cookie_jar jar = new_test_jar();
    run_jar_test(jar, t);
  }
}

TEST_F(CookieJar, PassesGosUpdateAndDeleteTests) {
  const std::vector<jar_test> tests = {
      {"Set initial cookies.",
       "http://www.host.test",
       {"a=1", "b=2; secure", "c=3; httponly", "d=4; secure; httponly"},
       {{"http://www.host.test", "a=1 c=3"}, {"https://www.host.test", "a=1 b=2 c=3 d=4"}}},
      {"Update value via http.",
       "http://www.host.test",
       {"a=w", "b=x; secure", "c=y; httponly", "d=z; secure; httponly"},
       {{"http://www.host.test", "a=w c=y"}, {"https://www.host.test", "a=w b=x c=y d=z"}}},
      {"Clear Secure flag from an http.",
       "http://www.host.test/",
       {"b=xx", "d=zz; httponly"},
       {{"http://www.host.test", "a=w b=xx c=y d=zz"}}},
      {"Delete all.",
       "http://www.host.test/",
       {"a=1; max-Age=-1", "b=2; " + expires_in(-10), "c=2; max-age=-1; " + expires_in(-10),
        "d=4; max-age=-1; " + expires_in(10)},
       {{"http://www.host.test", ""}}},
      {"Refill #1.",
       "http://www.host.test",
       {"A=1", "A=2; path=/foo", "A=3; domain=.host.test", "A=4; path=/foo; domain=.host.test"},
       {{"http://www.host.test/foo", "A=2 A=4 A=1 A=3"}}},
      {"Refill #2.",
       "http://www.google.com",
       {"A=6", "A=7; path=/foo", "A=8; domain=.google.com", "A=9; path=/foo; domain=.google.com"},
       {{"http://www.host.test/foo", "A=2 A=4 A=1 A=3"},
        {"http://www.google.com/foo", "A=7 A=9 A=6 A=8"}}},
      {"Delete A7.",
       "http://www.google.com",
       {"A=; path=/foo; max-age=-1"},
       {{"http://www.host.test/foo", "A=2 A=4 A=1 A=3"},
        {"http://www.google.com/foo", "A=9 A=6 A=8"}}},
      {"Delete A4.",
       "http://www.host.test",
       {"A=; path=/foo; domain=host.test; max-age=-1"},
       {{"http://www.host.test/foo", "A=2 A=1 A=3"}, {"http://www.google.com/foo", "A=9 A=6 A=8"}}},
      {"Delete A6.",
       "http://www.google.com",
       {"A=; max-age=-1"},
       {{"http://www.host.test/foo", "A=2 A=1 A=3"}, {"http://www.google.com/foo", "A=9 A=8"}}},
      {"Delete A3.",
       "http://www.host.test",
       {"A=; domain=host.test; max-age=-1"},
       {{"http://www.host.test/foo", "A=2 A=1"}, {"http://www.google.com/foo", "A=9 A=8"}}},
      {"No cross-domain delete.",
       "http://www.host.test",
       {"A=; domain=google.com; max-age=-1", "A=; path=/foo; domain=google.com; max-age=-1"},
       {{"http://www.host.test/foo", "A=2 A=1"}, {"http://www.google.com/foo", "A=9 A=8"}}},
      {"Delete A8 and A9.",
       "http://www.google.com",
       {"A=; domain=google.com; max-age=-1", "A=; path=/foo; domain=google.com; max-age=-1"},
       {{"http://www.host.test/foo", "A=2 A=1"}, {"http://www.google.com/foo", ""}}},
  };
  cookie_jar jar = new_test_jar();
  for (const jar_test& t : tests) run_jar_test(jar, t);
}

TEST_F(CookieJar, PassesGosExpirationTest) {
  cookie_jar jar = new_test_jar();
  run_jar_test(jar, {"Expiration.",
                     "http://www.host.test",
                     {"a=1", "b=2; max-age=3", "c=3; " + expires_in(3), "d=4; max-age=5",
                      "e=5; " + expires_in(5), "f=6; max-age=100"},
                     {{"http://www.host.test", "a=1 b=2 c=3 d=4 e=5 f=6"},
                      {"http://www.host.test", "a=1 d=4 e=5 f=6"},
                      {"http://www.host.test", "a=1 d=4 e=5 f=6"},
                      {"http://www.host.test", "a=1 f=6"},
                      {"http://www.host.test", "a=1 f=6"}}});
}

TEST_F(CookieJar, PassesGosChromiumBasicsTests) {
  const std::vector<jar_test> tests = {
      {"DomainWithTrailingDotTest.",
       "http://www.google.com/",
       {"a=1; domain=.www.google.com.", "b=2; domain=.www.google.com.."},
       {{"http://www.google.com", ""}}},
      {"ValidSubdomainTest #1.",
       "http://a.b.c.d.com",
       {"a=1; domain=.a.b.c.d.com", "b=2; domain=.b.c.d.com", "c=3; domain=.c.d.com",
        "d=4; domain=.d.com"},
       {{"http://a.b.c.d.com", "a=1 b=2 c=3 d=4"},
        {"http://b.c.d.com", "b=2 c=3 d=4"},
        {"http://c.d.com", "c=3 d=4"},
        {"http://d.com", "d=4"}}},
      {"ValidSubdomainTest #2.",
       "http://a.b.c.d.com",
       {"a=1; domain=.a.b.c.d.com", "b=2; domain=.b.c.d.com", "c=3; domain=.c.d.com",
        "d=4; domain=.d.com", "X=bcd; domain=.b.c.d.com", "X=cd; domain=.c.d.com"},
       {{"http://b.c.d.com", "b=2 c=3 d=4 X=bcd X=cd"}, {"http://c.d.com", "c=3 d=4 X=cd"}}},
      {"InvalidDomainTest #1.",
       "http://foo.bar.com",
       {"a=1; domain=.yo.foo.bar.com", "b=2; domain=.foo.com", "c=3; domain=.bar.foo.com",
        "d=4; domain=.foo.bar.com.net", "e=5; domain=ar.com", "f=6; domain=.", "g=7; domain=/",
        "h=8; domain=http://foo.bar.com", "i=9; domain=..foo.bar.com", "j=10; domain=..bar.com",
        "k=11; domain=.foo.bar.com?blah", "l=12; domain=.foo.bar.com/blah",
        "m=12; domain=.foo.bar.com:80",
        "n=14; domain=.foo.bar.com:", "o=15; domain=.foo.bar.com#sup"},
       {{"http://foo.bar.com", ""}}},
      {"InvalidDomainTest #2.",
       "http://foo.com.com",
       {"a=1; domain=.foo.com.com.com"},
       {{"http://foo.bar.com", ""}}},
      {"DomainWithoutLeadingDotTest #1.",
       "http://manage.hosted.filefront.com",
       {"a=1; domain=filefront.com"},
       {{"http://www.filefront.com", "a=1"}}},
      {"DomainWithoutLeadingDotTest #2.",
       "http://www.google.com",
       {"a=1; domain=www.google.com"},
       {{"http://www.google.com", "a=1"},
        {"http://sub.www.google.com", "a=1"},
        {"http://something-else.com", ""}}},
      {"CaseInsensitiveDomainTest.",
       "http://www.google.com",
       {"a=1; domain=.GOOGLE.COM", "b=2; domain=.www.gOOgLE.coM"},
       {{"http://www.google.com", "a=1 b=2"}}},
      {"TestIpAddress #1.", "http://1.2.3.4/foo", {"a=1; path=/"}, {{"http://1.2.3.4/foo", "a=1"}}},
      {"TestIpAddress #2.",
       "http://1.2.3.4/foo",
       {"a=1; domain=.1.2.3.4", "b=2; domain=.3.4"},
       {{"http://1.2.3.4/foo", ""}}},
      {"TestIpAddress #3.",
       "http://1.2.3.4/foo",
       {"a=1; domain=1.2.3.4"},
       {{"http://1.2.3.4/foo", "a=1"}}},
      {"TestNonDottedAndTLD #2.",
       "http://com./index.html",
       {"a=1"},
       {{"http://com./index.html", "a=1"}, {"http://no-cookies.com./index.html", ""}}},
      {"TestNonDottedAndTLD #3.",
       "http://a.b",
       {"a=1; domain=.b", "b=2; domain=b"},
       {{"http://bar.foo", ""}}},
      {"TestNonDottedAndTLD #4.",
       "http://google.com",
       {"a=1; domain=.com", "b=2; domain=com"},
       {{"http://google.com", ""}}},
      {"TestNonDottedAndTLD #5.",
       "http://google.co.uk",
       {"a=1; domain=.co.uk", "b=2; domain=.uk"},
       {{"http://google.co.uk", ""}, {"http://else.co.com", ""}, {"http://else.uk", ""}}},
      {"TestHostEndsWithDot.",
       "http://www.google.com",
       {"a=1", "b=2; domain=.www.google.com."},
       {{"http://www.google.com", "a=1"}}},
      {"PathTest",
       "http://www.google.izzle",
       {"a=1; path=/wee"},
       {{"http://www.google.izzle/wee", "a=1"},
        {"http://www.google.izzle/wee/", "a=1"},
        {"http://www.google.izzle/wee/war", "a=1"},
        {"http://www.google.izzle/wee/war/more/more", "a=1"},
        {"http://www.google.izzle/weehee", ""},
        {"http://www.google.izzle/", ""}}},
  };
  for (const jar_test& t : tests) {
    cookie_jar jar = new_test_jar();
    run_jar_test(jar, t);
  }
}

TEST_F(CookieJar, ReadsDebiansPublicSuffixList) {
  auto list = public_suffix_list::load();
  if (!list) GTEST_SKIP() << "the publicsuffix package is not installed";
  struct {
    const char* domain;
    const char* suffix;
  } cases[] = {
      {"www.bbc.co.uk", "co.uk"},
      {"example.com", "com"},
      {"a.b.example.nosuchtld", "nosuchtld"},
      {"www.ck", "ck"},
      {"foo.bar.ck", "bar.ck"},
      {"user.github.io", "github.io"},
      {"kyoto.jp", "kyoto.jp"},
      {"a.kawasaki.jp", "a.kawasaki.jp"},
      {"city.kawasaki.jp", "kawasaki.jp"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.domain);
    EXPECT_EQ(list->public_suffix(c.domain), c.suffix);
  }
  cookie_jar jar({.public_suffixes = std::make_shared<const public_suffix_list>(*list)});
  jar.set_cookies(make_url("http://a.github.io/"),
                  {*parse_set_cookie("x=1; domain=github.io"), *parse_set_cookie("y=2")});
  EXPECT_EQ(jar.cookies(make_url("http://b.github.io/")).size(), 0u);
  EXPECT_EQ(jar.cookies(make_url("http://a.github.io/")).size(), 1u);
}

TEST_F(CookieJar, AClientCarriesCookiesAcrossARedirect) {
  mux m;
  m.handle("GET /login", [](response_writer& w, request& r) -> task<void> {
    w.header().add("Set-Cookie", "session=s1; Path=/");
    co_await redirect(w, r, "/home", 302);
  });
  m.handle("GET /home", [](response_writer& w, request& r) -> task<void> {
    co_await w.write("cookie: " + std::string(r.header.get("Cookie").value_or("none")));
  });
  httptest::server srv(m.as_handler());
  cookie_jar jar;
  auto body = [](std::string url, cookie_jar* j) -> task<std::string> {
    transport t;
    std::string out;
    {
      client c(t, {.jar = j});
      auto got = co_await c.fetch(url + "/login");
      out = got ? *got : got.error().message();
      auto again = co_await c.fetch(url + "/home");
      out += " | " + (again ? *again : again.error().message());
    }
    co_await t.close();
    co_return out;
  };
  EXPECT_EQ(ringo::run(body(srv.url(), &jar)), "cookie: session=s1 | cookie: session=s1");
}

}  // namespace
}  // namespace ringo::http
