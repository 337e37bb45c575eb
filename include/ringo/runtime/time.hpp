// time: the clock every deadline and timeout in ringo is measured on, and the deadline that never
// passes. Deadlines are absolute time points (Go's SetDeadline, context.WithDeadline); timeouts
// are durations that become deadlines when an operation starts.
#pragma once

#include <chrono>

namespace ringo {

using clock = std::chrono::steady_clock;
using time_point = clock::time_point;
using duration = clock::duration;

// An absolute deadline that never passes: the default for every operation.
inline constexpr time_point no_deadline = time_point::max();

}  // namespace ringo
