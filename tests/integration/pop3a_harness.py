#!/usr/bin/env python3
"""Helpers for dovecot-env (stdlib only).

  ports                         two free ports on 127.0.0.1 (and ::1): "P,T V6"
  wait BASE HOSTS PORT TLS T    poll until every listener greets, or fail
  starttime PID                 /proc start time (guards against pid reuse)
  reap STATEFILE                stop recorded pids + their descendants
  fill BASE USERS COUNT SEED SIZESPEC UID:GID
  jwt BASE SUB [TTL]            HS256 token the server's oauth2 passdb accepts
"""
import base64, functools, hashlib, hmac, json, os, random, shutil, signal, socket
import ssl, sys, time

# ------------------------------------------------------------- sockets ---

def free_ports():
    """Two distinct ports free on 127.0.0.1 and, if it exists, ::1."""
    for _ in range(50):
        socks, ports, v6 = [], [], True
        try:
            for _ in range(2):
                s = socket.socket()
                s.bind(("127.0.0.1", 0))
                socks.append(s)
                ports.append(s.getsockname()[1])
            for p in ports:
                try:
                    s6 = socket.socket(socket.AF_INET6)
                    s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    socks.append(s6)
                    s6.bind(("::1", p))
                except OSError as e:
                    if e.errno == 98:  # EADDRINUSE: try other ports
                        raise
                    v6 = False  # no IPv6 loopback on this machine
            return ports, v6
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    sys.exit("no free ports")


class Conn:
    """Minimal byte-exact POP3 client (poplib caps lines at 2048 octets)."""

    def __init__(self, host, port, tls=False, ca=None, timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        if tls:
            self.sock = tls_context(ca).wrap_socket(self.sock, server_hostname=host)
        self.f = self.sock.makefile("rb")
        self.greeting = self.line()

    def line(self):
        line = self.f.readline(1 << 20)
        if not line.endswith(b"\r\n"):
            raise EOFError("connection closed or bad line: %r" % line[:80])
        return line

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        resp = self.line()
        if not resp.startswith(b"+"):
            raise RuntimeError("%s -> %r" % (text[:4], resp))
        return resp

    def multi(self, text):
        """Multi-line response: (status line, raw dot-stuffed payload)."""
        first = self.cmd(text)
        out = []
        while True:
            line = self.line()
            if line == b".\r\n":
                return first, b"".join(out)
            out.append(line)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def tls_context(ca):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def unstuff(raw):
    return b"".join(l[1:] if l.startswith(b".") else l
                    for l in raw.splitlines(keepends=True))


def stuff(msg):
    return b"".join(b"." + l if l.startswith(b".") else l
                    for l in msg.splitlines(keepends=True))


def wait(base, hosts, port, tls_port, timeout):
    """Ready = every host:port sends '+OK' (POP3S after a verified handshake),
    and a login works (the "probe" user): a server that greets but cannot
    authenticate (seen under nested podman) is not ready, so the caller falls
    back to another runner."""
    ca = os.path.join(base, "ca.pem")
    todo = {(h, p, p == tls_port) for h in hosts for p in (port, tls_port)}
    deadline = time.monotonic() + timeout
    runner = read_state(os.path.join(base, "runner.state"))[:1]
    last = {}
    while todo and time.monotonic() < deadline:
        if runner and not alive(*runner[0]):
            print("dovecot-env: runner process exited", file=sys.stderr)
            return 1
        for t in sorted(todo):
            try:
                c = Conn(t[0], t[1], t[2], ca, timeout=2)
                ok = c.greeting.startswith(b"+OK")
                c.close()
                if ok:
                    todo.discard(t)
            except (OSError, EOFError) as e:
                last[t] = e
        if todo:
            time.sleep(0.05)
    for t in sorted(todo):
        print("dovecot-env: not ready %s:%d tls=%s: %s" % (t + (last.get(t),)),
              file=sys.stderr)
    if todo:
        return 1
    return login_probe(hosts[0], tls_port, ca, min(deadline, time.monotonic() + 20))


def login_probe(host, port, ca, deadline):
    """USER/PASS as "probe" over POP3S until it works or the deadline passes."""
    last = None
    while time.monotonic() < deadline:
        try:
            c = Conn(host, port, True, ca, timeout=2)
            try:
                c.cmd("USER probe")
                c.cmd("PASS probepw")
                c.cmd("QUIT")
                return 0
            finally:
                c.close()
        except (OSError, EOFError, RuntimeError) as e:
            last = e
        time.sleep(0.2)
    print("dovecot-env: greets but cannot log in: %s" % last, file=sys.stderr)
    return 1

# ----------------------------------------------------------- processes ---

def stat(pid):
    """(state, ppid, starttime) or None; comm may contain ') '."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return rest[0], int(rest[1]), rest[19]
    except (OSError, IndexError):
        return None


def alive(pid, start):
    st = stat(pid)
    return st is not None and st[2] == start and st[0] not in "ZX"


def read_state(path):
    pids = []
    try:
        with open(path) as f:
            for line in f:
                w = line.split()
                if len(w) == 3 and w[0] == "pid":
                    pids.append((int(w[1]), w[2]))
    except OSError:
        pass
    return pids


def reap(path):
    roots = [p for p in read_state(path) if alive(*p)]
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = stat(int(d))
            if st:
                children.setdefault(st[1], []).append((int(d), st[2]))
    procs, todo = set(roots), list(roots)
    while todo:  # all descendants, captured before anything is reparented
        for c in children.get(todo.pop()[0], []):
            if c not in procs:
                procs.add(c)
                todo.append(c)
    # Signal the recorded pids (runner, master) first: a master whose
    # children die under it at the same moment waits ~6 s for them. Then
    # the children (a pop3 process with a live client outlives the master
    # by ~30 s), then SIGKILL whatever is left.
    stages = ((set(roots), signal.SIGTERM, 3), (procs, signal.SIGTERM, 10),
              (procs, signal.SIGKILL, 5))
    for targets, sig, grace in stages:
        for pid, start in targets:
            if alive(pid, start):
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not any(alive(*p) for p in targets):
                break
            time.sleep(0.05)
        procs = {p for p in procs if alive(*p)}
        if not procs:
            return 0
    print("dovecot-env: still alive: %s" % sorted(procs), file=sys.stderr)
    return 1


# ---------------------------------------------------------------- fill ---

T0 = 1700000000  # mtime/name timestamp of message 1; +1 s per message
WORDS = (b"pop3 async client library test message body lorem ipsum dolor "
         b"sit amet . .. -ERR +OK CRLF octet stuffing dovecot maildir uidl "
         b"list retr top stat quit").split()


def headers(user, i, seed, subject, extra=b""):
    return (b"From: Harness <harness@pop3a.test>\r\nTo: %s@pop3a.test\r\n"
            b"Subject: %s\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
            b"Message-ID: <%d.%s@pop3a.test>\r\n%s\r\n"
            % (user.encode(), subject, i, seed.encode(), extra))


def edge_messages(user, seed):
    """Edge cases, in this order, as the first messages of an `edge` fill.

    Left out on purpose (Dovecot 2.3.19 quirks, see README): a 0-octet
    message (LIST says 0, RETR sends one empty line), a '.' as the very
    first octet (not dot-stuffed: breaks the session), a last line
    without CRLF (RETR appends one, LIST does not count it)."""
    h = lambda i, s, x=b"": headers(user, i, seed, s, x)
    utf8 = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
    eight = bytes(b for b in range(1, 256) if b not in (0x0a, 0x0d))
    return [
        h(1, b"empty body"),
        h(2, b"only dot lines") + b".\r\n..\r\n.\r\n..\r\n...\r\n",
        h(3, b"leading dots") + b".hidden\r\n..two\r\n. space\r\n.\t\r\nmid.dot\r\n.\r\nend\r\n",
        h(4, "8-bit: Grüße ✓".encode(), utf8) + "Grüße aus Köln — ✓ 日本語 🎉\r\n".encode()
        + b"latin-1: caf\xe9 na\xefve\r\nall bytes: " + eight + b"\r\n",
        h(5, b"long lines") + b"a" * 1001 + b"\r\n." + b"b" * 4095 + b"\r\n"
        + b"c" * 70000 + b"\r\nshort\r\n",
        b"X-No-Other-Headers: 1\r\n.dot line right after the header\r\n\r\nbody\r\n",
        b"Subject: header only, no separator\r\n",
        h(8, b"terminator look-alikes") + b"a\r\n.\r\nb\r\n+OK 1 2\r\n-ERR x\r\n\r\n \r\ntrailing  \r\n",
        b"\r\n",  # one empty line, nothing else
        b"\r\n.\r\n",  # empty line, then a line holding only a dot
        h(11, b"dot at end") + b"last line is a dot\r\n.\r\n",
    ]


@functools.lru_cache(maxsize=4)
def body_pool(seed):
    rng = random.Random("pool/" + seed)
    words = [rng.choice(WORDS) for _ in range(20000)]
    return b" ".join(words)


def exact_message(user, i, seed, size, pool):
    """Deterministic message of exactly `size` octets, CRLF lines <= 78."""
    subj = b"message %d" % i
    hdr = headers(user, i, seed, subj)
    r = size - len(hdr)
    if r == 1:  # a body cannot be 1 octet (needs CRLF): widen the subject
        hdr, r = headers(user, i, seed, subj + b"."), 0
    if r < 0:
        sys.exit("size %d too small (headers alone are %d octets)" % (size, len(hdr)))
    out, pos = [hdr], (i * 7919) % (len(pool) // 2)
    while r > 0:
        k = min(76, r - 2)
        if r - k - 2 == 1:
            k -= 1
        out.append(pool[pos:pos + k] + b"\r\n")
        pos = (pos + k + 1) % (len(pool) - 80)
        r -= k + 2
    return b"".join(out)


def parse_size(spec):
    mult = {"k": 1024, "m": 1 << 20}.get(spec[-1:].lower(), 1)
    return int(spec.rstrip("kKmM")) * mult


def plan(user, count, seed, spec):
    """Yield the bytes of message 1..count."""
    pool = body_pool(seed)
    rng = random.Random("sizes/%s/%s" % (seed, spec))
    edges = edge_messages(user, seed) if spec in ("edge", "big") else []
    lo = hi = None
    if spec not in ("edge", "big"):
        lo, _, hi = spec.partition("-")
        lo = parse_size(lo)
        hi = parse_size(hi) if hi else lo
    for i in range(1, count + 1):
        if spec == "big" and i == count:
            yield exact_message(user, i, seed, 50 << 20, pool)
        elif i <= len(edges):
            yield edges[i - 1]
        elif lo is None:
            yield exact_message(user, i, seed, rng.randint(300, 8000), pool)
        else:
            yield exact_message(user, i, seed, rng.randint(lo, hi), pool)


def expand_users(spec):
    """alice,bob or load001..load500 (zero padding kept)."""
    out = []
    for part in spec.split(","):
        if ".." in part:
            a, b = part.split("..")
            stem = a.rstrip("0123456789")
            width = len(a) - len(stem)
            out += ["%s%0*d" % (stem, width, n)
                    for n in range(int(a[len(stem):]), int(b[len(stem):]) + 1)]
        elif part:
            out.append(part)
    return out


def fill_user(base, user, count, seed, spec, uid, gid):
    md = os.path.join(base, "mail", user)
    exp = os.path.join(base, "expected", user)
    for d in (md, exp):  # a fill replaces the mailbox and its index
        shutil.rmtree(d, ignore_errors=True)
    os.makedirs(exp)
    for sub in ("", "tmp", "new", "cur"):
        os.makedirs(os.path.join(md, sub), 0o700, exist_ok=True)
        os.chown(os.path.join(md, sub), uid, gid)
    rows = []
    for i, msg in enumerate(plan(user, count, seed, spec), 1):
        # Dovecot assigns UIDs to new maildir files sorted by the timestamp
        # at the start of the name; UIDL (%f) is the name up to ':'.
        # S=/W= (physical/virtual CRLF size) spare Dovecot reading the file.
        uidl = "%d.M%dP0.pop3a,S=%d,W=%d" % (T0 + i, i, len(msg), len(msg))
        tmp = os.path.join(md, "tmp", uidl)
        with open(tmp, "wb") as f:
            f.write(msg)
        os.chown(tmp, uid, gid)
        os.utime(tmp, (T0 + i, T0 + i))
        final = os.path.join(md, "cur", uidl + ":2,")
        os.rename(tmp, final)
        # hard link: survives Dovecot's renames (flags) and DELE unlinks
        expected = os.path.join(exp, "%06d.eml" % i)
        os.link(final, expected)
        rows.append("%d\t%d\t%s\t%s\n" % (i, len(msg), uidl, expected))
    with open(os.path.join(base, "manifest-%s.tsv" % user), "w") as f:
        f.writelines(rows)


def fill(base, users, count, seed, spec, ids):
    uid, gid = map(int, ids.split(":"))
    base = os.path.abspath(base)
    known = set()
    with open(os.path.join(base, "passwd")) as f:
        known = {l.split(":", 1)[0] for l in f}
    for user in expand_users(users):
        if user not in known:
            sys.exit("unknown user %r (see BASE/passwd)" % user)
        fill_user(base, user, int(count), seed, spec, uid, gid)
    return 0

# ----------------------------------------------------------------- jwt ---

def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(base, sub, ttl=7 * 86400):
    with open(os.path.join(base, "oauth2/default/HS256/default")) as f:
        key = base64.b64decode(f.read())
    now = int(time.time())
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "default"}).encode())
    body = b64url(json.dumps({"sub": sub, "iat": now - 60, "exp": now + int(ttl)}).encode())
    sig = hmac.new(key, ("%s.%s" % (head, body)).encode(), hashlib.sha256).digest()
    return "%s.%s.%s" % (head, body, b64url(sig))


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "ports":
        (p, t), v6 = free_ports()
        print("%d,%d %d" % (p, t, v6))
    elif cmd == "wait":
        return wait(args[0], args[1].split(","), int(args[2]), int(args[3]), float(args[4]))
    elif cmd == "starttime":
        st = stat(int(args[0]))
        if not st:
            return 1
        print(st[2])
    elif cmd == "reap":
        return reap(args[0])
    elif cmd == "fill":
        return fill(*args)
    elif cmd == "jwt":
        print(jwt(*args))
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
