// user_data values the loop treats specially. Real operations carry a pointer to their
// detail::completion, which is never this small. liburing 2.3 reserves ~0 for itself.
#pragma once

#include <cstdint>

namespace ringo::detail {

inline constexpr std::uint64_t ignored_user_data = 0;  // cancel requests: the target's CQE counts
inline constexpr std::uint64_t wake_user_data = 1;     // the eventfd read that wakes the loop

}  // namespace ringo::detail
