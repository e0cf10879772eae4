#!/usr/bin/env bash
# Installs the build into a scratch DESTDIR and builds examples/fetch-all the way
# a user would, with nothing but the installed header, library and
# `pkg-config --cflags --libs libpop3async` (issue 2's standalone command).
# Usage: check_pkgconfig.sh BUILD_DIR SOURCE_DIR CC
set -euo pipefail
build=$1 src=$2 cc=$3
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT

meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >/dev/null
pcdir=$(dirname "$(find "$dest" -name libpop3async.pc | head -n 1)")
[ -n "$pcdir" ] || { echo "libpop3async.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH=$pcdir PKG_CONFIG_SYSROOT_DIR=$dest

flags=$(pkg-config --cflags --libs libpop3async)
libdir=$(dirname "$pcdir") # where the .pc file sits: <libdir>/pkgconfig
# shellcheck disable=SC2086 # the flags are meant to split into words
"$cc" -std=c11 -Wall -Wextra -Werror -o "$dest/fetch-all" "$src/examples/fetch-all.c" $flags
LD_LIBRARY_PATH=$libdir "$dest/fetch-all" --help >/dev/null
# The installed version header agrees with the .pc file.
grep -q "POP3A_VERSION_STRING \"$(pkg-config --modversion libpop3async)\"" \
  "$(find "$dest" -path '*pop3async/version.h')"
echo "standalone build against the installed libpop3async: ok"
