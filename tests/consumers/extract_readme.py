#!/usr/bin/env python3
"""Writes the C program of README.md's "## Usage" section (its first ```c block)
to OUT, unchanged, so the test builds and runs exactly what the README shows.

Usage: extract_readme.py README.md OUT
"""
import sys


def main():
    readme, out = sys.argv[1], sys.argv[2]
    text = open(readme, encoding="utf-8").read()
    try:
        section = text.index("\n## Usage")
        start = text.index("```c\n", section) + len("```c\n")
        end = text.index("```", start)
    except ValueError:
        sys.exit(f"{readme}: no ```c block under '## Usage'")
    with open(out, "w", encoding="utf-8") as f:
        f.write(f"/* Extracted from {readme} by {sys.argv[0]}: edit the README, not this. */\n")
        f.write(text[start:end])


main()
