// file (open beneath a root, stat, read_dir, read_at) and the splice operation: bytes move from a
// file through a pipe to a socket; a stop before submit or in flight cancels it.
#include <cerrno>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "ringo_test.hpp"

namespace ringo {
namespace {

using namespace std::chrono_literals;

class File : public test::RingoTest {};
class Splice : public test::RingoTest {};

// A directory tree under /tmp, removed afterwards: root/{a.txt, dir/b.txt, in -> a.txt,
// out -> /etc/hostname}, and a file beside root ("secret") that a path must never reach.
struct tree {
  std::filesystem::path base;
  std::filesystem::path root;
  tree() {
    char tmpl[] = "/tmp/ringo-file-XXXXXX";
    base = ::mkdtemp(tmpl);
    root = base / "root";
    std::filesystem::create_directories(root / "dir");
    std::ofstream(root / "a.txt") << "0123456789";
    std::ofstream(root / "dir" / "b.txt") << "bee";
    std::ofstream(base / "secret") << "secret";
    std::filesystem::create_symlink("a.txt", root / "in");
    std::filesystem::create_symlink(base / "secret", root / "out");
    std::filesystem::create_symlink("../secret", root / "up");
  }
  ~tree() { std::filesystem::remove_all(base); }
};

TEST_F(File, OpensStatsAndReadsAtAnOffset) {
  tree t;
  auto root = file::open(t.root.string());
  ASSERT_TRUE(root) << root.error().message();
  auto f = root->open_beneath("dir/../a.txt");
  ASSERT_TRUE(f) << f.error().message();
  auto info = f->stat();
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, 10u);
  EXPECT_TRUE(info->is_regular);
  EXPECT_FALSE(info->is_directory);
  auto body = [&]() -> task<std::string> {
    char buf[4];
    auto n = co_await f->read_at(buf, 3);
    co_return std::string(buf, n.value_or(0));
  };
  EXPECT_EQ(run(body()), "3456");
}

TEST_F(File, ReadCachedReadsWhatThePageCacheHoldsOrSaysWouldBlock) {
  tree t;
  auto f = file::open((t.root / "a.txt").string()).value();
  char buf[8];
  auto n = f.read_cached(buf, 2);  // just written: cached
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(std::string(buf, *n), "23456789");
  // Dropped from the cache (where the file system allows it), the bytes would need a disk read:
  // the answer is would_block, never a wait; read_at still reads them.
  ::fdatasync(f.native_handle());
  ::posix_fadvise(f.native_handle(), 0, 0, POSIX_FADV_DONTNEED);
  auto again = f.read_cached(buf, 0);
  if (!again) {
    EXPECT_EQ(again.error(), std::errc::resource_unavailable_try_again);
  }
  auto body = [&]() -> task<std::size_t> { co_return (co_await f.read_at(buf, 0)).value_or(0); };
  EXPECT_EQ(run(body()), 8u);
}

TEST_F(File, OpenBeneathNeverLeavesTheRoot) {
  tree t;
  auto root = file::open(t.root.string()).value();
  for (const char* name : {"../secret", "dir/../../secret", "out", "up", "/etc/hostname"}) {
    SCOPED_TRACE(name);
    auto f = root.open_beneath(name);
    ASSERT_FALSE(f);
    EXPECT_TRUE(f.error() == std::errc::cross_device_link ||
                f.error() == std::errc::no_such_file_or_directory)
        << f.error().message();
  }
  EXPECT_TRUE(root.open_beneath("in"));  // a link that stays inside is followed
}

TEST_F(File, FollowingLinksOutsideStillRefusesDotDot) {
  tree t;
  auto root = file::open(t.root.string()).value();
  EXPECT_TRUE(root.open_beneath("out", true));
  EXPECT_FALSE(root.open_beneath("../secret", true));
  EXPECT_FALSE(root.open_beneath("dir/../../secret", true));
  EXPECT_FALSE(root.open_beneath("/etc/hostname", true));
}

TEST_F(File, ReadDirListsEntriesAndWhichAreDirectories) {
  tree t;
  auto root = file::open(t.root.string()).value();
  auto entries = root.read_dir();
  ASSERT_TRUE(entries);
  std::map<std::string, bool> got;
  for (const auto& e : *entries) got[e.name] = e.is_directory;
  EXPECT_EQ(got,
            (std::map<std::string, bool>{
                {"a.txt", false}, {"dir", true}, {"in", false}, {"out", false}, {"up", false}}));
}

TEST_F(Splice, MovesFileBytesThroughAPipeToASocket) {
  tree t;
  auto f = file::open((t.root / "a.txt").string()).value();
  auto p = test::make_pipe();
  auto pair = test::make_unix_pair();
  auto body = [&]() -> task<void> {
    auto in = co_await splice(f.native_handle(), 2, p.write.get(), -1, 6);
    EXPECT_EQ(in.value_or(0), 6u);
    auto out = co_await splice(p.read.get(), -1, pair.client.get(), -1, 6);
    EXPECT_EQ(out.value_or(0), 6u);
    auto end = co_await splice(f.native_handle(), 10, p.write.get(), -1, 6);
    EXPECT_EQ(end.value_or(99), 0u);  // at the file's end
  };
  run(body());
  EXPECT_EQ(test::take_available(pair.server.get()), "234567");
}

TEST_F(Splice, BetweenTwoDescriptorsThatAreNotPipesFails) {
  tree t;
  auto f = file::open((t.root / "a.txt").string()).value();
  auto pair = test::make_unix_pair();
  auto body = [&]() -> task<result<std::size_t>> {
    co_return co_await splice(f.native_handle(), 0, pair.client.get(), 0, 4);
  };
  EXPECT_FALSE(run(body()));
}

TEST_F(Splice, StoppedBeforeSubmitMovesNothing) {
  auto p = test::make_pipe();
  auto pair = test::make_unix_pair();
  ASSERT_EQ(::write(p.write.get(), "abc", 3), 3);
  auto body = [&]() -> task<result<std::size_t>> {
    std::stop_source s;
    s.request_stop();
    co_return co_await splice(p.read.get(), -1, pair.client.get(), -1, 3, s.get_token());
  };
  auto r = run(body());
  EXPECT_EQ(r.error(), errc::operation_canceled) << r.error().message();
  EXPECT_EQ(test::take_available(p.read.get()), "abc");
}

TEST_F(Splice, StoppedInFlightIsCanceled) {
  // A splice from an empty pipe waits (on one of the kernel's workers) until stopped.
  auto p = test::make_pipe();
  auto pair = test::make_unix_pair();
  for (int round = 0; round < 20; ++round) {
    auto body = [&]() -> task<result<std::size_t>> {
      std::stop_source s;
      scope sc;
      sc.spawn([&](std::stop_token) -> task<void> {
        (void)co_await sleep_for(round % 2 ? 1ms : 0ms);
        s.request_stop();
      });
      auto r = co_await splice(p.read.get(), -1, pair.client.get(), -1, 3, s.get_token());
      co_await sc.join();
      co_return r;
    };
    auto r = run(body());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), errc::operation_canceled) << r.error().message();
  }
}

TEST_F(Splice, PastItsDeadlineTimesOut) {
  auto p = test::make_pipe();
  auto pair = test::make_unix_pair();
  auto deadline = clock::now() + 30ms;
  auto body = [&]() -> task<result<std::size_t>> {
    co_return co_await splice(p.read.get(), -1, pair.client.get(), -1, 3, {}, deadline);
  };
  auto r = run(body());
  EXPECT_EQ(r.error(), errc::timed_out) << r.error().message();
}

}  // namespace
}  // namespace ringo
