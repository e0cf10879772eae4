#!/usr/bin/env python3
"""The python3 poplib comparison: what a script writer would do (issue 5).

    poplib_fetch.py HOST PORT USER PASSWORD-ENV   prints "messages N bytes B"

USER/PASS, STAT, then RETR each message in turn (poplib never pipelines) and
QUIT. Bodies are kept in memory one at a time and dropped.
"""
import os
import poplib
import sys


def main(argv):
    host, port, user, pw_env = argv[1:5]
    pop = poplib.POP3(host, int(port), timeout=120)
    pop.user(user)
    pop.pass_(os.environ[pw_env])
    count, _ = pop.stat()
    total = 0
    for i in range(1, count + 1):
        _, _, octets = pop.retr(i)
        total += octets
    pop.quit()
    print("messages %d bytes %d" % (count, total))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
