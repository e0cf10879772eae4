/*
 * Incremental POP3 reply parser (see parser.h for the contract).
 *
 * Two ways of reading a reply:
 *  - status and listing lines are short and capped (max_line): they are taken whole,
 *    straight from the input when it holds the line end, else gathered in p->line;
 *  - bodies (RETR/TOP) are never gathered: each feed hands back the largest span of
 *    the input that needs no unstuffing, found with memchr('\n') and a look at the
 *    byte after each line end. Only a "." or ".\r" at a line start that ends a read
 *    is held back (p->pending), because the next byte decides whether it is the
 *    terminator or a stuffed dot.
 * In a CRLF session (decided by the greeting, see parser.h) an LF starts a new line
 * only right after a CR, which may have ended the previous feed (PH_BODY_MID_CR).
 */
#include "parser.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"

/* Where inside the armed reply we are (p->phase). */
enum {
    PH_STATUS = 0,      /* waiting for the status line (or SASL continuation) */
    PH_LISTING,         /* after +OK of a listing: next line is data or "." */
    PH_BODY_LINE_START, /* body: the next byte starts a line */
    PH_BODY_MID_LINE,   /* body: inside a line, only '\n' matters */
    PH_BODY_MID_CR,     /* body, CRLF session: inside a line, the last byte was '\r' */
    PH_BODY_DOT,        /* body: "." at line start held in pending */
    PH_BODY_DOT_CR      /* body: ".\r" at line start held in pending */
};

enum { DEFAULT_MAX_LINE = 8192, MIN_LINE_ALLOC = 128 };

static const char REASON_NOT_STATUS[] = "not a POP3 status line";
static const char REASON_TOO_LONG[] = "line too long";
static const char REASON_NUL[] = "NUL byte in a status or listing line";
static const char REASON_UNSOLICITED[] = "unsolicited data: reply to no command";
static const char REASON_NOMEM[] = "out of memory";
static const char REASON_ARMED_MID_REPLY[] = "parser armed in the middle of a reply";

void pop3a_parser_init(pop3a_parser *p, size_t max_line)
{
    memset(p, 0, sizeof *p);
    if (max_line == 0)
        max_line = DEFAULT_MAX_LINE;
    /* Keeps max_line + 1 (room for a trailing CR) from overflowing. */
    if (max_line > SIZE_MAX / 4)
        max_line = SIZE_MAX / 4;
    p->max_line = max_line;
    p->expect = POP3A_EXPECT_NONE;
    p->phase = PH_STATUS;
}

void pop3a_parser_free(pop3a_parser *p)
{
    pop3a_free(p->line);
    p->line = NULL;
    p->line_len = 0;
    p->line_cap = 0;
}

void pop3a_parser_expect(pop3a_parser *p, pop3a_expect e)
{
    if (p->failed)
        return;
    if (p->expect != POP3A_EXPECT_NONE) {
        /* An engine bug; failing loudly beats parsing the rest of a reply with the
         * wrong rules. The next feed reports it. */
        p->failed = 1;
        p->fail_reason = REASON_ARMED_MID_REPLY;
        return;
    }
    p->expect = e;
    p->phase = PH_STATUS;
}

pop3a_expect pop3a_parser_expecting(const pop3a_parser *p)
{
    return p->expect;
}

pop3a_line_ends pop3a_parser_line_ends(const pop3a_parser *p)
{
    return p->line_ends;
}

/* A CRLF session: a bare LF is data, not a line end. */
static int crlf_only(const pop3a_parser *p)
{
    return p->line_ends == POP3A_LINE_ENDS_CRLF;
}

int pop3a_parser_idle(const pop3a_parser *p)
{
    return !p->failed && p->expect == POP3A_EXPECT_NONE && p->pending_len == 0 &&
           p->line_len == 0;
}

/* ------------------------------------------------------------------ events */

static void set_event(pop3a_pev *ev, pop3a_pev_kind kind, const char *data, size_t len)
{
    ev->kind = kind;
    ev->data = data;
    ev->len = len;
    ev->code = POP3A_RESP_NONE;
}

static size_t fail(pop3a_parser *p, pop3a_pev *ev, const char *reason)
{
    p->failed = 1;
    p->fail_reason = reason;
    set_event(ev, POP3A_PEV_ERROR, reason, strlen(reason));
    return 0;
}

/* The reply is complete: idle until the engine arms the next one. */
static void finish_reply(pop3a_parser *p)
{
    p->expect = POP3A_EXPECT_NONE;
    p->phase = PH_STATUS;
    p->pending_len = 0;
    p->line_len = 0;
}

/* --------------------------------------------------------------- resp codes */

static int ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static int equals_nocase(const char *s, size_t len, const char *lit)
{
    size_t i;
    for (i = 0; i < len; i++) {
        if (lit[i] == '\0' ||
            ascii_lower((unsigned char)s[i]) != ascii_lower((unsigned char)lit[i]))
            return 0;
    }
    return lit[len] == '\0';
}

/* RFC 2449 s8: rchar = %x21-2E / %x30-5C / %x5E-7F (printable ASCII but "/" and "]"). */
static int is_rchar(unsigned char c)
{
    return c >= 0x21 && c <= 0x7f && c != '/' && c != ']';
}

/* Length of the resp-level starting at s, 0 if none. */
static size_t resp_level_len(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && is_rchar((unsigned char)s[i]))
        i++;
    return i;
}

static pop3a_resp_code classify_resp_code(const char *first, size_t first_len,
                                          const char *second, size_t second_len)
{
    /* Codes are hierarchical (RFC 2449 s8): SYS/TEMP/x is still SYS/TEMP, so only
     * the first two levels decide. */
    if (equals_nocase(first, first_len, "IN-USE"))
        return POP3A_RESP_IN_USE; /* RFC 2449 s8.1.1 */
    if (equals_nocase(first, first_len, "LOGIN-DELAY"))
        return POP3A_RESP_LOGIN_DELAY; /* RFC 2449 s8.1.2 */
    if (equals_nocase(first, first_len, "AUTH"))
        return POP3A_RESP_AUTH; /* RFC 3206 s4 */
    if (equals_nocase(first, first_len, "UTF8"))
        return POP3A_RESP_UTF8; /* RFC 6856 s2 */
    if (equals_nocase(first, first_len, "SYS") && second != NULL) {
        if (equals_nocase(second, second_len, "TEMP"))
            return POP3A_RESP_SYS_TEMP; /* RFC 3206 s4 */
        if (equals_nocase(second, second_len, "PERM"))
            return POP3A_RESP_SYS_PERM;
    }
    return POP3A_RESP_OTHER;
}

/*
 * RFC 2449 s8: resp-code = "[" resp-level *("/" resp-level) "]". Text that starts
 * with "[" but does not follow that grammar (no "]", a space inside, an empty level)
 * is ordinary text: NONE.
 */
pop3a_resp_code pop3a_resp_code_parse(const char *text, size_t len)
{
    const char *first, *second = NULL;
    size_t pos, first_len, second_len = 0, n;

    if (len < 2 || text[0] != '[')
        return POP3A_RESP_NONE;
    pos = 1;
    first = text + pos;
    first_len = resp_level_len(first, len - pos);
    if (first_len == 0)
        return POP3A_RESP_NONE;
    pos += first_len;
    while (pos < len && text[pos] == '/') {
        pos++;
        n = resp_level_len(text + pos, len - pos);
        if (n == 0)
            return POP3A_RESP_NONE;
        if (second == NULL) {
            second = text + pos;
            second_len = n;
        }
        pos += n;
    }
    if (pos >= len || text[pos] != ']')
        return POP3A_RESP_NONE;
    return classify_resp_code(first, first_len, second, second_len);
}

/* ------------------------------------------------------- status and listing */

static int line_reserve(pop3a_parser *p, size_t need)
{
    size_t cap;
    char *grown;

    if (need <= p->line_cap)
        return 1;
    /* Doubling keeps appends amortised O(1); the cap bounds the buffer at
     * max_line + 1 (a trailing CR is stored until its LF arrives). */
    cap = p->line_cap ? p->line_cap * 2 : MIN_LINE_ALLOC;
    if (cap < need)
        cap = need;
    if (cap > p->max_line + 1)
        cap = p->max_line + 1;
    grown = pop3a_realloc(p->line, cap);
    if (grown == NULL)
        return 0;
    p->line = grown; /* owned by p, freed by pop3a_parser_free */
    p->line_cap = cap;
    return 1;
}

static int line_append(pop3a_parser *p, const char *s, size_t n)
{
    if (n == 0)
        return 1;
    if (!line_reserve(p, p->line_len + n))
        return 0;
    memcpy(p->line + p->line_len, s, n);
    p->line_len += n;
    return 1;
}

/*
 * Content length of `stored` bytes seen so far without their LF, the last of which
 * is `last`: a CR at the end may still turn out to be the line end's, so it does not
 * count against the cap yet. Lets "line too long" fire as soon as the cap is passed.
 */
static size_t pending_content_len(size_t stored, char last)
{
    return (stored > 0 && last == '\r') ? stored - 1 : stored;
}

typedef enum { LINE_MORE, LINE_DONE, LINE_FAILED } line_result;

/*
 * The LF that ends the line being read, or NULL. A listing line of a CRLF session
 * ends only at CR LF, the CR possibly the last byte already buffered; a bare LF
 * before it is part of the line. Status lines end at either.
 */
static const char *find_line_end(const pop3a_parser *p, const char *in, size_t len)
{
    const char *nl = memchr(in, '\n', len);
    if (p->phase != PH_LISTING || !crlf_only(p))
        return nl;
    while (nl != NULL) {
        char prev = nl > in ? nl[-1] : p->line_len > 0 ? p->line[p->line_len - 1] : '\0';
        if (prev == '\r')
            return nl;
        nl = memchr(nl + 1, '\n', (size_t)(in + len - (nl + 1)));
    }
    return NULL;
}

/*
 * Takes one complete line (see find_line_end; RFC 1939 s3 says CRLF, a bare LF is
 * tolerated where the session's line ends allow it) from the input, straight from
 * `in` when no earlier piece is buffered. On LINE_DONE, *line and *line_len hold
 * the content without its line end, and *crlf says whether that was CRLF.
 */
static line_result take_line(pop3a_parser *p, const char *in, size_t len, const char **line,
                             size_t *line_len, int *crlf, size_t *consumed, pop3a_pev *ev)
{
    const char *nl = find_line_end(p, in, len);
    const char *content;
    size_t n, clen;

    if (nl == NULL) {
        if (p->line_len + len > p->max_line + 1 ||
            pending_content_len(p->line_len + len, in[len - 1]) > p->max_line) {
            *consumed = fail(p, ev, REASON_TOO_LONG);
            return LINE_FAILED;
        }
        if (!line_append(p, in, len)) {
            *consumed = fail(p, ev, REASON_NOMEM);
            return LINE_FAILED;
        }
        *consumed = len;
        return LINE_MORE;
    }
    n = (size_t)(nl - in);
    if (p->line_len == 0) {
        content = in;
        clen = n;
    } else {
        if (p->line_len + n > p->max_line + 1) {
            *consumed = fail(p, ev, REASON_TOO_LONG);
            return LINE_FAILED;
        }
        if (!line_append(p, in, n)) {
            *consumed = fail(p, ev, REASON_NOMEM);
            return LINE_FAILED;
        }
        content = p->line;
        clen = p->line_len;
        p->line_len = 0; /* content stays valid until the next feed appends */
    }
    *crlf = clen > 0 && content[clen - 1] == '\r';
    if (*crlf)
        clen--;
    if (clen > p->max_line) {
        *consumed = fail(p, ev, REASON_TOO_LONG);
        return LINE_FAILED;
    }
    if (memchr(content, '\0', clen) != NULL) {
        *consumed = fail(p, ev, REASON_NUL);
        return LINE_FAILED;
    }
    *line = content;
    *line_len = clen;
    *consumed = n + 1;
    return LINE_DONE;
}

/* "+OK" or "-ERR" (any case), then the end or a space: RFC 1939 s3. Returns the
 * offset of the text, 0 if `line` is not that status. */
static size_t status_text_offset(const char *line, size_t len, const char *indicator)
{
    size_t n = strlen(indicator);
    if (len < n || !equals_nocase(line, n, indicator))
        return 0;
    if (len == n)
        return n;
    return line[n] == ' ' ? n + 1 : 0;
}

static void set_status_event(pop3a_pev *ev, pop3a_pev_kind kind, const char *text, size_t len)
{
    set_event(ev, kind, text, len);
    ev->code = pop3a_resp_code_parse(text, len);
}

static void handle_status_line(pop3a_parser *p, const char *line, size_t len, pop3a_pev *ev)
{
    size_t off;

    if ((off = status_text_offset(line, len, "+OK")) != 0) {
        set_status_event(ev, POP3A_PEV_OK, line + off, len - off);
        /* RFC 1939 s3: only a positive reply has a multi-line section. */
        if (p->expect == POP3A_EXPECT_LINES)
            p->phase = PH_LISTING;
        else if (p->expect == POP3A_EXPECT_BODY)
            p->phase = PH_BODY_LINE_START;
        else
            finish_reply(p);
        return;
    }
    if ((off = status_text_offset(line, len, "-ERR")) != 0) {
        set_status_event(ev, POP3A_PEV_ERR, line + off, len - off);
        finish_reply(p);
        return;
    }
    if (p->expect == POP3A_EXPECT_SASL && len > 0 && line[0] == '+') {
        /* RFC 5034 s4: continue-req = "+" SP [base64] CRLF; a bare "+" and "+" glued
         * to the base64 are tolerated (older servers send them). */
        off = (len > 1 && line[1] == ' ') ? 2 : 1;
        set_event(ev, POP3A_PEV_CONTINUE, line + off, len - off);
        finish_reply(p);
        return;
    }
    fail(p, ev, REASON_NOT_STATUS);
}

/* RFC 1939 s3: "." alone ends the listing; a leading "." is otherwise stuffing. */
static void handle_listing_line(pop3a_parser *p, const char *line, size_t len, pop3a_pev *ev)
{
    if (len == 1 && line[0] == '.') {
        set_event(ev, POP3A_PEV_END, NULL, 0);
        finish_reply(p);
        return;
    }
    if (len > 0 && line[0] == '.')
        set_event(ev, POP3A_PEV_LINE, line + 1, len - 1);
    else
        set_event(ev, POP3A_PEV_LINE, line, len);
}

static size_t feed_line(pop3a_parser *p, const char *in, size_t len, pop3a_pev *ev)
{
    const char *line = NULL;
    size_t line_len = 0, consumed = 0;
    int crlf = 0;

    if (len == 0)
        return 0;
    switch (take_line(p, in, len, &line, &line_len, &crlf, &consumed, ev)) {
    case LINE_MORE:
    case LINE_FAILED:
        return consumed;
    case LINE_DONE:
        break;
    }
    if (p->line_ends == POP3A_LINE_ENDS_UNDECIDED && p->phase == PH_STATUS)
        p->line_ends = crlf ? POP3A_LINE_ENDS_CRLF : POP3A_LINE_ENDS_LF;
    if (p->phase == PH_LISTING)
        handle_listing_line(p, line, line_len, ev);
    else
        handle_status_line(p, line, line_len, ev);
    return p->failed ? 0 : consumed;
}

/* -------------------------------------------------------------------- body */

static size_t end_body(pop3a_parser *p, pop3a_pev *ev, size_t consumed)
{
    set_event(ev, POP3A_PEV_END, NULL, 0);
    finish_reply(p);
    return consumed;
}

/*
 * Hands back s[0..span) as data, s[0] being inside a line (never a line start to
 * check); prev_cr says the byte before s[0] was a CR. The span runs through whole
 * lines and stops only right before a "." at a line start (stuffing or the
 * terminator, RFC 1939 s3) or at the end of the input. In a CRLF session an LF
 * without a CR before it does not start a line.
 */
static size_t emit_span(pop3a_parser *p, const char *s, size_t n, int prev_cr, pop3a_pev *ev)
{
    const char *end = s + n;
    const char *pos = s;
    const char *nl;
    int strict = crlf_only(p);

    for (;;) {
        nl = memchr(pos, '\n', (size_t)(end - pos));
        if (nl == NULL) {
            p->phase = strict && end[-1] == '\r' ? PH_BODY_MID_CR : PH_BODY_MID_LINE;
            pos = end;
            break;
        }
        pos = nl + 1;
        if (strict && !(nl > s ? nl[-1] == '\r' : prev_cr)) {
            if (pos == end) {
                p->phase = PH_BODY_MID_LINE;
                break;
            }
            continue; /* a bare LF: data inside the line */
        }
        if (pos == end) {
            p->phase = PH_BODY_LINE_START;
            break;
        }
        if (*pos == '.') {
            p->phase = PH_BODY_LINE_START;
            break;
        }
    }
    set_event(ev, POP3A_PEV_DATA, s, (size_t)(pos - s));
    return (size_t)(pos - s);
}

static void hold(pop3a_parser *p, int phase, const char *bytes, size_t n)
{
    memcpy(p->pending, bytes, n);
    p->pending_len = n;
    p->phase = phase;
}

/* in[0] is a "." at a line start: the terminator, or stuffing to drop. */
static size_t body_dot_at_line_start(pop3a_parser *p, const char *in, size_t len, pop3a_pev *ev)
{
    if (len == 1) {
        hold(p, PH_BODY_DOT, ".", 1);
        return 1;
    }
    if (in[1] == '\n' && !crlf_only(p))
        return end_body(p, ev, 2); /* ".\n": a bare-LF server's terminator */
    if (in[1] == '\r') {
        if (len == 2) {
            hold(p, PH_BODY_DOT_CR, ".\r", 2);
            return 2;
        }
        if (in[2] == '\n')
            return end_body(p, ev, 3);
    }
    return 1 + emit_span(p, in + 1, len - 1, 0, ev);
}

/* A "." was held back at a line start; in[0] decides. */
static size_t body_after_dot(pop3a_parser *p, const char *in, size_t len, pop3a_pev *ev)
{
    if (in[0] == '\n' && !crlf_only(p))
        return end_body(p, ev, 1);
    if (in[0] == '\r') {
        if (len == 1) {
            hold(p, PH_BODY_DOT_CR, ".\r", 2);
            return 1;
        }
        if (in[1] == '\n')
            return end_body(p, ev, 2);
    }
    p->pending_len = 0; /* the held "." was stuffing: dropped */
    return emit_span(p, in, len, 0, ev);
}

/* ".\r" was held back at a line start; in[0] decides. */
static size_t body_after_dot_cr(pop3a_parser *p, const char *in, pop3a_pev *ev)
{
    if (in[0] == '\n')
        return end_body(p, ev, 1);
    /* The "." was stuffing and the "\r" is data that is no longer in the input:
     * hand it out from pending, consuming nothing. */
    p->pending_len = 0;
    p->phase = crlf_only(p) ? PH_BODY_MID_CR : PH_BODY_MID_LINE;
    set_event(ev, POP3A_PEV_DATA, p->pending + 1, 1);
    return 0;
}

static size_t feed_body(pop3a_parser *p, const char *in, size_t len, pop3a_pev *ev)
{
    if (len == 0)
        return 0;
    switch (p->phase) {
    case PH_BODY_LINE_START:
        if (in[0] == '.')
            return body_dot_at_line_start(p, in, len, ev);
        return emit_span(p, in, len, 0, ev);
    case PH_BODY_DOT:
        return body_after_dot(p, in, len, ev);
    case PH_BODY_DOT_CR:
        return body_after_dot_cr(p, in, ev);
    default:
        return emit_span(p, in, len, p->phase == PH_BODY_MID_CR, ev);
    }
}

/* ------------------------------------------------------------------- feed */

size_t pop3a_parser_feed(pop3a_parser *p, const char *in, size_t len, pop3a_pev *ev)
{
    set_event(ev, POP3A_PEV_NEED_MORE, NULL, 0);
    if (p->failed)
        return fail(p, ev, p->fail_reason);
    if (p->expect == POP3A_EXPECT_NONE) {
        if (len == 0)
            return 0;
        return fail(p, ev, REASON_UNSOLICITED);
    }
    switch (p->phase) {
    case PH_STATUS:
    case PH_LISTING:
        return feed_line(p, in, len, ev);
    default:
        return feed_body(p, in, len, ev);
    }
}
