// A task run on behalf of a scope, of ringo::run or of io_context::adopt.
//
// Its frame is scheduled on the loop's ready queue as it is (no frame around it: an idle server
// connection is one frame, not two), and when the task is done it reports to its sink and destroys
// itself (task.hpp's final_awaiter, finish_spawned). The sink always outlives it: a scope cannot
// be destroyed before join() returned.
#pragma once

#include <cassert>
#include <coroutine>
#include <cstddef>
#include <exception>

#include <ringo/runtime/task.hpp>

namespace ringo::detail {

class child_sink {
 public:
  // Called as a child finishes; returns the coroutine to transfer to (or noop_coroutine()).
  virtual std::coroutine_handle<> child_done(std::exception_ptr error) noexcept = 0;

 protected:
  ~child_sink() = default;
};

// Makes `t` a child reporting to `sink`: its own frame, suspended before its first instruction,
// for the caller to schedule. When it finishes, finish_spawned destroys it and tells the sink.
inline std::coroutine_handle<> make_child(task<void> t, child_sink& sink) {
  assert(t.valid() && "spawning an empty task");
  auto h = t.release();
  h.promise().set_sink(&sink);
  return h;
}

}  // namespace ringo::detail
