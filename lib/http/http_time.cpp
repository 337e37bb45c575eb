#include "http_time.hpp"

#include <array>
#include <charconv>
#include <cstdio>
#include <ctime>

namespace ringo::http::detail {

namespace {

constexpr std::array<std::string_view, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> days = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

// A cursor over the text being parsed; every step fails softly (ok_ goes false).
class scanner {
 public:
  explicit scanner(std::string_view s) : s_(s) {}
  bool ok() const { return ok_ && s_.empty(); }
  void lit(std::string_view l) {
    if (ok_ && s_.starts_with(l))
      s_.remove_prefix(l.size());
    else
      ok_ = false;
  }
  // Exactly `width` digits (or, when `space_pad`, a space then width-1 digits).
  int num(std::size_t width, bool space_pad = false) {
    if (!ok_ || s_.size() < width) return fail();
    std::string_view d = s_.substr(0, width);
    if (space_pad && d.front() == ' ') d.remove_prefix(1);
    int v = 0;
    auto [end, ec] = std::from_chars(d.data(), d.data() + d.size(), v);
    if (ec != std::errc() || end != d.data() + d.size()) return fail();
    s_.remove_prefix(width);
    return v;
  }
  int month() {
    for (std::size_t i = 0; i < months.size(); ++i)
      if (ok_ && s_.starts_with(months[i])) {
        s_.remove_prefix(3);
        return int(i);
      }
    return fail();
  }
  // "HH:MM:SS" (each field checked by make_time).
  struct time_of_day {
    int h = 0, m = 0, s = 0;
  };
  time_of_day read_clock() {
    time_of_day t;
    t.h = num(2);
    lit(":");
    t.m = num(2);
    lit(":");
    t.s = num(2);
    return t;
  }
  // A day name: three letters, or a whole one ("Monday") when `full`.
  void weekday(bool full) {
    for (std::string_view d : days)
      if (ok_ && s_.starts_with(d)) {
        s_.remove_prefix(3);
        if (full)
          while (!s_.empty() && s_.front() >= 'a' && s_.front() <= 'z') s_.remove_prefix(1);
        return;
      }
    ok_ = false;
  }
  // A zone abbreviation: letters (taken as GMT, as browsers do for cookies).
  void zone() {
    std::size_t n = 0;
    while (n < s_.size() && s_[n] >= 'A' && s_[n] <= 'Z') ++n;
    if (n == 0) ok_ = false;
    s_.remove_prefix(n);
  }

 private:
  int fail() {
    ok_ = false;
    return 0;
  }
  std::string_view s_;
  bool ok_ = true;
};

std::optional<sys_seconds> make_time(int year, int month, int day, int h, int m, int s) {
  if (month < 0 || month > 11 || day < 1 || day > 31 || h > 23 || m > 59 || s > 60)
    return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year(year),
                                        std::chrono::month(unsigned(month + 1)),
                                        std::chrono::day(unsigned(day))};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::sys_days(ymd) + std::chrono::hours(h) + std::chrono::minutes(m) +
         std::chrono::seconds(s);
}

}  // namespace

std::string format_http_time(std::chrono::system_clock::time_point t) {
  return format_http_time(std::chrono::floor<std::chrono::seconds>(t));
}

std::string format_http_time(sys_seconds t) {
  const std::time_t secs = static_cast<std::time_t>(t.time_since_epoch().count());
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                std::string(days[std::size_t(tm.tm_wday)]).c_str(), tm.tm_mday,
                std::string(months[std::size_t(tm.tm_mon)]).c_str(), tm.tm_year + 1900, tm.tm_hour,
                tm.tm_min, tm.tm_sec);
  return buf;
}

std::optional<sys_seconds> parse_http_time(std::string_view s) {
  {  // IMF-fixdate
    scanner sc(s);
    sc.weekday(false);
    sc.lit(", ");
    const int day = sc.num(2);
    sc.lit(" ");
    const int mon = sc.month();
    sc.lit(" ");
    const int year = sc.num(4);
    sc.lit(" ");
    const scanner::time_of_day t = sc.read_clock();
    sc.lit(" GMT");
    if (sc.ok()) return make_time(year, mon, day, t.h, t.m, t.s);
  }
  {  // RFC 850: a two-digit year, read as Go's time package reads one (69-99: 19xx)
    scanner sc(s);
    sc.weekday(true);
    sc.lit(", ");
    const int day = sc.num(2);
    sc.lit("-");
    const int mon = sc.month();
    sc.lit("-");
    const int yy = sc.num(2);
    sc.lit(" ");
    const scanner::time_of_day t = sc.read_clock();
    sc.lit(" ");
    sc.zone();
    if (sc.ok()) return make_time(yy >= 69 ? 1900 + yy : 2000 + yy, mon, day, t.h, t.m, t.s);
  }
  {  // asctime
    scanner sc(s);
    sc.weekday(false);
    sc.lit(" ");
    const int mon = sc.month();
    sc.lit(" ");
    const int day = sc.num(2, true);
    sc.lit(" ");
    const scanner::time_of_day t = sc.read_clock();
    sc.lit(" ");
    const int year = sc.num(4);
    if (sc.ok()) return make_time(year, mon, day, t.h, t.m, t.s);
  }
  return std::nullopt;
}

std::optional<sys_seconds> parse_cookie_time(std::string_view s) {
  for (const char sep : {' ', '-'}) {
    scanner sc(s);
    sc.weekday(false);
    sc.lit(", ");
    const int day = sc.num(2);
    sc.lit(std::string_view(&sep, 1));
    const int mon = sc.month();
    sc.lit(std::string_view(&sep, 1));
    const int year = sc.num(4);
    sc.lit(" ");
    const scanner::time_of_day t = sc.read_clock();
    sc.lit(" ");
    sc.zone();
    if (sc.ok()) return make_time(year, mon, day, t.h, t.m, t.s);
  }
  return std::nullopt;
}

}  // namespace ringo::http::detail
