#include "ringo/http/mux.hpp"

#include <algorithm>

#include "pattern.hpp"
#include "ringo/http/handlers.hpp"
#include "ringo/http/request.hpp"
#include "ringo/http/response_writer.hpp"
#include "ringo/http/status.hpp"
#include "routing_tree.hpp"

namespace ringo::http {

struct mux::entry {
  detail::pattern pat;
  http::handler handler;
};

namespace {

// Whether the leaf's pattern matches `path` without help from a trailing multi: "/a/" matches
// "/a/" exactly but "/a/b" only as a prefix (Go's exactMatch).
bool exact_match(const detail::routing_node* n, std::string_view path) {
  if (n == nullptr) return false;
  const auto& segs = n->pat->segments;
  if (!segs.back().multi()) return true;
  if (!path.empty() && path.back() != '/') return false;
  return segs.size() == static_cast<std::size_t>(std::count(path.begin(), path.end(), '/'));
}

}  // namespace

mux::mux() : tree_(std::make_unique<detail::routing_node>()) {}

mux::~mux() = default;

std::error_code mux_error::code() const noexcept {
  return reason == kind::conflict ? errc::pattern_conflict : errc::invalid_pattern;
}

void mux::handle(std::string_view pattern, http::handler h, const char* file, int line) {
  if (!pattern.empty() && !h)
    throw mux_error{mux_error::kind::nil_handler, std::string(pattern), {}, "http: nil handler"};
  auto parsed = detail::parse_pattern(pattern);
  if (!parsed) throw parsed.error();
  detail::pattern p = std::move(*parsed);
  p.loc = std::string(file) + ":" + std::to_string(line);

  // Linear in the patterns registered: registration happens once, at startup. (Go keeps an index
  // by segment to skip patterns that cannot conflict; worth it only for thousands of patterns.)
  for (const auto& e : entries_) {
    if (!detail::conflicts_with(p, e->pat)) continue;
    throw mux_error{mux_error::kind::conflict, p.str, e->pat.str,
                    "pattern " + detail::quote(p.str) + " (registered at " + p.loc +
                        ") conflicts with pattern " + detail::quote(e->pat.str) +
                        " (registered at " + e->pat.loc + "):\n" +
                        detail::describe_conflict(p, e->pat)};
  }

  // Reserve first: once the tree points at the entry, storing it must not fail.
  entries_.reserve(entries_.size() + 1);
  auto e = std::make_unique<entry>(entry{std::move(p), std::move(h)});
  tree_->add_pattern(e->pat, e->handler);
  entries_.push_back(std::move(e));
}

mux::match_result mux::match(std::string_view method, std::string_view host,
                             std::string_view path) const {
  match_result m;
  std::vector<std::string> matches;
  // CONNECT's target names a host to tunnel to, not a resource: Go neither cleans its path nor
  // strips the port from its host.
  bool connect = method == "CONNECT";
  std::string cleaned;
  std::string_view h = host;
  std::string_view p = path;
  if (!connect) {
    h = detail::strip_host_port(host);
    if (!detail::path_is_clean(path)) {
      cleaned = detail::clean_path(path);
      p = cleaned;
    }
  }
  const detail::routing_node* n = tree_->match(h, method, p, matches);

  // "/tree" when only "/tree/" is registered: send the client to "/tree/", but only if that is
  // an exact match for this method (not, say, "/" catching everything).
  if (!exact_match(n, p) && !p.empty() && p.back() != '/') {
    std::string with_slash = std::string(p) + '/';
    std::vector<std::string> unused;
    const detail::routing_node* n2 = tree_->match(h, method, with_slash, unused);
    if (exact_match(n2, with_slash)) {
      m.kind = outcome::redirect;
      m.redirect_to = detail::clean_path(path) + '/';
      m.pattern = n2->pat->str;
      return m;
    }
  }
  if (!connect && p != path) {
    m.kind = outcome::redirect;
    m.redirect_to = std::string(p);
    if (n != nullptr) m.pattern = n->pat->str;
    return m;
  }

  if (n == nullptr) {
    // Tell "no such path" from "not with this method": collect the methods that would match.
    std::vector<std::string> methods;
    tree_->matching_methods(h, p, methods);
    if (p.empty() || p.back() != '/') tree_->matching_methods(h, std::string(p) + '/', methods);
    std::sort(methods.begin(), methods.end());
    methods.erase(std::unique(methods.begin(), methods.end()), methods.end());
    for (const auto& method_name : methods) {
      if (!m.allow.empty()) m.allow += ", ";
      m.allow += method_name;
    }
    m.kind = methods.empty() ? outcome::not_found : outcome::method_not_allowed;
    return m;
  }

  m.kind = outcome::found;
  m.handler = n->handler;
  m.pattern = n->pat->str;
  std::size_t i = 0;
  for (const auto& seg : n->pat->segments) {
    if (!seg.wild() || seg.s.empty()) continue;
    if (i < matches.size()) m.path_values.emplace_back(seg.s, std::move(matches[i]));
    ++i;
  }
  return m;
}

task<void> mux::operator()(response_writer& w, request& r) const {
  if (r.target == "*") {
    // "OPTIONS *" asks about the server, not a resource; Go's mux refuses it and closes.
    if (r.version_minor >= 1) w.header().set("Connection", "close");
    w.write_header(status::bad_request);
    co_return;
  }
  match_result m = match(r.method, r.host, r.path());
  switch (m.kind) {
    case outcome::found:
      r.pattern = m.pattern;
      r.path_values = std::move(m.path_values);
      co_await (*m.handler)(w, r);
      break;
    case outcome::redirect: {
      r.pattern = m.pattern;
      std::string location = std::move(m.redirect_to);
      if (auto q = r.query(); !q.empty()) location.append("?").append(q);
      co_await redirect(w, r, std::move(location),
                        status::moved_permanently);  // Go: RedirectHandler
      break;
    }
    case outcome::method_not_allowed:
      w.header().set("Allow", m.allow);
      (void)co_await error(w, status::method_not_allowed, "Method Not Allowed");
      break;
    case outcome::not_found:
      (void)co_await error(w, status::not_found, "404 page not found");
      break;
  }
}

http::handler mux::as_handler() const {
  return [this](response_writer& w, request& r) { return (*this)(w, r); };
}

}  // namespace ringo::http
