// wait_for_signal: a POSIX signal as an awaitable, read from a signalfd through the ring.
//
// The signals are blocked on the calling thread (so they queue for the signalfd instead of running
// their default action). Call block_signals() in main() before starting other threads, so that no
// other thread takes them either.
#pragma once

#include <initializer_list>
#include <stop_token>

#include <ringo/runtime/result.hpp>
#include <ringo/runtime/task.hpp>

namespace ringo {

// Blocks `signals` on the calling thread (threads started later inherit the mask).
result<void> block_signals(std::initializer_list<int> signals) noexcept;

// The number of the first of `signals` to arrive; operation_canceled if stopped first.
task<result<int>> wait_for_signal(std::initializer_list<int> signals, std::stop_token stop = {});

}  // namespace ringo
