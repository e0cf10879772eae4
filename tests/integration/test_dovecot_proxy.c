/*
 * Through a real SOCKS5 server (Debian's microsocks, started here on
 * loopback) to Dovecot: socks5h and socks5, without and with RFC 1929
 * authentication, STLS and implicit TLS over the tunnel verified against the
 * target's name, and a wrong proxy password refused before any POP3 byte.
 */
#include <stdio.h>
#include <string.h>

#include "itest.h"
#include "microsocks_run.h"

#define USER "alice"
#define PASSWORD "alicepw"

typedef struct {
    int remote_dns;
    int auth;
    pop3a_tls_mode mode;
    const char *target; /* the name TLS is checked against */
} route;

static const route routes[] = {
    {1, 0, POP3A_TLS_STLS, "localhost"},
    {1, 1, POP3A_TLS_IMPLICIT, "localhost"},
    {0, 1, POP3A_TLS_STLS, "127.0.0.1"},
    {0, 0, POP3A_TLS_IMPLICIT, "localhost"},
};

START_TEST(login_and_stat_through_microsocks)
{
    const route *r = &routes[_i];
    ms_proxy p;
    ck_assert_int_eq(ms_start(&p, r->auth ? "pxuser" : NULL, "pxpass"), 0);
    char url[96];
    snprintf(url, sizeof url, "socks5%s://%s127.0.0.1:%u", r->remote_dns ? "h" : "",
             r->auth ? "pxuser:pxpass@" : "", p.port);
    it_session s;
    it_session_init(&s, NULL, r->mode);
    ck_assert_int_eq(pop3a_options_set_proxy(s.opts, url), 0);
    uint16_t port = r->mode == POP3A_TLS_IMPLICIT ? it_cfg()->tls_port : it_cfg()->port;
    pop3a_status st = it_connect(&s, r->target, port);
    ck_assert_msg(st == POP3A_OK, "case %d: connect: %s \"%s\"", _i, pop3a_status_name(st),
                  pop3a_future_text(s.last));
    ck_assert_int_eq(pop3a_client_is_tls(s.client), 1);
    ck_assert_int_eq(pop3a_client_tls_verify_result(s.client), 0);
    ck_assert(it_trace_has(&s.trace, "SOCKS5 proxy: tunnel to the target is up"));
    ck_assert_int_eq(it_login(&s, USER, PASSWORD, 0), POP3A_OK);
    pop3a_future *stat = it_run(&s, pop3a_stat(s.client, it_done, &s));
    IT_ASSERT_STATUS(stat, POP3A_OK);
    ck_assert_int_eq(it_quit(&s), POP3A_OK);
    ck_assert(!it_trace_has(&s.trace, "pxpass"));
    it_session_free(&s);
    ms_stop(&p);
}
END_TEST

START_TEST(wrong_proxy_password_is_refused)
{
    ms_proxy p;
    ck_assert_int_eq(ms_start(&p, "pxuser", "pxpass"), 0);
    char url[96];
    snprintf(url, sizeof url, "socks5h://pxuser:wrong@127.0.0.1:%u", p.port);
    it_session s;
    it_session_init(&s, NULL, POP3A_TLS_IMPLICIT);
    ck_assert_int_eq(pop3a_options_set_proxy(s.opts, url), 0);
    pop3a_status st = it_connect(&s, "localhost", it_cfg()->tls_port);
    ck_assert_int_eq(st, POP3A_ERR_IO);
    ck_assert_msg(strstr(pop3a_future_text(s.last), "refused the user name and password"),
                  "%s", pop3a_future_text(s.last));
    it_session_free(&s);
    ms_stop(&p);
}
END_TEST

Suite *it_suite_proxy(void)
{
    Suite *s = suite_create("proxy");
    TCase *tc = tcase_create("microsocks");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, login_and_stat_through_microsocks, 0,
                        (int)(sizeof routes / sizeof routes[0]));
    tcase_add_test(tc, wrong_proxy_password_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
