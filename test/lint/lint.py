"""Layering lint, registered with meson (suite 'lint').

  lint.py ROOT   fails when a lower layer includes a higher one: runtime must not include
                 ringo/net or ringo/http, net must not include ringo/http. It scans each layer's
                 public headers (include/ringo/<layer>/, include/ringo/<layer>.hpp) and its
                 sources (lib/<layer>/). And http sees byte streams only (net::stream): none of its
                 files makes a socket syscall or touches a descriptor, so TLS can go under it and
                 HTTP/2 beside it.
                 It also fails when a public header (include/ringo/) includes a private
                 dependency's header: liburing, c-ares, llhttp, nghttp2 or OpenSSL. Those
                 libraries are linked into libringo privately; users compile against ringo's
                 headers alone.
"""

import os
import re
import sys

LAYERS = ["runtime", "net", "http"]  # each may include only itself and the ones before it
SOURCE_EXTS = (".hpp", ".cpp", ".h", ".cc", ".ipp")

# <ringo/net/...>, <ringo/net.hpp>, and quoted forms such as "../net/conn.hpp" from lib/.
# Angle includes need the ringo/ prefix so system headers such as <net/if.h> do not match.
INCLUDE = re.compile(
    r'^\s*#\s*include\s*(?:<ringo/|"(?:\.\./)*(?:ringo/)?)(' + "|".join(LAYERS) + r")[/.]"
)


# What the http layer may not use: descriptors, the headers of socket syscalls, the syscalls
# themselves, and the runtime's operations on descriptors (a method of the same name is fine).
HTTP_FORBIDDEN = [
    (re.compile(r"\bnative_handle\s*\(|\bunique_fd\b"), "a descriptor"),
    (re.compile(r"#\s*include\s*<(sys/socket|sys/ioctl|poll|unistd|fcntl|sys/uio)\.h>"),
     "a socket syscall header"),
    (re.compile(r"(?<![\w>])::(recv|send|recvmsg|sendmsg|read|write|ioctl|poll|close|shutdown|"
                r"getpeername|getsockname|setsockopt|getsockopt)\s*\("), "a socket syscall"),
    (re.compile(r"(?<![.>\w])(recv|recv_awaiting|send|sendmsg|writev|poll|shutdown|cancel_fd)"
                r"\s*\(\s*[\w.>()-]*(fd|handle)\b"), "an operation on a descriptor"),
]


def check_http_streams_only(root):
    errors = 0
    for path in layer_files(root, "http"):
        with open(path, encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                code = line.split("//", 1)[0]
                for pattern, what in HTTP_FORBIDDEN:
                    if pattern.search(code):
                        rel = os.path.relpath(path, root)
                        print(f"{rel}:{lineno}: http sees byte streams only, not {what}: "
                              f"{line.strip()}")
                        errors += 1
    return errors


# <liburing.h>, <liburing/io_uring.h>, <ares.h>, <llhttp.h>, <nghttp2/nghttp2.h>,
# <openssl/ssl.h>, in either form.
PRIVATE_DEPENDENCY = re.compile(
    r'^\s*#\s*include\s*[<"](liburing|ares|llhttp|nghttp2|openssl|zlib)[/._]'
)


def layer_files(root, layer):
    """The files that belong to a layer: its umbrella header, public headers and sources."""
    umbrella = os.path.join(root, "include", "ringo", layer + ".hpp")
    if os.path.isfile(umbrella):
        yield umbrella
    for top in (os.path.join(root, "include", "ringo", layer), os.path.join(root, "lib", layer)):
        for dirpath, dirnames, names in os.walk(top):
            dirnames.sort()
            for name in sorted(names):
                if name.endswith(SOURCE_EXTS):
                    yield os.path.join(dirpath, name)


def public_headers(root):
    top = os.path.join(root, "include", "ringo")
    for dirpath, dirnames, names in os.walk(top):
        dirnames.sort()
        for name in sorted(names):
            if name.endswith(SOURCE_EXTS):
                yield os.path.join(dirpath, name)


def check_private_dependencies(root):
    """Public headers must not include liburing, c-ares, llhttp, nghttp2 or OpenSSL."""
    errors = 0
    for path in public_headers(root):
        with open(path, encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                m = PRIVATE_DEPENDENCY.match(line)
                if m:
                    rel = os.path.relpath(path, root)
                    print(f"{rel}:{lineno}: a public header must not include {m.group(1)}: "
                          f"{line.strip()}")
                    errors += 1
    if errors:
        print(f"{errors} private dependency include(s) in public headers; "
              "keep them in lib/ (or behind an opaque type)")
    return errors


def main(root):
    private = check_private_dependencies(root)
    errors = 0
    for rank, layer in enumerate(LAYERS):
        for path in layer_files(root, layer):
            with open(path, encoding="utf-8", errors="replace") as f:
                for lineno, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if m and LAYERS.index(m.group(1)) > rank:
                        rel = os.path.relpath(path, root)
                        print(f"{rel}:{lineno}: {layer} must not include {m.group(1)}: {line.strip()}")
                        errors += 1
    errors += check_http_streams_only(root)
    if errors:
        print(f"{errors} layering violation(s); the layers are {' -> '.join(LAYERS)}")
    return 1 if errors or private else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(os.path.abspath(sys.argv[1])))
