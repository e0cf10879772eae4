/*
 * TLS against Dovecot: STLS (RFC 2595) and POP3S (RFC 8314) verified with the CA
 * the harness generated; without it, or with the wrong name, the connection is
 * refused before any secret leaves. IPv6 loopback and a host name both work.
 */
#include <stdio.h>
#include <string.h>

#include "itest.h"

#define USER "alice"
#define PASSWORD "alicepw"

/* After a verified connect: log in and prove the session works. */
static void login_and_stat(it_session *s)
{
    ck_assert_int_eq(it_login(s, USER, PASSWORD, 0), POP3A_OK);
    pop3a_future *st = it_run(s, pop3a_stat(s->client, it_done, s));
    IT_ASSERT_STATUS(st, POP3A_OK);
    ck_assert_int_eq(it_quit(s), POP3A_OK);
}

static void assert_verified(it_session *s, const char *what)
{
    ck_assert_msg(pop3a_client_is_tls(s->client) == 1, "%s: not encrypted", what);
    ck_assert_msg(pop3a_client_tls_verify_result(s->client) == 0, "%s: verify result %ld", what,
                  pop3a_client_tls_verify_result(s->client));
}

START_TEST(stls_verified_with_generated_ca)
{
    it_session s;
    it_session_init(&s, NULL, POP3A_TLS_STLS);
    pop3a_status st = it_connect(&s, it_cfg()->host, it_cfg()->port);
    ck_assert_msg(st == POP3A_OK, "connect: %s \"%s\" (%s)", pop3a_status_name(st),
                  pop3a_future_text(s.last), pop3a_client_errstr(s.client));
    assert_verified(&s, "STLS");
    ck_assert_int_eq(it_trace_sent_count(&s.trace, "STLS"), 1);
    login_and_stat(&s);
    it_session_free(&s);
}
END_TEST

START_TEST(pop3s_implicit_verified_with_generated_ca)
{
    it_session s;
    it_session_init(&s, NULL, POP3A_TLS_IMPLICIT);
    pop3a_status st = it_connect(&s, it_cfg()->host, it_cfg()->tls_port);
    ck_assert_msg(st == POP3A_OK, "connect: %s \"%s\" (%s)", pop3a_status_name(st),
                  pop3a_future_text(s.last), pop3a_client_errstr(s.client));
    assert_verified(&s, "POP3S");
    ck_assert_int_eq(it_trace_sent_count(&s.trace, "STLS"), 0);
    login_and_stat(&s);
    it_session_free(&s);
}
END_TEST

typedef struct {
    int done;
    pop3a_status status;
} outcome;

static void on_outcome(pop3a_client *client, pop3a_future *future, void *arg)
{
    outcome *o = arg;
    o->status = pop3a_future_status(future);
    o->done++;
}

/* connect and login submitted together, as an application would: the login
 * must never run when the connection is not the one we asked for. */
static void expect_tls_refusal(it_session *s, uint16_t port, const char *host, const char *what)
{
    it_session_start(s);
    outcome conn = {0, POP3A_OK}, login = {0, POP3A_OK};
    ck_assert(pop3a_connect(s->client, host, port, on_outcome, &conn) != NULL);
    ck_assert(pop3a_login(s->client, USER, PASSWORD, 0, on_outcome, &login) != NULL);
    ck_assert_msg(it_loop_until(s->base, &login.done, IT_WAIT_MS) == 0, "%s: login never done",
                  what);
    ck_assert_int_eq(conn.done, 1);
    ck_assert_msg(conn.status == POP3A_ERR_TLS, "%s: connect gave %s (%s)", what,
                  pop3a_status_name(conn.status), pop3a_client_errstr(s->client));
    ck_assert_msg(login.status != POP3A_OK, "%s: login succeeded", what);
    ck_assert_msg(pop3a_client_tls_verify_result(s->client) != 0, "%s: verified?", what);
    ck_assert_msg(it_trace_sent_count(&s->trace, "USER") == 0 &&
                      it_trace_sent_count(&s->trace, "PASS") == 0 &&
                      it_trace_sent_count(&s->trace, "APOP") == 0 &&
                      it_trace_sent_count(&s->trace, "AUTH") == 0,
                  "%s: a login went out:\n%s", what, it_trace_text(&s->trace));
    printf("%s: connect %s, verify result %ld, login %s (%s)\n", what,
           pop3a_status_name(conn.status), pop3a_client_tls_verify_result(s->client),
           pop3a_status_name(login.status), pop3a_client_errstr(s->client));
}

START_TEST(tls_without_the_ca_is_refused_before_any_login)
{
    /* _i: 0 = STLS, 1 = POP3S. The system trust store does not know our CA. */
    pop3a_tls_mode mode = _i == 0 ? POP3A_TLS_STLS : POP3A_TLS_IMPLICIT;
    it_session s;
    it_session_init(&s, NULL, POP3A_TLS_NONE);
    ck_assert_int_eq(pop3a_options_set_tls(s.opts, mode, NULL), 0);
    expect_tls_refusal(&s, _i == 0 ? it_cfg()->port : it_cfg()->tls_port, it_cfg()->host,
                       _i == 0 ? "STLS without CA" : "POP3S without CA");
    it_session_free(&s);
}
END_TEST

START_TEST(tls_with_the_wrong_name_is_refused_before_any_login)
{
    /* The chain is fine; the name is not one the certificate carries. */
    it_session s;
    it_session_init(&s, NULL, POP3A_TLS_IMPLICIT);
    ck_assert_int_eq(pop3a_options_set_verify_name(s.opts, "pop.example.com"), 0);
    expect_tls_refusal(&s, it_cfg()->tls_port, it_cfg()->host, "POP3S, wrong name");
    it_session_free(&s);
}
END_TEST

START_TEST(ipv6_loopback_connects_verified)
{
    if (!it_cfg()->host6[0]) {
        /* Skipped only where the machine truly has no ::1, not because the
         * harness forgot it. */
        ck_assert_msg(!it_machine_has_ipv6_loopback(),
                      "the machine has an IPv6 loopback but the harness gave no address");
        printf("ipv6_loopback_connects_verified: no IPv6 loopback on this machine, skipped\n");
        return;
    }
    it_session s;
    it_session_init(&s, NULL, POP3A_TLS_STLS);
    pop3a_status st = it_connect(&s, it_cfg()->host6, it_cfg()->port);
    ck_assert_msg(st == POP3A_OK, "connect [%s]: %s (%s)", it_cfg()->host6,
                  pop3a_status_name(st), pop3a_client_errstr(s.client));
    assert_verified(&s, "::1"); /* the certificate's IP:::1 SAN */
    login_and_stat(&s);
    it_session_free(&s);
}
END_TEST

START_TEST(host_name_localhost_connects_verified)
{
    it_session s;
    it_session_init(&s, NULL, POP3A_TLS_IMPLICIT);
    pop3a_status st = it_connect(&s, "localhost", it_cfg()->tls_port);
    ck_assert_msg(st == POP3A_OK, "connect localhost: %s (%s)", pop3a_status_name(st),
                  pop3a_client_errstr(s.client));
    assert_verified(&s, "localhost"); /* the certificate's DNS:localhost SAN */
    login_and_stat(&s);
    it_session_free(&s);
}
END_TEST

Suite *it_suite_tls(void)
{
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("tls");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, stls_verified_with_generated_ca);
    tcase_add_test(tc, pop3s_implicit_verified_with_generated_ca);
    tcase_add_loop_test(tc, tls_without_the_ca_is_refused_before_any_login, 0, 2);
    tcase_add_test(tc, tls_with_the_wrong_name_is_refused_before_any_login);
    suite_add_tcase(s, tc);

    tc = tcase_create("addresses");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, ipv6_loopback_connects_verified);
    tcase_add_test(tc, host_name_localhost_connects_verified);
    suite_add_tcase(s, tc);
    return s;
}
