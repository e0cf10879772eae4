/*
 * Hostile servers, part 1: greetings and status lines that are wrong, too long,
 * or carry numbers and codes no real server should send. Each scenario ends in
 * the status doc/ROBUSTNESS.md lists for it.
 */
#include <stdio.h>

#include <event2/bufferevent.h>

#include "hostile.h"

/* One bad reply to `cmd`; asserts it fails with `want` alone and the session
 * goes on (NOOP after it succeeds). */
static void bad_reply_fails_only_its_future(const char *cmd, h_submit_fn submit, const char *reply,
                                            pop3a_status want)
{
    tu_env e;
    h_env_init_login(&e, H_CAPA);
    p3s_expect(e.srv, cmd);
    p3s_send(e.srv, reply);
    p3s_expect(e.srv, "NOOP");
    p3s_send(e.srv, "+OK\r\n");
    tu_rec r, noop;
    h_attach_submit_then_noop(&e, submit, &r, &noop);
    H_SCRIPT_OK(e.srv);
    H_ONCE(r);
    H_STATUS(r, want);
    ck_assert_int_eq(r.stat_rc, -1);
    H_ONCE(noop);
    H_STATUS(noop, POP3A_OK);
    ck_assert_int_eq(e.close_calls, 0);
    tu_env_free(&e);
}

/* ---------------------------------------------------------------- greeting */

START_TEST(greeting_never_comes_times_out)
{
    tu_env e;
    tu_env_init(&e);
    pop3a_options_set_timeouts(e.opts, 300, 300);
    tu_rec conn;
    unsigned long took = h_attach_timed(&e, &conn);
    H_ONCE(conn);
    H_STATUS(conn, POP3A_ERR_TIMEOUT);
    H_TOOK_BETWEEN(took, 250, 2000);
    ck_assert_int_eq(e.close_calls, 1);
    ck_assert_int_eq(e.close_why, POP3A_ERR_TIMEOUT);
    tu_env_free(&e);
}
END_TEST

START_TEST(greeting_err_is_server_error)
{
    tu_env e;
    tu_env_init(&e);
    p3s_send(e.srv, "-ERR [SYS/TEMP] too many connections\r\n");
    p3s_expect_eof(e.srv);
    tu_rec conn, login;
    h_attach_try_login(&e, &conn, &login, 0);
    run_for(e.base, 20);
    H_SCRIPT_OK(e.srv);
    ck_assert(p3s_done(e.srv)); /* nothing sent, then the client hung up */
    H_ONCE(conn);
    H_STATUS(conn, POP3A_ERR_SERVER);
    ck_assert_int_eq(conn.resp, POP3A_RESP_SYS_TEMP);
    ck_assert_ptr_nonnull(strstr(conn.text, "too many connections"));
    H_ONCE(login);
    H_STATUS(login, POP3A_ERR_SERVER);
    tu_env_free(&e);
}
END_TEST

START_TEST(greeting_not_pop3_is_protocol_error)
{
    tu_env e;
    tu_env_init(&e);
    p3s_send(e.srv, "HTTP/1.1 400 Bad Request\r\n\r\n");
    tu_rec conn;
    h_attach_timed(&e, &conn);
    H_ONCE(conn);
    H_STATUS(conn, POP3A_ERR_PROTOCOL);
    ck_assert_int_eq(e.close_why, POP3A_ERR_PROTOCOL);
    tu_env_free(&e);
}
END_TEST

/* 10 MiB without a line feed: the cap (8 KiB) stops it long before the end,
 * and memory does not follow the flood. */
START_TEST(greeting_endless_line_fails_fast_with_bounded_memory)
{
    tu_env e;
    tu_env_init(&e);
    fl *f = fl_new(e.base);
    ck_assert_ptr_nonnull(f);
    gen_repeat g;
    gen_repeat_init(&g, "+OK AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                    10u * 1024 * 1024, NULL);
    fl_gen(f, gen_repeat_fn, &g);
    mem_watch w;
    tu_rec conn;
    unsigned long took = fl_attach_sampled(&e, f, &conn, &w);
    H_ONCE(conn);
    H_STATUS(conn, POP3A_ERR_PROTOCOL);
    ck_assert_ptr_nonnull(strstr(pop3a_client_errstr(e.client), "line too long"));
    H_TOOK_UNDER(took, 1000);
    H_HEAP_GREW_LESS(w, 4u * 1024 * 1024);
    /* The client hung up (not merely stopped reading): the peer sees it go. */
    for (unsigned waited = 0; !fl_peer_gone(f) && waited < H_WAIT_MS; waited += 10)
        run_for(e.base, 10);
    ck_assert_msg(fl_peer_gone(f), "the client did not close the connection");
    ck_assert(fl_bytes_sent(f) < 10u * 1024 * 1024);
    pop3a_client_free(e.client);
    e.client = NULL;
    fl_free(f);
    tu_env_free(&e);
}
END_TEST

/* A hostile APOP timestamp is not used: without "<...@...>" no APOP. */
static const char *const malformed_apop_greetings[] = {
    "+OK ready <>\r\n",
    "+OK ready <no-at-sign>\r\n",
    "+OK ready <unterminated@host\r\n",
    "+OK ready <a@b\x01>\r\n",
};

START_TEST(greeting_with_malformed_apop_timestamp_offers_no_apop)
{
    tu_env e;
    tu_env_init(&e);
    tu_script_greeting_capa(e.srv, malformed_apop_greetings[_i], NULL);
    tu_rec conn, login;
    h_attach_try_login(&e, &conn, &login, POP3A_MECH_APOP);
    H_SCRIPT_OK(e.srv);
    H_STATUS(conn, POP3A_OK);
    ck_assert_msg(pop3a_client_apop_timestamp(e.client) == NULL, "greeting %d: timestamp %s", _i,
                  pop3a_client_apop_timestamp(e.client));
    H_STATUS(login, POP3A_ERR_UNSUPPORTED);
    tu_env_free(&e);
}
END_TEST

/* ------------------------------------------------------------ line caps */

START_TEST(status_line_over_configured_cap_is_protocol)
{
    tu_env e;
    h_env_init_login(&e, H_CAPA);
    pop3a_options_set_max_line(e.opts, 512);
    p3s_expect(e.srv, "STAT");
    char reply[700];
    memset(reply, '7', sizeof reply);
    memcpy(reply, "+OK 1 ", 6);
    memcpy(reply + sizeof reply - 3, "\r\n", 3);
    p3s_send(e.srv, reply);
    tu_rec stat, noop;
    h_attach_submit_then_noop(&e, h_submit_stat, &stat, &noop);
    H_ONCE(stat);
    H_STATUS(stat, POP3A_ERR_PROTOCOL);
    /* A line over the cap poisons the stream: the connection goes. */
    H_ONCE(noop);
    H_STATUS(noop, POP3A_ERR_PROTOCOL);
    ck_assert_int_eq(e.close_calls, 1);
    ck_assert_int_eq(e.close_why, POP3A_ERR_PROTOCOL);
    tu_env_free(&e);
}
END_TEST

/* ------------------------------------------------------------- numbers */

/* A reply with a number or a unique-id no server should send: that command
 * fails with PROTOCOL, the session goes on. */
typedef struct {
    const char *cmd;
    h_submit_fn submit;
    const char *reply;
} bad_reply;

#define U10 "uuuuuuuuuu"
#define UID70 U10 U10 U10 U10 U10 U10 U10

static const bad_reply bad_number_replies[] = {
    /* A real server's answer (a signed 32-bit overflow): an error, never a
     * wrapped size. */
    {"STAT", h_submit_stat, "+OK 33852 -1972428639\r\n"},
    {"STAT", h_submit_stat, "+OK 1 18446744073709551616\r\n"},
    {"STAT", h_submit_stat, "+OK 1 999999999999999999999999999999999999\r\n"},
    {"STAT", h_submit_stat, "+OK 4294967296 10\r\n"},
    {"STAT", h_submit_stat, "+OK -1 10\r\n"},
    {"LIST", h_submit_list, "+OK\r\n1 120\r\n2 18446744073709551616\r\n3 5\r\n.\r\n"},
    {"LIST", h_submit_list, "+OK\r\n1 -1972428639\r\n.\r\n"},
    {"LIST", h_submit_list, "+OK\r\n0 100\r\n.\r\n"},
    {"LIST 1", h_submit_list1, "+OK 1 -5\r\n"},
    /* An answer about another message than the one asked for. */
    {"LIST 1", h_submit_list1, "+OK 2 100\r\n"},
    /* RFC 1939 s7: a unique-id is 1 to 70 characters 0x21..0x7E. */
    {"UIDL", h_submit_uidl, "+OK\r\n1 " UID70 "u\r\n.\r\n"},
    {"UIDL 1", h_submit_uidl1, "+OK 1 " UID70 "u\r\n"},
    {"UIDL", h_submit_uidl, "+OK\r\n1 abc\x01"
                                               "def\r\n.\r\n"},
    {"UIDL", h_submit_uidl, "+OK\r\n1 abc\xc3\xa9\r\n.\r\n"},
    {"UIDL", h_submit_uidl, "+OK\r\n1\r\n.\r\n"},
};

START_TEST(bad_number_fails_only_its_command)
{
    const bad_reply *b = &bad_number_replies[_i];
    /* Check names the failing row by its index (the ":N:" in the report). */
    bad_reply_fails_only_its_future(b->cmd, b->submit, b->reply, POP3A_ERR_PROTOCOL);
}
END_TEST

/* The largest values that do fit are read exactly. */
START_TEST(stat_largest_values_fit)
{
    static const char reply[] = "+OK 4294967295 18446744073709551615\r\n";
    tu_env e;
    tu_rec stat;
    h_answer_one(&e, "STAT", reply, sizeof reply - 1, h_submit_stat, &stat);
    H_STATUS(stat, POP3A_OK);
    ck_assert_int_eq(stat.stat_rc, 0);
    ck_assert_uint_eq(stat.stat_count, UINT32_MAX);
    ck_assert(stat.stat_octets == UINT64_MAX);
    tu_env_free(&e);
}
END_TEST

START_TEST(uidl_70_char_uid_accepted)
{
    static const char reply[] = "+OK\r\n1 " UID70 "\r\n.\r\n";
    tu_env e;
    tu_rec uidl;
    h_answer_one(&e, "UIDL", reply, sizeof reply - 1, h_submit_uidl, &uidl);
    H_STATUS(uidl, POP3A_OK);
    ck_assert_uint_eq(uidl.count, 1);
    ck_assert_str_eq(uidl.entry_uid[0], UID70);
    ck_assert_uint_eq(strlen(uidl.entry_uid[0]), 70);
    tu_env_free(&e);
}
END_TEST

/* ------------------------------------------------ NUL and invalid UTF-8 */

/* A NUL cannot be handed out as C text: the status line is refused and the
 * connection closed (nothing after it can be trusted to be in sync). */
START_TEST(nul_in_status_text_is_protocol)
{
    tu_env e;
    tu_rec noop;
    h_answer_one(&e, "NOOP", "+OK hel\0lo\r\n", 12, h_submit_noop, &noop);
    H_ONCE(noop);
    H_STATUS(noop, POP3A_ERR_PROTOCOL);
    ck_assert_int_eq(e.close_why, POP3A_ERR_PROTOCOL);
    tu_env_free(&e);
}
END_TEST

/* POP3 text is octets (RFC 1939 predates UTF8, RFC 6856): kept as sent. */
START_TEST(invalid_utf8_in_status_text_is_kept)
{
    static const char reply[] = "-ERR \xff\xfe\xc3\x28 \xed\xa0\x80 bad\r\n";
    tu_env e;
    tu_rec noop;
    h_answer_one(&e, "NOOP", reply, sizeof reply - 1, h_submit_noop, &noop);
    H_STATUS(noop, POP3A_ERR_SERVER);
    ck_assert_str_eq(noop.text, "\xff\xfe\xc3\x28 \xed\xa0\x80 bad");
    ck_assert_int_eq(e.close_calls, 0);
    tu_env_free(&e);
}
END_TEST

/* Bodies are binary-transparent: NUL bytes and broken UTF-8 arrive as sent. */
START_TEST(nul_and_invalid_utf8_in_body_pass_through)
{
    static const char reply[] = "+OK\r\n"
                                "Subject: \xff\xfe\r\n\r\n\0\0x\xc3\x28\r\n\0.\r\n..\0\r\n"
                                ".\r\n";
    static const char want[] = "Subject: \xff\xfe\r\n\r\n\0\0x\xc3\x28\r\n\0.\r\n.\0\r\n";
    tu_env e;
    tu_rec retr;
    h_answer_one(&e, "RETR 1", reply, sizeof reply - 1, h_submit_retr1, &retr);
    H_ONCE(retr);
    H_STATUS(retr, POP3A_OK);
    ck_assert_int_eq(retr.final_count, 1);
    ck_assert_uint_eq(retr.body_len, sizeof want - 1);
    ck_assert(memcmp(retr.body, want, sizeof want - 1) == 0);
    tu_rec_clear(&retr);
    tu_env_free(&e);
}
END_TEST

/* ------------------------------------------------------------ resp codes */

/* Broken "[...]" codes are text, not codes; nothing crashes or misreads. */
START_TEST(resp_code_garbage_is_text)
{
    static const struct {
        const char *reply;
        pop3a_resp_code want;
    } cases[] = {
        {"-ERR [IN-USE locked\r\n", POP3A_RESP_NONE},
        {"-ERR [] empty\r\n", POP3A_RESP_NONE},
        {"-ERR [IN USE] space\r\n", POP3A_RESP_NONE},
        {"-ERR [\x01\x02] control\r\n", POP3A_RESP_NONE},
        {"-ERR [SYS//TEMP] empty level\r\n", POP3A_RESP_NONE},
        {"-ERR [SYS/TEMP/disk/full] deep\r\n", POP3A_RESP_SYS_TEMP},
        {"-ERR [sys/perm] lower case\r\n", POP3A_RESP_SYS_PERM},
        {"-ERR [X-VENDOR-THING] unknown\r\n", POP3A_RESP_OTHER},
        {"-ERR  [AUTH] leading space\r\n", POP3A_RESP_NONE},
        {"-ERR [AUTH]\r\n", POP3A_RESP_AUTH},
        {"+OK [IN-USE] on success too\r\n", POP3A_RESP_IN_USE},
    };
    enum { N = sizeof cases / sizeof cases[0] };
    tu_env e;
    h_env_init_login(&e, H_CAPA);
    for (size_t i = 0; i < N; i++) {
        p3s_expect(e.srv, "NOOP");
        p3s_send(e.srv, cases[i].reply);
    }
    /* A code of 7000 characters, within the line cap. */
    char *big = malloc(7100);
    ck_assert_ptr_nonnull(big);
    memcpy(big, "-ERR [", 6);
    memset(big + 6, 'A', 7000);
    memcpy(big + 7006, "] big\r\n", 8);
    p3s_expect(e.srv, "NOOP");
    p3s_send(e.srv, big);
    free(big);
    tu_rec conn, login, noop[N + 1];
    h_attach_login(&e, &conn, &login);
    for (size_t i = 0; i <= N; i++) {
        tu_rec_init(&noop[i], (int)i + 2, NULL);
        ck_assert_ptr_nonnull(pop3a_noop(e.client, tu_done, &noop[i]));
    }
    H_WAIT_DONE(e.base, noop[N]);
    H_SCRIPT_OK(e.srv);
    for (size_t i = 0; i < N; i++) {
        H_ONCE(noop[i]);
        H_STATUS(noop[i], cases[i].reply[0] == '-' ? POP3A_ERR_SERVER : POP3A_OK);
        ck_assert_msg(noop[i].resp == cases[i].want, "case %zu (%s): resp %d, want %d", i,
                      cases[i].reply, noop[i].resp, cases[i].want);
    }
    H_STATUS(noop[N], POP3A_ERR_SERVER);
    ck_assert_int_eq(noop[N].resp, POP3A_RESP_OTHER);
    ck_assert_int_eq(e.close_calls, 0);
    tu_env_free(&e);
}
END_TEST

/* "+ok" is +OK (RFC 1939 says the indicators are upper case; servers vary);
 * "+OKAY" is not a status line. */
START_TEST(status_indicator_case_and_glued_text)
{
    tu_env e;
    h_env_init_login(&e, H_CAPA);
    p3s_expect(e.srv, "NOOP");
    p3s_send(e.srv, "+ok fine\r\n");
    p3s_expect(e.srv, "NOOP");
    p3s_send(e.srv, "+OKAY\r\n");
    tu_rec a, b;
    h_attach_submit_then_noop(&e, h_submit_noop, &a, &b);
    H_STATUS(a, POP3A_OK);
    ck_assert_str_eq(a.text, "fine");
    H_STATUS(b, POP3A_ERR_PROTOCOL);
    tu_env_free(&e);
}
END_TEST

int main(void)
{
    tu_ignore_sigpipe();
    Suite *s = suite_create("hostile_status");
    TCase *tc = tcase_create("status");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, greeting_never_comes_times_out);
    tcase_add_test(tc, greeting_err_is_server_error);
    tcase_add_test(tc, greeting_not_pop3_is_protocol_error);
    tcase_add_test(tc, greeting_endless_line_fails_fast_with_bounded_memory);
    tcase_add_loop_test(tc, greeting_with_malformed_apop_timestamp_offers_no_apop, 0,
                        sizeof malformed_apop_greetings / sizeof malformed_apop_greetings[0]);
    tcase_add_test(tc, status_line_over_configured_cap_is_protocol);
    tcase_add_loop_test(tc, bad_number_fails_only_its_command, 0,
                        sizeof bad_number_replies / sizeof bad_number_replies[0]);
    tcase_add_test(tc, stat_largest_values_fit);
    tcase_add_test(tc, uidl_70_char_uid_accepted);
    tcase_add_test(tc, nul_in_status_text_is_protocol);
    tcase_add_test(tc, invalid_utf8_in_status_text_is_kept);
    tcase_add_test(tc, nul_and_invalid_utf8_in_body_pass_through);
    tcase_add_test(tc, resp_code_garbage_is_text);
    tcase_add_test(tc, status_indicator_case_and_glued_text);
    suite_add_tcase(s, tc);
    return h_run_suite(s);
}
