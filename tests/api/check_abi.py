#!/usr/bin/env python3
"""The exported ABI only grows (doc/ABI.md).

    check_abi.py NM LIBRARY.so SYMBOLS_FILE [DEBIAN_SYMBOLS]

SYMBOLS_FILE is the committed list of `name@VERSION_NODE`, one a line, of every
symbol ever released under this soname. The check fails when a listed symbol
is gone or moved to another version node (an incompatible change: bump the
soname instead), and when the library exports a symbol the list lacks (append
it, in the node of the release that adds it, so the next check holds it to it).
DEBIAN_SYMBOLS (debian/libpop3async0.symbols) must list the same names, so the
package's symbols file cannot drift from the library.
"""
import subprocess
import sys


def exported(nm, lib):
    out = subprocess.run([nm, "-D", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] != "A":  # "A": a version node itself
            syms.add(parts[2].replace("@@", "@"))
    return syms


def main():
    nm, lib, listed_path = sys.argv[1:4]
    listed = {l.strip() for l in open(listed_path) if l.strip() and not l.startswith("#")}
    have = exported(nm, lib)
    gone = sorted(listed - have)
    new = sorted(have - listed)
    for s in gone:
        print(f"removed or re-versioned (breaks the ABI): {s}")
    for s in new:
        print(f"exported but not in {listed_path}: {s} (append it)")
    bad = bool(gone or new)
    if len(sys.argv) > 4:
        deb = set()
        for line in open(sys.argv[4]):
            if line.startswith(" "):
                name = line.split()[0]
                if not name.startswith("LIBPOP3ASYNC"):  # the version node itself
                    deb.add(name)
        for s in sorted(listed - deb):
            print(f"missing from {sys.argv[4]}: {s}")
        for s in sorted(deb - listed):
            print(f"in {sys.argv[4]} but not in {listed_path}: {s}")
        bad = bad or deb != listed
    if bad:
        sys.exit(1)
    print(f"{len(have)} exported symbols, all listed; none removed")


main()
