// HTTP/1 output, for both sides (Go's transfer.go transferWriter and internal/chunked.go
// chunkedWriter): start lines, header fields and chunks appended to an output string, and the
// framing rules (which messages carry a body, which transfer codings a request may use) in one
// place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <ringo/http/headers.hpp>
#include <ringo/http/status.hpp>

namespace ringo::http::h1 {

void append_decimal(std::string& out, std::uint64_t v);
void append_hex(std::string& out, std::uint64_t v);

// "HTTP/1.1 404 Not Found\r\n"
void append_status_line(std::string& out, int code);
// "GET /x HTTP/1.1\r\n"
void append_request_line(std::string& out, std::string_view method, std::string_view target);
// "Name: value\r\n"
void append_field(std::string& out, std::string_view name, std::string_view value);
void append_field(std::string& out, std::string_view name, std::uint64_t value);
// Every field of `h`.
void append_fields(std::string& out, const headers& h);

// One chunk: "size\r\n" data "\r\n" (nothing for no data: a zero-size chunk ends the body).
void append_chunk(std::string& out, std::string_view data);
// The last chunk, the trailer fields (if any), and the blank line that ends the body.
void append_last_chunk(std::string& out, const headers* trailers = nullptr);
// The "size\r\n" line of a chunk of `n` bytes, for encoders that place the data themselves;
// returns its length (at most 18).
std::size_t format_chunk_size(char* out, std::size_t n) noexcept;
inline constexpr std::string_view chunk_end = "\r\n";

// --- Framing rules (RFC 9112 §6) -----------------------------------------------------------

// Whether the response to a `request_method` request with `status` carries a body: never for
// HEAD, 1xx, 204 or 304.
inline bool response_has_body(std::string_view request_method, int status) noexcept {
  return request_method != "HEAD" && status_allows_body(status);
}

// Whether a request with this method usually has a body, so that an empty one is still sent
// with "Content-Length: 0" (Go's outgoingLength).
inline bool method_expects_body(std::string_view method) noexcept {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

// A request's Transfer-Encoding, as Go's transferReader.parseTransferEncoding sees it: exactly
// one field "chunked", or none; anything else (another coding, a second field even if empty) is a
// coding it does not implement (501).
enum class request_coding { identity, chunked, unsupported };
request_coding transfer_coding(const headers& fields) noexcept;

}  // namespace ringo::http::h1
