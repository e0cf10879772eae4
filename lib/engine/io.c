/*
 * The libevent side of a session: writing command lines, reading replies through
 * the pure parser, handing results to the futures, pause/resume, timeouts and the
 * transport's events.
 *
 * Data path: each read callback peeks the input's first contiguous span, feeds it
 * to the parser and hands body spans to the chunk callback straight from
 * libevent's buffer (no copy), then drains what was consumed.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "alloc.h"
#include "client_internal.h"
#include "session.h"
#include "sock_bio.h"
#include "tls.h"

/* Our own reads (read_waiting_bytes, read_waiting_records) stop when this
 * much is buffered, so a burst holds bounded memory. (Settable at build time
 * only for tests/session/test_tls_high_water.c, which needs it small.) */
#ifndef POP3A_READ_HIGH_WATER
#define POP3A_READ_HIGH_WATER (512u * 1024u)
#endif
/* Large reads: a 2 MiB message is a handful of read(2) calls, not hundreds. */
#define POP3A_MAX_SINGLE_READ (256 * 1024)
/* Under TLS libevent reserves its max_single_read in the input buffer before
 * each SSL_read, which returns one record (16 KiB at most): 256 KiB there meant
 * a 512 KiB evbuffer chain per session that had received a byte, kept while a
 * partial line waited in it (issue 14 s5). One record's room, as one chain of
 * 16 KiB with libevent's chain header. */
#define POP3A_TLS_MAX_SINGLE_READ (16 * 1024 - 512)
/* Octets per second below which an unfinished reply counts as stalled
 * (progress_cb): far below any real link, above a 1-byte-per-second loris. */
#define POP3A_MIN_RATE 8u

static void on_read(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

/* ------------------------------------------------------------ reply ring */

static int replies_push(pop3a_client *c, pop3a_future *f, pop3a_expect expect, int tag)
{
    if (c->replies_len == c->replies_cap) {
        size_t ncap = c->replies_cap ? c->replies_cap * 2 : 16;
        pop3a_reply_slot *n = pop3a_malloc(ncap * sizeof *n);
        if (!n)
            return -1;
        for (size_t i = 0; i < c->replies_len; i++)
            n[i] = c->replies[(c->replies_head + i) % c->replies_cap];
        pop3a_free(c->replies);
        c->replies = n;
        c->replies_cap = ncap;
        c->replies_head = 0;
    }
    pop3a_reply_slot *s = &c->replies[(c->replies_head + c->replies_len) % c->replies_cap];
    s->f = f;
    s->expect = expect;
    s->tag = tag;
    c->replies_len++;
    return 0;
}

static pop3a_reply_slot replies_pop(pop3a_client *c)
{
    pop3a_reply_slot s = c->replies[c->replies_head];
    c->replies_head = (c->replies_head + 1) % c->replies_cap;
    c->replies_len--;
    return s;
}

/* ------------------------------------------------------------- transport */

struct timeval pop3a_ms_to_tv(uint32_t ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    return tv;
}

/*
 * Slow-loris defence. The idle timeout only bounds silence: a server trickling
 * a byte every few seconds would keep a reply open for ever. So while a reply
 * is owed, every idle_ms period must either complete a reply or bring at least
 * POP3A_MIN_RATE octets per second of it; otherwise the session times out.
 */
static uint64_t min_progress(const pop3a_client *c)
{
    uint64_t n = (uint64_t)c->opts.idle_ms * POP3A_MIN_RATE / 1000;
    return n ? n : 1;
}

static void progress_cb(evutil_socket_t fd, short what, void *arg)
{
    pop3a_client *c = arg;
    pop3a_enter(c);
    if (c->progress_replies == 0 && c->progress_bytes < min_progress(c)) {
        char why[128];
        snprintf(why, sizeof why, "the server sent %llu octets in %u ms and finished no reply",
                 (unsigned long long)c->progress_bytes, c->opts.idle_ms);
        pop3a_fail_connection(c, POP3A_ERR_TIMEOUT, why);
    } else {
        c->progress_bytes = 0;
        c->progress_replies = 0;
    }
    pop3a_leave(c);
}

static void arm_progress_timer(pop3a_client *c, int on)
{
    if (!on) {
        if (c->progress_timer)
            event_del(c->progress_timer);
        return;
    }
    if (!c->progress_timer)
        c->progress_timer =
            POP3A_MAY_FAIL(event_new(c->base, -1, EV_PERSIST, progress_cb, c), NULL);
    if (!c->progress_timer)
        return; /* out of memory: the idle timeout still bounds silence */
    c->progress_bytes = 0;
    c->progress_replies = 0;
    struct timeval tv = pop3a_ms_to_tv(c->opts.idle_ms);
    event_add(c->progress_timer, &tv);
}

void pop3a_update_timeouts(pop3a_client *c)
{
    if (!c->bev) {
        arm_progress_timer(c, 0);
        return;
    }
    /* The idle timeout runs only while a reply is owed and we are reading: an idle
     * session may sit quietly, a paused transfer is the caller's choice. */
    int want = c->replies_len > 0 && !c->reading_paused;
    if (want == c->timeouts_armed)
        return;
    struct timeval tv = pop3a_ms_to_tv(c->opts.idle_ms);
    bufferevent_set_timeouts(c->bev, want ? &tv : NULL, &tv);
    arm_progress_timer(c, want);
    c->timeouts_armed = want;
}

/* ------------------------------------------------------------ writing */

/*
 * SIGPIPE. libevent's socket bufferevent writes with writev(2), which raises
 * SIGPIPE once the server has reset the connection and kills a caller that
 * does not ignore it. So on a plain socket the library sends its output
 * itself, with sendmsg(MSG_NOSIGNAL): the error comes back as EPIPE. The lines
 * still queue in the bufferevent's output and leave when the socket is
 * writable, on the next loop turn as with libevent, so the commands a callback
 * writes (a pipelined batch) leave in one write. Under TLS the SSL's socket
 * BIO sends with MSG_NOSIGNAL instead (sock_bio.c); reads stay libevent's.
 */
#define POP3A_FLUSH_IOVS 16

/* Sends what the output holds; 0 when all of it went or the socket is full,
 * -1 with errno for a failed send. */
static int send_output(struct bufferevent *bev)
{
    struct evbuffer *out = bufferevent_get_output(bev);
    evutil_socket_t fd = bufferevent_getfd(bev);
    while (evbuffer_get_length(out) > 0) {
        struct evbuffer_iovec v[POP3A_FLUSH_IOVS];
        int n = evbuffer_peek(out, -1, NULL, v, POP3A_FLUSH_IOVS);
        if (n > POP3A_FLUSH_IOVS)
            n = POP3A_FLUSH_IOVS;
        struct iovec iov[POP3A_FLUSH_IOVS];
        for (int i = 0; i < n; i++) {
            iov[i].iov_base = v[i].iov_base;
            iov[i].iov_len = v[i].iov_len;
        }
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t sent = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0 && errno == ENOTSOCK) /* a caller's transport over a pipe */
            sent = writev(fd, iov, n);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        /* A socket bufferevent keeps its output's start frozen except around
         * its own writes; we write on its behalf. */
        evbuffer_unfreeze(out, 1);
        evbuffer_drain(out, (size_t)sent);
        evbuffer_freeze(out, 1);
    }
    return 0;
}

static void flush_cb(evutil_socket_t fd, short what, void *arg);
static void fail_after_reading(pop3a_client *c, int error);

/* Sends the output when the socket is writable (now, if it is). 0, or -1
 * when out of memory. */
static int schedule_flush(pop3a_client *c)
{
    if (!c->flush_ev) {
        c->flush_ev = POP3A_MAY_FAIL(
            event_new(c->base, bufferevent_getfd(c->bev), EV_WRITE, flush_cb, c), NULL);
        if (!c->flush_ev)
            return -1;
    }
    if (!event_pending(c->flush_ev, EV_WRITE, NULL)) {
        struct timeval tv = pop3a_ms_to_tv(c->opts.idle_ms);
        event_add(c->flush_ev, &tv); /* a server that stops reading times out */
    }
    return 0;
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    pop3a_client *c = arg;
    pop3a_enter(c);
    if (what & EV_TIMEOUT) {
        pop3a_transport_error(c, BEV_EVENT_WRITING | BEV_EVENT_TIMEOUT);
    } else if (send_output(c->bev) != 0) {
        fail_after_reading(c, errno);
    } else if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0 &&
               schedule_flush(c) != 0) {
        pop3a_fail_connection(c, POP3A_ERR_NOMEM, "out of memory");
    }
    pop3a_leave(c);
}

int pop3a_send_early(struct bufferevent *bev, const void *data, size_t len)
{
    struct evbuffer *out = bufferevent_get_output(bev);
    evutil_socket_t fd = bufferevent_getfd(bev);
    if (evbuffer_get_length(out) == 0 && fd >= 0 && !bufferevent_get_underlying(bev)) {
        ssize_t sent = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        if (sent > 0) {
            data = (const char *)data + sent;
            len -= (size_t)sent;
        }
    }
    if (len > 0 && bufferevent_write(bev, data, len) != 0) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

void pop3a_uninstall_bev(pop3a_client *c)
{
    if (c->flush_ev) {
        event_free(c->flush_ev);
        c->flush_ev = NULL;
    }
    c->own_writes = 0;
}

int pop3a_install_bev(pop3a_client *c, struct bufferevent *bev)
{
    pop3a_uninstall_bev(c);
    c->bev = bev;
    c->sock_tuned = 0;
    /* A plain socket (no SSL, no filter): its output is ours to send. */
    c->own_writes = !c->ssl && !bufferevent_get_underlying(bev) && bufferevent_getfd(bev) >= 0;
    bufferevent_setcb(bev, on_read, NULL, on_event, c);
    /* No read high-water mark (bufferevent_setwatermark): libevent 2.1 makes
     * its callback with an allocation it does not check, and crashes when
     * that fails. None is needed: a pause disables reading outright, and our
     * own reads stop at POP3A_READ_HIGH_WATER. */
    bufferevent_set_max_single_read(bev,
                                    c->ssl ? POP3A_TLS_MAX_SINGLE_READ : POP3A_MAX_SINGLE_READ);
    if (c->own_writes)
        bufferevent_disable(bev, EV_WRITE);
    c->timeouts_armed = -1;
    pop3a_update_timeouts(c);
    /* Registering the socket with the loop can fail (out of memory): then
     * nothing would ever be read, and the connect would wait its deadline. */
    return bufferevent_enable(bev, c->own_writes ? EV_READ : EV_READ | EV_WRITE);
}

size_t pop3a_input_pending(pop3a_client *c)
{
    if (!c->bev)
        return 0;
    return evbuffer_get_length(bufferevent_get_input(c->bev)) - c->feed_used;
}

void pop3a_consume_current(pop3a_client *c)
{
    if (c->bev && c->feed_used)
        evbuffer_drain(bufferevent_get_input(c->bev), c->feed_used);
    c->feed_used = 0;
}

int pop3a_expect_reply(pop3a_client *c, pop3a_future *f, pop3a_expect expect, int tag)
{
    if (replies_push(c, f, expect, tag) != 0)
        return -1;
    pop3a_update_timeouts(c);
    return 0;
}

int pop3a_write_line(pop3a_client *c, pop3a_future *f, const char *line, size_t len,
                     const char *trace, pop3a_expect expect, int tag)
{
    if (!c->bev)
        return -1;
    if (replies_push(c, f, expect, tag) != 0)
        return -1;
    /* Copied into the output buffer whole: with pipelining, many lines leave in
     * one write. */
    if (POP3A_MAY_FAIL(bufferevent_write(c->bev, line, len), -1) != 0 ||
        (c->own_writes && schedule_flush(c) != 0)) {
        c->replies_len--;
        return -1;
    }
    if (c->opts.trace) {
        if (trace)
            pop3a_trace(c, POP3A_TRACE_SENT, trace, strlen(trace));
        else
            pop3a_trace(c, POP3A_TRACE_SENT, line, len >= 2 ? len - 2 : len);
    }
    pop3a_update_timeouts(c);
    return 0;
}

/* ------------------------------------- replies traced, pause, cancel, chunks */

static void trace_status(pop3a_client *c, const pop3a_pev *ev)
{
    if (!c->opts.trace)
        return;
    char buf[64];
    const char *ind = ev->kind == POP3A_PEV_OK ? "+OK" : ev->kind == POP3A_PEV_ERR ? "-ERR" : "+";
    /* Print the indicator and the text in one line without copying the text. */
    size_t n = (size_t)snprintf(buf, sizeof buf, "%s%s", ind, ev->len ? " " : "");
    char *line = pop3a_malloc(n + ev->len);
    if (!line)
        return;
    memcpy(line, buf, n);
    memcpy(line + n, ev->data, ev->len);
    pop3a_trace(c, POP3A_TRACE_RECEIVED, line, n + ev->len);
    pop3a_free(line);
}

static void pause_reading(pop3a_client *c, pop3a_future *f)
{
    f->paused = 1;
    c->reading_paused = 1;
    if (c->bev)
        bufferevent_disable(c->bev, EV_READ);
    pop3a_update_timeouts(c);
}

POP3A_EXPORT int pop3a_future_resume(pop3a_future *f)
{
    if (!f || !f->paused || !f->client)
        return -1;
    pop3a_client *c = f->client;
    f->paused = 0;
    c->reading_paused = 0;
    if (c->bev)
        bufferevent_enable(c->bev, EV_READ);
    pop3a_update_timeouts(c);
    pop3a_kick(c); /* buffered input is processed from the loop, not from here */
    return 0;
}

POP3A_EXPORT void pop3a_future_cancel(pop3a_future *f)
{
    if (!f || !f->client || f->phase == POP3A_FUT_DONE || f->cancelled)
        return;
    f->cancelled = 1;
    if (f->paused) /* its remaining body is read and dropped */
        pop3a_future_resume(f);
    else
        pop3a_kick(f->client);
}

int pop3a_body_chunk(pop3a_client *c, pop3a_future *f, const char *data, size_t len, int final)
{
    /* Freed from another callback (a trace line): no chunk after the free
     * (contract 6); teardown completes f with CLOSED. */
    if (c->freeing)
        return -1;
    if (!final) {
        f->octets += len;
        pop3a_body_count(f, data, len);
    }
    if (f->cancelled || !f->chunk_cb)
        return 0;
    int rc = f->chunk_cb(c, f, data, len, final, f->arg);
    /* Freed from this callback, the final one included: f's done callback has
     * not run, so f is pending and teardown completes it with CLOSED like the
     * rest (contract 6), never OK: done is where a caller acts on a body. */
    if (c->freeing)
        return -1;
    if (rc == POP3A_CHUNK_CONTINUE)
        return 0;
    if (final) {
        /* The reply is complete, so the session stays usable: only this
         * future fails (e.g. the caller could not store the message). */
        if (rc != POP3A_CHUNK_PAUSE)
            f->cancelled = 1;
        return 0;
    }
    if (rc == POP3A_CHUNK_PAUSE) {
        /* Cancelled from inside the callback: the rest is read and dropped, and
         * no one would ever resume it. */
        if (!f->cancelled)
            pause_reading(c, f);
        return 0;
    }
    /* A POP3 reply cannot be abandoned halfway: the connection must go. */
    f->cancelled = 1;
    pop3a_fail_connection(c, POP3A_ERR_CLOSED, "chunk callback aborted the transfer");
    return -1;
}

/* ------------------------------------------------------------ reading */

static int dispatch(pop3a_client *c, const pop3a_pev *ev)
{
    if (ev->kind == POP3A_PEV_NEED_MORE)
        return 0;
    if (ev->kind == POP3A_PEV_ERROR) {
        char why[256];
        pop3a_fail_connection(c, POP3A_ERR_PROTOCOL,
                              pop3a_body_cut_reason(c, ev->data, why, sizeof why));
        return -1;
    }
    /* A status line after a held body: that body's terminator was its end. */
    if (c->held && (ev->kind == POP3A_PEV_OK || ev->kind == POP3A_PEV_ERR ||
                    ev->kind == POP3A_PEV_CONTINUE)) {
        if (pop3a_body_release_held(c) < 0)
            return -1;
    }
    pop3a_reply_slot slot = c->replies[c->replies_head];
    int reply_done = ev->kind == POP3A_PEV_END || ev->kind == POP3A_PEV_ERR ||
                     pop3a_parser_expecting(&c->parser) == POP3A_EXPECT_NONE;
    if (ev->kind == POP3A_PEV_OK || ev->kind == POP3A_PEV_ERR || ev->kind == POP3A_PEV_CONTINUE)
        trace_status(c, ev);
    else if (ev->kind == POP3A_PEV_LINE && c->opts.trace)
        pop3a_trace(c, POP3A_TRACE_RECEIVED, ev->data, ev->len);
    if (c->freeing)
        return -1; /* freed from the trace callback: the reply's future is
                    * pending, teardown completes it with CLOSED (contract 6) */
    if (reply_done) {
        c->progress_replies++;
        replies_pop(c);
        pop3a_update_timeouts(c);
    }
    return slot.f->op->on_reply(c, slot.f, slot.tag, ev, reply_done);
}

void pop3a_process_input(pop3a_client *c)
{
    /* The parser may still owe an event after the input is drained (a held-back
     * byte it could only classify once the next one came), so it is fed once
     * more with nothing until it says NEED_MORE. */
    int parser_may_have_more = 0;
    while (!c->freeing && !c->disconnecting && c->bev && !c->reading_paused) {
        struct evbuffer *in = bufferevent_get_input(c->bev);
        size_t avail = evbuffer_get_length(in);
        if (avail == 0 && !parser_may_have_more)
            break;
        if (pop3a_parser_expecting(&c->parser) == POP3A_EXPECT_NONE) {
            if (avail == 0)
                break;
            if (c->replies_len == 0) {
                char why[256];
                pop3a_fail_connection(
                    c, POP3A_ERR_PROTOCOL,
                    pop3a_body_cut_reason(
                        c, "unsolicited data from the server (a reply to no command)", why,
                        sizeof why));
                return;
            }
            pop3a_parser_expect(&c->parser, c->replies[c->replies_head].expect);
        }
        struct evbuffer_iovec v = {.iov_base = (void *)"", .iov_len = 0};
        if (avail && evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        pop3a_pev ev;
        c->feed_used = pop3a_parser_feed(&c->parser, v.iov_base, v.iov_len, &ev);
        c->progress_bytes += c->feed_used;
        parser_may_have_more = ev.kind != POP3A_PEV_NEED_MORE;
        int rc = dispatch(c, &ev);
        pop3a_consume_current(c); /* after dispatch: event data pointed into `in` */
        if (rc < 0)
            return;
    }
}

static void handle_eof(pop3a_client *c)
{
    /* The server closed with no byte after a held body that could be more of it
     * (those fail it as unsolicited data, or as no status line): it was whole. */
    if (c->held && pop3a_body_release_held(c) < 0)
        return;
    if (c->replies_len > 0)
        pop3a_fail_connection(c, POP3A_ERR_EOF,
                              "connection closed by the server before the reply was complete");
    else
        pop3a_fail_connection(c, POP3A_ERR_EOF, "connection closed by the server");
}

/*
 * Octets in the socket's receive queue, or `unknown` when it cannot say. The
 * reads below reserve room for what waits, not for the most they may take: a
 * reservation stays allocated in the input buffer for as long as a partial
 * line does, and a daemon's idle sessions each hold one (issue 14 s5).
 */
static size_t socket_bytes_waiting(evutil_socket_t fd, size_t unknown)
{
    int queued = 0;
    if (ioctl(fd, FIONREAD, &queued) != 0 || queued < 0)
        return unknown;
    return (size_t)queued;
}

/*
 * libevent 2.1 reads at most 4096 bytes per readable event (EVBUFFER_MAX_READ;
 * 2.2 made it settable), i.e. a loop turn per 4 KiB: most of a bulk fetch's CPU.
 * On a plain socket we read what else is waiting ourselves, into the same input
 * buffer, in large reads. EOF is left for libevent's next read to report
 * through on_event. An error is not: the kernel reports a reset once, and the
 * next read would see an EOF; so it is returned (an errno) for on_read to
 * report once the bytes before it are processed.
 */
static int read_waiting_bytes(pop3a_client *c)
{
    /* Only a plain socket bufferevent: a filter (TLS, or one the caller attached)
     * reports its underlying socket, whose bytes must go through the filter. */
    if (c->ssl || c->reading_paused || bufferevent_get_underlying(c->bev))
        return 0;
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    if (fd < 0)
        return 0;
    int error = 0;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    /* A socket bufferevent keeps its input's end frozen except around its own
     * reads; we are reading on its behalf, from inside its read callback. */
    evbuffer_unfreeze(in, 0);
    while (evbuffer_get_length(in) < POP3A_READ_HIGH_WATER) {
        size_t room = socket_bytes_waiting(fd, POP3A_MAX_SINGLE_READ);
        if (room == 0)
            break; /* drained, or the end of the stream: libevent reports it */
        struct evbuffer_iovec v[2];
        int n = evbuffer_reserve_space(
            in, (ev_ssize_t)(room < POP3A_MAX_SINGLE_READ ? room : POP3A_MAX_SINGLE_READ), v, 2);
        if (n <= 0)
            break;
        struct iovec iov[2];
        size_t want = 0;
        for (int i = 0; i < n; i++) {
            iov[i].iov_base = v[i].iov_base;
            iov[i].iov_len = v[i].iov_len;
            want += v[i].iov_len;
        }
        ssize_t got = readv(fd, iov, n);
        if (got <= 0) {
            if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                error = errno;
            evbuffer_commit_space(in, v, 0);
            break;
        }
        size_t left = (size_t)got;
        int used = 0;
        for (; used < n && left > 0; used++) {
            if (v[used].iov_len > left)
                v[used].iov_len = left;
            left -= v[used].iov_len;
        }
        evbuffer_commit_space(in, v, used);
        if ((size_t)got < want)
            break; /* the socket is drained */
    }
    evbuffer_freeze(in, 0);
    return error;
}

/* The end of the stream, found by one of our own SSL_read calls below: libevent
 * would have reported it through on_event, but the read that saw it was ours. */
typedef enum { TLS_READ_OPEN = 0, TLS_READ_EOF, TLS_READ_ERROR } tls_read_end;

/* Plaintext room reserved per round of SSL_read calls, at most: a full record
 * (16 KiB, RFC 8446 s5.1) in an evbuffer chain of 16 KiB. More is allocated
 * whole and held while a partial line waits in it; more rounds cost little. */
#define POP3A_TLS_READ_ROOM (16u * 1024u - 512u)

/* Room for the plaintext of what is waiting: the ciphertext in the socket (never
 * less than the plaintext it carries) plus what OpenSSL holds of a record begun,
 * at most POP3A_TLS_READ_ROOM; 0 when nothing waits. A short estimate costs one
 * more round. At the high-water mark only what OpenSSL holds: see below. */
static size_t tls_room_for_waiting(pop3a_client *c, int at_high_water)
{
    size_t pending = (size_t)SSL_pending(c->ssl);
    if (at_high_water)
        return pending;
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    size_t room = fd < 0 ? POP3A_TLS_READ_ROOM : socket_bytes_waiting(fd, POP3A_TLS_READ_ROOM);
    room += pending;
    return room < POP3A_TLS_READ_ROOM ? room : POP3A_TLS_READ_ROOM;
}

/*
 * The TLS twin of read_waiting_bytes (issue 14 s6). libevent 2.1's OpenSSL
 * bufferevent decrypts one record per readable event (do_read, then only
 * SSL_pending, which never counts the next record), so a bulk fetch takes a
 * loop turn (epoll_wait, two read(2) for header and body, the callback, our
 * setsockopt) per record, and servers write small records (Dovecot's are about
 * 4 KiB). Here every record already waiting in the socket is decrypted into the
 * input buffer at once, up to the high-water mark. No read-ahead is set on the
 * SSL, so OpenSSL holds at most the rest of the record a full room stopped in;
 * that rest is always taken before we stop, so whatever we leave is still in
 * the kernel and wakes libevent again.
 *
 * A close or an error is consumed by our SSL_read, so it is returned for
 * on_read to report once the bytes before it are processed: TLS_READ_EOF for
 * a close_notify or a close without one (SSL_OP_IGNORE_UNEXPECTED_EOF), else
 * TLS_READ_ERROR with *ssl_err (0 for a socket error, then *sys_err).
 * SSL_ERROR_WANT_WRITE (a TLS 1.3 KeyUpdate answer the full socket could not
 * take) stops us; libevent's next read or write flushes it.
 */
static tls_read_end read_waiting_records(pop3a_client *c, unsigned long *ssl_err, int *sys_err)
{
    if (!c->ssl || c->reading_paused || bufferevent_get_underlying(c->bev))
        return TLS_READ_OPEN; /* a filter over a caller's transport (pop3a_attach,
                               * then STLS) reads all its records already */
    struct evbuffer *in = bufferevent_get_input(c->bev);
    /* Past the high-water mark, the rest of a record OpenSSL has begun is still
     * taken (at most one record): nothing would wake us for it, since the
     * socket no longer holds it, and a reply's last bytes left there waited
     * for the idle timeout (pop3fetch stalled 120 s on a mailbox's end). */
    for (;;) {
        int at_high_water = evbuffer_get_length(in) >= POP3A_READ_HIGH_WATER;
        size_t room = tls_room_for_waiting(c, at_high_water);
        if (room == 0)
            return TLS_READ_OPEN;
        struct evbuffer_iovec v;
        if (evbuffer_reserve_space(in, (ev_ssize_t)room, &v, 1) < 1)
            return TLS_READ_OPEN;
        size_t used = 0;
        int r = 1;
        while (used < v.iov_len) {
            ERR_clear_error();
            r = SSL_read(c->ssl, (char *)v.iov_base + used, (int)(v.iov_len - used));
            if (r <= 0)
                break;
            used += (size_t)r;
        }
        v.iov_len = used;
        evbuffer_commit_space(in, &v, used ? 1 : 0);
        if (r > 0)
            continue; /* the room is full: more may be waiting */
        switch (SSL_get_error(c->ssl, r)) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
            return TLS_READ_OPEN;
        case SSL_ERROR_ZERO_RETURN:
            return TLS_READ_EOF;
        case SSL_ERROR_SYSCALL:
            *sys_err = errno;
            *ssl_err = ERR_peek_error();
            return *ssl_err == 0 && *sys_err == 0 ? TLS_READ_EOF : TLS_READ_ERROR;
        default:
            *ssl_err = ERR_peek_error();
            return TLS_READ_ERROR;
        }
    }
}

/*
 * Delayed ACKs (issue 14 s3). A server without PIPELINING that writes a reply's
 * status line and its body in two writes, Nagle on, holds the body until we ACK
 * the status line, and Linux delays that ACK by up to 40 ms: a stall per
 * command. TCP_QUICKACK is not sticky (the kernel goes back to delayed ACKs on
 * its own), so it is set again after every read; setting it also sends an ACK
 * that is pending. For our own writes TCP_NODELAY, once per connection: a
 * command batch is one output buffer, so it leaves in one write, never split by
 * Nagle. The socket is the transport's own or, under TLS or a filter, the one
 * beneath (libevent reports that one). Not TCP (a socketpair): left alone.
 */
static void tune_socket(pop3a_client *c)
{
    if (c->sock_tuned < 0)
        return;
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    if (fd < 0)
        return;
    int one = 1;
    if (c->sock_tuned == 0) {
        c->sock_tuned = setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0 ? 1 : -1;
        if (c->sock_tuned < 0)
            return;
    }
#ifdef TCP_QUICKACK
    (void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#endif
}

/* The server closed: what is buffered is processed first, or after a resume
 * when the caller has paused reading. */
static void transport_eof(pop3a_client *c)
{
    if (c->reading_paused) {
        c->eof_pending = 1; /* deliver what is buffered first, after resume */
        return;
    }
    pop3a_process_input(c);
    if (!c->freeing && c->bev)
        handle_eof(c);
}

/* A write found the connection reset (EPIPE, ECONNRESET): replies that came
 * before the reset may still wait in the socket, and are delivered before
 * the error, as they would be had the read noticed the reset first. */
static void fail_after_reading(pop3a_client *c, int error)
{
    unsigned long ssl_err = 0;
    int sys_err = 0;
    (void)read_waiting_bytes(c); /* a plain socket's */
    (void)read_waiting_records(c, &ssl_err, &sys_err); /* a TLS one's */
    pop3a_process_input(c);
    if (!c->freeing && c->bev)
        pop3a_fail_connection(c, POP3A_ERR_IO, evutil_socket_error_to_string(error));
}

/* The end read_waiting_records found, as on_event would report it. */
static void tls_read_ended(pop3a_client *c, tls_read_end end, unsigned long ssl_err, int sys_err)
{
    if (end == TLS_READ_EOF) {
        transport_eof(c);
    } else if (ssl_err != 0) {
        char why[200];
        pop3a_tls_describe_failure(c->ssl, ssl_err, why, sizeof why);
        pop3a_fail_connection(c, POP3A_ERR_TLS, why);
    } else {
        pop3a_fail_connection(c, POP3A_ERR_IO,
                              sys_err ? evutil_socket_error_to_string(sys_err) : "I/O error");
    }
}

static void on_read(struct bufferevent *bev, void *arg)
{
    pop3a_client *c = arg;
    unsigned long ssl_err = 0;
    int sys_err = 0;
    pop3a_enter(c);
    int read_error = read_waiting_bytes(c);
    tls_read_end end = read_waiting_records(c, &ssl_err, &sys_err);
    tune_socket(c); /* before the chunk callbacks: the ACK goes out now */
    pop3a_process_input(c);
    if (end != TLS_READ_OPEN && !c->freeing && c->bev)
        tls_read_ended(c, end, ssl_err, sys_err);
    if (read_error && !c->freeing && c->bev)
        pop3a_fail_connection(c, POP3A_ERR_IO, evutil_socket_error_to_string(read_error));
    if (!c->freeing)
        pop3a_pump(c);
    pop3a_leave(c);
}

void pop3a_after_resume(pop3a_client *c)
{
    if (c->eof_pending && !c->reading_paused && c->bev && pop3a_input_pending(c) == 0) {
        c->eof_pending = 0;
        handle_eof(c);
    }
}

void pop3a_transport_error(pop3a_client *c, short what)
{
    if (what & BEV_EVENT_TIMEOUT) {
        char why[96];
        snprintf(why, sizeof why, "no progress from the server within %u ms", c->opts.idle_ms);
        pop3a_fail_connection(c, POP3A_ERR_TIMEOUT, why);
        return;
    }
    if (c->ssl) {
        unsigned long e = bufferevent_get_openssl_error(c->bev);
        if (e) {
            char why[200];
            pop3a_tls_describe_failure(c->ssl, e, why, sizeof why);
            pop3a_fail_connection(c, POP3A_ERR_TLS, why);
            return;
        }
    }
    int e = EVUTIL_SOCKET_ERROR();
    pop3a_fail_connection(c, POP3A_ERR_IO, e ? evutil_socket_error_to_string(e) : "I/O error");
}

/* The active head's op may claim transport events (op.h). */
static int head_op_takes_event(pop3a_client *c, short what)
{
    pop3a_future *h = c->head;
    return h && h->phase == POP3A_FUT_ACTIVE && h->op->on_event && h->op->on_event(c, h, what);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    pop3a_client *c = arg;
    pop3a_enter(c);
    if (bev != c->bev) {
        /* An event from a transport we have already dropped. */
    } else if (head_op_takes_event(c, what)) {
        /* a multi-step op's (the connect op's TCP or TLS handshake) */
    } else if (what & BEV_EVENT_EOF) {
        /* libevent's OpenSSL bufferevent reports a reset as an EOF when dirty
         * shutdowns are allowed; the socket BIO knows it was an error. */
        int e = c->ssl ? pop3a_sock_bio_error(SSL_get_rbio(c->ssl)) : 0;
        if (e)
            fail_after_reading(c, e);
        else
            transport_eof(c);
    } else if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        pop3a_transport_error(c, what);
    }
    pop3a_leave(c);
}
