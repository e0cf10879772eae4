/*
 * Through a real SOCKS5 server (Debian's microsocks) on loopback, in front of
 * the scripted POP3 server: socks5h and socks5, without and with RFC 1929
 * authentication, a wrong password and a missing one refused with clear
 * texts, and implicit TLS through the tunnel.
 */
#include <openssl/ssl.h>

#include "microsocks_run.h"
#include "proxy_test.h"

static char url[160];

static const char *proxy_url(const ms_proxy *p, int remote_dns, const char *auth)
{
    snprintf(url, sizeof url, "socks5%s://%s127.0.0.1:%u", remote_dns ? "h" : "",
             auth ? auth : "", p->port);
    return url;
}

/* Rows: microsocks with or without credentials, the URL's, and the
 * connect's outcome. */
static const struct {
    int remote_dns;
    const char *ms_user, *ms_pass; /* microsocks wants these; NULL: no auth */
    const char *auth;              /* in the URL */
    pop3a_status want;
    const char *want_text; /* in the connect's text when it fails */
} throughs[] = {
    {1, NULL, NULL, NULL, POP3A_OK, NULL},
    {0, NULL, NULL, NULL, POP3A_OK, NULL},
    {1, "pxuser", "pxpass", "pxuser:pxpass@", POP3A_OK, NULL},
    {1, "pxuser", "pxpass", "pxuser:nope@", POP3A_ERR_IO, "refused the user name and password"},
    {1, "pxuser", "pxpass", NULL, POP3A_ERR_IO, "none of our authentication methods"},
};

/* Greeting, CAPA and QUIT through microsocks, or the connect refused. */
START_TEST(pop3_through_microsocks)
{
    ms_proxy p;
    ck_assert_int_eq(ms_start(&p, throughs[_i].ms_user, throughs[_i].ms_pass), 0);
    tu_env e;
    tu_env_init(&e);
    uint16_t port = p3s_listen(e.srv, "127.0.0.1");
    ck_assert_uint_ne(port, 0);
    if (throughs[_i].want == POP3A_OK)
        script_pop3_quit(e.srv);
    tu_rec conn, quit;
    RECS_INIT(NULL, 0, &conn, &quit);
    proxy_connect(&e, proxy_url(&p, throughs[_i].remote_dns, throughs[_i].auth), "127.0.0.1",
                  port, &conn);
    if (throughs[_i].want == POP3A_OK) {
        ck_assert_ptr_nonnull(pop3a_quit(e.client, tu_done, &quit));
        WAIT_DONE_AND_SCRIPT(&e, quit);
        ASSERT_ONCE_OK(conn);
        ASSERT_ONCE_OK(quit);
    } else {
        WAIT_DONE(&e, conn);
        ASSERT_ONCE_STATUS(conn, throughs[_i].want);
        ck_assert_msg(strstr(conn.text, throughs[_i].want_text), "\"%s\", want \"%s\"",
                      conn.text, throughs[_i].want_text);
        ck_assert(!p3s_connected(e.srv)); /* the proxy never reached the target */
    }
    tu_env_free(&e);
    ms_stop(&p);
}
END_TEST

/* Nothing listens on the target port: microsocks says so (REP 5 or 1). */
START_TEST(unreachable_target_is_reported)
{
    ms_proxy p;
    ck_assert_int_eq(ms_start(&p, NULL, NULL), 0);
    tu_env e;
    tu_env_init(&e);
    tu_rec conn;
    RECS_INIT(NULL, 0, &conn);
    proxy_connect(&e, proxy_url(&p, 1, NULL), "127.0.0.1", p.port == 1 ? 2 : 1, &conn);
    WAIT_DONE(&e, conn);
    ASSERT_ONCE_STATUS(conn, POP3A_ERR_IO);
    ck_assert_msg(strstr(conn.text, "SOCKS5 proxy: "), "%s", conn.text);
    tu_env_free(&e);
    ms_stop(&p);
}
END_TEST

START_TEST(implicit_tls_through_microsocks)
{
    ms_proxy p;
    ck_assert_int_eq(ms_start(&p, "pxuser", "pxpass"), 0);
    tu_env e;
    tu_env_init(&e);
    ck_assert_int_eq(pop3a_options_set_tls(e.opts, POP3A_TLS_IMPLICIT, NULL), 0);
    ck_assert_int_eq(pop3a_options_set_ca(e.opts, p3s_cert("ca.pem"), NULL), 0);
    SSL_CTX *ctx = p3s_tls_server_ctx("leaf");
    ck_assert_ptr_nonnull(ctx);
    p3s_tls_implicit(e.srv, ctx);
    SSL_CTX_free(ctx);
    uint16_t port = p3s_listen(e.srv, "127.0.0.1");
    ck_assert_uint_ne(port, 0);
    script_pop3_quit(e.srv);
    tu_rec conn, quit;
    RECS_INIT(NULL, 0, &conn, &quit);
    proxy_connect(&e, proxy_url(&p, 1, "pxuser:pxpass@"), "127.0.0.1", port, &conn);
    WAIT_DONE(&e, conn);
    ASSERT_ONCE_OK(conn);
    ck_assert_int_eq(pop3a_client_is_tls(e.client), 1);
    ck_assert_ptr_nonnull(pop3a_quit(e.client, tu_done, &quit));
    WAIT_DONE_AND_SCRIPT(&e, quit);
    tu_env_free(&e);
    ms_stop(&p);
}
END_TEST

static Suite *proxy_microsocks_suite(void)
{
    Suite *s = suite_create("proxy_microsocks");
    TCase *tc = tcase_create("microsocks");
    tcase_add_loop_test(tc, pop3_through_microsocks, 0, sizeof throughs / sizeof throughs[0]);
    tcase_add_test(tc, unreachable_target_is_reported);
    tcase_add_test(tc, implicit_tls_through_microsocks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite_with_certs(proxy_microsocks_suite, "test_proxy_microsocks");
}
