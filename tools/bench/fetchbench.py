"""Issue 12's benchmarks: pop3fetch against mpop, both delivering into Maildirs.

bench.py's cases `fetchmany`, `fetchmanyrtt` and `fetchmaildir` call in here; `run` fills the
mailboxes (the many* users it adds to Dovecot's passwd file, and alice).

Both clients use the same transport, what a sysadmin would pick: implicit TLS
(POP3S) verified against the test CA, keep mode (the mail stays on the
server, so every round sees the same mailboxes), and a fresh state each round
(pop3fetch's SQLite files, mpop's uidls files), so each round fetches
everything. mpop logs in with SCRAM-SHA-256, the mechanism pop3fetch's library
picks from Dovecot's list, so the two do the same work; an extra row shows mpop
with its own choice over TLS (PLAIN). After every run the client's Maildirs
must hold exactly the expected messages (count and bytes after CRLF -> LF), so
a fast broken run cannot win.

The Maildirs and states live on disk by default (where a sysadmin keeps mail:
every delivery's fsync is real); POP3A_BENCH_MAILDIR_ROOT=DIR puts them in DIR
instead (e.g. /dev/shm, where fsync costs nothing).

`fetchmanyrtt` is `fetchmany` with tools/bench/latproxy between both clients
and Dovecot's POP3S port, RTT_MS of round trip: the proxy relays TCP only, so
TLS is still verified end to end against Dovecot's certificate. Its CPU and how
late it handed chunks over (its SIGUSR1 report) are measured in every run, to
show it kept up.
"""
import os
import shutil
import statistics
import tempfile

MANY_USERS = ["many%03d" % i for i in range(1, 101)]  # password pwNNN, see `run`
MANY_FILL = (50, 20 * 1024)
ONE = ("alice", "alicepw", 2000, 20 * 1024)  # the bulk case's fill
JOBS_SWEEP = (1, 32)  # extra pop3fetch rows next to its default --jobs (8)
RTT_MS = 20  # fetchmanyrtt: a provider 20 ms away, 10 ms each way

POP3FETCH = "pop3fetch, default --jobs"
MPOP_SCRAM = "mpop --all-accounts, SCRAM-SHA-256"
MPOP_DEFAULT = "mpop --all-accounts, its default mechanism over TLS (PLAIN)"


def password_of(user):
    return "alicepw" if user == "alice" else "pw" + user[-3:]


def expected_bytes(base, user):
    """Octets the Maildir must hold for `user`: the fill's messages with CRLF
    stored as LF (what both clients write into a Maildir)."""
    d = os.path.join(base, "expected", user)
    total = 0
    for name in os.listdir(d):
        with open(os.path.join(d, name), "rb") as f:
            total += len(f.read().replace(b"\r\n", b"\n"))
    return total


def maildir_holds(path, count, octets):
    """'' if the Maildir at `path` holds `count` messages of `octets` in all,
    else what is wrong."""
    names = [os.path.join(path, sub, n) for sub in ("new", "cur")
             if os.path.isdir(os.path.join(path, sub))
             for n in os.listdir(os.path.join(path, sub))]
    got = sum(os.path.getsize(n) for n in names)
    if len(names) != count or got != octets:
        return "%s: %d messages, %d bytes (expected %d, %d)" % (path, len(names), got,
                                                                 count, octets)
    return ""


def make_maildir(path):
    for sub in ("", "tmp", "new", "cur"):
        os.mkdir(os.path.join(path, sub))


class FetchBench:
    """The two cases; `b` is bench.Bench (its runner, Client and output)."""

    def __init__(self, b, client_cls, log, median_or_none):
        self.b, self.Client, self.log = b, client_cls, log
        self.median_or_none = median_or_none
        root = os.path.abspath(os.environ.get("POP3A_BENCH_MAILDIR_ROOT") or b.build)
        self.root = tempfile.mkdtemp(prefix="fetch.", dir=root)
        self.where = "%s (%s)" % (root, fs_type(root))
        self.pop3fetch = b.exe("tools/pop3fetch/pop3fetch")
        self.secrets = os.path.join(self.root, "secrets")
        os.mkdir(self.secrets, 0o700)

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------ clients ---
    def dirs(self, tag):
        """A client's output tree: TAG/mail/USER Maildirs, TAG/state."""
        top = os.path.join(self.root, tag)
        return top, os.path.join(top, "mail"), os.path.join(top, "state")

    def resetter(self, tag, users):
        """Before each run: empty Maildirs (made for both clients alike) and no state."""
        top, mail, state = self.dirs(tag)

        def reset():
            shutil.rmtree(top, ignore_errors=True)
            for d in (top, mail, state):
                os.mkdir(d)
            for u in users:
                make_maildir(os.path.join(mail, u))
        return reset

    def checker(self, tag, users, count):
        _, mail, _ = self.dirs(tag)
        octets = {u: expected_bytes(self.b.args.base, u) for u in users}

        def check(status, out):
            if status != 0:
                return False
            wrong = [w for w in (maildir_holds(os.path.join(mail, u), count, octets[u])
                                 for u in users) if w]
            if wrong:
                raise RuntimeError("%s: wrong Maildirs after the run: %s" % (
                    tag, "; ".join(wrong[:3])))
            return True
        return check

    def client(self, name, tag, argv, users, count):
        c = self.Client(name, argv, self.checker(tag, users, count))
        c.prepare = self.resetter(tag, users)
        return c

    def password_file(self, user):
        path = os.path.join(self.secrets, user)
        if not os.path.exists(path):
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(password_of(user) + "\n")
        return path

    def pop3fetch_config(self, tag, users, port):
        """One config file naming every account (mode 0600: it names password files)."""
        _, mail, state = self.dirs(tag)
        path = os.path.join(self.root, tag + ".conf")
        lines = ["[defaults]", "host = %s" % self.b.host, "port = %d" % port,
                 "tls = implicit", "ca_file = %s" % self.b.args.ca, "timeout = 120", ""]
        for u in users:
            lines += ["[account %s]" % u, "user = %s" % u,
                      "password_file = %s" % self.password_file(u),
                      "maildir = %s" % os.path.join(mail, u),
                      "state = %s" % os.path.join(state, u + ".db"), ""]
        write_private(path, "\n".join(lines))
        return path

    def mpoprc(self, tag, users, auth, port):
        """One account per user; --all-accounts runs them one after the other."""
        _, mail, state = self.dirs(tag)
        path = os.path.join(self.root, tag + ".mpoprc")
        text = "".join(
            "account %s\nhost %s\nport %d\nuser %s\npassword %s\nauth %s\ntls on\n"
            "tls_starttls off\ntls_trust_file %s\nkeep on\nreceived_header off\n"
            "delivery maildir %s\nuidls_file %s\ntimeout 120\n\n"
            % (u, self.b.host, port, u, password_of(u), auth, self.b.args.ca,
               os.path.join(mail, u), os.path.join(state, u + ".uidls")) for u in users)
        write_private(path, text)
        return path

    def clients(self, users, count, jobs_sweep, port):
        """pop3fetch (default --jobs, then the sweep) and the two mpop rows, all
        connecting to `port` on the bench's host."""
        many = len(users) > 1
        out = []
        if many:
            conf = self.pop3fetch_config("pop3fetch", users, port)
            base_argv = [self.pop3fetch, "--config", conf]
        else:
            _, mail, state = self.dirs("pop3fetch")
            u = users[0]
            base_argv = [self.pop3fetch, "--host", self.b.host, "--port",
                         str(port), "--user", u, "--password-file",
                         self.password_file(u), "--tls", "implicit", "--ca-file",
                         self.b.args.ca, "--timeout", "120", "--maildir",
                         os.path.join(mail, u), "--state", os.path.join(state, u + ".db")]
        out.append(self.client(POP3FETCH if many else "pop3fetch", "pop3fetch", base_argv,
                               users, count))
        for jobs in jobs_sweep:
            out.append(self.client("pop3fetch --jobs %d" % jobs, "pop3fetch",
                                   base_argv + ["--jobs", str(jobs)], users, count))
        all_ = ["--all-accounts"] if many else [users[0]]
        for name, tag, auth in ((MPOP_SCRAM, "mpop", "scram-sha-256"),
                                (MPOP_DEFAULT, "mpop-default", "on")):
            if not many:
                name = name.replace(" --all-accounts", "")
            rc = self.mpoprc(tag, users, auth, port)
            out.append(self.client(name, tag, [self.b.mpop, "-C", rc, "-q"] + all_, users,
                                   count))
        return out

    # -------------------------------------------------------------- cases ---
    def case_fetchmany(self):
        self.many("9", "POP3S", "100 accounts", self.b.args.tls_port)

    def case_fetchmanyrtt(self):
        proxy = self.b.latproxy(self.b.args.tls_port, RTT_MS // 2)
        try:
            self.many("9b", "POP3S through a proxy adding %d ms each way (%d ms round trip)"
                      % (RTT_MS // 2, RTT_MS), "100 accounts, %d ms round trip" % RTT_MS,
                      proxy.port, proxy)
        finally:
            proxy.stop()

    def many(self, section, transport, label, port, proxy=None):
        """100 accounts from `port` (Dovecot's POP3S port, or `proxy` in front of it)."""
        count, size = MANY_FILL
        users = MANY_USERS
        self.log("case %s: %d accounts x %d x %d KiB, %s, Maildirs in %s"
                 % (section, len(users), count, size // 1024, transport, self.where))
        clients = self.clients(users, count, JOBS_SWEEP, port)
        res = self.measured(clients, proxy)
        anatomy = self.anatomy(clients[0])
        n = len(users) * count
        self.emit_table("### %s. pop3fetch: %d accounts x %d x %d KiB into Maildirs, %s "
                        "(median of %d)" % (section, len(users), count, size // 1024, transport,
                                            self.b.args.runs),
                        clients, res, n, n * size, proxy)
        self.b.emit("Dovecot's CPU by process in one more run of %s: %s." % (POP3FETCH, anatomy))
        self.b.emit()
        med = self.medians(res)
        pf, mp = med[POP3FETCH], med[MPOP_SCRAM]
        self.b.verdict("%s: pop3fetch wall <= 0.15 x mpop --all-accounts" % label,
                       "%.2f x" % (pf[0] / mp[0]), pf[0] <= 0.15 * mp[0])
        self.b.verdict("%s: pop3fetch client CPU per message <= 1.0 x mpop's" % label,
                       "%.2f x" % (pf[1] / mp[1]), pf[1] <= mp[1])

    def case_fetchmaildir(self):
        user, _, count, size = ONE
        self.log("case fetchmaildir (1 account, %d x %d KiB, POP3S, Maildir in %s)"
                   % (count, size // 1024, self.where))
        clients = self.clients([user], count, (), self.b.args.tls_port)
        res = self.measured(clients)
        self.emit_table("### 10. pop3fetch: one account, %d x %d KiB into a Maildir, POP3S "
                        "(median of %d)" % (count, size // 1024, self.b.args.runs),
                        clients, res, count, count * size)
        med = self.medians(res)
        pf, mp = med["pop3fetch"], med[MPOP_SCRAM.replace(" --all-accounts", "")]
        self.b.verdict("1 account, 2000 x 20 KiB: pop3fetch wall <= 0.9 x mpop into a Maildir",
                       "%.2f x" % (pf[0] / mp[0]), pf[0] <= 0.9 * mp[0])

    def measured(self, clients, proxy=None):
        """A warm-up each, then interleaved rounds as bench.Bench.measure runs them,
        but round r starts at client r: each client runs after each other one
        (what the last run left to the disk's writeback differs), not always
        in the same place. The load average around them. With a `proxy`
        (bench.Daemon running latproxy), its CPU and lateness per timed run go
        to self.proxy_runs[client name] as ProxyRun."""
        before = load_average()
        res = {c.name: [] for c in clients}
        self.proxy_runs = {c.name: [] for c in clients}
        for c in clients:
            self.b.run_once(c, "")
        if proxy:
            proxy.lateness()  # count from the first timed run on
        for r in range(self.b.args.runs):
            for c in clients[r % len(clients):] + clients[:r % len(clients)]:
                cpu0 = proxy and proxy.cpu()
                res[c.name].append(self.b.run_once(c, ""))
                if proxy:
                    self.proxy_runs[c.name].append(
                        ProxyRun(proxy.cpu() - cpu0, res[c.name][-1].wall, *proxy.lateness()))
            self.log("  round %d/%d done" % (r + 1, self.b.args.runs))
        self.load = "%s before, %s after" % (before, load_average())
        return res

    def anatomy(self, client):
        """One more (untimed) run of `client`: Dovecot's CPU by process. Its auth
        process is one process for all logins, so its CPU is a serial floor
        under the wall of any number of concurrent sessions."""
        self.b.dovecot.sample()  # no session of the last round left
        before = self.b.dovecot.by_process()
        self.b.run_once(client, "")
        self.b.dovecot.sample()  # waits until the session processes are reaped
        after = self.b.dovecot.by_process()
        parts = sorted(((after.get(k, 0) - before.get(k, 0), k) for k in after), reverse=True)
        return ", ".join("%s %.2f s" % (k, v) for v, k in parts if v >= 0.01)

    def medians(self, res):
        return {n: (statistics.median(x.wall for x in rs),
                    statistics.median(x.cpu for x in rs),
                    self.median_or_none([x.server_cpu for x in rs]))
                for n, rs in res.items()}

    def emit_table(self, title, clients, res, messages, octets, proxy=None):
        b = self.b
        med = self.medians(res)
        ref = med[clients[-2].name]  # mpop, SCRAM-SHA-256
        b.emit(title)
        b.emit()
        b.emit("Maildirs and state in %s; load average (1, 5, 15 min) %s"
               % (self.where, self.load))
        b.emit()
        extra = " latproxy CPU s | latproxy CPU / wall, max | chunk late, mean / max ms |" \
            if proxy else ""
        b.emit("| client | wall s | wall range | client CPU s | client CPU per message | "
               "Dovecot CPU s | "
               "(client + Dovecot CPU) / %d cores | wall / mpop SCRAM | client CPU / mpop "
               "SCRAM |%s" % (os.cpu_count(), extra))
        b.emit("|---|---:|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * extra.count("|"))
        for c in clients:
            w, cpu, dc = med[c.name]
            walls = [x.wall for x in res[c.name]]
            pr = self.proxy_runs[c.name]
            b.emit("| %s | %.2f | %.1f..%.1f | %.2f | %.0f us | %s | %s | %.2f | %.2f |%s" % (
                c.name, w, min(walls), max(walls), cpu, cpu / messages * 1e6,
                "n/a" if dc is None else "%.2f" % dc,
                "n/a" if dc is None else "%.2f" % ((cpu + dc) / os.cpu_count()),
                w / ref[0], cpu / ref[1],
                " %.2f | %.2f | %.2f / %.1f |" % (
                    statistics.median(p.cpu for p in pr), max(p.cpu / p.wall for p in pr),
                    sum(p.late_mean_ms * p.chunks for p in pr) / max(1, sum(p.chunks for p in pr)),
                    max(p.late_max_ms for p in pr)) if proxy else ""))
        b.emit()
        b.emit("%d messages, %.1f MB per run; every run's Maildirs checked (count and bytes)."
               % (messages, octets / 1e6))
        if proxy:
            b.emit()
            b.emit("One latproxy process (one thread) carries every connection of the case; "
                   "`chunk late` is how long after its due time it handed a chunk to the "
                   "kernel: the mean over all runs of the row, and the worst of %d chunks over all runs." % sum(
                       p.chunks for runs in self.proxy_runs.values() for p in runs))
        b.emit()


class ProxyRun:
    """latproxy during one timed run: CPU seconds, the run's wall, and the
    lateness report (chunks handed over, worst and mean ms after due)."""

    def __init__(self, cpu, wall, chunks, late_max_ms, late_mean_ms):
        self.cpu, self.wall, self.chunks = cpu, wall, chunks
        self.late_max_ms, self.late_mean_ms = late_max_ms, late_mean_ms


def write_private(path, text):
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(text)


def fs_type(path):
    """The file system under `path`, as /proc/mounts names it (longest mount prefix)."""
    path, best = os.path.realpath(path), ("", "?")
    with open("/proc/mounts") as f:
        for line in f:
            _, mnt, kind = line.split()[:3]
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and \
                    len(mnt) > len(best[0]):
                best = (mnt, kind)
    return best[1]


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])
