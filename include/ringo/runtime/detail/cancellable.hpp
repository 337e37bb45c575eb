// How a std::stop_token reaches a suspended operation.
//
// A stop request runs its callbacks on the requesting thread, which may not be the io_context's:
// such a thread must not touch the ring (SINGLE_ISSUER answers -EEXIST), so the request is queued
// and the loop is woken through its eventfd. on_stop() therefore always runs on the loop thread.
// The operation unregisters (stop_registration::reset) before its coroutine resumes; the reset
// waits for a callback running on another thread and withdraws a request still queued, so a
// queued request never reaches a finished operation.
#pragma once

#include <atomic>
#include <optional>
#include <stop_token>

namespace ringo {
class io_context;
namespace detail {

class cancellable {
 public:
  // Runs on the owning io_context's thread, at most once per registration, while the operation is
  // still suspended (or being started).
  virtual void on_stop() noexcept = 0;

 protected:
  ~cancellable() = default;

 private:
  friend class stop_registration;
  friend class ringo::io_context;
  std::atomic<bool> queued_remotely_{false};
};

class stop_registration {
 public:
  // Registers `op` with `token` (if it can stop). If stop was already requested, on_stop() runs
  // now.
  void arm(io_context& ctx, std::stop_token token, cancellable& op);
  // Unregisters; `ctx` and `op` as given to arm() (the owner keeps them: not stored twice here, as
  // every pending operation carries a registration).
  void reset(io_context* ctx, cancellable& op) noexcept;

 private:
  struct forwarder {
    io_context* ctx;
    cancellable* op;
    void operator()() noexcept;
  };
  std::optional<std::stop_callback<forwarder>> callback_;
};

}  // namespace detail
}  // namespace ringo
