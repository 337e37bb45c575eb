// when_all / when_any: await several tasks concurrently (Go: a WaitGroup; a select over results).
//
// Both run their children in a scope and return only after every child has finished: nothing
// outlives the call. when_any takes factories `(std::stop_token) -> task<T>` so that it can hand
// each child a token; the first child to finish requests stop on the others, which are still
// awaited, and every value any child produced is returned (a loser may have succeeded too: a
// Happy Eyeballs loser that connected is a connection the caller must close).
#pragma once

#include <cstddef>
#include <optional>
#include <stop_token>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <ringo/runtime/scope.hpp>
#include <ringo/runtime/task.hpp>

namespace ringo {
namespace detail {

template <typename T>
using value_or_monostate = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <typename T>
struct task_value;
template <typename T>
struct task_value<task<T>> {
  using type = T;
};
template <typename F>
using factory_value_t = typename task_value<std::invoke_result_t<F, std::stop_token>>::type;

template <typename T>
task<void> store_into(task<T> t, std::optional<value_or_monostate<T>>* slot) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(t);
    slot->emplace();
  } else {
    slot->emplace(co_await std::move(t));
  }
}

template <typename T>
task<void> race_into(task<T> t, std::optional<value_or_monostate<T>>* slot, std::size_t index,
                     std::size_t* winner, scope* s) {
  co_await store_into(std::move(t), slot);
  if (*winner == static_cast<std::size_t>(-1)) {
    *winner = index;
    s->request_stop();
  }
}

template <typename Slots, std::size_t... I, typename... T>
void spawn_all(scope& s, Slots& slots, std::index_sequence<I...>, task<T>... tasks) {
  (s.spawn(store_into(std::move(tasks), &std::get<I>(slots))), ...);
}

template <typename Slots, std::size_t... I, typename... F>
void spawn_racers(scope& s, Slots& slots, std::size_t& winner, std::index_sequence<I...>,
                  F&... factories) {
  (s.spawn(race_into(factories(s.get_token()), &std::get<I>(slots), I, &winner, &s)), ...);
}

}  // namespace detail

// Runs every task concurrently; their values in order (std::monostate for void). If a task throws,
// the first exception is rethrown after all have finished.
template <typename... T>
task<std::tuple<detail::value_or_monostate<T>...>> when_all(task<T>... tasks) {
  std::tuple<std::optional<detail::value_or_monostate<T>>...> slots;
  scope s;
  detail::spawn_all(s, slots, std::index_sequence_for<T...>{}, std::move(tasks)...);
  co_await s.join();
  co_return std::apply([](auto&... v) { return std::tuple(std::move(*v)...); }, slots);
}

template <typename T>
task<std::vector<detail::value_or_monostate<T>>> when_all(std::vector<task<T>> tasks) {
  std::vector<std::optional<detail::value_or_monostate<T>>> slots(tasks.size());
  scope s;
  for (std::size_t i = 0; i < tasks.size(); ++i)
    s.spawn(detail::store_into(std::move(tasks[i]), &slots[i]));
  co_await s.join();
  std::vector<detail::value_or_monostate<T>> out;
  out.reserve(slots.size());
  for (auto& v : slots) out.push_back(std::move(*v));
  co_return out;
}

template <typename... T>
struct when_any_result {
  std::size_t index;  // the child that finished first
  // Every child that finished with a value (the winner always; losers when they got there too).
  std::tuple<std::optional<detail::value_or_monostate<T>>...> values;
};

// Runs f(token) for every factory; when the first finishes, stops the others and awaits them.
// `stop` stops them all.
template <typename... F>
task<when_any_result<detail::factory_value_t<F>...>> when_any(std::stop_token stop,
                                                              F... factories) {
  when_any_result<detail::factory_value_t<F>...> out{static_cast<std::size_t>(-1), {}};
  scope s(std::move(stop));
  detail::spawn_racers(s, out.values, out.index, std::index_sequence_for<F...>{}, factories...);
  co_await s.join();
  co_return out;
}

}  // namespace ringo
