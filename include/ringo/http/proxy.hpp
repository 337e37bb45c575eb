// proxy: which proxy a request goes through (Go's Transport.Proxy, http.ProxyFromEnvironment,
// http.ProxyURL and golang.org/x/net/http/httpproxy's rules).
//
// An http:// request goes to an HTTP proxy in absolute form ("GET http://host/path HTTP/1.1"); an
// https:// one through a CONNECT tunnel, inside which TLS runs end to end. An https:// proxy is
// spoken to over TLS (verified with the transport's tls config, the proxy's host as server name),
// so an https request runs TLS inside that TLS. A proxy URL's userinfo becomes the
// Proxy-Authorization header (Basic).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <ringo/http/url.hpp>
#include <ringo/runtime/result.hpp>

namespace ringo::http {

// A proxy to go through: where it listens, and the Proxy-Authorization value its URL's userinfo
// makes ("Basic dXNlcjpwYXNz"; empty without userinfo).
struct proxy_target {
  url address;  // http://host:port/ or https://host:port/
  std::string authorization;
};

// Parses a proxy's URL as Go's httpproxy does: "host:port" means "http://host:port"; http:// and
// https:// proxies are supported (no SOCKS). Errors: `invalid proxy address "…": …`.
result<proxy_target, url_error> parse_proxy(std::string_view text);

// The proxy for a request's URL, or none (nullopt: connect directly). Go's Transport.Proxy.
using proxy_function =
    std::function<result<std::optional<proxy_target>, url_error>(const url& request_url)>;

// Go's httpproxy.Config: the values of HTTP_PROXY, HTTPS_PROXY and NO_PROXY.
struct proxy_config {
  std::string http_proxy;   // for http:// requests
  std::string https_proxy;  // for https:// requests (a CONNECT tunnel)
  // Comma-separated hosts that are reached directly: "*" (all), an IP, a CIDR ("10.0.0.0/8"), a
  // domain ("example.com" matches it and its subdomains; ".example.com" and "*.example.com"
  // only subdomains), each optionally with ":port".
  std::string no_proxy;
  // Set under CGI (REQUEST_METHOD in the environment): HTTP_PROXY could come from a request's
  // "Proxy:" header there (httpoxy), so it is refused (go.dev/s/cgihttpproxy).
  bool cgi = false;
};

// Reads HTTP_PROXY, HTTPS_PROXY, NO_PROXY (the upper-case name first, then the lower-case one)
// and REQUEST_METHOD.
proxy_config proxy_config_from_environment();

// The proxy function of a config (Go's Config.ProxyFunc). As in Go, localhost and loopback
// addresses never go through a proxy.
proxy_function proxy_from_config(const proxy_config& config);

// proxy_from_config(proxy_config_from_environment()), the environment read once, at the first
// call (Go's http.ProxyFromEnvironment).
proxy_function proxy_from_environment();

// Every request through one proxy (Go's http.ProxyURL); loopback included.
proxy_function fixed_proxy(proxy_target proxy);

}  // namespace ringo::http
