/*
 * bench-client: sessions built on libpop3async, for the benchmark cases that
 * examples/fetch-all cannot run (issue 5): a session with pipelining off, many
 * sessions on one event_base, and idle sessions whose memory is measured.
 *
 *   bench-client --host H --port P (--user U --password-env VAR | --load A B)
 *                [--mode fetch|idle] [--sessions N] [--pipelining W] [--shared-dns]
 *                [--timeout SECONDS] [--trace] [--tls-ca FILE [--shared-tls-ctx]]
 *
 * fetch (default): each session connects (plain TCP), logs in the way fetch-all
 *   does (strongest mechanism offered), STATs, queues RETR for every message with
 *   pop3a_retr_many and QUIT behind them; bodies are counted, not stored. Prints
 *   "sessions N errors E messages M bytes B wall S peak_rss_kib K cpu_s C
 *   fds_leaked F" (C: this process's user + system CPU; F: descriptors open after
 *   every client is freed minus those open before the first was made).
 * idle: one session is logged in first (it pays for every one-time set-up), its
 *   RSS taken, then N more are opened and logged in and left idle. Prints
 *   "sessions N rss_first_kib R1 rss_kib RN per_session_bytes X errors E".
 * --load A B: users loadA..loadB with passwords pwA..pwB (the harness's load
 *   users, zero-padded to 3 digits), assigned to the sessions round-robin.
 * --pipelining W: the library's window (1 = off); without it, the library's
 *   default window, the one fetch-all uses. --shared-dns: one evdns_base for
 *   every client instead of the library making one per client. --trace: the
 *   protocol trace on stderr with timestamps (to count round trips).
 * --tls-ca FILE: implicit TLS (POP3S), the server's certificate verified against
 *   the CA in FILE (the name check against --host); without --shared-tls-ctx each
 *   client makes its own SSL_CTX from the options, as the library does by
 *   default; with it one SSL_CTX (TLS 1.2 or later, peer verified against FILE)
 *   is shared by all, as a daemon with many sessions would.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <sys/resource.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <pop3async/pop3async.h>

#include "bench_util.h"

struct config {
    const char *host, *user, *password;
    const char *tls_ca; /* --tls-ca: implicit TLS */
    int shared_tls_ctx;
    uint16_t port;
    unsigned long load_first, load_last; /* 0: --user */
    unsigned long sessions, timeout_s;
    unsigned long window; /* 0: not set, the library's default */
    int idle, shared_dns, trace;
};

struct run;

struct session {
    struct run *run;
    pop3a_client *client;
    char user[32], password[32];
    uint32_t count, retrs_done;
    uint64_t bytes;
    int finished; /* logged in (idle) or QUIT answered / failed (fetch) */
};

struct run {
    const struct config *cfg;
    struct event_base *base;
    struct evdns_base *dns;
    struct session *sessions;
    unsigned long started, finished, errors;
    unsigned long target; /* sessions that must finish before the loop stops */
    uint32_t *msgs;       /* 1..n, for pop3a_retr_many */
    uint32_t msgs_cap;
};

static void session_done(struct session *s, int ok, const char *what, pop3a_future *fut)
{
    if (s->finished)
        return;
    s->finished = 1;
    if (!ok) {
        s->run->errors++;
        if (s->run->errors <= 5)
            fprintf(stderr, "bench-client: %s %s: %s %s\n", s->user, what,
                    fut ? pop3a_status_name(pop3a_future_status(fut))
                        : pop3a_status_name(pop3a_client_error(s->client)),
                    fut ? pop3a_future_text(fut) : pop3a_client_errstr(s->client));
    }
    if (++s->run->finished >= s->run->target)
        event_base_loopbreak(s->run->base);
}

static int on_chunk(pop3a_client *c, pop3a_future *fut, const char *data, size_t len,
                    int final, void *arg)
{
    struct session *s = arg;
    (void)c;
    (void)fut;
    (void)data;
    (void)final;
    s->bytes += len;
    return POP3A_CHUNK_CONTINUE;
}

static void on_retr(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct session *s = arg;
    (void)c;
    if (pop3a_future_status(fut) != POP3A_OK)
        session_done(s, 0, "RETR", fut);
    else
        s->retrs_done++;
}

static void on_quit(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct session *s = arg;
    (void)c;
    session_done(s, pop3a_future_status(fut) == POP3A_OK && s->retrs_done == s->count, "QUIT",
                 fut);
}

static int grow_msgs(struct run *r, uint32_t count)
{
    if (count <= r->msgs_cap)
        return 0;
    uint32_t *n = realloc(r->msgs, count * sizeof *n);
    if (!n)
        return -1;
    for (uint32_t i = r->msgs_cap; i < count; i++)
        n[i] = i + 1;
    r->msgs = n;
    r->msgs_cap = count;
    return 0;
}

static void on_stat(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct session *s = arg;
    uint64_t octets;
    if (pop3a_future_stat(fut, &s->count, &octets) != 0) {
        session_done(s, 0, "STAT", fut);
        return;
    }
    if (grow_msgs(s->run, s->count) != 0 ||
        pop3a_retr_many(c, s->run->msgs, s->count, on_chunk, on_retr, s) != s->count ||
        !pop3a_quit(c, on_quit, s))
        session_done(s, 0, "RETR/QUIT submit", NULL);
}

static void on_login(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct session *s = arg;
    if (pop3a_future_status(fut) != POP3A_OK)
        session_done(s, 0, "login", fut);
    else if (s->run->cfg->idle)
        session_done(s, 1, "login", fut);
    else if (!pop3a_stat(c, on_stat, s))
        session_done(s, 0, "STAT submit", NULL);
}

static void on_connect(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct session *s = arg;
    if (pop3a_future_status(fut) != POP3A_OK)
        session_done(s, 0, "connect", fut);
    else if (!pop3a_login(c, s->user, s->password, 0, on_login, s))
        session_done(s, 0, "login submit", NULL);
}

/* --trace: every line sent and received, with milliseconds since the start, so
 * the round trips of a session can be counted. */
static double trace_t0;

static void on_trace(pop3a_client *c, pop3a_trace_dir dir, const char *line, size_t len,
                     void *arg)
{
    static const char *const arrows[] = {"C:", "S:", "--"};
    (void)c;
    (void)arg;
    fprintf(stderr, "%8.1f ms %s %.*s\n", (bench_now() - trace_t0) * 1e3, arrows[dir],
            (int)(len > 100 ? 100 : len), line);
}

/* --shared-tls-ctx: the context a daemon would make once for all its sessions. */
static SSL_CTX *make_shared_ctx(const char *ca_file)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx && SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
        SSL_CTX_load_verify_locations(ctx, ca_file, NULL) == 1) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        return ctx;
    }
    SSL_CTX_free(ctx);
    return NULL;
}

static int set_transport(pop3a_options *o, const struct config *cfg)
{
    if (!cfg->tls_ca)
        return pop3a_options_set_tls(o, POP3A_TLS_NONE, NULL) != 0 ||
               pop3a_options_allow_cleartext(o, 1) != 0;
    if (!cfg->shared_tls_ctx)
        return pop3a_options_set_tls(o, POP3A_TLS_IMPLICIT, NULL) != 0 ||
               pop3a_options_set_ca(o, cfg->tls_ca, NULL) != 0;
    SSL_CTX *ctx = make_shared_ctx(cfg->tls_ca);
    int bad = !ctx || pop3a_options_set_tls(o, POP3A_TLS_IMPLICIT, ctx) != 0;
    SSL_CTX_free(ctx); /* the options hold their own reference */
    return bad;
}

/* Descriptors open in this process (for the leak check). */
static long open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    long n = 0;
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static pop3a_options *make_options(const struct config *cfg)
{
    pop3a_options *o = pop3a_options_new();
    uint32_t ms = (uint32_t)cfg->timeout_s * 1000u;
    if (o && (set_transport(o, cfg) ||
              (cfg->window && pop3a_options_set_pipelining(o, (uint32_t)cfg->window) != 0) ||
              pop3a_options_set_timeouts(o, ms, ms) != 0 ||
              (cfg->trace && pop3a_options_set_trace(o, on_trace, NULL) != 0))) {
        pop3a_options_free(o);
        return NULL;
    }
    return o;
}

static int start_session(struct run *r, struct session *s, unsigned long index,
                         const pop3a_options *opts)
{
    const struct config *cfg = r->cfg;
    s->run = r;
    if (cfg->load_first) {
        unsigned long n = cfg->load_first + index % (cfg->load_last - cfg->load_first + 1);
        snprintf(s->user, sizeof s->user, "load%03lu", n);
        snprintf(s->password, sizeof s->password, "pw%03lu", n);
    } else {
        snprintf(s->user, sizeof s->user, "%s", cfg->user);
        snprintf(s->password, sizeof s->password, "%s", cfg->password);
    }
    s->client = pop3a_client_new(r->base, r->dns, opts);
    if (!s->client || !pop3a_connect(s->client, cfg->host, cfg->port, on_connect, s)) {
        session_done(s, 0, "connect submit", NULL);
        return -1;
    }
    r->started++;
    return 0;
}

/* Starts sessions [from, to) and runs the loop until they have all finished. */
static void run_sessions(struct run *r, unsigned long from, unsigned long to,
                         const pop3a_options *opts)
{
    r->target = r->finished + (to - from);
    for (unsigned long i = from; i < to; i++)
        start_session(r, &r->sessions[i], i, opts);
    if (r->finished < r->target)
        event_base_dispatch(r->base);
}

static void usage(void)
{
    fputs("usage: bench-client --host H --port P (--user U --password-env VAR | --load A B)\n"
          "                    [--mode fetch|idle] [--sessions N] [--pipelining W]\n"
          "                    [--shared-dns] [--timeout SECONDS] [--trace]\n"
          "                    [--tls-ca FILE [--shared-tls-ctx]]\n"
          "--pipelining W: window of W commands in flight (1 = off); default: the\n"
          "library's own window, as examples/fetch-all uses.\n",
          stderr);
    exit(2);
}

static void parse_args(int argc, char **argv, struct config *cfg)
{
    const char *password_env = NULL;
    *cfg = (struct config){.sessions = 1, .timeout_s = 120};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--shared-dns") || !strcmp(a, "--trace") ||
            !strcmp(a, "--shared-tls-ctx")) {
            *(!strcmp(a, "--trace")        ? &cfg->trace
              : !strcmp(a, "--shared-dns") ? &cfg->shared_dns
                                           : &cfg->shared_tls_ctx) = 1;
            continue;
        }
        if (!v)
            usage();
        i++;
        if (!strcmp(a, "--host"))
            cfg->host = v;
        else if (!strcmp(a, "--port"))
            cfg->port = (uint16_t)bench_number(v, "--port", 1, 65535);
        else if (!strcmp(a, "--user"))
            cfg->user = v;
        else if (!strcmp(a, "--password-env"))
            password_env = v;
        else if (!strcmp(a, "--load") && i + 1 < argc) {
            cfg->load_first = bench_number(v, "--load A", 1, 999);
            cfg->load_last = bench_number(argv[++i], "--load B", cfg->load_first, 999);
        } else if (!strcmp(a, "--mode") && (!strcmp(v, "idle") || !strcmp(v, "fetch")))
            cfg->idle = v[0] == 'i';
        else if (!strcmp(a, "--sessions"))
            cfg->sessions = bench_number(v, "--sessions", 1, 100000);
        else if (!strcmp(a, "--pipelining"))
            cfg->window = bench_number(v, "--pipelining", 1, 1u << 20);
        else if (!strcmp(a, "--tls-ca"))
            cfg->tls_ca = v;
        else if (!strcmp(a, "--timeout"))
            cfg->timeout_s = bench_number(v, "--timeout", 1, 3600);
        else
            usage();
    }
    if (password_env)
        cfg->password = getenv(password_env);
    if (!cfg->host || !cfg->port || (!cfg->load_first && (!cfg->user || !cfg->password)) ||
        (cfg->shared_tls_ctx && !cfg->tls_ca))
        usage();
}

int main(int argc, char **argv)
{
    struct config cfg;
    struct run r = {.cfg = &cfg};
    parse_args(argc, argv, &cfg);
    signal(SIGPIPE, SIG_IGN);
    long fds_before = open_fds();
    trace_t0 = bench_now();
    r.base = event_base_new();
    /* No resolv.conf needed: every host here is numeric. */
    r.dns = r.base && cfg.shared_dns ? evdns_base_new(r.base, 0) : NULL;
    pop3a_options *opts = make_options(&cfg);
    unsigned long total = cfg.sessions + (cfg.idle ? 1 : 0);
    r.sessions = calloc(total, sizeof *r.sessions);
    if (!r.base || (cfg.shared_dns && !r.dns) || !opts || !r.sessions) {
        fputs("bench-client: set-up failed\n", stderr);
        return 1;
    }
    int rc;
    double wall = 0;
    if (cfg.idle) {
        run_sessions(&r, 0, 1, opts); /* pays for the one-time set-up */
        long rss_first = bench_rss_kib();
        run_sessions(&r, 1, total, opts);
        long rss_all = bench_rss_kib();
        printf("sessions %lu rss_first_kib %ld rss_kib %ld per_session_bytes %.0f errors %lu\n",
               cfg.sessions, rss_first, rss_all,
               (double)(rss_all - rss_first) * 1024.0 / (double)cfg.sessions, r.errors);
        rc = r.errors ? 1 : 0;
    } else {
        double t0 = bench_now();
        run_sessions(&r, 0, total, opts);
        wall = bench_now() - t0;
        rc = r.errors ? 1 : 0;
    }
    uint64_t msgs = 0, bytes = 0;
    for (unsigned long i = 0; i < total; i++) {
        msgs += r.sessions[i].retrs_done;
        bytes += r.sessions[i].bytes;
        pop3a_client_free(r.sessions[i].client);
    }
    pop3a_options_free(opts);
    free(r.sessions);
    free(r.msgs);
    if (r.dns)
        evdns_base_free(r.dns, 0);
    event_base_free(r.base);
    long fds_leaked = open_fds() - fds_before;
    if (!cfg.idle)
        printf("sessions %lu errors %lu messages %" PRIu64 " bytes %" PRIu64
               " wall %.3f peak_rss_kib %ld cpu_s %.3f fds_leaked %ld\n",
               cfg.sessions, r.errors, msgs, bytes, wall, bench_peak_rss_kib(), cpu_seconds(),
               fds_leaked);
    return fds_leaked ? 1 : rc;
}
