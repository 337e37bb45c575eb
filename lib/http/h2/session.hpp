// What both sides of HTTP/2 share around a libnghttp2 session: its allocator (the runtime's block
// cache), the callbacks-and-options pair a session is made from, header blocks built for a
// submit, and the rules on fields and settings that hold whichever side sends them.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <nghttp2/nghttp2.h>
#include <string>
#include <string_view>
#include <vector>

namespace ringo::http::h2 {

// nghttp2's allocations (its streams, the frames it queues, copies of header blocks: about four a
// request) come from the runtime's per-thread block cache (lib/runtime/frame_pool.cpp) rather than
// from malloc.
nghttp2_mem* block_memory() noexcept;

// The callbacks and options every session of one side is made from (nghttp2 copies them), set by
// `configure` once they exist.
struct session_setup {
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_option* option = nullptr;
  explicit session_setup(void (*configure)(session_setup&));
  ~session_setup();
  session_setup(const session_setup&) = delete;
  session_setup& operator=(const session_setup&) = delete;
};

// The callbacks both sides take from nghttp2, as trampolines to the connection in user_data: each
// calls Conn's member that does the work (on_header, on_frame_recv, on_frame_send, on_data_chunk,
// on_stream_close; Conn befriends trampolines<Conn>). None resumes a coroutine: what they wake
// runs after nghttp2 has returned.
template <typename Conn>
struct trampolines {
  static Conn& conn(void* p) noexcept { return *static_cast<Conn*>(p); }
  static std::string_view view(const std::uint8_t* p, std::size_t n) noexcept {
    return {reinterpret_cast<const char*>(p), n};
  }
  static int header(nghttp2_session*, const nghttp2_frame* f, const std::uint8_t* name,
                    std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                    std::uint8_t, void* p) {
    return conn(p).on_header(*f, view(name, namelen), view(value, valuelen));
  }
  static int frame_recv(nghttp2_session*, const nghttp2_frame* f, void* p) {
    return conn(p).on_frame_recv(*f);
  }
  static int frame_send(nghttp2_session*, const nghttp2_frame* f, void* p) {
    return conn(p).on_frame_send(*f);
  }
  static int data_chunk(nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* data,
                        std::size_t n, void* p) {
    return conn(p).on_data_chunk(id, data, n);
  }
  static int stream_close(nghttp2_session*, std::int32_t id, std::uint32_t code, void* p) {
    return conn(p).on_stream_close(id, code);
  }
  static void set(nghttp2_session_callbacks* cb) noexcept {
    nghttp2_session_callbacks_set_on_header_callback(cb, header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, frame_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, frame_send);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, stream_close);
  }
};

inline char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// HTTP/1's connection-specific fields, which an HTTP/2 message must not carry (RFC 9113 §8.2.2):
// Go drops them from a request (http2 encodeHeaders) and from a response (writeChunk) alike.
inline bool connection_specific(std::string_view lower_name) noexcept {
  return lower_name == "connection" || lower_name == "keep-alive" ||
         lower_name == "proxy-connection" || lower_name == "transfer-encoding" ||
         lower_name == "upgrade";
}

// A setting out of range is replaced by its default (Go's setConfigDefaults).
inline std::uint32_t clamp_or(std::uint64_t v, std::uint64_t lo, std::uint64_t hi,
                              std::uint32_t dflt) noexcept {
  return v < lo || v > hi ? dflt : static_cast<std::uint32_t>(v);
}

// A header block for nghttp2, which copies it when it is submitted: names are lowered into one
// buffer, reserved first so that the pointers into it stay valid until the submit. The vector and
// the string are a connection's scratch, kept from one block to the next.
class nv_block {
 public:
  nv_block(std::vector<nghttp2_nv>& nva, std::string& text, std::size_t text_bytes)
      : nva_(&nva), text_(&text) {
    nva_->clear();
    text_->clear();
    text_->reserve(text_bytes);
  }
  std::string_view copy(std::string_view s) {
    assert(text_->size() + s.size() <= text_->capacity() && "nv_block: text not reserved");
    const std::size_t at = text_->size();
    text_->append(s);
    return {text_->data() + at, s.size()};
  }
  std::string_view lowered(std::string_view s) {
    std::string_view out = copy(s);
    char* p = text_->data() + (out.data() - text_->data());
    for (std::size_t i = 0; i < s.size(); ++i) p[i] = ascii_lower(p[i]);
    return out;
  }
  void add(std::string_view name, std::string_view value) {
    nva_->push_back({bytes(name), bytes(value), name.size(), value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  const nghttp2_nv* data() const noexcept { return nva_->data(); }
  std::size_t size() const noexcept { return nva_->size(); }

 private:
  static std::uint8_t* bytes(std::string_view s) noexcept {
    return reinterpret_cast<std::uint8_t*>(const_cast<char*>(s.data()));
  }
  std::vector<nghttp2_nv>* nva_;
  std::string* text_;
};

}  // namespace ringo::http::h2
