// result<T, E> and the runtime's error codes: values and errors without exceptions, value() throws
// std::system_error, and errc compares equal to the standard conditions.
#include <memory>
#include <string>
#include <system_error>

#include <gtest/gtest.h>

#include "ringo_test.hpp"

namespace ringo {
namespace {

class Result : public test::RingoTest {};

TEST_F(Result, HoldsAValue) {
  result<int> r = 5;
  EXPECT_TRUE(r.has_value());
  EXPECT_TRUE(r);
  EXPECT_EQ(*r, 5);
  EXPECT_EQ(r.value(), 5);
  EXPECT_FALSE(r.error());  // a default, successful error_code
}

TEST_F(Result, HoldsAnError) {
  result<int> r = errno_code(ECONNREFUSED);
  EXPECT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::connection_refused);
  try {
    (void)r.value();
    FAIL() << "value() did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::connection_refused);
  }
}

TEST_F(Result, HoldsAMoveOnlyValue) {
  result<std::unique_ptr<int>> r = std::make_unique<int>(3);
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 3);
}

TEST_F(Result, VoidResultFromASuccessfulCodeIsASuccess) {
  result<void> ok;
  EXPECT_TRUE(ok);
  result<void> from_success = std::error_code{};
  EXPECT_TRUE(from_success);
  EXPECT_NO_THROW(from_success.value());
  result<void> failed = errc::timed_out;
  EXPECT_FALSE(failed);
  EXPECT_THROW(failed.value(), std::system_error);
}

TEST_F(Result, RuntimeErrorsMatchTheStandardConditionsAndReadLikeGo) {
  std::error_code canceled = errc::operation_canceled;
  std::error_code timed_out = errc::timed_out;
  EXPECT_EQ(canceled, std::errc::operation_canceled);
  EXPECT_EQ(timed_out, std::errc::timed_out);
  EXPECT_NE(canceled, timed_out);
  EXPECT_NE(canceled, std::errc::timed_out);
  EXPECT_EQ(canceled.message(), "operation was canceled");
  EXPECT_EQ(timed_out.message(), "i/o timeout");
  EXPECT_STREQ(canceled.category().name(), "ringo.runtime");
  // The kernel's ECANCELED (e.g. from cancel_fd) matches the same condition but is not ringo's own
  // "a stop was requested".
  EXPECT_EQ(errno_code(ECANCELED), std::errc::operation_canceled);
  EXPECT_NE(errno_code(ECANCELED), canceled);
}

}  // namespace
}  // namespace ringo
