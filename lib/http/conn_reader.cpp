#include "conn_reader.hpp"

namespace ringo::http::detail {

void conn_reader::start(scope& sc, net::stream& s, listener& l) {
  if (watching_) return;
  watching_ = true;
  done_.reset();
  stop_ = std::stop_source();
  sc.spawn(watch(&s, &l, stop_.get_token()));
}

task<void> conn_reader::watch(net::stream* s, listener* l, std::stop_token stop) {
  result<net::hangup> seen = co_await s->wait_hangup(std::move(stop));
  watching_ = false;
  done_.set();
  if (seen) l->on_hangup(*seen);  // (an error: stopped on purpose, the request is over)
}

task<void> conn_reader::stop() {
  if (!watching_) co_return;
  stop_.request_stop();
  (void)co_await done_.wait();
}

void conn_reader::reset() noexcept {
  watching_ = false;
  stop_ = std::stop_source(std::nostopstate);
  done_.set();
}

}  // namespace ringo::http::detail
