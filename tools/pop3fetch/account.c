/* One account's fetch session (account.h). */
#include "account.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sysexits.h>

#include <event2/event.h>
#include <pop3async/pop3async.h>

#include "client_options.h"
#include "exitcode.h"
#include "plan.h"
#include "progress.h"
#include "secrets.h"
#include "state.h"
#include "store.h"

#define RETR_AHEAD 256u /* RETRs queued ahead of the one being read */
#define BATCH 64u       /* delivered messages per sync + state commit + DELE run */

struct account {
    const struct settings *s;
    const struct globals *g;
    struct event_base *base;
    account_done_fn done_fn;
    void *done_arg;
    char key[600]; /* user@host:port: the state's and the tags' account key */
    struct timeval t0, t1;

    char *secret;
    struct secret_job *secret_job; /* a password/token command running */
    struct state *state;
    struct store *store;
    pop3a_client *client;
    pop3a_future *uidl; /* ref'd until LIST is in */
    int no_uidl;        /* UIDL refused: fetch everything */
    struct plan plan;

    size_t next;   /* next todo index to queue a RETR for */
    size_t cur;    /* todo index of the RETR being read */
    int delivered; /* cur's message is committed to the store */
    /* An async store (MDA) may still be committing cur's message when its
     * RETR completes: the message counts once both are in. */
    int committing, retr_done;
    uint64_t retr_octets;
    pop3a_future *paused; /* the RETR paused while the store is backlogged */
    uint32_t pending_msgs[BATCH]; /* delivered, not yet synced/recorded/marked */
    const char *pending_uids[BATCH];
    size_t n_pending;
    uint32_t batch[RETR_AHEAD];
    uint32_t n_deleted_ok; /* DELEs answered +OK; they count once QUIT is */

    int pipelined; /* the server offered PIPELINING, so the library used it */
    int64_t login_delay; /* the server's CAPA LOGIN-DELAY in seconds, -1 unknown */
    int quit_sent;
    int retried; /* this is the second session, without pipelining */
    uint32_t n_new, n_deleted;
    uint64_t bytes;
    int started, finished, exit_code;
    int stopped; /* account_stop(): abandoned, not failed */
    char error[1024];
};

/* ---------------------------------------------------------------- the end */

static void on_done_later(evutil_socket_t fd, short what, void *arg)
{
    struct account *a = arg;
    (void)fd;
    (void)what;
    a->done_fn(a, a->done_arg);
}

/*
 * Ends the session. Without QUIT (any failure) the server deletes nothing.
 * Freeing the client is safe from its callbacks; pending futures then fail
 * with POP3A_ERR_CLOSED and see `finished`. The done callback runs on a later
 * loop turn, after the library has unwound.
 */
static void finish(struct account *a)
{
    static const struct timeval now = {0, 0};
    if (a->finished)
        return;
    a->finished = 1;
    gettimeofday(&a->t1, NULL);
    a->paused = NULL; /* failed with the client */
    pop3a_client_free(a->client);
    a->client = NULL;
    secret_free(a->secret);
    a->secret = NULL;
    secret_job_free(a->secret_job);
    a->secret_job = NULL;
    if (a->uidl)
        pop3a_future_unref(a->uidl);
    a->uidl = NULL;
    store_close(a->store);
    a->store = NULL;
    state_close(a->state);
    a->state = NULL;
    if (event_base_once(a->base, -1, EV_TIMEOUT, on_done_later, a, &now) != 0)
        a->done_fn(a, a->done_arg);
}

static void fail(struct account *a, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Messages delivered before a failure are recorded (not deleted): the next
 * run must not fetch them again. Best effort: the failure is already the
 * account's outcome. */
static void record_delivered(struct account *a)
{
    if (a->n_pending == 0 || !a->store || !a->state || a->plan.by_number)
        return;
    if (store_sync(a->store) == 0)
        state_record(a->state, a->pending_uids, a->n_pending);
    a->n_pending = 0;
}

static void fail(struct account *a, int code, const char *fmt, ...)
{
    va_list ap;
    if (a->finished)
        return;
    va_start(ap, fmt);
    vsnprintf(a->error, sizeof a->error, fmt, ap);
    va_end(ap);
    a->exit_code = code ? code : EX_SOFTWARE;
    record_delivered(a);
    finish(a);
}

static void retry_without_pipelining(struct account *a);
static void warn(const struct account *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * A server that offers PIPELINING but breaks under it (drops the
 * connection, stalls, answers garbage) gets one more session without it.
 * Not once QUIT went out (the server may have deleted and renumbered), nor
 * when going by message numbers (what was delivered is not recorded).
 */
static int worth_retrying(const struct account *a, pop3a_status st)
{
    return a->pipelined && !a->retried && !a->quit_sent && !a->plan.by_number &&
           (st == POP3A_ERR_EOF || st == POP3A_ERR_IO || st == POP3A_ERR_TIMEOUT ||
            st == POP3A_ERR_PROTOCOL);
}

/* A command that failed: what, where, the status name and the server's text. */
static void fail_future(struct account *a, const char *what, pop3a_future *f)
{
    pop3a_status st = pop3a_future_status(f);
    if (worth_retrying(a, st)) {
        warn(a, "%s at %s:%ld: %s %s; retrying once without pipelining", what, a->s->host,
             a->s->port, pop3a_status_name(st), pop3a_future_text(f));
        retry_without_pipelining(a);
        return;
    }
    const char *text = pop3a_future_text(f);
    /* For a failed connect the client has more (OpenSSL's reason...). */
    const char *detail = a->client && strncmp(what, "connect", 7) == 0
                             ? pop3a_client_errstr(a->client) : "";
    int more = detail[0] && strcmp(detail, text) != 0;
    fail(a, exit_for_status(st, pop3a_future_resp_code(f)), "%s at %s:%ld: %s%s%s%s%s%s", what,
         a->s->host, a->s->port, pop3a_status_name(st), text[0] ? " " : "", text,
         more ? " (" : "", more ? detail : "", more ? ")" : "");
}

static void fail_submit(struct account *a, const char *what)
{
    pop3a_status st = pop3a_client_error(a->client);
    fail(a, exit_for_status(st, POP3A_RESP_NONE), "%s at %s:%ld: %s %s", what, a->s->host,
         a->s->port, pop3a_status_name(st), pop3a_client_errstr(a->client));
}

static void fail_delivery(struct account *a, const char *detail)
{
    fail(a, EX_IOERR, "delivery to %s: %s (nothing deleted on the server)", a->s->target,
         detail);
}

static void verbose(const struct account *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void verbose(const struct account *a, const char *fmt, ...)
{
    char line[1200];
    va_list ap;
    if (!a->g->verbose)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    say(1, "pop3fetch: %s: %s\n", a->s->name, line);
}

static void warn(const struct account *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void warn(const struct account *a, const char *fmt, ...)
{
    char line[1200];
    va_list ap;
    if (a->g->quiet)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    say(1, "pop3fetch: %s: warning: %s\n", a->s->name, line);
}

/* ----------------------------------------------------------- the session */

static int on_chunk(pop3a_client *c, pop3a_future *f, const char *data, size_t len, int final,
                    void *arg);
static void on_retr(pop3a_client *c, pop3a_future *f, void *arg);
static void on_dele(pop3a_client *c, pop3a_future *f, void *arg);
static void on_quit(pop3a_client *c, pop3a_future *f, void *arg);

static const struct item *todo_item(const struct account *a, size_t i)
{
    return &a->plan.items[a->plan.todo[i]];
}

/* A callback of a client we let go (finished, or replaced by a retry). */
static int stale(const struct account *a, const pop3a_client *c)
{
    return a->finished || c != a->client;
}

/* The session ended (finished, or dropped for a retry): stop using it. */
static int gone(const struct account *a)
{
    return a->finished || !a->client;
}

static void queue_quit(struct account *a)
{
    a->quit_sent = 1;
    if (!pop3a_quit(a->client, on_quit, a))
        fail_submit(a, "QUIT");
}

/*
 * The delivered messages of this batch: their names durable (one fsync of
 * the Maildir's new/), then their UIDLs (one state transaction), and only
 * then DELE, so a message leaves the server only once nothing can lose it.
 */
static void flush_batch(struct account *a)
{
    if (a->n_pending == 0)
        return;
    if (store_sync(a->store) != 0) {
        fail_delivery(a, a->store->err);
        return;
    }
    if (!a->plan.by_number && state_record(a->state, a->pending_uids, a->n_pending) != 0) {
        fail(a, EX_IOERR, "recording the state: %s (nothing deleted on the server)",
             state_error(a->state));
        return;
    }
    if (a->s->delete_after) {
        size_t ok = pop3a_dele_many(a->client, a->pending_msgs, a->n_pending, on_dele, a);
        if (ok < a->n_pending) {
            fail_submit(a, "DELE");
            return;
        }
    }
    a->n_pending = 0;
}

static void add_pending(struct account *a, const struct item *it)
{
    a->pending_msgs[a->n_pending] = it->msg;
    a->pending_uids[a->n_pending] = it->uid;
    if (++a->n_pending == BATCH)
        flush_batch(a);
}

/* Keeps up to RETR_AHEAD RETRs queued, topping up once half are done, so the
 * library gets batches it can pipeline in a few writes. An async store (an
 * MDA) gets one at a time: the next message is asked for once the last one
 * is settled, so no transfer waits on a busy MDA with its data unread. */
static void queue_retrs(struct account *a)
{
    size_t queued = a->next - a->cur, n = 0, ahead = a->store->async ? 1 : RETR_AHEAD;
    if (a->next >= a->plan.n_todo || queued > ahead / 2)
        return;
    for (; queued + n < ahead && a->next + n < a->plan.n_todo; n++)
        a->batch[n] = todo_item(a, a->next + n)->msg;
    size_t ok = pop3a_retr_many(a->client, a->batch, n, on_chunk, on_retr, a);
    a->next += ok;
    if (ok < n)
        fail_submit(a, "RETR");
}

static int on_chunk(pop3a_client *c, pop3a_future *f, const char *data, size_t len, int final,
                    void *arg)
{
    struct account *a = arg;
    (void)c;
    (void)f;
    if (stale(a, c))
        return POP3A_CHUNK_ABORT;
    const struct item *it = todo_item(a, a->cur);
    if (!a->store->open && store_begin(a->store, it->tag[0] ? it->tag : NULL) != 0)
        goto failed;
    if (len > 0 && store_write(a->store, data, len) != 0)
        goto failed;
    if (final) {
        int rc = store_commit(a->store);
        if (rc < 0)
            goto failed;
        if (rc == STORE_PENDING)
            a->committing = 1;
        else
            a->delivered = 1;
        return POP3A_CHUNK_CONTINUE;
    }
    if (a->store->backlogged) { /* until the store says READY */
        a->paused = f;
        return POP3A_CHUNK_PAUSE;
    }
    return POP3A_CHUNK_CONTINUE;
failed:
    store_abort(a->store);
    fail_delivery(a, a->store->err);
    return POP3A_CHUNK_ABORT; /* closes the connection: no QUIT, nothing deleted */
}

/* cur's message is in the store and its RETR done: count it, batch it for
 * the state and DELE, and go on. */
static void message_delivered(struct account *a, uint64_t octets)
{
    const struct item *it = todo_item(a, a->cur);
    a->delivered = 0;
    a->n_new++;
    a->bytes += octets;
    verbose(a, "message %" PRIu32 " (%s): %" PRIu64 " bytes delivered", it->msg,
            it->uid ? it->uid : "no UIDL", octets);
    a->cur++;
    add_pending(a, it);
    if (gone(a))
        return;
    if (a->cur == a->plan.n_todo) {
        flush_batch(a);
        if (!gone(a))
            queue_quit(a);
        return;
    }
    queue_retrs(a);
}

static void on_retr(pop3a_client *c, pop3a_future *f, void *arg)
{
    struct account *a = arg;
    char what[48];
    (void)c;
    if (stale(a, c))
        return;
    snprintf(what, sizeof what, "RETR %" PRIu32, pop3a_future_msg(f));
    if (pop3a_future_status(f) == POP3A_OK && a->committing) {
        a->retr_done = 1; /* the store's STORE_EV_COMMITTED finishes it */
        a->retr_octets = pop3a_future_octets(f);
        return;
    }
    if (pop3a_future_status(f) != POP3A_OK || !a->delivered) {
        store_abort(a->store);
        a->committing = 0;
        if (pop3a_future_status(f) != POP3A_OK)
            fail_future(a, what, f);
        else
            fail(a, EX_SOFTWARE, "%s: no final chunk", what);
        return;
    }
    message_delivered(a, pop3a_future_octets(f));
}

/* From an async store (the MDA), on the loop. */
static void on_store_event(void *arg, int event)
{
    struct account *a = arg;
    pop3a_future *paused = a->paused;
    if (a->finished)
        return;
    switch (event) {
    case STORE_EV_READY:
        a->paused = NULL;
        if (paused)
            pop3a_future_resume(paused);
        return;
    case STORE_EV_FAILED:
        a->committing = a->retr_done = 0;
        fail_delivery(a, a->store->err);
        return;
    case STORE_EV_COMMITTED:
        a->committing = 0;
        a->delivered = 1;
        if (a->retr_done) {
            a->retr_done = 0;
            message_delivered(a, a->retr_octets);
        }
        return;
    }
}

static void on_dele(pop3a_client *c, pop3a_future *f, void *arg)
{
    struct account *a = arg;
    char what[48];
    (void)c;
    if (stale(a, c))
        return;
    if (pop3a_future_status(f) != POP3A_OK) {
        snprintf(what, sizeof what, "DELE %" PRIu32, pop3a_future_msg(f));
        fail_future(a, what, f);
        return;
    }
    a->n_deleted_ok++;
}

/* After a clean session: rows of messages no longer on the server go. A
 * failure only costs a bigger state, so it is a warning. */
static void prune_state(struct account *a)
{
    const char **uids;
    if (a->plan.by_number || !(uids = malloc((a->plan.n ? a->plan.n : 1) * sizeof *uids)))
        return;
    for (size_t i = 0; i < a->plan.n; i++)
        uids[i] = a->plan.items[i].uid;
    if (state_prune(a->state, uids, a->plan.n) != 0)
        warn(a, "could not forget old UIDLs: %s", state_error(a->state));
    free(uids);
}

static void on_quit(pop3a_client *c, pop3a_future *f, void *arg)
{
    struct account *a = arg;
    (void)c;
    if (stale(a, c))
        return;
    /* -ERR: some deletions were not done (RFC 1939 section 6). */
    if (pop3a_future_status(f) != POP3A_OK) {
        fail_future(a, "QUIT", f);
        return;
    }
    a->n_deleted = a->n_deleted_ok;
    prune_state(a);
    finish(a);
}

/* Both listings are in: pick the messages, record what a killed run had
 * already delivered, and start the RETRs. */
static void start_fetching(struct account *a, pop3a_future *list)
{
    char err[600];
    int oom;
    const char *why = plan_listings(&a->plan, list, a->uidl, a->key, &oom);
    if (a->uidl)
        pop3a_future_unref(a->uidl);
    a->uidl = NULL;
    if (oom) {
        fail(a, EX_OSERR, "out of memory");
        return;
    }
    if (a->no_uidl == 1)
        warn(a, "the server has no UIDL: fetching every message%s",
             a->s->delete_after ? "" : " (again each run, as it cannot tell them apart)");
    else if (why)
        warn(a, "%s: a server bug; going by message numbers this session, fetching all", why);
    if (plan_select(&a->plan, a->state, a->store, a->s->all, a->s->delete_after, err,
                    sizeof err) != 0) {
        fail(a, EX_IOERR, "%s", err);
        return;
    }
    verbose(a, "%zu messages, %zu to fetch (%" PRIu64 " bytes), %zu delivered before",
            a->plan.n, a->plan.n_todo, a->plan.todo_bytes, a->plan.n_found);
    for (size_t i = 0; i < a->plan.n_found && !gone(a); i++) {
        const struct item *it = &a->plan.items[a->plan.found[i]];
        verbose(a, "message %" PRIu32 " (%s) was delivered before: %s", it->msg, it->uid,
                a->s->delete_after ? "deleting it" : "recording it");
        add_pending(a, it);
    }
    if (gone(a))
        return;
    if (a->plan.n_todo == 0) {
        flush_batch(a);
        if (!gone(a))
            queue_quit(a);
        return;
    }
    queue_retrs(a);
}

static void on_list(pop3a_client *c, pop3a_future *f, void *arg)
{
    struct account *a = arg;
    (void)c;
    if (stale(a, c))
        return;
    if (pop3a_future_status(f) != POP3A_OK)
        fail_future(a, "LIST", f);
    else
        start_fetching(a, f);
}

static void on_uidl(pop3a_client *c, pop3a_future *f, void *arg)
{
    struct account *a = arg;
    (void)c;
    if (stale(a, c))
        return;
    switch (pop3a_future_status(f)) {
    case POP3A_OK:
        a->uidl = pop3a_future_ref(f);
        return;
    case POP3A_ERR_SERVER: /* -ERR: UIDL is optional (RFC 1939 section 7) */
        a->no_uidl = 1;
        return;
    case POP3A_ERR_PROTOCOL: /* a malformed line (over-long unique-id...) */
        warn(a, "UIDL: %s: a server bug; going by message numbers this session, fetching all",
             pop3a_future_text(f));
        a->no_uidl = 2;
        return;
    default:
        fail_future(a, "UIDL", f);
    }
}

/* RFC 2449 section 6.5: the least time between logins, which a daemon's next
 * poll must respect (read after login too, as the value may differ there). */
static void note_login_delay(struct account *a, const pop3a_capa *capa)
{
    if (capa && (pop3a_capa_flags(capa) & POP3A_CAPA_LOGIN_DELAY))
        a->login_delay = pop3a_capa_login_delay(capa);
}

static void on_login(pop3a_client *c, pop3a_future *f, void *arg)
{
    struct account *a = arg;
    if (stale(a, c))
        return;
    a->pipelined = (pop3a_capa_flags(pop3a_client_capa(c)) & POP3A_CAPA_PIPELINING) != 0;
    note_login_delay(a, pop3a_client_capa(c));
    if (pop3a_future_status(f) != POP3A_OK) {
        fail_future(a, "login", f);
        return;
    }
    verbose(a, "logged in%s", pop3a_client_is_tls(c) ? " over TLS" : "");
    /* Both at once: pipelined when the server allows. */
    if (!pop3a_uidl(c, 0, on_uidl, a))
        fail_submit(a, "UIDL");
    else if (!pop3a_list(c, 0, on_list, a))
        fail_submit(a, "LIST");
}

static void on_connect(pop3a_client *c, pop3a_future *f, void *arg)
{
    struct account *a = arg;
    pop3a_future *login;
    if (stale(a, c))
        return;
    if (pop3a_future_status(f) != POP3A_OK) {
        /* The proxy's URL is not named: it may hold its password. */
        fail_future(a, a->s->proxy ? "connect (through the SOCKS5 proxy)" : "connect", f);
        return;
    }
    note_login_delay(a, pop3a_client_capa(c));
    if (a->s->oauth_token_cmd)
        login = pop3a_login_oauth(c, a->s->user, a->secret, 0, on_login, a);
    else
        login = pop3a_login(c, a->s->user, a->secret, 0, on_login, a);
    if (!login)
        fail_submit(a, "login");
}

/* --------------------------------------------------------------- set up */

/* The state and the store; 0 or -1 after fail(). */
static int open_state_and_store(struct account *a)
{
    const struct settings *s = a->s;
    char err[600];
    int busy;
    char *path = s->state ? strdup(s->state) : state_default_path(a->key);
    if (!path) {
        fail(a, EX_OSERR, "out of memory");
        return -1;
    }
    a->state = state_open(path, &busy, err, sizeof err);
    free(path);
    if (!a->state) {
        fail(a, busy ? EX_TEMPFAIL : EX_CANTCREAT, "%s", err);
        return -1;
    }
    if (!(a->store = store_open(s, a->base, err, sizeof err))) {
        fail(a, EX_CANTCREAT, "%s", err);
        return -1;
    }
    a->store->notify = on_store_event;
    a->store->notify_arg = a;
    return 0;
}

static void start_session(struct account *a);

/* The secret is in: everything else before the network, then connect. */
static void secret_ready(struct account *a)
{
    if (open_state_and_store(a) == 0)
        start_session(a);
}

static void on_secret(void *arg, char *secret, const char *err)
{
    struct account *a = arg;
    secret_job_free(a->secret_job);
    a->secret_job = NULL;
    if (!secret) {
        fail(a, EX_CONFIG, "%s", err);
        return;
    }
    a->secret = secret;
    secret_ready(a);
}

/* A command runs from the loop (other accounts go on meanwhile); a file or
 * a variable is read at once. */
static void get_secret(struct account *a)
{
    char err[600];
    if (secret_is_command(a->s)) {
        a->secret_job = secret_cmd_start(a->base, a->s, on_secret, a, err, sizeof err);
        if (!a->secret_job)
            fail(a, EX_CONFIG, "%s", err);
        return;
    }
    if (!(a->secret = secret_get(a->s, err, sizeof err))) {
        fail(a, EX_CONFIG, "%s", err);
        return;
    }
    secret_ready(a);
}

/* A client (without pipelining on a retry) and its connect. */
static void start_session(struct account *a)
{
    const struct settings *s = a->s;
    pop3a_options *o = client_options(s, a->g->trace, a->retried);
    if (!o) {
        fail(a, EX_OSERR, "cannot set up the connection options (out of memory?)");
        return;
    }
    a->client = pop3a_client_new(a->base, NULL, o);
    pop3a_options_free(o);
    if (!a->client) {
        fail(a, EX_OSERR, "cannot set up the client (out of memory?)");
        return;
    }
    verbose(a, "connecting to %s:%ld%s%s", a->s->host, a->s->port,
            a->s->proxy ? " through a SOCKS5 proxy" : "",
            a->retried ? " (without pipelining)" : "");
    if (!pop3a_connect(a->client, a->s->host, (uint16_t)a->s->port, on_connect, a))
        fail_submit(a, "connect");
}

static void on_retry_later(evutil_socket_t fd, short what, void *arg)
{
    struct account *a = arg;
    (void)fd;
    (void)what;
    if (!a->finished) /* account_stop() may have come in between */
        start_session(a);
}

/* Keeps what was delivered (recorded now), lets the client go and starts
 * again on a later loop turn, once the library has unwound. The state then
 * skips what the first session delivered (or, with --delete, deletes it). */
static void retry_without_pipelining(struct account *a)
{
    static const struct timeval now = {0, 0};
    record_delivered(a);
    store_abort(a->store);
    pop3a_client_free(a->client);
    a->client = NULL; /* its pending callbacks are stale from now on */
    if (a->uidl)
        pop3a_future_unref(a->uidl);
    a->uidl = NULL;
    plan_free(&a->plan);
    a->no_uidl = 0;
    a->next = a->cur = a->n_pending = 0;
    a->delivered = a->committing = a->retr_done = 0;
    a->paused = NULL;
    a->n_deleted_ok = 0;
    a->pipelined = 0;
    a->retried = 1;
    if (event_base_once(a->base, -1, EV_TIMEOUT, on_retry_later, a, &now) != 0)
        fail(a, EX_OSERR, "cannot schedule the retry (out of memory?)");
}

struct account *account_new(struct event_base *base, const struct settings *s,
                            const struct globals *g, account_done_fn done, void *arg)
{
    struct account *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    *a = (struct account){.s = s, .g = g, .base = base, .done_fn = done, .done_arg = arg,
                          .login_delay = -1};
    snprintf(a->key, sizeof a->key, "%s@%s:%ld", s->user, s->host, s->port);
    return a;
}

void account_start(struct account *a)
{
    a->started = 1;
    gettimeofday(&a->t0, NULL);
    get_secret(a);
}

/*
 * Abandons the session safely: the message being read is dropped (its tmp
 * file removed), what was delivered is made durable and recorded, and the
 * connection closes without QUIT, so the server deletes nothing this session
 * (RFC 1939 section 6); DELEs already sent are sent again by the next run,
 * which finds those messages in the state. Not a failure: exit 0.
 */
void account_stop(struct account *a)
{
    if (!a->started || a->finished)
        return;
    store_abort(a->store); /* an MDA still running is killed: not delivered */
    a->delivered = a->committing = a->retr_done = 0;
    record_delivered(a);
    a->stopped = 1;
    verbose(a, "stopped: the session ends without QUIT, nothing deleted this time");
    finish(a);
}

int64_t account_login_delay(const struct account *a)
{
    return a->login_delay;
}

int account_exit(const struct account *a)
{
    return a->exit_code;
}

const char *account_name(const struct account *a)
{
    return a->s->name;
}

void account_summary(const struct account *a, char *out, size_t size)
{
    double s = (double)(a->t1.tv_sec - a->t0.tv_sec) + (a->t1.tv_usec - a->t0.tv_usec) / 1e6;
    int n = 0;
    if (a->exit_code)
        n = snprintf(out, size, "%s: error: %s; ", a->s->name, a->error);
    else if (a->stopped)
        n = snprintf(out, size, "%s: stopped (nothing deleted this session): ", a->s->name);
    else
        n = snprintf(out, size, "%s: ", a->s->name);
    if (n < 0 || (size_t)n >= size)
        return;
    snprintf(out + n, size - (size_t)n, "%" PRIu32 " new, %" PRIu64 " bytes, %" PRIu32
             " deleted, %.1f s", a->n_new, a->bytes, a->n_deleted, s);
}

void account_get_progress(const struct account *a, struct account_progress *p)
{
    *p = (struct account_progress){.msgs_done = (uint32_t)a->cur,
                                   .msgs_total = (uint32_t)a->plan.n_todo,
                                   .bytes_done = a->bytes,
                                   .bytes_total = a->plan.todo_bytes,
                                   .started = a->started,
                                   .finished = a->finished};
}

void account_free(struct account *a)
{
    if (!a)
        return;
    if (!a->finished) { /* never started, or torn down early */
        pop3a_client_free(a->client);
        store_close(a->store);
        state_close(a->state);
        secret_job_free(a->secret_job);
        if (a->uidl)
            pop3a_future_unref(a->uidl);
    }
    plan_free(&a->plan);
    secret_free(a->secret);
    free(a);
}
