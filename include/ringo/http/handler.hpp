// handler: what serves a request (Go's http.Handler): a coroutine taking the response writer and
// the request. Both outlive the handler's task; the handler must not keep them after it returns.
#pragma once

#include <functional>

#include <ringo/runtime/task.hpp>

namespace ringo::http {

class response_writer;
struct request;

using handler = std::function<task<void>(response_writer&, request&)>;

}  // namespace ringo::http
