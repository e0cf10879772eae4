#!/usr/bin/env python3
"""The documentation's C code compiles against the real header.

    check_snippets.py SRCDIR BUILDDIR CC [CC ARGS...]

1. Every ```c block of doc/guide.md, in order, as one translation unit (the
   guide's blocks build on each other; names they declare without defining
   stand for the reader's code).
2. The complete program in the EXAMPLES of doc/man/libpop3async.3 (the
   example block that has a main), alone, after undoing the roff escapes.

Both compile with -Wall -Wextra -Werror as C11. Nothing is linked or run: the
header is what is checked here.
"""
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROFF_ESCAPES = [("\\e", "\\"), ("\\-", "-"), ("\\(aq", "'"), ("\\(dq", '"'), ("\\&", "")]


def guide_code(path):
    blocks = re.findall(r"^```c\n(.*?)^```", path.read_text(encoding="utf-8"), flags=re.M | re.S)
    return "".join(f"/* block {i + 1} */\n{b}\n" for i, b in enumerate(blocks)), len(blocks)


def man_program(path):
    for block in re.findall(r"^\.EX\n(.*?)^\.EE", path.read_text(encoding="utf-8"),
                            flags=re.M | re.S):
        if "int main(" in block:
            for roff, c in ROFF_ESCAPES:
                block = block.replace(roff, c)
            return block
    return None


def compile_c(cc, src, build, name, code, extra):
    with tempfile.TemporaryDirectory() as tmp:
        c_file = Path(tmp) / (name + ".c")
        c_file.write_text(code, encoding="utf-8")
        cmd = cc + ["-std=c11", "-D_DEFAULT_SOURCE", "-Wall", "-Wextra", "-Werror", *extra,
                    f"-I{src}/include", f"-I{build}/include", "-c", str(c_file),
                    "-o", str(Path(tmp) / (name + ".o"))]
        run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        print(f"{name}: does not compile:\n{run.stderr}")
        return False
    return True


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    src, build, cc = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
    ok = True
    code, n = guide_code(src / "doc" / "guide.md")
    if n == 0:
        print("doc/guide.md: no ```c block found")
        ok = False
    # The guide's fragments leave parameters unused, as callbacks do.
    ok &= compile_c(cc, src, build, "guide", code,
                    ["-Wno-unused-parameter", "-Wno-unused-function"])
    program = man_program(src / "doc" / "man" / "libpop3async.3")
    if program is None:
        print("libpop3async.3: no example program with a main")
        ok = False
    else:
        ok &= compile_c(cc, src, build, "libpop3async_3_example", program, [])
    if ok:
        print(f"doc/guide.md ({n} blocks) and the libpop3async(3) program compile")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
