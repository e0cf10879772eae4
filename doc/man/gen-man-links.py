#!/usr/bin/env python3
"""Writes one man page per "name page" line of LINKS into OUTDIR: a `.so`
request, so `man NAME` shows the group page that documents NAME.

    gen-man-links.py LINKS OUTDIR
"""
import os
import sys


def links(path):
    for line in open(path, encoding="utf-8"):
        words = line.split()
        if len(words) == 2 and not words[0].startswith("#"):
            yield words


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    mapping, outdir = sys.argv[1:]
    for name, page in links(mapping):
        with open(os.path.join(outdir, name + ".3"), "w", encoding="utf-8") as out:
            out.write(f".so man3/{page}.3\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
