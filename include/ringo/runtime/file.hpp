// file: a file or directory opened for reading (Go's os.File and os.Root, the part a file server
// needs): open one beneath a root directory that it cannot leave, stat it, list a directory, read
// at an offset through the ring.
//
// A file owns its descriptor and closes it when destroyed; no read may be in flight then. Opening
// and stat are synchronous, as nginx's are: on a cached directory entry they cost a system call
// each, less than a trip through the ring's workers (io_uring hands every open it cannot finish at
// once to a worker thread). Reads go through the ring (read_at), which reads cached pages at once
// and never blocks the thread on a cold disk.
#pragma once

#include <chrono>
#include <cstdint>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <ringo/runtime/buffer.hpp>
#include <ringo/runtime/operations.hpp>
#include <ringo/runtime/result.hpp>
#include <ringo/runtime/unique_fd.hpp>

namespace ringo {

// What stat() tells (Go's fs.FileInfo).
struct file_info {
  std::uint64_t size = 0;
  std::chrono::system_clock::time_point modified{};
  bool is_directory = false;
  bool is_regular = false;
};

// One entry of a directory listing (Go's fs.DirEntry): a symbolic link is listed as one, not as
// what it points at.
struct dir_entry {
  std::string name;
  bool is_directory = false;
};

class file {
 public:
  file() noexcept = default;
  explicit file(unique_fd fd) noexcept : fd_(std::move(fd)) {}

  // Opens `path` read-only (a directory too).
  static result<file> open(std::string_view path);
  // Opens `name`, a relative path, beneath this directory (Go's os.Root.Open): with
  // openat2(RESOLVE_BENEATH), ".." and symbolic links may not resolve to anything outside it
  // (errc: EXDEV, "invalid cross-device link"), nor may an absolute path or a /proc magic link.
  // `follow_outside`: symbolic links may point anywhere (Go's http.Dir); a ".." is still refused.
  result<file> open_beneath(std::string_view name, bool follow_outside = false) const;

  result<file_info> stat() const;
  // The entries of a directory, "." and ".." left out, in the order the kernel gives them.
  result<std::vector<dir_entry>> read_dir() const;
  // Reads from `offset` through the ring (the file's position does not move).
  detail::read_op read_at(mutable_buffer buf, std::uint64_t offset, std::stop_token stop = {},
                          time_point deadline = no_deadline) const {
    return ringo::read_at(fd_.get(), buf, offset, std::move(stop), deadline);
  }

  // Reads from `offset` on this thread only when the bytes are in the page cache
  // (preadv2(RWF_NOWAIT)): one system call instead of a trip through the ring, never a wait for a
  // disk. errc would_block (EAGAIN) when they are not all cached: read_at them then.
  result<std::size_t> read_cached(mutable_buffer buf, std::uint64_t offset) const noexcept;

  bool is_open() const noexcept { return bool(fd_); }
  explicit operator bool() const noexcept { return is_open(); }
  int native_handle() const noexcept { return fd_.get(); }
  void close() noexcept { fd_.reset(); }

 private:
  unique_fd fd_;
};

}  // namespace ringo
