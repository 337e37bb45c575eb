#include "session.hpp"

#include <cstring>
#include <new>

#include "ringo/runtime/task.hpp"

namespace ringo::http::h2 {
namespace {

// Each block carries its size in front, since nghttp2's free does not pass it.
struct alignas(16) block_header {
  std::size_t size;
};

void* mem_malloc(std::size_t size, void*) noexcept {
  try {
    const std::size_t total = size + sizeof(block_header);
    auto* h = static_cast<block_header*>(ringo::detail::allocate_frame(total));
    h->size = total;
    return h + 1;
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

void mem_free(void* p, void*) noexcept {
  if (!p) return;
  block_header* h = static_cast<block_header*>(p) - 1;
  ringo::detail::deallocate_frame(h, h->size);
}

void* mem_calloc(std::size_t n, std::size_t size, void* u) noexcept {
  if (size != 0 && n > SIZE_MAX / size) return nullptr;
  void* p = mem_malloc(n * size, u);
  if (p) std::memset(p, 0, n * size);
  return p;
}

void* mem_realloc(void* p, std::size_t size, void* u) noexcept {
  if (!p) return mem_malloc(size, u);
  const std::size_t old = (static_cast<block_header*>(p) - 1)->size - sizeof(block_header);
  if (size <= old) return p;
  void* q = mem_malloc(size, u);
  if (!q) return nullptr;
  std::memcpy(q, p, old);
  mem_free(p, u);
  return q;
}

nghttp2_mem memory{nullptr, mem_malloc, mem_free, mem_calloc, mem_realloc};

}  // namespace

nghttp2_mem* block_memory() noexcept {
  return &memory;
}

session_setup::session_setup(void (*configure)(session_setup&)) {
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_option_new(&option);
  configure(*this);
}

session_setup::~session_setup() {
  nghttp2_session_callbacks_del(callbacks);
  nghttp2_option_del(option);
}

}  // namespace ringo::http::h2
