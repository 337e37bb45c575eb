// pingpong_count: runs ROUNDS rounds (two messages each) of one ping-pong body from pingpong.hpp
// and exits, for counting instructions per message with callgrind. Run it twice with different
// round counts and divide the difference by the extra messages: setup and teardown cancel out.
//
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null
//       build/bench/pingpong_count ringo_multishot 20000     (then 40000; read "Collected")
//
// MODE is raw_recv, raw_multishot, ringo_recv or ringo_multishot; --no-register-ring-fd runs both
// the raw ring and ringo's io_context without io_uring_register_ring_fd.
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "pingpong.hpp"

namespace {

// A ring set up as ringo's io_context sets up its own (flags, sizes, registered ring fd).
int raw_main(std::string_view mode, long rounds, bool register_fd) {
  ringo::io_context_options options;
  options.register_ring_fd = register_fd;
  unsigned flags;
  bool registered;
  {
    ringo::io_context probe(options);
    flags = probe.setup_flags();
    registered = probe.ring_fd_registered();
  }
  io_uring ring{};
  io_uring_params params{};
  params.flags = flags | IORING_SETUP_CQSIZE;
  params.cq_entries = 16 * options.sq_entries;
  if (io_uring_queue_init_params(options.sq_entries, &ring, &params) != 0) return 1;
  if (registered) io_uring_register_ring_fd(&ring);
  pingpong::socket_pair pair;
  long left = rounds;
  auto more = [&left] { return left-- > 0; };
  bool ok = mode == "raw_recv" ? pingpong::raw_recv_rounds(&ring, pair.fds, more)
                               : pingpong::raw_multishot_rounds(&ring, pair.fds, more);
  io_uring_queue_exit(&ring);
  return ok ? 0 : 1;
}

int ringo_main(std::string_view mode, long rounds, bool register_fd) {
  ringo::io_context_options options;
  options.register_ring_fd = register_fd;
  ringo::io_context ctx(options);
  pingpong::socket_pair pair;
  long left = rounds;
  auto more = [&left] { return left-- > 0; };
  bool ok = mode == "ringo_recv"
                ? ctx.run(pingpong::ringo_recv_rounds(pair.fds[0], pair.fds[1], more))
                : ctx.run(pingpong::ringo_multishot_rounds(pair.fds[0], pair.fds[1], more));
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: pingpong_count raw_recv|raw_multishot|ringo_recv|ringo_multishot ROUNDS "
                 "[--no-register-ring-fd]\n");
    return 2;
  }
  std::string_view mode = argv[1];
  long rounds = std::atol(argv[2]);
  bool register_fd = !(argc > 3 && std::string_view(argv[3]) == "--no-register-ring-fd");
  int rc = mode.starts_with("raw_") ? raw_main(mode, rounds, register_fd)
                                    : ringo_main(mode, rounds, register_fd);
  if (rc != 0) std::fprintf(stderr, "pingpong_count: %s failed\n", argv[1]);
  return rc;
}
