/*
 * The TLS read path stops reading at the input high-water mark, and a full
 * read room can stop in the middle of a record: OpenSSL then holds the rest
 * of that record. If the socket holds nothing more, nothing wakes the client
 * for those bytes; when they were a reply's end, the RETR waited for the idle
 * timeout (pop3fetch stalled 120 s at a mailbox's end, one session in some
 * hundreds, in the many-accounts benchmark). The rest of a begun record is now
 * always taken before the read stops.
 *
 * Reaching 512 KiB of unread plaintext needs a receive queue that loopback
 * only builds under load, so this program links a build of the library whose
 * high-water mark is 16 KiB (tests/session/meson.build) and sweeps replies of
 * a range of sizes in records of a few sizes: one of them puts the reply's
 * last record across the mark, with nothing behind it in the socket.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include <pop3async/pop3async.h>

#include "script_server.h"

typedef struct {
    int done_calls;
    pop3a_status status;
    size_t body_len;
    int final_seen;
} rec;

static void on_done(pop3a_client *client, pop3a_future *f, void *arg)
{
    (void)client;
    rec *r = arg;
    r->done_calls++;
    r->status = pop3a_future_status(f);
}

static int on_chunk(pop3a_client *client, pop3a_future *f, const char *data, size_t len,
                    int final, void *arg)
{
    (void)client;
    (void)f;
    (void)data;
    rec *r = arg;
    r->body_len += len;
    r->final_seen |= final;
    return POP3A_CHUNK_CONTINUE;
}

static unsigned scaled_ms(unsigned ms)
{
    const char *s = getenv("POP3A_TEST_TIME_SCALE");
    unsigned k = s ? (unsigned)strtoul(s, NULL, 10) : 1;
    return ms * (k ? k : 1);
}

/* One session: implicit TLS, USER/PASS, RETR 1 of `body_len` octets sent at
 * once in records of `record` octets. Returns the RETR's record. */
static rec fetch_one(size_t body_len, size_t record)
{
    struct event_base *base = event_base_new();
    ck_assert_ptr_nonnull(base);
    p3s *srv = p3s_new(base);
    ck_assert_ptr_nonnull(srv);
    SSL_CTX *ctx = p3s_tls_server_ctx("leaf");
    ck_assert_ptr_nonnull(ctx);
    p3s_tls_implicit(srv, ctx);
    SSL_CTX_free(ctx);
    uint16_t port = p3s_listen(srv, "127.0.0.1");
    ck_assert_uint_ne(port, 0);

    /* Lines of 50 octets ("xxx...x\r\n"), the last one shorter. */
    char *body = malloc(body_len + 1);
    ck_assert_ptr_nonnull(body);
    for (size_t i = 0; i < body_len; i++)
        body[i] = (i % 50 == 48) ? '\r' : (i % 50 == 49) ? '\n' : 'x';
    if (body_len >= 2) {
        body[body_len - 2] = '\r';
        body[body_len - 1] = '\n';
    }
    body[body_len] = '\0';
    char *reply = malloc(body_len + 64);
    ck_assert_ptr_nonnull(reply);
    snprintf(reply, body_len + 64, "+OK %zu octets\r\n%s.\r\n", body_len, body);

    p3s_send(srv, "+OK ready\r\n");
    p3s_expect(srv, "CAPA");
    p3s_send(srv, "+OK\r\nUSER\r\n.\r\n");
    p3s_expect(srv, "USER alice");
    p3s_send(srv, "+OK\r\n");
    p3s_expect(srv, "PASS pw");
    p3s_send(srv, "+OK\r\n");
    p3s_expect(srv, "RETR 1");
    p3s_tls_record_size(srv, record);
    p3s_send(srv, reply);

    pop3a_options *opts = pop3a_options_new();
    ck_assert_ptr_nonnull(opts);
    ck_assert_int_eq(pop3a_options_set_tls(opts, POP3A_TLS_IMPLICIT, NULL), 0);
    ck_assert_int_eq(pop3a_options_set_ca(opts, p3s_cert("ca.pem"), NULL), 0);
    ck_assert_int_eq(pop3a_options_set_timeouts(opts, scaled_ms(5000), scaled_ms(2000)), 0);
    pop3a_client *c = pop3a_client_new(base, NULL, opts);
    ck_assert_ptr_nonnull(c);
    rec conn = {0}, login = {0}, retr = {0};
    ck_assert_ptr_nonnull(pop3a_connect(c, "127.0.0.1", port, on_done, &conn));
    ck_assert_ptr_nonnull(pop3a_login(c, "alice", "pw", POP3A_MECH_USER, on_done, &login));
    ck_assert_ptr_nonnull(pop3a_retr(c, 1, on_chunk, on_done, &retr));
    while (retr.done_calls == 0 && event_base_loop(base, EVLOOP_ONCE) == 0)
        ;
    ck_assert_int_eq(conn.status, POP3A_OK);
    ck_assert_int_eq(login.status, POP3A_OK);
    pop3a_client_free(c);
    pop3a_options_free(opts);
    p3s_free(srv);
    event_base_free(base);
    free(reply);
    free(body);
    return retr;
}

START_TEST(reply_end_in_a_begun_record_is_read)
{
    static const size_t records[] = {700, 1000, 1300, 4096};
    size_t record = records[_i];
    for (size_t len = 30000; len <= 40000; len += 211) {
        rec r = fetch_one(len, record);
        ck_assert_msg(r.done_calls == 1 && r.status == POP3A_OK,
                      "RETR of %zu octets in %zu-octet records: %s after %zu octets", len,
                      record, pop3a_status_name(r.status), r.body_len);
        ck_assert_uint_eq(r.body_len, len);
        ck_assert_int_eq(r.final_seen, 1);
    }
}
END_TEST

int main(void)
{
    if (!p3s_certs_make()) {
        fprintf(stderr, "make-test-certs not found or failed (set POP3A_MAKE_TEST_CERTS)\n");
        return EXIT_FAILURE;
    }
    Suite *s = suite_create("tls_high_water");
    TCase *tc = tcase_create("records");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, reply_end_in_a_begun_record_is_read, 0, 4);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    p3s_certs_remove();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
