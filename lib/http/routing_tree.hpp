// routing_node: the decision tree a mux matches requests with (Go's routing_tree.go).
//
// The root branches on the host ("" for patterns without one), the next level on the method (""
// for patterns without one), the levels below on consecutive path segments. Matching tries the
// most specific branch first at each level: the request's host before no host, its method (then
// GET for HEAD) before no method, a literal segment before a single wildcard before a multi. That
// order finds the most specific pattern only because conflicting patterns were refused at
// registration; it can backtrack: with /a/b/z and /a/{x}/c, the path /a/b/c fails under b and is
// then tried under {x}.
#pragma once

#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pattern.hpp"
#include "ringo/http/handler.hpp"

namespace ringo::http::detail {

struct routing_node {
  // A leaf: the pattern ending here and its handler, both owned by the mux.
  const pattern* pat = nullptr;
  const http::handler* handler = nullptr;

  // Hosts, methods, or decoded literal path segments (an empty segment is a literal too).
  std::map<std::string, std::unique_ptr<routing_node>, std::less<>> children;
  std::unique_ptr<routing_node> wild_child;    // {name}
  std::unique_ptr<routing_node> dollar_child;  // {$}: always a leaf
  std::unique_ptr<routing_node> multi_child;   // {name...} or a trailing slash: always a leaf

  // The caller has made sure no registered pattern conflicts with `p`, so its leaf is free.
  void add_pattern(const pattern& p, const http::handler& h);

  // The leaf matching the request, or null. `path` is escaped and starts with '/' (or is empty);
  // `matches` receives the values of the leaf's wildcards, in order (unnamed ones excepted).
  const routing_node* match(std::string_view host, std::string_view method, std::string_view path,
                            std::vector<std::string>& matches) const;

  // Appends every method some pattern would match `host` and `path` with (GET implies HEAD).
  void matching_methods(std::string_view host, std::string_view path,
                        std::vector<std::string>& methods) const;

 private:
  const routing_node* find_child(std::string_view key) const;
  routing_node& add_child(std::string_view key);
  void add_segments(std::span<const segment> segs, const pattern& p, const http::handler& h);
  void set(const pattern& p, const http::handler& h);
  const routing_node* match_method_and_path(std::string_view method, std::string_view path,
                                            std::vector<std::string>& matches) const;
  const routing_node* match_path(std::string_view path, std::vector<std::string>& matches) const;
  void matching_methods_path(std::string_view path, std::vector<std::string>& methods) const;
};

}  // namespace ringo::http::detail
