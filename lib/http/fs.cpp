// File serving (Go's net/http/fs.go): serveContent's preconditions and ranges, serveFile's
// redirects and index.html, dirList, and FileServer over a root that cannot be left.
#include "ringo/http/fs.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <random>

#include "html.hpp"
#include "http_time.hpp"
#include "pattern.hpp"
#include "range.hpp"
#include "ringo/http/error.hpp"
#include "ringo/http/sniff.hpp"
#include "ringo/http/status.hpp"

namespace ringo::http {

namespace {

using detail::cond;

constexpr std::string_view index_page = "/index.html";

bool is_zero_time(sys_time t) {
  return t == sys_time{};  // (the zero time and the Unix epoch are the same time_point here)
}

void set_last_modified(response_writer& w, sys_time modtime) {
  if (!is_zero_time(modtime)) w.header().set("Last-Modified", detail::format_http_time(modtime));
}

// Go's writeNotModified: RFC 9110 §15.4.5 wants no representation fields on a 304, and a
// Last-Modified only when there is no ETag.
void write_not_modified(response_writer& w) {
  headers& h = w.header();
  h.erase("Content-Type");
  h.erase("Content-Length");
  h.erase("Content-Encoding");
  if (h.contains("Etag")) h.erase("Last-Modified");
  w.write_header(status::not_modified);
}

// Go's serveError: the fields that described the content do not describe the error.
task<void> serve_error(response_writer& w, std::string text, int code) {
  for (std::string_view f : {"Cache-Control", "Content-Encoding", "Etag", "Last-Modified"})
    w.header().erase(f);
  (void)co_await error(w, code, text);
}

// Go's checkPreconditions (RFC 9110 §13.2.2's order). Returns whether the answer is already
// decided (412 or 304), and the Range to honour ("" when none or If-Range says no).
bool check_preconditions(response_writer& w, const request& r, sys_time modtime,
                         std::string& range) {
  const std::optional<std::string_view> etag = w.header().get("Etag");
  const std::string_view tag = etag.value_or("");
  cond c = detail::check_if_match(r.header.get("If-Match"), tag);
  if (c == cond::none)
    c = detail::check_if_unmodified_since(r.header.get("If-Unmodified-Since"), modtime);
  if (c == cond::is_false) {
    w.write_header(status::precondition_failed);
    return true;
  }
  switch (detail::check_if_none_match(r.header.get("If-None-Match"), tag)) {
    case cond::is_false:
      if (r.method == "GET" || r.method == "HEAD")
        write_not_modified(w);
      else
        w.write_header(status::precondition_failed);
      return true;
    case cond::none:
      if (detail::check_if_modified_since(r.method, r.header.get("If-Modified-Since"), modtime) ==
          cond::is_false) {
        write_not_modified(w);
        return true;
      }
      break;
    case cond::is_true:
      break;
  }
  range = std::string(r.header.get("Range").value_or(""));
  if (!range.empty() &&
      detail::check_if_range(r.method, r.header.get("If-Range"), tag, modtime) == cond::is_false)
    range.clear();
  return false;
}

// multipart/mixed's boundary, as Go's mime/multipart makes one: 30 random bytes in hex.
std::string random_boundary() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 30; ++i) {
    const auto b = static_cast<unsigned>(rng() & 0xff);
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

std::string extension(std::string_view name) {
  const std::size_t slash = name.rfind('/');
  const std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) return {};
  return std::string(name.substr(dot));
}

task<void> serve_content_impl(response_writer& w, request& r, std::string name, sys_time modtime,
                              content_source& content) {
  set_last_modified(w, modtime);
  std::string range_header;
  if (check_preconditions(w, r, modtime, range_header)) co_return;

  int code = status::ok;
  // A Content-Type the handler set (even an empty one) is kept; else by extension, else sniffed.
  std::string ctype;
  if (std::optional<std::string_view> set = w.header().get("Content-Type")) {
    ctype = std::string(*set);
  } else {
    ctype = type_by_extension(extension(name));
    if (ctype.empty()) {
      std::array<char, 512> head;
      std::size_t got = 0;
      while (got < head.size()) {
        result<std::size_t> n = co_await content.read_at(
            mutable_buffer(head.data() + got, head.size() - got), got, r.stop);
        if (!n || *n == 0) break;
        got += *n;
      }
      ctype = std::string(detect_content_type(std::string_view(head.data(), got)));
    }
    w.header().set("Content-Type", ctype);
  }

  const std::uint64_t size = content.size();
  result<std::vector<detail::byte_range>, detail::range_error> ranges =
      detail::parse_range(range_header, size);
  if (!ranges) {
    if (ranges.error() == detail::range_error::no_overlap) {
      // A client that adds a Range to every request gets an empty file whole (200), not a 416.
      if (size != 0) {
        w.header().set("Content-Range", "bytes */" + std::to_string(size));
        co_return co_await serve_error(w, "invalid range: failed to overlap",
                                       status::range_not_satisfiable);
      }
      ranges = std::vector<detail::byte_range>{};
    } else {
      co_return co_await serve_error(w, "invalid range", status::range_not_satisfiable);
    }
  }
  // Ranges adding up to more than the file: an attack or a confused client; send it whole.
  if (detail::sum_ranges(*ranges) > size) ranges->clear();

  std::uint64_t send_size = size;
  std::string boundary;
  std::vector<std::string> part_heads;
  if (ranges->size() == 1) {
    const detail::byte_range& ra = ranges->front();
    send_size = ra.length;
    code = status::partial_content;
    w.header().set("Content-Range", ra.content_range(size));
  } else if (ranges->size() > 1) {
    boundary = random_boundary();
    send_size = 0;
    for (const detail::byte_range& ra : *ranges) {
      // Go's mime/multipart: "--boundary" (after a CRLF from the second part on), the part's
      // fields in sorted order, a blank line.
      std::string head = part_heads.empty() ? "--" : "\r\n--";
      head += boundary;
      head += "\r\nContent-Range: " + ra.content_range(size) + "\r\nContent-Type: " + ctype +
              "\r\n\r\n";
      send_size += head.size() + ra.length;
      part_heads.push_back(std::move(head));
    }
    send_size += 2 + 2 + boundary.size() + 4;  // "\r\n--" boundary "--\r\n"
    code = status::partial_content;
    w.header().set("Content-Type", "multipart/byteranges; boundary=" + boundary);
  }
  w.header().set("Accept-Ranges", "bytes");
  // A handler that compresses what it writes (its own Content-Encoding) changes the length.
  if (!w.header().contains("Content-Encoding"))
    w.header().set("Content-Length", std::to_string(send_size));
  w.write_header(code);
  if (r.method == "HEAD") co_return;

  if (ranges->empty()) {
    (void)co_await content.send(w, 0, size, r.stop);
  } else if (ranges->size() == 1) {
    (void)co_await content.send(w, ranges->front().start, ranges->front().length, r.stop);
  } else {
    for (std::size_t i = 0; i < ranges->size(); ++i) {
      if (!co_await w.write(part_heads[i])) co_return;
      if (!co_await content.send(w, (*ranges)[i].start, (*ranges)[i].length, r.stop)) co_return;
    }
    (void)co_await w.write("\r\n--" + boundary + "--\r\n");
  }
}

// --- serveFile -------------------------------------------------------------------------------

// Go's localRedirect: relative to the request's path, keeping its query.
void local_redirect(response_writer& w, const request& r, std::string to) {
  if (std::string_view q = r.query(); !q.empty()) {
    to += '?';
    to += q;
  }
  w.header().set("Location", to);
  w.write_header(status::moved_permanently);
}

// Go's toHTTPError: what a failed open says without telling more than it must. A path that
// would leave the root reads as one that is not there.
task<void> open_error(response_writer& w, std::error_code ec) {
  if (ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory ||
      ec == std::errc::cross_device_link || ec == std::errc::too_many_symbolic_link_levels ||
      ec == std::errc::invalid_argument || ec == std::errc::filename_too_long)
    co_return (void) co_await error(w, status::not_found, "404 page not found");
  if (ec == std::errc::permission_denied || ec == std::errc::operation_not_permitted)
    co_return (void) co_await error(w, status::forbidden, "403 Forbidden");
  (void)co_await error(w, status::internal_server_error, "500 Internal Server Error");
}

// url.URL{Path: name}.String(): the name escaped as a path, "./" before a first segment with a
// colon (it would read as a scheme).
std::string href(std::string_view name) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  if (const std::size_t colon = name.find(':');
      colon != std::string_view::npos && name.substr(0, colon).find('/') == std::string_view::npos)
    out = "./";
  for (unsigned char c : name) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      std::strchr("-_.~$&+,/:;=@", c) != nullptr;
    if (keep && c != 0) {
      out += char(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

task<void> dir_list(response_writer& w, const file& dir) {
  result<std::vector<dir_entry>> entries = dir.read_dir();
  if (!entries)
    co_return (void) co_await error(w, status::internal_server_error, "Error reading directory");
  std::sort(entries->begin(), entries->end(),
            [](const dir_entry& a, const dir_entry& b) { return a.name < b.name; });
  std::string page =
      "<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n";
  for (const dir_entry& e : *entries) {
    std::string name = e.name;
    if (e.is_directory) name += '/';
    page += "<a href=\"" + href(name) + "\">" + detail::html_escape(name) + "</a>\n";
  }
  page += "</pre>\n";
  w.header().set("Content-Type", "text/html; charset=utf-8");
  (void)co_await w.write(page);
}

std::string_view base_name(std::string_view p) {
  while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
  const std::size_t slash = p.rfind('/');
  return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

// What serveFile opens files with: a root it cannot leave (file_server), or the file system as
// the caller named it (serve_file).
struct opener {
  const file* root = nullptr;  // null: open paths as they are
  bool follow_symlinks = false;
  result<file> open(const std::string& name) const {
    if (!root) return file::open(name);
    // The root's own names are relative: "/a/b" is "a/b" beneath it.
    std::string_view rel = name;
    while (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
    return root->open_beneath(rel, follow_symlinks);
  }
};

// Go's serveFile. `name` is the cleaned path to open, `url_path` the request's decoded path (for
// the redirects), `redirect` whether a directory or file is sent to its canonical URL.
task<void> serve_file_impl(response_writer& w, request& r, opener o, std::string name,
                           std::string url_path, bool redirect, bool list_directories) {
  if (url_path.ends_with(index_page)) co_return local_redirect(w, r, "./");
  result<file> f = o.open(name);
  if (!f) co_return co_await open_error(w, f.error());
  result<file_info> info = f->stat();
  if (!info) co_return co_await open_error(w, info.error());
  if (redirect && !url_path.empty()) {
    if (info->is_directory && url_path.back() != '/')
      co_return local_redirect(w, r, href(std::string(base_name(url_path)) + "/"));
    if (!info->is_directory && url_path.back() == '/')
      co_return local_redirect(w, r, "../" + href(base_name(url_path)));
  }
  if (info->is_directory) {
    if (url_path.empty() || url_path.back() != '/')
      co_return local_redirect(w, r, href(std::string(base_name(url_path)) + "/"));
    std::string index = name;
    while (!index.empty() && index.back() == '/') index.pop_back();
    index += index_page;
    if (result<file> idx = o.open(index)) {
      if (result<file_info> ii = idx->stat(); ii && !ii->is_directory) {
        f = std::move(idx);
        info = ii;
      }
    }
  }
  if (info->is_directory) {
    if (!list_directories)
      co_return co_await open_error(w, std::make_error_code(std::errc::no_such_file_or_directory));
    if (detail::check_if_modified_since(r.method, r.header.get("If-Modified-Since"),
                                        info->modified) == cond::is_false)
      co_return write_not_modified(w);
    set_last_modified(w, info->modified);
    co_return co_await dir_list(w, *f);
  }
  if (!info->is_regular)
    co_return co_await open_error(w, std::make_error_code(std::errc::no_such_file_or_directory));
  file_content content(*f, info->size);
  co_await serve_content_impl(w, r, std::string(base_name(name)), info->modified, content);
}

// Go's containsDotDot: a ".." segment, whichever slash delimits it.
bool contains_dot_dot(std::string_view p) {
  if (p.find("..") == std::string_view::npos) return false;
  std::size_t at = 0;
  for (;;) {
    const std::size_t end = p.find_first_of("/\\", at);
    if (p.substr(at, end == std::string_view::npos ? end : end - at) == "..") return true;
    if (end == std::string_view::npos) return false;
    at = end + 1;
  }
}

// The request's path decoded; nullopt for a malformed escape.
std::optional<std::string> decoded_path(std::string_view p) {
  std::string out;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] != '%') {
      out += p[i];
      continue;
    }
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (i + 2 >= p.size()) return std::nullopt;
    const int hi = hex(p[i + 1]), lo = hex(p[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += char(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// Go's path.Clean for a rooted path: no trailing slash but the root's.
std::string clean(std::string_view p) {
  std::string c = detail::clean_path(p);
  while (c.size() > 1 && c.back() == '/') c.pop_back();
  return c;
}

struct file_server_state {
  file root;
  std::error_code root_error;
  file_server_options options;
};

task<void> serve_tree(std::shared_ptr<const file_server_state> st, response_writer& w, request& r) {
  std::optional<std::string> path = decoded_path(r.path());
  // A NUL cannot name a file, and a backslash is a separator somewhere: neither reaches open.
  if (!path || path->find('\0') != std::string::npos || path->find('\\') != std::string::npos)
    co_return (void) co_await error(w, status::bad_request, "invalid URL path");
  if (!path->starts_with('/')) path->insert(0, "/");
  if (st->root_error) co_return co_await open_error(w, st->root_error);
  opener o{&st->root, st->options.follow_symlinks};
  std::string name = clean(*path);
  co_await serve_file_impl(w, r, o, std::move(name), std::move(*path), true,
                           st->options.list_directories);
}

}  // namespace

task<write_result> content_source::send(response_writer& w, std::uint64_t offset,
                                        std::uint64_t length, std::stop_token stop) {
  std::string buf;
  while (length > 0) {
    buf.resize(std::min<std::uint64_t>(length, 64 << 10));
    result<std::size_t> n = co_await read_at(mutable_buffer(buf.data(), buf.size()), offset, stop);
    if (!n) co_return n.error();
    if (*n == 0) co_return make_error_code(std::errc::io_error);  // shorter than it said
    if (write_result wr = co_await w.write(const_buffer(buf.data(), *n)); !wr) co_return wr;
    offset += *n;
    length -= *n;
  }
  co_return write_result{};
}

task<result<std::size_t>> file_content::read_at(mutable_buffer buf, std::uint64_t offset,
                                                std::stop_token stop) {
  co_return co_await file_->read_at(buf, offset, std::move(stop));
}

task<write_result> file_content::send(response_writer& w, std::uint64_t offset,
                                      std::uint64_t length, std::stop_token) {
  co_return co_await w.write_file(*file_, offset, length);
}

task<result<std::size_t>> string_content::read_at(mutable_buffer buf, std::uint64_t offset,
                                                  std::stop_token) {
  if (offset >= data_.size()) co_return std::size_t{0};
  const std::size_t n = std::min<std::size_t>(buf.size, data_.size() - offset);
  std::memcpy(buf.data, data_.data() + offset, n);
  co_return n;
}

task<void> serve_content(response_writer& w, request& r, std::string name, sys_time modtime,
                         content_source& content) {
  co_await serve_content_impl(w, r, std::move(name), modtime, content);
}

task<void> serve_file(response_writer& w, request& r, std::string path) {
  std::optional<std::string> url_path = decoded_path(r.path());
  if (!url_path || contains_dot_dot(*url_path))
    co_return (void) co_await error(w, status::bad_request, "invalid URL path");
  co_await serve_file_impl(w, r, opener{}, std::move(path), std::move(*url_path), false, true);
}

http::handler file_server(std::string root, file_server_options options) {
  auto st = std::make_shared<file_server_state>();
  st->options = options;
  if (result<file> f = file::open(root))
    st->root = std::move(*f);
  else
    st->root_error = f.error();
  return [st = std::shared_ptr<const file_server_state>(std::move(st))](
             response_writer& w, request& r) { return serve_tree(st, w, r); };
}

}  // namespace ringo::http
