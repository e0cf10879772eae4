#!/bin/sh
# Every man page in the source tree (doc/ and tools/, *.[1-8]) formats with
# `groff -ww -man` without a warning, and `man -l` renders it and every
# generated link page (.so) without one.
#   check_man_render.sh SRCDIR LINKPAGE...
# Exit 77 (skipped) without groff or man.
set -u
src=$1
shift
command -v groff >/dev/null 2>&1 && command -v man >/dev/null 2>&1 || {
    echo "groff or man not installed: skipped"
    exit 77
}
export LC_ALL=C.UTF-8 MANWIDTH=80 MANPAGER=cat PAGER=cat
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
pages=$(find "$src/doc" "$src/tools" -type f -name '*.[1-8]' | sort)
[ -n "$pages" ] || { echo "no man pages found under $src"; exit 1; }

for page in $pages; do
    groff -ww -man -Tutf8 "$page" >/dev/null 2>"$tmp/err"
    if [ -s "$tmp/err" ]; then
        echo "groff -ww: $page"; cat "$tmp/err"; fail=1
    fi
    # A man hierarchy in $tmp, so that `.so man3/page.3` resolves as installed.
    sect=${page##*.}
    mkdir -p "$tmp/man$sect"
    cp "$page" "$tmp/man$sect/"
done
for link in "$@"; do
    cp "$link" "$tmp/man3/"
done

cd "$tmp" || exit 1
for page in man*/*; do
    if ! man --warnings -l "$page" >out 2>err || [ -s err ]; then
        echo "man -l: $page"; cat err; fail=1
    elif ! [ -s out ]; then
        echo "man -l: $page rendered nothing"; fail=1
    fi
done
[ "$fail" -eq 0 ] && echo "$(echo "$pages" | wc -l) pages and $# links render cleanly"
exit "$fail"
