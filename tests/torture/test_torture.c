/*
 * Torture (issue 11, doc/ROBUSTNESS.md "Torture: every allocation fails once"):
 * a full session against the scripted server -- connect (or attach), a way in
 * (STLS + SCRAM-SHA-256, POP3S + APOP, ...: the rows of torture_script.c),
 * LIST, UIDL, pipelined RETR with pause/resume, TOP, DELE, QUIT -- run once to
 * count the library's failure points (protocol/alloc.h), then once per point N
 * with point N failing.
 *
 * The library under test is the torture build (libpop3async_torture); the
 * scripted server and this driver use the plain allocator, so only the
 * library's own allocations and dependency calls fail.
 *
 * Every run must end with no crash, no sanitizer report and no leak (the asan
 * setup checks leaks after each run when LeakSanitizer is there), every
 * future's done callback run exactly once, and every failure reported as
 * POP3A_ERR_NOMEM -- on a future, or by the API call that could not allocate
 * -- with POP3A_ERR_CLOSED only for what it took down. No run may end by a
 * timer: the connect and idle timeouts are 30 s, so a TIMEOUT status means the
 * library waited on a failure it already knew.
 *
 * POP3A_TORTURE_STRIDE=k runs every k-th N (default 1: all of them);
 * POP3A_TORTURE_ONLY=N runs just that one and POP3A_TORTURE_ROW=i only the
 * i-th scenario (for a debugger: break in lib/protocol/torture.c);
 * POP3A_TORTURE_VERBOSE=1 names the runs that went through despite the failure.
 */
#include <check.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "alloc.h"
#include "pop3async/pop3async.h"
#include "sasl_server.h"
#include "script_server.h"
#include "torture_script.h"

#define SESSION_TIMEOUT_MS 30000u
/* A run is over long before this; reaching it is a hang, reported as such. */
#define HANG_GUARD_S 120

/* POP3A_TEST_TIME_SCALE (1..100): the valgrind and asan setups stretch waits. */
static unsigned time_scale(void)
{
    const char *s = getenv("POP3A_TEST_TIME_SCALE");
    long v = s ? strtol(s, NULL, 10) : 1;
    return v >= 1 && v <= 100 ? (unsigned)v : 1;
}

static unsigned long env_ulong(const char *name, unsigned long dflt)
{
    const char *s = getenv(name);
    return s && *s ? strtoul(s, NULL, 10) : dflt;
}

/* LeakSanitizer's check, when the build has one (the asan setup). */
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));


typedef struct run run;


/* One future the driver submitted. */
typedef struct {
    run *r;
    char what[16];
    int done_calls;
    pop3a_status status;
} rec;

struct run {
    struct event_base *base;
    p3s *srv;
    scram_srv scram;
    pop3a_client *client;
    rec conn, login, list, uidl, retr[N_MSGS + 1], top, dele[N_MSGS + 1], quit;
    int outstanding;       /* submitted futures not yet done */
    int nomem_seen;        /* a future or an API call reported POP3A_ERR_NOMEM */
    pop3a_future *paused;  /* a RETR paused by its chunk callback (referenced) */
    struct event *resume;  /* resumes it on a later loop turn */
    struct event *guard;   /* HANG_GUARD_S */
    int hung;
    struct bufferevent *pair; /* attach's transport while it is still ours */
    char body[N_MSGS + 1][256];
    size_t body_len[N_MSGS + 1];
    char violation[512];   /* the first broken rule, or "" */
};

__attribute__((format(printf, 2, 3))) static void violate(run *r, const char *fmt, ...)
{
    if (r->violation[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->violation, sizeof r->violation, fmt, ap);
    va_end(ap);
}

/* An API call returned NULL or -1: only an allocation can have made it fail
 * here, and the client must say so. */
static void sync_failure(run *r, const char *call)
{
    if (!pop3a_torture_fired())
        violate(r, "%s failed with no failure injected", call);
    else if (r->client && pop3a_client_error(r->client) != POP3A_ERR_NOMEM)
        violate(r, "%s failed with %s, not NOMEM", call,
                pop3a_status_name(pop3a_client_error(r->client)));
    r->nomem_seen = 1;
    /* What an application does when it cannot queue the next command: give up
     * the session; what was queued completes with CLOSED. */
    if (r->client)
        pop3a_client_disconnect(r->client);
}

static void on_done(pop3a_client *client, pop3a_future *f, void *arg);

static int submitted(run *r, rec *rc, const char *what, pop3a_future *f)
{
    if (!f) {
        sync_failure(r, what);
        return -1;
    }
    rc->r = r;
    snprintf(rc->what, sizeof rc->what, "%s", what);
    r->outstanding++;
    return 0;
}

static void submit_dele(run *r, uint32_t msg)
{
    char what[16];
    snprintf(what, sizeof what, "DELE %" PRIu32, msg);
    submitted(r, &r->dele[msg], what, pop3a_dele(r->client, msg, on_done, &r->dele[msg]));
}

static void on_done(pop3a_client *client, pop3a_future *f, void *arg)
{
    rec *rc = arg;
    run *r = rc->r;
    if (rc->done_calls++ > 0)
        violate(r, "%s: done callback ran twice", rc->what);
    rc->status = pop3a_future_status(f);
    r->outstanding--;
    if (rc->status == POP3A_ERR_NOMEM) {
        /* The script cannot follow a session that goes on without this
         * command: the driver gives up, as a cautious application would, and
         * what is still queued completes with CLOSED. */
        r->nomem_seen = 1;
        pop3a_client_disconnect(client);
    }
    if (rc->status != POP3A_OK)
        return;
    /* Mail is deleted only once it is stored; QUIT once every DELE is queued. */
    if (rc >= &r->retr[1] && rc <= &r->retr[N_MSGS])
        submit_dele(r, pop3a_future_msg(f));
    else if (rc == &r->top)
        submitted(r, &r->quit, "QUIT", pop3a_quit(r->client, on_done, &r->quit));
}

static void on_retr_done(pop3a_client *client, pop3a_future *f, void *arg)
{
    run *r = arg;
    on_done(client, f, &r->retr[pop3a_future_msg(f)]);
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    run *r = arg;
    pop3a_future *f = r->paused;
    r->paused = NULL;
    if (!pop3a_future_is_done(f) && pop3a_future_resume(f) != 0)
        violate(r, "RETR %" PRIu32 ": resume refused", pop3a_future_msg(f));
    pop3a_future_unref(f);
}

/* Pauses on the first chunk of each message and resumes from the loop. */
static int on_chunk(pop3a_client *client, pop3a_future *f, const char *data, size_t len,
                    int final, void *arg)
{
    (void)client;
    (void)final;
    run *r = arg;
    uint32_t msg = pop3a_future_msg(f);
    size_t *have = &r->body_len[msg];
    int first = *have == 0;
    if (*have + len < sizeof r->body[0]) {
        memcpy(r->body[msg] + *have, data, len);
        *have += len;
    }
    if (!first || r->paused)
        return POP3A_CHUNK_CONTINUE;
    r->paused = pop3a_future_ref(f);
    event_active(r->resume, 0, 0);
    return POP3A_CHUNK_PAUSE;
}

static int on_top_chunk(pop3a_client *client, pop3a_future *f, const char *data, size_t len,
                        int final, void *arg)
{
    (void)client;
    (void)f;
    (void)data;
    (void)len;
    (void)final;
    (void)arg;
    return POP3A_CHUNK_CONTINUE;
}

static void guard_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    run *r = arg;
    r->hung = 1;
    event_base_loopbreak(r->base);
}

/* The client's side: options, client, and every command queued at once. */
static void client_side(run *r, const scenario *sc, uint16_t port, struct bufferevent *pair)
{
    char proxy_url[64];
    snprintf(proxy_url, sizeof proxy_url, "socks5h://proxy:secret@127.0.0.1:%u", port);
    const char *host = sc->via_socks5 ? "mail.example" : "127.0.0.1";
    uint16_t target_port = sc->via_socks5 ? 110 : port;
    pop3a_options *o = pop3a_options_new();
    if (!o) {
        sync_failure(r, "pop3a_options_new");
        return;
    }
    if (pop3a_options_set_tls(o, sc->tls, NULL) != 0 ||
        pop3a_options_allow_cleartext(o, sc->tls == POP3A_TLS_NONE) != 0 ||
        pop3a_options_set_ca(o, p3s_cert("ca.pem"), NULL) != 0 ||
        pop3a_options_set_timeouts(o, SESSION_TIMEOUT_MS, SESSION_TIMEOUT_MS) != 0 ||
        (sc->via_socks5 && pop3a_options_set_proxy(o, proxy_url) != 0) ||
        (sc->attach && pop3a_options_set_verify_name(o, "localhost") != 0)) {
        sync_failure(r, "pop3a_options_set_*");
        pop3a_options_free(o);
        return;
    }
    r->client = pop3a_client_new(r->base, NULL, o);
    pop3a_options_free(o);
    if (!r->client) {
        sync_failure(r, "pop3a_client_new");
        return;
    }
    pop3a_future *conn = sc->attach ? pop3a_attach(r->client, pair, on_done, &r->conn)
                                    : pop3a_connect(r->client, host, target_port, on_done, &r->conn);
    if (sc->attach && conn)
        r->pair = NULL; /* the client's now */
    if (submitted(r, &r->conn, "connect", conn) ||
        submitted(r, &r->login, "login",
                  pop3a_login(r->client, "alice", SASL_SRV_SECRET, sc->mech,
                              on_done, &r->login)) ||
        submitted(r, &r->list, "LIST", pop3a_list(r->client, 0, on_done, &r->list)) ||
        submitted(r, &r->uidl, "UIDL", pop3a_uidl(r->client, 0, on_done, &r->uidl)))
        return;
    static const uint32_t msgs[N_MSGS] = {1, 2, 3};
    size_t queued = pop3a_retr_many(r->client, msgs, N_MSGS, on_chunk, on_retr_done, r);
    for (size_t i = 0; i < queued; i++) {
        r->retr[msgs[i]].r = r;
        snprintf(r->retr[msgs[i]].what, sizeof r->retr[0].what, "RETR %" PRIu32, msgs[i]);
    }
    r->outstanding += (int)queued;
    if (queued < N_MSGS) {
        sync_failure(r, "pop3a_retr_many");
        return;
    }
    submitted(r, &r->top, "TOP", pop3a_top(r->client, 1, 0, on_top_chunk, on_done, &r->top));
}

/* Each future that was submitted completed once, with OK, NOMEM, or CLOSED
 * after a NOMEM; a clean run completed all of them with OK. */
static void check_futures(run *r, int fired)
{
    rec *all[] = {&r->conn,    &r->login,   &r->list,    &r->uidl,    &r->retr[1],
                  &r->retr[2], &r->retr[3], &r->top,     &r->dele[1], &r->dele[2],
                  &r->dele[3], &r->quit};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        rec *rc = all[i];
        if (!rc->r)
            continue; /* never submitted */
        if (rc->done_calls != 1 && !r->hung)
            violate(r, "%s: done callback ran %d times", rc->what, rc->done_calls);
        pop3a_status st = rc->status;
        if (rc->done_calls == 0 || st == POP3A_OK)
            continue;
        if (!fired)
            violate(r, "%s: %s with no failure injected", rc->what, pop3a_status_name(st));
        else if (st == POP3A_ERR_TIMEOUT)
            violate(r, "%s: ended by a timer (%s) though the failure was known", rc->what,
                    pop3a_status_name(st));
        else if (st != POP3A_ERR_NOMEM && st != POP3A_ERR_CLOSED)
            violate(r, "%s: %s, not NOMEM or CLOSED", rc->what, pop3a_status_name(st));
        else if (st == POP3A_ERR_CLOSED && !r->nomem_seen)
            violate(r, "%s: CLOSED but nothing reported NOMEM", rc->what);
    }
}

/* A clean run did the whole session: every message read whole. */
static void check_clean(run *r)
{
    if (p3s_error(r->srv) || !p3s_done(r->srv))
        violate(r, "script: %s", p3s_error(r->srv) ? p3s_error(r->srv) : "not done");
    for (int m = 1; m <= N_MSGS; m++)
        if (r->dele[m].done_calls != 1)
            violate(r, "message %d was not deleted", m);
    if (r->quit.done_calls != 1)
        violate(r, "QUIT did not complete");
    /* What RETR delivered: the body with its dot-stuffing undone (RFC 1939 s3). */
    char want[256];
    for (int m = 1; m <= N_MSGS; m++) {
        const char *b = torture_bodies[m];
        size_t n = 0;
        for (size_t i = 0; b[i]; i++)
            if (!(b[i] == '.' && i > 0 && b[i - 1] == '\n'))
                want[n++] = b[i];
        if (r->body_len[m] != n || memcmp(r->body[m], want, n) != 0)
            violate(r, "RETR %d delivered %zu octets, not the %zu of the message", m,
                    r->body_len[m], n);
    }
}

/* One session with failure point fail_at failing (0: none). Returns the number
 * of failure points it passed; *violation gets the first broken rule. */
/* What one run did. */
typedef struct {
    unsigned long points; /* failure points passed */
    int fired;            /* the armed one was among them */
    int completed;        /* the whole session still went through (a fallback) */
    char violation[512];  /* the first broken rule, or "" */
} outcome;

static void run_once(const scenario *sc, unsigned long fail_at, SSL_CTX *tls, outcome *out)
{
    run *r = calloc(1, sizeof *r);
    ck_assert_ptr_nonnull(r);
    r->base = event_base_new();
    ck_assert_ptr_nonnull(r->base);
    r->srv = p3s_new(r->base);
    ck_assert_ptr_nonnull(r->srv);
    r->resume = event_new(r->base, -1, 0, resume_cb, r);
    r->guard = evtimer_new(r->base, guard_cb, r);
    ck_assert(r->resume && r->guard);
    struct timeval guard = {HANG_GUARD_S * (time_t)time_scale(), 0};
    evtimer_add(r->guard, &guard);
    torture_script(r->srv, &r->scram, sc, tls);
    uint16_t port = 0;
    if (sc->attach) {
        r->pair = p3s_pair(r->srv);
        ck_assert_ptr_nonnull(r->pair);
    } else {
        port = p3s_listen(r->srv, "127.0.0.1");
        ck_assert_uint_ne(port, 0);
    }

    pop3a_torture_arm(fail_at);
    client_side(r, sc, port, r->pair);
    while (r->outstanding > 0 && !r->hung)
        event_base_loop(r->base, EVLOOP_ONCE);
    if (r->hung)
        violate(r, "hung: %d futures still pending after %d s", r->outstanding, HANG_GUARD_S);
    /* After QUIT's reply the server still closes: a few turns, no waiting. */
    for (int i = 0; i < 100 && !p3s_done(r->srv) && !p3s_error(r->srv); i++)
        event_base_loop(r->base, EVLOOP_NONBLOCK);
    int fired = pop3a_torture_fired();
    out->fired = fired;
    out->completed = p3s_done(r->srv) && !p3s_error(r->srv) && r->quit.status == POP3A_OK &&
                     r->quit.done_calls == 1;
    if (!fired && p3s_error(r->srv))
        violate(r, "script: %s", p3s_error(r->srv));
    check_futures(r, fired);
    if (!fired || out->completed)
        check_clean(r); /* a session that went through delivered the right bytes */
    pop3a_client_free(r->client);
    out->points = pop3a_torture_count();
    pop3a_torture_arm(0);

    if (r->paused)
        pop3a_future_unref(r->paused);
    if (r->pair)
        bufferevent_free(r->pair); /* pop3a_attach refused it: still ours */
    event_free(r->resume);
    event_free(r->guard);
    p3s_free(r->srv);
    event_base_free(r->base);
    snprintf(out->violation, sizeof out->violation, "%s", r->violation);
    free(r);
    if (!out->violation[0] && __lsan_do_recoverable_leak_check &&
        __lsan_do_recoverable_leak_check())
        snprintf(out->violation, sizeof out->violation, "leak (LeakSanitizer report above)");
}

/* The sweep of one scenario (_i): a clean run counts the failure points, then
 * each fails once. A few points past the count as well: a run may pass a few
 * more than the clean one when reads split differently. */
START_TEST(every_failure_point_fails_cleanly)
{
    const scenario *sc = &torture_scenarios[_i];
    if (getenv("POP3A_TORTURE_ROW") && env_ulong("POP3A_TORTURE_ROW", 0) != (unsigned long)_i)
        return;
    SSL_CTX *tls = p3s_tls_server_ctx("leaf");
    ck_assert_ptr_nonnull(tls);
    outcome o;
    run_once(sc, 0, tls, &o);
    ck_assert_msg(o.violation[0] == '\0', "%s, clean run: %s", sc->name, o.violation);
    ck_assert_uint_gt(o.points, 0);
    unsigned long total = o.points, completed = 0;
    unsigned long stride = env_ulong("POP3A_TORTURE_STRIDE", 1);
    unsigned long only = env_ulong("POP3A_TORTURE_ONLY", 0);
    unsigned long first = only ? only : 1, last = only ? only : total + 8, runs = 0, bad = 0;
    for (unsigned long n = first; n <= last; n += stride ? stride : 1) {
        run_once(sc, n, tls, &o);
        runs++;
        completed += o.fired && o.completed;
        if (o.fired && o.completed && getenv("POP3A_TORTURE_VERBOSE"))
            printf("%s, N=%lu: went through anyway\n", sc->name, n);
        if (o.violation[0]) {
            bad++;
            fprintf(stderr, "%s, N=%lu: %s\n", sc->name, n, o.violation);
        }
    }
    printf("torture %s: N_total=%lu, %lu runs (stride %lu), %lu completed the session "
           "anyway, %lu broke a rule\n",
           sc->name, total, runs, stride ? stride : 1, completed, bad);
    SSL_CTX_free(tls);
    ck_assert_msg(bad == 0, "%s: %lu of %lu runs broke a rule (see above)", sc->name, bad, runs);
}
END_TEST

int main(void)
{
    if (!p3s_certs_make()) {
        fprintf(stderr, "cannot make the test certificates (POP3A_MAKE_TEST_CERTS)\n");
        return EXIT_FAILURE;
    }
    Suite *s = suite_create("torture");
    TCase *tc = tcase_create("sweep");
    tcase_set_timeout(tc, 600.0 * time_scale());
    tcase_add_loop_test(tc, every_failure_point_fails_cleanly, 0,
                        (int)torture_n_scenarios);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    p3s_certs_remove();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
