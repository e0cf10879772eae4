/*
 * The reply parser, fed every input three ways: whole, split in two at every byte
 * offset, and one byte at a time. Each way must give the same transcript of events
 * (consecutive DATA spans are merged: only body data may be cut differently).
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser.h"

/* ck_assert records a checkpoint (a write to a temp file) on every call: in loops that
 * run millions of times, only call into Check when something is wrong. */
#define REQUIRE(cond, ...)                                                                 \
    do {                                                                                   \
        if (!(cond))                                                                       \
            ck_abort_msg(__VA_ARGS__);                                                     \
    } while (0)

/* ------------------------------------------------------------ string buffer */

typedef struct {
    char *buf; /* owned; NUL-terminated */
    size_t len;
    size_t cap;
} strbuf;

static void sb_add(strbuf *sb, const char *s, size_t n)
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

static void sb_str(strbuf *sb, const char *s)
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

typedef struct {
    pop3a_parser p;
    const pop3a_expect *expects; /* armed in order, each time the parser is idle */
    size_t n_expects;
    size_t next_expect;
    strbuf out;      /* transcript so far */
    strbuf data;     /* DATA bytes not yet written to out (merged spans) */
    int data_open;
    int stopped;     /* a PEV_ERROR was seen */
    const char *error_reason;
    size_t n_data_events;
} driver;

static void driver_init(driver *d, size_t max_line, const pop3a_expect *expects, size_t n)
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

static void driver_feed(driver *d, const char *chunk, size_t len)
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

/* Returns the transcript (caller frees) and frees everything else. */
static char *driver_finish(driver *d)
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

enum { FEED_WHOLE = -1, FEED_BYTEWISE = -2 };

/* how: FEED_WHOLE, FEED_BYTEWISE, or an offset to split the input in two. */
static char *transcript(const char *in, size_t len, size_t max_line, const pop3a_expect *ex,
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

static void check_all_splits(const char *in, size_t len, size_t max_line, const char *want,
                             const pop3a_expect *ex, size_t n_ex)
{
    char *got;
    size_t k;

    got = transcript(in, len, max_line, ex, n_ex, FEED_WHOLE);
    ck_assert_msg(strcmp(got, want) == 0, "fed whole:\n got: %s\nwant: %s", got, want);
    free(got);
    for (k = 1; k < len; k++) {
        got = transcript(in, len, max_line, ex, n_ex, (long)k);
        ck_assert_msg(strcmp(got, want) == 0, "split at %zu:\n got: %s\nwant: %s", k, got,
                      want);
        free(got);
    }
    got = transcript(in, len, max_line, ex, n_ex, FEED_BYTEWISE);
    ck_assert_msg(strcmp(got, want) == 0, "byte by byte:\n got: %s\nwant: %s", got, want);
    free(got);
}

#define EXPECTS(...) ((const pop3a_expect[]){__VA_ARGS__})
#define N_EXPECTS(...) (sizeof(EXPECTS(__VA_ARGS__)) / sizeof(pop3a_expect))
/* `in` must be a string literal: its length comes from sizeof, so NULs count. */
#define CHECK_CAPPED(in, max_line, want, ...)                                              \
    check_all_splits((in), sizeof(in) - 1, (max_line), (want), EXPECTS(__VA_ARGS__),     \
                     N_EXPECTS(__VA_ARGS__))
#define CHECK(in, want, ...) CHECK_CAPPED(in, 0, want, __VA_ARGS__)

#define STATUS POP3A_EXPECT_STATUS
#define LINES POP3A_EXPECT_LINES
#define BODY POP3A_EXPECT_BODY
#define SASL POP3A_EXPECT_SASL

/* ------------------------------------------------------------ status lines */

START_TEST(status_ok_without_text)
{
    CHECK("+OK\r\n", "OK NONE \"\"\n~idle\n", STATUS);
}
END_TEST

START_TEST(status_ok_with_text)
{
    CHECK("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n",
          "OK NONE \"POP3 server ready <1896.697170952@dbc.mtview.ca.us>\"\n~idle\n", STATUS);
}
END_TEST

START_TEST(status_ok_with_space_and_no_text)
{
    CHECK("+OK \r\n", "OK NONE \"\"\n~idle\n", STATUS);
}
END_TEST

START_TEST(status_indicator_is_case_insensitive)
{
    CHECK("+ok fine\r\n", "OK NONE \"fine\"\n~idle\n", STATUS);
    CHECK("-eRr nope\r\n", "ERR NONE \"nope\"\n~idle\n", STATUS);
}
END_TEST

START_TEST(status_err_alone)
{
    CHECK("-ERR\r\n", "ERR NONE \"\"\n~idle\n", STATUS);
}
END_TEST

START_TEST(status_err_in_use_code)
{
    CHECK("-ERR [IN-USE] locked\r\n", "ERR IN_USE \"[IN-USE] locked\"\n~idle\n", STATUS);
}
END_TEST

START_TEST(status_err_sys_temp_code)
{
    CHECK("-ERR [SYS/TEMP] try later\r\n", "ERR SYS_TEMP \"[SYS/TEMP] try later\"\n~idle\n",
          STATUS);
}
END_TEST

START_TEST(status_err_auth_code)
{
    CHECK("-ERR [AUTH] Authentication failed.\r\n",
          "ERR AUTH \"[AUTH] Authentication failed.\"\n~idle\n", STATUS);
}
END_TEST

START_TEST(status_unknown_code_is_other)
{
    CHECK("-ERR [X-FROB] hmm\r\n", "ERR OTHER \"[X-FROB] hmm\"\n~idle\n", STATUS);
}
END_TEST

START_TEST(status_code_on_ok_is_parsed)
{
    CHECK("+OK [UTF8] ok\r\n", "OK UTF8 \"[UTF8] ok\"\n~idle\n", STATUS);
}
END_TEST

START_TEST(status_huge_numbers_are_just_text)
{
    CHECK("+OK 99999999999999999999999999 18446744073709551616\r\n",
          "OK NONE \"99999999999999999999999999 18446744073709551616\"\n~idle\n", STATUS);
}
END_TEST

START_TEST(status_with_bare_lf)
{
    CHECK("+OK hi\n", "OK NONE \"hi\"\n~idle\n", STATUS);
    CHECK("-ERR\n", "ERR NONE \"\"\n~idle\n", STATUS);
}
END_TEST

START_TEST(status_only_one_trailing_cr_is_stripped)
{
    CHECK("+OK a\r\r\n", "OK NONE \"a\\r\"\n~idle\n", STATUS);
}
END_TEST

START_TEST(status_bad_line_is_error)
{
    const char *want = "ERROR \"not a POP3 status line\"\n";
    CHECK("HELLO\r\n", want, STATUS);
    CHECK("+OKAY\r\n", want, STATUS);
    CHECK("-ERRx\r\n", want, STATUS);
    CHECK("+OK\tx\r\n", want, STATUS);
    CHECK("\r\n", want, STATUS);
    CHECK(" +OK\r\n", want, STATUS);
    CHECK("+ abc\r\n", want, STATUS); /* a continuation only counts under SASL */
}
END_TEST

START_TEST(status_incomplete_waits)
{
    CHECK("+OK no line end yet", "~waiting\n", STATUS);
}
END_TEST

START_TEST(status_nul_is_error)
{
    CHECK("+OK a\0b\r\n", "ERROR \"NUL byte in a status or listing line\"\n", STATUS);
    CHECK("\0\r\n", "ERROR \"NUL byte in a status or listing line\"\n", STATUS);
}
END_TEST

START_TEST(status_at_cap_is_accepted)
{
    /* 16 bytes of content: exactly the cap, with CRLF and with bare LF. */
    CHECK_CAPPED("+OK 456789abcdef\r\n", 16, "OK NONE \"456789abcdef\"\n~idle\n", STATUS);
    CHECK_CAPPED("+OK 456789abcdef\n", 16, "OK NONE \"456789abcdef\"\n~idle\n", STATUS);
}
END_TEST

START_TEST(status_over_cap_is_error)
{
    CHECK_CAPPED("+OK 456789abcdefg\r\n", 16, "ERROR \"line too long\"\n", STATUS);
    CHECK_CAPPED("+OK 456789abcdefg\n", 16, "ERROR \"line too long\"\n", STATUS);
    /* The CR counts once it is clearly not part of the line end. */
    CHECK_CAPPED("+OK 456789abcdef\rx\r\n", 16, "ERROR \"line too long\"\n", STATUS);
}
END_TEST

START_TEST(status_default_cap_is_8192)
{
    size_t len = 8192 + 2;
    char *in = malloc(len + 1);
    char *got;
    const pop3a_expect ex[] = {STATUS};

    ck_assert_ptr_nonnull(in);
    memset(in, 'x', len);
    memcpy(in, "+OK ", 4);
    memcpy(in + 8192, "\r\n", 2);
    got = transcript(in, len, 0, ex, 1, FEED_BYTEWISE);
    ck_assert_uint_eq(strlen(got), strlen("OK NONE \"\"\n~idle\n") + 8188);
    free(got);

    memcpy(in + 8192, "x\n", 2); /* 8193 bytes of content */
    got = transcript(in, len, 0, ex, 1, FEED_WHOLE);
    ck_assert_str_eq(got, "ERROR \"line too long\"\n");
    free(got);
    got = transcript(in, len, 0, ex, 1, FEED_BYTEWISE);
    ck_assert_str_eq(got, "ERROR \"line too long\"\n");
    free(got);
    free(in);
}
END_TEST

START_TEST(status_endless_line_fails_early_with_bounded_memory)
{
    const size_t total = 1u << 20, chunk = 4096;
    char *in = malloc(total);
    pop3a_parser p;
    pop3a_pev ev;
    size_t off = 0, fed = 0;

    ck_assert_ptr_nonnull(in);
    memset(in, 'A', total);
    memcpy(in, "+OK ", 4);
    pop3a_parser_init(&p, 8192);
    pop3a_parser_expect(&p, STATUS);
    while (off < total) {
        size_t n = pop3a_parser_feed(&p, in + off, chunk, &ev);
        off += chunk;
        fed += n;
        if (ev.kind == POP3A_PEV_ERROR)
            break;
        ck_assert_int_eq(ev.kind, POP3A_PEV_NEED_MORE);
    }
    ck_assert_int_eq(ev.kind, POP3A_PEV_ERROR);
    ck_assert_str_eq(ev.data, "line too long");
    /* Fails within the chunk that passes the cap, not at the end of the input. */
    ck_assert_uint_le(off, 8192 + chunk);
    ck_assert_uint_le(fed, 8193);
    ck_assert_uint_le(p.line_cap, 8193);
    pop3a_parser_free(&p);
    free(in);
}
END_TEST

/* -------------------------------------------------------------------- SASL */

START_TEST(sasl_continuation_with_text)
{
    CHECK("+ abc\r\n", "CONT \"abc\"\n~idle\n", SASL);
}
END_TEST

START_TEST(sasl_continuation_bare_plus)
{
    CHECK("+\r\n", "CONT \"\"\n~idle\n", SASL);
    CHECK("+ \r\n", "CONT \"\"\n~idle\n", SASL);
}
END_TEST

START_TEST(sasl_continuation_glued_base64)
{
    CHECK("+abc\r\n", "CONT \"abc\"\n~idle\n", SASL);
    CHECK("+OKAY\r\n", "CONT \"OKAY\"\n~idle\n", SASL);
}
END_TEST

START_TEST(sasl_final_status_lines)
{
    CHECK("+OK Logged in.\r\n", "OK NONE \"Logged in.\"\n~idle\n", SASL);
    CHECK("-ERR [AUTH] Authentication failed.\r\n",
          "ERR AUTH \"[AUTH] Authentication failed.\"\n~idle\n", SASL);
    CHECK("what\r\n", "ERROR \"not a POP3 status line\"\n", SASL);
}
END_TEST

START_TEST(sasl_exchange_rearms_between_replies)
{
    CHECK("+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UuZXhhbXBsZS5uZXQ+\r\n+ \r\n+OK done\r\n",
          "CONT \"PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UuZXhhbXBsZS5uZXQ+\"\n"
          "CONT \"\"\nOK NONE \"done\"\n~idle\n",
          SASL, SASL, SASL);
}
END_TEST

/* ---------------------------------------------------------------- listings */

START_TEST(list_listing_several_lines)
{
    CHECK("+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n",
          "OK NONE \"2 messages (320 octets)\"\nLINE \"1 120\"\nLINE \"2 200\"\nEND\n~idle\n",
          LINES);
}
END_TEST

START_TEST(list_empty_listing)
{
    CHECK("+OK\r\n.\r\n", "OK NONE \"\"\nEND\n~idle\n", LINES);
}
END_TEST

START_TEST(list_stuffed_lines_are_unstuffed)
{
    CHECK("+OK\r\n..x\r\n..\r\n...\r\n.\r\n",
          "OK NONE \"\"\nLINE \".x\"\nLINE \".\"\nLINE \"..\"\nEND\n~idle\n", LINES);
}
END_TEST

START_TEST(list_bare_lf_lines_and_terminator)
{
    CHECK("+OK\n1 a\n2 b\r\n.\n", "OK NONE \"\"\nLINE \"1 a\"\nLINE \"2 b\"\nEND\n~idle\n",
          LINES);
}
END_TEST

START_TEST(list_err_has_no_multiline_section)
{
    CHECK("-ERR no such message\r\n", "ERR NONE \"no such message\"\n~idle\n", LINES);
}
END_TEST

START_TEST(list_line_over_cap_is_error)
{
    CHECK_CAPPED("+OK\r\n1 12345678901234\r\n.\r\n", 16,
                 "OK NONE \"\"\nLINE \"1 12345678901234\"\nEND\n~idle\n", LINES);
    CHECK_CAPPED("+OK\r\n1 123456789012345\r\n.\r\n", 16,
                 "OK NONE \"\"\nERROR \"line too long\"\n", LINES);
}
END_TEST

START_TEST(list_nul_is_error)
{
    CHECK("+OK\r\n1 a\0\r\n.\r\n", "OK NONE \"\"\nERROR \"NUL byte in a status or listing line\"\n",
          LINES);
}
END_TEST

START_TEST(list_empty_line_is_a_line)
{
    CHECK("+OK\r\n\r\n.\r\n", "OK NONE \"\"\nLINE \"\"\nEND\n~idle\n", LINES);
}
END_TEST

/* ------------------------------------------------------------------ bodies */

START_TEST(retr_body_with_crlf_kept)
{
    CHECK("+OK 12 octets\r\nSubject: x\r\n\r\nhello\r\n.\r\n",
          "OK NONE \"12 octets\"\nDATA \"Subject: x\\r\\n\\r\\nhello\\r\\n\"\nEND\n~idle\n",
          BODY);
}
END_TEST

START_TEST(retr_stuffed_dot_at_body_start)
{
    CHECK("+OK\r\n..foo\r\n.\r\n", "OK NONE \"\"\nDATA \".foo\\r\\n\"\nEND\n~idle\n", BODY);
}
END_TEST

START_TEST(retr_stuffed_dot_after_crlf)
{
    CHECK("+OK\r\nbar\r\n..foo\r\nbaz\r\n.\r\n",
          "OK NONE \"\"\nDATA \"bar\\r\\n.foo\\r\\nbaz\\r\\n\"\nEND\n~idle\n", BODY);
}
END_TEST

START_TEST(retr_terminator_split_across_reads)
{
    /* check_all_splits cuts "\r\n.\r\n" at each of its bytes. */
    CHECK("+OK\r\nhello\r\n.\r\n", "OK NONE \"\"\nDATA \"hello\\r\\n\"\nEND\n~idle\n", BODY);
}
END_TEST

START_TEST(retr_empty_body)
{
    CHECK("+OK\r\n.\r\n", "OK NONE \"\"\nEND\n~idle\n", BODY);
}
END_TEST

START_TEST(retr_body_of_only_two_dots)
{
    CHECK("+OK\r\n..\r\n.\r\n", "OK NONE \"\"\nDATA \".\\r\\n\"\nEND\n~idle\n", BODY);
}
END_TEST

START_TEST(retr_line_of_three_dots)
{
    CHECK("+OK\r\na\r\n...\r\n.\r\n", "OK NONE \"\"\nDATA \"a\\r\\n..\\r\\n\"\nEND\n~idle\n",
          BODY);
}
END_TEST

START_TEST(retr_bare_lf_lines_and_terminator)
{
    CHECK("+OK\nline1\nline2\r\n..x\n.\n",
          "OK NONE \"\"\nDATA \"line1\\nline2\\r\\n.x\\n\"\nEND\n~idle\n", BODY);
}
END_TEST

START_TEST(retr_dot_cr_then_other_byte_is_data)
{
    /* ".\rx" is not the terminator: the "." is stuffing, "\rx" is data. */
    CHECK("+OK\r\n.\rx\r\n.\r\n", "OK NONE \"\"\nDATA \"\\rx\\r\\n\"\nEND\n~idle\n", BODY);
    CHECK("+OK\r\n.\r\r\n.\r\n", "OK NONE \"\"\nDATA \"\\r\\r\\n\"\nEND\n~idle\n", BODY);
}
END_TEST

START_TEST(retr_dots_inside_lines_are_data)
{
    CHECK("+OK\r\nabc.\r\n.a.\r\nx\r\n.\r\n",
          "OK NONE \"\"\nDATA \"abc.\\r\\na.\\r\\nx\\r\\n\"\nEND\n~idle\n", BODY);
}
END_TEST

START_TEST(retr_nul_bytes_are_data)
{
    CHECK("+OK\r\na\0b\r\n\0\r\n.\r\n",
          "OK NONE \"\"\nDATA \"a\\0b\\r\\n\\0\\r\\n\"\nEND\n~idle\n", BODY);
}
END_TEST

START_TEST(retr_body_lines_are_not_capped)
{
    CHECK_CAPPED("+OK\r\n0123456789012345678901234567890123456789\r\n.\r\n", 16,
                 "OK NONE \"\"\nDATA \"0123456789012345678901234567890123456789\\r\\n\"\n"
                 "END\n~idle\n",
                 BODY);
}
END_TEST

START_TEST(retr_err_has_no_body)
{
    CHECK("-ERR no such message\r\n", "ERR NONE \"no such message\"\n~idle\n", BODY);
}
END_TEST

START_TEST(retr_truncated_body_keeps_waiting)
{
    CHECK("+OK\r\nabc\r\n", "OK NONE \"\"\nDATA \"abc\\r\\n\"\n~waiting\n", BODY);
    CHECK("+OK\r\nabc\r\n.", "OK NONE \"\"\nDATA \"abc\\r\\n\"\n~waiting\n", BODY);
    CHECK("+OK\r\nabc\r\n.\r", "OK NONE \"\"\nDATA \"abc\\r\\n\"\n~waiting\n", BODY);
}
END_TEST

START_TEST(retr_data_spans_are_as_large_as_possible)
{
    static const char in[] = "+OK\r\nl1\r\nl2\n\r\nl3\r\n..l4\r\nl5\r\n.\r\n";
    const pop3a_expect ex[] = {BODY};
    driver d;
    char *got;

    driver_init(&d, 0, ex, 1);
    driver_feed(&d, in, sizeof in - 1);
    /* One span up to the stuffed dot, one after it: not one per line. */
    ck_assert_uint_eq(d.n_data_events, 2);
    got = driver_finish(&d);
    ck_assert_str_eq(got, "OK NONE \"\"\nDATA \"l1\\r\\nl2\\n\\r\\nl3\\r\\n.l4\\r\\nl5\\r\\n\"\n"
                          "END\n~idle\n");
    free(got);
}
END_TEST

/* ------------------------------------------------------ reply boundaries */

START_TEST(pipelined_replies_rearm_between_them)
{
    CHECK("+OK\r\nx\r\n.\r\n+OK 1 2\r\n",
          "OK NONE \"\"\nDATA \"x\\r\\n\"\nEND\nOK NONE \"1 2\"\n~idle\n", BODY, STATUS);
    CHECK("+OK\r\n.\r\n-ERR no\r\n+OK\r\n1 2\r\n.\r\n+ x\r\n",
          "OK NONE \"\"\nEND\nERR NONE \"no\"\nOK NONE \"\"\nLINE \"1 2\"\nEND\nCONT \"x\"\n"
          "~idle\n",
          BODY, BODY, LINES, SASL);
}
END_TEST

START_TEST(bytes_after_terminator_are_left_for_next_reply)
{
    static const char in[] = "+OK\r\nab\r\n.\r\n+OK next\r\n";
    pop3a_parser p;
    pop3a_pev ev;
    size_t off = 0;

    pop3a_parser_init(&p, 0);
    pop3a_parser_expect(&p, BODY);
    off += pop3a_parser_feed(&p, in + off, sizeof in - 1 - off, &ev);
    ck_assert_int_eq(ev.kind, POP3A_PEV_OK);
    off += pop3a_parser_feed(&p, in + off, sizeof in - 1 - off, &ev);
    ck_assert_int_eq(ev.kind, POP3A_PEV_DATA);
    off += pop3a_parser_feed(&p, in + off, sizeof in - 1 - off, &ev);
    ck_assert_int_eq(ev.kind, POP3A_PEV_END);
    ck_assert_uint_eq(off, strlen("+OK\r\nab\r\n.\r\n"));
    ck_assert_int_eq(pop3a_parser_idle(&p), 1);
    ck_assert_int_eq(pop3a_parser_expecting(&p), POP3A_EXPECT_NONE);
    /* Fed with nothing owed: a protocol error, not silently swallowed. */
    (void)pop3a_parser_feed(&p, in + off, sizeof in - 1 - off, &ev);
    ck_assert_int_eq(ev.kind, POP3A_PEV_ERROR);
    pop3a_parser_free(&p);
}
END_TEST

START_TEST(unsolicited_data_is_error)
{
    CHECK("+OK\r\n+OK again\r\n",
          "OK NONE \"\"\nERROR \"unsolicited data: reply to no command\"\n", STATUS);
    CHECK("+OK\r\n.\r\nx", "OK NONE \"\"\nEND\nERROR \"unsolicited data: reply to no command\"\n",
          BODY);
}
END_TEST

START_TEST(unsolicited_data_before_any_command)
{
    pop3a_parser p;
    pop3a_pev ev;

    pop3a_parser_init(&p, 0);
    ck_assert_uint_eq(pop3a_parser_feed(&p, "", 0, &ev), 0);
    ck_assert_int_eq(ev.kind, POP3A_PEV_NEED_MORE);
    (void)pop3a_parser_feed(&p, "+OK\r\n", 5, &ev);
    ck_assert_int_eq(ev.kind, POP3A_PEV_ERROR);
    ck_assert_str_eq(ev.data, "unsolicited data: reply to no command");
    ck_assert_uint_eq(ev.len, strlen(ev.data));
    pop3a_parser_free(&p);
}
END_TEST

START_TEST(error_is_sticky)
{
    pop3a_parser p;
    pop3a_pev ev;

    pop3a_parser_init(&p, 0);
    pop3a_parser_expect(&p, STATUS);
    (void)pop3a_parser_feed(&p, "bogus\r\n", 7, &ev);
    ck_assert_int_eq(ev.kind, POP3A_PEV_ERROR);
    ck_assert_int_eq(pop3a_parser_idle(&p), 0);
    /* Neither re-arming nor good input revives it; nor does an empty feed. */
    pop3a_parser_expect(&p, STATUS);
    ck_assert_uint_eq(pop3a_parser_feed(&p, "+OK\r\n", 5, &ev), 0);
    ck_assert_int_eq(ev.kind, POP3A_PEV_ERROR);
    ck_assert_str_eq(ev.data, "not a POP3 status line");
    (void)pop3a_parser_feed(&p, "", 0, &ev);
    ck_assert_int_eq(ev.kind, POP3A_PEV_ERROR);
    pop3a_parser_free(&p);
}
END_TEST

START_TEST(arming_mid_reply_fails_the_parser)
{
    pop3a_parser p;
    pop3a_pev ev;

    pop3a_parser_init(&p, 0);
    pop3a_parser_expect(&p, BODY);
    ck_assert_uint_eq(pop3a_parser_feed(&p, "+OK\r\n", 5, &ev), 5);
    ck_assert_int_eq(ev.kind, POP3A_PEV_OK);
    ck_assert_int_eq(pop3a_parser_idle(&p), 0);
    pop3a_parser_expect(&p, STATUS);
    (void)pop3a_parser_feed(&p, ".\r\n", 3, &ev);
    ck_assert_int_eq(ev.kind, POP3A_PEV_ERROR);
    pop3a_parser_free(&p);
}
END_TEST

START_TEST(parser_is_reusable_after_free)
{
    pop3a_parser p;
    pop3a_pev ev;

    pop3a_parser_init(&p, 0);
    pop3a_parser_expect(&p, STATUS);
    ck_assert_uint_eq(pop3a_parser_feed(&p, "+OK", 3, &ev), 3); /* buffered */
    ck_assert_int_eq(ev.kind, POP3A_PEV_NEED_MORE);
    ck_assert_int_eq(pop3a_parser_idle(&p), 0);
    pop3a_parser_free(&p);
    pop3a_parser_init(&p, 0);
    ck_assert_int_eq(pop3a_parser_idle(&p), 1);
    pop3a_parser_expect(&p, STATUS);
    ck_assert_uint_eq(pop3a_parser_feed(&p, "-ERR x\r\n", 8, &ev), 8);
    ck_assert_int_eq(ev.kind, POP3A_PEV_ERR);
    ck_assert_int_eq(pop3a_parser_idle(&p), 1);
    pop3a_parser_free(&p);
}
END_TEST

/* -------------------------------------------------------------- resp codes */

static pop3a_resp_code code_of(const char *text)
{
    return pop3a_resp_code_parse(text, strlen(text));
}

START_TEST(resp_codes_known)
{
    ck_assert_int_eq(code_of("[IN-USE] x"), POP3A_RESP_IN_USE);
    ck_assert_int_eq(code_of("[LOGIN-DELAY] x"), POP3A_RESP_LOGIN_DELAY);
    ck_assert_int_eq(code_of("[SYS/TEMP] x"), POP3A_RESP_SYS_TEMP);
    ck_assert_int_eq(code_of("[SYS/PERM] x"), POP3A_RESP_SYS_PERM);
    ck_assert_int_eq(code_of("[AUTH] x"), POP3A_RESP_AUTH);
    ck_assert_int_eq(code_of("[UTF8]"), POP3A_RESP_UTF8);
}
END_TEST

START_TEST(resp_codes_case_insensitive)
{
    ck_assert_int_eq(code_of("[in-use] x"), POP3A_RESP_IN_USE);
    ck_assert_int_eq(code_of("[Sys/Temp] x"), POP3A_RESP_SYS_TEMP);
    ck_assert_int_eq(code_of("[auth]"), POP3A_RESP_AUTH);
}
END_TEST

START_TEST(resp_codes_hierarchical_map_to_parent)
{
    ck_assert_int_eq(code_of("[SYS/TEMP/DISK-FULL] x"), POP3A_RESP_SYS_TEMP);
    ck_assert_int_eq(code_of("[SYS/PERM/QUOTA/X] x"), POP3A_RESP_SYS_PERM);
    ck_assert_int_eq(code_of("[IN-USE/OTHER-SESSION] x"), POP3A_RESP_IN_USE);
    ck_assert_int_eq(code_of("[AUTH/EXPIRED] x"), POP3A_RESP_AUTH);
}
END_TEST

START_TEST(resp_codes_unknown_are_other)
{
    ck_assert_int_eq(code_of("[X-FOO] x"), POP3A_RESP_OTHER);
    ck_assert_int_eq(code_of("[SYS] x"), POP3A_RESP_OTHER);
    ck_assert_int_eq(code_of("[SYS/OTHER] x"), POP3A_RESP_OTHER);
    ck_assert_int_eq(code_of("[IN-USEX] x"), POP3A_RESP_OTHER);
    ck_assert_int_eq(code_of("[AUT] x"), POP3A_RESP_OTHER);
}
END_TEST

START_TEST(resp_codes_absent_or_malformed_are_none)
{
    ck_assert_int_eq(code_of(""), POP3A_RESP_NONE);
    ck_assert_int_eq(code_of("IN-USE locked"), POP3A_RESP_NONE);
    ck_assert_int_eq(code_of(" [IN-USE] x"), POP3A_RESP_NONE);
    ck_assert_int_eq(code_of("[IN-USE x"), POP3A_RESP_NONE);
    ck_assert_int_eq(code_of("[]"), POP3A_RESP_NONE);
    ck_assert_int_eq(code_of("[in use] x"), POP3A_RESP_NONE);
    ck_assert_int_eq(code_of("[SYS//TEMP] x"), POP3A_RESP_NONE);
    ck_assert_int_eq(code_of("[SYS/] x"), POP3A_RESP_NONE);
    /* Length is honoured: the "]" lies beyond it. */
    ck_assert_int_eq(pop3a_resp_code_parse("[AUTH]", 5), POP3A_RESP_NONE);
}
END_TEST

/* -------------------------------------------------------------- huge body */

static uint32_t rng_state = 12345;

static uint32_t rng(void)
{
    /* xorshift32: reproducible, no libc dependence. */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* Message content: lines of 0..199 bytes, some starting with dots, some with bare
 * LF, NUL and lone CR inside; always ends with a line end. */
static void make_content(strbuf *content, size_t target)
{
    char line[256];
    while (content->len < target) {
        size_t n = rng() % 200, i;
        uint32_t shape = rng() % 16;
        for (i = 0; i < n; i++) {
            uint32_t r = rng() % 64;
            line[i] = r == 0 ? '\0' : r == 1 ? '\r' : r == 2 ? '.' : (char)('a' + r % 26);
        }
        if (shape < 3 && n > 0)
            line[0] = '.';
        if (shape == 3) {
            n = 1;
            line[0] = '.';
        }
        sb_add(content, line, n);
        sb_str(content, shape == 4 ? "\n" : "\r\n");
    }
}

/* RFC 1939 s3: a line starting with "." gets one more "."; then ".\r\n". */
static void stuff(const strbuf *content, strbuf *wire)
{
    size_t i;
    int at_line_start = 1;
    sb_str(wire, "+OK message follows\r\n");
    for (i = 0; i < content->len; i++) {
        if (at_line_start && content->buf[i] == '.')
            sb_add(wire, ".", 1);
        sb_add(wire, &content->buf[i], 1);
        at_line_start = content->buf[i] == '\n';
    }
    sb_str(wire, ".\r\n");
}

/* A byte-at-a-time reference decoder of the body that follows the status line,
 * written independently of the parser. */
static void reference_unstuff(const char *wire, size_t len, strbuf *out)
{
    size_t i = (size_t)((const char *)memchr(wire, '\n', len) - wire) + 1;
    while (i < len) {
        size_t eol = i;
        int dot = wire[i] == '.';
        while (eol < len && wire[eol] != '\n')
            eol++;
        /* the line is wire[i..eol] plus its LF */
        if (dot && (eol - i == 1 || (eol - i == 2 && wire[i + 1] == '\r')))
            return; /* the terminator */
        if (dot)
            i++;
        sb_add(out, wire + i, eol + 1 - i);
        i = eol + 1;
    }
}

/* Feeds `wire` in chunks whose sizes come from `chunk` (0 = random 1..70000). */
static void feed_body_in_chunks(const strbuf *wire, size_t chunk, strbuf *body, size_t max_line)
{
    pop3a_parser p;
    pop3a_pev ev;
    size_t off = 0, cut = 0;
    int ended = 0, oks = 0;

    memset(&ev, 0, sizeof ev);

    pop3a_parser_init(&p, max_line);
    pop3a_parser_expect(&p, BODY);
    while (off < wire->len) {
        size_t n = chunk ? chunk : 1 + rng() % 70000;
        size_t end = off + n < wire->len ? off + n : wire->len;
        for (;;) {
            /* Also called with nothing left, so events held back still come out. */
            cut += pop3a_parser_feed(&p, wire->buf + cut, end - cut, &ev);
            if (ev.kind == POP3A_PEV_NEED_MORE)
                break;
            REQUIRE(ev.kind != POP3A_PEV_ERROR, "error at %zu: %s", cut, ev.data);
            if (ev.kind == POP3A_PEV_OK)
                oks++;
            else if (ev.kind == POP3A_PEV_DATA)
                sb_add(body, ev.data, ev.len);
            else if (ev.kind == POP3A_PEV_END)
                ended = 1;
        }
        REQUIRE(cut == end, "NEED_MORE at %zu before the chunk end %zu", cut, end);
        off = end;
    }
    ck_assert_int_eq(oks, 1);
    ck_assert_int_eq(ended, 1);
    ck_assert_uint_eq(cut, wire->len);
    ck_assert_int_eq(pop3a_parser_idle(&p), 1);
    /* Memory stays O(max_line): body lines (up to 200 bytes) never reach the
     * line buffer, which only ever held pieces of the status line. */
    ck_assert_uint_le(p.line_cap, max_line + 1);
    pop3a_parser_free(&p);
}

START_TEST(retr_huge_body_matches_reference_unstuffing)
{
    static const size_t chunks[] = {65536, 1, 7, 4093, 0};
    strbuf content = {0}, wire = {0}, ref = {0};
    size_t i;

    rng_state = 12345;
    make_content(&content, 10u << 20);
    stuff(&content, &wire);
    reference_unstuff(wire.buf, wire.len, &ref);
    ck_assert_uint_eq(ref.len, content.len);
    ck_assert(memcmp(ref.buf, content.buf, content.len) == 0);
    for (i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        strbuf body = {0};
        feed_body_in_chunks(&wire, chunks[i], &body, 64);
        ck_assert_msg(body.len == content.len, "chunk %zu: %zu bytes, want %zu", chunks[i],
                      body.len, content.len);
        ck_assert_msg(memcmp(body.buf, content.buf, content.len) == 0,
                      "chunk %zu: body differs", chunks[i]);
        free(body.buf);
    }
    free(content.buf);
    free(wire.buf);
    free(ref.buf);
}
END_TEST

/* ------------------------------------------------------------------- suite */

static Suite *parser_suite(void)
{
    Suite *s = suite_create("parser");
    TCase *tc;

    tc = tcase_create("status");
    tcase_add_test(tc, status_ok_without_text);
    tcase_add_test(tc, status_ok_with_text);
    tcase_add_test(tc, status_ok_with_space_and_no_text);
    tcase_add_test(tc, status_indicator_is_case_insensitive);
    tcase_add_test(tc, status_err_alone);
    tcase_add_test(tc, status_err_in_use_code);
    tcase_add_test(tc, status_err_sys_temp_code);
    tcase_add_test(tc, status_err_auth_code);
    tcase_add_test(tc, status_unknown_code_is_other);
    tcase_add_test(tc, status_code_on_ok_is_parsed);
    tcase_add_test(tc, status_huge_numbers_are_just_text);
    tcase_add_test(tc, status_with_bare_lf);
    tcase_add_test(tc, status_only_one_trailing_cr_is_stripped);
    tcase_add_test(tc, status_bad_line_is_error);
    tcase_add_test(tc, status_incomplete_waits);
    tcase_add_test(tc, status_nul_is_error);
    tcase_add_test(tc, status_at_cap_is_accepted);
    tcase_add_test(tc, status_over_cap_is_error);
    tcase_add_test(tc, status_default_cap_is_8192);
    tcase_add_test(tc, status_endless_line_fails_early_with_bounded_memory);
    suite_add_tcase(s, tc);

    tc = tcase_create("sasl");
    tcase_add_test(tc, sasl_continuation_with_text);
    tcase_add_test(tc, sasl_continuation_bare_plus);
    tcase_add_test(tc, sasl_continuation_glued_base64);
    tcase_add_test(tc, sasl_final_status_lines);
    tcase_add_test(tc, sasl_exchange_rearms_between_replies);
    suite_add_tcase(s, tc);

    tc = tcase_create("listing");
    tcase_add_test(tc, list_listing_several_lines);
    tcase_add_test(tc, list_empty_listing);
    tcase_add_test(tc, list_stuffed_lines_are_unstuffed);
    tcase_add_test(tc, list_bare_lf_lines_and_terminator);
    tcase_add_test(tc, list_err_has_no_multiline_section);
    tcase_add_test(tc, list_line_over_cap_is_error);
    tcase_add_test(tc, list_nul_is_error);
    tcase_add_test(tc, list_empty_line_is_a_line);
    suite_add_tcase(s, tc);

    tc = tcase_create("body");
    tcase_add_test(tc, retr_body_with_crlf_kept);
    tcase_add_test(tc, retr_stuffed_dot_at_body_start);
    tcase_add_test(tc, retr_stuffed_dot_after_crlf);
    tcase_add_test(tc, retr_terminator_split_across_reads);
    tcase_add_test(tc, retr_empty_body);
    tcase_add_test(tc, retr_body_of_only_two_dots);
    tcase_add_test(tc, retr_line_of_three_dots);
    tcase_add_test(tc, retr_bare_lf_lines_and_terminator);
    tcase_add_test(tc, retr_dot_cr_then_other_byte_is_data);
    tcase_add_test(tc, retr_dots_inside_lines_are_data);
    tcase_add_test(tc, retr_nul_bytes_are_data);
    tcase_add_test(tc, retr_body_lines_are_not_capped);
    tcase_add_test(tc, retr_err_has_no_body);
    tcase_add_test(tc, retr_truncated_body_keeps_waiting);
    tcase_add_test(tc, retr_data_spans_are_as_large_as_possible);
    suite_add_tcase(s, tc);

    tc = tcase_create("boundaries");
    tcase_add_test(tc, pipelined_replies_rearm_between_them);
    tcase_add_test(tc, bytes_after_terminator_are_left_for_next_reply);
    tcase_add_test(tc, unsolicited_data_is_error);
    tcase_add_test(tc, unsolicited_data_before_any_command);
    tcase_add_test(tc, error_is_sticky);
    tcase_add_test(tc, arming_mid_reply_fails_the_parser);
    tcase_add_test(tc, parser_is_reusable_after_free);
    suite_add_tcase(s, tc);

    tc = tcase_create("resp_codes");
    tcase_add_test(tc, resp_codes_known);
    tcase_add_test(tc, resp_codes_case_insensitive);
    tcase_add_test(tc, resp_codes_hierarchical_map_to_parent);
    tcase_add_test(tc, resp_codes_unknown_are_other);
    tcase_add_test(tc, resp_codes_absent_or_malformed_are_none);
    suite_add_tcase(s, tc);

    tc = tcase_create("huge");
    /* 10 MiB fed five ways, one of them byte by byte: slow under valgrind. */
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, retr_huge_body_matches_reference_unstuffing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(parser_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
