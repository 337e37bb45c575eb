#include "writer.hpp"

namespace ringo::http::h1 {

void append_decimal(std::string& out, std::uint64_t v) {
  char buf[24];
  char* end = buf + sizeof buf;
  char* p = end;
  do *--p = static_cast<char>('0' + v % 10);
  while ((v /= 10) != 0);
  out.append(p, end);
}

void append_hex(std::string& out, std::uint64_t v) {
  char buf[20];
  char* end = buf + sizeof buf;
  char* p = end;
  do *--p = "0123456789abcdef"[v & 15];
  while ((v >>= 4) != 0);
  out.append(p, end);
}

void append_status_line(std::string& out, int code) {
  if (code == status::ok) {  // the common case, in one append
    out += "HTTP/1.1 200 OK\r\n";
    return;
  }
  out += "HTTP/1.1 ";
  append_decimal(out, static_cast<std::uint64_t>(code));
  out += ' ';
  out += reason_phrase(code);
  out += "\r\n";
}

void append_request_line(std::string& out, std::string_view method, std::string_view target) {
  out += method;
  out += ' ';
  out += target.empty() ? std::string_view("/") : target;
  out += " HTTP/1.1\r\n";
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

void append_field(std::string& out, std::string_view name, std::uint64_t value) {
  out += name;
  out += ": ";
  append_decimal(out, value);
  out += "\r\n";
}

void append_fields(std::string& out, const headers& h) {
  for (const auto& f : h) append_field(out, f.name, f.value);
}

void append_chunk(std::string& out, std::string_view data) {
  if (data.empty()) return;
  append_hex(out, data.size());
  out += "\r\n";
  out += data;
  out += "\r\n";
}

void append_last_chunk(std::string& out, const headers* trailers) {
  out += "0\r\n";
  if (trailers) append_fields(out, *trailers);
  out += "\r\n";
}

std::size_t format_chunk_size(char* out, std::size_t n) noexcept {
  char buf[16];
  char* end = buf + sizeof buf;
  char* p = end;
  do *--p = "0123456789abcdef"[n & 15];
  while ((n >>= 4) != 0);
  std::size_t len = static_cast<std::size_t>(end - p);
  for (std::size_t i = 0; i < len; ++i) out[i] = p[i];
  out[len] = '\r';
  out[len + 1] = '\n';
  return len + 2;
}

request_coding transfer_coding(const headers& fields) noexcept {
  std::size_t count = 0;
  bool chunked = false;
  for (const auto& f : fields) {
    if (f.name.size() != 17 || !iequals(f.name, "Transfer-Encoding")) continue;
    ++count;
    chunked = iequals(f.value, "chunked");
  }
  if (count == 0) return request_coding::identity;
  return count == 1 && chunked ? request_coding::chunked : request_coding::unsupported;
}

}  // namespace ringo::http::h1
