/*
 * Tests of the scripted server itself, with a bare bufferevent as the client, so
 * the session tests can trust what it reports. No libpop3async here. The TLS
 * steps are checked with a minimal OpenSSL client on a non-blocking socket,
 * stepped between turns of the server's loop.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
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

/* What the fake client saw. */
typedef struct {
    struct evbuffer *got;
    int reads;
    int eof;
} peer;

static void peer_read(struct bufferevent *bev, void *arg)
{
    peer *p = arg;
    p->reads++;
    evbuffer_add_buffer(p->got, bufferevent_get_input(bev));
}

static void peer_event(struct bufferevent *bev, short what, void *arg)
{
    peer *p = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        p->eof = 1;
}

typedef struct {
    struct event_base *base;
    p3s *srv;
    struct bufferevent *bev;
    peer p;
} fixture;

static void fx_init(fixture *f)
{
    signal(SIGPIPE, SIG_IGN);
    memset(f, 0, sizeof *f);
    f->base = event_base_new();
    ck_assert_ptr_nonnull(f->base);
    f->srv = p3s_new(f->base);
    ck_assert_ptr_nonnull(f->srv);
    f->p.got = evbuffer_new();
}

static void fx_attach(fixture *f, struct bufferevent *bev)
{
    ck_assert_ptr_nonnull(bev);
    f->bev = bev;
    bufferevent_setcb(bev, peer_read, NULL, peer_event, &f->p);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void fx_free(fixture *f)
{
    if (f->bev)
        bufferevent_free(f->bev);
    p3s_free(f->srv);
    evbuffer_free(f->p.got);
    event_base_free(f->base);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    *(int *)arg = 1;
}

/* Runs the loop until the script is done or failed, or ms passed. */
static void fx_run(fixture *f, unsigned ms)
{
    int expired = 0;
    struct event *t = evtimer_new(f->base, on_deadline, &expired);
    struct timeval tv = {0, (suseconds_t)ms * 1000};
    evtimer_add(t, &tv);
    while (!expired && !p3s_done(f->srv) && !p3s_error(f->srv))
        event_base_loop(f->base, EVLOOP_ONCE);
    event_free(t);
}

static void fx_run_for(fixture *f, unsigned ms)
{
    int expired = 0;
    struct event *t = evtimer_new(f->base, on_deadline, &expired);
    struct timeval tv = {0, (suseconds_t)ms * 1000};
    evtimer_add(t, &tv);
    while (!expired)
        event_base_loop(f->base, EVLOOP_ONCE);
    event_free(t);
}

static int got_equals(const peer *p, const char *want)
{
    size_t n = evbuffer_get_length(p->got);
    const char *data = (const char *)evbuffer_pullup(p->got, -1);
    return n == strlen(want) && (n == 0 || memcmp(data, want, n) == 0);
}

START_TEST(script_sends_and_matches_lines)
{
    fixture f;
    fx_init(&f);
    p3s_send(f.srv, "+OK hello\r\n");
    p3s_expect(f.srv, "CAPA");
    p3s_expect_prefix(f.srv, "USER ");
    p3s_send(f.srv, "+OK\r\n");
    fx_attach(&f, p3s_pair(f.srv));
    bufferevent_write(f.bev, "CAPA\r\nUSER bob\r\n", 16);
    fx_run(&f, 2000);
    ck_assert_msg(p3s_error(f.srv) == NULL, "%s", p3s_error(f.srv));
    ck_assert(p3s_done(f.srv));
    fx_run_for(&f, 20);
    ck_assert(got_equals(&f.p, "+OK hello\r\n+OK\r\n"));
    ck_assert_uint_eq(p3s_lines_received(f.srv), 2);
    ck_assert_uint_eq(p3s_bytes_received(f.srv), 16);
    fx_free(&f);
}
END_TEST

START_TEST(script_reports_first_mismatch)
{
    fixture f;
    fx_init(&f);
    p3s_expect(f.srv, "STAT");
    p3s_expect(f.srv, "QUIT");
    fx_attach(&f, p3s_pair(f.srv));
    bufferevent_write(f.bev, "LIST\r\nNOOP\r\n", 12);
    fx_run(&f, 2000);
    ck_assert_ptr_nonnull(p3s_error(f.srv));
    ck_assert_msg(strstr(p3s_error(f.srv), "expected \"STAT\", got \"LIST\"") != NULL, "%s",
                  p3s_error(f.srv));
    ck_assert(!p3s_done(f.srv));
    fx_free(&f);
}
END_TEST

START_TEST(script_rejects_bare_lf_and_embedded_nul)
{
    fixture f;
    fx_init(&f);
    p3s_expect(f.srv, "NOOP");
    fx_attach(&f, p3s_pair(f.srv));
    bufferevent_write(f.bev, "NOOP\n", 5);
    fx_run(&f, 2000);
    ck_assert_ptr_nonnull(p3s_error(f.srv));
    ck_assert_msg(strstr(p3s_error(f.srv), "bare LF") != NULL, "%s", p3s_error(f.srv));
    fx_free(&f);

    fx_init(&f);
    p3s_expect(f.srv, "PASS ab");
    fx_attach(&f, p3s_pair(f.srv));
    bufferevent_write(f.bev, "PASS a\0b\r\n", 10);
    fx_run(&f, 2000);
    ck_assert_ptr_nonnull(p3s_error(f.srv));
    ck_assert_msg(strstr(p3s_error(f.srv), "\\x00") != NULL, "%s", p3s_error(f.srv));
    fx_free(&f);
}
END_TEST

START_TEST(chunked_writes_arrive_in_separate_reads)
{
    fixture f;
    fx_init(&f);
    p3s_write_chunk(f.srv, 3, 2);
    p3s_send(f.srv, "+OK 123456789 abcdef\r\n"); /* 22 bytes: 8 writes */
    fx_attach(&f, p3s_pair(f.srv));
    fx_run(&f, 2000);
    ck_assert(p3s_done(f.srv));
    fx_run_for(&f, 30);
    ck_assert(got_equals(&f.p, "+OK 123456789 abcdef\r\n"));
    ck_assert_int_ge(f.p.reads, 8);
    fx_free(&f);
}
END_TEST

START_TEST(chunked_writes_without_gap_still_split)
{
    fixture f;
    fx_init(&f);
    p3s_write_chunk(f.srv, 1, 0);
    p3s_send(f.srv, "+OK\r\n");
    fx_attach(&f, p3s_pair(f.srv));
    fx_run(&f, 2000);
    fx_run_for(&f, 20);
    ck_assert(got_equals(&f.p, "+OK\r\n"));
    ck_assert_int_ge(f.p.reads, 3); /* one loop turn apart: mostly one byte per read */
    fx_free(&f);
}
END_TEST

START_TEST(close_gives_eof_after_pending_output)
{
    fixture f;
    fx_init(&f);
    p3s_write_chunk(f.srv, 4, 1);
    p3s_send(f.srv, "+OK some body\r\n");
    p3s_close(f.srv);
    fx_attach(&f, p3s_pair(f.srv));
    fx_run(&f, 2000);
    ck_assert(p3s_done(f.srv));
    fx_run_for(&f, 30);
    ck_assert(got_equals(&f.p, "+OK some body\r\n"));
    ck_assert_int_eq(f.p.eof, 1);
    fx_free(&f);
}
END_TEST

START_TEST(delay_holds_the_next_step)
{
    fixture f;
    fx_init(&f);
    p3s_send(f.srv, "A");
    p3s_delay(f.srv, 150);
    p3s_send(f.srv, "B");
    fx_attach(&f, p3s_pair(f.srv));
    fx_run_for(&f, 60);
    ck_assert(got_equals(&f.p, "A"));
    ck_assert(!p3s_done(f.srv));
    fx_run(&f, 2000);
    fx_run_for(&f, 10);
    ck_assert(got_equals(&f.p, "AB"));
    fx_free(&f);
}
END_TEST

START_TEST(silence_step_catches_early_line)
{
    fixture f;
    fx_init(&f);
    p3s_expect(f.srv, "RETR 1");
    p3s_expect_silence(f.srv, 50);
    p3s_send(f.srv, "+OK\r\n");
    p3s_expect(f.srv, "RETR 2");
    fx_attach(&f, p3s_pair(f.srv));
    bufferevent_write(f.bev, "RETR 1\r\nRETR 2\r\n", 16);
    fx_run(&f, 2000);
    ck_assert_ptr_nonnull(p3s_error(f.srv));
    ck_assert_msg(strstr(p3s_error(f.srv), "silence") != NULL, "%s", p3s_error(f.srv));
    fx_free(&f);

    /* And passes when the client waits. */
    fx_init(&f);
    p3s_expect(f.srv, "RETR 1");
    p3s_expect_silence(f.srv, 50);
    p3s_send(f.srv, "+OK\r\n");
    fx_attach(&f, p3s_pair(f.srv));
    bufferevent_write(f.bev, "RETR 1\r\n", 8);
    fx_run(&f, 2000);
    ck_assert_msg(p3s_error(f.srv) == NULL, "%s", p3s_error(f.srv));
    ck_assert(p3s_done(f.srv));
    fx_free(&f);
}
END_TEST

START_TEST(expect_eof_sees_client_close)
{
    fixture f;
    fx_init(&f);
    p3s_expect(f.srv, "QUIT");
    p3s_expect_eof(f.srv);
    fx_attach(&f, p3s_pair(f.srv));
    bufferevent_write(f.bev, "QUIT\r\n", 6);
    fx_run_for(&f, 20);
    ck_assert(!p3s_done(f.srv));
    bufferevent_free(f.bev);
    f.bev = NULL;
    fx_run(&f, 2000);
    ck_assert_msg(p3s_error(f.srv) == NULL, "%s", p3s_error(f.srv));
    ck_assert(p3s_done(f.srv));
    ck_assert(p3s_peer_closed(f.srv));
    fx_free(&f);
}
END_TEST

START_TEST(expect_reports_eof)
{
    fixture f;
    fx_init(&f);
    p3s_expect(f.srv, "STAT");
    fx_attach(&f, p3s_pair(f.srv));
    bufferevent_free(f.bev);
    f.bev = NULL;
    fx_run(&f, 2000);
    ck_assert_ptr_nonnull(p3s_error(f.srv));
    ck_assert_msg(strstr(p3s_error(f.srv), "EOF") != NULL, "%s", p3s_error(f.srv));
    fx_free(&f);
}
END_TEST

START_TEST(stop_reading_blocks_client_writes)
{
    fixture f;
    fx_init(&f);
    p3s_stop_reading(f.srv);
    fx_attach(&f, p3s_pair(f.srv));
    fx_run_for(&f, 10);
    static char big[1 << 20];
    memset(big, 'x', sizeof big);
    for (int i = 0; i < 16; i++)
        bufferevent_write(f.bev, big, sizeof big);
    fx_run_for(&f, 100);
    /* The kernel holds a few hundred KiB at most; the rest must still be queued. */
    ck_assert_uint_gt(evbuffer_get_length(bufferevent_get_output(f.bev)), 8u << 20);
    ck_assert_uint_eq(p3s_bytes_received(f.srv), 0);
    fx_free(&f);
}
END_TEST

static void listen_and_talk(const char *addr)
{
    fixture f;
    fx_init(&f);
    uint16_t port = p3s_listen(f.srv, addr);
    ck_assert_uint_ne(port, 0);
    p3s_send(f.srv, "+OK ready\r\n");
    p3s_expect(f.srv, "QUIT");
    struct bufferevent *bev = bufferevent_socket_new(f.base, -1, BEV_OPT_CLOSE_ON_FREE);
    fx_attach(&f, bev);
    char where[64];
    snprintf(where, sizeof where, strchr(addr, ':') ? "[%s]:%u" : "%s:%u", addr, port);
    struct sockaddr_storage ss;
    int sslen = (int)sizeof ss;
    ck_assert_int_eq(evutil_parse_sockaddr_port(where, (struct sockaddr *)&ss, &sslen), 0);
    ck_assert_int_eq(bufferevent_socket_connect(bev, (struct sockaddr *)&ss, sslen), 0);
    bufferevent_write(bev, "QUIT\r\n", 6);
    fx_run(&f, 2000);
    ck_assert_msg(p3s_error(f.srv) == NULL, "%s", p3s_error(f.srv));
    ck_assert(p3s_done(f.srv));
    ck_assert(p3s_connected(f.srv));
    fx_run_for(&f, 20);
    ck_assert(got_equals(&f.p, "+OK ready\r\n"));
    fx_free(&f);
}

START_TEST(listen_accepts_ipv4)
{
    listen_and_talk("127.0.0.1");
}
END_TEST

START_TEST(listen_accepts_ipv6)
{
    listen_and_talk("::1");
}
END_TEST

/* ---------------------------------------------------------------- TLS */

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

/* Implicit TLS: the greeting only after the handshake; lines in both directions;
 * p3s_close sends close_notify. */
START_TEST(tls_implicit_carries_the_script)
{
    fixture f;
    tls_peer t;
    fx_init(&f);
    SSL_CTX *server = p3s_tls_server_ctx("leaf");
    ck_assert_ptr_nonnull(server);
    p3s_tls_implicit(f.srv, server);
    SSL_CTX_free(server); /* the server keeps its own reference */
    uint16_t port = p3s_listen(f.srv, "127.0.0.1");
    p3s_send(f.srv, "+OK hello over TLS\r\n");
    p3s_expect(f.srv, "CAPA");
    p3s_send(f.srv, "+OK\r\n");
    p3s_close(f.srv);
    tp_connect(&f, &t, port);
    tp_start_tls(&t, tp_ctx(0));
    tp_run(&f, &t, 2000, &t.handshake_done);
    ck_assert_int_eq(t.handshake_done, 1);
    tp_write(&f, &t, "CAPA\r\n");
    tp_run(&f, &t, 2000, &t.close_notify);
    ck_assert_msg(p3s_error(f.srv) == NULL, "%s", p3s_error(f.srv));
    ck_assert(p3s_done(f.srv));
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
    SSL_CTX *server = p3s_tls_server_ctx("leaf");
    uint16_t port = p3s_listen(f.srv, "127.0.0.1");
    p3s_send(f.srv, "+OK plain\r\n");
    p3s_expect(f.srv, "STLS");
    p3s_send(f.srv, "+OK Begin TLS\r\n");
    p3s_start_tls(f.srv, server);
    SSL_CTX_free(server);
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
    ck_assert_msg(p3s_error(f.srv) == NULL, "%s", p3s_error(f.srv));
    ck_assert(p3s_done(f.srv));
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
    SSL_CTX *server = p3s_tls_server_ctx("leaf");
    p3s_expect(f.srv, "STLS");
    p3s_send(f.srv, "+OK Begin TLS\r\n");
    p3s_start_tls(f.srv, server);
    SSL_CTX_free(server);
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
    SSL_CTX *server = p3s_tls_server_ctx("leaf");
    p3s_tls_implicit(f.srv, server);
    SSL_CTX_free(server);
    uint16_t port = p3s_listen(f.srv, "127.0.0.1");
    p3s_write_chunk(f.srv, 3, 2);
    p3s_send(f.srv, "+OK 123456789 abcdef\r\n"); /* 22 bytes: 8 records */
    p3s_close(f.srv);
    tp_connect(&f, &t, port);
    tp_start_tls(&t, tp_ctx(0));
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
    SSL_CTX *server = p3s_tls_server_ctx("selfsigned");
    p3s_tls_implicit(f.srv, server);
    SSL_CTX_free(server);
    uint16_t port = p3s_listen(f.srv, "127.0.0.1");
    p3s_send(f.srv, "+OK never seen\r\n");
    p3s_expect_eof(f.srv);
    tp_connect(&f, &t, port);
    tp_start_tls(&t, tp_ctx(0));
    tp_run(&f, &t, 2000, &t.handshake_failed);
    ck_assert_int_eq(t.handshake_failed, 1);
    close(t.fd);
    t.fd = -1;
    fx_run(&f, 2000);
    ck_assert_msg(p3s_error(f.srv) == NULL, "%s", p3s_error(f.srv));
    ck_assert(p3s_done(f.srv)); /* the greeting was dropped, never sent */
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
    SSL_CTX *server = p3s_tls_server_ctx("leaf");
    p3s_tls_implicit(f.srv, server);
    SSL_CTX_free(server);
    p3s_request_client_cert(f.srv, p3s_cert("ca.pem"));
    uint16_t port = p3s_listen(f.srv, "127.0.0.1");
    p3s_send(f.srv, "+OK hello\r\n");
    tp_connect(&f, &t, port);
    tp_start_tls(&t, tp_ctx(with_cert));
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

static char *shout(const char *line, size_t len, void *arg)
{
    int *calls = arg;
    (*calls)++;
    if (len == 0)
        return NULL;
    char *out = malloc(len + 8);
    ck_assert_ptr_nonnull(out);
    memcpy(out, "+ ", 2);
    for (size_t i = 0; i < len; i++)
        out[2 + i] = (char)(line[i] >= 'a' && line[i] <= 'z' ? line[i] - 32 : line[i]);
    memcpy(out + 2 + len, "\r\n", 3);
    return out;
}

/* p3s_respond sends what the function computed; NULL is a script error. */
START_TEST(respond_sends_the_computed_answer)
{
    fixture f;
    int calls = 0;
    fx_init(&f);
    p3s_respond(f.srv, shout, &calls);
    p3s_respond(f.srv, shout, &calls);
    fx_attach(&f, p3s_pair(f.srv));
    bufferevent_write(f.bev, "abc\r\n\r\n", 7);
    fx_run(&f, 2000);
    fx_run_for(&f, 20);
    ck_assert_int_eq(calls, 2);
    ck_assert(got_equals(&f.p, "+ ABC\r\n"));
    ck_assert_ptr_nonnull(p3s_error(f.srv));
    ck_assert_msg(strstr(p3s_error(f.srv), "respond: refused") != NULL, "%s", p3s_error(f.srv));
    fx_free(&f);
}
END_TEST

static Suite *script_server_suite(void)
{
    Suite *s = suite_create("script_server");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, script_sends_and_matches_lines);
    tcase_add_test(tc, script_reports_first_mismatch);
    tcase_add_test(tc, script_rejects_bare_lf_and_embedded_nul);
    tcase_add_test(tc, chunked_writes_arrive_in_separate_reads);
    tcase_add_test(tc, chunked_writes_without_gap_still_split);
    tcase_add_test(tc, close_gives_eof_after_pending_output);
    tcase_add_test(tc, delay_holds_the_next_step);
    tcase_add_test(tc, silence_step_catches_early_line);
    tcase_add_test(tc, expect_eof_sees_client_close);
    tcase_add_test(tc, expect_reports_eof);
    tcase_add_test(tc, stop_reading_blocks_client_writes);
    tcase_add_test(tc, listen_accepts_ipv4);
    tcase_add_test(tc, listen_accepts_ipv6);
    tcase_add_test(tc, respond_sends_the_computed_answer);
    suite_add_tcase(s, tc);

    tc = tcase_create("tls");
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
        fprintf(stderr, "test_script_server: make-test-certs not found or failed "
                        "(set POP3A_MAKE_TEST_CERTS)\n");
        return EXIT_FAILURE;
    }
    SRunner *sr = srunner_create(script_server_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    p3s_certs_remove();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
