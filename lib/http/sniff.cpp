// Content sniffing (WHATWG MIME Sniffing §6 and §7, in the order Go's net/http/sniff.go checks
// them) and the extension table (Go's mime/type.go builtins plus the system's mime.types).
#include "ringo/http/sniff.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <mutex>
#include <sstream>
#include <unordered_map>

namespace ringo::http {

namespace {

constexpr std::size_t sniff_len = 512;

bool is_ws(unsigned char b) noexcept {
  return b == '\t' || b == '\n' || b == '\x0c' || b == '\r' || b == ' ';
}

// One signature: `pattern` compared with the data under `mask` (an empty mask: exact bytes).
struct signature {
  enum class kind : std::uint8_t { exact, masked, html } how;
  std::string_view pattern;
  std::string_view mask;
  bool skip_ws = false;  // compared from the first non-whitespace byte
  std::string_view type;
};

using namespace std::string_view_literals;

constexpr std::string_view html_type = "text/html; charset=utf-8";

// An HTML tag: the letters case-insensitively, then a space or '>' (a tag-terminating byte).
constexpr signature html(std::string_view tag) {
  return {signature::kind::html, tag, {}, true, html_type};
}
constexpr signature exact(std::string_view pattern, std::string_view type) {
  return {signature::kind::exact, pattern, {}, false, type};
}
constexpr signature masked(std::string_view pattern, std::string_view mask, std::string_view type,
                           bool skip_ws = false) {
  return {signature::kind::masked, pattern, mask, skip_ws, type};
}

constexpr std::array signatures = {
    html("<!DOCTYPE HTML"),
    html("<HTML"),
    html("<HEAD"),
    html("<SCRIPT"),
    html("<IFRAME"),
    html("<H1"),
    html("<DIV"),
    html("<FONT"),
    html("<TABLE"),
    html("<A"),
    html("<STYLE"),
    html("<TITLE"),
    html("<B"),
    html("<BODY"),
    html("<BR"),
    html("<P"),
    html("<!--"),
    masked("<?xml", "\xFF\xFF\xFF\xFF\xFF", "text/xml; charset=utf-8", true),
    exact("%PDF-", "application/pdf"),
    exact("%!PS-Adobe-", "application/postscript"),
    // Byte order marks.
    masked("\xFE\xFF\x00\x00"sv, "\xFF\xFF\x00\x00"sv, "text/plain; charset=utf-16be"),
    masked("\xFF\xFE\x00\x00"sv, "\xFF\xFF\x00\x00"sv, "text/plain; charset=utf-16le"),
    masked("\xEF\xBB\xBF\x00"sv, "\xFF\xFF\xFF\x00"sv, "text/plain; charset=utf-8"),
    // Images.
    exact("\x00\x00\x01\x00"sv, "image/x-icon"),
    exact("\x00\x00\x02\x00"sv, "image/x-icon"),
    exact("BM", "image/bmp"),
    exact("GIF87a", "image/gif"),
    exact("GIF89a", "image/gif"),
    masked("RIFF\x00\x00\x00\x00WEBPVP"sv,
           "\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF\xFF\xFF"sv, "image/webp"),
    exact("\x89PNG\x0D\x0A\x1A\x0A", "image/png"),
    exact("\xFF\xD8\xFF", "image/jpeg"),
    // Audio and video (mp4 is checked after these, in detect_content_type).
    masked("FORM\x00\x00\x00\x00"
           "AIFF"sv,
           "\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF"sv, "audio/aiff"),
    masked("ID3", "\xFF\xFF\xFF", "audio/mpeg"),
    masked("OggS\x00"sv, "\xFF\xFF\xFF\xFF\xFF", "application/ogg"),
    masked("MThd\x00\x00\x00\x06"sv, "\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF", "audio/midi"),
    masked("RIFF\x00\x00\x00\x00"
           "AVI "sv,
           "\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF"sv, "video/avi"),
    masked("RIFF\x00\x00\x00\x00WAVE"sv, "\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF"sv,
           "audio/wave"),
};

// Brotli streams carry no magic; the standard's sample header is what Go matches.
constexpr std::string_view brotli_magic =
    "\x2B\x49\x6E\x73\x6E\x6F\x77\x7A\x69\x6C\x6C\x61\x20\x42\x72\x6F\x74\x6C\x69\x20\x43\x6F\x6D"
    "\x70\x72\x65\x73\x73\x6F\x72\x20\x20\x20\x43\x6F\x70\x79\x72\x69\x67\x68\x74\x20\x32\x30\x31"
    "\x34\x2D\x32\x30\x31\x39\x0A\x31\x0A";

// After mp4: webm, fonts, archives, wasm.
constexpr std::array late_signatures = {
    exact("\x1A\x45\xDF\xA3", "video/webm"),
    masked(std::string_view(
               "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0LP", 36),
           std::string_view("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
                            "\xFF\xFF",
                            36),
           "application/vnd.ms-fontobject"),
    exact("\x00\x01\x00\x00"sv, "font/ttf"),
    exact("OTTO", "font/otf"),
    exact("ttcf", "font/collection"),
    exact("wOFF", "font/woff"),
    exact("wOF2", "font/woff2"),
    exact("\x1F\x8B\x08", "application/x-gzip"),
    exact(brotli_magic, "application/brotli"),
    exact("\x28\xB5\x2F\xFD", "application/zstd"),
    exact("PK\x03\x04", "application/zip"),
    // RAR Labs' signatures (the standard's are wrong: whatwg/mimesniff#63), as Go uses.
    exact("Rar!\x1A\x07\x00"sv, "application/x-rar-compressed"),
    exact("Rar!\x1A\x07\x01\x00"sv, "application/x-rar-compressed"),
    exact("\x00\x61\x73\x6D"sv, "application/wasm"),
};

bool matches(const signature& s, std::string_view data, std::size_t first_non_ws) noexcept {
  if (s.pattern.empty()) return false;
  if (s.skip_ws) data.remove_prefix(first_non_ws);
  switch (s.how) {
    case signature::kind::exact:
      return data.starts_with(s.pattern);
    case signature::kind::masked:
      if (data.size() < s.pattern.size() || s.mask.size() != s.pattern.size()) return false;
      for (std::size_t i = 0; i < s.pattern.size(); ++i)
        if ((static_cast<unsigned char>(data[i]) & static_cast<unsigned char>(s.mask[i])) !=
            static_cast<unsigned char>(s.pattern[i]))
          return false;
      return true;
    case signature::kind::html: {
      if (data.size() < s.pattern.size() + 1) return false;
      for (std::size_t i = 0; i < s.pattern.size(); ++i) {
        unsigned char d = static_cast<unsigned char>(data[i]);
        const unsigned char p = static_cast<unsigned char>(s.pattern[i]);
        if (p >= 'A' && p <= 'Z') d &= 0xDF;  // the letters match in either case
        if (d != p) return false;
      }
      const char tt = data[s.pattern.size()];
      return tt == ' ' || tt == '>';
    }
  }
  return false;
}

// §6.2.1: an ISO base media file whose "ftyp" box names an mp4 brand.
bool is_mp4(std::string_view data) noexcept {
  if (data.size() < 12) return false;
  const auto byte = [&](std::size_t i) {
    return static_cast<std::uint32_t>(std::uint8_t(data[i]));
  };
  const std::uint32_t box = byte(0) << 24 | byte(1) << 16 | byte(2) << 8 | byte(3);
  if (data.size() < box || box % 4 != 0 || data.substr(4, 4) != "ftyp") return false;
  for (std::size_t at = 8; at < box; at += 4) {
    if (at == 12) continue;  // the major brand's version
    if (data.substr(at, 3) == "mp4") return true;
  }
  return false;
}

// §7.1 step 4: text when no byte is a binary control byte.
bool looks_like_text(std::string_view data) noexcept {
  return std::none_of(data.begin(), data.end(), [](char c) {
    const unsigned char b = static_cast<unsigned char>(c);
    return b <= 0x08 || b == 0x0B || (b >= 0x0E && b <= 0x1A) || (b >= 0x1C && b <= 0x1F);
  });
}

}  // namespace

std::string_view detect_content_type(std::string_view data) noexcept {
  data = data.substr(0, sniff_len);
  std::size_t first_non_ws = 0;
  while (first_non_ws < data.size() && is_ws(static_cast<unsigned char>(data[first_non_ws])))
    ++first_non_ws;
  for (const signature& s : signatures)
    if (matches(s, data, first_non_ws)) return s.type;
  if (is_mp4(data)) return "video/mp4";
  for (const signature& s : late_signatures)
    if (matches(s, data, first_non_ws)) return s.type;
  if (looks_like_text(data.substr(first_non_ws))) return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return out;
}

// Go's mime builtinTypesLower.
constexpr std::pair<std::string_view, std::string_view> builtin_types[] = {
    {".avif", "image/avif"},
    {".css", "text/css; charset=utf-8"},
    {".gif", "image/gif"},
    {".htm", "text/html; charset=utf-8"},
    {".html", "text/html; charset=utf-8"},
    {".jpeg", "image/jpeg"},
    {".jpg", "image/jpeg"},
    {".js", "text/javascript; charset=utf-8"},
    {".json", "application/json"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".pdf", "application/pdf"},
    {".png", "image/png"},
    {".svg", "image/svg+xml"},
    {".wasm", "application/wasm"},
    {".webp", "image/webp"},
    {".xml", "text/xml; charset=utf-8"},
};

// /etc/mime.types: "type ext ext ..." per line, '#' comments. Go's loadMimeFile adds
// "; charset=utf-8" to text types that name no charset.
std::unordered_map<std::string, std::string> load_system_types() {
  std::unordered_map<std::string, std::string> out;
  std::ifstream in("/etc/mime.types");
  std::string line;
  while (std::getline(in, line)) {
    if (const std::size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string type, ext;
    if (!(words >> type)) continue;
    if (type.starts_with("text/") && type.find("charset") == std::string::npos)
      type += "; charset=utf-8";
    while (words >> ext) out.emplace("." + lower(ext), type);
  }
  for (const auto& [e, t] : builtin_types) out[std::string(e)] = std::string(t);
  return out;
}

}  // namespace

std::string type_by_extension(std::string_view ext) {
  static const std::unordered_map<std::string, std::string> types = load_system_types();
  auto it = types.find(lower(ext));
  return it == types.end() ? std::string() : it->second;
}

}  // namespace ringo::http
