// result<T>: a value or a std::error_code, the return type of every operation that can fail.
//
// Failures are normal control flow in a network program (a refused connect is how Happy Eyeballs
// learns to try the other family), so they travel as values, never as exceptions. `value()` throws
// std::system_error for callers who prefer exceptions. C++20 with GCC 12 has no std::expected;
// this is the small subset ringo needs.
#pragma once

#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace ringo {

// errc: errors the runtime itself produces. They compare equal to the matching std::errc
// condition, so `ec == std::errc::operation_canceled` and `ec == std::errc::timed_out` both work.
enum class errc {
  operation_canceled = 1,  // a stop was requested ("operation was canceled", Go's context.Canceled)
  timed_out,  // the operation's deadline passed ("i/o timeout", Go's ErrDeadlineExceeded)
};

const std::error_category& runtime_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), runtime_category()};
}

// Converts a negative errno from the kernel (a CQE's res) into an error_code.
inline std::error_code errno_code(int err) noexcept {
  return {err, std::system_category()};
}

template <typename T>
class [[nodiscard]] result {
 public:
  using value_type = T;

  template <typename U = T>
  requires std::is_constructible_v<T, U&&> &&(!std::is_same_v<std::remove_cvref_t<U>, result>)&&(
      !std::is_same_v<std::remove_cvref_t<U>, std::error_code>)result(U&& value)
      : state_(std::in_place_index<0>, std::forward<U>(value)) {}
  result(std::error_code ec) : state_(std::in_place_index<1>, ec) {}
  result(errc e) : result(make_error_code(e)) {}

  bool has_value() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { return check(), std::get<0>(state_); }
  const T& value() const& { return check(), std::get<0>(state_); }
  T&& value() && { return check(), std::get<0>(std::move(state_)); }

  T& operator*() & noexcept { return *std::get_if<0>(&state_); }
  const T& operator*() const& noexcept { return *std::get_if<0>(&state_); }
  T&& operator*() && noexcept { return std::move(*std::get_if<0>(&state_)); }
  T* operator->() noexcept { return std::get_if<0>(&state_); }
  const T* operator->() const noexcept { return std::get_if<0>(&state_); }

  // The error, or a default (success) error_code when there is a value.
  std::error_code error() const noexcept {
    auto* ec = std::get_if<1>(&state_);
    return ec ? *ec : std::error_code{};
  }

 private:
  void check() const {
    if (!has_value()) throw std::system_error(std::get<1>(state_));
  }
  std::variant<T, std::error_code> state_;
};

template <>
class [[nodiscard]] result<void> {
 public:
  using value_type = void;

  result() = default;
  result(std::error_code ec) : ec_(ec) {}
  result(errc e) : ec_(make_error_code(e)) {}

  bool has_value() const noexcept { return !ec_; }
  explicit operator bool() const noexcept { return has_value(); }
  void value() const {
    if (ec_) throw std::system_error(ec_);
  }
  std::error_code error() const noexcept { return ec_; }

 private:
  std::error_code ec_;
};

}  // namespace ringo

template <>
struct std::is_error_code_enum<ringo::errc> : std::true_type {};
