// headers: an HTTP header block (Go's http.Header), case-insensitive on names, order-preserving,
// multi-valued. Names keep the spelling they were given; lookups ignore case.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringo::http {

// ASCII case-insensitive comparison, as header names and tokens need. Inline: most comparisons
// of field names differ in length, and a call costs more than finding that out.
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}
// Whether a comma-separated list value ("keep-alive, Close") holds `token`, ignoring case.
bool list_has_token(std::string_view list, std::string_view token) noexcept;

class headers {
 public:
  struct field {
    std::string name;
    std::string value;
  };
  using const_iterator = std::vector<field>::const_iterator;

  // Appends a field (a second value for an existing name is a second field).
  void add(std::string_view name, std::string_view value);
  // Replaces every field named `name` with one.
  void set(std::string_view name, std::string_view value);
  // The first value, if any.
  std::optional<std::string_view> get(std::string_view name) const noexcept;
  // Every value, in order.
  std::vector<std::string_view> values(std::string_view name) const;
  bool contains(std::string_view name) const noexcept { return get(name).has_value(); }
  // Whether a comma-separated list header (Connection, Transfer-Encoding, ...) holds `token`,
  // ignoring case.
  bool has_token(std::string_view name, std::string_view token) const noexcept;
  std::size_t erase(std::string_view name);
  // Removes every field for which pred(field) holds, keeping the others' order.
  template <typename Pred>
  std::size_t erase_if(Pred pred) {
    return std::erase_if(fields_, pred);
  }

  std::size_t size() const noexcept { return fields_.size(); }
  bool empty() const noexcept { return fields_.empty(); }
  void clear() noexcept { fields_.clear(); }
  void reserve(std::size_t n) { fields_.reserve(n); }
  const_iterator begin() const noexcept { return fields_.begin(); }
  const_iterator end() const noexcept { return fields_.end(); }

 private:
  std::vector<field> fields_;
};

}  // namespace ringo::http
