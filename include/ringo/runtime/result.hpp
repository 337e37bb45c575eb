// result<T, E>: a value or an error, the return type of every operation that can fail.
//
// Failures are normal control flow in a network program (a refused connect is how Happy Eyeballs
// learns to try the other family), so they travel as values, never as exceptions. `value()` throws
// ringo::system_error (a std::system_error) for callers who prefer exceptions. C++20 with GCC 12
// has no std::expected; this is the small subset ringo needs. E is std::error_code, or a type that
// carries one with context (net::op_error, Go's *net.OpError) and provides code() and message().
#pragma once

#include <string>
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

// Converts an errno value (a CQE's -res) into an error_code.
inline std::error_code errno_code(int err) noexcept {
  return {err, std::system_category()};
}

// What value() throws: a std::system_error whose code() is the error's and whose what() is its
// whole message, as Go prints an error ("dial tcp 127.0.0.1:80: connect: connection refused"),
// without std::system_error's ": " + code().message() appended a second time.
class system_error : public std::system_error {
 public:
  system_error(std::error_code code, std::string message)
      : std::system_error(code), message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

namespace detail {
[[noreturn]] inline void throw_error(const std::error_code& ec) {
  throw system_error(ec, ec.message());
}
// Every error type of ringo's has code() and message() (net::op_error, http::client_error, ...).
template <typename E>
[[noreturn]] void throw_error(const E& e) {
  throw system_error(e.code(), e.message());
}
}  // namespace detail

template <typename T, typename E = std::error_code>
class [[nodiscard]] result {
 public:
  using value_type = T;
  using error_type = E;

  template <typename U = T>
  requires std::is_constructible_v<T, U&&> &&(!std::is_same_v<std::remove_cvref_t<U>, result>)&&(
      !std::is_same_v<std::remove_cvref_t<U>, E>)&&(!std::is_same_v<std::remove_cvref_t<U>, errc>)
      result(U&& value)
      : state_(std::in_place_index<0>, std::forward<U>(value)) {}
  result(E error) : state_(std::in_place_index<1>, std::move(error)) {}
  result(errc e) requires std::is_same_v<E, std::error_code> : result(make_error_code(e)) {}

  bool has_value() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { return check(), std::get<0>(state_); }
  const T& value() const& { return check(), std::get<0>(state_); }
  T&& value() && { return check(), std::get<0>(std::move(state_)); }

  T& operator*() & noexcept { return *std::get_if<0>(&state_); }
  const T& operator*() const& noexcept { return *std::get_if<0>(&state_); }
  T&& operator*() && noexcept { return std::move(*std::get_if<0>(&state_)); }
  template <typename U>
  T value_or(U&& fallback) const& {
    return has_value() ? std::get<0>(state_) : static_cast<T>(std::forward<U>(fallback));
  }
  T* operator->() noexcept { return std::get_if<0>(&state_); }
  const T* operator->() const noexcept { return std::get_if<0>(&state_); }

  // The error, or a default E (for error_code: success) when there is a value.
  E error() const {
    auto* e = std::get_if<1>(&state_);
    return e ? *e : E{};
  }

 private:
  void check() const {
    if (!has_value()) detail::throw_error(std::get<1>(state_));
  }
  std::variant<T, E> state_;
};

template <typename E>
class [[nodiscard]] result<void, E> {
 public:
  using value_type = void;
  using error_type = E;

  result() = default;
  // A default (success) error_code makes a success: `return ec;` works for either outcome.
  result(E error) : error_(std::move(error)), failed_(is_failure(error_)) {}
  result(errc e) requires std::is_same_v<E, std::error_code> : result(make_error_code(e)) {}

  bool has_value() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return has_value(); }
  void value() const {
    if (failed_) detail::throw_error(error_);
  }
  E error() const { return error_; }

 private:
  static bool is_failure(const std::error_code& ec) noexcept { return bool(ec); }
  template <typename Other>
  static bool is_failure(const Other&) noexcept {
    return true;
  }
  E error_{};
  bool failed_ = false;
};

}  // namespace ringo

template <>
struct std::is_error_code_enum<ringo::errc> : std::true_type {};
