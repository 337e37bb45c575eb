#!/usr/bin/env bash
# The library as a user gets it: `meson install` into a temporary root, then a program built with
# nothing but `pkg-config --cflags --libs ringo` (test/install/user_program.cpp), and run.
#   install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
meson install -C "$build" --destdir "$root" --no-rebuild --quiet >/dev/null
option() {
  meson introspect "$build" --buildoptions |
    /usr/bin/python3 -c "import json,sys; print(next(o['value'] for o in json.load(sys.stdin) if o['name']=='$1'))"
}
prefix=$(option prefix)
pc=$(find "$root" -name ringo.pc | head -1)
export PKG_CONFIG_PATH=$(dirname "$pc")
flags=$(pkg-config --define-variable=prefix="$root$prefix" --cflags --libs ringo)
libdir=$(pkg-config --define-variable=prefix="$root$prefix" --variable=libdir ringo)
# The build's sanitizers, if any, must link into the program too.
extra=()
sanitize=$(option b_sanitize)
[[ $sanitize != none && -n $sanitize ]] && extra=(-fsanitize="$sanitize")
${CXX:-g++} -std=c++20 -Wall -Wextra -Werror "${extra[@]}" "$src/test/install/user_program.cpp" \
  $flags -o "$root/user_program"
LD_LIBRARY_PATH=$libdir "$root/user_program"
