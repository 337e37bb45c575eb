// mutable_buffer / const_buffer: a pointer and a size, built from anything contiguous of bytes.
//
// Operations take these instead of one container type so that a std::string, a char array, a
// std::vector<std::byte> or a std::span all pass without casts. A buffer does not own its bytes:
// they must stay alive until the operation's co_await returns.
#pragma once

#include <cstddef>
#include <ranges>
#include <string>
#include <string_view>
#include <type_traits>

namespace ringo {

namespace detail {
template <typename R>
concept byte_range = std::ranges::contiguous_range<R> && std::ranges::sized_range<R> &&
                         sizeof(std::ranges::range_value_t<R>) == 1 &&
                     std::is_trivially_copyable_v<std::ranges::range_value_t<R>>;
}

struct mutable_buffer {
  void* data = nullptr;
  std::size_t size = 0;

  mutable_buffer() = default;
  mutable_buffer(void* d, std::size_t n) noexcept : data(d), size(n) {}
  template <detail::byte_range R>
  requires(!std::is_const_v<std::remove_reference_t<std::ranges::range_reference_t<R>>>)
      mutable_buffer(R&& r)
  noexcept : data(std::ranges::data(r)), size(std::ranges::size(r)) {}

  mutable_buffer subspan(std::size_t offset) const noexcept {
    return {static_cast<std::byte*>(data) + offset, size - offset};
  }
};

struct const_buffer {
  const void* data = nullptr;
  std::size_t size = 0;

  const_buffer() = default;
  const_buffer(const void* d, std::size_t n) noexcept : data(d), size(n) {}
  const_buffer(mutable_buffer b) noexcept : data(b.data), size(b.size) {}
  const_buffer(std::string_view s) noexcept : data(s.data()), size(s.size()) {}
  const_buffer(const std::string& s) noexcept : data(s.data()), size(s.size()) {}
  const_buffer(const char* s) noexcept : const_buffer(std::string_view(s)) {}
  template <detail::byte_range R>
  requires(!std::is_convertible_v<R, std::string_view>) const_buffer(R&& r)
  noexcept : data(std::ranges::data(r)), size(std::ranges::size(r)) {}

  const_buffer subspan(std::size_t offset) const noexcept {
    return {static_cast<const std::byte*>(data) + offset, size - offset};
  }
};

}  // namespace ringo
