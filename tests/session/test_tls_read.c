/*
 * The TLS read path (issue 14 s6): records already waiting in the socket are
 * decrypted together, in one read callback, not one loop turn per record; and
 * what that read meets after the data (a close_notify, a pause of the caller)
 * is handled as the one-record-per-event path handled it.
 *
 * The scripted server sends a RETR reply in 1 KiB TLS records, all written at
 * once (p3s_tls_record_size). Each test runs over implicit TLS (_i 0) and
 * after STLS (_i 1) on loopback TCP, which reads the same way (the library's
 * TLS bufferevent takes its socket over, no filter over a plain one), and most
 * after STLS on a caller's transport (_i 2: pop3a_attach of a socketpair, where
 * TLS is a filter over the caller's bufferevent).
 */
#include <event2/event.h>
#include <openssl/ssl.h>

#include "session_test.h"

#define GREETING "+OK POP3 ready\r\n"
#define RECORD 1024u
#define BODY_LINES 3780u /* 13 octets each: 49,140 octets, 48 records */

enum { IMPLICIT, STLS, STLS_ATTACHED, TRANSPORTS };

/* STLS_ATTACHED's transport, until connect_login_retr attaches it. */
static struct bufferevent *attached;

/* TLS to the scripted server with the good leaf certificate, as `transport`
 * says; the client is logged in (AUTH PLAIN) once the script reaches RETR 1.
 * *port is 0 for STLS_ATTACHED. */
static void env_init_tls(tu_env *e, uint16_t *port, int transport)
{
    int stls = transport != IMPLICIT;
    tu_env_init(e);
    ck_assert_int_eq(
        pop3a_options_set_tls(e->opts, stls ? POP3A_TLS_STLS : POP3A_TLS_IMPLICIT, NULL), 0);
    ck_assert_int_eq(pop3a_options_set_ca(e->opts, p3s_cert("ca.pem"), NULL), 0);
    SSL_CTX *ctx = p3s_tls_server_ctx("leaf");
    ck_assert_ptr_nonnull(ctx);
    if (!stls)
        p3s_tls_implicit(e->srv, ctx);
    *port = 0;
    if (transport == STLS_ATTACHED) {
        attached = p3s_pair(e->srv);
        ck_assert_ptr_nonnull(attached);
        ck_assert_int_eq(pop3a_options_set_verify_name(e->opts, "127.0.0.1"), 0);
    } else {
        *port = p3s_listen(e->srv, "127.0.0.1");
        ck_assert_uint_ne(*port, 0);
    }
    if (stls) {
        tu_script_greeting_capa(e->srv, GREETING, "STLS\r\n");
        p3s_expect(e->srv, "STLS");
        p3s_send(e->srv, "+OK Begin TLS negotiation\r\n");
        p3s_start_tls(e->srv, ctx);
        p3s_expect(e->srv, "CAPA");
        p3s_send(e->srv, "+OK Capability list follows\r\nSASL PLAIN\r\n.\r\n");
    } else {
        tu_script_greeting_capa(e->srv, GREETING, "SASL PLAIN\r\n");
    }
    SSL_CTX_free(ctx);
    p3s_expect_prefix(e->srv, "AUTH PLAIN ");
    p3s_send(e->srv, "+OK\r\n");
    p3s_expect(e->srv, "RETR 1");
}

/* Connects (port 0: attaches), logs in and submits RETR 1 with `retr`
 * recording it. */
static void connect_login_retr(tu_env *e, uint16_t port, tu_rec *retr)
{
    static tu_rec conn, login;
    tu_rec_init(&conn, 0, NULL);
    tu_rec_init(&login, 1, NULL);
    e->client = pop3a_client_new(e->base, NULL, e->opts);
    ck_assert_ptr_nonnull(e->client);
    tu_env_watch_close(e);
    ck_assert_ptr_nonnull(port ? pop3a_connect(e->client, "127.0.0.1", port, tu_done, &conn)
                               : pop3a_attach(e->client, attached, tu_done, &conn));
    ck_assert_ptr_nonnull(pop3a_login(e->client, "alice", "pw", 0, tu_done, &login));
    ck_assert_ptr_nonnull(pop3a_retr(e->client, 1, tu_chunk, tu_done, retr));
}

/* What each records test starts from: a TLS session as `transport` says
 * (env_init_tls), a RETR record, and a body of BODY_LINES lines that the
 * server will send in RECORD-octet TLS records. */
typedef struct {
    tu_env e;
    uint16_t port;
    tu_rec retr;
    char *body;
} records_case;

static void records_case_init(records_case *t, int transport)
{
    tu_rec_init(&t->retr, 2, NULL);
    t->body = make_body(BODY_LINES);
    env_init_tls(&t->e, &t->port, transport);
    p3s_tls_record_size(t->e.srv, RECORD);
}

static void records_case_free(records_case *t)
{
    free(t->body);
    tu_rec_clear(&t->retr);
    tu_env_free(&t->e);
}

/* 48 records waiting together reach the caller in a few chunks: one read
 * callback took them all. One loop turn per record gave 48 chunks or more; a
 * TLS filter over a plain socket bufferevent (STLS before) one per 4 KiB
 * libevent read from the socket, 12 or more. */
START_TEST(waiting_records_are_read_together)
{
    records_case t;
    records_case_init(&t, _i);
    send_multiline(t.e.srv, "+OK message follows\r\n", t.body);
    connect_login_retr(&t.e, t.port, &t.retr);
    WAIT_DONE_AND_SCRIPT(&t.e, t.retr);
    ASSERT_ONCE_OK(t.retr);
    ASSERT_BODY(t.retr, t.body);
    ck_assert_msg(t.retr.chunk_calls <= 8, "%d chunks for %zu records", t.retr.chunk_calls,
                  strlen(t.body) / RECORD + 1);
    records_case_free(&t);
}
END_TEST

/* A close_notify right behind the records, read by the same callback: the
 * bytes before it are delivered, then the cut reply fails as an EOF (no final
 * chunk), as when libevent meets the close itself. */
START_TEST(close_notify_behind_waiting_records_is_eof)
{
    records_case t;
    records_case_init(&t, _i);
    p3s_send(t.e.srv, "+OK message follows\r\n");
    p3s_send(t.e.srv, t.body); /* no terminator */
    p3s_close(t.e.srv);        /* close_notify, then FIN */
    connect_login_retr(&t.e, t.port, &t.retr);
    WAIT_DONE(&t.e, t.retr);
    ASSERT_ONCE_STATUS(t.retr, POP3A_ERR_EOF);
    ck_assert_int_eq(t.retr.final_count, 0);
    ck_assert_uint_eq(t.retr.octets, strlen(t.body));
    ck_assert_int_eq(t.e.close_calls, 1);
    ck_assert_int_eq(t.e.close_why, POP3A_ERR_EOF);
    records_case_free(&t);
}
END_TEST

/* Paused at the first chunk with records still waiting: nothing more is
 * delivered until resume, and after it the rest comes, nothing stranded in
 * OpenSSL where the socket would no longer wake the loop. */
START_TEST(pause_with_waiting_records_then_resume)
{
    records_case t;
    records_case_init(&t, _i);
    send_multiline(t.e.srv, "+OK message follows\r\n", t.body);
    act_at_chunk(&t.retr, TU_ACT_PAUSE, 1);
    connect_login_retr(&t.e, t.port, &t.retr);
    WAIT_COUNT(&t.e, &t.retr.chunk_calls, 1);
    run_for(t.e.base, 100);
    ck_assert_int_eq(t.retr.chunk_calls, 1);
    ck_assert_int_eq(t.retr.done_calls, 0);
    ck_assert_int_eq(pop3a_future_resume(t.retr.paused), 0);
    WAIT_DONE_AND_SCRIPT(&t.e, t.retr);
    ASSERT_ONCE_OK(t.retr);
    ASSERT_BODY(t.retr, t.body);
    records_case_free(&t);
}
END_TEST

/* libevent's allocations, the largest since reset (tracking_malloc). */
static size_t largest_alloc;

static void *tracking_malloc(size_t n)
{
    if (n > largest_alloc)
        largest_alloc = n;
    return malloc(n);
}

static void *tracking_realloc(void *p, size_t n)
{
    if (n > largest_alloc)
        largest_alloc = n;
    return realloc(p, n);
}

/* A reply's partial line waits in the input buffer for the rest, for as long
 * as the server likes: a daemon with 10,000 sessions holds 10,000 of these.
 * The buffer around it is one record's room, not the 512 KiB evbuffer chain
 * that libevent's reservation of max_single_read (256 KiB) made for every
 * SSL_read (issue 14 s5). libevent's memory functions count its allocations;
 * the script server's are small (short replies, its reads sized to what
 * waits). */
START_TEST(partial_line_waits_in_a_small_buffer)
{
    event_set_mem_functions(tracking_malloc, tracking_realloc, free);
    largest_alloc = 0; /* CK_FORK=no: the rows share one process */
    tu_env e;
    uint16_t port;
    tu_rec retr;
    tu_rec_init(&retr, 2, NULL);
    env_init_tls(&e, &port, _i);
    p3s_send(e.srv, "+OK message follows\r\nFrom: a partial line");
    p3s_expect_silence(e.srv, 200); /* the rest does not come yet */
    connect_login_retr(&e, port, &retr);
    WAIT_SCRIPT(&e);
    SCRIPT_OK(e.srv);
    ck_assert_int_eq(retr.done_calls, 0);
    ck_assert_msg(largest_alloc <= 32 * 1024, "libevent allocated %zu bytes at once",
                  largest_alloc);
    tu_rec_clear(&retr);
    tu_env_free(&e);
}
END_TEST

static Suite *tls_read_suite(void)
{
    Suite *s = suite_create("session_tls_read");
    TCase *tc = tcase_create("records");
    tcase_set_timeout(tc, 30);
    /* _i: the transport. A filter reads a record per 4 KiB libevent reads from
     * the caller's bufferevent, so the first test holds for the library's own
     * sockets only. */
    tcase_add_loop_test(tc, waiting_records_are_read_together, IMPLICIT, STLS_ATTACHED);
    tcase_add_loop_test(tc, close_notify_behind_waiting_records_is_eof, IMPLICIT, TRANSPORTS);
    tcase_add_loop_test(tc, pause_with_waiting_records_then_resume, IMPLICIT, TRANSPORTS);
    tcase_add_loop_test(tc, partial_line_waits_in_a_small_buffer, IMPLICIT, TRANSPORTS);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite_with_certs(tls_read_suite, "test_tls_read");
}
