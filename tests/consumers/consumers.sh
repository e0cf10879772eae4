#!/usr/bin/env bash
# Uses the library the way a consumer does: installs the build into a scratch
# DESTDIR, then builds with nothing but the installed headers, libraries and
# `pkg-config [--static] --cflags --libs libpop3async`:
#   - the README's usage program (extracted at build time), shared and static,
#     and runs both against the scripted server (test_readme_program);
#   - every examples/*.c, shared, and fetch-all statically too;
#   - tests/consumers/subproject, a project that uses it as a meson subproject.
# Usage: consumers.sh BUILD_DIR SOURCE_DIR CC README_C TEST_README_PROGRAM
set -euo pipefail
build=$1 src=$2 cc=$3 readme_c=$4 test_readme=$5
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT

meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >/dev/null
pcdir=$(dirname "$(find "$dest" -name libpop3async.pc | head -n 1)")
[ -n "$pcdir" ] || { echo "libpop3async.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH=$pcdir PKG_CONFIG_SYSROOT_DIR=$dest
libdir=$(dirname "$pcdir") # where the .pc file sits: <libdir>/pkgconfig
# The installed version header agrees with the .pc file.
grep -q "POP3A_VERSION_STRING \"$(pkg-config --modversion libpop3async)\"" \
  "$(find "$dest" -path '*pop3async/version.h')"

# What a consumer's build would use; unused callback parameters are the norm.
cflags=(-std=c11 -Wall -Wextra -Wno-unused-parameter -Werror)
shared() { # out source...
  local out=$1; shift
  # shellcheck disable=SC2046 # the flags are meant to split into words
  "$cc" "${cflags[@]}" -o "$out" "$@" $(pkg-config --cflags --libs libpop3async libevent_core)
}
static() { # out source: every library linked in from its .a (pkg-config --static)
  # shellcheck disable=SC2046
  "$cc" "${cflags[@]}" -o "$1" "$2" -Wl,-Bstatic \
    $(pkg-config --static --cflags --libs libpop3async libevent_core) -Wl,-Bdynamic
}

shared "$dest/readme" "$readme_c"
static "$dest/readme-static" "$readme_c"
if ldd "$dest/readme-static" | grep -qE 'libpop3async|libevent|libssl|libcrypto'; then
  echo "readme-static still needs a shared library:"; ldd "$dest/readme-static"; exit 1
fi
# fetch-all stands alone; the other examples share examples/example_common.c.
for example in "$src"/examples/*.c; do
  name=$(basename "$example" .c)
  case $name in
  example_common) ;;
  fetch-all) shared "$dest/$name" "$example" ;;
  *) shared "$dest/$name" "$example" "$src/examples/example_common.c" ;;
  esac
done
static "$dest/fetch-all-static" "$src/examples/fetch-all.c"
LD_LIBRARY_PATH=$libdir "$dest/fetch-all" --help >/dev/null
"$dest/fetch-all-static" --help >/dev/null
echo "built against the installed libpop3async: readme (shared, static), examples/*.c"

LD_LIBRARY_PATH=$libdir "$test_readme" "$dest/readme" "$dest/readme-static"

# As a meson subproject: dependency('libpop3async') falling back to this tree.
proj=$dest/subproject-consumer
cp -r "$src/tests/consumers/subproject" "$proj"
mkdir -p "$proj/subprojects"
ln -s "$src" "$proj/subprojects/libpop3async"
CC=$cc meson setup "$proj/build" "$proj" --force-fallback-for=libpop3async >/dev/null
ninja -C "$proj/build" >/dev/null
"$proj/build/consumer"
