/*
 * SOCKS5 (RFC 1928, RFC 1929) against the scripted server playing the proxy:
 * the request bytes exact, the target's name (socks5h) or address (socks5)
 * sent, then POP3 through the tunnel; and every hostile or refusing reply
 * failing the connect with a clear text, within the connect timeout.
 */
#include <openssl/ssl.h>

#include "proxy_test.h"

#define V4_REPLY "\x05\x00\x00\x01\x7f\x00\x00\x01\x04\x38"
#define REPLY_LEN 10
/* CONNECT mail.example:110 by name (ATYP 3). */
#define CONNECT_MAIL "\x05\x01\x00\x03\x0c" "mail.example" "\x00\x6e"
#define CONNECT_MAIL_LEN 19

static char url[128];

/* A listening scripted proxy; the URL to reach it (with `auth`, "user:pass@"). */
static const char *listen_proxy(tu_env *e, int remote_dns, const char *auth)
{
    uint16_t port = p3s_listen(e->srv, "127.0.0.1");
    ck_assert_uint_ne(port, 0);
    snprintf(url, sizeof url, "socks5%s://%s127.0.0.1:%u", remote_dns ? "h" : "",
             auth ? auth : "", port);
    return url;
}

static void expect_no_auth_offer(p3s *s)
{
    p3s_expect_bytes(s, "\x05\x01\x00", 3);
}

/* The POP3 part after a CONNECT reply that carried the greeting: CAPA, QUIT. */
static void script_capa_quit(p3s *s)
{
    p3s_expect(s, "CAPA");
    p3s_send(s, "+OK\r\n" CAPA_BASIC ".\r\n");
    p3s_expect(s, "QUIT");
    p3s_send(s, "+OK bye\r\n");
    p3s_expect_eof(s);
}

/* Connects through the proxy at u to mail.example:110: the connect fails
 * with `want` and a text holding `text` and `more` (unless NULL). */
static void connect_fails(tu_env *e, const char *u, pop3a_status want, const char *text,
                          const char *more)
{
    tu_rec conn;
    RECS_INIT(NULL, 0, &conn);
    proxy_connect(e, u, "mail.example", 110, &conn);
    WAIT_DONE(e, conn);
    ASSERT_ONCE_STATUS(conn, want);
    ck_assert_msg(strstr(conn.text, text) && (!more || strstr(conn.text, more)),
                  "\"%s\", want \"%s\" and \"%s\"", conn.text, text, more ? more : "");
}

/* Connects through the proxy at u to target:110 and quits: both OK, and the
 * script ran to its end. */
static void connect_and_quit(tu_env *e, const char *u, const char *target)
{
    tu_rec conn, quit;
    RECS_INIT(NULL, 0, &conn, &quit);
    proxy_connect(e, u, target, 110, &conn);
    ck_assert_ptr_nonnull(pop3a_quit(e->client, tu_done, &quit));
    WAIT_DONE_AND_SCRIPT(e, quit);
    ASSERT_ONCE_OK(conn);
    ASSERT_ONCE_OK(quit);
}

START_TEST(socks5h_sends_the_name_and_pop3_runs_through)
{
    tu_env e;
    tu_env_init(&e);
    tu_trace tr = {0};
    pop3a_options_set_trace(e.opts, tu_trace_cb, &tr);
    const char *u = listen_proxy(&e, 1, NULL);
    expect_no_auth_offer(e.srv);
    p3s_send_bytes(e.srv, "\x05\x00", 2);
    p3s_expect_bytes(e.srv, CONNECT_MAIL, CONNECT_MAIL_LEN);
    /* The reply and the greeting in one write: the greeting is not lost. */
    p3s_send_bytes(e.srv, V4_REPLY PLAIN_GREETING, REPLY_LEN + strlen(PLAIN_GREETING));
    script_capa_quit(e.srv);
    /* mail.example does not resolve: only the proxy may look it up. */
    connect_and_quit(&e, u, "mail.example");
    ck_assert(tu_trace_has(&tr, "SOCKS5 proxy: tunnel to the target is up"));
    tu_env_free(&e);
    tu_trace_clear(&tr);
}
END_TEST

START_TEST(socks5_resolves_here_and_sends_the_address)
{
    tu_env e;
    tu_env_init(&e);
    const char *u = listen_proxy(&e, 0, NULL);
    expect_no_auth_offer(e.srv);
    p3s_send_bytes(e.srv, "\x05\x00", 2);
    p3s_expect_bytes(e.srv, "\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x6e", 10);
    p3s_send_bytes(e.srv, V4_REPLY, REPLY_LEN);
    script_pop3_quit(e.srv);
    connect_and_quit(&e, u, "127.0.0.1");
    tu_env_free(&e);
}
END_TEST

START_TEST(auth_is_sent_when_chosen_and_the_password_never_traced)
{
    tu_env e;
    tu_env_init(&e);
    tu_trace tr = {0};
    pop3a_options_set_trace(e.opts, tu_trace_cb, &tr);
    const char *u = listen_proxy(&e, 1, "proxyuser:Pr0xyS3cret@");
    p3s_expect_bytes(e.srv, "\x05\x02\x00\x02", 4);
    p3s_send_bytes(e.srv, "\x05\x02", 2);
    p3s_expect_bytes(e.srv, "\x01\x09" "proxyuser" "\x0b" "Pr0xyS3cret", 23);
    p3s_send_bytes(e.srv, "\x01\x00", 2);
    p3s_expect_bytes(e.srv, CONNECT_MAIL, CONNECT_MAIL_LEN);
    p3s_send_bytes(e.srv, V4_REPLY, REPLY_LEN);
    script_pop3_quit(e.srv);
    connect_and_quit(&e, u, "mail.example");
    ck_assert(tu_trace_has(&tr, "user name and password sent"));
    ck_assert(!tu_trace_has(&tr, "Pr0xyS3cret"));
    tu_env_free(&e);
    tu_trace_clear(&tr);
}
END_TEST

/* Hostile or refusing replies: each fails the connect with its text, and
 * the client closes the connection. */
typedef struct {
    const char *method_reply; /* after the no-auth offer */
    size_t method_len;
    const char *connect_reply; /* NULL: the method reply alone fails */
    size_t connect_len;
    int close_after;           /* the proxy then closes (a truncated reply) */
    const char *want;          /* in the connect future's text */
} bad_reply;

static const bad_reply bad_replies[] = {
    {"\x04\x00", 2, NULL, 0, 0, "does not speak SOCKS5"},
    {"\x05\xff", 2, NULL, 0, 0, "none of our authentication methods"},
    {"\x05\x02", 2, NULL, 0, 0, "did not offer"},
    {"\x05", 1, NULL, 0, 1, "closed the connection"},
    {"\x05\x00", 2, "\x05\x01\x00\x01", 4, 0, "general SOCKS server failure"},
    {"\x05\x00", 2, "\x05\x02\x00\x01", 4, 0, "ruleset"},
    {"\x05\x00", 2, "\x05\x03\x00\x01", 4, 0, "network unreachable"},
    {"\x05\x00", 2, "\x05\x04\x00\x01", 4, 0, "host unreachable"},
    {"\x05\x00", 2, "\x05\x05\x00\x01", 4, 0, "connection refused by the target"},
    {"\x05\x00", 2, "\x05\x06\x00\x01", 4, 0, "TTL expired"},
    {"\x05\x00", 2, "\x05\x07\x00\x01", 4, 0, "command not supported"},
    {"\x05\x00", 2, "\x05\x08\x00\x01", 4, 0, "address type not supported"},
    {"\x05\x00", 2, "\x05\x09\x00\x01", 4, 0, "unknown SOCKS5 reply code"},
    {"\x05\x00", 2, "\x04\x00\x00\x01", 4, 0, "bad version"},
    {"\x05\x00", 2, "\x05\x00\x07\x01", 4, 0, "reserved"},
    {"\x05\x00", 2, "\x05\x00\x00\x09\x00", 5, 0, "unknown address type"},
    {"\x05\x00", 2, "\x05\x00\x00\x01\x7f\x00", 6, 1, "closed the connection"},
    {"\x05\x00", 2, "\x05\x00\x00\x03\x00", 5, 0, "empty bound name"},
};

START_TEST(hostile_reply_fails_the_connect)
{
    const bad_reply *b = &bad_replies[_i];
    tu_env e;
    tu_env_init(&e);
    const char *u = listen_proxy(&e, 1, NULL);
    expect_no_auth_offer(e.srv);
    p3s_send_bytes(e.srv, b->method_reply, b->method_len);
    if (b->connect_reply) {
        p3s_expect_bytes(e.srv, CONNECT_MAIL, CONNECT_MAIL_LEN);
        p3s_send_bytes(e.srv, b->connect_reply, b->connect_len);
    }
    if (b->close_after)
        p3s_close(e.srv);
    else
        p3s_expect_eof(e.srv); /* the client gave up and closed */
    connect_fails(&e, u, POP3A_ERR_IO, "SOCKS5 proxy: ", b->want);
    WAIT_SCRIPT(&e);
    SCRIPT_DONE(e.srv);
    tu_env_free(&e);
}
END_TEST

/* A proxy that accepts and then says nothing: the connect timeout covers it. */
START_TEST(silent_proxy_times_out)
{
    tu_env e;
    tu_env_init(&e);
    ck_assert_int_eq(pop3a_options_set_timeouts(e.opts, 200, 3000), 0);
    const char *u = listen_proxy(&e, 1, NULL);
    expect_no_auth_offer(e.srv);
    connect_fails(&e, u, POP3A_ERR_TIMEOUT, "200 ms", NULL);
    tu_env_free(&e);
}
END_TEST

/* The longest connect reply (a 255-octet bound name) and the greeting in one
 * write: exactly the reply's 262 octets are the proxy's, the rest the
 * target's. */
START_TEST(longest_reply_then_greeting_in_one_write)
{
    tu_env e;
    tu_env_init(&e);
    const char *u = listen_proxy(&e, 1, NULL);
    expect_no_auth_offer(e.srv);
    p3s_send_bytes(e.srv, "\x05\x00", 2);
    p3s_expect_bytes(e.srv, CONNECT_MAIL, CONNECT_MAIL_LEN);
    char big[262 + sizeof PLAIN_GREETING];
    memcpy(big, "\x05\x00\x00\x03\xff", 5);
    memset(big + 5, 'a', 255);
    memcpy(big + 260, "\x04\x38", 2);
    memcpy(big + 262, PLAIN_GREETING, strlen(PLAIN_GREETING));
    p3s_send_bytes(e.srv, big, 262 + strlen(PLAIN_GREETING));
    script_capa_quit(e.srv);
    connect_and_quit(&e, u, "mail.example");
    tu_env_free(&e);
}
END_TEST

/* Implicit TLS through the tunnel to a target named `target`, the server
 * presenting `cert`; the proxy is 127.0.0.1. */
static void tls_through_tunnel(const char *cert, const char *target, int want_ok)
{
    tu_env e;
    tu_env_init(&e);
    ck_assert_int_eq(pop3a_options_set_tls(e.opts, POP3A_TLS_IMPLICIT, NULL), 0);
    ck_assert_int_eq(pop3a_options_set_ca(e.opts, p3s_cert("ca.pem"), NULL), 0);
    const char *u = listen_proxy(&e, 1, NULL);
    expect_no_auth_offer(e.srv);
    p3s_send_bytes(e.srv, "\x05\x00", 2);
    uint8_t req[300] = {5, 1, 0, 3, (uint8_t)strlen(target)};
    memcpy(req + 5, target, strlen(target));
    memcpy(req + 5 + strlen(target), "\x03\xe3", 2);
    p3s_expect_bytes(e.srv, req, 7 + strlen(target));
    p3s_send_bytes(e.srv, V4_REPLY, REPLY_LEN);
    SSL_CTX *ctx = p3s_tls_server_ctx(cert);
    ck_assert_ptr_nonnull(ctx);
    p3s_start_tls(e.srv, ctx);
    SSL_CTX_free(ctx);
    if (want_ok)
        script_pop3_quit(e.srv);
    tu_rec conn, quit;
    RECS_INIT(NULL, 0, &conn, &quit);
    proxy_connect(&e, u, target, 995, &conn);
    if (want_ok) {
        WAIT_DONE(&e, conn);
        ASSERT_ONCE_OK(conn);
        ck_assert_int_eq(pop3a_client_is_tls(e.client), 1);
        ck_assert(p3s_tls_handshake_done(e.srv));
        ck_assert_ptr_nonnull(pop3a_quit(e.client, tu_done, &quit));
        WAIT_DONE_AND_SCRIPT(&e, quit);
    } else {
        WAIT_DONE(&e, conn);
        ASSERT_ONCE_STATUS(conn, POP3A_ERR_TLS);
    }
    tu_env_free(&e);
}

/* The certificate names example.invalid, not the proxy's 127.0.0.1: it is
 * the target's name that SNI and the check use. */
START_TEST(implicit_tls_checks_the_target_name)
{
    tls_through_tunnel("wronghost", "example.invalid", 1);
}
END_TEST

/* The certificate names 127.0.0.1 (the proxy) and localhost, not the target:
 * refused, though it would pass a check against the proxy. */
START_TEST(implicit_tls_never_checks_the_proxy_name)
{
    tls_through_tunnel("leaf", "mail.example", 0);
}
END_TEST

/* A cancel while the proxy has not answered drops the connection to the
 * proxy: nothing leaks (ASan, valgrind), the proxy sees EOF. */
START_TEST(cancel_during_the_proxy_handshake_drops_it)
{
    tu_env e;
    tu_env_init(&e);
    const char *u = listen_proxy(&e, 1, NULL);
    expect_no_auth_offer(e.srv);
    p3s_expect_eof(e.srv);
    tu_rec conn;
    RECS_INIT(NULL, 0, &conn);
    ck_assert_int_eq(pop3a_options_set_proxy(e.opts, u), 0);
    e.client = pop3a_client_new(e.base, NULL, e.opts);
    ck_assert_ptr_nonnull(e.client);
    pop3a_future *f = pop3a_connect(e.client, "mail.example", 110, tu_done, &conn);
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 200 && p3s_bytes_received(e.srv) < 3; i++)
        run_for(e.base, 5);
    ck_assert_uint_eq(p3s_bytes_received(e.srv), 3);
    pop3a_future_cancel(f);
    WAIT_DONE(&e, conn);
    ASSERT_ONCE_STATUS(conn, POP3A_ERR_CANCELLED);
    WAIT_SCRIPT(&e);
    SCRIPT_DONE(e.srv);
    tu_env_free(&e);
}
END_TEST

/* Under implicit TLS the server speaks only after the handshake: bytes that
 * came with the proxy's reply were not the target's, and are refused. */
START_TEST(bytes_before_tls_through_the_tunnel_are_refused)
{
    tu_env e;
    tu_env_init(&e);
    ck_assert_int_eq(pop3a_options_set_tls(e.opts, POP3A_TLS_IMPLICIT, NULL), 0);
    const char *u = listen_proxy(&e, 1, NULL);
    expect_no_auth_offer(e.srv);
    p3s_send_bytes(e.srv, "\x05\x00", 2);
    p3s_expect_bytes(e.srv, CONNECT_MAIL, CONNECT_MAIL_LEN);
    p3s_send_bytes(e.srv, V4_REPLY PLAIN_GREETING, REPLY_LEN + strlen(PLAIN_GREETING));
    p3s_expect_eof(e.srv);
    connect_fails(&e, u, POP3A_ERR_PROTOCOL, "before TLS", NULL);
    WAIT_SCRIPT(&e);
    SCRIPT_DONE(e.srv);
    tu_env_free(&e);
}
END_TEST

START_TEST(set_proxy_refuses_bad_urls_and_keeps_the_old)
{
    pop3a_options *o = pop3a_options_new();
    ck_assert_int_eq(pop3a_options_set_proxy(o, "socks5h://127.0.0.1:1"), 0);
    ck_assert_int_eq(pop3a_options_set_proxy(o, "socks5h://h:1\r\nUSER x"), -1);
    ck_assert_int_eq(pop3a_options_set_proxy(o, "http://h:1"), -1);
    ck_assert_int_eq(pop3a_options_set_proxy(NULL, "socks5h://h:1"), -1);
    ck_assert_int_eq(pop3a_options_set_proxy(o, NULL), 0);
    pop3a_options_free(o);
}
END_TEST

static Suite *proxy_script_suite(void)
{
    Suite *s = suite_create("proxy_script");
    TCase *tc = tcase_create("socks5");
    tcase_add_test(tc, socks5h_sends_the_name_and_pop3_runs_through);
    tcase_add_test(tc, socks5_resolves_here_and_sends_the_address);
    tcase_add_test(tc, auth_is_sent_when_chosen_and_the_password_never_traced);
    tcase_add_loop_test(tc, hostile_reply_fails_the_connect, 0,
                        (int)(sizeof bad_replies / sizeof bad_replies[0]));
    tcase_add_test(tc, silent_proxy_times_out);
    tcase_add_test(tc, longest_reply_then_greeting_in_one_write);
    tcase_add_test(tc, implicit_tls_checks_the_target_name);
    tcase_add_test(tc, implicit_tls_never_checks_the_proxy_name);
    tcase_add_test(tc, cancel_during_the_proxy_handshake_drops_it);
    tcase_add_test(tc, bytes_before_tls_through_the_tunnel_are_refused);
    tcase_add_test(tc, set_proxy_refuses_bad_urls_and_keeps_the_old);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite_with_certs(proxy_script_suite, "test_proxy_script");
}
