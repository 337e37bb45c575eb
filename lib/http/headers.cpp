#include "ringo/http/headers.hpp"

#include <algorithm>

namespace ringo::http {
namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

void headers::add(std::string_view name, std::string_view value) {
  field& f = fields_.emplace_back();  // (in place: no field made and moved)
  f.name.assign(name.data(), name.size());
  f.value.assign(value.data(), value.size());
}

void headers::set(std::string_view name, std::string_view value) {
  auto it = std::find_if(fields_.begin(), fields_.end(),
                         [&](const field& f) { return iequals(f.name, name); });
  if (it == fields_.end()) return add(name, value);
  it->value = value;
  fields_.erase(
      std::remove_if(it + 1, fields_.end(), [&](const field& f) { return iequals(f.name, name); }),
      fields_.end());
}

std::optional<std::string_view> headers::get(std::string_view name) const noexcept {
  for (const field& f : fields_)
    if (iequals(f.name, name)) return std::string_view(f.value);
  return std::nullopt;
}

std::vector<std::string_view> headers::values(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const field& f : fields_)
    if (iequals(f.name, name)) out.emplace_back(f.value);
  return out;
}

bool list_has_token(std::string_view list, std::string_view token) noexcept {
  while (!list.empty()) {
    auto comma = list.find(',');
    if (iequals(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

bool headers::has_token(std::string_view name, std::string_view token) const noexcept {
  for (const field& f : fields_)
    if (iequals(f.name, name) && list_has_token(f.value, token)) return true;
  return false;
}

std::size_t headers::erase(std::string_view name) {
  return std::erase_if(fields_, [&](const field& f) { return iequals(f.name, name); });
}

}  // namespace ringo::http
