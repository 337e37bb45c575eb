// Go's net/http/cookiejar (jar.go) and golang.org/x/net/publicsuffix's rule, over Debian's list.
#include "ringo/http/cookie_jar.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace ringo::http {

namespace {

using std::chrono::sys_seconds;

const sys_seconds end_of_time = std::chrono::sys_days(std::chrono::year(9999) / 12 / 31);

bool has_dot_suffix(std::string_view s, std::string_view suffix) {
  return s.size() > suffix.size() && s[s.size() - suffix.size() - 1] == '.' && s.ends_with(suffix);
}

bool is_ip(std::string_view s) {
  if (s.find(':') != std::string_view::npos) return true;
  int dots = 0;
  for (char c : s) {
    if (c == '.')
      ++dots;
    else if (c < '0' || c > '9')
      return false;
  }
  return dots == 3;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return out;
}

// Go's canonicalHost, for the hosts ringo's url holds (no port; IDNA left out: ASCII hosts).
std::string canonical_host(std::string_view host) {
  if (host.ends_with('.')) host.remove_suffix(1);
  return lower(host);
}

std::string url_path(const url& u) {
  std::string_view t = u.target;
  t = t.substr(0, t.find('?'));
  return std::string(t.empty() ? "/" : t);
}

// RFC 6265 §5.1.4: the directory of the request's path.
std::string default_path(std::string_view path) {
  if (path.empty() || path.front() != '/') return "/";
  const std::size_t i = path.rfind('/');
  if (i == 0) return "/";
  return std::string(path.substr(0, i));
}

bool path_match(const std::string& cookie_path, std::string_view request_path) {
  if (request_path == cookie_path) return true;
  if (request_path.starts_with(cookie_path)) {
    if (cookie_path.back() == '/') return true;
    if (request_path[cookie_path.size()] == '/') return true;
  }
  return false;
}

bool domain_match(const cookie_jar::entry& e, std::string_view host) {
  if (e.domain == host) return true;
  return !e.host_only && has_dot_suffix(host, e.domain);
}

}  // namespace

// --- public_suffix_list --------------------------------------------------------------------------

public_suffix_list public_suffix_list::parse(std::string_view text) {
  public_suffix_list l;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    // A rule is the line's first word; "//" starts a comment.
    const std::size_t end = line.find_first_of(" \t\r");
    std::string rule = lower(line.substr(0, end));
    if (rule.empty() || rule.starts_with("//")) continue;
    if (rule.starts_with("!"))
      l.exceptions_.insert(rule.substr(1));
    else if (rule.starts_with("*."))
      l.wildcards_.insert(rule.substr(2));
    else
      l.rules_.insert(rule);
  }
  return l;
}

result<public_suffix_list> public_suffix_list::load(std::string_view path) {
  std::ifstream in{std::string(path)};
  if (!in) return make_error_code(std::errc::no_such_file_or_directory);
  std::ostringstream all;
  all << in.rdbuf();
  return parse(all.str());
}

// publicsuffix.org's algorithm: an exception rule wins and its suffix is the rule without its
// first label; else the longest matching rule (a wildcard matching any one label); else the last
// label.
std::string public_suffix_list::public_suffix(std::string_view domain) const {
  std::string_view d = domain;
  for (;;) {
    const std::string candidate(d);
    const std::size_t dot = d.find('.');
    const std::string_view parent =
        dot == std::string_view::npos ? std::string_view() : d.substr(dot + 1);
    if (exceptions_.contains(candidate)) return std::string(parent);
    if (rules_.contains(candidate)) return candidate;
    if (!parent.empty() && wildcards_.contains(std::string(parent))) return candidate;
    if (parent.empty()) return candidate;  // no rule: the prevailing "*"
    d = parent;
  }
}

// --- cookie_jar
// -----------------------------------------------------------------------------------

cookie_jar::cookie_jar(cookie_jar_options options) : options_(std::move(options)) {}

// Go's jarKey: the eTLD+1 ("bbc.co.uk" for "www.bbc.co.uk"), the host itself for an IP or a
// public suffix; without a list, the last two labels.
std::string cookie_jar::jar_key(const std::string& host) const {
  if (is_ip(host)) return host;
  std::size_t i = 0;
  if (!options_.public_suffixes) {
    const std::size_t dot = host.rfind('.');
    if (dot == std::string::npos || dot == 0) return host;
    i = dot;
  } else {
    const std::string suffix = options_.public_suffixes->public_suffix(host);
    if (suffix == host) return host;
    i = host.size() - suffix.size();
    if (i == 0 || host[i - 1] != '.') return host;  // a broken list: the host is a safe key
  }
  const std::size_t prev = host.rfind('.', i - 2);
  return prev == std::string::npos ? host : host.substr(prev + 1);
}

// Go's domainAndType: the cookie's domain and whether it is host-only, or why it is refused.
result<std::pair<std::string, bool>> cookie_jar::domain_and_type(const std::string& host,
                                                                 std::string_view domain) const {
  const std::error_code illegal = make_error_code(std::errc::invalid_argument);
  if (domain.empty()) return std::pair(host, true);  // no Domain attribute: a host cookie
  if (is_ip(host)) {
    // An IP in the Domain attribute is taken only when it is the host itself (and then the
    // cookie is host-only): a leading dot means nothing for an address.
    if (host != domain) return illegal;
    return std::pair(host, true);
  }
  if (domain.front() == '.') domain.remove_prefix(1);           // RFC 6265 §5.2.3
  if (domain.empty() || domain.front() == '.') return illegal;  // "Domain=." or "..x"
  for (unsigned char c : domain)
    if (c >= 0x80) return illegal;  // not ASCII: not punycode either
  std::string d = lower(domain);
  if (d.back() == '.') return illegal;  // "www.example.com.": refused (RFC 6265 §5.1.2)
  if (options_.public_suffixes) {
    const std::string ps = options_.public_suffixes->public_suffix(d);
    if (!ps.empty() && !has_dot_suffix(d, ps)) {
      // The domain is a public suffix: only the host itself may set it, as a host cookie.
      if (host == d) return std::pair(host, true);
      return illegal;
    }
  }
  if (host != d && !has_dot_suffix(host, d)) return illegal;  // it must domain-match the host
  return std::pair(d, false);
}

void cookie_jar::set_cookies(const url& u, const std::vector<cookie>& cookies) {
  if (u.scheme != "http" && u.scheme != "https") return;
  const std::string host = canonical_host(u.host);
  const std::string key = jar_key(host);
  const std::string def_path = default_path(url_path(u));
  const sys_seconds now =
      std::chrono::floor<std::chrono::seconds>(now_ ? now_() : std::chrono::system_clock::now());
  auto& submap = entries_[key];
  for (const cookie& c : cookies) {
    entry e;
    e.name = c.name;
    e.path = c.path.empty() || c.path.front() != '/' ? def_path : c.path;
    result<std::pair<std::string, bool>> dt = domain_and_type(host, c.domain);
    if (!dt) continue;
    e.domain = dt->first;
    e.host_only = dt->second;
    const std::string id = e.domain + ";" + e.path + ";" + e.name;
    // Max-Age wins over Expires; either in the past removes the cookie.
    bool remove = false;
    if (c.max_age < 0) {
      remove = true;
    } else if (c.max_age > 0) {
      e.expires = now + std::chrono::seconds(c.max_age);
      e.persistent = true;
    } else if (c.expires == sys_seconds{}) {
      e.expires = end_of_time;
    } else if (c.expires <= now) {
      remove = true;
    } else {
      e.expires = c.expires;
      e.persistent = true;
    }
    if (remove) {
      submap.erase(id);
      continue;
    }
    e.value = c.value;
    e.quoted = c.quoted;
    e.secure = c.secure;
    e.http_only = c.http_only;
    if (auto old = submap.find(id); old != submap.end()) {
      e.creation = old->second.creation;  // an update keeps its place (RFC 6265 §5.3 #11.3)
      e.seq = old->second.seq;
    } else {
      e.creation = now;
      e.seq = next_seq_++;
    }
    e.last_access = now;
    submap[id] = std::move(e);
  }
  if (submap.empty()) entries_.erase(key);
}

std::vector<cookie> cookie_jar::cookies(const url& u) {
  std::vector<cookie> out;
  if (u.scheme != "http" && u.scheme != "https") return out;
  const std::string host = canonical_host(u.host);
  auto it = entries_.find(jar_key(host));
  if (it == entries_.end()) return out;
  const sys_seconds now =
      std::chrono::floor<std::chrono::seconds>(now_ ? now_() : std::chrono::system_clock::now());
  const bool https = u.scheme == "https";
  const std::string path = url_path(u);
  std::vector<entry*> selected;
  auto& submap = it->second;
  for (auto e = submap.begin(); e != submap.end();) {
    if (e->second.persistent && e->second.expires <= now) {
      e = submap.erase(e);
      continue;
    }
    entry& x = e->second;
    if (domain_match(x, host) && path_match(x.path, path) && (https || !x.secure)) {
      x.last_access = now;
      selected.push_back(&x);
    }
    ++e;
  }
  // RFC 6265 §5.4 #2: longer paths first, then earlier creation (and order of setting).
  std::sort(selected.begin(), selected.end(), [](const entry* a, const entry* b) {
    if (a->path.size() != b->path.size()) return a->path.size() > b->path.size();
    if (a->creation != b->creation) return a->creation < b->creation;
    return a->seq < b->seq;
  });
  for (const entry* e : selected) {
    cookie c;
    c.name = e->name;
    c.value = e->value;
    c.quoted = e->quoted;
    out.push_back(std::move(c));
  }
  if (submap.empty()) entries_.erase(it);
  return out;
}

std::vector<cookie_jar::entry> cookie_jar::entries() const {
  std::vector<entry> out;
  for (const auto& [key, submap] : entries_)
    for (const auto& [id, e] : submap) out.push_back(e);
  // In the order they were set, so that a jar saved and restored sends them in the same order.
  std::sort(out.begin(), out.end(), [](const entry& a, const entry& b) {
    return a.creation != b.creation ? a.creation < b.creation : a.seq < b.seq;
  });
  return out;
}

void cookie_jar::restore(entry e) {
  const std::string key = jar_key(e.domain);
  e.seq = next_seq_++;
  const std::string id = e.domain + ";" + e.path + ";" + e.name;
  entries_[key][id] = std::move(e);
}

}  // namespace ringo::http
