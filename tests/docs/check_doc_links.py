#!/usr/bin/env python3
"""Every relative link in README.md and doc/*.md points to a file that exists,
and every #anchor to a heading of that file (GitHub's heading slugs).

    check_doc_links.py SRCDIR
"""
import re
import sys
from pathlib import Path

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading):
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path):
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.M | re.S)
    return {slug(h) for h in re.findall(r"^#+\s+(.*)$", text, flags=re.M)}


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    src = Path(sys.argv[1])
    bad = []
    for doc in [src / "README.md", *sorted((src / "doc").glob("*.md"))]:
        text = re.sub(r"^```.*?^```", "", doc.read_text(encoding="utf-8"), flags=re.M | re.S)
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):
                continue  # http:, https:, mailto:
            path, _, anchor = target.partition("#")
            dest = (doc.parent / path) if path else doc
            if not dest.exists():
                bad.append(f"{doc.relative_to(src)}: {target}: no such file")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                bad.append(f"{doc.relative_to(src)}: {target}: no such heading")
    for b in bad:
        print(b)
    if bad:
        return 1
    print("every relative link in README.md and doc/*.md resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main())
