// cookie_jar: Go's net/http/cookiejar.Jar, RFC 6265's storage model: host-only and domain
// cookies, path matching, Secure, HttpOnly, Expires and Max-Age (Max-Age wins), a cookie set again
// keeping its creation time, and cookies sent longest path first, then oldest first.
//
// The public-suffix rule (RFC 6265 §5.3 #5: no cookie for "co.uk" as a whole) comes from a
// public_suffix_list, by default Debian's publicsuffix package
// (/usr/share/publicsuffix/public_suffix_list.dat), parsed here. Without a list, as in Go with a
// nil PublicSuffixList, any domain the host domain-matches is accepted.
//
// A jar is used from one thread at a time (a client's io_context); client_options::jar takes one
// and the client sends and stores cookies across redirects.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <ringo/http/cookie.hpp>
#include <ringo/http/url.hpp>
#include <ringo/runtime/result.hpp>

namespace ringo::http {

// The Public Suffix List (publicsuffix.org's format: rules, "*." wildcards, "!" exceptions; both
// the ICANN and the private sections).
class public_suffix_list {
 public:
  static constexpr std::string_view debian_path = "/usr/share/publicsuffix/public_suffix_list.dat";

  // Parses the list's text.
  static public_suffix_list parse(std::string_view text);
  // Reads and parses a file (ENOENT when it is not there).
  static result<public_suffix_list> load(std::string_view path = debian_path);

  // The public suffix of a (lowercase, ASCII) domain: "co.uk" for "www.bbc.co.uk", the last
  // label when no rule matches ("*", RFC's prevailing rule).
  std::string public_suffix(std::string_view domain) const;

 private:
  std::unordered_set<std::string> rules_, wildcards_, exceptions_;
};

struct cookie_jar_options {
  // Shared so that many jars can use one list; null: no public-suffix rule.
  std::shared_ptr<const public_suffix_list> public_suffixes;
};

class cookie_jar {
 public:
  using sys_time = std::chrono::system_clock::time_point;
  explicit cookie_jar(cookie_jar_options options = {});

  // Go's Jar.SetCookies: stores what a response from `u` set (http and https URLs only).
  void set_cookies(const url& u, const std::vector<cookie>& cookies);
  // Go's Jar.Cookies: the name-value pairs to send to `u`, in RFC 6265 §5.4's order.
  std::vector<cookie> cookies(const url& u);

  // What is stored, expired or not, oldest first, for saving (examples/fetch's cookie file).
  struct entry {
    std::string name, value, domain, path;
    bool quoted = false, secure = false, http_only = false, persistent = false, host_only = false;
    // Whole seconds (a cookie's expiry reaches year 9999, past a nanosecond time_point's range).
    std::chrono::sys_seconds expires{}, creation{}, last_access{};
    std::uint64_t seq = 0;  // creation order within one creation time
  };
  std::vector<entry> entries() const;
  // Puts an entry back as it was saved (examples/fetch loading its cookie file).
  void restore(entry e);

  // Tests: the clock the jar reads (Go's jar tests move it by hand).
  void set_clock(sys_time (*now)()) noexcept { now_ = now; }

 private:
  result<std::pair<std::string, bool>> domain_and_type(const std::string& host,
                                                       std::string_view domain) const;
  std::string jar_key(const std::string& host) const;

  cookie_jar_options options_;
  // jar key (eTLD+1) -> "domain;path;name" -> entry
  std::map<std::string, std::map<std::string, entry>> entries_;
  std::uint64_t next_seq_ = 0;
  sys_time (*now_)() = nullptr;
};

}  // namespace ringo::http
