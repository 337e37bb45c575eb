#include <string>

#include "ringo/runtime/result.hpp"

namespace ringo {
namespace {

class runtime_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ringo.runtime"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::operation_canceled:
        return "operation was canceled";
      case errc::timed_out:
        return "i/o timeout";
    }
    return "unknown ringo error";
  }
  std::error_condition default_error_condition(int ev) const noexcept override {
    switch (static_cast<errc>(ev)) {
      case errc::operation_canceled:
        return std::errc::operation_canceled;
      case errc::timed_out:
        return std::errc::timed_out;
    }
    return {ev, *this};
  }
};

}  // namespace

const std::error_category& runtime_category() noexcept {
  static const runtime_category_impl category;
  return category;
}

}  // namespace ringo
