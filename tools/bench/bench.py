#!/usr/bin/env python3
"""Benchmark driver for issue 5; `tools/bench/run` calls it (see doc/PERFORMANCE.md).

    bench.py --build DIR --host H --port P [--tls-port P --ca FILE] [--certs DIR]
             [--base BASE] [--runs N] [CASE...]

CASEs: bulk small latency parser memory delayedack tlsbulk tlsown sessions
fetchmany fetchmanyrtt fetchmaildir (default: all). The fetch cases (pop3fetch against mpop,
issue 12) live in fetchbench.py and need the harness's Dovecot (--base,
--tls-port, --ca). tlsbulk needs the server's POP3S port and its CA (--tls-port,
--ca); tlsown and sessions need the test certificates of
tests/support/make-test-certs (--certs). The server's mailboxes
must already be filled as `run` fills them. BASE (the dovecot-env directory)
lets the driver sum Dovecot's CPU time; without it that column says n/a.

Every client runs under tools/bench/runmeasure, which takes the wall time
around fork..wait4 and the child's rusage: client CPU is user + system, peak
RSS is ru_maxrss. Dovecot's CPU is utime+stime+cutime+cstime summed over the server's
process tree from /proc, before the client starts and after the session's pop3
process is gone (so the master has reaped it into its cutime/cstime). Each
client gets one untimed warm-up run per case, then N timed runs interleaved
with the other clients; the table shows medians. Under each bulk table an
informational "bound:" line adds the floor's CPU to the minimal file store's
(no verdict). The markdown tables go to stdout, progress to stderr.
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import fetchbench

HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")
RUN_TIMEOUT = 300  # seconds; one client run never takes longer than this
PW_ENV = "POP3A_BENCH_PASSWORD"

# Mailboxes, as `run` fills them (user, password, messages, octets each).
MAILBOXES = {
    "bulk-20k": ("alice", "alicepw", 2000, 20 * 1024),
    "bulk-2m": ("bob", "bobpw", 20, 2 << 20),
    "small": ("carol", "carolpw", 2000, 200),
    "latency": ("load001", "pw001", 200, 1600),
    "huge": ("load002", "pw002", 1, 200 << 20),
    "one": ("load003", "pw003", 1, 20 * 1024),
}
CONCURRENT_USERS = (4, 500)  # load004..load500: 10 x 20 KiB each
DELAYED_ACK = (200, 10240)  # tinypop split: 200 x 10 KiB (2 MB), issue 14 s3
SESSIONS = 1000
MANY_SESSIONS = 10000  # issue 14 s5: concurrent sessions on one event_base
MANY_FILL = (2, 20480)  # tinypop: 2 x 20 KiB per session

# Row names the tables look up.
MPOP = "mpop, pipelining on"
MPOP_NOPIPE = "mpop, pipelining off"
MPOP_TLS = "mpop, pipelining on, POP3S"
MPOP_STLS = "mpop, pipelining on, STLS"
FLOOR = "floor (raw C reader)"
FLOOR_TLS = "floor (raw C reader), POP3S"
STORE_AS_FETCH_ALL = "file store as fetch-all does it, no network"
STORE_MINIMUM = "file store minimum (create, write, close), no network"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ------------------------------------------------------------ processes ---

class Result:
    def __init__(self, wall, cpu, maxrss_kib, server_cpu, out):
        self.wall, self.cpu, self.maxrss_kib = wall, cpu, maxrss_kib
        self.server_cpu, self.out = server_cpu, out


class Usage:
    """What runmeasure reports about one child."""

    def __init__(self, text):
        kv = dict(zip(*[iter(text.split())] * 2))
        self.exit = int(kv["exit"])
        self.wall = float(kv["wall"])
        self.cpu = float(kv["utime"]) + float(kv["stime"])
        self.maxrss_kib = int(kv["maxrss_kib"])


RUNMEASURE = None  # set by main(): BUILD/tools/bench/runmeasure


def spawn_and_wait(argv, env, timeout=RUN_TIMEOUT):
    """Runs argv under runmeasure; returns (Usage, stdout, stderr)."""
    out = tempfile.TemporaryFile()
    err = tempfile.TemporaryFile()
    fd, result = tempfile.mkstemp(prefix="usage.", dir="/dev/shm")
    os.close(fd)
    try:
        pid = os.posix_spawn(RUNMEASURE, [RUNMEASURE, result] + argv, env, file_actions=[
            (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
            (os.POSIX_SPAWN_DUP2, err.fileno(), 2)])
        # The client, not runmeasure, gets the kill: runmeasure still reports.
        timer = threading.Timer(timeout, kill_children_of, (pid,))
        timer.start()
        _, status = os.waitpid(pid, 0)
        timer.cancel()
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
        with open(result) as f:
            text = f.read()
        if os.waitstatus_to_exitcode(status) != 0 or not text:
            raise RuntimeError("cannot run %s: %s" % (argv[0], stderr[-500:]))
        return Usage(text), stdout, stderr
    finally:
        os.unlink(result)


def kill_children_of(ppid):
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st and st[1] == ppid:
                os.kill(int(d), signal.SIGKILL)


class Daemon:
    """A helper server of ours (latproxy, tinypop) that prints 'port N'."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "port":
            self.stop()
            raise RuntimeError("%s did not start" % argv[0])
        self.port = int(line[1])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cpu(self):
        """Its CPU seconds so far (user + system)."""
        return proc_stat(self.proc.pid)[2] / CLK_TCK

    def lateness(self):
        """latproxy only: (chunks, max ms, mean ms) by which it handed chunks over
        after their due time since the last call (its SIGUSR1 report)."""
        self.proc.send_signal(signal.SIGUSR1)
        w = self.proc.stdout.readline().split()
        return int(w[1]), float(w[3]), float(w[5])


# --------------------------------------------------- Dovecot's CPU time ---

def proc_stat(pid):
    """(comm, ppid, utime+stime, cutime+cstime) in ticks, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    comm = data[data.index("(") + 1:data.rindex(")")]
    rest = data[data.rindex(")") + 2:].split()
    # proc(5): field 4 ppid, 14 utime, 15 stime, 16 cutime, 17 cstime; rest[0] is field 3
    return comm, int(rest[1]), int(rest[11]) + int(rest[12]), int(rest[13]) + int(rest[14])


class ProcessCPU:
    """CPU seconds of server processes of ours (tinypop), for measure()."""

    def __init__(self, pids):
        self.pids = pids

    def sample(self):
        st = [proc_stat(p) for p in self.pids]
        return None if None in st else sum(x[2] for x in st) / CLK_TCK


class DovecotCPU:
    """CPU seconds of the server's process tree (the pids dovecot-env recorded
    and all their descendants)."""

    def __init__(self, base):
        self.roots = []
        if base:
            with open(os.path.join(base, "runner.state")) as f:
                self.roots = [int(w[1]) for w in (l.split() for l in f)
                              if len(w) == 3 and w[0] == "pid"]

    def _tree(self):
        stats = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                st = proc_stat(int(d))
                if st:
                    stats[int(d)] = st
        children = {}
        for pid, st in stats.items():
            children.setdefault(st[1], []).append(pid)
        seen, todo = set(), [p for p in self.roots if p in stats]
        while todo:
            p = todo.pop()
            if p not in seen:
                seen.add(p)
                todo += children.get(p, [])
        return {p: stats[p] for p in seen}

    def by_process(self):
        """{process name: CPU seconds} over the tree; reaped children (the
        per-session pop3 processes) under "(exited children)"."""
        out = {}
        for comm, _, own, reaped in self._tree().values():
            out[comm] = out.get(comm, 0) + own / CLK_TCK
            out["(exited children)"] = out.get("(exited children)", 0) + reaped / CLK_TCK
        return out

    def sample(self, patience=5):
        """Seconds, after waiting (up to `patience` s) until no pop3 session process
        is left."""
        if not self.roots:
            return None
        deadline = time.monotonic() + patience
        while True:
            tree = self._tree()
            busy = any(st[0] == "pop3" for st in tree.values())
            if not busy or time.monotonic() > deadline:
                return sum(st[2] + st[3] for st in tree.values()) / CLK_TCK
            time.sleep(0.01)


# --------------------------------------------------------------- clients ---

class Client:
    """One way of fetching a mailbox: argv builder and output check."""

    def __init__(self, name, argv, check, outdir=None, local=False, maildir=False):
        self.name, self.argv, self.check, self.outdir = name, argv, check, outdir
        self.local = local  # talks to no server: no server CPU to sample
        self.maildir = maildir  # outdir is a Maildir: made afresh with tmp/ new/ cur/

    def prepare(self):
        """Empties the output directory (untimed, before each run)."""
        if not self.outdir:
            return
        if self.maildir:
            shutil.rmtree(self.outdir, ignore_errors=True)
            for sub in ("", "tmp", "new", "cur"):
                os.mkdir(os.path.join(self.outdir, sub))
            return
        for name in os.listdir(self.outdir):
            os.unlink(os.path.join(self.outdir, name))


def expect_messages(count):
    def check(status, out):
        words = out.split()
        return status == 0 and len(words) >= 2 and words[0] == "messages" \
            and int(words[1]) == count
    return check


def expect_lines(count):
    def check(status, out):
        return status == 0 and len(out.splitlines()) == count
    return check


def expect_status0(status, out):
    return status == 0


def expect_files(directory, count):
    def check(status, out):
        return status == 0 and len(os.listdir(directory)) == count
    return check


class Bench:
    def __init__(self, args):
        self.args = args
        self.build = args.build
        self.host, self.port = args.host, args.port
        self.dovecot = DovecotCPU(args.base)
        self.tmp = tempfile.mkdtemp(prefix="pop3a-bench.", dir="/dev/shm")
        self.outdir = os.path.join(self.tmp, "out")
        os.mkdir(self.outdir)
        self.maildir = os.path.join(self.tmp, "maildir")  # mpop's, same tmpfs as outdir
        self.mpoprc = os.path.join(self.tmp, "mpoprc")
        self.mpop_accounts = []
        self.python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") \
            else sys.executable
        self.mpop = shutil.which("mpop")
        self.md = []  # markdown lines
        self.verdicts = []  # (target, measured, met)
        self.fetch = None  # fetchbench.FetchBench, made by the first fetch case

    def close(self):
        if self.fetch:
            self.fetch.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def exe(self, rel):
        return os.path.join(self.build, rel)

    # ------------------------------------------------------------ mpop ---
    def mpop_account(self, user, password, port, pipelining, maildir=None, auth="on",
                     ca=None, starttls=False):
        """An account in the rc file; mail goes to /dev/null, or into `maildir`. auth
        "user" for a server without a challenge-response method (tinypop). ca: implicit
        TLS (POP3S) verified against that CA file, or STLS with `starttls`."""
        name = "%s_%d_%s%s%s%s" % (user, port, "pipe" if pipelining else "nopipe",
                                   "_maildir" if maildir else "", "_tls" if ca else "",
                                   "_stls" if starttls else "")
        tls = ("tls on\ntls_starttls %s\ntls_trust_file %s" % ("on" if starttls else "off", ca)
               if ca else "tls off")
        delivery = "maildir " + maildir if maildir else "mbox /dev/null"
        if name not in self.mpop_accounts:
            self.mpop_accounts.append(name)
            with open(self.mpoprc, "a") as f:
                os.fchmod(f.fileno(), 0o600)  # mpop refuses a readable rc with a password
                f.write("account %s\nhost %s\nport %d\nuser %s\npassword %s\n"
                        "%s\nauth %s\nonly_new off\nkeep on\nreceived_header off\n"
                        "pipelining %s\ndelivery %s\nuidls_file %s/uidls_%s\n"
                        "timeout 120\n\n"
                        % (name, self.host, port, user, password, tls, auth,
                           "on" if pipelining else "off", delivery, self.tmp, name))
        return name

    def clients(self, user, password, count, port, which, size=0, mpop_auth="on", ca=None,
                stls_port=None):
        """The clients of a case, in table order. ca: the CA of the server's POP3S
        certificate (default --ca), for the POP3S clients on `port` and the STLS
        ones on `stls_port`. mpop_auth "user": a server with USER/PASS only
        (tinypop), which the floor then uses too."""
        user_pass = ["--user-pass"] if mpop_auth == "user" else []
        all_ = {
            "store": Client(
                STORE_AS_FETCH_ALL, [
                    self.exe("tools/bench/storefloor"), self.outdir, str(count), str(size)],
                expect_lines(count), outdir=self.outdir, local=True),
            "store-min": Client(
                STORE_MINIMUM, [
                    self.exe("tools/bench/storefloor"), "--minimal", self.outdir, str(count),
                    str(size)],
                expect_files(self.outdir, count), outdir=self.outdir, local=True),
            "fetch-all": Client(
                "fetch-all", [self.exe("examples/fetch-all"), "--host", self.host,
                              "--port", str(port), "--user", user, "--password-env",
                              PW_ENV, "--out", self.outdir, "--tls", "none",
                              "--allow-cleartext", "--timeout", "120"],
                expect_lines(count), outdir=self.outdir),
            "lib": Client(
                "libpop3async, bodies discarded", [
                    self.exe("tools/bench/bench-client"), "--host", self.host, "--port",
                    str(port), "--user", user, "--password-env", PW_ENV],
                lambda st, out: st == 0 and " errors 0 messages %d " % count in out),
            "lib-w512": Client(
                "libpop3async, pipelining window 512", [
                    self.exe("tools/bench/bench-client"), "--host", self.host, "--port",
                    str(port), "--user", user, "--password-env", PW_ENV,
                    "--pipelining", "512"],
                lambda st, out: st == 0 and " errors 0 messages %d " % count in out),
            "lib-nopipe": Client(
                "libpop3async, pipelining off", [
                    self.exe("tools/bench/bench-client"), "--host", self.host, "--port",
                    str(port), "--user", user, "--password-env", PW_ENV,
                    "--pipelining", "1"],
                lambda st, out: st == 0 and " errors 0 messages %d " % count in out),
            "floor": Client(
                FLOOR, [self.exe("tools/bench/floor")] + user_pass +
                [self.host, str(port), user, PW_ENV],
                expect_messages(count)),
            "poplib": Client(
                "python3 poplib", [self.python, os.path.join(HERE, "poplib_fetch.py"),
                                   self.host, str(port), user, PW_ENV],
                expect_messages(count)),
        }
        ca = ca or self.args.ca
        if ca:
            all_["fetch-all-tls"] = Client(
                "fetch-all, POP3S", [self.exe("examples/fetch-all"), "--host", self.host,
                                     "--port", str(port), "--user", user, "--password-env",
                                     PW_ENV, "--out", self.outdir, "--tls", "implicit",
                                     "--ca-file", ca, "--timeout", "120"],
                expect_lines(count), outdir=self.outdir)
            all_["lib-tls"] = Client(
                "libpop3async, bodies discarded, POP3S", [
                    self.exe("tools/bench/bench-client"), "--host", self.host, "--port",
                    str(port), "--user", user, "--password-env", PW_ENV, "--tls-ca", ca],
                lambda st, out: st == 0 and " errors 0 messages %d " % count in out)
            all_["floor-tls"] = Client(
                FLOOR_TLS, [self.exe("tools/bench/floor")] + user_pass +
                ["--tls", ca, self.host, str(port), user, PW_ENV],
                expect_messages(count))
            if self.mpop:
                acct = self.mpop_account(user, password, port, True, ca=ca, auth=mpop_auth)
                all_["mpop-tls"] = Client(MPOP_TLS, [self.mpop, "-C", self.mpoprc, "-q", acct],
                                          expect_status0)
        if ca and stls_port:
            all_["fetch-all-stls"] = Client(
                "fetch-all, STLS", [self.exe("examples/fetch-all"), "--host", self.host,
                                    "--port", str(stls_port), "--user", user, "--password-env",
                                    PW_ENV, "--out", self.outdir, "--tls", "stls",
                                    "--ca-file", ca, "--timeout", "120"],
                expect_lines(count), outdir=self.outdir)
            if self.mpop:
                acct = self.mpop_account(user, password, stls_port, True, ca=ca,
                                         auth=mpop_auth, starttls=True)
                all_["mpop-stls"] = Client(MPOP_STLS,
                                           [self.mpop, "-C", self.mpoprc, "-q", acct],
                                           expect_status0)
        if self.mpop:
            for pipe in (True, False):
                acct = self.mpop_account(user, password, port, pipe, auth=mpop_auth)
                key = "mpop" if pipe else "mpop-nopipe"
                all_[key] = Client("mpop, pipelining " + ("on" if pipe else "off"),
                                   [self.mpop, "-C", self.mpoprc, "-q", acct],
                                   expect_status0)
            acct = self.mpop_account(user, password, port, True, self.maildir)
            all_["mpop-maildir"] = Client(
                "mpop, pipelining on, into a Maildir",
                [self.mpop, "-C", self.mpoprc, "-q", acct],
                expect_files(os.path.join(self.maildir, "new"), count),
                outdir=self.maildir, maildir=True)
        return [all_[k] for k in which if k in all_]

    # ------------------------------------------------------------ runs ---
    def run_once(self, client, password, server_cpu=True):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), PW_ENV: password,
               "HOME": self.tmp, "LC_ALL": "C"}
        client.prepare()
        sampler = server_cpu if hasattr(server_cpu, "sample") else self.dovecot
        server_cpu = server_cpu and not client.local
        c0 = sampler.sample() if server_cpu else None
        use, out, err = spawn_and_wait(client.argv, env)
        c1 = sampler.sample() if server_cpu else None
        if not client.check(use.exit, out):
            raise RuntimeError("%s failed (exit %d): %s%s" % (
                client.name, use.exit, out[-300:], err[-500:]))
        return Result(use.wall, use.cpu, use.maxrss_kib,
                      None if c0 is None or c1 is None else c1 - c0, out)

    def measure(self, clients, password, runs, server_cpu=True):
        """{client name: [Result]}: a warm-up each, then `runs` interleaved rounds.
        server_cpu: Dovecot's (True), none (False), or a ProcessCPU."""
        res = {c.name: [] for c in clients}
        for c in clients:
            self.run_once(c, password, server_cpu)
        for r in range(runs):
            for c in clients:
                res[c.name].append(self.run_once(c, password, server_cpu))
            log("  round %d/%d done" % (r + 1, runs))
        return res

    # ---------------------------------------------------------- output ---
    def emit(self, line=""):
        self.md.append(line)
        print(line, flush=True)

    def verdict(self, target, measured, met):
        self.verdicts.append((target, measured, met))

    # ----------------------------------------------------------- cases ---
    def case_bulk(self):
        self.emit("### 1. Bulk transfers (plain POP3 on loopback, median of %d)"
                  % self.args.runs)
        self.emit()
        for key, title in (("bulk-20k", "2000 x 20 KiB"), ("bulk-2m", "20 x 2 MiB")):
            user, pw, count, size = MAILBOXES[key]
            log("case %s (%s)" % (key, title))
            clients = self.clients(user, pw, count, self.port,
                                   ["fetch-all", "lib", "floor", "store", "store-min", "mpop",
                                    "mpop-maildir", "mpop-nopipe", "poplib"], size)
            res = self.measure(clients, pw, self.args.runs)
            self.bulk_table(title, clients, res, count * size)

    def bulk_table(self, title, clients, res, octets):
        med = {n: (statistics.median(x.wall for x in rs), statistics.median(x.cpu for x in rs),
                   median_or_none([x.server_cpu for x in rs])) for n, rs in res.items()}
        mpop = med.get(MPOP)
        floor = med.get(FLOOR)
        self.emit("**%s** (%.1f MB)" % (title, octets / 1e6))
        self.emit()
        self.emit("| client | wall s | client CPU s | MB/s | Dovecot CPU s | wall / mpop "
                  "pipelined | CPU / mpop pipelined | wall / floor |")
        self.emit("|---|---:|---:|---:|---:|---:|---:|---:|")
        for c in clients:
            w, cpu, dc = med[c.name]
            self.emit("| %s | %.3f | %.3f | %.0f | %s | %s | %s | %s |" % (
                c.name, w, cpu, octets / w / 1e6, fmt(dc, "%.3f"),
                ratio(w, mpop and mpop[0]), ratio(cpu, mpop and mpop[1]),
                ratio(w, floor and floor[0])))
        self.emit()
        self.bound_line(med)
        fa = med["fetch-all"]
        if mpop:
            self.verdict("%s: fetch-all wall <= 0.9 x mpop pipelined" % title,
                         "%.2f x" % (fa[0] / mpop[0]), fa[0] <= 0.9 * mpop[0])
            self.verdict("%s: fetch-all client CPU <= 0.3 x mpop's" % title,
                         "%.2f x" % (fa[1] / mpop[1]) if mpop[1] else "n/a",
                         fa[1] <= 0.3 * mpop[1])
        self.verdict("%s: fetch-all wall <= 1.25 x floor" % title,
                     "%.2f x" % (fa[0] / floor[0]), fa[0] <= 1.25 * floor[0])

    def bound_line(self, med):
        """What a client that reads like the floor and stores like the minimal file
        store would cost in CPU: information next to the CPU target, not a verdict."""
        floor, store, mpop = med.get(FLOOR), med.get(STORE_MINIMUM), med.get(MPOP)
        if not floor or not store:
            return
        bound = floor[1] + store[1]
        self.emit("bound: floor CPU + file store minimum CPU = %.3f s = %s x mpop "
                  "pipelined's CPU" % (bound, ratio(bound, mpop and mpop[1])))
        self.emit()

    def case_small(self):
        user, pw, count, size = MAILBOXES["small"]
        log("case small")
        clients = self.clients(user, pw, count, self.port,
                               ["fetch-all", "lib", "floor", "store", "mpop", "mpop-nopipe",
                                "poplib"], size)
        res = self.measure(clients, pw, self.args.runs)
        self.emit("### 2. Small messages: 2000 x 200 B (median of %d)" % self.args.runs)
        self.emit()
        self.simple_table(clients, res, "fetch-all", "small: fetch-all wall <= 0.8 x mpop "
                          "pipelined", 0.8)

    def simple_table(self, clients, res, ours, target, limit, ref=MPOP, ref_label="mpop pipelined"):
        med = {n: (statistics.median(x.wall for x in rs), statistics.median(x.cpu for x in rs))
               for n, rs in res.items()}
        mpop = med.get(ref)
        self.emit("| client | wall s | client CPU s | wall / %s |" % ref_label)
        self.emit("|---|---:|---:|---:|")
        for c in clients:
            w, cpu = med[c.name]
            self.emit("| %s | %.3f | %.3f | %s |" % (c.name, w, cpu,
                                                    ratio(w, mpop and mpop[0])))
        self.emit()
        if mpop:
            self.verdict(target, "%.2f x" % (med[ours][0] / mpop[0]),
                         med[ours][0] <= limit * mpop[0])

    def latproxy(self, port, delay_ms):
        """tools/bench/latproxy in front of host:port, delaying each direction."""
        return Daemon([self.exe("tools/bench/latproxy"), self.host, str(port), str(delay_ms)])

    def case_latency(self):
        user, pw, count, size = MAILBOXES["latency"]
        log("case latency (25 ms each way)")
        proxy = self.latproxy(self.port, 25)
        try:
            clients = self.clients(user, pw, count, proxy.port,
                                   ["fetch-all", "lib", "lib-w512", "lib-nopipe", "mpop",
                                    "mpop-nopipe", "poplib"])
            res = self.measure(clients, pw, self.args.runs, server_cpu=False)
        finally:
            proxy.stop()
        self.emit("### 3. 200 x 1.6 KB through a proxy adding 25 ms each way "
                  "(50 ms round trip, median of %d)" % self.args.runs)
        self.emit()
        self.simple_table(clients, res, "fetch-all", "50 ms round trip: fetch-all wall <= "
                          "0.8 x mpop pipelined", 0.8)

    def case_delayedack(self):
        count, size = DELAYED_ACK
        log("case delayedack (tinypop split: no PIPELINING, status and body in two writes)")
        server = Daemon([self.exe("tools/bench/tinypop"), str(count), str(size), "split"])
        try:
            clients = self.clients("ack", "ackpw", count, server.port,
                                   ["fetch-all", "lib-nopipe", "mpop-nopipe", "poplib"],
                                   mpop_auth="user")
            res = self.measure(clients, "ackpw", self.args.runs, server_cpu=False)
        finally:
            server.stop()
        self.emit("### 6. Delayed ACKs: %d x %d KiB from a server that writes status line "
                  "and body separately, Nagle on, no PIPELINING (tools/bench/tinypop split, "
                  "median of %d)" % (count, size // 1024, self.args.runs))
        self.emit()
        self.simple_table(clients, res, "fetch-all", "delayed ACKs: fetch-all wall <= 0.05 x "
                          "mpop", 0.05, MPOP_NOPIPE, "mpop (pipelining off)")

    def case_parser(self):
        log("case parser")
        self.emit("### 4. Parser alone, 256 MiB in memory (median of %d)" % self.args.runs)
        self.emit()
        self.emit("| stream | parser GB/s | memcpy GB/s | parser / memcpy |")
        self.emit("|---|---:|---:|---:|")
        for size, title in ((20480, "20 KiB messages"), (2 << 20, "2 MiB messages")):
            use, out, err = spawn_and_wait(
                [self.exe("tools/bench/parsebench"), str(size), "256", str(self.args.runs)],
                {})
            if use.exit != 0:
                raise RuntimeError("parsebench failed: " + err)
            kv = dict(zip(*[iter(out.split())] * 2))
            gp, gm = float(kv["parser_gbps"]), float(kv["memcpy_gbps"])
            self.emit("| %s, 1 line in 8 dot-stuffed | %.2f | %.2f | %.2f |"
                      % (title, gp, gm, gp / gm))
            self.verdict("parser (%s) >= 2 GB/s and >= 0.3 x memcpy" % title,
                         "%.2f GB/s, %.2f x" % (gp, gp / gm), gp >= 2 and gp / gm >= 0.3)
        self.emit()

    def case_memory(self):
        self.emit("### 5. Memory")
        self.emit()
        self.memory_huge()
        self.memory_idle()
        self.memory_concurrent()

    def memory_huge(self):
        log("case memory: one 200 MiB message")
        runs = self.args.runs
        rows = []
        for key in ("one", "huge"):
            user, pw, count, size = MAILBOXES[key]
            clients = self.clients(user, pw, count, self.port, ["fetch-all", "lib"])
            rows.append(self.measure(clients, pw, runs, server_cpu=False))
        self.emit("**Peak RSS streaming one 200 MiB message** (ru_maxrss, median of %d; "
                  "growth = 200 MiB run minus a 1 x 20 KiB run)" % runs)
        self.emit()
        self.emit("| client | peak RSS, 1 x 20 KiB | peak RSS, 1 x 200 MiB | growth | "
                  "wall s (200 MiB) | MB/s |")
        self.emit("|---|---:|---:|---:|---:|---:|")
        for name in rows[0]:
            small = statistics.median(r.maxrss_kib for r in rows[0][name])
            big = statistics.median(r.maxrss_kib for r in rows[1][name])
            wall = statistics.median(r.wall for r in rows[1][name])
            self.emit("| %s | %d KiB | %d KiB | %+d KiB | %.3f | %.0f |" % (
                name, small, big, big - small, wall, (200 << 20) / wall / 1e6))
            if name == "fetch-all":
                self.verdict("200 MiB message: fetch-all peak RSS growth < 1 MiB",
                             "%+d KiB" % (big - small), big - small < 1024)
        self.emit()

    def memory_idle(self):
        log("case memory: %d idle sessions" % SESSIONS)
        server = Daemon([self.exe("tools/bench/tinypop"), "10", "1024"])
        rows = []
        try:
            for shared in (False, True):
                argv = [self.exe("tools/bench/bench-client"), "--host", self.host, "--port",
                        str(server.port), "--user", "idle", "--password-env", PW_ENV,
                        "--mode", "idle", "--sessions", str(SESSIONS)]
                if shared:
                    argv.append("--shared-dns")
                per = []
                for _ in range(max(1, min(self.args.runs, 3))):
                    use, out, err = spawn_and_wait(argv, {PW_ENV: "x"})
                    kv = dict(zip(*[iter(out.split())] * 2))
                    if use.exit != 0 or kv.get("errors") != "0":
                        raise RuntimeError("idle sessions failed: " + out + err)
                    per.append(float(kv["per_session_bytes"]))
                rows.append((shared, statistics.median(per), len(per)))
        finally:
            server.stop()
        self.emit("**RSS per idle plain session**: %d sessions logged in (USER/PASS) on one "
                  "event_base against tools/bench/tinypop; (RSS after all - RSS after the "
                  "first) / %d" % (SESSIONS, SESSIONS))
        self.emit()
        self.emit("| set-up | bytes per session (median of %d) |" % rows[0][2])
        self.emit("|---|---:|")
        for shared, per, _ in rows:
            self.emit("| %s | %.0f (%.1f KiB) |" % (
                "one evdns_base shared by all clients" if shared
                else "dns = NULL (library default: one evdns_base per client)",
                per, per / 1024))
            self.verdict("idle plain session < 16 KiB (%s)" % (
                "shared evdns_base" if shared else "default dns"),
                "%.1f KiB" % (per / 1024), per < 16 * 1024)
        self.emit()

    def memory_concurrent(self):
        log("case memory: %d concurrent fetching sessions" % SESSIONS)
        first, last = CONCURRENT_USERS
        argv = [self.exe("tools/bench/bench-client"), "--host", self.host, "--port",
                str(self.port), "--load", str(first), str(last), "--sessions", str(SESSIONS),
                "--timeout", "120"]
        c0 = self.dovecot.sample(60)
        use, out, err = spawn_and_wait(argv, {})
        c1 = self.dovecot.sample(60)
        kv = dict(zip(*[iter(out.split())] * 2))
        self.emit("**%d sessions fetching concurrently** on one event_base (users load%03d.."
                  "load%03d, 10 x 20 KiB each, round-robin)" % (SESSIONS, first, last))
        self.emit()
        self.emit("| server | errors | messages | MB | wall s | client CPU s | peak RSS | "
                  "server CPU s |")
        self.emit("|---|---:|---:|---:|---:|---:|---:|---:|")
        errors = int(kv.get("errors", SESSIONS))
        self.emit("| Dovecot | %s | %s | %.1f | %.2f | %.2f | %d KiB | %s |" % (
            kv.get("errors", "?"), kv.get("messages", "?"), int(kv.get("bytes", 0)) / 1e6,
            use.wall, use.cpu, use.maxrss_kib,
            fmt(None if c0 is None or c1 is None else c1 - c0, "%.2f")))
        if errors:
            log("Dovecot run had errors:\n" + err[-2000:])
            server = Daemon([self.exe("tools/bench/tinypop"), "10", "20480"])
            try:
                argv[argv.index("--port") + 1] = str(server.port)
                use, out, err = spawn_and_wait(argv, {})
            finally:
                server.stop()
            kv = dict(zip(*[iter(out.split())] * 2))
            errors = int(kv.get("errors", SESSIONS))
            self.emit("| tools/bench/tinypop | %s | %s | %.1f | %.2f | %.2f | %d KiB | n/a |" % (
                kv.get("errors", "?"), kv.get("messages", "?"),
                int(kv.get("bytes", 0)) / 1e6, use.wall, use.cpu, use.maxrss_kib))
        self.emit()
        self.verdict("%d concurrent sessions complete with no error" % SESSIONS,
                     "%d errors" % errors, errors == 0)

    def tls_table(self, rows, res, octets, server):
        """The POP3S table: rows are (client, its plain-text twin or None, the floor
        of its transport); medians by client name are returned."""
        med = {n: (statistics.median(x.wall for x in rs), statistics.median(x.cpu for x in rs),
                   median_or_none([x.server_cpu for x in rs])) for n, rs in res.items()}
        self.emit("| client | wall s | client CPU s | MB/s | %s CPU s | wall / mpop POP3S | "
                  "wall / floor (POP3S floor for STLS) | wall / same client in plain text |"
                  % server)
        self.emit("|---|---:|---:|---:|---:|---:|---:|---:|")
        mpop_tls = med.get(MPOP_TLS)
        for c, twin, floor in rows:
            w, cpu, sc = med[c.name]
            self.emit("| %s | %.3f | %.3f | %.0f | %s | %s | %s | %s |" % (
                c.name, w, cpu, octets / w / 1e6, fmt(sc, "%.3f"),
                ratio(w, mpop_tls and mpop_tls[0]), ratio(w, med[floor][0]),
                ratio(w, med[twin.name][0]) if twin else ""))
        self.emit()
        return med

    def tls_rows(self, user, pw, count, size, tls_port, plain_port, ca=None, auth="on"):
        """POP3S, STLS and plain clients for tls_table, and all of them to measure."""
        tls = self.clients(user, pw, count, tls_port,
                           ["fetch-all-tls", "lib-tls", "floor-tls", "mpop-tls"], size,
                           mpop_auth=auth, ca=ca)
        stls = self.clients(user, pw, count, plain_port, ["fetch-all-stls", "mpop-stls"], size,
                            mpop_auth=auth, ca=ca, stls_port=plain_port)
        plain = self.clients(user, pw, count, plain_port, ["fetch-all", "lib", "floor", "mpop"],
                             size, mpop_auth=auth)
        twin = {c.name: c for c in plain}
        plain_of = lambda c: twin.get(c.name.replace(", POP3S", "").replace(", STLS", ""))
        rows = ([(c, plain_of(c), FLOOR_TLS) for c in tls + stls] +
                [(c, None, FLOOR) for c in plain])
        return rows, tls + stls + plain

    def case_tlsbulk(self):
        """Issue 14 s6: 2000 x 20 KiB over implicit TLS and STLS, next to the same
        clients in plain text in the same rounds."""
        if not self.args.tls_port or not self.args.ca:
            log("case tlsbulk skipped: no POP3S port and CA (--tls-port, --ca)")
            return
        user, pw, count, size = MAILBOXES["bulk-20k"]
        log("case tlsbulk (2000 x 20 KiB, POP3S, STLS and plain)")
        rows, clients = self.tls_rows(user, pw, count, size, self.args.tls_port, self.port)
        res = self.measure(clients, pw, self.args.runs)
        self.emit("### 7. Bulk over TLS (POP3S and STLS): 2000 x 20 KiB (%.1f MB), next to "
                  "plain POP3 in the same rounds (median of %d)" % (count * size / 1e6,
                                                                    self.args.runs))
        self.emit()
        med = self.tls_table(rows, res, count * size, "Dovecot")
        fa, fa_plain, mpop_tls = med["fetch-all, POP3S"], med["fetch-all"], med.get(MPOP_TLS)
        if mpop_tls:
            self.verdict("POP3S 2000 x 20 KiB: fetch-all wall <= 0.8 x mpop's (POP3S)",
                         "%.2f x" % (fa[0] / mpop_tls[0]), fa[0] <= 0.8 * mpop_tls[0])
        self.verdict("POP3S 2000 x 20 KiB: fetch-all wall <= 1.2 x its own plain-text wall",
                     "%.2f x" % (fa[0] / fa_plain[0]), fa[0] <= 1.2 * fa_plain[0])
        stls = med["fetch-all, STLS"]
        self.verdict("STLS 2000 x 20 KiB: fetch-all wall <= 1.1 x its POP3S wall",
                     "%.2f x" % (stls[0] / fa[0]), stls[0] <= 1.1 * fa[0])

    def case_tlsown(self):
        """Issue 14 s6: the same 2000 x 20 KiB from the bench's own TLS server
        (tinypop, a libevent + OpenSSL process of its own), which spends less on TLS
        than Dovecot's login proxy: where the clients, not the server, set the pace."""
        if not self.args.certs:
            log("case tlsown skipped: no test certificates (--certs)")
            return
        count, size = MAILBOXES["bulk-20k"][2:]
        certs = self.args.certs
        log("case tlsown (tinypop: 2000 x 20 KiB, POP3S, STLS and plain)")
        keys = [os.path.join(certs, "leaf.pem"), os.path.join(certs, "leaf.key")]
        # POP3S on one, plain and STLS on the other; both idle while the other serves.
        servers = [Daemon([self.exe("tools/bench/tinypop"), str(count), str(size), mode] + keys)
                   for mode in ("tls", "stls")]
        try:
            rows, clients = self.tls_rows("own", "ownpw", count, size, servers[0].port,
                                          servers[1].port, ca=os.path.join(certs, "ca.pem"),
                                          auth="user")
            res = self.measure(clients, "ownpw", self.args.runs,
                               server_cpu=ProcessCPU([srv.proc.pid for srv in servers]))
        finally:
            for srv in servers:
                srv.stop()
        self.emit("### 7b. The same from the bench's own TLS server (tools/bench/tinypop, "
                  "2000 x 20 KiB, median of %d)" % self.args.runs)
        self.emit()
        self.tls_table(rows, res, count * size, "tinypop")

    def case_sessions(self):
        """Issue 14 s5: 10,000 concurrent sessions on one event_base against tinypop,
        plain and implicit TLS, each connect (+ handshake) + USER/PASS + STAT + 2 RETR +
        QUIT. Client and server are two processes (each has its own fd limit)."""
        if not self.args.certs:
            log("case sessions skipped: no test certificates (--certs)")
            return
        n, (msgs, size) = MANY_SESSIONS, MANY_FILL
        certs = self.args.certs
        kinds = (("plain", [], []),
                 ("POP3S, one SSL_CTX shared by all clients", ["tls"],
                  ["--tls-ca", os.path.join(certs, "ca.pem"), "--shared-tls-ctx"]),
                 ("POP3S, library default context (one per options object)", ["tls"],
                  ["--tls-ca", os.path.join(certs, "ca.pem")]))
        rows = []
        for name, srv_args, cli_args in kinds:
            log("case sessions: %d x %s" % (n, name))
            if srv_args:
                srv_args = srv_args + [os.path.join(certs, "leaf.pem"),
                                       os.path.join(certs, "leaf.key")]
            runs = []
            for _ in range(self.args.runs):
                server = Daemon([self.exe("tools/bench/tinypop"), str(msgs), str(size)] +
                                srv_args)
                try:
                    argv = [self.exe("tools/bench/bench-client"), "--host", self.host,
                            "--port", str(server.port), "--user", "many", "--password-env",
                            PW_ENV, "--sessions", str(n), "--shared-dns",
                            "--timeout", "120"] + cli_args
                    s0 = proc_stat(server.proc.pid)
                    use, out, err = spawn_and_wait(argv, {PW_ENV: "x"})
                    s1 = proc_stat(server.proc.pid)
                finally:
                    server.stop()
                kv = dict(zip(*[iter(out.split())] * 2))
                if kv.get("errors") is None:
                    raise RuntimeError("bench-client failed: " + out + err[-2000:])
                runs.append((use, kv, (s1[2] - s0[2]) / CLK_TCK))
            rows.append((name, runs))
        self.emit("### 8. %d concurrent sessions on one event_base (tools/bench/tinypop, "
                  "%d x %d KiB each; connect, USER/PASS, STAT, %d RETR, QUIT; median of %d)"
                  % (n, msgs, size // 1024, msgs, self.args.runs))
        self.emit()
        self.emit("| transport | errors | fds leaked | wall s | client CPU s | client CPU "
                  "per session | peak RSS | peak RSS per session | server CPU s |")
        self.emit("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        cpu_of = {}
        for name, runs in rows:
            errors = max(int(kv["errors"]) for _, kv, _ in runs)
            leaked = max(int(kv["fds_leaked"]) for _, kv, _ in runs)
            wall = statistics.median(u.wall for u, _, _ in runs)
            cpu = statistics.median(u.cpu for u, _, _ in runs)
            rss = statistics.median(u.maxrss_kib for u, _, _ in runs)
            srv = statistics.median(c for _, _, c in runs)
            cpu_of[name] = cpu
            self.emit("| %s | %d | %d | %.2f | %.2f | %.0f us | %d KiB | %.1f KiB | %.2f |" % (
                name, errors, leaked, wall, cpu, cpu / n * 1e6, rss, rss / n, srv))
            self.verdict("%d sessions, %s: no error, no fd leak" % (n, name),
                         "%d errors, %d fds" % (errors, leaked), errors == 0 and leaked == 0)
            if name != "plain":
                self.verdict("%d sessions, %s: peak RSS per session <= 64 KiB" % (n, name),
                             "%.1f KiB" % (rss / n), rss / n <= 64)
        self.emit()
        plain = cpu_of["plain"]
        for name, cpu in cpu_of.items():
            if name != "plain":
                self.emit("TLS cost per session, %s: (client CPU - plain client CPU) / %d = "
                          "%.0f us (the handshake: ECDHE, certificate chain check, and the "
                          "records of 40 KiB)" % (name, n, (cpu - plain) / n * 1e6))
        self.emit()

    def fetch_cases(self):
        """The fetch cases check the harness's fills: its Dovecot only."""
        if not self.args.base or not self.args.tls_port or not self.args.ca:
            log("fetch cases skipped: they need the harness's Dovecot")
            return None
        if not self.fetch:
            self.fetch = fetchbench.FetchBench(self, Client, log, median_or_none)
        return self.fetch

    def case_fetchmany(self):
        if self.fetch_cases():
            self.fetch.case_fetchmany()

    def case_fetchmanyrtt(self):
        if self.fetch_cases():
            self.fetch.case_fetchmanyrtt()

    def case_fetchmaildir(self):
        if self.fetch_cases():
            self.fetch.case_fetchmaildir()

    def summary(self):
        self.emit("### Targets (issues 5, 12 and 14)")
        self.emit()
        self.emit("| target | measured | met |")
        self.emit("|---|---:|:---:|")
        for target, measured, met in self.verdicts:
            self.emit("| %s | %s | %s |" % (target, measured, "yes" if met else "**no**"))
        self.emit()


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, f):
    return "n/a" if v is None else f % v


def ratio(a, b):
    return "%.2f" % (a / b) if b else "n/a"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tls-port", type=int, help="the server's POP3S port (tlsbulk)")
    ap.add_argument("--ca", help="CA file for the server's certificate (tlsbulk)")
    ap.add_argument("--certs", help="tests/support/make-test-certs output (tlsown, sessions)")
    ap.add_argument("--base")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--markdown", help="also write the tables to this file")
    ap.add_argument("cases", nargs="*", default=["bulk", "small", "latency", "parser",
                                                 "memory", "delayedack", "tlsbulk",
                                                 "tlsown", "sessions", "fetchmany",
                                                 "fetchmanyrtt", "fetchmaildir"])
    args = ap.parse_args()
    global RUNMEASURE
    RUNMEASURE = os.path.join(args.build, "tools/bench/runmeasure")
    bench = Bench(args)
    if not bench.mpop:
        log("mpop not found: its columns are left out (apt-get install mpop)")
    try:
        for case in args.cases:
            getattr(bench, "case_" + case)()
        bench.summary()
    finally:
        bench.close()
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(bench.md) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
