/*
 * fetch-all: download every message of a POP3 maildrop into DIR/<n>.eml (usage()
 * below). Built by meson, or alone against an installed library; its .pc file has
 * libevent only in Requires.private and we call libevent too, so name it:
 *
 *   cc -O2 -o fetch-all fetch-all.c $(pkg-config --cflags --libs libpop3async libevent_core)
 *
 * connect, login, STAT, then RETRs queued in batches (pipelined by the library when
 * the server offers PIPELINING, RFC 2449 section 6.6). Each body streams through a
 * bounded buffer into DIR/.<n>.eml.tmp and becomes DIR/<n>.eml once complete and on
 * disk. With --delete, stored messages are marked with DELE in batches, each after
 * one directory fsync has made their names durable. QUIT comes last: it is what
 * makes the server remove marked messages (RFC 1939 section 6, UPDATE state).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* openat, renameat, fsync under -std=c11 */
#endif

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <pop3async/pop3async.h>

enum { EXIT_FAIL = 1, EXIT_USAGE = 2 };
#define SPOOL_BUF (64u * 1024u) /* write buffer: one write(2) for a typical message */
#define RETR_AHEAD 512u         /* RETRs queued ahead: bounds the futures held */
#define DELE_BATCH 64u          /* stored messages per directory fsync and run of DELEs */

struct args {
    const char *host, *user, *password_env, *out, *ca_file;
    const char *proxy; /* socks5h://... or socks5://..., NULL: direct */
    long port, timeout_s; /* port -1: the TLS mode's default; timeout 0: library's */
    pop3a_tls_mode tls;
    int allow_cleartext, delete_after;
};

/* The message being written. RETR bodies arrive one after the other, in
 * submission order, so one spool is enough. */
struct spool {
    uint32_t msg; /* 0: no file open */
    int fd;
    uint64_t bytes; /* body octets received */
    size_t used;    /* octets in buf not yet written */
    char buf[SPOOL_BUF];
};

struct fetch {
    const struct args *args;
    const char *password;
    struct event_base *base;
    pop3a_client *client;
    int dir_fd;
    uint32_t count;      /* messages, from STAT */
    int counted;         /* count is known (a session got through STAT) */
    uint32_t next_msg;   /* next message to queue a RETR for */
    uint32_t retrs_done; /* RETRs completed successfully */
    uint32_t stored_msg; /* last message durably stored, and its size */
    uint64_t stored_bytes;
    int failed;   /* the first failure was printed; exit non-zero */
    int finished; /* the loop was told to stop; later callbacks do nothing */
    int pipelined; /* the server offered PIPELINING, so the library used it */
    int quit_sent;
    int dele_sent;
    int retry;   /* the session was lost while pipelining: one more, without */
    int retried; /* this is that second session */
    int names_unsynced; /* renames not yet made durable by a directory fsync */
    struct spool spool;
    uint32_t batch[RETR_AHEAD];
    uint32_t unmarked[DELE_BATCH]; /* --delete: stored, DELE not sent yet */
    uint32_t n_unmarked;
};

/* ---------------------------------------------------------------- failure */

static void finish(struct fetch *f)
{
    f->finished = 1;
    event_base_loopbreak(f->base);
}

/*
 * Any failure ends the session at once, without QUIT. A session that ends without
 * QUIT never enters the UPDATE state, so the server deletes nothing (RFC 1939
 * section 6): not even the messages already stored and marked, which a rerun
 * fetches again under the same numbers. Only the first failure is printed; the
 * others are its consequences (a lost connection fails every pending command).
 */
static void fail(struct fetch *f, const char *what, const char *status, const char *text,
                 const char *detail)
{
    if (!f->failed) {
        fprintf(stderr, "fetch-all: %s: %s%s%s", what, status, text[0] ? " " : "", text);
        if (detail && detail[0] && strcmp(detail, text) != 0)
            fprintf(stderr, " (%s)", detail);
        fputc('\n', stderr);
    }
    f->failed = 1;
    finish(f);
}

/*
 * A server that advertises PIPELINING but breaks under it (drops the connection,
 * stalls, answers garbage) gets one more session with pipelining off, going on
 * from the first message not stored. Not once DELE and QUIT were both sent: the
 * server may have removed messages, and the numbers of the rest may have moved
 * (RFC 1939 section 6). The second session checks that STAT agrees.
 */
static int worth_retrying(const struct fetch *f, pop3a_status st)
{
    return f->pipelined && !f->retried && !(f->quit_sent && f->dele_sent) && !f->failed &&
           (st == POP3A_ERR_EOF || st == POP3A_ERR_IO || st == POP3A_ERR_TIMEOUT ||
            st == POP3A_ERR_PROTOCOL);
}

static void fail_future(struct fetch *f, const char *what, pop3a_future *fut)
{
    pop3a_status st = pop3a_future_status(fut);
    if (worth_retrying(f, st)) {
        fprintf(stderr, "fetch-all: %s: %s %s; retrying once without pipelining\n", what,
                pop3a_status_name(st), pop3a_future_text(fut));
        f->retry = 1;
        finish(f);
        return;
    }
    fail(f, what, pop3a_status_name(st), pop3a_future_text(fut), NULL);
}

/* A submit that returned NULL: it never calls back. */
static void fail_submit(struct fetch *f, const char *what)
{
    fail(f, what, pop3a_status_name(pop3a_client_error(f->client)),
         pop3a_client_errstr(f->client), NULL);
}

/* "RETR 7" and the like. */
static const char *cmd_name(char out[48], const char *cmd, uint32_t msg)
{
    snprintf(out, 48, "%s %" PRIu32, cmd, msg);
    return out;
}

/* ----------------------------------------------------- durable file store */

static void fail_file(struct fetch *f, const char *op, int err)
{
    char what[4096];
    snprintf(what, sizeof what, "%s %s/.%" PRIu32 ".eml.tmp", op, f->args->out, f->spool.msg);
    fail(f, what, strerror(err), "", NULL);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            errno = w == 0 ? EIO : errno;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void tmp_name(char out[32], uint32_t msg)
{
    snprintf(out, 32, ".%" PRIu32 ".eml.tmp", msg);
}

static int spool_open(struct fetch *f, uint32_t msg)
{
    char name[32];
    tmp_name(name, msg);
    f->spool.msg = msg;
    f->spool.bytes = f->spool.used = 0;
    /* O_TRUNC: a temp file left by a crashed run is garbage. O_NOFOLLOW: never
     * write through a symlink planted in DIR. 0600: mail is private. */
    f->spool.fd = openat(f->dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                         0600);
    return f->spool.fd < 0 ? -1 : 0;
}

/* Close and remove the temp file: a partial message never stays behind. */
static void spool_discard(struct fetch *f)
{
    char name[32];
    if (f->spool.fd >= 0) {
        close(f->spool.fd);
        tmp_name(name, f->spool.msg);
        unlinkat(f->dir_fd, name, 0);
    }
    f->spool.fd = -1;
    f->spool.msg = 0;
}

static int spool_flush(struct spool *sp)
{
    if (sp->used > 0 && write_all(sp->fd, sp->buf, sp->used) != 0)
        return -1;
    sp->used = 0;
    return 0;
}

static int spool_add(struct spool *sp, const char *data, size_t len)
{
    sp->bytes += len;
    if (len > SPOOL_BUF - sp->used && spool_flush(sp) != 0)
        return -1;
    if (len >= SPOOL_BUF) /* a big chunk goes straight through, uncopied */
        return write_all(sp->fd, data, len);
    memcpy(sp->buf + sp->used, data, len);
    sp->used += len;
    return 0;
}

/* The durability order: the data on disk (fsync), then the name (rename), then
 * the name on disk (fsync of the directory). A crash at any point leaves either
 * no <n>.eml or a complete one, and only after all three may the message be
 * deleted on the server. One directory fsync covers every rename before it, so
 * it is done once per DELE_BATCH messages with --delete (mark_stored) and once
 * at the end without: on a journalling file system each one is a journal
 * commit, far too slow to pay per message. */
static int sync_names(struct fetch *f)
{
    /* EINVAL: this file system cannot sync a directory; nothing better exists.
     * Any other error: the files are complete but not known durable, so the run
     * fails (and, with --delete, the message is not deleted). */
    if (fsync(f->dir_fd) != 0 && errno != EINVAL)
        return -1;
    f->names_unsynced = 0;
    return 0;
}

static int spool_commit(struct fetch *f)
{
    struct spool *sp = &f->spool;
    char tmp[32], final_name[32];
    tmp_name(tmp, sp->msg);
    snprintf(final_name, sizeof final_name, "%" PRIu32 ".eml", sp->msg);
    if (spool_flush(sp) != 0 || fsync(sp->fd) != 0)
        return -1; /* the caller discards the temp file */
    int rc = close(sp->fd);
    sp->fd = -1;
    if (rc != 0 || renameat(f->dir_fd, tmp, f->dir_fd, final_name) != 0) {
        unlinkat(f->dir_fd, tmp, 0);
        return -1;
    }
    f->names_unsynced = 1;
    f->stored_msg = sp->msg;
    f->stored_bytes = sp->bytes;
    sp->msg = 0;
    return 0;
}

/* ------------------------------------------------------------- the session */

static void on_retr(pop3a_client *c, pop3a_future *fut, void *arg);
static void on_dele(pop3a_client *c, pop3a_future *fut, void *arg);
static void on_quit(pop3a_client *c, pop3a_future *fut, void *arg);

static void queue_quit(struct fetch *f)
{
    f->quit_sent = 1;
    if (!pop3a_quit(f->client, on_quit, f))
        fail_submit(f, "QUIT");
}

static int on_chunk(pop3a_client *c, pop3a_future *fut, const char *data, size_t len,
                    int final, void *arg)
{
    struct fetch *f = arg;
    (void)c;
    if (f->finished)
        return POP3A_CHUNK_ABORT;
    /* Opened lazily: a RETR that fails before its first chunk leaves no file. */
    if (f->spool.fd < 0 && spool_open(f, pop3a_future_msg(fut)) != 0)
        fail_file(f, "open", errno);
    else if (spool_add(&f->spool, data, len) != 0)
        fail_file(f, "write", errno);
    else if (final && spool_commit(f) != 0)
        fail_file(f, "store", errno);
    else
        return POP3A_CHUNK_CONTINUE;
    /* Aborting closes the connection (a reply cannot be left halfway). */
    spool_discard(f);
    return POP3A_CHUNK_ABORT;
}

/* Keep up to RETR_AHEAD RETRs queued, topping up when half have completed, so each
 * pop3a_retr_many call hands the library a batch it can send in a few writes. */
static void queue_retrs(struct fetch *f)
{
    char what[48];
    uint32_t queued = f->next_msg - 1 - f->retrs_done, n = 0;
    if (f->next_msg > f->count || queued > RETR_AHEAD / 2)
        return;
    for (; queued + n < RETR_AHEAD && f->next_msg + n <= f->count; n++)
        f->batch[n] = f->next_msg + n;
    size_t ok = pop3a_retr_many(f->client, f->batch, n, on_chunk, on_retr, f);
    f->next_msg += (uint32_t)ok;
    if (ok < n)
        fail_submit(f, cmd_name(what, "RETR", f->next_msg));
    /* Without --delete nothing follows the last RETR: QUIT can go out with it. */
    else if (!f->args->delete_after && f->next_msg > f->count)
        queue_quit(f);
}

/* --delete: makes the names of the stored messages durable with one directory
 * fsync, then marks them all for deletion (pipelined when the server allows). */
static void mark_stored(struct fetch *f)
{
    char what[48];
    if (f->n_unmarked == 0)
        return;
    if (sync_names(f) != 0) {
        fail(f, "sync of the output directory", strerror(errno), "", NULL);
        return;
    }
    f->dele_sent = 1;
    size_t ok = pop3a_dele_many(f->client, f->unmarked, f->n_unmarked, on_dele, f);
    if (ok < f->n_unmarked)
        fail_submit(f, cmd_name(what, "DELE", f->unmarked[ok]));
    f->n_unmarked = 0;
}

/* --delete in a second session: the first one's DELEs were never committed (no
 * QUIT), so every message stored so far is marked again. */
static void mark_all_stored(struct fetch *f)
{
    f->n_unmarked = 0;
    for (uint32_t msg = 1; msg <= f->retrs_done && !f->finished; msg++) {
        f->unmarked[f->n_unmarked++] = msg;
        if (f->n_unmarked == DELE_BATCH)
            mark_stored(f);
    }
    mark_stored(f);
}

static void on_retr(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct fetch *f = arg;
    uint32_t msg = pop3a_future_msg(fut);
    char what[48];
    (void)c;
    cmd_name(what, "RETR", msg);
    if (f->finished)
        return;
    if (pop3a_future_status(fut) != POP3A_OK || f->stored_msg != msg) {
        spool_discard(f); /* a truncated body: its temp file goes */
        if (pop3a_future_status(fut) != POP3A_OK)
            fail_future(f, what, fut);
        else /* never count a message that had no final chunk */
            fail(f, what, "no final chunk", "", NULL);
        return;
    }
    f->retrs_done++;
    printf("%" PRIu32 " %" PRIu64 "\n", msg, f->stored_bytes);
    if (f->args->delete_after) {
        f->unmarked[f->n_unmarked++] = msg;
        if (f->n_unmarked == DELE_BATCH || f->retrs_done == f->count)
            mark_stored(f);
    }
    if (!f->finished)
        queue_retrs(f);
    /* With --delete, QUIT goes right behind the last DELE instead of after its
     * reply, saving a round trip. Should an earlier DELE fail, the server may
     * still get the QUIT and remove the others: each of those is stored. */
    if (f->args->delete_after && !f->finished && f->retrs_done == f->count)
        queue_quit(f);
}

static void on_dele(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct fetch *f = arg;
    char what[48];
    (void)c;
    if (!f->finished && pop3a_future_status(fut) != POP3A_OK)
        fail_future(f, cmd_name(what, "DELE", pop3a_future_msg(fut)), fut);
}

static void on_quit(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct fetch *f = arg;
    (void)c;
    if (f->finished)
        return;
    /* -ERR here means "some deleted messages not removed" (RFC 1939 section 6). */
    if (pop3a_future_status(fut) != POP3A_OK)
        fail_future(f, "QUIT", fut);
    finish(f);
}

static void on_stat(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct fetch *f = arg;
    uint32_t count;
    uint64_t octets;
    char text[96];
    (void)c;
    if (f->finished)
        return;
    if (pop3a_future_stat(fut, &count, &octets) != 0) {
        fail_future(f, "STAT", fut);
        return;
    }
    if (f->counted && count != f->count) {
        snprintf(text, sizeof text, "%" PRIu32 " messages now, %" PRIu32 " in the lost session",
                 count, f->count);
        fail(f, "STAT", "maildrop changed", text, NULL);
        return;
    }
    f->count = count;
    f->counted = 1;
    if (f->retried && f->args->delete_after)
        mark_all_stored(f);
    if (f->finished)
        return;
    if (f->next_msg > f->count) /* empty, or all stored by the lost session */
        queue_quit(f);
    else
        queue_retrs(f);
}

static void on_login(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct fetch *f = arg;
    if (f->finished)
        return;
    f->pipelined = (pop3a_capa_flags(pop3a_client_capa(c)) & POP3A_CAPA_PIPELINING) != 0;
    if (pop3a_future_status(fut) != POP3A_OK)
        fail_future(f, "login", fut);
    else if (!pop3a_stat(c, on_stat, f))
        fail_submit(f, "STAT");
}

static void on_connect(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct fetch *f = arg;
    if (f->finished)
        return;
    if (pop3a_future_status(fut) != POP3A_OK) /* the client's detail: OpenSSL reason... */
        fail(f, "connect", pop3a_status_name(pop3a_future_status(fut)),
             pop3a_future_text(fut), pop3a_client_errstr(c));
    else if (!pop3a_login(c, f->args->user, f->password, 0, on_login, f))
        fail_submit(f, "login");
}

/* ------------------------------------------------------------ command line */

static void usage(FILE *to)
{
    fputs("usage: fetch-all --host H [--port P] --user U --password-env VAR --out DIR\n"
          "                 [--tls none|stls|implicit] [--ca-file F] [--allow-cleartext]\n"
          "                 [--delete] [--timeout SECONDS] [--proxy URL]\n"
          "Stores each message as DIR/<n>.eml and prints \"<n> <bytes>\"; the password\n"
          "comes from the environment variable VAR; --tls defaults to implicit (port 995;\n"
          "110 otherwise); --delete removes each message from the server once it is on\n"
          "disk; --proxy connects through a SOCKS5 proxy, socks5h://[user:pass@]host:port\n"
          "(the proxy resolves --host) or socks5://... (resolved here); TLS is checked\n"
          "against --host. Exit status: 0 every message stored, 1 failure, 2 usage error.\n",
          to);
}

static int parse_number(const char *s, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Returns -1 to go on, or the exit status (0 after --help, EXIT_USAGE). */
static int parse_args(int argc, char **argv, struct args *a)
{
    const char *port = NULL, *timeout = NULL, *tls = "implicit";
    struct { const char *name, **value; } opts[] = {
        {"--host", &a->host}, {"--user", &a->user}, {"--password-env", &a->password_env},
        {"--out", &a->out}, {"--ca-file", &a->ca_file}, {"--port", &port},
        {"--timeout", &timeout}, {"--tls", &tls}, {"--proxy", &a->proxy}};
    size_t nopts = sizeof opts / sizeof opts[0];
    *a = (struct args){.port = -1};
    for (int i = 1; i < argc; i++) {
        size_t k = 0;
        if (!strcmp(argv[i], "--help"))
            return usage(stdout), 0;
        if (!strcmp(argv[i], "--delete")) {
            a->delete_after = 1;
            continue;
        }
        if (!strcmp(argv[i], "--allow-cleartext")) {
            a->allow_cleartext = 1;
            continue;
        }
        while (k < nopts && strcmp(argv[i], opts[k].name) != 0)
            k++;
        if (k == nopts || i + 1 == argc) {
            fprintf(stderr, "fetch-all: %s: unknown option or missing value\n", argv[i]);
            return EXIT_USAGE;
        }
        *opts[k].value = argv[++i];
    }
    if (!strcmp(tls, "none") || !strcmp(tls, "stls") || !strcmp(tls, "implicit"))
        a->tls = tls[0] == 'n' ? POP3A_TLS_NONE
                 : tls[0] == 's' ? POP3A_TLS_STLS : POP3A_TLS_IMPLICIT;
    else
        return fprintf(stderr, "fetch-all: --tls: bad value \"%s\"\n", tls), EXIT_USAGE;
    if ((port && parse_number(port, 65535, &a->port) != 0) ||
        (timeout && parse_number(timeout, 4000000, &a->timeout_s) != 0)) /* ms fit 32 bits */
        return fputs("fetch-all: bad --port or --timeout value\n", stderr), EXIT_USAGE;
    if (!a->host || !a->user || !a->password_env || !a->out) {
        fputs("fetch-all: --host, --user, --password-env and --out are required\n", stderr);
        return usage(stderr), EXIT_USAGE;
    }
    if (a->port < 0)
        a->port = a->tls == POP3A_TLS_IMPLICIT ? 995 : 110;
    if (a->proxy) { /* the library's own check, so a bad URL is a usage error */
        pop3a_options *probe = pop3a_options_new();
        int bad = !probe || pop3a_options_set_proxy(probe, a->proxy) != 0;
        pop3a_options_free(probe);
        if (bad) /* the URL itself is not printed: it may hold the proxy's password */
            return fputs("fetch-all: --proxy: not a socks5h:// or socks5:// URL with a port\n",
                         stderr), EXIT_USAGE;
    }
    return -1;
}

static pop3a_client *make_client(struct fetch *f)
{
    const struct args *a = f->args;
    pop3a_options *opts = pop3a_options_new();
    pop3a_client *client = NULL;
    uint32_t ms = (uint32_t)a->timeout_s * 1000u; /* 0 keeps the library default */
    if (opts && pop3a_options_set_tls(opts, a->tls, NULL) == 0 &&
        (!a->ca_file || pop3a_options_set_ca(opts, a->ca_file, NULL) == 0) &&
        pop3a_options_allow_cleartext(opts, a->allow_cleartext) == 0 &&
        pop3a_options_set_timeouts(opts, ms, ms) == 0 &&
        (!a->proxy || pop3a_options_set_proxy(opts, a->proxy) == 0) &&
        (!f->retried || pop3a_options_set_pipelining(opts, 1) == 0))
        client = pop3a_client_new(f->base, NULL, opts);
    pop3a_options_free(opts);
    return client;
}

/* One session, until finish(). Dropping the connection without QUIT after a
 * failure is what keeps the server from deleting anything (see fail()). Pending
 * futures complete with POP3A_ERR_CLOSED when the client goes; their callbacks
 * see `finished` and do nothing. */
static void run_session(struct fetch *f)
{
    const struct args *a = f->args;
    f->finished = 0;
    f->client = make_client(f);
    if (!f->client)
        fail(f, "client", "cannot set up the client (out of memory?)", "", NULL);
    else if (!pop3a_connect(f->client, a->host, (uint16_t)a->port, on_connect, f))
        fail_submit(f, "connect");
    else if (event_base_dispatch(f->base) != 0 || !f->finished) /* not by finish() */
        fail(f, "session", "event loop ended early", "", NULL);
    f->finished = 1;
    pop3a_client_free(f->client);
    f->client = NULL;
    /* libevent frees a TLS filter's socket bufferevent from the loop (a
     * finalizer): one more turn lets it go before event_base_free. */
    event_base_loop(f->base, EVLOOP_NONBLOCK);
    spool_discard(f); /* a message cut off by a failure */
}

int main(int argc, char **argv)
{
    static struct fetch f; /* static: it holds the 64 KiB spool buffer */
    struct args args;
    int rc = parse_args(argc, argv, &args);
    if (rc >= 0)
        return rc;
    f.args = &args;
    f.next_msg = 1;
    f.spool.fd = -1;
    f.password = getenv(args.password_env); /* never printed */
    if (!f.password || !f.password[0]) {
        fprintf(stderr, "fetch-all: --password-env %s: variable not set or empty\n",
                args.password_env);
        return EXIT_USAGE;
    }
    f.dir_fd = open(args.out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (f.dir_fd < 0) {
        fprintf(stderr, "fetch-all: --out %s: %s\n", args.out, strerror(errno));
        return EXIT_FAIL;
    }
    signal(SIGPIPE, SIG_IGN); /* a server that hangs up must give EPIPE, not kill us */
    /* On a terminal, each line as its message is stored; into a pipe or file,
     * one write for many lines (a write per message showed in the profile). */
    if (isatty(STDOUT_FILENO))
        setvbuf(stdout, NULL, _IOLBF, 0);

    f.base = event_base_new();
    if (!f.base) {
        fputs("fetch-all: cannot set up the event loop (out of memory?)\n", stderr);
        close(f.dir_fd);
        return EXIT_FAIL;
    }
    run_session(&f);
    if (f.retry) { /* messages 1..retrs_done are stored: go on after them */
        f.retry = 0;
        f.retried = 1;
        f.next_msg = f.retrs_done + 1;
        run_session(&f);
    }
    rc = f.failed || f.retry ? EXIT_FAIL : 0;
    if (rc == 0 && f.names_unsynced && sync_names(&f) != 0) {
        fprintf(stderr, "fetch-all: sync %s: %s\n", args.out, strerror(errno));
        rc = EXIT_FAIL;
    }
    if (f.base)
        event_base_free(f.base);
    close(f.dir_fd);
    return fflush(stdout) == 0 ? rc : EXIT_FAIL;
}
