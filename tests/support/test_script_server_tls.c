/*
 * Tests of the scripted server's TLS steps, checked with a minimal OpenSSL
 * client on a non-blocking socket, stepped between turns of the server's loop.
 * No libpop3async here.
 */
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "script_server.h"
#include "test_script_server_fixture.h"

/* The client end: a socket to the listening server and, once asked, an SSL. */
typedef struct {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    int handshake_done, handshake_failed;
    int close_notify; /* SSL_read said ZERO_RETURN */
    int eof_without_close_notify;
    int reads; /* SSL_read calls that returned data */
    char got[8192];
    size_t got_len;
} tls_peer;

static void tp_connect(fixture *f, tls_peer *t, uint16_t port)
{
    memset(t, 0, sizeof *t);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    t->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(t->fd, 0);
    /* Completes at once on loopback: the kernel accepts into the backlog. */
    ck_assert_int_eq(connect(t->fd, (struct sockaddr *)&sin, sizeof sin), 0);
    ck_assert_int_eq(evutil_make_socket_nonblocking(t->fd), 0);
    fx_run_for(f, 5); /* the server accepts */
}

/* A verifying client context: the test CA, TLS 1.2+, optionally a client cert. */
static SSL_CTX *tp_ctx(int with_client_cert)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(SSL_CTX_load_verify_locations(ctx, p3s_cert("ca.pem"), NULL), 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (with_client_cert) {
        ck_assert_int_eq(SSL_CTX_use_certificate_chain_file(ctx, p3s_cert("client.pem")), 1);
        ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(ctx, p3s_cert("client.key"), SSL_FILETYPE_PEM),
                         1);
    }
    return ctx;
}

static void tp_start_tls(tls_peer *t, SSL_CTX *ctx)
{
    t->ctx = ctx;
    t->ssl = SSL_new(ctx);
    ck_assert_ptr_nonnull(t->ssl);
    ck_assert_int_eq(SSL_set1_host(t->ssl, "localhost"), 1);
    ck_assert_int_eq(SSL_set_fd(t->ssl, t->fd), 1);
    SSL_set_connect_state(t->ssl);
}

/* One non-blocking round of the client: handshake, then read what is there. */
static void tp_step(tls_peer *t)
{
    if (!t->ssl) {
        ssize_t n = recv(t->fd, t->got + t->got_len, sizeof t->got - 1 - t->got_len, 0);
        if (n > 0)
            t->got_len += (size_t)n;
        t->got[t->got_len] = '\0';
        return;
    }
    if (t->handshake_failed || t->close_notify || t->eof_without_close_notify)
        return;
    if (!t->handshake_done) {
        int rc = SSL_do_handshake(t->ssl);
        int err = SSL_get_error(t->ssl, rc);
        if (rc == 1)
            t->handshake_done = 1;
        else if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
            t->handshake_failed = 1;
        ERR_clear_error();
        if (!t->handshake_done)
            return;
    }
    for (;;) {
        int n = SSL_read(t->ssl, t->got + t->got_len, (int)(sizeof t->got - 1 - t->got_len));
        if (n > 0) {
            t->got_len += (size_t)n;
            t->got[t->got_len] = '\0';
            t->reads++;
            continue;
        }
        int err = SSL_get_error(t->ssl, n);
        if (err == SSL_ERROR_ZERO_RETURN)
            t->close_notify = 1;
        else if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
            t->eof_without_close_notify = 1; /* OpenSSL 3: "unexpected eof while reading" */
        ERR_clear_error();
        return;
    }
}

/* Runs server and client for up to ms, until *flag (when given) is set. */
static void tp_run(fixture *f, tls_peer *t, unsigned ms, const int *flag)
{
    for (unsigned waited = 0; waited < ms && !(flag && *flag); waited++) {
        fx_run_for(f, 1);
        tp_step(t);
    }
}

static void tp_write(fixture *f, tls_peer *t, const char *text)
{
    size_t len = strlen(text);
    if (!t->ssl) {
        ck_assert_int_eq(send(t->fd, text, len, MSG_NOSIGNAL), (ssize_t)len);
        return;
    }
    for (int tries = 0; tries < 1000; tries++) {
        int n = SSL_write(t->ssl, text, (int)len);
        if (n == (int)len)
            return;
        ERR_clear_error();
        tp_run(f, t, 1, NULL);
    }
    ck_abort_msg("SSL_write of \"%s\" did not complete", text);
}

static void tp_free(tls_peer *t)
{
    SSL_free(t->ssl);
    SSL_CTX_free(t->ctx);
    if (t->fd >= 0)
        close(t->fd);
}

/* The script ran to its end without a mismatch. */
#define ASSERT_SCRIPT_PASSED(srv)                                                          \
    do {                                                                                   \
        ck_assert_msg(p3s_error(srv) == NULL, "%s", p3s_error(srv));                       \
        ck_assert(p3s_done(srv));                                                          \
    } while (0)

/* The server speaks TLS from the first byte with the test certificate `cert`
 * (the server keeps its own reference to the context) and listens on
 * 127.0.0.1; returns the port. */
static uint16_t listen_implicit_tls(fixture *f, const char *cert)
{
    SSL_CTX *server = p3s_tls_server_ctx(cert);
    ck_assert_ptr_nonnull(server);
    p3s_tls_implicit(f->srv, server);
    SSL_CTX_free(server);
    return p3s_listen(f->srv, "127.0.0.1");
}

/* A script step that starts TLS (after STLS) with the "leaf" certificate. */
static void script_start_tls(p3s *s)
{
    SSL_CTX *server = p3s_tls_server_ctx("leaf");
    ck_assert_ptr_nonnull(server);
    p3s_start_tls(s, server);
    SSL_CTX_free(server);
}

/* tp_connect, then the client's TLS (tp_ctx(with_client_cert)) at once. */
static void tp_connect_tls(fixture *f, tls_peer *t, uint16_t port, int with_client_cert)
{
    tp_connect(f, t, port);
    tp_start_tls(t, tp_ctx(with_client_cert));
}

/* Implicit TLS: the greeting only after the handshake; lines in both directions;
 * p3s_close sends close_notify. */
START_TEST(tls_implicit_carries_the_script)
{
    fixture f;
    tls_peer t;
    fx_init(&f);
    uint16_t port = listen_implicit_tls(&f, "leaf");
    p3s_send(f.srv, "+OK hello over TLS\r\n");
    p3s_expect(f.srv, "CAPA");
    p3s_send(f.srv, "+OK\r\n");
    p3s_close(f.srv);
    tp_connect_tls(&f, &t, port, 0);
    tp_run(&f, &t, 2000, &t.handshake_done);
    ck_assert_int_eq(t.handshake_done, 1);
    tp_write(&f, &t, "CAPA\r\n");
    tp_run(&f, &t, 2000, &t.close_notify);
    ASSERT_SCRIPT_PASSED(f.srv);
    ck_assert_int_eq(p3s_tls_handshake_done(f.srv), 1);
    ck_assert_msg(p3s_tls_error(f.srv) == NULL, "%s", p3s_tls_error(f.srv));
    ck_assert_ptr_nonnull(p3s_tls_ssl(f.srv));
    ck_assert_str_eq(t.got, "+OK hello over TLS\r\n+OK\r\n");
    ck_assert_int_eq(t.close_notify, 1);
    ck_assert_uint_eq(p3s_bytes_received(f.srv), 6); /* plaintext, not records */
    tp_free(&t);
    fx_free(&f);
}
END_TEST

/* STLS: the "+OK" in clear, then the handshake on the same socket. */
START_TEST(start_tls_step_upgrades_after_the_reply)
{
    fixture f;
    tls_peer t;
    fx_init(&f);
    uint16_t port = p3s_listen(f.srv, "127.0.0.1");
    p3s_send(f.srv, "+OK plain\r\n");
    p3s_expect(f.srv, "STLS");
    p3s_send(f.srv, "+OK Begin TLS\r\n");
    script_start_tls(f.srv);
    p3s_expect(f.srv, "NOOP");
    p3s_send(f.srv, "+OK secret\r\n");
    p3s_tls_close_dirty(f.srv);
    tp_connect(&f, &t, port);
    tp_run(&f, &t, 100, NULL);
    ck_assert_str_eq(t.got, "+OK plain\r\n");
    tp_write(&f, &t, "STLS\r\n");
    tp_run(&f, &t, 100, NULL);
    ck_assert_str_eq(t.got, "+OK plain\r\n+OK Begin TLS\r\n");
    ck_assert_int_eq(p3s_tls_handshake_done(f.srv), 0);
    t.got_len = 0;
    tp_start_tls(&t, tp_ctx(0));
    tp_run(&f, &t, 2000, &t.handshake_done);
    tp_write(&f, &t, "NOOP\r\n");
    tp_run(&f, &t, 2000, &t.eof_without_close_notify);
    ASSERT_SCRIPT_PASSED(f.srv);
    ck_assert_str_eq(t.got, "+OK secret\r\n");
    /* p3s_tls_close_dirty: FIN without close_notify. */
    ck_assert_int_eq(t.eof_without_close_notify, 1);
    ck_assert_int_eq(t.close_notify, 0);
    tp_free(&t);
    fx_free(&f);
}
END_TEST

/* Clear bytes after STLS (a pipelined command) are an error of the client. */
START_TEST(start_tls_refuses_clear_bytes_after_stls)
{
    fixture f;
    fx_init(&f);
    p3s_expect(f.srv, "STLS");
    p3s_send(f.srv, "+OK Begin TLS\r\n");
    script_start_tls(f.srv);
    fx_attach(&f, p3s_pair(f.srv));
    bufferevent_write(f.bev, "STLS\r\nUSER alice\r\n", 18);
    fx_run(&f, 2000);
    ck_assert_ptr_nonnull(p3s_error(f.srv));
    ck_assert_msg(strstr(p3s_error(f.srv), "in clear after STLS") != NULL, "%s", p3s_error(f.srv));
    fx_free(&f);
}
END_TEST

/* Chunk mode under TLS: one record per chunk, so the client reads them apart. */
START_TEST(tls_chunked_writes_arrive_in_separate_records)
{
    fixture f;
    tls_peer t;
    fx_init(&f);
    uint16_t port = listen_implicit_tls(&f, "leaf");
    p3s_write_chunk(f.srv, 3, 2);
    p3s_send(f.srv, "+OK 123456789 abcdef\r\n"); /* 22 bytes: 8 records */
    p3s_close(f.srv);
    tp_connect_tls(&f, &t, port, 0);
    tp_run(&f, &t, 2000, &t.close_notify);
    ck_assert(p3s_done(f.srv));
    ck_assert_str_eq(t.got, "+OK 123456789 abcdef\r\n");
    ck_assert_int_ge(t.reads, 8);
    tp_free(&t);
    fx_free(&f);
}
END_TEST

/* A client that refuses the certificate: the server reports why, not the script. */
START_TEST(tls_handshake_failure_is_reported_not_a_script_error)
{
    fixture f;
    tls_peer t;
    fx_init(&f);
    uint16_t port = listen_implicit_tls(&f, "selfsigned");
    p3s_send(f.srv, "+OK never seen\r\n");
    p3s_expect_eof(f.srv);
    tp_connect_tls(&f, &t, port, 0);
    tp_run(&f, &t, 2000, &t.handshake_failed);
    ck_assert_int_eq(t.handshake_failed, 1);
    close(t.fd);
    t.fd = -1;
    fx_run(&f, 2000);
    ASSERT_SCRIPT_PASSED(f.srv); /* the greeting was dropped, never sent */
    ck_assert_int_eq(p3s_tls_handshake_done(f.srv), 0);
    ck_assert_ptr_nonnull(p3s_tls_error(f.srv));
    ck_assert_msg(strstr(p3s_tls_error(f.srv), "handshake") != NULL, "%s", p3s_tls_error(f.srv));
    ck_assert_uint_eq(p3s_bytes_received(f.srv), 0);
    tp_free(&t);
    fx_free(&f);
}
END_TEST

/* p3s_request_client_cert: verified and named when presented, refused when not. */
START_TEST(client_certificate_is_requested_and_verified)
{
    int with_cert = _i;
    fixture f;
    tls_peer t;
    fx_init(&f);
    uint16_t port = listen_implicit_tls(&f, "leaf");
    p3s_request_client_cert(f.srv, p3s_cert("ca.pem"));
    p3s_send(f.srv, "+OK hello\r\n");
    tp_connect_tls(&f, &t, port, with_cert);
    tp_run(&f, &t, 2000, with_cert ? &t.reads : &t.eof_without_close_notify);
    ck_assert_int_eq(p3s_tls_client_verified(f.srv), with_cert);
    if (with_cert) {
        ck_assert_str_eq(p3s_tls_client_subject(f.srv), "pop3a-test-client");
        ck_assert_str_eq(t.got, "+OK hello\r\n");
    } else {
        ck_assert_ptr_nonnull(p3s_tls_error(f.srv));
        ck_assert_uint_eq(t.got_len, 0);
    }
    tp_free(&t);
    fx_free(&f);
}
END_TEST

static Suite *script_server_tls_suite(void)
{
    Suite *s = suite_create("script_server_tls");
    TCase *tc = tcase_create("tls");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, tls_implicit_carries_the_script);
    tcase_add_test(tc, start_tls_step_upgrades_after_the_reply);
    tcase_add_test(tc, start_tls_refuses_clear_bytes_after_stls);
    tcase_add_test(tc, tls_chunked_writes_arrive_in_separate_records);
    tcase_add_test(tc, tls_handshake_failure_is_reported_not_a_script_error);
    tcase_add_loop_test(tc, client_certificate_is_requested_and_verified, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!p3s_certs_make()) {
        fprintf(stderr, "test_script_server_tls: make-test-certs not found or failed "
                        "(set POP3A_MAKE_TEST_CERTS)\n");
        return EXIT_FAILURE;
    }
    SRunner *sr = srunner_create(script_server_tls_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    p3s_certs_remove();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
