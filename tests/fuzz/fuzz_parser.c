/*
 * Differential fuzzer for the incremental reply parser (lib/protocol/parser.c).
 *
 * The same bytes go to the real parser, cut into fuzzer-chosen pieces, and to
 * a reference decoder written here that reads one byte at a time and follows
 * RFC 1939 section 3 literally: status line "+OK"/"-ERR" (any case) then the
 * end or a space; multi-line sections end at "." alone on a line; a leading
 * "." is stuffing and is dropped; the first status line's end decides the
 * session's line ends: after CRLF only CRLF ends a listing or body line (a bare
 * LF is data), after a bare LF either does; status lines end at either;
 * status and listing lines longer than max_line or holding NUL are errors;
 * RFC 5034 section 4 continuations ("+ " and the tolerated "+") in SASL mode.
 * Both produce an event stream (adjacent DATA merged); the streams, and the
 * number of bytes consumed by the reply, must be identical.
 *
 * Input: [mode][max_line][split seed: 4 bytes][reply bytes...]
 *   mode & 3: 0 BODY, 1 LINES, 2 STATUS, 3 SASL
 *   mode & 4: prepend a synthetic "+OK\r\n" (so the body/listing rules get
 *             the fuzzer's bytes from the first one)
 *   mode & 8: the synthetic line is "+OK\n" instead (a bare-LF server)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "parser.h"

/* ------------------------------------------------------------- event log */

typedef struct {
    pop3a_pev_kind kind;
    pop3a_resp_code code;
    size_t off; /* payload in the log's byte buffer */
    size_t len;
} log_event;

typedef struct {
    log_event *ev;
    size_t n, cap;
    unsigned char *bytes;
    size_t blen, bcap;
} event_log;

static void *grow_or_die(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *q = realloc(p, n * elem);
    if (!q)
        abort();
    *cap = n;
    return q;
}

static void log_bytes(event_log *l, const void *data, size_t len)
{
    l->bytes = grow_or_die(l->bytes, &l->bcap, l->blen + len + 1, 1);
    if (len)
        memcpy(l->bytes + l->blen, data, len);
    l->blen += len;
}

/* Appends an event; DATA after DATA is merged, so how the body was cut into
 * spans does not matter, only the bytes. */
static void log_event_add(event_log *l, pop3a_pev_kind kind, pop3a_resp_code code,
                          const void *data, size_t len)
{
    if (kind == POP3A_PEV_DATA && l->n > 0 && l->ev[l->n - 1].kind == POP3A_PEV_DATA) {
        log_bytes(l, data, len);
        l->ev[l->n - 1].len += len;
        return;
    }
    l->ev = grow_or_die(l->ev, &l->cap, l->n + 1, sizeof *l->ev);
    log_event *e = &l->ev[l->n++];
    e->kind = kind;
    e->code = code;
    e->off = l->blen;
    e->len = len;
    log_bytes(l, data, len);
}

static void log_free(event_log *l)
{
    free(l->ev);
    free(l->bytes);
}

static const char *kind_name(pop3a_pev_kind k)
{
    static const char *names[] = {"NEED_MORE", "OK", "ERR", "CONTINUE",
                                  "LINE",      "DATA", "END", "ERROR"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

static void log_compare(const event_log *got, const event_log *want)
{
    size_t n = got->n < want->n ? got->n : want->n;
    for (size_t i = 0; i < n; i++) {
        const log_event *g = &got->ev[i], *w = &want->ev[i];
        FUZZ_CHECK(g->kind == w->kind, "event %zu: parser %s, reference %s", i,
                   kind_name(g->kind), kind_name(w->kind));
        if (g->kind == POP3A_PEV_ERROR)
            continue; /* reasons are the parser's own words */
        FUZZ_CHECK(g->len == w->len, "event %zu (%s): parser %zu bytes, reference %zu", i,
                   kind_name(g->kind), g->len, w->len);
        FUZZ_CHECK(memcmp(got->bytes + g->off, want->bytes + w->off, g->len) == 0,
                   "event %zu (%s): payload differs", i, kind_name(g->kind));
        FUZZ_CHECK(g->code == w->code, "event %zu: resp code %d, reference %d", i, g->code,
                   w->code);
    }
    FUZZ_CHECK(got->n == want->n, "parser gave %zu events, reference %zu", got->n, want->n);
}

/* ------------------------------------------------------ reference decoder */

enum { R_STATUS, R_LISTING, R_LINE_START, R_MID, R_MID_CR, R_DOT, R_DOT_CR, R_DONE, R_FAILED };

typedef struct {
    pop3a_expect expect;
    size_t max_line;
    int state;
    int line_ends; /* 0 undecided, 1 CRLF only, 2 bare LF too */
    unsigned char *line; /* the status/listing line so far */
    size_t llen, lcap;
    size_t consumed; /* bytes of the reply, once R_DONE or R_FAILED */
    event_log log;
} ref_decoder;

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int prefix_nocase(const unsigned char *s, size_t len, const char *word)
{
    size_t n = strlen(word);
    if (len < n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(s[i]) != lower((unsigned char)word[i]))
            return 0;
    return 1;
}

/* RFC 2449 section 8: "[" level *("/" level) "]", level = 1*rchar where rchar
 * is %x21-7F except "/" and "]"; anything else is not a code. */
static pop3a_resp_code ref_resp_code(const unsigned char *t, size_t len)
{
    if (len < 2 || t[0] != '[')
        return POP3A_RESP_NONE;
    size_t i = 1, levels = 0;
    size_t start[2] = {0, 0}, n[2] = {0, 0};
    for (;;) {
        size_t s = i;
        while (i < len && t[i] >= 0x21 && t[i] <= 0x7f && t[i] != '/' && t[i] != ']')
            i++;
        if (i == s)
            return POP3A_RESP_NONE;
        if (levels < 2) {
            start[levels] = s;
            n[levels] = i - s;
        }
        levels++;
        if (i < len && t[i] == '/') {
            i++;
            continue;
        }
        break;
    }
    if (i >= len || t[i] != ']')
        return POP3A_RESP_NONE;
#define LEVEL_IS(k, word) (n[k] == strlen(word) && prefix_nocase(t + start[k], n[k], word))
    if (LEVEL_IS(0, "IN-USE"))
        return POP3A_RESP_IN_USE;
    if (LEVEL_IS(0, "LOGIN-DELAY"))
        return POP3A_RESP_LOGIN_DELAY;
    if (LEVEL_IS(0, "AUTH"))
        return POP3A_RESP_AUTH;
    if (LEVEL_IS(0, "UTF8"))
        return POP3A_RESP_UTF8;
    if (LEVEL_IS(0, "SYS") && levels >= 2 && LEVEL_IS(1, "TEMP"))
        return POP3A_RESP_SYS_TEMP;
    if (LEVEL_IS(0, "SYS") && levels >= 2 && LEVEL_IS(1, "PERM"))
        return POP3A_RESP_SYS_PERM;
#undef LEVEL_IS
    return POP3A_RESP_OTHER;
}

static void ref_fail(ref_decoder *r, size_t pos)
{
    log_event_add(&r->log, POP3A_PEV_ERROR, POP3A_RESP_NONE, NULL, 0);
    r->state = R_FAILED;
    r->consumed = pos;
}

static void ref_done(ref_decoder *r, size_t pos)
{
    r->state = R_DONE;
    r->consumed = pos;
}

/* "+OK"/"-ERR" then the end or a space: the offset of the text, or 0. */
static size_t status_offset(const unsigned char *l, size_t len, const char *ind)
{
    size_t n = strlen(ind);
    if (!prefix_nocase(l, len, ind))
        return 0;
    if (len == n)
        return n;
    return l[n] == ' ' ? n + 1 : 0;
}

static void ref_status_line(ref_decoder *r, const unsigned char *l, size_t len, size_t pos)
{
    size_t off;
    if ((off = status_offset(l, len, "+OK")) != 0) {
        log_event_add(&r->log, POP3A_PEV_OK, ref_resp_code(l + off, len - off), l + off,
                      len - off);
        if (r->expect == POP3A_EXPECT_LINES)
            r->state = R_LISTING;
        else if (r->expect == POP3A_EXPECT_BODY)
            r->state = R_LINE_START;
        else
            ref_done(r, pos);
        return;
    }
    if ((off = status_offset(l, len, "-ERR")) != 0) {
        log_event_add(&r->log, POP3A_PEV_ERR, ref_resp_code(l + off, len - off), l + off,
                      len - off);
        ref_done(r, pos);
        return;
    }
    if (r->expect == POP3A_EXPECT_SASL && len >= 1 && l[0] == '+') {
        off = len >= 2 && l[1] == ' ' ? 2 : 1;
        log_event_add(&r->log, POP3A_PEV_CONTINUE, POP3A_RESP_NONE, l + off, len - off);
        ref_done(r, pos);
        return;
    }
    ref_fail(r, pos);
}

static void ref_listing_line(ref_decoder *r, const unsigned char *l, size_t len, size_t pos)
{
    if (len == 1 && l[0] == '.') {
        log_event_add(&r->log, POP3A_PEV_END, POP3A_RESP_NONE, NULL, 0);
        ref_done(r, pos);
        return;
    }
    size_t skip = len > 0 && l[0] == '.' ? 1 : 0;
    log_event_add(&r->log, POP3A_PEV_LINE, POP3A_RESP_NONE, l + skip, len - skip);
}

/* One byte of a status or listing line; pos is the offset after it. */
static void ref_line_byte(ref_decoder *r, unsigned char c, size_t pos)
{
    /* In a CRLF session a listing line's bare LF is content. */
    int ends = c == '\n' && (r->state == R_STATUS || r->line_ends != 1 ||
                             (r->llen > 0 && r->line[r->llen - 1] == '\r'));
    if (!ends) {
        r->line = grow_or_die(r->line, &r->lcap, r->llen + 1, 1);
        r->line[r->llen++] = c;
        /* A trailing CR may still be the line end's; it does not count yet. */
        size_t content = r->llen - (c == '\r' ? 1 : 0);
        if (content > r->max_line)
            ref_fail(r, pos);
        return;
    }
    size_t len = r->llen;
    r->llen = 0;
    int crlf = len > 0 && r->line[len - 1] == '\r';
    if (crlf)
        len--;
    if (r->line_ends == 0 && r->state == R_STATUS)
        r->line_ends = crlf ? 1 : 2;
    if (len > r->max_line || (len > 0 && memchr(r->line, '\0', len) != NULL)) {
        ref_fail(r, pos);
        return;
    }
    if (r->state == R_STATUS)
        ref_status_line(r, r->line, len, pos);
    else
        ref_listing_line(r, r->line, len, pos);
}

static void emit(ref_decoder *r, unsigned char c)
{
    log_event_add(&r->log, POP3A_PEV_DATA, POP3A_RESP_NONE, &c, 1);
}

/* The state after data byte c inside a line (or at its start). */
static int ref_after_data(const ref_decoder *r, unsigned char c)
{
    if (r->line_ends == 1) /* CRLF only */
        return c == '\r' ? R_MID_CR : R_MID;
    return c == '\n' ? R_LINE_START : R_MID;
}

/* One body byte; pos is the offset after it. */
static void ref_body_byte(ref_decoder *r, unsigned char c, size_t pos)
{
    switch (r->state) {
    case R_LINE_START:
        if (c == '.') {
            r->state = R_DOT;
            return;
        }
        emit(r, c);
        r->state = ref_after_data(r, c);
        return;
    case R_MID:
        emit(r, c);
        r->state = ref_after_data(r, c);
        return;
    case R_MID_CR:
        emit(r, c);
        r->state = c == '\n' ? R_LINE_START : ref_after_data(r, c);
        return;
    case R_DOT:
        if (c == '\n' && r->line_ends != 1) {
            log_event_add(&r->log, POP3A_PEV_END, POP3A_RESP_NONE, NULL, 0);
            ref_done(r, pos);
            return;
        }
        if (c == '\r') {
            r->state = R_DOT_CR;
            return;
        }
        /* The dot was stuffing (RFC 1939 s3): dropped. */
        emit(r, c);
        r->state = ref_after_data(r, c);
        return;
    case R_DOT_CR:
        if (c == '\n') {
            log_event_add(&r->log, POP3A_PEV_END, POP3A_RESP_NONE, NULL, 0);
            ref_done(r, pos);
            return;
        }
        /* "." stuffing, then a CR that is data. */
        emit(r, '\r');
        emit(r, c);
        r->state = ref_after_data(r, c);
        return;
    default:
        return;
    }
}

static void ref_run(ref_decoder *r, const unsigned char *in, size_t len)
{
    for (size_t i = 0; i < len && r->state != R_DONE && r->state != R_FAILED; i++) {
        if (r->state == R_STATUS || r->state == R_LISTING)
            ref_line_byte(r, in[i], i + 1);
        else
            ref_body_byte(r, in[i], i + 1);
    }
}

/* ---------------------------------------------------------- real parser */

static int points_into(const char *p, size_t len, const void *base, size_t base_len)
{
    const char *b = base;
    return p >= b && p + len <= b + base_len;
}

/* Feeds `in` in pieces; logs events; returns the bytes the reply consumed
 * (its end), or SIZE_MAX when it did not end. */
static size_t parser_run(pop3a_parser *p, const char *in, size_t len, fuzz_rng *rng,
                         event_log *log)
{
    size_t pos = 0;
    unsigned long guard = 0;
    while (pos < len) {
        size_t piece = fuzz_piece_len(rng, len - pos);
        const char *chunk = in + pos;
        size_t rem = piece;
        while (rem > 0) {
            FUZZ_CHECK(++guard < 4ul * len + 64, "parser makes no progress at offset %zu",
                       pos);
            pop3a_pev ev;
            size_t n = pop3a_parser_feed(p, chunk, rem, &ev);
            FUZZ_CHECK(n <= rem, "consumed %zu of %zu", n, rem);
            if (ev.kind == POP3A_PEV_NEED_MORE) {
                FUZZ_CHECK(n == rem, "NEED_MORE but consumed %zu of %zu", n, rem);
            } else if (ev.kind == POP3A_PEV_DATA) {
                FUZZ_CHECK(ev.len > 0, "empty DATA event");
                FUZZ_CHECK(points_into(ev.data, ev.len, chunk, rem) ||
                               points_into(ev.data, ev.len, p->pending, sizeof p->pending),
                           "DATA span outside the input and the pending bytes");
            } else if (ev.kind != POP3A_PEV_ERROR && ev.len > 0) {
                FUZZ_CHECK(points_into(ev.data, ev.len, chunk, rem) ||
                               (p->line && points_into(ev.data, ev.len, p->line, p->line_cap)),
                           "event data outside the input and the line buffer");
            }
            if (ev.kind != POP3A_PEV_NEED_MORE)
                log_event_add(log, ev.kind, ev.code, ev.kind == POP3A_PEV_ERROR ? NULL : ev.data,
                              ev.kind == POP3A_PEV_ERROR ? 0 : ev.len);
            chunk += n;
            rem -= n;
            pos += n;
            if (ev.kind == POP3A_PEV_ERROR) {
                FUZZ_CHECK(!pop3a_parser_idle(p), "idle after an error");
                return pos;
            }
            if (ev.kind != POP3A_PEV_NEED_MORE &&
                pop3a_parser_expecting(p) == POP3A_EXPECT_NONE) {
                FUZZ_CHECK(pop3a_parser_idle(p), "reply over but parser not idle");
                return pos;
            }
        }
    }
    return SIZE_MAX;
}

/* What follows a finished reply goes to a second, STATUS, reply: the parser
 * must be reusable after finishing one (crash and progress checks only). */
static void parser_second_reply(pop3a_parser *p, const char *in, size_t len)
{
    pop3a_parser_expect(p, POP3A_EXPECT_STATUS);
    size_t guard = 0;
    while (len > 0 && guard++ < 2 * len + 8) {
        pop3a_pev ev;
        size_t n = pop3a_parser_feed(p, in, len, &ev);
        FUZZ_CHECK(n <= len, "consumed too much");
        in += n;
        len -= n;
        if (ev.kind != POP3A_PEV_NEED_MORE && ev.kind != POP3A_PEV_DATA)
            break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input fin = {data, size};
    uint8_t mode = fuzz_byte(&fin, 0);
    /* Small caps make "line too long" reachable; 0 picks the default 8192. */
    uint8_t ml = fuzz_byte(&fin, 0);
    size_t max_line = ml == 0 ? 8192 : (size_t)ml;
    fuzz_rng rng;
    fuzz_rng_init(&rng, fuzz_u32(&fin));
    static const pop3a_expect modes[] = {POP3A_EXPECT_BODY, POP3A_EXPECT_LINES,
                                         POP3A_EXPECT_STATUS, POP3A_EXPECT_SASL};
    pop3a_expect expect = modes[mode & 3];
    const char *synthetic = (mode & 8) ? "+OK\n" : "+OK\r\n";
    size_t pre = (mode & 4) ? strlen(synthetic) : 0;

    size_t len = pre + fin.len;
    char *in = malloc(len ? len : 1);
    if (!in)
        return 0;
    memcpy(in, synthetic, pre);
    if (fin.len)
        memcpy(in + pre, fin.p, fin.len);

    ref_decoder ref;
    memset(&ref, 0, sizeof ref);
    ref.expect = expect;
    ref.max_line = max_line;
    ref.state = R_STATUS;
    ref_run(&ref, (const unsigned char *)in, len);

    pop3a_parser p;
    pop3a_parser_init(&p, ml == 0 ? 0 : max_line);
    pop3a_parser_expect(&p, expect);
    event_log got;
    memset(&got, 0, sizeof got);
    size_t end = parser_run(&p, in, len, &rng, &got);

    log_compare(&got, &ref.log);
    int ref_ended = ref.state == R_DONE || ref.state == R_FAILED;
    FUZZ_CHECK((end != SIZE_MAX) == ref_ended, "reply ended: parser %d, reference %d",
               end != SIZE_MAX, ref_ended);
    if (ref.state == R_DONE) {
        FUZZ_CHECK(end == ref.consumed, "reply is %zu bytes for the parser, %zu for the reference",
                   end, ref.consumed);
        parser_second_reply(&p, in + end, len - end);
    }

    pop3a_parser_free(&p);
    log_free(&got);
    log_free(&ref.log);
    free(ref.line);
    free(in);
    return 0;
}
