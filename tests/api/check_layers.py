#!/usr/bin/env python3
"""Checks that lib/'s layers (doc/ARCHITECTURE.md) only look down.

    check_layers.py LIBDIR

Every source and header sits in one layer folder, lowest first: protocol,
security, engine. A file may include the headers of its own layer and of the
layers below it, never one above: the pure protocol code stays free of OpenSSL
policy and libevent, and the security code of the engine. Public headers
(pop3async/...) and system headers are not lib/'s and are not checked.
"""
import os
import re
import sys

LAYERS = ["protocol", "security", "engine"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def main():
    libdir = sys.argv[1]
    where = {}  # header name -> layer index
    files = []
    for i, layer in enumerate(LAYERS):
        folder = os.path.join(libdir, layer)
        for name in sorted(os.listdir(folder)):
            if name.endswith((".c", ".h")):
                files.append((i, os.path.join(folder, name)))
                if name.endswith(".h"):
                    where[name] = i
    errors = []
    stray = [n for n in os.listdir(libdir) if n.endswith((".c", ".h"))]
    for name in sorted(stray):
        errors.append("lib/%s is in no layer folder (%s)" % (name, ", ".join(LAYERS)))
    for i, path in files:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        for inc in INCLUDE.findall(text):
            if inc.startswith("pop3async/"):
                continue
            if inc not in where:
                errors.append("%s includes %s, which is in no layer" % (path, inc))
            elif where[inc] > i:
                errors.append("%s (%s) includes %s from the %s layer above it"
                              % (path, LAYERS[i], inc, LAYERS[where[inc]]))
    for e in errors:
        print(e)
    if errors:
        return 1
    print("%d files in %d layers, every include looks down" % (len(files), len(LAYERS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
