// detect_content_type and type_by_extension: what Content-Type to send for some bytes or a file
// name (Go's http.DetectContentType and mime.TypeByExtension).
//
// detect_content_type follows the WHATWG MIME Sniffing standard as Go's net/http/sniff.go does:
// it looks at no more than the first 512 bytes and always answers, "application/octet-stream"
// when nothing more specific fits. type_by_extension knows Go's built-in table and, when the file
// exists, /etc/mime.types (read once per process; text types get "; charset=utf-8", as Go adds).
#pragma once

#include <string>
#include <string_view>

namespace ringo::http {

// The Content-Type of `data`, from its first 512 bytes.
std::string_view detect_content_type(std::string_view data) noexcept;

// The type for a file name's extension (".html", case-insensitive, with its dot), or "" when
// unknown. Go's built-in entries win over /etc/mime.types.
std::string type_by_extension(std::string_view ext);

}  // namespace ringo::http
