/*
 * The reply parser on single-line replies: status lines (+OK / -ERR, response codes,
 * line caps) and SASL continuations. Each row is fed whole, split in two at every
 * byte offset, and one byte at a time (parser_driver.h).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "parser_driver.h"

#define NOT_A_STATUS_LINE "ERROR \"not a POP3 status line\"\n"
#define NUL_IN_LINE "ERROR \"NUL byte in a status or listing line\"\n"
#define TOO_LONG "ERROR \"line too long\"\n"

/* ------------------------------------------------------------ status lines */

static const parser_case status_cases[] = {
    CASE("status_ok_without_text", "+OK\r\n", "OK NONE \"\"\n~idle\n", STATUS),
    CASE("status_ok_with_text", "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n",
         "OK NONE \"POP3 server ready <1896.697170952@dbc.mtview.ca.us>\"\n~idle\n", STATUS),
    CASE("status_ok_with_space_and_no_text", "+OK \r\n", "OK NONE \"\"\n~idle\n", STATUS),
    CASE("status_indicator_is_case_insensitive: +ok", "+ok fine\r\n",
         "OK NONE \"fine\"\n~idle\n", STATUS),
    CASE("status_indicator_is_case_insensitive: -eRr", "-eRr nope\r\n",
         "ERR NONE \"nope\"\n~idle\n", STATUS),
    CASE("status_err_alone", "-ERR\r\n", "ERR NONE \"\"\n~idle\n", STATUS),
    CASE("status_err_in_use_code", "-ERR [IN-USE] locked\r\n",
         "ERR IN_USE \"[IN-USE] locked\"\n~idle\n", STATUS),
    CASE("status_err_sys_temp_code", "-ERR [SYS/TEMP] try later\r\n",
         "ERR SYS_TEMP \"[SYS/TEMP] try later\"\n~idle\n", STATUS),
    CASE("status_err_auth_code", "-ERR [AUTH] Authentication failed.\r\n",
         "ERR AUTH \"[AUTH] Authentication failed.\"\n~idle\n", STATUS),
    CASE("status_unknown_code_is_other", "-ERR [X-FROB] hmm\r\n",
         "ERR OTHER \"[X-FROB] hmm\"\n~idle\n", STATUS),
    CASE("status_code_on_ok_is_parsed", "+OK [UTF8] ok\r\n", "OK UTF8 \"[UTF8] ok\"\n~idle\n",
         STATUS),
    CASE("status_huge_numbers_are_just_text",
         "+OK 99999999999999999999999999 18446744073709551616\r\n",
         "OK NONE \"99999999999999999999999999 18446744073709551616\"\n~idle\n", STATUS),
    CASE("status_with_bare_lf: +OK", "+OK hi\n", "OK NONE \"hi\"\n~idle\n", STATUS),
    CASE("status_with_bare_lf: -ERR", "-ERR\n", "ERR NONE \"\"\n~idle\n", STATUS),
    CASE("status_only_one_trailing_cr_is_stripped", "+OK a\r\r\n",
         "OK NONE \"a\\r\"\n~idle\n", STATUS),
    CASE("status_bad_line_is_error: no indicator", "HELLO\r\n", NOT_A_STATUS_LINE, STATUS),
    CASE("status_bad_line_is_error: +OKAY", "+OKAY\r\n", NOT_A_STATUS_LINE, STATUS),
    CASE("status_bad_line_is_error: -ERRx", "-ERRx\r\n", NOT_A_STATUS_LINE, STATUS),
    CASE("status_bad_line_is_error: tab after +OK", "+OK\tx\r\n", NOT_A_STATUS_LINE, STATUS),
    CASE("status_bad_line_is_error: empty line", "\r\n", NOT_A_STATUS_LINE, STATUS),
    CASE("status_bad_line_is_error: leading space", " +OK\r\n", NOT_A_STATUS_LINE, STATUS),
    /* A continuation only counts under SASL. */
    CASE("status_bad_line_is_error: continuation", "+ abc\r\n", NOT_A_STATUS_LINE, STATUS),
    CASE("status_incomplete_waits", "+OK no line end yet", "~waiting\n", STATUS),
    CASE("status_nul_is_error: in text", "+OK a\0b\r\n", NUL_IN_LINE, STATUS),
    CASE("status_nul_is_error: first byte", "\0\r\n", NUL_IN_LINE, STATUS),
    /* 16 bytes of content: exactly the cap, with CRLF and with bare LF. */
    CASE_CAPPED("status_at_cap_is_accepted: CRLF", "+OK 456789abcdef\r\n", 16,
                "OK NONE \"456789abcdef\"\n~idle\n", STATUS),
    CASE_CAPPED("status_at_cap_is_accepted: LF", "+OK 456789abcdef\n", 16,
                "OK NONE \"456789abcdef\"\n~idle\n", STATUS),
    CASE_CAPPED("status_over_cap_is_error: CRLF", "+OK 456789abcdefg\r\n", 16, TOO_LONG,
                STATUS),
    CASE_CAPPED("status_over_cap_is_error: LF", "+OK 456789abcdefg\n", 16, TOO_LONG, STATUS),
    /* The CR counts once it is clearly not part of the line end. */
    CASE_CAPPED("status_over_cap_is_error: CR in text", "+OK 456789abcdef\rx\r\n", 16,
                TOO_LONG, STATUS),
};

START_TEST(status_line_transcripts)
{
    check_parser_case(&status_cases[_i]);
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
    ck_assert_str_eq(got, TOO_LONG);
    free(got);
    got = transcript(in, len, 0, ex, 1, FEED_BYTEWISE);
    ck_assert_str_eq(got, TOO_LONG);
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

static const parser_case sasl_cases[] = {
    CASE("sasl_continuation_with_text", "+ abc\r\n", "CONT \"abc\"\n~idle\n", SASL),
    CASE("sasl_continuation_bare_plus", "+\r\n", "CONT \"\"\n~idle\n", SASL),
    CASE("sasl_continuation_bare_plus: trailing space", "+ \r\n", "CONT \"\"\n~idle\n", SASL),
    CASE("sasl_continuation_glued_base64", "+abc\r\n", "CONT \"abc\"\n~idle\n", SASL),
    CASE("sasl_continuation_glued_base64: looks like +OK", "+OKAY\r\n",
         "CONT \"OKAY\"\n~idle\n", SASL),
    CASE("sasl_final_status_lines: +OK", "+OK Logged in.\r\n",
         "OK NONE \"Logged in.\"\n~idle\n", SASL),
    CASE("sasl_final_status_lines: -ERR", "-ERR [AUTH] Authentication failed.\r\n",
         "ERR AUTH \"[AUTH] Authentication failed.\"\n~idle\n", SASL),
    CASE("sasl_final_status_lines: garbage", "what\r\n", NOT_A_STATUS_LINE, SASL),
    CASE("sasl_exchange_rearms_between_replies",
         "+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UuZXhhbXBsZS5uZXQ+\r\n+ \r\n+OK done\r\n",
         "CONT \"PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UuZXhhbXBsZS5uZXQ+\"\n"
         "CONT \"\"\nOK NONE \"done\"\n~idle\n",
         SASL, SASL, SASL),
};

START_TEST(sasl_transcripts)
{
    check_parser_case(&sasl_cases[_i]);
}
END_TEST

/* ------------------------------------------------------------------- suite */

static Suite *parser_status_suite(void)
{
    Suite *s = suite_create("parser_status");
    TCase *tc;

    tc = tcase_create("status");
    tcase_add_loop_test(tc, status_line_transcripts, 0, N_ROWS(status_cases));
    tcase_add_test(tc, status_default_cap_is_8192);
    tcase_add_test(tc, status_endless_line_fails_early_with_bounded_memory);
    suite_add_tcase(s, tc);

    tc = tcase_create("sasl");
    tcase_add_loop_test(tc, sasl_transcripts, 0, N_ROWS(sasl_cases));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(parser_status_suite());
}
