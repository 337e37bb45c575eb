// HTML escaping for the little HTML the package writes (redirect notes, directory listings).
#pragma once

#include <string>
#include <string_view>

namespace ringo::http::detail {

// Go's htmlReplacer (net/http/server.go): the five characters that matter in text and in
// attribute values, with Go's numeric forms for the quotes.
inline std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace ringo::http::detail
