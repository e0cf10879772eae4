/*
 * Whole sessions against the scripted server: the two sample sessions of RFC 1939
 * (and the NetX Duo POP3 client manual, the seed), a Dovecot-like USER/PASS session,
 * and the result accessors of every single-line and multi-line command.
 */
#include "session_test.h"

/* Bodies as sent (dot-stuffed, RFC 1939 section 3) and as the caller must see them. */
#define MSG1_WIRE                                                                           \
    "From: dewey@example.org\r\nSubject: one\r\n\r\n..leading dot\r\nline two\r\n..\r\n"
#define MSG1 "From: dewey@example.org\r\nSubject: one\r\n\r\n.leading dot\r\nline two\r\n.\r\n"
#define MSG2_WIRE "Subject: two\r\n\r\nHello\r\n...three dots\r\n\r\nend\r\n"
#define MSG2 "Subject: two\r\n\r\nHello\r\n..three dots\r\n\r\nend\r\n"

static void send_message(p3s *s, const char *wire)
{
    char status[64];
    snprintf(status, sizeof status, "+OK %zu octets\r\n", strlen(wire));
    send_multiline(s, status, wire);
}

/* The RETR 1, DELE 1, RETR 2, DELE 2, QUIT tail both RFC samples share. */
static void script_fetch_and_quit(p3s *s, const char *farewell)
{
    p3s_expect(s, "RETR 1");
    send_message(s, MSG1_WIRE);
    p3s_expect(s, "DELE 1");
    p3s_send(s, "+OK message 1 deleted\r\n");
    p3s_expect(s, "RETR 2");
    send_message(s, MSG2_WIRE);
    p3s_expect(s, "DELE 2");
    p3s_send(s, "+OK message 2 deleted\r\n");
    p3s_expect(s, "QUIT");
    p3s_send(s, farewell);
    p3s_expect_eof(s); /* RFC 1939 section 6: the session ends after QUIT */
}

/* All n futures of `order` completed, then the script ran to its end. */
static void wait_all_then_script(tu_env *e, tu_order *order, int n)
{
    WAIT_COUNT(e, &order->n, n);
    WAIT_SCRIPT(e);
    SCRIPT_DONE(e->srv);
}

/* The RFC 1939 samples' maildrop: STAT says 2 messages, 320 octets. */
static void check_stat_2_320(const tu_rec *stat)
{
    ASSERT_OK(*stat);
    ck_assert_uint_eq(stat->stat_count, 2);
    ck_assert_uint_eq(stat->stat_octets, 320);
}

typedef struct {
    tu_rec retr1, dele1, retr2, dele2, quit;
} fetch_recs;

static void submit_fetch_and_quit(tu_env *e, fetch_recs *r, tu_order *order, int first_id)
{
    RECS_INIT(order, first_id, &r->retr1, &r->dele1, &r->retr2, &r->dele2, &r->quit);
    ck_assert_ptr_nonnull(pop3a_retr(e->client, 1, tu_chunk, tu_done, &r->retr1));
    ck_assert_ptr_nonnull(pop3a_dele(e->client, 1, tu_done, &r->dele1));
    ck_assert_ptr_nonnull(pop3a_retr(e->client, 2, tu_chunk, tu_done, &r->retr2));
    ck_assert_ptr_nonnull(pop3a_dele(e->client, 2, tu_done, &r->dele2));
    ck_assert_ptr_nonnull(pop3a_quit(e->client, tu_done, &r->quit));
}

static void check_fetch_and_quit(fetch_recs *r, const char *farewell_text)
{
    tu_rec *all[] = {&r->retr1, &r->dele1, &r->retr2, &r->dele2, &r->quit};
    for (size_t i = 0; i < 5; i++)
        ASSERT_ONCE_OK(*all[i]);
    ASSERT_BODY(r->retr1, MSG1);
    ASSERT_BODY(r->retr2, MSG2);
    ck_assert_uint_eq(r->retr1.msg, 1);
    ck_assert_uint_eq(r->retr2.msg, 2);
    ck_assert_uint_eq(r->retr1.octets, strlen(MSG1));
    ck_assert_uint_eq(r->dele2.msg, 2);
    ck_assert_str_eq(r->dele1.text, "message 1 deleted");
    ck_assert_str_eq(r->quit.text, farewell_text);
    for (size_t i = 0; i < 5; i++)
        tu_rec_clear(all[i]);
}

/* RFC 1939 section 10 / the seed's APOP sample: APOP, STAT, LIST, RETR, DELE, QUIT.
 * The server predates CAPA and answers it -ERR; connect still succeeds. */
START_TEST(rfc1939_apop_sample_session)
{
    tu_env e;
    tu_env_init(&e);
    tu_order order = {0};
    script_rfc_apop(e.srv, "+OK mrose's maildrop has 2 messages (320 octets)\r\n");
    p3s_expect(e.srv, "STAT");
    p3s_send(e.srv, "+OK 2 320\r\n");
    p3s_expect(e.srv, "LIST");
    p3s_send(e.srv, "+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n");
    script_fetch_and_quit(e.srv, "+OK dewey POP3 server signing off (maildrop empty)\r\n");

    tu_rec conn, login, stat, list;
    RECS_INIT(&order, 0, &conn, &login, &stat, &list);
    fetch_recs fr;
    /* The whole session queued at once: the engine sends one command at a time. */
    attach_and_login(&e, &conn, &login, "mrose", "tanstaaf", 0);
    ck_assert_ptr_nonnull(pop3a_stat(e.client, tu_done, &stat));
    ck_assert_ptr_nonnull(pop3a_list(e.client, 0, tu_done, &list));
    submit_fetch_and_quit(&e, &fr, &order, 4);
    /* The timestamp lives as long as the connection: look before QUIT ends it. */
    WAIT_DONE(&e, login);
    ck_assert_str_eq(pop3a_client_apop_timestamp(e.client), "<1896.697170952@dbc.mtview.ca.us>");
    ck_assert_uint_eq(pop3a_capa_flags(pop3a_client_capa(e.client)), 0); /* CAPA got -ERR */
    wait_all_then_script(&e, &order, 9);

    ASSERT_OK(conn);
    ASSERT_OK(login);
    ck_assert_str_eq(login.text, "mrose's maildrop has 2 messages (320 octets)");
    check_stat_2_320(&stat);
    ck_assert_int_eq(stat.stat_rc, 0);
    ASSERT_OK(list);
    ck_assert_uint_eq(list.count, 2);
    ck_assert_uint_eq(list.entry_msg[0], 1);
    ck_assert_uint_eq(list.entry_size[0], 120);
    ck_assert_uint_eq(list.entry_msg[1], 2);
    ck_assert_uint_eq(list.entry_size[1], 200);
    ck_assert_int_eq(list.entry_has_uid[0], 0);
    check_fetch_and_quit(&fr, "dewey POP3 server signing off (maildrop empty)");
    ASSERT_COMPLETED_IN_ORDER(order, 9);
    tu_env_free(&e);
}
END_TEST

/* The seed's USER/PASS sample: the greeting has an APOP timestamp but the caller
 * asks for USER/PASS only. */
START_TEST(rfc1939_user_pass_sample_session)
{
    tu_env e;
    tu_env_init(&e);
    tu_order order = {0};
    tu_script_greeting_capa(e.srv, RFC_GREETING, NULL);
    script_user_pass(e.srv, "mrose", "+OK mrose is valid\r\n", "mvan99",
                     "+OK mrose is logged in\r\n");
    p3s_expect(e.srv, "STAT");
    p3s_send(e.srv, "+OK 2 320\r\n");
    script_fetch_and_quit(e.srv, "+OK POP3 server signing off (maildrop empty)\r\n");

    tu_rec conn, login, stat;
    RECS_INIT(&order, 0, &conn, &login, &stat);
    fetch_recs fr;
    attach_and_login(&e, &conn, &login, "mrose", "mvan99", POP3A_MECH_USER);
    ck_assert_ptr_nonnull(pop3a_stat(e.client, tu_done, &stat));
    submit_fetch_and_quit(&e, &fr, &order, 3);
    wait_all_then_script(&e, &order, 8);
    ASSERT_OK(conn);
    ASSERT_OK(login);
    ck_assert_str_eq(login.text, "mrose is logged in");
    check_stat_2_320(&stat);
    check_fetch_and_quit(&fr, "POP3 server signing off (maildrop empty)");
    ASSERT_COMPLETED_IN_ORDER(order, 8);
    tu_env_free(&e);
}
END_TEST

#define DOVECOT_GREETING "+OK Dovecot lab ready. <2a4d.9.6b07986f.IewrgFl6D85owvG4jbKkPA==@vm>\r\n"
#define DOVECOT_CAPA                                                                        \
    "CAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nSTLS\r\nUSER\r\n"   \
    "SASL PLAIN LOGIN CRAM-MD5 DIGEST-MD5 SCRAM-SHA-1 SCRAM-SHA-256\r\n"

/* Modeled on the Dovecot 2.3 transcript (reference/dovecot-2.3-session-transcript.txt)
 * with TLS off: CAPA at connect, USER and PASS as single commands. */
START_TEST(dovecot_user_pass_session)
{
    tu_env e;
    tu_env_init(&e);
    tu_order order = {0};
    tu_script_greeting_capa(e.srv, DOVECOT_GREETING, DOVECOT_CAPA);
    script_user_pass(e.srv, "alice", "+OK\r\n", "alicepw", "+OK Logged in.\r\n");
    p3s_expect(e.srv, "STAT");
    p3s_send(e.srv, "+OK 59 10693206\r\n");
    p3s_expect(e.srv, "UIDL 1");
    p3s_send(e.srv, "+OK 1 000000016b07986b\r\n");
    p3s_expect(e.srv, "LIST 1");
    p3s_send(e.srv, "+OK 1 2235\r\n");
    p3s_expect(e.srv, "NOOP");
    p3s_send(e.srv, "+OK\r\n");
    p3s_expect(e.srv, "RSET");
    p3s_send(e.srv, "+OK\r\n");
    p3s_expect(e.srv, "QUIT");
    p3s_send(e.srv, "+OK Logging out.\r\n");
    p3s_expect_eof(e.srv);

    tu_rec r[9];
    for (int i = 0; i < 9; i++)
        tu_rec_init(&r[i], i, &order);
    ck_assert_ptr_nonnull(tu_env_attach(&e, &r[0]));
    ck_assert_ptr_nonnull(pop3a_user(e.client, "alice", tu_done, &r[1]));
    ck_assert_ptr_nonnull(pop3a_pass(e.client, "alicepw", tu_done, &r[2]));
    ck_assert_ptr_nonnull(pop3a_stat(e.client, tu_done, &r[3]));
    ck_assert_ptr_nonnull(pop3a_uidl(e.client, 1, tu_done, &r[4]));
    ck_assert_ptr_nonnull(pop3a_list(e.client, 1, tu_done, &r[5]));
    ck_assert_ptr_nonnull(pop3a_noop(e.client, tu_done, &r[6]));
    ck_assert_ptr_nonnull(pop3a_rset(e.client, tu_done, &r[7]));
    ck_assert_ptr_nonnull(pop3a_quit(e.client, tu_done, &r[8]));
    wait_all_then_script(&e, &order, 9);
    for (int i = 0; i < 9; i++)
        ASSERT_ONCE_OK(r[i]);
    ASSERT_COMPLETED_IN_ORDER(order, 9);
    /* CAPA at connect, as the connect future and the client report it. */
    ck_assert_int_eq(r[0].has_capa, 1);
    unsigned want = POP3A_CAPA_TOP | POP3A_CAPA_UIDL | POP3A_CAPA_RESP_CODES |
                    POP3A_CAPA_PIPELINING | POP3A_CAPA_AUTH_RESP_CODE | POP3A_CAPA_STLS |
                    POP3A_CAPA_USER | POP3A_CAPA_SASL;
    ck_assert_uint_eq(r[0].capa_flags & want, want);
    ck_assert_uint_eq(pop3a_capa_flags(pop3a_client_capa(e.client)) & want, want);
    unsigned mechs = POP3A_MECH_PLAIN | POP3A_MECH_LOGIN | POP3A_MECH_CRAM_MD5 |
                     POP3A_MECH_SCRAM_SHA_1 | POP3A_MECH_SCRAM_SHA_256;
    ck_assert_uint_eq(r[0].capa_mechs & mechs, mechs);
    ck_assert_str_eq(r[2].text, "Logged in.");
    ck_assert_uint_eq(r[3].stat_count, 59);
    ck_assert_uint_eq(r[3].stat_octets, 10693206);
    ck_assert_uint_eq(r[4].count, 1);
    ck_assert_uint_eq(r[4].entry_msg[0], 1);
    ck_assert_str_eq(r[4].entry_uid[0], "000000016b07986b");
    ck_assert_uint_eq(r[4].msg, 1);
    ck_assert_uint_eq(r[5].count, 1);
    ck_assert_uint_eq(r[5].entry_msg[0], 1);
    ck_assert_uint_eq(r[5].entry_size[0], 2235);
    ck_assert_str_eq(r[8].text, "Logging out.");
    tu_env_free(&e);
}
END_TEST

/* Multi-line LIST/UIDL (several spaces tolerated, RFC 1939 section 5 allows no more
 * than one but servers send them), TOP, and -ERR on a single command. */
START_TEST(listing_and_top_results)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    tu_order order = {0};
    p3s_expect(e.srv, "LIST");
    p3s_send(e.srv, "+OK 3 messages\r\n1 120\r\n2  4294967296\r\n7 0\r\n.\r\n");
    p3s_expect(e.srv, "UIDL");
    p3s_send(e.srv, "+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2   QhdPYR:00WBw1Ph7x7\r\n.\r\n");
    p3s_expect(e.srv, "TOP 1 0");
    p3s_send(e.srv, "+OK top of message follows\r\nSubject: hi\r\n..hidden\r\n\r\n.\r\n");
    p3s_expect(e.srv, "LIST 9");
    p3s_send(e.srv, "-ERR no such message, only 3 messages in maildrop\r\n");
    p3s_expect(e.srv, "UIDL 2");
    p3s_send(e.srv, "+OK 2 QhdPYR:00WBw1Ph7x7\r\n");
    p3s_expect(e.srv, "LIST");
    p3s_send(e.srv, "+OK 0 messages\r\n.\r\n");

    tu_rec conn, login, list, uidl, top, list9, uidl2, empty;
    RECS_INIT(&order, 0, &conn, &login, &list, &uidl, &top, &list9, &uidl2, &empty);
    session_login(&e, &conn, &login);
    ck_assert_ptr_nonnull(pop3a_list(e.client, 0, tu_done, &list));
    ck_assert_ptr_nonnull(pop3a_uidl(e.client, 0, tu_done, &uidl));
    ck_assert_ptr_nonnull(pop3a_top(e.client, 1, 0, tu_chunk, tu_done, &top));
    ck_assert_ptr_nonnull(pop3a_list(e.client, 9, tu_done, &list9));
    ck_assert_ptr_nonnull(pop3a_uidl(e.client, 2, tu_done, &uidl2));
    ck_assert_ptr_nonnull(pop3a_list(e.client, 0, tu_done, &empty));
    WAIT_COUNT(&e, &order.n, 8);
    SCRIPT_DONE(e.srv);

    ASSERT_OK(list);
    ck_assert_uint_eq(list.count, 3);
    ck_assert_uint_eq(list.entry_msg[1], 2);
    ck_assert_uint_eq(list.entry_size[1], 4294967296ull); /* past 32 bits: uint64 */
    ck_assert_uint_eq(list.entry_msg[2], 7);
    ck_assert_uint_eq(list.entry_size[2], 0);
    ASSERT_OK(uidl);
    ck_assert_uint_eq(uidl.count, 2);
    ck_assert_str_eq(uidl.entry_uid[0], "whqtswO00WBw418f9t5JxYwZ");
    ck_assert_str_eq(uidl.entry_uid[1], "QhdPYR:00WBw1Ph7x7");
    ck_assert_uint_eq(uidl.entry_size[1], 0);
    ASSERT_OK(top);
    ASSERT_BODY(top, "Subject: hi\r\n.hidden\r\n\r\n");
    ASSERT_STATUS(list9, POP3A_ERR_SERVER);
    ck_assert_str_eq(list9.text, "no such message, only 3 messages in maildrop");
    ck_assert_int_eq(list9.resp, POP3A_RESP_NONE);
    ASSERT_OK(uidl2);
    ck_assert_uint_eq(uidl2.count, 1);
    ck_assert_uint_eq(uidl2.entry_msg[0], 2);
    ck_assert_str_eq(uidl2.entry_uid[0], "QhdPYR:00WBw1Ph7x7");
    ASSERT_OK(empty);
    ck_assert_uint_eq(empty.count, 0);
    ASSERT_COMPLETED_IN_ORDER(order, 8);
    /* A STAT accessor on a non-STAT future says so. */
    ck_assert_int_eq(list.stat_rc, -1);
    tu_rec_clear(&top);
    tu_env_free(&e);
}
END_TEST

/* RFC 2449 section 8 / RFC 3206 codes reach the caller as an enum, text intact:
 * one Check test per code (the PASS reply). */
static const struct {
    const char *reply;
    pop3a_resp_code code;
    const char *text;
} resp_cases[] = {
    {"-ERR [IN-USE] maildrop locked\r\n", POP3A_RESP_IN_USE, "maildrop locked"},
    {"-ERR [LOGIN-DELAY] wait 900 s\r\n", POP3A_RESP_LOGIN_DELAY, "wait 900 s"},
    {"-ERR [SYS/TEMP] try later\r\n", POP3A_RESP_SYS_TEMP, "try later"},
    {"-ERR [SYS/PERM] disk gone\r\n", POP3A_RESP_SYS_PERM, "disk gone"},
    {"-ERR [AUTH] bad password\r\n", POP3A_RESP_AUTH, "bad password"},
    {"-ERR [X-FOO/BAR] vendor\r\n", POP3A_RESP_OTHER, "vendor"},
};

START_TEST(resp_codes_exposed)
{
    tu_env e;
    tu_env_init(&e);
    tu_script_greeting_capa(e.srv, PLAIN_GREETING, CAPA_BASIC);
    script_user_pass(e.srv, "alice", "+OK\r\n", "alicepw", resp_cases[_i].reply);
    tu_rec conn, login;
    RECS_INIT(NULL, 0, &conn, &login);
    attach_and_login(&e, &conn, &login, "alice", "alicepw", POP3A_MECH_USER);
    WAIT_DONE(&e, login);
    SCRIPT_DONE(e.srv);
    ASSERT_ONCE_STATUS(login, POP3A_ERR_AUTH);
    ck_assert_msg(login.resp == resp_cases[_i].code, "case %d: resp %d", _i, (int)login.resp);
    ck_assert_msg(strstr(login.text, resp_cases[_i].text) != NULL, "case %d: text \"%s\"", _i,
                  login.text);
    tu_env_free(&e);
}
END_TEST

/* A resp code on a transaction command; the session goes on after that -ERR. */
START_TEST(resp_code_on_retr_and_ok)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    p3s_expect(e.srv, "RETR 1");
    p3s_send(e.srv, "-ERR [SYS/TEMP] storage unavailable\r\n");
    p3s_expect(e.srv, "NOOP");
    p3s_send(e.srv, "+OK fine\r\n");
    tu_rec retr, noop;
    RECS_INIT(NULL, 2, &retr, &noop);
    session_logged_in(&e);
    ck_assert_ptr_nonnull(pop3a_retr(e.client, 1, tu_chunk, tu_done, &retr));
    ck_assert_ptr_nonnull(pop3a_noop(e.client, tu_done, &noop));
    WAIT_DONE(&e, noop);
    SCRIPT_DONE(e.srv);
    ASSERT_STATUS(retr, POP3A_ERR_SERVER);
    ck_assert_int_eq(retr.resp, POP3A_RESP_SYS_TEMP);
    ck_assert_ptr_nonnull(strstr(retr.text, "storage unavailable"));
    ck_assert_int_eq(retr.chunk_calls, 0);
    ASSERT_OK(noop);
    ck_assert_int_eq(noop.resp, POP3A_RESP_NONE);
    tu_env_free(&e);
}
END_TEST

/* pop3a_capa_refresh re-reads capabilities in the transaction state. */
START_TEST(capa_command_result)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    p3s_expect(e.srv, "CAPA");
    p3s_send(e.srv, "+OK\r\nTOP\r\nEXPIRE 31 USER\r\nLOGIN-DELAY 900\r\n"
                    "IMPLEMENTATION Shlemazle-Plotz-v302\r\n.\r\n");
    tu_rec capa;
    tu_rec_init(&capa, 2, NULL);
    session_logged_in(&e);
    pop3a_future *f = pop3a_capa_refresh(e.client, tu_done, &capa);
    ck_assert_ptr_nonnull(f);
    pop3a_future_ref(f);
    WAIT_DONE(&e, capa);
    SCRIPT_DONE(e.srv);
    ASSERT_OK(capa);
    ck_assert_int_eq(capa.has_capa, 1);
    ck_assert_uint_eq(capa.capa_flags & (POP3A_CAPA_TOP | POP3A_CAPA_EXPIRE |
                                         POP3A_CAPA_LOGIN_DELAY | POP3A_CAPA_IMPLEMENTATION),
                      POP3A_CAPA_TOP | POP3A_CAPA_EXPIRE | POP3A_CAPA_LOGIN_DELAY |
                          POP3A_CAPA_IMPLEMENTATION);
    /* The reference keeps the results readable after the done callback. */
    const pop3a_capa *c = pop3a_future_capa(f);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(pop3a_capa_login_delay(c), 900);
    ck_assert_int_eq(pop3a_capa_expire(c), 31);
    ck_assert_str_eq(pop3a_capa_implementation(c), "Shlemazle-Plotz-v302");
    ck_assert_ptr_null(pop3a_future_client(f));
    pop3a_future_unref(f);
    tu_env_free(&e);
}
END_TEST

static Suite *basic_suite(void)
{
    Suite *s = suite_create("session_basic");
    TCase *tc = tcase_create("sessions");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, rfc1939_apop_sample_session);
    tcase_add_test(tc, rfc1939_user_pass_sample_session);
    tcase_add_test(tc, dovecot_user_pass_session);
    tcase_add_test(tc, listing_and_top_results);
    tcase_add_loop_test(tc, resp_codes_exposed, 0,
                        (int)(sizeof resp_cases / sizeof resp_cases[0]));
    tcase_add_test(tc, resp_code_on_retr_and_ok);
    tcase_add_test(tc, capa_command_result);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(basic_suite());
}
