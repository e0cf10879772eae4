/*
 * The reply parser on multi-line replies: listings (one event per line) and message
 * bodies (DATA spans, dot-unstuffed). Each row is fed whole, split in two at every
 * byte offset, and one byte at a time (parser_driver.h); a 10 MiB body is checked
 * against an independent reference decoder.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parser_driver.h"

/* ---------------------------------------------------------------- listings */

static const parser_case listing_cases[] = {
    CASE("list_listing_several_lines", "+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n",
         "OK NONE \"2 messages (320 octets)\"\nLINE \"1 120\"\nLINE \"2 200\"\nEND\n~idle\n",
         LINES),
    CASE("list_empty_listing", "+OK\r\n.\r\n", "OK NONE \"\"\nEND\n~idle\n", LINES),
    CASE("list_stuffed_lines_are_unstuffed", "+OK\r\n..x\r\n..\r\n...\r\n.\r\n",
         "OK NONE \"\"\nLINE \".x\"\nLINE \".\"\nLINE \"..\"\nEND\n~idle\n", LINES),
    CASE("list_bare_lf_lines_and_terminator", "+OK\n1 a\n2 b\r\n.\n",
         "OK NONE \"\"\nLINE \"1 a\"\nLINE \"2 b\"\nEND\n~idle\n", LINES),
    CASE("list_err_has_no_multiline_section", "-ERR no such message\r\n",
         "ERR NONE \"no such message\"\n~idle\n", LINES),
    CASE_CAPPED("list_line_over_cap_is_error: at the cap", "+OK\r\n1 12345678901234\r\n.\r\n",
                16, "OK NONE \"\"\nLINE \"1 12345678901234\"\nEND\n~idle\n", LINES),
    CASE_CAPPED("list_line_over_cap_is_error: over it", "+OK\r\n1 123456789012345\r\n.\r\n",
                16, "OK NONE \"\"\nERROR \"line too long\"\n", LINES),
    CASE("list_nul_is_error", "+OK\r\n1 a\0\r\n.\r\n",
         "OK NONE \"\"\nERROR \"NUL byte in a status or listing line\"\n", LINES),
    CASE("list_empty_line_is_a_line", "+OK\r\n\r\n.\r\n",
         "OK NONE \"\"\nLINE \"\"\nEND\n~idle\n", LINES),
};

START_TEST(listing_transcripts)
{
    check_parser_case(&listing_cases[_i]);
}
END_TEST

/* ------------------------------------------------------------------ bodies */

#define ABC_SO_FAR "OK NONE \"\"\nDATA \"abc\\r\\n\"\n~waiting\n"

static const parser_case body_cases[] = {
    CASE("retr_body_with_crlf_kept", "+OK 12 octets\r\nSubject: x\r\n\r\nhello\r\n.\r\n",
         "OK NONE \"12 octets\"\nDATA \"Subject: x\\r\\n\\r\\nhello\\r\\n\"\nEND\n~idle\n",
         BODY),
    CASE("retr_stuffed_dot_at_body_start", "+OK\r\n..foo\r\n.\r\n",
         "OK NONE \"\"\nDATA \".foo\\r\\n\"\nEND\n~idle\n", BODY),
    CASE("retr_stuffed_dot_after_crlf", "+OK\r\nbar\r\n..foo\r\nbaz\r\n.\r\n",
         "OK NONE \"\"\nDATA \"bar\\r\\n.foo\\r\\nbaz\\r\\n\"\nEND\n~idle\n", BODY),
    /* The split feeds cut "\r\n.\r\n" at each of its bytes. */
    CASE("retr_terminator_split_across_reads", "+OK\r\nhello\r\n.\r\n",
         "OK NONE \"\"\nDATA \"hello\\r\\n\"\nEND\n~idle\n", BODY),
    CASE("retr_empty_body", "+OK\r\n.\r\n", "OK NONE \"\"\nEND\n~idle\n", BODY),
    CASE("retr_body_of_only_two_dots", "+OK\r\n..\r\n.\r\n",
         "OK NONE \"\"\nDATA \".\\r\\n\"\nEND\n~idle\n", BODY),
    CASE("retr_line_of_three_dots", "+OK\r\na\r\n...\r\n.\r\n",
         "OK NONE \"\"\nDATA \"a\\r\\n..\\r\\n\"\nEND\n~idle\n", BODY),
    CASE("retr_bare_lf_lines_and_terminator", "+OK\nline1\nline2\r\n..x\n.\n",
         "OK NONE \"\"\nDATA \"line1\\nline2\\r\\n.x\\n\"\nEND\n~idle\n", BODY),
    /* ".\rx" is not the terminator: the "." is stuffing, "\rx" is data. */
    CASE("retr_dot_cr_then_other_byte_is_data", "+OK\r\n.\rx\r\n.\r\n",
         "OK NONE \"\"\nDATA \"\\rx\\r\\n\"\nEND\n~idle\n", BODY),
    CASE("retr_dot_cr_then_other_byte_is_data: CR", "+OK\r\n.\r\r\n.\r\n",
         "OK NONE \"\"\nDATA \"\\r\\r\\n\"\nEND\n~idle\n", BODY),
    CASE("retr_dots_inside_lines_are_data", "+OK\r\nabc.\r\n.a.\r\nx\r\n.\r\n",
         "OK NONE \"\"\nDATA \"abc.\\r\\na.\\r\\nx\\r\\n\"\nEND\n~idle\n", BODY),
    CASE("retr_nul_bytes_are_data", "+OK\r\na\0b\r\n\0\r\n.\r\n",
         "OK NONE \"\"\nDATA \"a\\0b\\r\\n\\0\\r\\n\"\nEND\n~idle\n", BODY),
    CASE_CAPPED("retr_body_lines_are_not_capped",
                "+OK\r\n0123456789012345678901234567890123456789\r\n.\r\n", 16,
                "OK NONE \"\"\nDATA \"0123456789012345678901234567890123456789\\r\\n\"\n"
                "END\n~idle\n",
                BODY),
    CASE("retr_err_has_no_body", "-ERR no such message\r\n",
         "ERR NONE \"no such message\"\n~idle\n", BODY),
    CASE("retr_truncated_body_keeps_waiting: after a line", "+OK\r\nabc\r\n", ABC_SO_FAR, BODY),
    CASE("retr_truncated_body_keeps_waiting: after the dot", "+OK\r\nabc\r\n.", ABC_SO_FAR,
         BODY),
    CASE("retr_truncated_body_keeps_waiting: after dot CR", "+OK\r\nabc\r\n.\r", ABC_SO_FAR,
         BODY),
};

START_TEST(body_transcripts)
{
    check_parser_case(&body_cases[_i]);
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

/* -------------------------------------------------------------- line ends */

/* The first status line decides the session's line ends (parser.h). After a CRLF
 * one, only CRLF "." CRLF ends a reply and a bare LF is data: "\n.\n" inside a
 * body is a stray LF, a dot and a stray LF, not the end of the message. */
static const parser_case line_end_cases[] = {
    CASE("crlf_session: bare LF dot LF is data", "+OK\r\nhas\n.\nstray lf\r\n.\r\n",
         "OK NONE \"\"\nDATA \"has\\n.\\nstray lf\\r\\n\"\nEND\n~idle\n", BODY),
    CASE("crlf_session: bare LF dot CRLF is data", "+OK\r\na\n.\r\nb\r\n.\r\n",
         "OK NONE \"\"\nDATA \"a\\n.\\r\\nb\\r\\n\"\nEND\n~idle\n", BODY),
    CASE("crlf_session: a dot after a stray LF is not stuffing", "+OK\r\na\n..\r\n.\r\n",
         "OK NONE \"\"\nDATA \"a\\n..\\r\\n\"\nEND\n~idle\n", BODY),
    CASE("crlf_session: dot LF at a line start is a stuffed dot",
         "+OK\r\n.\nx\r\n.\r\n", "OK NONE \"\"\nDATA \"\\nx\\r\\n\"\nEND\n~idle\n",
         BODY),
    CASE("crlf_session: body ending in a bare LF waits for CRLF", "+OK\r\nx\n.\n",
         "OK NONE \"\"\nDATA \"x\\n.\\n\"\n~waiting\n", BODY),
    CASE("crlf_session: CR CR LF ends a line once", "+OK\r\na\r\r\n..\r\n.\r\n",
         "OK NONE \"\"\nDATA \"a\\r\\r\\n.\\r\\n\"\nEND\n~idle\n", BODY),
    CASE("crlf_session: the greeting decides, not the reply's own status line",
         "+OK hi\r\n+OK\nx\n.\ny\r\n.\r\n",
         "OK NONE \"hi\"\nOK NONE \"\"\nDATA \"x\\n.\\ny\\r\\n\"\nEND\n~idle\n", STATUS,
         BODY),
    CASE("crlf_session: a listing line ends only at CRLF", "+OK\r\n1 a\n.\n2 b\r\n.\r\n",
         "OK NONE \"\"\nLINE \"1 a\\n.\\n2 b\"\nEND\n~idle\n", LINES),
    CASE("crlf_session: dot LF in a listing is a line's content", "+OK\r\n.\n.\r\n",
         "OK NONE \"\"\nLINE \"\\n.\"\n~waiting\n", LINES),
    CASE_CAPPED("crlf_session: a bare LF counts against the line cap",
                "+OK\r\n1 2\n3 4\n5 6\n7 8\n9 0\r\n.\r\n", 16,
                "OK NONE \"\"\nERROR \"line too long\"\n", LINES),
    CASE("lf_session: bare LF dot LF ends the body", "+OK hi\n+OK\nx\n.\n",
         "OK NONE \"hi\"\nOK NONE \"\"\nDATA \"x\\n\"\nEND\n~idle\n", STATUS, BODY),
    CASE("lf_session: a CRLF terminator still ends it", "+OK\nx\r\n.\r\n",
         "OK NONE \"\"\nDATA \"x\\r\\n\"\nEND\n~idle\n", BODY),
    CASE("lf_session: the greeting decides, not the reply's own status line",
         "+OK hi\n+OK\r\nx\n..y\n.\n",
         "OK NONE \"hi\"\nOK NONE \"\"\nDATA \"x\\n.y\\n\"\nEND\n~idle\n", STATUS, BODY),
    CASE("lf_session: a listing line ends at LF", "+OK\n1 a\n.\n",
         "OK NONE \"\"\nLINE \"1 a\"\nEND\n~idle\n", LINES),
};

START_TEST(line_end_transcripts)
{
    check_parser_case(&line_end_cases[_i]);
}
END_TEST

/* Which line ends the parser settled on, from the first status line only. */
START_TEST(first_status_line_decides_line_ends)
{
    static const struct {
        const char *in;
        pop3a_line_ends want;
    } rows[] = {
        {"", POP3A_LINE_ENDS_UNDECIDED},
        {"+OK hi\r", POP3A_LINE_ENDS_UNDECIDED},
        {"+OK hi\r\n", POP3A_LINE_ENDS_CRLF},
        {"-ERR busy\r\n", POP3A_LINE_ENDS_CRLF},
        {"+OK hi\n", POP3A_LINE_ENDS_LF},
        {"+OK hi\r\n+OK\n", POP3A_LINE_ENDS_CRLF},
        {"+OK hi\n+OK\r\n", POP3A_LINE_ENDS_LF},
    };
    for (size_t i = 0; i < N_ROWS(rows); i++) {
        pop3a_parser p;
        pop3a_pev ev;
        size_t off = 0, len = strlen(rows[i].in);
        pop3a_parser_init(&p, 0);
        do {
            if (pop3a_parser_expecting(&p) == POP3A_EXPECT_NONE)
                pop3a_parser_expect(&p, STATUS);
            off += pop3a_parser_feed(&p, rows[i].in + off, len - off, &ev);
        } while (off < len && ev.kind != POP3A_PEV_ERROR);
        ck_assert_msg(pop3a_parser_line_ends(&p) == rows[i].want, "row %zu: %d, want %d", i,
                      (int)pop3a_parser_line_ends(&p), (int)rows[i].want);
        pop3a_parser_free(&p);
    }
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
 * LF, NUL and lone CR inside; always ends with CRLF (a server adds one). */
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
    if (content->buf[content->len - 2] != '\r')
        sb_str(content, "\r\n");
}

/* Whether s[i] starts a line: in a CRLF session only CRLF ends one (parser.h). */
static int starts_line(const char *s, size_t i, size_t first, int crlf)
{
    if (i == first)
        return 1;
    return s[i - 1] == '\n' && (!crlf || (i >= first + 2 && s[i - 2] == '\r'));
}

/* RFC 1939 s3: a line starting with "." gets one more "."; then ".\r\n". The
 * status line's end tells the parser which line ends the session uses. */
static void stuff(const strbuf *content, strbuf *wire, int crlf)
{
    size_t i;
    sb_str(wire, crlf ? "+OK message follows\r\n" : "+OK message follows\n");
    for (i = 0; i < content->len; i++) {
        if (starts_line(content->buf, i, 0, crlf) && content->buf[i] == '.')
            sb_add(wire, ".", 1);
        sb_add(wire, &content->buf[i], 1);
    }
    sb_str(wire, ".\r\n");
}

/* A byte-at-a-time reference decoder of the body that follows the status line,
 * written independently of the parser. */
static void reference_unstuff(const char *wire, size_t len, strbuf *out, int crlf)
{
    size_t first = (size_t)((const char *)memchr(wire, '\n', len) - wire) + 1;
    for (size_t i = first; i < len; i++) {
        if (starts_line(wire, i, first, crlf) && wire[i] == '.') {
            int cr = i + 2 < len && wire[i + 1] == '\r' && wire[i + 2] == '\n';
            int lf = i + 1 < len && wire[i + 1] == '\n';
            if (cr || (lf && !crlf))
                return; /* the terminator */
            continue;   /* stuffing */
        }
        sb_add(out, wire + i, 1);
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

/* _i 0: a CRLF server (a "." after a stray LF is data), 1: a bare-LF server. */
START_TEST(retr_huge_body_matches_reference_unstuffing)
{
    static const size_t chunks[] = {65536, 1, 7, 4093, 0};
    strbuf content = {0}, wire = {0}, ref = {0};
    size_t i;
    int crlf = _i == 0;

    rng_state = 12345;
    make_content(&content, 10u << 20);
    stuff(&content, &wire, crlf);
    reference_unstuff(wire.buf, wire.len, &ref, crlf);
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

static Suite *parser_multiline_suite(void)
{
    Suite *s = suite_create("parser_multiline");
    TCase *tc;

    tc = tcase_create("listing");
    tcase_add_loop_test(tc, listing_transcripts, 0, N_ROWS(listing_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("body");
    tcase_add_loop_test(tc, body_transcripts, 0, N_ROWS(body_cases));
    tcase_add_test(tc, retr_data_spans_are_as_large_as_possible);
    suite_add_tcase(s, tc);

    tc = tcase_create("line_ends");
    tcase_add_loop_test(tc, line_end_transcripts, 0, N_ROWS(line_end_cases));
    tcase_add_test(tc, first_status_line_decides_line_ends);
    suite_add_tcase(s, tc);

    tc = tcase_create("huge");
    /* 10 MiB fed five ways, one of them byte by byte: slow under valgrind. */
    tcase_set_timeout(tc, 900);
    tcase_add_loop_test(tc, retr_huge_body_matches_reference_unstuffing, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(parser_multiline_suite());
}
