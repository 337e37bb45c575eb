// conn: a connected stream socket (Go's net.Conn for TCP and unix), the plain net::stream.
//
// Reads and writes are the socket's own operations on the ring (stream::read, write, read_full,
// write_all); each takes a stop token and a deadline, and the conn's default deadlines (Go's
// SetDeadline) apply when the call gives none. read() returns 0 at end of stream. A conn owns its
// descriptor: destroying or close()-ing it closes the socket, which must happen only once no
// operation on it is in flight (the owner awaits its readers first).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>

#include <ringo/net/address.hpp>
#include <ringo/net/error.hpp>
#include <ringo/net/stream.hpp>
#include <ringo/runtime/operations.hpp>
#include <ringo/runtime/task.hpp>
#include <ringo/runtime/time.hpp>
#include <ringo/runtime/unique_fd.hpp>

namespace ringo::net {

class conn final : public stream {
 public:
  conn() noexcept = default;
  // Takes ownership of a connected socket; `network` names it in errors: "tcp", "tcp4", "tcp6",
  // "unix" or "unixpacket" (another name reads as "tcp").
  explicit conn(unique_fd fd, std::string_view network = "tcp") noexcept;
  conn(conn&& other) noexcept = default;
  conn& operator=(conn&& other) noexcept;
  ~conn() override;

  bool is_open() const noexcept override { return socket() >= 0; }
  int native_handle() const noexcept { return socket(); }
  std::string_view network() const noexcept override;

  // shutdown(2): SHUT_WR sends FIN after pending data (a half close).
  result<void> shutdown(int how = SHUT_WR) const noexcept;
  task<result<void>> close_write(std::stop_token stop = {},
                                 time_point deadline = no_deadline) override;
  // Closes the socket now. Idempotent.
  void close() noexcept override;
  // Gives up ownership of the descriptor (and drops what receive_multishot() had queued).
  unique_fd release() noexcept;

  // From now on, reads take from one multishot recv kept armed on the socket, whose buffers come
  // from the io_context's provided-buffer ring (multishot_receiver), instead of one recv SQE per
  // read: a request-response peer then costs one SQE a message fewer, and an idle connection
  // holds no receive buffer (what arrives while nobody reads waits in a ring buffer, and is
  // copied out by the next read()). false, changing nothing, where the kernel lacks multishot
  // recv or buffer rings (or io_context_options::multishot_recv is false).
  bool receive_multishot();
  bool receives_multishot() const noexcept { return static_cast<bool>(receiver_); }

  // A poll for POLLRDHUP: consumes nothing, so pipelined bytes stay for the next reader; a FIN
  // with bytes still unread before it is closed_later (FIONREAD).
  task<result<hangup>> wait_hangup(std::stop_token stop) override;
  bool has_buffered_input() const noexcept override;
  // IORING_OP_SPLICE file -> pipe -> socket through the ring: the bytes go from the page cache
  // to the socket and never through user memory, and the thread never blocks (the kernel runs
  // each splice on a worker thread, a cold file's disk reads included). Pipes (1 MiB each) are
  // kept per io_context between calls. Measured against sendfile(2) on the thread (nginx's way)
  // and read + send through the ring (bench/send_file_bench, bench/files.sh): README, "Serving
  // files", says what each cost.
  task<result<std::uint64_t>> send_file(const file& f, std::uint64_t offset, std::uint64_t length,
                                        std::stop_token stop = {},
                                        time_point deadline = no_deadline) override;

  result<address> local_address() const noexcept override;
  result<address> remote_address() const noexcept override;
  result<void> set_nodelay(bool on = true) const noexcept;
  // SO_KEEPALIVE with `period` as both the idle time and the probe interval (as Go does).
  result<void> set_keepalive(bool on,
                             std::chrono::seconds period = std::chrono::seconds(15)) const noexcept;

 private:
  // The socket is the stream's own (stream::socket()): a conn is 32 bytes, which an idle
  // server connection keeps in its frame.
  std::uint8_t network_ = 0;  // index into the known network names
};

}  // namespace ringo::net
