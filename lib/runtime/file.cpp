#include "ringo/runtime/file.hpp"

#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

namespace ringo {

namespace {

result<file> open_fd(int fd) {
  if (fd < 0) return errno_code(errno);
  return file(unique_fd(fd));
}

// glibc 2.36 has no wrapper for openat2.
int openat2_call(int dir, const char* path, const open_how& how) {
  return static_cast<int>(::syscall(SYS_openat2, dir, path, &how, sizeof how));
}

}  // namespace

result<file> file::open(std::string_view path) {
  const std::string p(path);
  return open_fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
}

result<file> file::open_beneath(std::string_view name, bool follow_outside) const {
  const std::string p(name.empty() ? std::string_view(".") : name);
  if (p.find('\0') != std::string::npos) return make_error_code(std::errc::invalid_argument);
  if (follow_outside) {
    // Symbolic links may lead out, but the name itself may not: no absolute path, no "..".
    if (p.front() == '/') return make_error_code(std::errc::invalid_argument);
    for (std::size_t at = 0; at != std::string::npos;) {
      const std::size_t end = p.find('/', at);
      if (p.compare(at, end == std::string::npos ? std::string::npos : end - at, "..") == 0)
        return make_error_code(std::errc::invalid_argument);
      at = end == std::string::npos ? end : end + 1;
    }
    return open_fd(::openat(fd_.get(), p.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  }
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  return open_fd(openat2_call(fd_.get(), p.c_str(), how));
}

result<file_info> file::stat() const {
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) return errno_code(errno);
  file_info info;
  info.size = static_cast<std::uint64_t>(st.st_size);
  info.is_directory = S_ISDIR(st.st_mode);
  info.is_regular = S_ISREG(st.st_mode);
  info.modified = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
  return info;
}

result<std::size_t> file::read_cached(mutable_buffer buf, std::uint64_t offset) const noexcept {
  iovec v{buf.data, buf.size};
  const ssize_t n = ::preadv2(fd_.get(), &v, 1, static_cast<off_t>(offset), RWF_NOWAIT);
  if (n < 0) return errno_code(errno);
  return static_cast<std::size_t>(n);
}

result<std::vector<dir_entry>> file::read_dir() const {
  // fdopendir takes the descriptor it is given: give it one of its own.
  const int fd = ::openat(fd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_code(errno);
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    const int err = errno;
    ::close(fd);
    return errno_code(err);
  }
  std::vector<dir_entry> out;
  errno = 0;
  while (dirent* d = ::readdir(dir)) {
    std::string_view name = d->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = d->d_type == DT_DIR;
    if (d->d_type == DT_UNKNOWN) {  // some file systems do not say: ask (without following links)
      struct stat st {};
      is_dir =
          ::fstatat(::dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    out.push_back({std::string(name), is_dir});
  }
  const int err = errno;
  ::closedir(dir);
  if (err != 0) return errno_code(err);
  return out;
}

}  // namespace ringo
