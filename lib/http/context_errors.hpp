// The errors of a request whose context ended, in Go's words, for the transport and the client.
#pragma once

#include <string>

#include <ringo/http/error.hpp>
#include <ringo/runtime/result.hpp>

namespace ringo::http::detail {

inline client_error canceled_error() {
  return {make_error_code(ringo::errc::operation_canceled), std::string(context_canceled)};
}

inline client_error deadline_error() {
  return {make_error_code(ringo::errc::timed_out), std::string(context_deadline_exceeded)};
}

}  // namespace ringo::http::detail
