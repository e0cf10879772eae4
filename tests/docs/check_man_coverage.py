#!/usr/bin/env python3
"""Every exported name has a man page: its own (doc/man/NAME.3) or a line in
doc/man/links pointing to the group page whose NAME section lists it. And no
page or link names a function the library does not export.

    check_man_coverage.py MAPFILE MANDIR
"""
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "api"))
from check_exports import map_globals  # noqa: E402  (one reader of the map)


def name_section(page):
    """The names before \\- in a page's NAME section."""
    text = page.read_text(encoding="utf-8")
    m = re.search(r"^\.SH NAME\n(.*?)\\-", text, flags=re.M | re.S)
    if not m:
        return None
    return {n.strip().replace("\\_", "_") for n in m.group(1).split(",") if n.strip()}


def read_links(path):
    links = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if len(words) == 2 and not words[0].startswith("#"):
            links[words[0]] = words[1]
    return links


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    exported = map_globals(sys.argv[1])
    mandir = Path(sys.argv[2])
    links = read_links(mandir / "links")
    pages = {p.stem: p for p in mandir.glob("*.3")}
    problems = []
    for name in sorted(exported):
        if name in pages:
            continue
        if name not in links:
            problems.append(f"{name}: no page and no line in doc/man/links")
            continue
        page = pages.get(links[name])
        if page is None:
            problems.append(f"{name}: links to {links[name]}.3, which does not exist")
        elif name not in (name_section(page) or set()):
            problems.append(f"{name}: not in the NAME section of {page.name}")
    for stem, page in sorted(pages.items()):
        names = name_section(page)
        if names is None:
            problems.append(f"{page.name}: no NAME section")
            continue
        for n in sorted(names):
            if n.startswith("pop3a_") and n not in exported:
                problems.append(f"{page.name}: documents {n}, which is not exported")
    for name in sorted(links):
        if name not in exported:
            problems.append(f"links: {name} is not exported")
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"{len(exported)} exported names, each with a man page")
    return 0


if __name__ == "__main__":
    sys.exit(main())
