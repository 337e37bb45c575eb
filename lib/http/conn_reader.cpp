#include "conn_reader.hpp"

namespace ringo::http::detail {

void conn_reader::start(scope& sc, net::stream& s, listener& l) {
  if (watching_) return;
  watching_ = true;
  done_.reset();
  scope_ = &sc;
  sc.spawn(watch(&s, &l, sc.get_token()));
}

task<void> conn_reader::watch(net::stream* s, listener* l, std::stop_token stop) {
  result<net::hangup> seen = co_await s->wait_hangup(std::move(stop));
  watching_ = false;
  scope_ = nullptr;
  done_.set();
  if (seen) l->on_hangup(*seen);  // (an error: stopped on purpose, the request is over)
}

task<void> conn_reader::stop() {
  if (!watching_) co_return;
  scope_->request_stop();
  (void)co_await done_.wait();
}

void conn_reader::reset() noexcept {
  watching_ = false;
  scope_ = nullptr;
  done_.set();
}

}  // namespace ringo::http::detail
