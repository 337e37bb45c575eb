#include "ringo/net/stream.hpp"

#include <algorithm>
#include <memory>

#include "ringo/net/error.hpp"

namespace ringo::net {

stream::stream(stream&& other) noexcept
    : receiver_(std::move(other.receiver_)),
      read_deadline_(other.read_deadline_),
      write_deadline_(other.write_deadline_),
      socket_(std::exchange(other.socket_, -1)) {}

stream& stream::operator=(stream&& other) noexcept {
  receiver_ = std::move(other.receiver_);
  socket_ = std::exchange(other.socket_, -1);
  read_deadline_ = other.read_deadline_;
  write_deadline_ = other.write_deadline_;
  return *this;
}

// Only a stream that is not a socket's own bytes is read through these; one that is never calls
// them (read() and write() go to the ring directly).
task<result<std::size_t>> stream::read_some(mutable_buffer, std::stop_token, time_point) {
  co_return make_error_code(std::errc::operation_not_supported);
}

task<result<std::size_t>> stream::write_some(const_buffer, std::stop_token, time_point) {
  co_return make_error_code(std::errc::operation_not_supported);
}

task<result<void>> stream::wait_readable_some(std::stop_token, time_point) {
  co_return make_error_code(std::errc::operation_not_supported);
}

task<result<std::size_t>> stream::read_full(mutable_buffer buf, std::stop_token stop,
                                            time_point deadline) {
  std::size_t done = 0;
  while (done < buf.size) {
    auto n = co_await read(buf.subspan(done), stop, deadline);
    if (!n) co_return n.error();
    if (*n == 0) co_return make_error_code(errc::unexpected_eof);
    done += *n;
  }
  co_return done;
}

task<result<std::size_t>> stream::write_all(const_buffer buf, std::stop_token stop,
                                            time_point deadline) {
  std::size_t done = 0;
  while (done < buf.size) {
    auto n = co_await write(buf.subspan(done), stop, deadline);
    if (!n) co_return n.error();
    done += *n;
  }
  co_return done;
}

task<result<std::uint64_t>> stream::send_file(const file& f, std::uint64_t offset,
                                              std::uint64_t length, std::stop_token stop,
                                              time_point deadline) {
  constexpr std::size_t piece = 64 << 10;
  auto buf = std::make_unique_for_overwrite<char[]>(std::min<std::uint64_t>(piece, length));
  std::uint64_t sent = 0;
  while (sent < length) {
    const std::size_t want = std::min<std::uint64_t>(piece, length - sent);
    result<std::size_t> n =
        co_await f.read_at(mutable_buffer(buf.get(), want), offset + sent, stop, deadline);
    if (!n) co_return n.error();
    if (*n == 0) co_return make_error_code(errc::unexpected_eof);  // the file shrank
    result<std::size_t> w = co_await write_all(const_buffer(buf.get(), *n), stop, deadline);
    if (!w) co_return w.error();
    sent += *n;
  }
  co_return sent;
}

}  // namespace ringo::net
