/* The reply-parser test driver: see parser_driver.h. */
#include "parser_driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ string buffer */

void sb_add(strbuf *sb, const char *s, size_t n)
{
    if (sb->len + n + 1 > sb->cap) {
        size_t cap = sb->cap ? sb->cap : 64;
        while (cap < sb->len + n + 1)
            cap *= 2;
        sb->buf = realloc(sb->buf, cap);
        REQUIRE(sb->buf != NULL, "out of memory");
        sb->cap = cap;
    }
    if (n > 0)
        memcpy(sb->buf + sb->len, s, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

void sb_str(strbuf *sb, const char *s)
{
    sb_add(sb, s, strlen(s));
}

/* Quoted, with \r \n \0 \\ \" and \xHH escapes, so transcripts are readable. */
static void sb_quoted(strbuf *sb, const char *s, size_t n)
{
    size_t i;
    char tmp[8];

    sb_add(sb, "\"", 1);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r')
            sb_str(sb, "\\r");
        else if (c == '\n')
            sb_str(sb, "\\n");
        else if (c == '\0')
            sb_str(sb, "\\0");
        else if (c == '\\' || c == '"') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            sb_add(sb, tmp, 2);
        } else if (c < 0x20 || c >= 0x7f) {
            snprintf(tmp, sizeof tmp, "\\x%02x", c);
            sb_str(sb, tmp);
        } else
            sb_add(sb, (const char *)&s[i], 1);
    }
    sb_add(sb, "\"", 1);
}

static const char *code_name(pop3a_resp_code code)
{
    switch (code) {
    case POP3A_RESP_NONE: return "NONE";
    case POP3A_RESP_IN_USE: return "IN_USE";
    case POP3A_RESP_LOGIN_DELAY: return "LOGIN_DELAY";
    case POP3A_RESP_SYS_TEMP: return "SYS_TEMP";
    case POP3A_RESP_SYS_PERM: return "SYS_PERM";
    case POP3A_RESP_AUTH: return "AUTH";
    case POP3A_RESP_UTF8: return "UTF8";
    case POP3A_RESP_OTHER: return "OTHER";
    }
    return "?";
}

/* ------------------------------------------------------------------ driver */

void driver_init(driver *d, size_t max_line, const pop3a_expect *expects, size_t n)
{
    memset(d, 0, sizeof *d);
    pop3a_parser_init(&d->p, max_line);
    d->expects = expects;
    d->n_expects = n;
}

static void flush_data(driver *d)
{
    if (!d->data_open)
        return;
    sb_str(&d->out, "DATA ");
    sb_quoted(&d->out, d->data.buf, d->data.len);
    sb_str(&d->out, "\n");
    d->data.len = 0;
    d->data_open = 0;
}

static void record(driver *d, const pop3a_pev *ev)
{
    if (ev->kind == POP3A_PEV_DATA) {
        sb_add(&d->data, ev->data, ev->len);
        d->data_open = 1;
        d->n_data_events++;
        return;
    }
    flush_data(d);
    switch (ev->kind) {
    case POP3A_PEV_OK:
    case POP3A_PEV_ERR:
        sb_str(&d->out, ev->kind == POP3A_PEV_OK ? "OK " : "ERR ");
        sb_str(&d->out, code_name(ev->code));
        sb_str(&d->out, " ");
        sb_quoted(&d->out, ev->data, ev->len);
        break;
    case POP3A_PEV_CONTINUE:
        sb_str(&d->out, "CONT ");
        sb_quoted(&d->out, ev->data, ev->len);
        break;
    case POP3A_PEV_LINE:
        sb_str(&d->out, "LINE ");
        sb_quoted(&d->out, ev->data, ev->len);
        break;
    case POP3A_PEV_END:
        sb_str(&d->out, "END");
        break;
    case POP3A_PEV_ERROR:
        sb_str(&d->out, "ERROR ");
        sb_quoted(&d->out, ev->data, ev->len);
        break;
    default:
        ck_abort_msg("unexpected event kind %d", (int)ev->kind);
    }
    sb_str(&d->out, "\n");
}

static void arm_if_idle(driver *d)
{
    if (!d->p.failed && pop3a_parser_expecting(&d->p) == POP3A_EXPECT_NONE &&
        d->next_expect < d->n_expects)
        pop3a_parser_expect(&d->p, d->expects[d->next_expect++]);
}

/* Event data must point into the chunk just fed or into the parser's own storage
 * (pending bytes or line buffer): nothing else is valid after the call. */
static void assert_data_location(const driver *d, const pop3a_pev *ev, const char *chunk,
                                 size_t len)
{
    const char *pend = d->p.pending;
    if (ev->len == 0 || ev->kind == POP3A_PEV_ERROR)
        return;
    if (ev->data >= chunk && ev->data + ev->len <= chunk + len)
        return;
    if (ev->data >= pend && ev->data + ev->len <= pend + sizeof d->p.pending) {
        ck_assert_int_eq(ev->kind, POP3A_PEV_DATA);
        return;
    }
    ck_assert_msg(ev->kind != POP3A_PEV_DATA, "DATA span is not zero copy");
    ck_assert_msg(d->p.line != NULL && ev->data >= d->p.line &&
                      ev->data + ev->len <= d->p.line + d->p.line_cap,
                  "event data outside the input and the parser");
}

void driver_feed(driver *d, const char *chunk, size_t len)
{
    size_t off = 0;
    int zero_progress = 0;
    pop3a_pev ev;

    if (d->stopped) {
        /* A failed parser stays failed, with the same reason. */
        (void)pop3a_parser_feed(&d->p, chunk, len, &ev);
        ck_assert_int_eq(ev.kind, POP3A_PEV_ERROR);
        ck_assert_str_eq(ev.data, d->error_reason);
        return;
    }
    for (;;) {
        size_t n;
        arm_if_idle(d);
        n = pop3a_parser_feed(&d->p, chunk + off, len - off, &ev);
        ck_assert_uint_le(n, len - off);
        assert_data_location(d, &ev, chunk + off, len - off);
        off += n;
        if (ev.kind == POP3A_PEV_NEED_MORE) {
            ck_assert_msg(off == len, "NEED_MORE with %zu bytes left unconsumed", len - off);
            return;
        }
        record(d, &ev);
        if (ev.kind == POP3A_PEV_ERROR) {
            d->stopped = 1;
            d->error_reason = ev.data;
            return;
        }
        zero_progress = n == 0 ? zero_progress + 1 : 0;
        ck_assert_msg(zero_progress < 3, "parser makes no progress");
    }
}

char *driver_finish(driver *d)
{
    char *out;
    flush_data(d);
    if (!d->stopped)
        sb_str(&d->out, pop3a_parser_idle(&d->p) ? "~idle\n" : "~waiting\n");
    pop3a_parser_free(&d->p);
    free(d->data.buf);
    out = d->out.buf;
    return out ? out : strdup("");
}

char *transcript(const char *in, size_t len, size_t max_line, const pop3a_expect *ex,
                 size_t n_ex, long how)
{
    driver d;
    size_t i;

    driver_init(&d, max_line, ex, n_ex);
    if (how == FEED_WHOLE) {
        driver_feed(&d, in, len);
    } else if (how == FEED_BYTEWISE) {
        for (i = 0; i < len; i++)
            driver_feed(&d, in + i, 1);
    } else {
        driver_feed(&d, in, (size_t)how);
        driver_feed(&d, in + how, len - (size_t)how);
    }
    return driver_finish(&d);
}

void check_parser_case(const parser_case *c)
{
    char *got;
    size_t k;

    got = transcript(c->in, c->len, c->max_line, c->expects, c->n_expects, FEED_WHOLE);
    ck_assert_msg(strcmp(got, c->want) == 0, "%s, fed whole:\n got: %s\nwant: %s", c->name,
                  got, c->want);
    free(got);
    for (k = 1; k < c->len; k++) {
        got = transcript(c->in, c->len, c->max_line, c->expects, c->n_expects, (long)k);
        ck_assert_msg(strcmp(got, c->want) == 0, "%s, split at %zu:\n got: %s\nwant: %s",
                      c->name, k, got, c->want);
        free(got);
    }
    got = transcript(c->in, c->len, c->max_line, c->expects, c->n_expects, FEED_BYTEWISE);
    ck_assert_msg(strcmp(got, c->want) == 0, "%s, byte by byte:\n got: %s\nwant: %s",
                  c->name, got, c->want);
    free(got);
}

int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
