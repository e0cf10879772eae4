/*
 * Authorization state: the APOP -> USER/PASS fallback, refusals as failures, the
 * cleartext policy, trace redaction and argument injection.
 */
#include "session_test.h"

/* Greeting and CAPA_BASIC, then "USER alice" answered +OK and "PASS pass"
 * answered with `pass_reply`. */
static void script_alice_pass(p3s *s, const char *pass, const char *pass_reply)
{
    tu_script_greeting_capa(s, PLAIN_GREETING, CAPA_BASIC);
    script_user_pass(s, "alice", "+OK\r\n", pass, pass_reply);
}

/* The RFC 1939 sample server refusing APOP and accepting USER/PASS for mrose,
 * PASS answered with `pass_reply`. */
static void script_apop_refused_then_user_pass(p3s *s, const char *pass_reply)
{
    script_rfc_apop(s, "-ERR permission denied\r\n");
    script_user_pass(s, "mrose", "+OK\r\n", "tanstaaf", pass_reply);
}

/* A login future that failed with AUTH, with that resp code and words. */
#define ASSERT_AUTH_FAILED(rec, want_resp, want_words)                                      \
    do {                                                                                    \
        ASSERT_ONCE_STATUS(rec, POP3A_ERR_AUTH);                                            \
        ck_assert_int_eq((rec).resp, (want_resp));                                          \
        ck_assert_ptr_nonnull(strstr((rec).text, (want_words)));                            \
    } while (0)

/* RFC 1939 section 7: APOP refused, the login op falls back to USER/PASS. */
START_TEST(apop_refused_falls_back_to_user_pass)
{
    tu_env e;
    tu_env_init(&e);
    script_apop_refused_then_user_pass(e.srv, "+OK maildrop ready\r\n");
    p3s_expect(e.srv, "STAT");
    p3s_send(e.srv, "+OK 0 0\r\n");
    tu_rec conn, login, stat;
    RECS_INIT(NULL, 0, &conn, &login, &stat);
    attach_and_login(&e, &conn, &login, "mrose", "tanstaaf", 0);
    ck_assert_ptr_nonnull(pop3a_stat(e.client, tu_done, &stat));
    WAIT_DONE(&e, stat);
    SCRIPT_DONE(e.srv);
    ASSERT_ONCE_OK(login);
    ck_assert_str_eq(login.text, "maildrop ready");
    ASSERT_OK(stat);
    ck_assert_uint_eq(stat.stat_count, 0);
    tu_env_free(&e);
}
END_TEST

/* Without cleartext permission nothing but APOP is safe, so its refusal ends the
 * login: AUTH with the server's words, and USER is never sent. */
START_TEST(apop_refused_without_cleartext_fails_auth)
{
    tu_env e;
    tu_env_init(&e);
    pop3a_options_allow_cleartext(e.opts, 0);
    script_rfc_apop(e.srv, "-ERR [AUTH] permission denied\r\n");
    p3s_expect_silence(e.srv, 150);
    tu_rec conn, login;
    RECS_INIT(NULL, 0, &conn, &login);
    attach_and_login(&e, &conn, &login, "mrose", "tanstaaf", 0);
    WAIT_DONE(&e, login);
    WAIT_SCRIPT(&e);
    SCRIPT_DONE(e.srv);
    ASSERT_AUTH_FAILED(login, POP3A_RESP_AUTH, "permission denied");
    tu_env_free(&e);
}
END_TEST

/* -ERR on PASS is a failed login (the seed's client reports success here), and
 * the session stays in the AUTHORIZATION state: STAT is refused locally. */
START_TEST(pass_refused_is_auth_failure)
{
    tu_env e;
    tu_env_init(&e);
    script_alice_pass(e.srv, "alicepw", "-ERR [AUTH] Authentication failed.\r\n");
    p3s_expect_silence(e.srv, 150);
    tu_rec conn, login, stat;
    RECS_INIT(NULL, 0, &conn, &login, &stat);
    attach_and_login(&e, &conn, &login, "alice", "alicepw", POP3A_MECH_USER);
    ck_assert_ptr_nonnull(pop3a_stat(e.client, tu_done, &stat));
    WAIT_DONE(&e, stat);
    WAIT_SCRIPT(&e);
    SCRIPT_DONE(e.srv);
    ASSERT_AUTH_FAILED(login, POP3A_RESP_AUTH, "Authentication failed.");
    ASSERT_ONCE_STATUS(stat, POP3A_ERR_STATE);
    tu_env_free(&e);
}
END_TEST

/* USER refused: PASS must not follow (no PIPELINING advertised). */
START_TEST(user_refused_sends_no_pass)
{
    tu_env e;
    tu_env_init(&e);
    tu_script_greeting_capa(e.srv, PLAIN_GREETING, CAPA_BASIC);
    p3s_expect(e.srv, "USER alice");
    p3s_send(e.srv, "-ERR [SYS/TEMP] no such mailbox right now\r\n");
    p3s_expect_silence(e.srv, 150);
    tu_rec conn, login;
    RECS_INIT(NULL, 0, &conn, &login);
    attach_and_login(&e, &conn, &login, "alice", "alicepw", POP3A_MECH_USER);
    WAIT_DONE(&e, login);
    WAIT_SCRIPT(&e);
    SCRIPT_DONE(e.srv);
    ASSERT_STATUS(login, POP3A_ERR_AUTH);
    ck_assert_int_eq(login.resp, POP3A_RESP_SYS_TEMP);
    tu_env_free(&e);
}
END_TEST

/* With PIPELINING before login, PASS goes right behind USER (one round trip
 * less); with the window at 1 ("pipelining off") it waits for USER's reply
 * like everything else. _i: 0 default window, 1 window 1. */
START_TEST(user_pass_pipelined_only_when_pipelining_is_on)
{
    int off = _i;
    tu_env e;
    tu_env_init(&e);
    if (off)
        ck_assert_int_eq(pop3a_options_set_pipelining(e.opts, 1), 0);
    tu_script_greeting_capa(e.srv, PLAIN_GREETING, CAPA_PIPELINING);
    p3s_expect(e.srv, "USER alice");
    if (off) {
        p3s_expect_silence(e.srv, 100);
        p3s_send(e.srv, "+OK\r\n");
        p3s_expect(e.srv, "PASS alicepw");
        p3s_send(e.srv, "+OK Logged in.\r\n");
    } else { /* both replies in one write, after both commands came in */
        p3s_expect(e.srv, "PASS alicepw");
        p3s_send(e.srv, "+OK\r\n+OK Logged in.\r\n");
    }
    session_logged_in(&e);
    SCRIPT_DONE(e.srv);
    tu_env_free(&e);
}
END_TEST

/* The single PASS command: -ERR is POP3A_ERR_SERVER, not success. */
START_TEST(pass_command_err_is_server_error)
{
    tu_env e;
    tu_env_init(&e);
    script_alice_pass(e.srv, "wrong", "-ERR [AUTH] invalid password\r\n");
    tu_rec conn, user, pass, stat;
    RECS_INIT(NULL, 0, &conn, &user, &pass, &stat);
    ck_assert_ptr_nonnull(tu_env_attach(&e, &conn));
    ck_assert_ptr_nonnull(pop3a_user(e.client, "alice", tu_done, &user));
    ck_assert_ptr_nonnull(pop3a_pass(e.client, "wrong", tu_done, &pass));
    ck_assert_ptr_nonnull(pop3a_stat(e.client, tu_done, &stat));
    WAIT_DONE(&e, stat);
    SCRIPT_DONE(e.srv);
    ASSERT_OK(user);
    ASSERT_STATUS(pass, POP3A_ERR_SERVER);
    ck_assert_int_eq(pass.resp, POP3A_RESP_AUTH);
    ck_assert_ptr_nonnull(strstr(pass.text, "invalid password"));
    ASSERT_STATUS(stat, POP3A_ERR_STATE);
    ck_assert_uint_eq(p3s_bytes_unread(e.srv), 0); /* STAT never went out */
    tu_env_free(&e);
}
END_TEST

/* The single APOP command: the RFC 1939 digest, and +OK enters TRANSACTION. */
START_TEST(apop_command_enters_transaction)
{
    tu_env e;
    tu_env_init(&e);
    pop3a_options_allow_cleartext(e.opts, 0); /* APOP sends no password */
    script_rfc_apop(e.srv, "+OK maildrop has 1 message\r\n");
    p3s_expect(e.srv, "STAT");
    p3s_send(e.srv, "+OK 1 120\r\n");
    tu_rec conn, apop, stat;
    RECS_INIT(NULL, 0, &conn, &apop, &stat);
    ck_assert_ptr_nonnull(tu_env_attach(&e, &conn));
    ck_assert_ptr_nonnull(pop3a_apop(e.client, "mrose", "tanstaaf", tu_done, &apop));
    ck_assert_ptr_nonnull(pop3a_stat(e.client, tu_done, &stat));
    WAIT_DONE(&e, stat);
    SCRIPT_DONE(e.srv);
    ASSERT_OK(apop);
    ASSERT_OK(stat);
    ck_assert_uint_eq(stat.stat_count, 1);
    tu_env_free(&e);
}
END_TEST

/* No TLS and no pop3a_options_allow_cleartext: the password is never sent. */
START_TEST(cleartext_refused_without_permission)
{
    tu_env e;
    tu_env_init(&e);
    pop3a_options_allow_cleartext(e.opts, 0);
    tu_script_greeting_capa(e.srv, PLAIN_GREETING, CAPA_BASIC);
    p3s_expect_silence(e.srv, 150);
    tu_rec conn, login_user, login_any, pass;
    RECS_INIT(NULL, 0, &conn, &login_user, &login_any, &pass);
    attach_and_login(&e, &conn, &login_user, "alice", "alicepw", POP3A_MECH_USER);
    /* No APOP timestamp, no SASL: every mechanism left would be cleartext. */
    ck_assert_ptr_nonnull(pop3a_login(e.client, "alice", "alicepw", 0, tu_done, &login_any));
    ck_assert_ptr_nonnull(pop3a_pass(e.client, "alicepw", tu_done, &pass));
    WAIT_DONE(&e, pass);
    WAIT_SCRIPT(&e);
    SCRIPT_DONE(e.srv);
    ASSERT_ONCE_STATUS(login_user, POP3A_ERR_CLEARTEXT);
    ASSERT_STATUS(login_any, POP3A_ERR_CLEARTEXT);
    ASSERT_STATUS(pass, POP3A_ERR_CLEARTEXT);
    ck_assert_uint_eq(p3s_bytes_received(e.srv), strlen("CAPA\r\n"));
    tu_env_free(&e);
}
END_TEST

/* A greeting "timestamp" without the <...@...> form is not used for APOP. */
START_TEST(apop_needs_a_wellformed_timestamp)
{
    tu_env e;
    tu_env_init(&e);
    tu_script_greeting_capa(e.srv, "+OK ready <1896.697170952>\r\n", NULL);
    script_user_pass(e.srv, "mrose", "+OK\r\n", "tanstaaf", "+OK\r\n");
    tu_rec conn, login;
    RECS_INIT(NULL, 0, &conn, &login);
    attach_and_login(&e, &conn, &login, "mrose", "tanstaaf", 0);
    WAIT_DONE(&e, login);
    SCRIPT_DONE(e.srv);
    ASSERT_OK(login);
    ck_assert_ptr_null(pop3a_client_apop_timestamp(e.client));
    tu_env_free(&e);
}
END_TEST

/* The trace shows PASS **** and the APOP line without its secret parts, and the
 * password never appears anywhere in it. */
START_TEST(trace_redacts_secrets)
{
    tu_env e;
    tu_env_init(&e);
    tu_trace tr = {0};
    pop3a_options_set_trace(e.opts, tu_trace_cb, &tr);
    script_apop_refused_then_user_pass(e.srv, "+OK Logged in.\r\n");
    tu_rec conn, login;
    RECS_INIT(NULL, 0, &conn, &login);
    attach_and_login(&e, &conn, &login, "mrose", "tanstaaf", 0);
    WAIT_DONE(&e, login);
    SCRIPT_DONE(e.srv);
    ASSERT_OK(login);
    static const char *const traced[] = {"> PASS ****\n", "> USER mrose\n", "> CAPA\n",
                                         "< +OK Logged in.\n", "> APOP mrose"};
    for (size_t i = 0; i < sizeof traced / sizeof traced[0]; i++)
        ck_assert_msg(tu_trace_has(&tr, traced[i]), "no \"%s\" in trace:\n%s", traced[i], tr.log);
    ck_assert_msg(!tu_trace_has(&tr, "tanstaaf"), "password in trace:\n%s", tr.log);
    ck_assert_msg(!tu_trace_has(&tr, "c4c9334bac560ecc979e58001b3e22fb"),
                  "APOP digest in trace:\n%s", tr.log);
    ck_assert_int_ge(tr.sent, 4);
    tu_trace_clear(&tr);
    tu_env_free(&e);
}
END_TEST

/* CR, LF in a string and message number 0: NULL, POP3A_ERR_INVALID, no callback,
 * nothing sent; the session is still usable afterwards. */
START_TEST(injection_refused)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    tu_rec conn, bad, login;
    RECS_INIT(NULL, 0, &conn, &bad, &login);
    ck_assert_ptr_nonnull(tu_env_attach(&e, &conn));
    WAIT_DONE(&e, conn);
    pop3a_client *c = e.client;
    struct {
        const char *what;
        pop3a_future *f;
    } tries[] = {
        {"login user CRLF", pop3a_login(c, "alice\r\nDELE 1", "pw", 0, tu_done, &bad)},
        {"login secret LF", pop3a_login(c, "alice", "pw\nDELE 1", 0, tu_done, &bad)},
        {"login secret CR", pop3a_login(c, "alice", "pw\rx", POP3A_MECH_USER, tu_done, &bad)},
        {"login user NULL", pop3a_login(c, NULL, "pw", 0, tu_done, &bad)},
        {"user LF", pop3a_user(c, "a\nb", tu_done, &bad)},
        {"pass CR", pop3a_pass(c, "p\rq", tu_done, &bad)},
        {"apop user CR", pop3a_apop(c, "u\r", "s", tu_done, &bad)},
        {"retr 0", pop3a_retr(c, 0, tu_chunk, tu_done, &bad)},
        {"dele 0", pop3a_dele(c, 0, tu_done, &bad)},
        {"top 0", pop3a_top(c, 0, 5, tu_chunk, tu_done, &bad)},
    };
    for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
        ck_assert_msg(tries[i].f == NULL, "%s: accepted", tries[i].what);
    }
    /* Each NULL left its reason; check the last one and one of each kind again. */
    ck_assert_ptr_null(pop3a_retr(c, 0, tu_chunk, tu_done, &bad));
    ck_assert_int_eq(pop3a_client_error(c), POP3A_ERR_INVALID);
    ck_assert_ptr_null(pop3a_user(c, "x\r\nQUIT", tu_done, &bad));
    ck_assert_int_eq(pop3a_client_error(c), POP3A_ERR_INVALID);
    run_for(e.base, 50);
    ck_assert_int_eq(bad.done_calls, 0);
    ck_assert_int_eq(bad.chunk_calls, 0);
    ck_assert_uint_eq(p3s_bytes_received(e.srv), strlen("CAPA\r\n"));
    /* Still usable. */
    ck_assert_ptr_nonnull(
        pop3a_login(c, "alice", "alicepw", POP3A_MECH_USER, tu_done, &login));
    WAIT_DONE(&e, login);
    SCRIPT_DONE(e.srv);
    ASSERT_OK(login);
    ck_assert_int_eq(bad.done_calls, 0);
    tu_env_free(&e);
}
END_TEST

/* RFC 1939: USER and PASS belong to the AUTHORIZATION state only. */
START_TEST(auth_commands_refused_after_login)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    p3s_expect_silence(e.srv, 100);
    tu_rec user, again;
    RECS_INIT(NULL, 2, &user, &again);
    session_logged_in(&e);
    ck_assert_ptr_nonnull(pop3a_user(e.client, "bob", tu_done, &user));
    ck_assert_ptr_nonnull(pop3a_login(e.client, "bob", "pw", 0, tu_done, &again));
    WAIT_DONE(&e, again);
    WAIT_SCRIPT(&e);
    SCRIPT_DONE(e.srv);
    ASSERT_STATUS(user, POP3A_ERR_STATE);
    ASSERT_STATUS(again, POP3A_ERR_STATE);
    tu_env_free(&e);
}
END_TEST

/* A password too long for a PASS line (RFC 2449 s4: 255 octets with CRLF) rules
 * USER/PASS out before USER is sent: sending USER alone would leave its reply
 * owed to a login that already ended. A user name too long for USER is a
 * refusal of the mechanism too, not a lost connection. Either way nothing is
 * sent and the session stays usable. _i: 0 long password with PIPELINING (PASS
 * would go right behind USER), 1 without, 2 long user name. */
START_TEST(credentials_too_long_for_user_pass_send_nothing)
{
    char lng[252];
    memset(lng, 'p', sizeof lng - 1);
    lng[sizeof lng - 1] = '\0';
    tu_env e;
    tu_env_init(&e);
    tu_script_greeting_capa(e.srv, PLAIN_GREETING, _i == 1 ? CAPA_BASIC : CAPA_PIPELINING);
    p3s_expect_silence(e.srv, 100);
    p3s_expect(e.srv, "QUIT");
    p3s_send(e.srv, "+OK bye\r\n");
    tu_rec conn, login, quit;
    RECS_INIT(NULL, 0, &conn, &login, &quit);
    attach_and_login(&e, &conn, &login, _i == 2 ? lng : "alice", _i == 2 ? "alicepw" : lng,
                     POP3A_MECH_USER);
    WAIT_DONE(&e, login);
    ASSERT_ONCE_STATUS(login, POP3A_ERR_AUTH);
    run_for(e.base, 150);
    ck_assert_ptr_nonnull(pop3a_quit(e.client, tu_done, &quit));
    WAIT_DONE_AND_SCRIPT(&e, quit);
    ASSERT_ONCE_OK(quit);
    tu_env_free(&e);
}
END_TEST

/* Cancels `victim` from the trace callback as USER's reply is read: the
 * cancel lands while the login op handles that very reply. */
typedef struct {
    pop3a_future *victim;
    int user_sent;
    int pass_sent; /* even queued to the transport that is then freed unsent */
} cancel_at_reply;

static void cancel_on_user_reply(pop3a_client *client, pop3a_trace_dir dir, const char *line,
                                 size_t len, void *arg)
{
    cancel_at_reply *x = arg;
    if (dir == POP3A_TRACE_SENT && len >= 5 && memcmp(line, "USER ", 5) == 0)
        x->user_sent = 1;
    else if (dir == POP3A_TRACE_SENT && len >= 4 && memcmp(line, "PASS", 4) == 0)
        x->pass_sent = 1;
    else if (dir == POP3A_TRACE_RECEIVED && x->user_sent && x->victim)
        pop3a_future_cancel(x->victim);
}

/* Cancelling a login in progress: USER (_i 0) or AUTH LOGIN (_i 1) is out and
 * its reply comes after the cancel (_i 2: USER's reply is being read when the
 * cancel comes, from the trace callback). Nothing more is sent (no PASS, no SASL
 * response: the script wants EOF next), the connection is dropped, the login
 * completes CANCELLED, what was queued behind it CLOSED, and the session is
 * disconnected (a STAT afterwards is refused with STATE). */
START_TEST(cancelled_login_sends_no_secret_and_disconnects)
{
    tu_env e;
    tu_env_init(&e);
    cancel_at_reply at_reply = {NULL, 0, 0};
    if (_i == 2)
        ck_assert_int_eq(pop3a_options_set_trace(e.opts, cancel_on_user_reply, &at_reply), 0);
    tu_script_greeting_capa(e.srv, PLAIN_GREETING, "USER\r\nSASL LOGIN\r\n");
    p3s_expect(e.srv, _i != 1 ? "USER alice" : "AUTH LOGIN");
    p3s_delay(e.srv, 100);
    p3s_send(e.srv, _i != 1 ? "+OK\r\n" : "+ VXNlcm5hbWU6\r\n");
    p3s_expect_eof(e.srv);
    tu_rec conn, login, stat, after;
    RECS_INIT(NULL, 0, &conn, &login, &stat, &after);
    ck_assert_ptr_nonnull(tu_env_attach(&e, &conn));
    pop3a_future *f = pop3a_login(e.client, "alice", "alicepw",
                                  _i != 1 ? POP3A_MECH_USER : POP3A_MECH_LOGIN, tu_done, &login);
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(pop3a_stat(e.client, tu_done, &stat));
    if (_i == 2) {
        at_reply.victim = f;
    } else {
        for (int waited = 0; waited < (int)WAIT_MS && p3s_lines_received(e.srv) < 2; waited += 5)
            run_for(e.base, 5);
        ck_assert_uint_eq(p3s_lines_received(e.srv), 2); /* CAPA, then USER or AUTH */
        pop3a_future_cancel(f);
    }
    WAIT_DONE(&e, stat);
    WAIT_SCRIPT(&e);
    SCRIPT_DONE(e.srv);
    ASSERT_ONCE_OK(conn);
    ASSERT_ONCE_STATUS(login, POP3A_ERR_CANCELLED);
    ASSERT_ONCE_STATUS(stat, POP3A_ERR_CLOSED);
    ck_assert_int_eq(e.close_calls, 1);
    ck_assert_int_eq(e.close_why, POP3A_ERR_CLOSED);
    ck_assert_ptr_nonnull(pop3a_stat(e.client, tu_done, &after));
    WAIT_DONE(&e, after);
    ASSERT_ONCE_STATUS(after, POP3A_ERR_STATE);
    ck_assert_int_eq(at_reply.pass_sent, 0);
    tu_env_free(&e);
}
END_TEST

static Suite *login_suite(void)
{
    Suite *s = suite_create("session_login");
    TCase *tc = tcase_create("authorization");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, apop_refused_falls_back_to_user_pass);
    tcase_add_test(tc, apop_refused_without_cleartext_fails_auth);
    tcase_add_test(tc, pass_refused_is_auth_failure);
    tcase_add_test(tc, user_refused_sends_no_pass);
    tcase_add_loop_test(tc, user_pass_pipelined_only_when_pipelining_is_on, 0, 2);
    tcase_add_test(tc, pass_command_err_is_server_error);
    tcase_add_test(tc, apop_command_enters_transaction);
    tcase_add_test(tc, cleartext_refused_without_permission);
    tcase_add_test(tc, apop_needs_a_wellformed_timestamp);
    tcase_add_test(tc, trace_redacts_secrets);
    tcase_add_test(tc, injection_refused);
    tcase_add_test(tc, auth_commands_refused_after_login);
    tcase_add_loop_test(tc, credentials_too_long_for_user_pass_send_nothing, 0, 3);
    tcase_add_loop_test(tc, cancelled_login_sends_no_secret_and_disconnects, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(login_suite());
}
