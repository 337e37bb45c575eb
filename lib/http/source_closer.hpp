// source_closer: closes a streamed request body exactly once, whatever path a request takes
// (Go #49621).
#pragma once

#include <memory>

#include <ringo/http/client_request.hpp>

namespace ringo::http::detail {

struct source_closer {
  explicit source_closer(std::shared_ptr<body_source> s) : source(std::move(s)) {}
  std::shared_ptr<body_source> source;
  source_closer(const source_closer&) = delete;
  source_closer& operator=(const source_closer&) = delete;
  ~source_closer() {
    if (source) source->close();
  }
};

}  // namespace ringo::http::detail
