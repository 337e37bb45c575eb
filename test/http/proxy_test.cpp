// Which proxy a request goes through: Go's golang.org/x/net/http/httpproxy tests (proxy_test.go:
// proxyForURLTests, UseProxyTests, the CGI case) as tables, and parse_proxy's userinfo.
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <ringo/http/proxy.hpp>

namespace ringo::http {
namespace {

// The proxy's "host:port", "" for none, or "error".
std::string proxy_for(const proxy_config& c, const std::string& request_url) {
  auto u = parse_url(request_url);
  EXPECT_TRUE(u) << request_url;
  if (!u) return "bad url";
  auto p = proxy_from_config(c)(*u);
  if (!p) return "error";
  return *p ? (*p)->address.authority() : "";
}

TEST(Proxy, ForUrlLikeGo) {
  struct row {
    proxy_config cfg;
    std::string req, want;
  };
  const std::vector<row> rows = {
      {{}, "http://example.com", ""},
      {{.http_proxy = "127.0.0.1:8080"}, "http://example.com", "127.0.0.1:8080"},
      {{.http_proxy = "cache.corp.example.com:1234"},
       "http://example.com",
       "cache.corp.example.com:1234"},
      {{.http_proxy = "cache.corp.example.com"}, "http://example.com", "cache.corp.example.com:80"},
      {{.http_proxy = "http://cache.corp.example.com"},
       "http://example.com",
       "cache.corp.example.com:80"},
      // HTTPS_PROXY is for https:// requests only, HTTP_PROXY for http:// ones.
      {{.http_proxy = "http.proxy.tld", .https_proxy = "secure.proxy.tld"},
       "http://insecure.tld/",
       "http.proxy.tld:80"},
      {{.http_proxy = "http.proxy.tld", .https_proxy = "secure.proxy.tld"},
       "https://secure.tld/",
       "secure.proxy.tld:80"},
      {{.https_proxy = "https.proxy.tld"}, "http://insecure.tld/", ""},
      // Never for localhost or loopback.
      {{.http_proxy = "cache.corp.example.com"}, "http://localhost/path", ""},
      {{.http_proxy = "cache.corp.example.com"}, "http://127.0.0.1:8080/path", ""},
      {{.http_proxy = "cache.corp.example.com"}, "http://127.1.2.3/", ""},
      {{.http_proxy = "cache.corp.example.com"}, "http://[::1]/", ""},
      // NO_PROXY.
      {{.http_proxy = "proxy", .no_proxy = "example.com"}, "http://example.com/", ""},
      {{.http_proxy = "proxy", .no_proxy = "example.com"}, "http://sub.example.com/", ""},
      {{.http_proxy = "proxy", .no_proxy = "example.com"}, "http://notexample.com/", "proxy:80"},
      {{.http_proxy = "proxy", .no_proxy = ".example.com"}, "http://example.com/", "proxy:80"},
      {{.http_proxy = "proxy", .no_proxy = ".example.com"}, "http://a.example.com/", ""},
      {{.http_proxy = "proxy", .no_proxy = "*.example.com"}, "http://example.com/", "proxy:80"},
      {{.http_proxy = "proxy", .no_proxy = "*.example.com"}, "http://a.example.com/", ""},
      {{.http_proxy = "proxy", .no_proxy = "*"}, "http://anything.tld/", ""},
      {{.http_proxy = "proxy", .no_proxy = "example.com:80"}, "http://example.com/", ""},
      {{.http_proxy = "proxy", .no_proxy = "example.com:443"}, "http://example.com/", "proxy:80"},
      {{.http_proxy = "proxy", .no_proxy = "10.0.0.0/8"}, "http://10.1.2.3/", ""},
      {{.http_proxy = "proxy", .no_proxy = "10.0.0.0/8"}, "http://11.1.2.3/", "proxy:80"},
      {{.http_proxy = "proxy", .no_proxy = "192.168.0.1"}, "http://192.168.0.1/", ""},
      {{.http_proxy = "proxy", .no_proxy = "192.168.0.1:81"}, "http://192.168.0.1/", "proxy:80"},
      {{.http_proxy = "proxy", .no_proxy = "2001:db8::/32"}, "http://[2001:db8::1]/", ""},
      {{.http_proxy = "proxy", .no_proxy = "[2001:db8::1]:80"}, "http://[2001:db8::1]/", ""},
      {{.http_proxy = "proxy", .no_proxy = " EXAMPLE.com , foo.bar"}, "http://foo.bar/", ""},
      {{.http_proxy = "proxy", .no_proxy = " EXAMPLE.com , foo.bar"}, "http://Example.COM/", ""},
      // Under CGI, HTTP_PROXY may come from a request's "Proxy:" header: refused.
      {{.http_proxy = "proxy", .cgi = true}, "http://example.com/", "error"},
      {{.https_proxy = "proxy", .cgi = true}, "https://example.com/", "proxy:80"},
  };
  for (const row& r : rows)
    EXPECT_EQ(proxy_for(r.cfg, r.req), r.want)
        << r.req << " with HTTP_PROXY=" << r.cfg.http_proxy << " HTTPS_PROXY=" << r.cfg.https_proxy
        << " NO_PROXY=" << r.cfg.no_proxy;
}

TEST(Proxy, UserinfoBecomesBasicProxyAuthorization) {
  auto p = parse_proxy("http://aladdin:open%20sesame@proxy.tld:3128");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->address.authority(), "proxy.tld:3128");
  EXPECT_EQ(p->authorization, "Basic YWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  auto none = parse_proxy("proxy.tld:3128");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->authorization, "");
  auto user_only = parse_proxy("http://u@proxy.tld");
  ASSERT_TRUE(user_only);
  EXPECT_EQ(user_only->authorization, "Basic dTo=");
  auto tls = parse_proxy("https://proxy.tld");  // spoken to over TLS, on 443 by default
  ASSERT_TRUE(tls);
  EXPECT_EQ(tls->address.scheme, "https");
  EXPECT_EQ(tls->address.authority(), "proxy.tld:443");
}

TEST(Proxy, BadProxyAddressesAreErrors) {
  EXPECT_FALSE(parse_proxy("socks5://proxy.tld:1080"));
  auto bad = parse_proxy("http://proxy.tld:port");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().text.rfind("invalid proxy address \"http://proxy.tld:port\"", 0), 0u)
      << bad.error().text;
}

TEST(Proxy, ReadsTheEnvironmentUpperCaseFirst) {
  ::setenv("HTTP_PROXY", "upper:1", 1);
  ::setenv("http_proxy", "lower:2", 1);
  ::setenv("https_proxy", "lower:3", 1);
  ::unsetenv("HTTPS_PROXY");
  ::setenv("no_proxy", "a.tld", 1);
  ::unsetenv("NO_PROXY");
  ::unsetenv("REQUEST_METHOD");
  const proxy_config c = proxy_config_from_environment();
  EXPECT_EQ(c.http_proxy, "upper:1");
  EXPECT_EQ(c.https_proxy, "lower:3");
  EXPECT_EQ(c.no_proxy, "a.tld");
  EXPECT_FALSE(c.cgi);
  for (const char* name : {"HTTP_PROXY", "http_proxy", "https_proxy", "no_proxy"}) ::unsetenv(name);
}

TEST(Proxy, FixedProxyTakesEveryRequestLoopbackIncluded) {
  auto p = parse_proxy("127.0.0.1:3128");
  ASSERT_TRUE(p);
  auto f = fixed_proxy(*p);
  auto got = f(*parse_url("http://127.0.0.1:8080/"));
  ASSERT_TRUE(got);
  ASSERT_TRUE(*got);
  EXPECT_EQ((*got)->address.authority(), "127.0.0.1:3128");
}

}  // namespace
}  // namespace ringo::http
