/*
 * When a RETR/TOP body is really over (issue 14 s7).
 *
 * A server that dot-stuffs per write chunk can put an unstuffed "." line on the
 * wire: the message then seems to end early, and storing it as complete loses the
 * rest for good (a fetcher that records UIDLs never fetches it again). Two
 * signals tell a real terminator from a false one:
 *
 *  - the size the server announced ("+OK nnn octets" of RETR, or this session's
 *    LIST; RFC 1939 s11 says they are exact) against the octets received, counted
 *    as RFC 1939 counts them: stuffing removed, line ends as CRLF. A body of the
 *    announced size completes at once. A shorter one fails (POP3A_ERR_PROTOCOL,
 *    no final chunk) when the policy is strict: always with
 *    POP3A_SIZE_CHECK_STRICT; by default (AUTO) once the session's sizes have
 *    matched and none has differed, so a server that counts sizes its own way
 *    is not refused for ever;
 *  - what follows the terminator. When the size cannot vouch for the body, its
 *    completion (final chunk, done callback) is held: the next command may be
 *    written meanwhile, and the next reply's status line proves the terminator
 *    was the end. Bytes that arrive while no reply is owed, or that are no
 *    status line, prove it was not: the held body fails with the connection.
 *    With nothing owed after it, the body completes once the settle time has
 *    passed with no byte, or at EOF (the server said nothing more). The settle
 *    time covers a round trip: a server with Nagle on may hold the rest until
 *    our ACK of the part before reaches it.
 *
 * A fetcher that queues its next command (or QUIT) behind each RETR pays
 * nothing for the wait: the proof is the reply it waits for anyway.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#ifdef __linux__
#include <netinet/in.h>
#include <netinet/tcp.h>
#endif

#include "alloc.h"
#include "client_internal.h"
#include "listing.h"

/* How long a held body waits for a stray byte when nothing is owed after it: a
 * server that cut a message sends the rest right behind the false terminator,
 * at worst one round trip later (settle_ms adds it). */
#define POP3A_SETTLE_MS 20u

/* ------------------------------------------------------------ the sizes */

static int ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* "nnn octets..." (RFC 1939 s7's example, what Dovecot, Courier and qpopper
 * send) or a bare "nnn": the announced size. Anything else announces none. */
static int parse_announced(const char *text, size_t len, uint64_t *out)
{
    static const char word[] = " octets";
    size_t n = 0;
    while (n < len && text[n] >= '0' && text[n] <= '9')
        n++;
    if (n == 0 || pop3a_parse_u64(text, n, out) != 0)
        return -1;
    if (n == len)
        return 0;
    if (len - n < sizeof word - 1)
        return -1;
    for (size_t i = 0; i < sizeof word - 1; i++)
        if (ascii_lower((unsigned char)text[n + i]) != word[i])
            return -1;
    return 0;
}

static int listed_size(const pop3a_client *c, uint32_t msg, uint64_t *out)
{
    /* LIST answers in ascending order (RFC 1939 s5 examples; pop3a_body_note_list
     * keeps only a sorted listing), so a binary search finds msg. */
    size_t lo = 0, hi = c->n_list_sizes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t m = c->list_sizes[2 * mid];
        if (m == msg) {
            *out = c->list_sizes[2 * mid + 1];
            return 0;
        }
        if (m < msg)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

void pop3a_body_note_list(pop3a_client *c, const pop3a_future *f)
{
    if (f->msg != 0 || f->n_entries == 0)
        return; /* "LIST n" alone is not kept: a full LIST is what fetchers send */
    uint64_t *sizes = pop3a_malloc(f->n_entries * 2 * sizeof *sizes);
    if (!sizes)
        return; /* only a missed check: RETR's own "+OK nnn octets" still counts */
    for (size_t i = 0; i < f->n_entries; i++) {
        if (i > 0 && f->entries[i].msg <= f->entries[i - 1].msg) {
            pop3a_free(sizes); /* out of order: no lookup we could trust */
            return;
        }
        sizes[2 * i] = f->entries[i].msg;
        sizes[2 * i + 1] = f->entries[i].size;
    }
    pop3a_free(c->list_sizes);
    c->list_sizes = sizes;
    c->n_list_sizes = f->n_entries;
}

void pop3a_body_begin(pop3a_client *c, pop3a_future *f, const char *text, size_t len)
{
    f->octets = 0;
    f->bare_lfs = 0;
    f->body_last_cr = 0;
    /* TOP sends part of the message: no size to compare with. */
    f->has_announced = f->cmd == POP3A_CMD_RETR &&
                       (parse_announced(text, len, &f->announced) == 0 ||
                        listed_size(c, f->msg, &f->announced) == 0);
}

void pop3a_body_count(pop3a_future *f, const char *data, size_t len)
{
    if (len == 0)
        return;
    const char *p = data, *end = data + len, *nl;
    while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        int cr_before = nl > data ? nl[-1] == '\r' : f->body_last_cr;
        if (!cr_before)
            f->bare_lfs++;
        p = nl + 1;
    }
    f->body_last_cr = end[-1] == '\r';
}

/* What RFC 1939 would count: every bare LF as CRLF. */
static uint64_t rfc_octets(const pop3a_future *f)
{
    return f->octets + f->bare_lfs;
}

typedef enum { BODY_WHOLE, BODY_SHORT, BODY_UNPROVEN } body_verdict;

static body_verdict size_verdict(pop3a_client *c, const pop3a_future *f)
{
    if (!f->has_announced)
        return BODY_UNPROVEN;
    /* A server that sends bare LFs may count them as sent or as CRLF. */
    if (f->announced == f->octets || f->announced == rfc_octets(f)) {
        c->sizes_matched++;
        return BODY_WHOLE;
    }
    int strict = c->opts.size_check == POP3A_SIZE_CHECK_STRICT ||
                 (c->opts.size_check == POP3A_SIZE_CHECK_AUTO && c->sizes_matched > 0 &&
                  c->sizes_differed == 0);
    if (f->announced > rfc_octets(f) && strict)
        return BODY_SHORT; /* the trust stays: the server's sizes were right so far */
    c->sizes_differed++;
    return BODY_UNPROVEN;
}

/* ------------------------------------------------------------- the hold */

static void settle_cb(evutil_socket_t fd, short what, void *arg)
{
    pop3a_client *c = arg;
    (void)fd;
    (void)what;
    pop3a_enter(c);
    /* Something was written after the body meanwhile: its reply decides. */
    if (c->held && c->replies_len == 0 && pop3a_parser_idle(&c->parser) &&
        pop3a_input_pending(c) == 0 && pop3a_body_release_held(c) == 0)
        pop3a_pump(c);
    pop3a_leave(c);
}

/* POP3A_SETTLE_MS plus twice the round trip the kernel measured (smoothed RTT
 * plus four deviations, as TCP's own retransmission timer), within idle_ms. */
static uint32_t settle_ms(pop3a_client *c)
{
    uint64_t ms = POP3A_SETTLE_MS;
#if defined(__linux__) && defined(TCP_INFO)
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    evutil_socket_t fd = c->bev ? bufferevent_getfd(c->bev) : -1;
    if (fd >= 0 && getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
        len >= offsetof(struct tcp_info, tcpi_rttvar) + sizeof ti.tcpi_rttvar)
        ms += 2 * ((uint64_t)ti.tcpi_rtt + 4 * (uint64_t)ti.tcpi_rttvar) / 1000;
#endif
    return ms < c->opts.idle_ms ? (uint32_t)ms : c->opts.idle_ms;
}

static int hold(pop3a_client *c, pop3a_future *f)
{
    c->held = f;
    if (c->replies_len > 0)
        return 0; /* pipelined: the next reply is on its way */
    if (!c->settle)
        c->settle = POP3A_MAY_FAIL(event_new(c->base, -1, 0, settle_cb, c), NULL);
    if (!c->settle)
        return pop3a_body_release_held(c); /* no memory for a timer: as before */
    struct timeval tv = pop3a_ms_to_tv(settle_ms(c));
    event_add(c->settle, &tv);
    return 0;
}

int pop3a_body_release_held(pop3a_client *c)
{
    pop3a_future *f = c->held;
    if (!f)
        return 0;
    c->held = NULL;
    if (c->settle)
        event_del(c->settle);
    if (pop3a_body_chunk(c, f, "", 0, 1) != 0)
        return -1;
    return pop3a_complete(c, f, f->local_status);
}

int pop3a_body_end(pop3a_client *c, pop3a_future *f)
{
    if (f->cancelled)
        return pop3a_complete(c, f, f->local_status); /* no one stores it */
    switch (size_verdict(c, f)) {
    case BODY_WHOLE:
        break;
    case BODY_SHORT: {
        char why[128];
        int n = snprintf(why, sizeof why,
                         "message cut short: %" PRIu64 " of the %" PRIu64 " octets announced",
                         rfc_octets(f), f->announced);
        f->local_status = POP3A_ERR_PROTOCOL;
        if (pop3a_future_set_text(f, why, (size_t)n) == 0)
            f->text_is_ok_line = 0;
        return pop3a_complete(c, f, f->local_status);
    }
    case BODY_UNPROVEN:
        return hold(c, f);
    }
    if (pop3a_body_chunk(c, f, "", 0, 1) != 0)
        return -1;
    return pop3a_complete(c, f, f->local_status);
}

const char *pop3a_body_cut_reason(pop3a_client *c, const char *why, char *buf, size_t size)
{
    if (!c->held)
        return why;
    snprintf(buf, size, "%s, after the terminator of message %" PRIu32 ": that message was cut short",
             why, c->held->msg);
    return buf;
}

void pop3a_body_reset(pop3a_client *c)
{
    c->held = NULL; /* still queued: failed with the others */
    if (c->settle) {
        event_free(c->settle);
        c->settle = NULL;
    }
    c->sizes_matched = 0;
    c->sizes_differed = 0;
    pop3a_free(c->list_sizes);
    c->list_sizes = NULL;
    c->n_list_sizes = 0;
}

/* ---------------------------------------------------------- accessors */

POP3A_EXPORT int pop3a_future_announced_octets(const pop3a_future *f, uint64_t *octets)
{
    if (!f || !f->has_announced)
        return -1;
    if (octets)
        *octets = f->announced;
    return 0;
}

POP3A_EXPORT uint64_t pop3a_future_received_octets(const pop3a_future *f)
{
    return f ? rfc_octets(f) : 0;
}
