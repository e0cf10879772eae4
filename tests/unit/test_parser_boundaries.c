/*
 * The reply parser between replies: re-arming for pipelined replies, bytes owed to
 * no command, a failed parser staying failed, reuse after free; and the parsing of
 * RFC 2449 / RFC 3206 response codes.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "parser_driver.h"

#define UNSOLICITED "ERROR \"unsolicited data: reply to no command\"\n"

/* A parser with the default line cap, owed one reply of the given kind
 * (POP3A_EXPECT_NONE: owed nothing). */
static void start_parser(pop3a_parser *p, pop3a_expect owed)
{
    pop3a_parser_init(p, 0);
    if (owed != POP3A_EXPECT_NONE)
        pop3a_parser_expect(p, owed);
}

/* One feed of a NUL-free string; returns the bytes consumed. */
static size_t feed_str(pop3a_parser *p, const char *s, pop3a_pev *ev)
{
    return pop3a_parser_feed(p, s, strlen(s), ev);
}

/* ------------------------------------------------------ reply boundaries */

static const parser_case boundary_cases[] = {
    CASE("pipelined_replies_rearm_between_them: body then status",
         "+OK\r\nx\r\n.\r\n+OK 1 2\r\n",
         "OK NONE \"\"\nDATA \"x\\r\\n\"\nEND\nOK NONE \"1 2\"\n~idle\n", BODY, STATUS),
    CASE("pipelined_replies_rearm_between_them: every kind",
         "+OK\r\n.\r\n-ERR no\r\n+OK\r\n1 2\r\n.\r\n+ x\r\n",
         "OK NONE \"\"\nEND\nERR NONE \"no\"\nOK NONE \"\"\nLINE \"1 2\"\nEND\nCONT \"x\"\n"
         "~idle\n",
         BODY, BODY, LINES, SASL),
    CASE("unsolicited_data_is_error: after a status", "+OK\r\n+OK again\r\n",
         "OK NONE \"\"\n" UNSOLICITED, STATUS),
    CASE("unsolicited_data_is_error: after a body", "+OK\r\n.\r\nx",
         "OK NONE \"\"\nEND\n" UNSOLICITED, BODY),
};

START_TEST(boundary_transcripts)
{
    check_parser_case(&boundary_cases[_i]);
}
END_TEST

START_TEST(bytes_after_terminator_are_left_for_next_reply)
{
    static const char in[] = "+OK\r\nab\r\n.\r\n+OK next\r\n";
    pop3a_parser p;
    pop3a_pev ev;
    size_t off = 0;

    start_parser(&p, BODY);
    off += feed_str(&p, in + off, &ev);
    ck_assert_int_eq(ev.kind, POP3A_PEV_OK);
    off += feed_str(&p, in + off, &ev);
    ck_assert_int_eq(ev.kind, POP3A_PEV_DATA);
    off += feed_str(&p, in + off, &ev);
    ck_assert_int_eq(ev.kind, POP3A_PEV_END);
    ck_assert_uint_eq(off, strlen("+OK\r\nab\r\n.\r\n"));
    ck_assert_int_eq(pop3a_parser_idle(&p), 1);
    ck_assert_int_eq(pop3a_parser_expecting(&p), POP3A_EXPECT_NONE);
    /* Fed with nothing owed: a protocol error, not silently swallowed. */
    (void)feed_str(&p, in + off, &ev);
    ck_assert_int_eq(ev.kind, POP3A_PEV_ERROR);
    pop3a_parser_free(&p);
}
END_TEST

START_TEST(unsolicited_data_before_any_command)
{
    pop3a_parser p;
    pop3a_pev ev;

    start_parser(&p, POP3A_EXPECT_NONE);
    ck_assert_uint_eq(feed_str(&p, "", &ev), 0);
    ck_assert_int_eq(ev.kind, POP3A_PEV_NEED_MORE);
    (void)feed_str(&p, "+OK\r\n", &ev);
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

    start_parser(&p, STATUS);
    (void)feed_str(&p, "bogus\r\n", &ev);
    ck_assert_int_eq(ev.kind, POP3A_PEV_ERROR);
    ck_assert_int_eq(pop3a_parser_idle(&p), 0);
    /* Neither re-arming nor good input revives it; nor does an empty feed. */
    pop3a_parser_expect(&p, STATUS);
    ck_assert_uint_eq(feed_str(&p, "+OK\r\n", &ev), 0);
    ck_assert_int_eq(ev.kind, POP3A_PEV_ERROR);
    ck_assert_str_eq(ev.data, "not a POP3 status line");
    (void)feed_str(&p, "", &ev);
    ck_assert_int_eq(ev.kind, POP3A_PEV_ERROR);
    pop3a_parser_free(&p);
}
END_TEST

START_TEST(arming_mid_reply_fails_the_parser)
{
    pop3a_parser p;
    pop3a_pev ev;

    start_parser(&p, BODY);
    ck_assert_uint_eq(feed_str(&p, "+OK\r\n", &ev), 5);
    ck_assert_int_eq(ev.kind, POP3A_PEV_OK);
    ck_assert_int_eq(pop3a_parser_idle(&p), 0);
    pop3a_parser_expect(&p, STATUS);
    (void)feed_str(&p, ".\r\n", &ev);
    ck_assert_int_eq(ev.kind, POP3A_PEV_ERROR);
    /* The guard's own reason: ".\r\n" would also fail as "not a status line". */
    ck_assert_str_eq(ev.data, "parser armed in the middle of a reply");
    pop3a_parser_free(&p);
}
END_TEST

START_TEST(parser_is_reusable_after_free)
{
    pop3a_parser p;
    pop3a_pev ev;

    start_parser(&p, STATUS);
    ck_assert_uint_eq(feed_str(&p, "+OK", &ev), 3); /* buffered */
    ck_assert_int_eq(ev.kind, POP3A_PEV_NEED_MORE);
    ck_assert_int_eq(pop3a_parser_idle(&p), 0);
    pop3a_parser_free(&p);
    pop3a_parser_init(&p, 0);
    ck_assert_int_eq(pop3a_parser_idle(&p), 1);
    pop3a_parser_expect(&p, STATUS);
    ck_assert_uint_eq(feed_str(&p, "-ERR x\r\n", &ev), 8);
    ck_assert_int_eq(ev.kind, POP3A_PEV_ERR);
    ck_assert_int_eq(pop3a_parser_idle(&p), 1);
    pop3a_parser_free(&p);
}
END_TEST

/* -------------------------------------------------------------- resp codes */

typedef struct {
    const char *group; /* the rule the row belongs to, for failure messages */
    const char *text;
    size_t len;
    pop3a_resp_code want;
} resp_code_case;

#define CODE(group, text, want) {(group), (text), sizeof(text) - 1, (want)}

static const resp_code_case resp_code_cases[] = {
    CODE("known", "[IN-USE] x", POP3A_RESP_IN_USE),
    CODE("known", "[LOGIN-DELAY] x", POP3A_RESP_LOGIN_DELAY),
    CODE("known", "[SYS/TEMP] x", POP3A_RESP_SYS_TEMP),
    CODE("known", "[SYS/PERM] x", POP3A_RESP_SYS_PERM),
    CODE("known", "[AUTH] x", POP3A_RESP_AUTH),
    CODE("known", "[UTF8]", POP3A_RESP_UTF8),

    CODE("case insensitive", "[in-use] x", POP3A_RESP_IN_USE),
    CODE("case insensitive", "[Sys/Temp] x", POP3A_RESP_SYS_TEMP),
    CODE("case insensitive", "[auth]", POP3A_RESP_AUTH),

    CODE("hierarchical maps to parent", "[SYS/TEMP/DISK-FULL] x", POP3A_RESP_SYS_TEMP),
    CODE("hierarchical maps to parent", "[SYS/PERM/QUOTA/X] x", POP3A_RESP_SYS_PERM),
    CODE("hierarchical maps to parent", "[IN-USE/OTHER-SESSION] x", POP3A_RESP_IN_USE),
    CODE("hierarchical maps to parent", "[AUTH/EXPIRED] x", POP3A_RESP_AUTH),

    CODE("unknown is other", "[X-FOO] x", POP3A_RESP_OTHER),
    CODE("unknown is other", "[SYS] x", POP3A_RESP_OTHER),
    CODE("unknown is other", "[SYS/OTHER] x", POP3A_RESP_OTHER),
    CODE("unknown is other", "[IN-USEX] x", POP3A_RESP_OTHER),
    CODE("unknown is other", "[AUT] x", POP3A_RESP_OTHER),

    CODE("absent or malformed is none", "", POP3A_RESP_NONE),
    CODE("absent or malformed is none", "IN-USE locked", POP3A_RESP_NONE),
    CODE("absent or malformed is none", " [IN-USE] x", POP3A_RESP_NONE),
    CODE("absent or malformed is none", "[IN-USE x", POP3A_RESP_NONE),
    CODE("absent or malformed is none", "[]", POP3A_RESP_NONE),
    CODE("absent or malformed is none", "[in use] x", POP3A_RESP_NONE),
    CODE("absent or malformed is none", "[SYS//TEMP] x", POP3A_RESP_NONE),
    CODE("absent or malformed is none", "[SYS/] x", POP3A_RESP_NONE),
    /* Length is honoured: the "]" lies beyond it. */
    {"absent or malformed is none", "[AUTH]", 5, POP3A_RESP_NONE},
};

START_TEST(resp_code_parse)
{
    const resp_code_case *c = &resp_code_cases[_i];
    pop3a_resp_code got = pop3a_resp_code_parse(c->text, c->len);

    ck_assert_msg(got == c->want, "%s: \"%.*s\" parsed as %d, want %d", c->group, (int)c->len,
                  c->text, (int)got, (int)c->want);
}
END_TEST

/* ------------------------------------------------------------------- suite */

static Suite *parser_boundaries_suite(void)
{
    Suite *s = suite_create("parser_boundaries");
    TCase *tc;

    tc = tcase_create("boundaries");
    tcase_add_loop_test(tc, boundary_transcripts, 0, N_ROWS(boundary_cases));
    tcase_add_test(tc, bytes_after_terminator_are_left_for_next_reply);
    tcase_add_test(tc, unsolicited_data_before_any_command);
    tcase_add_test(tc, error_is_sticky);
    tcase_add_test(tc, arming_mid_reply_fails_the_parser);
    tcase_add_test(tc, parser_is_reusable_after_free);
    suite_add_tcase(s, tc);

    tc = tcase_create("resp_codes");
    tcase_add_loop_test(tc, resp_code_parse, 0, N_ROWS(resp_code_cases));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(parser_boundaries_suite());
}
