/*
 * Scripted POP3 peer: see script_server.h.
 *
 * The connection is a raw non-blocking socket with two events (read, write) and
 * two timers (delay steps, gaps between chunked writes). Reading is always on
 * (until p3s_stop_reading) and only buffers; the step machine, p3s_advance(),
 * consumes lines from that buffer when an expect step is current. Sending
 * queues into `out` and p3s_flush() writes it with send(MSG_NOSIGNAL), n bytes
 * at a time in chunk mode.
 *
 * This file is the socket, the step machine and the script API. The OpenSSL
 * layer between socket and script is in script_server_tls.c, the test
 * certificates in script_server_certs.c; script_server_internal.h is what they
 * share.
 */
#include "script_server_internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/ssl.h>

static void p3s_advance(p3s *s);

/* ------------------------------------------------------------------ errors */

__attribute__((format(printf, 2, 3))) void p3s_fail(p3s *s, const char *fmt, ...)
{
    if (s->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->error, sizeof s->error, fmt, ap);
    va_end(ap);
    s->failed = 1;
}

/* Printable copy of a line for messages: control bytes as \xNN. */
static void p3s_escape(char *out, size_t cap, const char *in, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c >= 0x20 && c < 0x7f && c != '"')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    out[o] = '\0';
}

/* ------------------------------------------------------------- step queue */

step *p3s_push(p3s *s, step_kind kind)
{
    if (s->nsteps == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        step *grown = realloc(s->steps, cap * sizeof *grown);
        if (!grown) {
            p3s_fail(s, "out of memory queueing a step");
            return NULL;
        }
        s->steps = grown;
        s->cap = cap;
    }
    step *st = &s->steps[s->nsteps++];
    memset(st, 0, sizeof *st);
    st->kind = kind;
    if (s->fd >= 0)
        event_active(s->ev_kick, EV_TIMEOUT, 1); /* run it from the loop, not here */
    return st;
}

static void p3s_push_data(p3s *s, step_kind kind, const void *data, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy) {
        p3s_fail(s, "out of memory queueing a step");
        return;
    }
    memcpy(copy, data, len);
    copy[len] = '\0';
    step *st = p3s_push(s, kind);
    if (!st) {
        free(copy);
        return;
    }
    st->data = copy;
    st->len = len;
}

void p3s_send(p3s *s, const char *text)
{
    p3s_push_data(s, STEP_SEND, text, strlen(text));
}

void p3s_send_bytes(p3s *s, const void *data, size_t len)
{
    p3s_push_data(s, STEP_SEND, data, len);
}

void p3s_expect(p3s *s, const char *line)
{
    p3s_push_data(s, STEP_EXPECT, line, strlen(line));
}

void p3s_expect_bytes(p3s *s, const void *data, size_t len)
{
    p3s_push_data(s, STEP_EXPECT_BYTES, data, len);
}

void p3s_expect_prefix(p3s *s, const char *prefix)
{
    p3s_push_data(s, STEP_EXPECT_PREFIX, prefix, strlen(prefix));
}

void p3s_delay(p3s *s, unsigned ms)
{
    step *st = p3s_push(s, STEP_DELAY);
    if (st)
        st->ms = ms;
}

void p3s_close(p3s *s)
{
    p3s_push(s, STEP_CLOSE);
}

void p3s_write_chunk(p3s *s, size_t n, unsigned gap_ms)
{
    step *st = p3s_push(s, STEP_WRITE_CHUNK);
    if (st) {
        st->n = n;
        st->ms = gap_ms;
    }
}

void p3s_stop_reading(p3s *s)
{
    p3s_push(s, STEP_STOP_READING);
}

void p3s_expect_silence(p3s *s, unsigned ms)
{
    step *st = p3s_push(s, STEP_SILENCE);
    if (st)
        st->ms = ms;
}

void p3s_expect_eof(p3s *s)
{
    p3s_push(s, STEP_EOF);
}

void p3s_respond(p3s *s, p3s_respond_fn fn, void *arg)
{
    step *st = p3s_push(s, STEP_RESPOND);
    if (st) {
        st->fn = fn;
        st->arg = arg;
    }
}

/* ----------------------------------------------------------------- writing */

void p3s_arm_timer(struct event *ev, unsigned ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    event_add(ev, &tv);
}

/* Plaintext or TLS records not yet on the wire. */
int p3s_output_pending(const p3s *s)
{
    return evbuffer_get_length(s->out) > 0 || (s->wire && evbuffer_get_length(s->wire) > 0);
}

/* The peer is gone or TLS broke: what is queued can never be delivered. */
void p3s_drop_output(p3s *s)
{
    s->write_failed = 1;
    evbuffer_drain(s->out, evbuffer_get_length(s->out));
    if (s->wire)
        evbuffer_drain(s->wire, evbuffer_get_length(s->wire));
}

/* Writes as much of `out` as the socket and the chunk mode allow. */
void p3s_flush(p3s *s)
{
    if (s->ssl) {
        p3s_flush_tls(s);
        return;
    }
    while (s->fd >= 0 && !s->gap_pending && evbuffer_get_length(s->out) > 0) {
        size_t want = evbuffer_get_length(s->out);
        if (s->chunk && want > s->chunk)
            want = s->chunk;
        /* A chunk must go out as one write even when it spans evbuffer extents. */
        const unsigned char *p = evbuffer_pullup(s->out, (ev_ssize_t)want);
        ssize_t n = send(s->fd, p, want, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                event_add(s->ev_write, NULL);
                return;
            }
            /* The client went away: what it did not read is lost, as on a real wire. */
            p3s_drop_output(s);
            return;
        }
        evbuffer_drain(s->out, (size_t)n);
        if (s->chunk && evbuffer_get_length(s->out) > 0) {
            s->gap_pending = 1;
            p3s_arm_timer(s->ev_gap, s->gap_ms);
            return;
        }
    }
}

static void p3s_on_writable(evutil_socket_t fd, short what, void *arg)
{
    p3s *s = arg;
    p3s_flush(s);
    p3s_advance(s); /* a DELAY or CLOSE may have been waiting for the drain */
}

static void p3s_on_gap(evutil_socket_t fd, short what, void *arg)
{
    p3s *s = arg;
    s->gap_pending = 0;
    p3s_flush(s);
    p3s_advance(s);
}

/* ----------------------------------------------------------------- reading */

static void p3s_on_readable(evutil_socket_t fd, short what, void *arg)
{
    p3s *s = arg;
    if (s->ssl) {
        p3s_read_tls(s);
        p3s_advance(s);
        return;
    }
    int n = evbuffer_read(s->in, fd, 65536);
    if (n > 0) {
        s->bytes_in += (size_t)n;
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        s->peer_eof = 1;
        event_del(s->ev_read);
    }
    p3s_advance(s);
}

/* ------------------------------------------------------------ step machine */

/* 1 and a malloc'd line (CRLF removed) when a whole line is buffered; 0 when more
 * is needed; -1 at EOF without a whole line. *bare_lf is set for a line ended by LF
 * alone. */
static int p3s_take_line(p3s *s, char **line, size_t *len, int *bare_lf)
{
    size_t eol_len = 0;
    struct evbuffer_ptr eol = evbuffer_search_eol(s->in, NULL, &eol_len, EVBUFFER_EOL_LF);
    if (eol.pos < 0)
        return s->peer_eof ? -1 : 0;
    size_t n = (size_t)eol.pos;
    char *buf = malloc(n + 1);
    if (!buf) {
        p3s_fail(s, "out of memory reading a line");
        return 0;
    }
    evbuffer_remove(s->in, buf, n);
    evbuffer_drain(s->in, eol_len);
    *bare_lf = !(n > 0 && buf[n - 1] == '\r');
    if (!*bare_lf)
        n--;
    buf[n] = '\0';
    *line = buf;
    *len = n;
    s->lines++;
    return 1;
}

/* Runs one expect step; 1 when it is finished (matched or failed), 0 to wait. */
static int p3s_run_expect(p3s *s, const step *st)
{
    char *line = NULL;
    size_t len = 0;
    int bare_lf = 0;
    char want[600], got[600];
    p3s_escape(want, sizeof want, st->data, st->len);
    int r = p3s_take_line(s, &line, &len, &bare_lf);
    if (r == 0)
        return 0;
    if (r < 0) {
        size_t partial = evbuffer_get_length(s->in);
        p3s_fail(s, "step %zu: expected \"%s\", got EOF (%zu bytes of a partial line)", s->cur,
                 want, partial);
        return 1;
    }
    p3s_escape(got, sizeof got, line, len);
    int match = st->kind == STEP_EXPECT ? (len == st->len && memcmp(line, st->data, len) == 0)
                                        : (len >= st->len && memcmp(line, st->data, st->len) == 0);
    if (!match)
        p3s_fail(s, "step %zu: expected %s\"%s\", got \"%s\"", s->cur,
                 st->kind == STEP_EXPECT ? "" : "prefix ", want, got);
    else if (bare_lf)
        p3s_fail(s, "step %zu: line \"%s\" ended with a bare LF, not CRLF", s->cur, got);
    free(line);
    return 1;
}

/* Runs an expect-bytes step; 1 when it is finished (matched or failed), 0 to wait. */
static int p3s_run_expect_bytes(p3s *s, const step *st)
{
    size_t have = evbuffer_get_length(s->in);
    char want[600], got[600];
    p3s_escape(want, sizeof want, st->data, st->len);
    if (have < st->len && !s->peer_eof)
        return 0;
    size_t n = have < st->len ? have : st->len;
    const char *p = (const char *)evbuffer_pullup(s->in, (ev_ssize_t)n);
    p3s_escape(got, sizeof got, p ? p : "", n);
    if (n < st->len || memcmp(p, st->data, n) != 0)
        p3s_fail(s, "step %zu: expected bytes \"%s\", got \"%s\"%s", s->cur, want, got,
                 n < st->len ? " and EOF" : "");
    evbuffer_drain(s->in, n);
    return 1;
}

static void p3s_fail_silence(p3s *s, const step *st)
{
    char got[600];
    size_t n = evbuffer_get_length(s->in);
    if (n > 200)
        n = 200;
    const char *p = (const char *)evbuffer_pullup(s->in, (ev_ssize_t)n);
    p3s_escape(got, sizeof got, p ? p : "", n);
    p3s_fail(s, "step %zu: expected %u ms of silence, got \"%s\"", s->cur, st->ms, got);
}

static void p3s_on_step_timer(evutil_socket_t fd, short what, void *arg)
{
    p3s *s = arg;
    s->timer_pending = 0;
    const step *st = &s->steps[s->cur];
    if (st->kind == STEP_SILENCE && s->bytes_in != s->silence_mark) {
        p3s_fail_silence(s, st);
        return;
    }
    s->cur++;
    p3s_advance(s);
}

/* RESPOND: 1 once a line was answered (or refused), 0 to wait for one. */
static int p3s_run_respond(p3s *s, const step *st)
{
    char *line = NULL;
    size_t len = 0;
    int bare_lf = 0;
    char got[600];
    int r = p3s_take_line(s, &line, &len, &bare_lf);
    if (r == 0)
        return 0;
    if (r < 0) {
        p3s_fail(s, "step %zu: respond: got EOF instead of a line", s->cur);
        return 1;
    }
    p3s_escape(got, sizeof got, line, len);
    char *answer = bare_lf ? NULL : st->fn(line, len, st->arg);
    if (bare_lf)
        p3s_fail(s, "step %zu: line \"%s\" ended with a bare LF, not CRLF", s->cur, got);
    else if (!answer)
        p3s_fail(s, "step %zu: respond: refused \"%s\"", s->cur, got);
    else if (s->wr_shut)
        p3s_fail(s, "step %zu: respond after close", s->cur);
    else if (!s->write_failed)
        evbuffer_add(s->out, answer, strlen(answer));
    free(answer);
    free(line);
    p3s_flush(s);
    return 1;
}

/* Returns 1 to go on with the next step, 0 to wait for an event. */
static int p3s_run_step(p3s *s, const step *st)
{
    switch (st->kind) {
    case STEP_SEND:
        if (s->wr_shut) {
            p3s_fail(s, "step %zu: send after close", s->cur);
            return 0;
        }
        if (!s->write_failed)
            evbuffer_add(s->out, st->data, st->len);
        p3s_flush(s);
        break;
    case STEP_EXPECT:
    case STEP_EXPECT_PREFIX:
        if (!p3s_run_expect(s, st))
            return 0;
        break;
    case STEP_EXPECT_BYTES:
        if (!p3s_run_expect_bytes(s, st))
            return 0;
        break;
    case STEP_DELAY:
    case STEP_SILENCE:
        if (p3s_output_pending(s))
            return 0; /* the wait starts once earlier sends are on the wire */
        if (st->kind == STEP_SILENCE && evbuffer_get_length(s->in) > 0) {
            p3s_fail_silence(s, st);
            return 0;
        }
        s->silence_mark = s->bytes_in;
        s->timer_pending = 1;
        p3s_arm_timer(s->ev_step_timer, st->ms);
        return 0; /* p3s_on_step_timer moves on */
    case STEP_CLOSE:
    case STEP_CLOSE_DIRTY:
        return p3s_run_close(s, st->kind == STEP_CLOSE);
    case STEP_START_TLS:
        if (p3s_output_pending(s))
            return 0; /* the "+OK" goes out in clear first */
        if (evbuffer_get_length(s->in) > 0) {
            p3s_fail(s, "step %zu: %zu bytes arrived in clear after STLS, before TLS", s->cur,
                     evbuffer_get_length(s->in));
            return 0;
        }
        if (p3s_tls_begin(s, st->ctx) != 0)
            return 0;
        break;
    case STEP_RESPOND:
        if (!p3s_run_respond(s, st))
            return 0;
        break;
    case STEP_WRITE_CHUNK:
        s->chunk = st->n;
        s->gap_ms = st->ms;
        break;
    case STEP_STOP_READING:
        s->reading = 0;
        event_del(s->ev_read);
        break;
    case STEP_EOF:
        if (evbuffer_get_length(s->in) > 0) {
            char *line = NULL;
            size_t len = 0;
            int bare_lf = 0;
            char got[600] = "";
            if (p3s_take_line(s, &line, &len, &bare_lf) == 1) {
                p3s_escape(got, sizeof got, line, len);
                free(line);
            }
            p3s_fail(s, "step %zu: expected EOF, got \"%s\"", s->cur, got);
            return 0;
        }
        if (!s->peer_eof)
            return 0;
        break;
    }
    return 1;
}

static void p3s_advance(p3s *s)
{
    if (s->fd < 0 || s->timer_pending)
        return;
    while (s->cur < s->nsteps && !s->failed) {
        if (!p3s_run_step(s, &s->steps[s->cur]))
            return;
        s->cur++;
    }
}

static void p3s_on_kick(evutil_socket_t fd, short what, void *arg)
{
    p3s *s = arg;
    p3s_flush(s);
    p3s_advance(s);
}

/* --------------------------------------------------------------- lifecycle */

p3s *p3s_new(struct event_base *base)
{
    p3s *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->base = base;
    s->fd = -1;
    s->lfd = -1;
    s->reading = 1;
    s->in = evbuffer_new();
    s->out = evbuffer_new();
    s->ev_kick = event_new(base, -1, 0, p3s_on_kick, s);
    s->ev_step_timer = evtimer_new(base, p3s_on_step_timer, s);
    s->ev_gap = evtimer_new(base, p3s_on_gap, s);
    if (!s->in || !s->out || !s->ev_kick || !s->ev_step_timer || !s->ev_gap) {
        p3s_free(s);
        return NULL;
    }
    return s;
}

static int p3s_start(p3s *s, evutil_socket_t fd)
{
    if (evutil_make_socket_nonblocking(fd) < 0)
        return -1;
    s->ev_read = event_new(s->base, fd, EV_READ | EV_PERSIST, p3s_on_readable, s);
    s->ev_write = event_new(s->base, fd, EV_WRITE, p3s_on_writable, s);
    if (!s->ev_read || !s->ev_write)
        return -1;
    s->fd = fd;
    if (s->implicit_ctx && p3s_tls_begin(s, s->implicit_ctx) != 0)
        return -1;
    event_add(s->ev_read, NULL);
    event_active(s->ev_kick, EV_TIMEOUT, 1);
    return 0;
}

struct bufferevent *p3s_pair(p3s *s)
{
    evutil_socket_t sv[2];
    if (s->fd >= 0 || s->lfd >= 0 || evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return NULL;
    struct bufferevent *bev = NULL;
    if (evutil_make_socket_nonblocking(sv[1]) == 0)
        bev = bufferevent_socket_new(s->base, sv[1], BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        evutil_closesocket(sv[1]);
        evutil_closesocket(sv[0]);
        return NULL;
    }
    if (p3s_start(s, sv[0]) < 0) {
        bufferevent_free(bev);
        evutil_closesocket(sv[0]);
        return NULL;
    }
    return bev;
}

static void p3s_on_accept(evutil_socket_t lfd, short what, void *arg)
{
    p3s *s = arg;
    evutil_socket_t fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        return; /* EAGAIN or a connection reset before accept: keep listening */
    /* Our own connection first, then (p3s_hand_over) one for the next server. */
    p3s *to = s->fd < 0 ? s : s->hand_over;
    if (to != s)
        s->hand_over = to->hand_over; /* one connection each; `to` may chain on */
    if (!s->hand_over) {
        event_free(s->ev_accept);
        s->ev_accept = NULL;
        evutil_closesocket(s->lfd);
        s->lfd = -1;
    }
    if (p3s_start(to, fd) < 0) {
        evutil_closesocket(fd);
        p3s_fail(to, "could not start the accepted connection");
    }
}

void p3s_hand_over(p3s *s, p3s *next)
{
    s->hand_over = next;
}

uint16_t p3s_listen(p3s *s, const char *addr)
{
    struct sockaddr_storage ss;
    int sslen = (int)sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (s->fd >= 0 || s->lfd >= 0 ||
        evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &sslen) < 0)
        return 0;
    evutil_socket_t lfd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (lfd < 0)
        return 0;
    socklen_t len = (socklen_t)sslen;
    if (evutil_make_listen_socket_reuseable(lfd) < 0 ||
        bind(lfd, (struct sockaddr *)&ss, len) < 0 || listen(lfd, 4) < 0 ||
        getsockname(lfd, (struct sockaddr *)&ss, &len) < 0 ||
        evutil_make_socket_nonblocking(lfd) < 0) {
        evutil_closesocket(lfd);
        return 0;
    }
    s->ev_accept = event_new(s->base, lfd, EV_READ | EV_PERSIST, p3s_on_accept, s);
    if (!s->ev_accept) {
        evutil_closesocket(lfd);
        return 0;
    }
    s->lfd = lfd;
    event_add(s->ev_accept, NULL);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void p3s_free(p3s *s)
{
    if (!s)
        return;
    struct event *evs[] = {s->ev_accept, s->ev_read,       s->ev_write,
                           s->ev_kick,   s->ev_step_timer, s->ev_gap};
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        if (evs[i])
            event_free(evs[i]);
    if (s->fd >= 0)
        evutil_closesocket(s->fd);
    if (s->lfd >= 0)
        evutil_closesocket(s->lfd);
    if (s->in)
        evbuffer_free(s->in);
    if (s->out)
        evbuffer_free(s->out);
    if (s->wire)
        evbuffer_free(s->wire);
    SSL_free(s->ssl); /* and its BIOs */
    SSL_CTX_free(s->implicit_ctx);
    free(s->client_ca);
    for (size_t i = 0; i < s->nsteps; i++) {
        free(s->steps[i].data);
        SSL_CTX_free(s->steps[i].ctx);
    }
    free(s->steps);
    free(s);
}

/* ----------------------------------------------------------------- results */

int p3s_done(const p3s *s)
{
    return s->cur == s->nsteps && !s->failed && !p3s_output_pending(s);
}

const char *p3s_error(const p3s *s)
{
    return s->failed ? s->error : NULL;
}

size_t p3s_lines_received(const p3s *s)
{
    return s->lines;
}

size_t p3s_bytes_received(const p3s *s)
{
    return s->bytes_in;
}

size_t p3s_bytes_unread(const p3s *s)
{
    return evbuffer_get_length(s->in);
}

int p3s_peer_closed(const p3s *s)
{
    return s->peer_eof;
}

int p3s_connected(const p3s *s)
{
    return s->fd >= 0;
}
