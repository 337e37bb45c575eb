#include "routing_tree.hpp"

#include <algorithm>
#include <cassert>

namespace ringo::http::detail {
namespace {

routing_node& ensure(std::unique_ptr<routing_node>& child) {
  if (!child) child = std::make_unique<routing_node>();
  return *child;
}

}  // namespace

void routing_node::add_pattern(const pattern& p, const http::handler& h) {
  add_child(p.host).add_child(p.method).add_segments(p.segments, p, h);
}

const routing_node* routing_node::find_child(std::string_view key) const {
  auto it = children.find(key);
  return it == children.end() ? nullptr : it->second.get();
}

routing_node& routing_node::add_child(std::string_view key) {
  auto it = children.find(key);
  if (it == children.end()) {
    it = children.emplace(std::string(key), std::make_unique<routing_node>()).first;
  }
  return *it->second;
}

void routing_node::add_segments(std::span<const segment> segs, const pattern& p,
                                const http::handler& h) {
  if (segs.empty()) return set(p, h);
  const segment& s = segs.front();
  switch (s.k) {
    case segment::kind::multi:
      return ensure(multi_child).set(p, h);
    case segment::kind::dollar:
      return ensure(dollar_child).set(p, h);
    case segment::kind::wild:
      return ensure(wild_child).add_segments(segs.subspan(1), p, h);
    case segment::kind::literal:
      return add_child(s.s).add_segments(segs.subspan(1), p, h);
  }
}

void routing_node::set(const pattern& p, const http::handler& h) {
  // Two patterns ending at one leaf have the same host, method and path shape: equivalent, which
  // registration refuses as a conflict.
  assert(pat == nullptr);
  pat = &p;
  handler = &h;
}

const routing_node* routing_node::match(std::string_view host, std::string_view method,
                                        std::string_view path,
                                        std::vector<std::string>& matches) const {
  // A pattern naming the host wins; if none of those matches, patterns without a host get a turn.
  if (!host.empty()) {
    if (auto* n = find_child(host)) {
      if (auto* leaf = n->match_method_and_path(method, path, matches)) return leaf;
    }
  }
  auto* n = find_child("");
  return n ? n->match_method_and_path(method, path, matches) : nullptr;
}

const routing_node* routing_node::match_method_and_path(std::string_view method,
                                                        std::string_view path,
                                                        std::vector<std::string>& matches) const {
  if (auto* n = find_child(method)) {
    if (auto* leaf = n->match_path(path, matches)) return leaf;
  }
  // GET patterns serve HEAD too, after HEAD's own: "HEAD /x" is more specific than "GET /x".
  if (method == "HEAD") {
    if (auto* n = find_child("GET")) {
      if (auto* leaf = n->match_path(path, matches)) return leaf;
    }
  }
  auto* n = find_child("");
  return n ? n->match_path(path, matches) : nullptr;
}

const routing_node* routing_node::match_path(std::string_view path,
                                             std::vector<std::string>& matches) const {
  if (path.empty()) return pat ? this : nullptr;
  if (path == "/") {
    // The trailing slash: only {$} or a multi matches it, never a single wildcard.
    if (dollar_child) return dollar_child.get();
  } else {
    std::string_view rest = path.substr(1);
    std::size_t end = std::min(rest.find('/'), rest.size());
    std::string_view raw = rest.substr(0, end);
    rest.remove_prefix(end);
    // Decoded per segment, so an escaped slash ("a%2Fb") stays inside its segment.
    std::string decoded;
    std::string_view seg = raw;
    if (raw.find('%') != std::string_view::npos) {
      decoded = path_unescape(raw);
      seg = decoded;
    }
    // A literal here beats a wildcard here: registration ruled out every other order.
    if (auto* n = find_child(seg)) {
      if (auto* leaf = n->match_path(rest, matches)) return leaf;
    }
    if (wild_child) {
      matches.emplace_back(seg);
      if (auto* leaf = wild_child->match_path(rest, matches)) return leaf;
      matches.pop_back();
    }
  }
  if (multi_child) {
    // A trailing slash in the pattern is an unnamed multi, which records no value.
    if (!multi_child->pat->last_segment().s.empty()) {
      matches.push_back(path_unescape(path.substr(1)));
    }
    return multi_child.get();
  }
  return nullptr;
}

void routing_node::matching_methods(std::string_view host, std::string_view path,
                                    std::vector<std::string>& methods) const {
  if (!host.empty()) {
    if (auto* n = find_child(host)) n->matching_methods_path(path, methods);
  }
  if (auto* n = find_child("")) n->matching_methods_path(path, methods);
}

void routing_node::matching_methods_path(std::string_view path,
                                         std::vector<std::string>& methods) const {
  std::vector<std::string> scratch;
  // The method-less child is left out: it matches every method, and this runs only when the
  // request's method found nothing.
  for (const auto& [method, child] : children) {
    if (method.empty()) continue;
    scratch.clear();
    if (!child->match_path(path, scratch)) continue;
    methods.push_back(method);
    if (method == "GET") methods.emplace_back("HEAD");
  }
}

}  // namespace ringo::http::detail
