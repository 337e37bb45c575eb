// Serving files (Go's http.FileServer, ServeFile and ServeContent): ranges (one, or several as
// multipart/byteranges), the conditional requests of RFC 9110 §13 (If-Match, If-None-Match,
// If-Modified-Since, If-Unmodified-Since, If-Range), a Content-Type from the name's extension or
// sniffed from the first 512 bytes, index.html, directory listings, and HEAD without a body.
//
//   http::mux m;
//   m.handle("GET /static/", http::strip_prefix("/static", http::file_server("/srv/www")));
//
// A file's bytes go from the page cache to the socket without passing through user memory
// (response_writer::write_file; net::conn::send_file). file_server never serves anything outside
// its root: the request's path is decoded and cleaned, a NUL or a backslash in it is a 400, and
// files are opened with openat2(RESOLVE_BENEATH), so a ".." or a symbolic link that leads outside
// finds nothing (404), unless file_server_options::follow_symlinks allows links (Go's http.Dir).
// As in Go, no ETag is made up: serve_content honours one the handler set in the header.
#pragma once

#include <chrono>
#include <cstdint>
#include <stop_token>
#include <string>

#include <ringo/http/handler.hpp>
#include <ringo/http/request.hpp>
#include <ringo/http/response_writer.hpp>
#include <ringo/runtime/buffer.hpp>
#include <ringo/runtime/file.hpp>
#include <ringo/runtime/result.hpp>
#include <ringo/runtime/task.hpp>

namespace ringo::http {

using sys_time = std::chrono::system_clock::time_point;

// What serve_content sends (Go's io.ReadSeeker with its size): bytes read at offsets, and a way
// to send a stretch of them that a file overrides to send without a copy.
class content_source {
 public:
  virtual ~content_source() = default;
  virtual std::uint64_t size() const noexcept = 0;
  // Up to buf.size bytes from `offset`; 0 at the end.
  virtual task<result<std::size_t>> read_at(mutable_buffer buf, std::uint64_t offset,
                                            std::stop_token stop) = 0;
  // Writes `length` bytes from `offset` to w (by default: read_at, then write).
  virtual task<write_result> send(response_writer& w, std::uint64_t offset, std::uint64_t length,
                                  std::stop_token stop);
};

// An open file's bytes, sent with response_writer::write_file. The file must outlive it.
class file_content final : public content_source {
 public:
  file_content(const file& f, std::uint64_t size) noexcept : file_(&f), size_(size) {}
  std::uint64_t size() const noexcept override { return size_; }
  task<result<std::size_t>> read_at(mutable_buffer buf, std::uint64_t offset,
                                    std::stop_token stop) override;
  task<write_result> send(response_writer& w, std::uint64_t offset, std::uint64_t length,
                          std::stop_token stop) override;

 private:
  const file* file_;  // not owned
  std::uint64_t size_;
};

// Bytes in memory.
class string_content final : public content_source {
 public:
  explicit string_content(std::string data) noexcept : data_(std::move(data)) {}
  std::uint64_t size() const noexcept override { return data_.size(); }
  task<result<std::size_t>> read_at(mutable_buffer buf, std::uint64_t offset,
                                    std::stop_token stop) override;

 private:
  std::string data_;
};

// Go's ServeContent: answers r with `content`, named `name` (its extension picks the
// Content-Type unless the header has one; else the first 512 bytes are sniffed) and last modified
// at `modtime` (sent as Last-Modified and checked against the conditional fields; the epoch or a
// default time_point means unknown). Ranges, conditionals and HEAD as described above; an ETag
// the handler set in w.header() takes part in If-Match, If-None-Match and If-Range. `content`
// must outlive the call.
task<void> serve_content(response_writer& w, request& r, std::string name, sys_time modtime,
                         content_source& content);

// Go's ServeFile: answers r with the file or directory at `path` (a file system path, not
// confined to a root: the caller chose it). A request path with a ".." segment is refused (400),
// as Go refuses it; ".../index.html" is redirected to ".../", a directory without a trailing
// slash to one with it.
task<void> serve_file(response_writer& w, request& r, std::string path);

struct file_server_options {
  // Symbolic links may point outside the root (Go's http.Dir). Off: such a link is a 404.
  bool follow_symlinks = false;
  // List a directory that has no index.html (Go does); off: 404.
  bool list_directories = true;
};

// Go's FileServer(http.Dir(root)): serves the tree at `root`, the request's path taken relative
// to it (wrap with strip_prefix to serve it under a prefix). The root is opened once, now; a root
// that cannot be opened answers 404 to everything, as Go's does.
http::handler file_server(std::string root, file_server_options options = {});

}  // namespace ringo::http
