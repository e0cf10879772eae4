/*
 * Hostile servers, part 2: framing. Odd line ends and terminators, replies
 * nobody asked for, replies glued together, STLS with data injected before
 * TLS, SASL continuations where none belong.
 */
#include <stdio.h>

#include "hostile.h"

/* ----------------------------------------------------- line ends and dots */

/* RFC 1939 s3 says CRLF; bare LF is tolerated everywhere, terminator included. */
START_TEST(bare_lf_everywhere_is_tolerated)
{
    tu_env e;
    tu_env_init(&e);
    p3s_send(e.srv, "+OK ready\n");
    p3s_expect(e.srv, "CAPA");
    p3s_send(e.srv, "+OK\nUSER\nUIDL\n.\n");
    p3s_expect(e.srv, "USER alice");
    p3s_send(e.srv, "+OK\n");
    p3s_expect(e.srv, "PASS alicepw");
    p3s_send(e.srv, "+OK\n");
    p3s_expect(e.srv, "LIST");
    p3s_send(e.srv, "+OK\n1 10\n2 20\n.\n");
    p3s_expect(e.srv, "RETR 1");
    p3s_send(e.srv, "+OK\nline1\n..dot\n\n.\n");
    tu_rec r[5];
    h_attach_login_recs(&e, r, 5);
    ck_assert_ptr_nonnull(pop3a_list(e.client, 0, tu_done, &r[2]));
    ck_assert_ptr_nonnull(pop3a_retr(e.client, 1, tu_chunk, tu_done, &r[3]));
    H_WAIT_DONE(e.base, r[3]);
    H_SCRIPT_OK(e.srv);
    H_STATUS(r[2], POP3A_OK);
    ck_assert_uint_eq(r[2].count, 2);
    ck_assert_uint_eq(r[2].entry_size[1], 20);
    H_STATUS(r[3], POP3A_OK);
    ck_assert_int_eq(r[3].final_count, 1);
    ck_assert_str_eq(r[3].body, "line1\n.dot\n\n");
    tu_rec_clear(&r[3]);
    tu_env_free(&e);
}
END_TEST

/* ".\r" not followed by LF is not a terminator: the dot was stuffing and the
 * CR is data. */
START_TEST(dot_cr_without_lf_is_not_a_terminator)
{
    tu_env e;
    tu_rec retr;
    h_answer_one_text(&e, "RETR 1", "+OK\r\na\r\n.\rX\r\n.\r\r\n.\r\n", h_submit_retr1, &retr);
    H_STATUS(retr, POP3A_OK);
    ck_assert_int_eq(retr.final_count, 1);
    ck_assert_str_eq(retr.body, "a\r\n\rX\r\n\r\r\n");
    tu_rec_clear(&retr);
    tu_env_free(&e);
}
END_TEST

/* The body never ends and the server closes: EOF, and the message never looks
 * complete (no final chunk). */
START_TEST(missing_terminator_then_close_is_eof_without_final)
{
    tu_env e;
    h_env_init_login(&e, H_CAPA);
    p3s_expect(e.srv, "RETR 1");
    p3s_send(e.srv, "+OK\r\nSubject: x\r\n\r\nbody\r\n");
    p3s_close(e.srv);
    tu_rec r[4];
    h_attach_login_recs(&e, r, 4);
    ck_assert_ptr_nonnull(pop3a_retr(e.client, 1, tu_chunk, tu_done, &r[2]));
    ck_assert_ptr_nonnull(pop3a_dele(e.client, 1, tu_done, &r[3]));
    H_WAIT_DONE(e.base, r[3]);
    H_ONCE(r[2]);
    H_STATUS(r[2], POP3A_ERR_EOF);
    ck_assert_int_eq(r[2].final_count, 0);
    H_ONCE(r[3]);
    H_STATUS(r[3], POP3A_ERR_EOF);
    ck_assert_int_eq(e.close_calls, 1);
    tu_rec_clear(&r[2]);
    tu_env_free(&e);
}
END_TEST

/* The body never ends and the server stays silent: the idle timeout ends it. */
START_TEST(missing_terminator_then_silence_is_timeout_without_final)
{
    tu_env e;
    tu_env_init(&e);
    pop3a_options_set_timeouts(e.opts, 3000, 300);
    h_script_login(e.srv, H_CAPA);
    p3s_expect(e.srv, "RETR 1");
    p3s_send(e.srv, "+OK\r\nSubject: x\r\n\r\nbody\r\n.");
    tu_rec r[3];
    h_attach_login_recs(&e, r, 3);
    unsigned long t0 = h_now_ms();
    ck_assert_ptr_nonnull(pop3a_retr(e.client, 1, tu_chunk, tu_done, &r[2]));
    H_WAIT_DONE(e.base, r[2]);
    unsigned long took = h_now_ms() - t0;
    H_ONCE(r[2]);
    H_STATUS(r[2], POP3A_ERR_TIMEOUT);
    ck_assert_int_eq(r[2].final_count, 0);
    H_TOOK_BETWEEN(took, 250, 2000);
    tu_rec_clear(&r[2]);
    tu_env_free(&e);
}
END_TEST

/* ------------------------------------------------------ unsolicited data */

/* Data while no reply is owed: the stream is out of sync; the connection goes. */
START_TEST(unsolicited_reply_while_idle_closes_with_protocol)
{
    tu_env e;
    h_env_init_login(&e, H_CAPA);
    p3s_delay(e.srv, 30);
    p3s_send(e.srv, "+OK surprise\r\n");
    tu_rec r[3];
    h_attach_login_recs(&e, r, 3);
    ck_assert_msg(run_until_count(e.base, &e.close_calls, 1, H_WAIT_MS) == 0, "no close");
    ck_assert_int_eq(e.close_why, POP3A_ERR_PROTOCOL);
    ck_assert_int_eq(pop3a_client_error(e.client), POP3A_ERR_PROTOCOL);
    /* The session is over: a new command is refused in that state. */
    ck_assert_ptr_nonnull(pop3a_noop(e.client, tu_done, &r[2]));
    H_WAIT_DONE(e.base, r[2]);
    H_STATUS(r[2], POP3A_ERR_STATE);
    tu_env_free(&e);
}
END_TEST

/* Without PIPELINING the NOOP is not sent until STAT is answered; an answer to
 * it glued to STAT's is a reply to a command never sent. */
START_TEST(reply_to_unsent_command_in_same_read_is_protocol)
{
    tu_env e;
    h_env_init_login(&e, H_CAPA);
    p3s_expect(e.srv, "STAT");
    p3s_send(e.srv, "+OK 1 10\r\n+OK early\r\n");
    tu_rec stat, noop;
    h_attach_submit_then_noop(&e, h_submit_stat, &stat, &noop);
    H_ONCE(stat);
    H_STATUS(stat, POP3A_OK);
    ck_assert_uint_eq(stat.stat_count, 1);
    H_ONCE(noop);
    H_STATUS(noop, POP3A_ERR_PROTOCOL);
    ck_assert_int_eq(e.close_why, POP3A_ERR_PROTOCOL);
    tu_env_free(&e);
}
END_TEST

/* With PIPELINING, several replies (multi-line included) in one read are each
 * given to their own future. */
START_TEST(pipelined_replies_in_one_read_are_split_correctly)
{
    tu_env e;
    h_env_init_login(&e, H_CAPA_PIPELINING);
    p3s_expect(e.srv, "LIST");
    p3s_expect(e.srv, "STAT");
    p3s_expect(e.srv, "RETR 1");
    p3s_expect(e.srv, "NOOP");
    p3s_send(e.srv, "+OK\r\n1 5\r\n.\r\n+OK 1 5\r\n+OK\r\nhi\r\n.\r\n+OK done\r\n");
    tu_rec r[6];
    h_attach_login_recs(&e, r, 6);
    ck_assert_ptr_nonnull(pop3a_list(e.client, 0, tu_done, &r[2]));
    ck_assert_ptr_nonnull(pop3a_stat(e.client, tu_done, &r[3]));
    ck_assert_ptr_nonnull(pop3a_retr(e.client, 1, tu_chunk, tu_done, &r[4]));
    ck_assert_ptr_nonnull(pop3a_noop(e.client, tu_done, &r[5]));
    H_WAIT_DONE(e.base, r[5]);
    H_SCRIPT_OK(e.srv);
    for (int i = 2; i < 6; i++) {
        H_ONCE(r[i]);
        H_STATUS(r[i], POP3A_OK);
    }
    ck_assert_uint_eq(r[2].count, 1);
    ck_assert_uint_eq(r[3].stat_octets, 5);
    ck_assert_str_eq(r[4].body, "hi\r\n");
    ck_assert_str_eq(r[5].text, "done");
    tu_rec_clear(&r[4]);
    tu_env_free(&e);
}
END_TEST

/* Junk right after the QUIT reply: the client has already hung up. */
START_TEST(junk_after_quit_reply_is_ignored)
{
    tu_env e;
    tu_rec quit;
    h_answer_one_text(&e, "QUIT", "+OK bye\r\n+OK extra\r\ngarbage", h_submit_quit, &quit);
    run_for(e.base, 30);
    H_ONCE(quit);
    H_STATUS(quit, POP3A_OK);
    ck_assert_int_eq(e.close_calls, 1);
    ck_assert_int_eq(e.close_why, POP3A_OK);
    tu_env_free(&e);
}
END_TEST

/* -ERR ends a reply (RFC 1939 s3: only +OK has a multi-line section); lines
 * after it are unsolicited, so the connection goes after RETR has failed. */
START_TEST(err_followed_by_a_body_is_protocol_after_the_error)
{
    tu_env e;
    h_env_init_login(&e, H_CAPA);
    p3s_expect(e.srv, "RETR 9");
    p3s_send(e.srv, "-ERR no such message\r\nSubject: ghost\r\n.\r\n");
    tu_rec r[3];
    h_attach_login_recs(&e, r, 3);
    ck_assert_ptr_nonnull(pop3a_retr(e.client, 9, tu_chunk, tu_done, &r[2]));
    H_WAIT_DONE(e.base, r[2]);
    ck_assert_msg(run_until_count(e.base, &e.close_calls, 1, H_WAIT_MS) == 0, "no close");
    H_ONCE(r[2]);
    H_STATUS(r[2], POP3A_ERR_SERVER);
    ck_assert_int_eq(r[2].chunk_calls, 0);
    ck_assert_int_eq(e.close_why, POP3A_ERR_PROTOCOL);
    tu_env_free(&e);
}
END_TEST

/* With PIPELINING the client sends USER and PASS together; a server that
 * refuses USER and then accepts PASS is not making sense. */
START_TEST(pass_accepted_after_user_refused_is_protocol)
{
    tu_env e;
    tu_env_init(&e);
    tu_script_greeting_capa(e.srv, H_GREETING, H_CAPA_PIPELINING);
    p3s_expect(e.srv, "USER alice");
    p3s_expect(e.srv, "PASS alicepw");
    p3s_send(e.srv, "-ERR no such user\r\n+OK welcome anyway\r\n");
    tu_rec r[2];
    h_attach_try_login(&e, &r[0], &r[1], POP3A_MECH_USER);
    H_ONCE(r[1]);
    H_STATUS(r[1], POP3A_ERR_PROTOCOL);
    tu_env_free(&e);
}
END_TEST

/* ------------------------------------------------------------------ STLS */

/* A client that requires STLS, and a server that offers it (offer_stls) and
 * then waits for the STLS command, or does not offer it. */
static void stls_env_init(tu_env *e, int offer_stls)
{
    tu_env_init(e);
    ck_assert_int_eq(pop3a_options_set_tls(e->opts, POP3A_TLS_STLS, NULL), 0);
    pop3a_options_set_timeouts(e->opts, 2000, 1000);
    tu_script_greeting_capa(e->srv, H_GREETING, offer_stls ? "STLS\r\nUSER\r\n" : "USER\r\n");
    if (offer_stls)
        p3s_expect(e->srv, "STLS");
}

/* Attaches and tries a login (r[0] conn, r[1] login), then gives the client
 * a moment to hang up. */
static void stls_try_login(tu_env *e, tu_rec r[2])
{
    h_attach_try_login(e, &r[0], &r[1], 0);
    run_for(e->base, 30);
}

/* RFC 2595 s4 / curl CVE-2021-22947: bytes after "+OK" to STLS, before any
 * TLS, could have been injected by a man in the middle: refused, never read
 * as replies, no TLS attempted, no credentials sent. */
START_TEST(stls_reply_with_injected_data_is_refused)
{
    tu_env e;
    stls_env_init(&e, 1);
    p3s_send(e.srv, "+OK Begin TLS\r\n+OK fake\r\n");
    p3s_expect_eof(e.srv);
    tu_rec r[2];
    stls_try_login(&e, r);
    H_SCRIPT_OK(e.srv);
    ck_assert(p3s_done(e.srv));
    H_ONCE(r[0]);
    H_STATUS(r[0], POP3A_ERR_PROTOCOL);
    ck_assert_ptr_nonnull(strstr(pop3a_client_errstr(e.client), "STLS"));
    ck_assert_int_eq(pop3a_client_is_tls(e.client), 0);
    H_ONCE(r[1]);
    H_STATUS(r[1], POP3A_ERR_PROTOCOL);
    ck_assert_uint_eq(p3s_lines_received(e.srv), 2); /* CAPA, STLS: no USER */
    ck_assert_uint_eq(p3s_bytes_unread(e.srv), 0);
    tu_env_free(&e);
}
END_TEST

/* After "+OK" the server sends plain text instead of a TLS handshake. */
START_TEST(stls_garbage_instead_of_handshake_is_tls_error)
{
    tu_env e;
    stls_env_init(&e, 1);
    p3s_send(e.srv, "+OK Begin TLS\r\n");
    p3s_delay(e.srv, 50);
    p3s_send(e.srv, "+OK this is not TLS at all\r\n");
    tu_rec r[2];
    h_attach_try_login(&e, &r[0], &r[1], 0);
    H_ONCE(r[0]);
    H_STATUS(r[0], POP3A_ERR_TLS);
    ck_assert_int_eq(pop3a_client_is_tls(e.client), 0);
    H_STATUS(r[1], POP3A_ERR_TLS);
    tu_env_free(&e);
}
END_TEST

/* STLS required but not offered: a hard error, no silent downgrade
 * (CVE-2021-22946), no credentials sent. */
START_TEST(stls_not_offered_is_tls_required)
{
    tu_env e;
    stls_env_init(&e, 0);
    p3s_expect_eof(e.srv);
    tu_rec r[2];
    stls_try_login(&e, r);
    H_SCRIPT_OK(e.srv);
    H_STATUS(r[0], POP3A_ERR_TLS_REQUIRED);
    H_STATUS(r[1], POP3A_ERR_TLS_REQUIRED);
    ck_assert_uint_eq(p3s_lines_received(e.srv), 1); /* CAPA only */
    tu_env_free(&e);
}
END_TEST

/* ------------------------------------------------------------------ SASL */

static void sasl_script_start(p3s *s, const char *mechs)
{
    char capa[128];
    snprintf(capa, sizeof capa, "SASL %s\r\nUSER\r\n", mechs);
    tu_script_greeting_capa(s, H_GREETING, capa);
}

/* AUTH LOGIN offered and taken up to the password: the server asks
 * "Username:" and "Password:" with continuations that start with `plus`. */
static void script_auth_login(p3s *s, const char *plus)
{
    char line[64];
    sasl_script_start(s, "LOGIN");
    p3s_expect(s, "AUTH LOGIN");
    snprintf(line, sizeof line, "%sVXNlcm5hbWU6\r\n", plus); /* "Username:" */
    p3s_send(s, line);
    p3s_expect(s, "YWxpY2U="); /* "alice" */
    snprintf(line, sizeof line, "%sUGFzc3dvcmQ6\r\n", plus); /* "Password:" */
    p3s_send(s, line);
    p3s_expect(s, "YWxpY2Vwdw=="); /* "alicepw" */
}

/* The server sends `challenge`, the client must cancel with "*", the server
 * answers `refusal`. */
static void script_cancelled_challenge(p3s *s, const char *challenge, const char *refusal)
{
    p3s_send(s, challenge);
    p3s_expect(s, "*");
    p3s_send(s, refusal);
}

/* Attaches, logs in with `mechs` against the script (login: recorder 1) and
 * asserts the script ran as written and the login ended once with `want`. */
static void try_login_ends_with(tu_env *e, unsigned mechs, pop3a_status want, tu_rec *login)
{
    tu_rec conn;
    h_attach_try_login(e, &conn, login, mechs);
    H_SCRIPT_OK(e->srv);
    H_ONCE(*login);
    H_STATUS(*login, want);
}

/* RFC 5034 s4 wants "+ " then base64; "+" glued to the base64 is tolerated. */
START_TEST(sasl_continuation_without_space_is_tolerated)
{
    tu_env e;
    tu_env_init(&e);
    script_auth_login(e.srv, "+"); /* no space after the "+" */
    p3s_send(e.srv, "+OK\r\n");
    tu_rec login;
    try_login_ends_with(&e, POP3A_MECH_LOGIN, POP3A_OK, &login);
    tu_env_free(&e);
}
END_TEST

/* A challenge that is not base64: the client cancels the exchange with "*"
 * (RFC 5034 s4) and, with nothing else to try, the login fails with AUTH. */
START_TEST(sasl_challenge_not_base64_cancels_exchange)
{
    tu_env e;
    tu_env_init(&e);
    sasl_script_start(e.srv, "CRAM-MD5");
    p3s_expect(e.srv, "AUTH CRAM-MD5");
    script_cancelled_challenge(e.srv, "+ !!!not base64!!!\r\n", "-ERR cancelled\r\n");
    tu_rec login;
    try_login_ends_with(&e, POP3A_MECH_CRAM_MD5, POP3A_ERR_AUTH, &login);
    ck_assert_int_eq(e.close_calls, 0);
    tu_env_free(&e);
}
END_TEST

/* A "+ " continuation is only valid inside AUTH; to STAT it is not POP3. */
START_TEST(sasl_continuation_to_plain_command_is_protocol)
{
    tu_env e;
    tu_rec stat;
    h_answer_one_text(&e, "STAT", "+ aGVsbG8=\r\n", h_submit_stat, &stat);
    H_ONCE(stat);
    H_STATUS(stat, POP3A_ERR_PROTOCOL);
    ck_assert_int_eq(e.close_why, POP3A_ERR_PROTOCOL);
    tu_env_free(&e);
}
END_TEST

/* A LOGIN server that keeps challenging: the third challenge is refused
 * ("*"), the login fails, nothing loops. */
START_TEST(sasl_endless_challenges_are_cut_off)
{
    tu_env e;
    tu_env_init(&e);
    script_auth_login(e.srv, "+ ");
    script_cancelled_challenge(e.srv, "+ QWdhaW46\r\n", "-ERR ok then\r\n");
    tu_rec login;
    try_login_ends_with(&e, POP3A_MECH_LOGIN, POP3A_ERR_AUTH, &login);
    tu_env_free(&e);
}
END_TEST

int main(void)
{
    tu_ignore_sigpipe();
    Suite *s = suite_create("hostile_framing");
    TCase *tc = tcase_create("framing");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, bare_lf_everywhere_is_tolerated);
    tcase_add_test(tc, dot_cr_without_lf_is_not_a_terminator);
    tcase_add_test(tc, missing_terminator_then_close_is_eof_without_final);
    tcase_add_test(tc, missing_terminator_then_silence_is_timeout_without_final);
    tcase_add_test(tc, unsolicited_reply_while_idle_closes_with_protocol);
    tcase_add_test(tc, reply_to_unsent_command_in_same_read_is_protocol);
    tcase_add_test(tc, pipelined_replies_in_one_read_are_split_correctly);
    tcase_add_test(tc, junk_after_quit_reply_is_ignored);
    tcase_add_test(tc, err_followed_by_a_body_is_protocol_after_the_error);
    tcase_add_test(tc, pass_accepted_after_user_refused_is_protocol);
    tcase_add_test(tc, stls_reply_with_injected_data_is_refused);
    tcase_add_test(tc, stls_garbage_instead_of_handshake_is_tls_error);
    tcase_add_test(tc, stls_not_offered_is_tls_required);
    tcase_add_test(tc, sasl_continuation_without_space_is_tolerated);
    tcase_add_test(tc, sasl_challenge_not_base64_cancels_exchange);
    tcase_add_test(tc, sasl_continuation_to_plain_command_is_protocol);
    tcase_add_test(tc, sasl_endless_challenges_are_cut_off);
    suite_add_tcase(s, tc);
    return h_run_suite(s);
}
