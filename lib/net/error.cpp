#include "ringo/net/error.hpp"

#include <cctype>

namespace ringo::net {
namespace {

class net_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ringo.net"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::closed:
        return "use of closed network connection";
      case errc::unexpected_eof:
        return "unexpected EOF";
      case errc::missing_address:
        return "missing address";
      case errc::no_such_host:
        return "no such host";
      case errc::unknown_network:
        return "unknown network";
      case errc::invalid_address:
        return "invalid address";
      case errc::mismatched_local:
        return "mismatched local address type";
      case errc::server_failure:
        return "server misbehaving";
    }
    return "unknown net error";
  }
};

}  // namespace

const std::error_category& net_category() noexcept {
  static const net_category_impl category;
  return category;
}

std::string error_text(std::error_code ec) {
  std::string text = ec.message();
  // strerror capitalizes ("Connection refused"); Go's messages are lower-case.
  if (ec.category() == std::system_category() && !text.empty())
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

std::string op_error::message() const {
  std::string s = op;
  if (!network.empty()) s += " " + network;
  if (!source.empty()) s += " " + source;
  if (!address.empty()) s += (source.empty() ? " " : "->") + address;
  s += ": ";
  if (!syscall.empty()) s += syscall + ": ";
  return s + error_text(err);
}

std::string op_error::full_message() const {
  std::string s = message();
  for (const op_error& a : attempts) {
    if (a.address == address && a.err == err) continue;  // the main error, already said
    s += "\n  also: " + a.message();
  }
  return s;
}

}  // namespace ringo::net
