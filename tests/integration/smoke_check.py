#!/usr/bin/env python3
"""Checks run by ./smoke against a server started by dovecot-env.

usage: smoke_check.py BASE   (alice and load001..load500 already filled)
"""
import base64, hashlib, hmac, os, poplib, shlex, socket, sys, threading, time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3a_harness import Conn, stuff, tls_context  # noqa: E402

poplib._MAXLINE = 1 << 20  # edge messages carry a 70000-octet line

BASE = sys.argv[1]
with open(os.path.join(BASE, "env")) as f:
    ENV = dict(shlex.split(l)[0].split("=", 1) for l in f if l.strip())
HOST, CA = ENV["POP3A_DOVECOT_HOST"], ENV["POP3A_DOVECOT_CA"]
PORT, TLS_PORT = int(ENV["POP3A_DOVECOT_PORT"]), int(ENV["POP3A_DOVECOT_TLS_PORT"])
RESULTS = []


def manifest(user):
    with open(os.path.join(BASE, "manifest-%s.tsv" % user)) as f:
        rows = [l.rstrip("\n").split("\t") for l in f]
    return [(int(i), int(n), u, open(p, "rb").read()) for i, n, u, p in rows]


def check(name):
    def run(fn):
        t = time.monotonic()
        try:
            fn()
            RESULTS.append(True)
            print("ok - %s (%.2f s)" % (name, time.monotonic() - t))
        except Exception as e:  # report and go on with the other checks
            RESULTS.append(False)
            print("not ok - %s: %s: %s" % (name, type(e).__name__, e))
        return fn
    return run


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


@check("STLS (verified CA) + USER/PASS: LIST, UIDL, RETR == manifest (poplib)")
def _():
    msgs = manifest("alice")
    p = poplib.POP3(HOST, PORT, timeout=10)
    p.stls(tls_context(CA))  # verifies the 127.0.0.1 SAN
    p.user("alice")
    p.pass_("alicepw")
    expect(p.stat() == (len(msgs), sum(m[1] for m in msgs)), "STAT %r" % (p.stat(),))
    lst = [tuple(map(int, l.split())) for l in p.list()[1]]
    expect(lst == [(i, n) for i, n, _, _ in msgs], "LIST %r" % lst)
    uidl = [tuple(l.decode().split()) for l in p.uidl()[1]]
    expect(uidl == [(str(i), u) for i, _, u, _ in msgs], "UIDL %r" % uidl)
    for i, n, u, data in msgs:
        resp, lines, _ = p.retr(i)
        expect(resp == b"+OK %d octets" % n, "RETR %d: %r" % (i, resp))
        got = b"".join(l + b"\r\n" for l in lines)
        expect(got == data, "RETR %d body differs (%d vs %d octets)" % (i, len(got), len(data)))
    p.quit()


@check("POP3S port (127.0.0.1 and ::1): raw wire bytes == dot-stuffed manifest")
def _():
    msgs = manifest("alice")
    for host in filter(None, (HOST, ENV.get("POP3A_DOVECOT_HOST6"))):
        c = Conn(host, TLS_PORT, tls=True, ca=CA)
        c.cmd("USER alice")
        c.cmd("PASS alicepw")
        for i, n, _, data in msgs:
            first, raw = c.multi("RETR %d" % i)
            expect(first == b"+OK %d octets\r\n" % n, "RETR %d: %r" % (i, first))
            expect(raw == stuff(data), "RETR %d on %s: wire bytes differ" % (i, host))
        c.cmd("QUIT")


@check("APOP login (poplib)")
def _():
    p = poplib.POP3(HOST, PORT, timeout=10)
    p.apop("bob", "bobpw")
    p.quit()


def sasl(mech, first=None, steps=(), good=True):
    """AUTH exchange; each step maps a decoded "+ " challenge to a reply."""
    c = Conn(HOST, TLS_PORT, tls=True, ca=CA)
    resp = b""
    try:
        resp = c.cmd("AUTH %s%s" % (mech, " " + b64(first) if first else ""))
        for step in steps:
            expect(resp.startswith(b"+ "), "%s: expected a challenge, got %r" % (mech, resp))
            resp = c.cmd(b64(step(base64.b64decode(resp[2:].strip()))))
    except RuntimeError as e:  # -ERR
        expect(not good, "%s: %s" % (mech, e))
        return
    finally:
        c.close()
    expect(good, "%s: wrong credentials ACCEPTED: %r" % (mech, resp))
    expect(resp.startswith(b"+OK"), "%s: %r" % (mech, resp))


def b64(b):
    return base64.b64encode(b).decode()


def scram(name, user, pw):
    h = getattr(hashlib, name)
    nonce = b64(os.urandom(18)).encode()
    bare = b"n=%s,r=%s" % (user, nonce)
    state = {}

    def step1(server_first):
        attrs = dict(kv.split(b"=", 1) for kv in server_first.split(b","))
        salted = hashlib.pbkdf2_hmac(name, pw, base64.b64decode(attrs[b"s"]), int(attrs[b"i"]))
        final = b"c=biws,r=" + attrs[b"r"]
        auth = bare + b"," + server_first + b"," + final
        ckey = hmac.new(salted, b"Client Key", h).digest()
        sig = hmac.new(h(ckey).digest(), auth, h).digest()
        state["v"] = hmac.new(hmac.new(salted, b"Server Key", h).digest(), auth, h).digest()
        return final + b",p=" + base64.b64encode(bytes(a ^ b for a, b in zip(ckey, sig)))

    def step2(server_final):
        expect(server_final == b"v=" + base64.b64encode(state["v"]), "server signature")
        return b""
    return b"n,," + bare, (step1, step2)


@check("SASL PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256, XOAUTH2, OAUTHBEARER")
def _():
    sasl("PLAIN", b"\0carol\0carolpw")
    sasl("LOGIN", None, (lambda _: b"carol", lambda _: b"carolpw"))
    sasl("CRAM-MD5", None, (lambda ch: b"carol " + hmac.new(
        b"carolpw", ch, hashlib.md5).hexdigest().encode(),))
    for mech, name in (("SCRAM-SHA-1", "sha1"), ("SCRAM-SHA-256", "sha256")):
        first, steps = scram(name, b"carol", b"carolpw")
        sasl(mech, first, steps)
    tok = ENV["POP3A_DOVECOT_OAUTH2_TOKEN_ALICE"].encode()
    sasl("XOAUTH2", b"user=alice\1auth=Bearer " + tok + b"\1\1")
    sasl("OAUTHBEARER", b"n,a=alice,\1auth=Bearer " + tok + b"\1\1")


@check("SASL with wrong credentials fails (PLAIN, CRAM-MD5, SCRAM, XOAUTH2, unknown user)")
def _():
    sasl("PLAIN", b"\0carol\0wrong", good=False)
    sasl("PLAIN", b"\0nosuchuser\0x", good=False)
    sasl("CRAM-MD5", None, (lambda ch: b"carol " + hmac.new(
        b"wrong", ch, hashlib.md5).hexdigest().encode(), lambda _: b""), good=False)
    first, steps = scram("sha256", b"carol", b"wrong")
    sasl("SCRAM-SHA-256", first, steps, good=False)
    tok = ENV["POP3A_DOVECOT_OAUTH2_TOKEN_ALICE"].encode()
    ack = (lambda _: b"",)  # failure: "+ <json error>", client answers empty
    # flip a mid-signature char: the last base64url char has unused bits
    bad = tok[:-10] + (b"A" if tok[-10:-9] != b"A" else b"B") + tok[-9:]
    sasl("XOAUTH2", b"user=alice\1auth=Bearer " + bad + b"\1\1", ack, good=False)
    sasl("XOAUTH2", b"user=bob\1auth=Bearer " + tok + b"\1\1", ack, good=False)
    sasl("OAUTHBEARER", b"n,a=bob,\1auth=Bearer " + tok + b"\1\1", (lambda _: b"\1",), good=False)


@check("wrong password fails fast, next login not delayed (no auth penalty)")
def _():
    for _ in range(3):
        t = time.monotonic()
        c = Conn(HOST, PORT)
        c.cmd("USER alice")
        try:
            c.cmd("PASS wrong")
            raise AssertionError("wrong password accepted")
        except RuntimeError:
            pass
        c.close()
        expect(time.monotonic() - t < 1.0, "failure took %.2f s" % (time.monotonic() - t))
    t = time.monotonic()
    c = Conn(HOST, PORT)
    c.cmd("USER alice")
    c.cmd("PASS alicepw")
    c.cmd("QUIT")
    expect(time.monotonic() - t < 1.0, "login after failures took %.2f s" % (time.monotonic() - t))


@check("200 concurrent connections all get a greeting")
def _():
    socks = [socket.create_connection((HOST, PORT), timeout=20) for _ in range(200)]
    try:
        greet = [s.makefile("rb").readline() for s in socks]
        bad = [g for g in greet if not g.startswith(b"+OK")]
        expect(not bad, "%d without greeting: %r" % (len(bad), bad[:3]))
    finally:
        for s in socks:
            s.close()


@check("500 concurrent logged-in sessions (load001..load500), STLS on half")
def _():
    n, errors = 500, []
    barrier = threading.Barrier(n + 1, timeout=120)

    def session(k):
        try:
            c = Conn(HOST, PORT, timeout=60)
            if k % 2:
                c.cmd("STLS")
                c.sock = tls_context(CA).wrap_socket(c.sock, server_hostname=HOST)
                c.f = c.sock.makefile("rb")
            c.cmd("USER load%03d" % k)
            c.cmd("PASS pw%03d" % k)
            c.cmd("STAT")
        except Exception as e:
            errors.append("load%03d: %s" % (k, e))
            c = None
        barrier.wait()  # all sessions open at once
        barrier.wait()
        if c:
            c.cmd("QUIT")
            c.close()

    threads = [threading.Thread(target=session, args=(k,)) for k in range(1, n + 1)]
    for t in threads:
        t.start()
    barrier.wait()
    open_now = n - len(errors)
    barrier.wait()
    for t in threads:
        t.join()
    expect(not errors, "%d failed, e.g. %s" % (len(errors), errors[:3]))
    expect(open_now == n, "only %d sessions open at once" % open_now)


@check("Dovecot logged no errors")
def _():
    with open(os.path.join(BASE, "log", "dovecot.log")) as f:
        bad = [l for l in f if any(w in l for w in (" Error: ", " Fatal: ", " Panic: "))]
    expect(not bad, "".join(bad[:5]))


passed = sum(RESULTS)
print("%d passed, %d failed" % (passed, len(RESULTS) - passed))
sys.exit(0 if all(RESULTS) else 1)
