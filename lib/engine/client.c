/*
 * Client lifecycle, the submission queue and the rules for starting and
 * completing futures (see client_internal.h for the two-queue model).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>

#include "alloc.h"
#include "client_internal.h"
#include "session.h"
#include "tls.h"

static void kick_cb(evutil_socket_t fd, short what, void *arg);
static void client_destroy(pop3a_client *c);

POP3A_EXPORT pop3a_client *pop3a_client_new(struct event_base *base, struct evdns_base *dns,
                                            const pop3a_options *opts)
{
    if (!base)
        return NULL;
    /* OpenSSL's lazy initialisation, failing later for lack of memory,
     * crashes in OpenSSL (tls.h); failing here, it is a NULL client. */
    if (pop3a_tls_first_use() != 0)
        return NULL;
    pop3a_client *c = pop3a_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->base = base;
    c->dns = dns;
    if (opts) {
        if (pop3a_options_copy(&c->opts, opts) != 0) {
            pop3a_free(c);
            return NULL;
        }
        pop3a_tls_share_default_ctx(&c->opts, opts);
    } else {
        pop3a_options_defaults(&c->opts);
    }
    pop3a_parser_init(&c->parser, c->opts.max_line);
    pop3a_capa_init(&c->capa);
    c->state = POP3A_ST_DISCONNECTED;
    c->verify_result = -1;
    c->kick = POP3A_MAY_FAIL(event_new(base, -1, 0, kick_cb, c), NULL);
    if (!c->kick) {
        pop3a_options_release(&c->opts);
        pop3a_free(c);
        return NULL;
    }
    return c;
}

POP3A_EXPORT void pop3a_client_free(pop3a_client *c)
{
    if (!c || c->freeing)
        return;
    c->freeing = 1;
    /* Inside a callback the frames above us still use c: the outermost one
     * tears down (pop3a_leave). */
    if (c->depth == 0)
        client_destroy(c);
}

/* The connection goes, the client stays: what is pending learns CLOSED. */
static void disconnect_now(pop3a_client *c)
{
    c->disconnecting = 0;
    pop3a_enter(c);
    pop3a_fail_connection(c, POP3A_ERR_CLOSED, "disconnected by the caller");
    pop3a_leave(c);
}

POP3A_EXPORT int pop3a_client_disconnect(pop3a_client *c)
{
    if (!c || c->freeing)
        return -1;
    /* As pop3a_client_free: inside a callback the frames above us still use
     * the transport, so the outermost one drops it (pop3a_leave); nothing more
     * is read or started meanwhile. */
    if (c->depth > 0)
        c->disconnecting = 1;
    else
        disconnect_now(c);
    return 0;
}

POP3A_EXPORT void pop3a_client_set_close_cb(pop3a_client *c, pop3a_close_cb cb, void *arg)
{
    if (!c)
        return;
    c->close_cb = cb;
    c->close_arg = arg;
}

POP3A_EXPORT pop3a_status pop3a_client_error(const pop3a_client *c)
{
    return c ? c->err : POP3A_ERR_INVALID;
}

POP3A_EXPORT const char *pop3a_client_errstr(const pop3a_client *c)
{
    if (!c)
        return "no client";
    return c->errstr[0] ? c->errstr : pop3a_strerror(c->err);
}

POP3A_EXPORT long pop3a_client_tls_verify_result(const pop3a_client *c)
{
    return c ? c->verify_result : -1;
}

POP3A_EXPORT const pop3a_capa *pop3a_client_capa(const pop3a_client *c)
{
    return c ? &c->capa : NULL;
}

POP3A_EXPORT int pop3a_client_is_tls(const pop3a_client *c)
{
    return c ? c->tls_up : 0;
}

POP3A_EXPORT const char *pop3a_client_apop_timestamp(const pop3a_client *c)
{
    return c ? c->apop_ts : NULL;
}

void pop3a_set_error(pop3a_client *c, pop3a_status st, const char *fmt, ...)
{
    c->err = st;
    if (!fmt) {
        c->errstr[0] = '\0';
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errstr, sizeof c->errstr, fmt, ap);
    va_end(ap);
}

void pop3a_trace(pop3a_client *c, pop3a_trace_dir dir, const char *line, size_t len)
{
    if (c->opts.trace)
        c->opts.trace(c, dir, line, len, c->opts.trace_arg);
}

size_t pop3a_listing_cap(const pop3a_client *c)
{
    /* RFC 1939 s5: the maildrop is locked and its messages numbered for the
     * session, deleted ones not listed: a listing never has more entries than
     * STAT counted. A server that claims billions is still held to max_listing. */
    if (c->has_maildrop_count && c->maildrop_count < c->opts.max_listing)
        return c->maildrop_count;
    return c->opts.max_listing;
}

int pop3a_may_submit(pop3a_client *c)
{
    if (!c)
        return 0;
    if (c->freeing) { /* contract 6: submits from teardown callbacks return NULL */
        pop3a_set_error(c, POP3A_ERR_CLOSED, "the client is being freed");
        return 0;
    }
    return 1;
}

void pop3a_enter(pop3a_client *c)
{
    c->depth++;
}

void pop3a_leave(pop3a_client *c)
{
    if (--c->depth > 0)
        return;
    if (c->disconnecting && !c->freeing) {
        disconnect_now(c); /* its own leave tears down if a callback freed c */
        return;
    }
    if (c->freeing)
        client_destroy(c);
}

void pop3a_kick(pop3a_client *c)
{
    event_active(c->kick, EV_TIMEOUT, 0);
}

/* ------------------------------------------------------------- the queue */

/* Appends f; the caller has checked arguments. Work starts on a later loop turn
 * (contract 1: never call back from inside a submit). */
void pop3a_enqueue(pop3a_client *c, pop3a_future *f)
{
    /* A submit that worked: pop3a_client_error speaks of failures since. */
    c->err = POP3A_OK;
    c->errstr[0] = '\0';
    if (c->tail)
        c->tail->next = f;
    else
        c->head = f;
    c->tail = f;
    if (!c->next_start)
        c->next_start = f;
    pop3a_kick(c);
}

static void unlink_head(pop3a_client *c, pop3a_future *f)
{
    c->head = f->next;
    if (c->tail == f)
        c->tail = NULL;
    if (c->next_start == f)
        c->next_start = f->next;
    f->next = NULL;
}

int pop3a_complete(pop3a_client *c, pop3a_future *f, pop3a_status st)
{
    unlink_head(c, f);
    if (f->cancelled && st == POP3A_OK)
        st = POP3A_ERR_CANCELLED;
    f->status = st;
    f->phase = POP3A_FUT_DONE;
    if (st == POP3A_OK && f->has_stat) {
        c->maildrop_count = f->stat_count;
        c->has_maildrop_count = 1;
    }
    if (f->op->cleanup)
        f->op->cleanup(f);
    /* A failure after "+OK message follows" (the connection dropped mid-body)
     * says why it failed, not what the server promised. The reason is the
     * future's own (set where it failed, see fail_pending), never the client's
     * last error: that may belong to another command or an older connection. */
    if (st != POP3A_OK && (!f->text || f->text_is_ok_line)) {
        const char *why = pop3a_strerror(st);
        pop3a_future_set_text(f, why, strlen(why));
    }
    if (f->paused) {
        f->paused = 0;
        c->reading_paused = 0;
    }
    if (f->done_cb)
        f->done_cb(c, f, f->arg);
    f->client = NULL;
    pop3a_future_release(f);
    return c->freeing ? -1 : 0;
}

/* Fails every future that is pending now (not ones submitted from the
 * callbacks this calls: a reconnect submitted there must survive), each with
 * `why` as its text unless it has its own reason already. */
static void fail_pending(pop3a_client *c, pop3a_status st, const char *why)
{
    pop3a_future *last = c->tail;
    while (c->head) {
        pop3a_future *f = c->head;
        pop3a_status fst = f->cancelled ? POP3A_ERR_CANCELLED : st;
        int was_last = f == last; /* f may be freed by pop3a_complete */
        if (fst == st && (!f->text || f->text_is_ok_line))
            pop3a_future_set_text(f, why, strlen(why));
        pop3a_complete(c, f, fst);
        if (was_last)
            break;
    }
}

static void close_transport(pop3a_client *c)
{
    pop3a_uninstall_bev(c);
    if (c->bev) {
        bufferevent_free(c->bev); /* BEV_OPT_CLOSE_ON_FREE: socket and SSL go too */
        c->bev = NULL;
    }
    c->ssl = NULL;
    c->tls_up = 0;
    c->reading_paused = 0;
    c->timeouts_armed = 0;
    if (c->progress_timer)
        event_del(c->progress_timer);
    c->eof_pending = 0;
    c->replies_len = 0;
    c->replies_head = 0;
    c->window_draining = 0;
    c->quit_started = 0;
    pop3a_parser_free(&c->parser);
    pop3a_parser_init(&c->parser, c->opts.max_line);
    pop3a_body_reset(c);
    pop3a_free(c->apop_ts);
    c->apop_ts = NULL;
    c->has_maildrop_count = 0;
    c->state = POP3A_ST_DISCONNECTED;
}

void pop3a_close_quietly(pop3a_client *c)
{
    close_transport(c);
}

void pop3a_fail_connection(pop3a_client *c, pop3a_status st, const char *why)
{
    int was_connected = c->bev != NULL;
    /* A copy: why may live in what closing frees, and c->errstr changes when a
     * done callback below makes a submit fail. */
    char reason[sizeof c->errstr];
    snprintf(reason, sizeof reason, "%s", why ? why : pop3a_strerror(st));
    pop3a_set_error(c, st, "%s", reason);
    close_transport(c);
    fail_pending(c, st, reason);
    if (was_connected && !c->freeing && c->close_cb)
        c->close_cb(c, st, c->close_arg);
    if (!c->freeing)
        pop3a_kick(c); /* futures submitted from those callbacks */
}

static void client_destroy(pop3a_client *c)
{
    static const char why[] = "client freed";
    c->depth++; /* done callbacks below may call pop3a_client_free again */
    pop3a_set_error(c, POP3A_ERR_CLOSED, "%s", why);
    while (c->head) {
        pop3a_future *f = c->head;
        if (!f->text || f->text_is_ok_line)
            pop3a_future_set_text(f, why, sizeof why - 1);
        pop3a_complete(c, f, POP3A_ERR_CLOSED);
    }
    close_transport(c);
    if (c->kick)
        event_free(c->kick);
    if (c->progress_timer)
        event_free(c->progress_timer);
    if (c->own_dns && c->dns)
        evdns_base_free(c->dns, 0);
    if (c->ssl_ctx)
        SSL_CTX_free(c->ssl_ctx);
    pop3a_parser_free(&c->parser);
    pop3a_capa_clear(&c->capa);
    pop3a_free(c->replies);
    pop3a_options_release(&c->opts);
    pop3a_free(c);
}

/* ------------------------------------------------------- starting futures */

/* Whether everything already started may overlap with more commands. Only a
 * pipelinable command is ever started while others run (may_overlap), and a
 * non-pipelinable one only starts alone; so the head, the oldest started
 * future, decides for all of them. O(1): a window of thousands stays cheap. */
static int all_active_pipelinable(const pop3a_client *c)
{
    const pop3a_future *h = c->head;
    if (h && h == c->held)
        h = h->next; /* answered already (body_end.c): what follows it decides */
    if (!h || h == c->next_start)
        return 1; /* nothing started */
    return !h->op->multi_step && pop3a_cmd_get(h->cmd)->pipelinable;
}

/*
 * The window, with hysteresis: once `pipeline_window` replies are owed nothing
 * more is written until half of them are in, then the window fills again in one
 * go. Refilling a slot per reply would cost a small write, and a write event
 * through the loop, for every reply of a long batch.
 */
static int window_has_room(pop3a_client *c)
{
    uint32_t w = c->opts.pipeline_window;
    if (c->window_draining && c->replies_len > w / 2)
        return 0;
    c->window_draining = c->replies_len >= w;
    return !c->window_draining;
}

/* RFC 2449 s6.6: with PIPELINING a client may send commands without waiting; we
 * only overlap commands that cannot change the session state, after login. QUIT
 * is the one exception: it changes the state only by ending the session, so it
 * may close a batch (saving a round trip at the end of every fetch) as long as
 * nothing is ever written after it. */
static int may_overlap(pop3a_client *c, const pop3a_future *f)
{
    if (f->op->multi_step || c->quit_started)
        return 0;
    int ends_batch = f->cmd == POP3A_CMD_QUIT;
    return (pop3a_cmd_get(f->cmd)->pipelinable || ends_batch) &&
           (c->capa.flags & POP3A_CAPA_PIPELINING) && c->opts.pipeline_window > 1 &&
           c->state == POP3A_ST_TRANSACTION && all_active_pipelinable(c) &&
           window_has_room(c);
}

static void start(pop3a_client *c, pop3a_future *f)
{
    c->next_start = f->next;
    f->phase = POP3A_FUT_ACTIVE;
    f->op->start(c, f);
}

void pop3a_pump(pop3a_client *c)
{
    if (c->disconnecting)
        return; /* nothing new goes out on a connection about to be dropped */
    pop3a_future *h = c->head;
    if (h && h->cancelled && h->op->multi_step && h->phase == POP3A_FUT_ACTIVE) {
        /* A connection half set up, or half logged in, is of no use to anyone
         * (the server may be waiting for PASS): drop it. */
        char why[64];
        snprintf(why, sizeof why, "%s cancelled", h->op->name);
        pop3a_fail_connection(c, POP3A_ERR_CLOSED, why);
        return;
    }
    while (!c->freeing && c->next_start) {
        pop3a_future *f = c->next_start;
        int alone = f == c->head; /* nothing earlier is still running */
        /* A body held until the next reply proves its end (body_end.c) is
         * answered: what follows it may start, its reply being that proof. */
        int after_held = c->held && c->held == c->head && f == c->head->next;
        if (f->cancelled || f->local_status != POP3A_OK) {
            if (!alone)
                return; /* complete in submission order */
            if (pop3a_complete(c, f, f->cancelled ? POP3A_ERR_CANCELLED : f->local_status) < 0)
                return;
            continue;
        }
        if (alone || after_held) {
            pop3a_status st = f->op->may_start(c, f);
            if (st != POP3A_OK) {
                f->local_status = st;
                continue;
            }
            start(c, f);
            continue;
        }
        if (!may_overlap(c, f))
            return;
        if (f->op->may_start(c, f) != POP3A_OK) /* completes in order once it is alone */
            return;
        start(c, f);
    }
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
    pop3a_client *c = arg;
    pop3a_enter(c);
    pop3a_process_input(c);
    if (!c->freeing)
        pop3a_after_resume(c);
    if (!c->freeing)
        pop3a_pump(c);
    pop3a_leave(c);
}
