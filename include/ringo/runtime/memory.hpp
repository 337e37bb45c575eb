// release_free_memory: gives memory freed after a burst back to the system.
//
// glibc keeps what a program frees for its next allocations; it returns pages to the kernel only
// from the top of the heap, so after a burst (10,000 connections served at once, then closed) the
// freed blocks, scattered among the few still live, stay in the process's RSS for good. The HTTP
// server calls this when its connections in use fall to a quarter of their peak (README,
// "Memory"); a program with bursts of its own may call it too.
#pragma once

namespace ringo {

// Frees the calling thread's cached coroutine frames and returns the heap's free pages to the
// kernel (malloc_trim). Costs a walk over the allocator's free lists: call it after a burst, not
// per request.
void release_free_memory() noexcept;

}  // namespace ringo
