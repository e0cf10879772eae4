#!/usr/bin/env python3
"""Checks the shared library's exported symbols against the version script and
the public header.

    check_exports.py NM LIBRARY.so MAPFILE HEADER

1. The symbols the library exports (nm -D --defined-only, version nodes left
   out) are exactly the map's global list: nothing internal leaks, nothing
   promised is missing.
2. Every POP3A_EXPORT function in the header is in the map, and every map
   entry is declared POP3A_EXPORT in the header.
"""
import re
import subprocess
import sys


def exported(nm, lib):
    out = subprocess.run([nm, "-D", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        kind, name = parts[-2], parts[-1]
        if kind == "A":  # version node (LIBPOP3ASYNC_0), not a symbol
            continue
        syms.add(name.split("@")[0])
    return syms


def map_globals(path):
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"#[^\n]*", "", text)
    names = set()
    for block in re.finditer(r"global:(.*?)(?:local:|\})", text, flags=re.S):
        for item in block.group(1).split(";"):
            item = item.strip()
            if item:
                names.add(item)
    return names


def header_exports(path):
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    # The macro's own definition lines are not declarations.
    text = re.sub(r"#define[^\n]*", "", text)
    return set(re.findall(r"\bPOP3A_EXPORT\b[^;{]*?\b(pop3a_\w+)\s*\(", text, flags=re.S))


def report(title, names):
    if names:
        print(f"{title}:")
        for n in sorted(names):
            print(f"  {n}")


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    nm, lib, mapfile, header = sys.argv[1:]
    syms = exported(nm, lib)
    mapped = map_globals(mapfile)
    declared = header_exports(header)
    if not mapped or not declared:
        print("could not read the map or the header", file=sys.stderr)
        return 1
    bad = False
    for title, names in (
        ("exported by the library but not in the map", syms - mapped),
        ("in the map but not exported by the library", mapped - syms),
        ("declared POP3A_EXPORT in the header but not in the map", declared - mapped),
        ("in the map but not declared POP3A_EXPORT in the header", mapped - declared),
    ):
        report(title, names)
        bad = bad or bool(names)
    if bad:
        return 1
    print(f"{len(syms)} exported symbols match the map and the header")
    return 0


if __name__ == "__main__":
    sys.exit(main())
