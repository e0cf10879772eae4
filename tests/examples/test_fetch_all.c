/*
 * examples/fetch-all against the scripted server: what it stores, what it sends
 * and when, how it fails; TLS. The harness is fetch_all_run.[ch].
 *
 * Usage: test_fetch_all /path/to/fetch-all
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/ssl.h>

#include "fetch_all_run.h"

/* ------------------------------------------------------------------- tests */

/* Both with PIPELINING (all RETRs, then QUIT, in one go) and without, with the
 * replies cut into odd-sized writes. No --delete: a DELE would break the script. */
START_TEST(stores_every_message_unstuffed_then_quits)
{
    int pipelining = _i;
    msg m[MAX_MSGS];
    run r;
    char names[256];
    size_t n = run_init_mailbox(&r, m, pipelining);
    if (!pipelining)
        p3s_write_chunk(r.srv, 1009, 0);
    script_retr_all(r.srv, m, n);
    script_quit(r.srv, "+OK bye\r\n");

    run_fetch(&r, PASSWORD, NULL);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    ck_assert_uint_eq(p3s_bytes_unread(r.srv), 0);
    assert_all_stored(&r, m, n);
    ck_assert_str_eq(r.stderr_text, "");
    list_out(&r, names, sizeof names);
    ck_assert_str_eq(names, "1.eml 2.eml 3.eml 4.eml"); /* no temp file left */
    run_free_mailbox(&r, m, n);
}
END_TEST

START_TEST(delete_sends_dele_only_once_the_file_is_stored)
{
    int pipelining = _i;
    msg m[MAX_MSGS];
    run r;
    char line[32];
    size_t n = run_init_mailbox(&r, m, pipelining);
    script_retr_all(r.srv, m, n);
    r.dele_line = 3 + 1 + n + 1; /* CAPA USER PASS, STAT, the RETRs, then DELE 1 */
    r.dele_count = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(line, sizeof line, "DELE %zu", i + 1);
        p3s_expect(r.srv, line);
        p3s_delay(r.srv, 20); /* time for the poll to look at the file system */
        p3s_send(r.srv, "+OK marked\r\n");
    }
    script_quit(r.srv, "+OK 4 messages deleted\r\n");

    const char *const extra[] = {"--delete", NULL};
    run_fetch(&r, PASSWORD, extra);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    ck_assert_uint_eq(r.dele_checked, n);
    ck_assert_msg(!r.dele_before_file, "DELE arrived before its message file existed");
    assert_all_stored(&r, m, n);
    run_free_mailbox(&r, m, n);
}
END_TEST

START_TEST(drop_mid_retr_fails_and_leaves_no_file_for_that_message)
{
    msg m[MAX_MSGS];
    run r;
    char want[64], names[256];
    size_t n = run_init_mailbox(&r, m, 0);
    script_retr(r.srv, 1, &m[0]);
    p3s_expect(r.srv, "RETR 2");
    p3s_send(r.srv, "+OK message follows\r\nSubject: dots\r\n\r\n..starts with a do");
    p3s_close(r.srv);

    const char *const extra[] = {"--delete", NULL};
    run_fetch(&r, PASSWORD, extra);
    EXIT_IS(&r, 1);
    SCRIPT_DONE(&r);
    snprintf(want, sizeof want, "1 %zu\n", m[0].body_len);
    ck_assert_str_eq(r.stdout_text, want);
    ck_assert_msg(strstr(r.stderr_text, "fetch-all: RETR 2: POP3A_ERR_EOF") != NULL,
                  "stderr: %s", r.stderr_text);
    assert_file(&r, 1, &m[0]);
    list_out(&r, names, sizeof names);
    ck_assert_str_eq(names, "1.eml"); /* neither 2.eml nor .2.eml.tmp */
    run_free_mailbox(&r, m, n);
}
END_TEST

/* RETR 2 (the last) refused after message 1 is stored: its DELE waits for the
 * end of its batch, which never comes, and the fetcher ends without QUIT, which
 * would commit any deletion (RFC 1939 section 6). With PIPELINING every byte the
 * client may send is scripted, so a DELE or QUIT would show as unread. */
START_TEST(retr_error_with_delete_never_quits)
{
    msg m[MAX_MSGS];
    size_t n = make_mailbox(m);
    run r;
    run_init(&r);
    script_login(r.srv, 1);
    script_stat(r.srv, m, 2);
    script_retr(r.srv, 1, &m[0]);
    p3s_expect(r.srv, "RETR 2");
    p3s_send(r.srv, "-ERR [SYS/TEMP] message 2 is locked\r\n");

    const char *const extra[] = {"--delete", NULL};
    run_fetch(&r, PASSWORD, extra);
    EXIT_IS(&r, 1);
    SCRIPT_DONE(&r);
    ck_assert_msg(p3s_bytes_unread(r.srv) == 0, "%zu bytes after the refusal (DELE? QUIT?)",
                  p3s_bytes_unread(r.srv));
    ck_assert_int_eq(p3s_peer_closed(r.srv), 1);
    ck_assert_msg(strstr(r.stderr_text, "RETR 2: POP3A_ERR_SERVER [SYS/TEMP] message 2 is locked"),
                  "stderr: %s", r.stderr_text);
    assert_file(&r, 1, &m[0]);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* More messages than one DELE batch (64), the 66th refused. The first 64 are
 * stored, then marked with DELE, each only once its file exists; the 65th is
 * stored but its batch never completes, so it is not marked; and no QUIT. */
START_TEST(delete_marks_stored_batches_only)
{
    enum { N = 70, BATCH = 64, REFUSED = 66 };
    msg m[MAX_MSGS];
    size_t n = make_mailbox(m);
    run r;
    char line[64];
    run_init(&r);
    script_login(r.srv, 1);
    p3s_expect(r.srv, "STAT");
    snprintf(line, sizeof line, "+OK %d %d\r\n", N, N * 100);
    p3s_send(r.srv, line);
    for (size_t i = 1; i <= BATCH; i++)
        script_retr(r.srv, i, &m[(i - 1) % n]);
    for (size_t i = BATCH + 1; i <= N; i++) {
        snprintf(line, sizeof line, "RETR %zu", i);
        p3s_expect(r.srv, line);
    }
    r.dele_line = 3 + 1 + N + 1; /* CAPA USER PASS, STAT, the RETRs, then DELE 1 */
    r.dele_count = BATCH;
    /* RETR 65's status line proves that RETR 64's terminator was its end (no
     * size was announced): only then is message 64 stored and the batch marked. */
    p3s_send(r.srv, "+OK message follows\r\n");
    for (size_t i = 1; i <= BATCH; i++) {
        snprintf(line, sizeof line, "DELE %zu", i);
        p3s_expect(r.srv, line);
    }
    p3s_send_bytes(r.srv, m[(BATCH) % n].wire, m[(BATCH) % n].wire_len);
    p3s_delay(r.srv, 100); /* time for a DELE 65 to go out, were it sent */
    p3s_send(r.srv, "-ERR no such message\r\n");

    const char *const extra[] = {"--delete", NULL};
    run_fetch(&r, PASSWORD, extra);
    EXIT_IS(&r, 1);
    SCRIPT_DONE(&r);
    ck_assert_msg(p3s_bytes_unread(r.srv) == 0, "%zu bytes after DELE %d (DELE %d? QUIT?)",
                  p3s_bytes_unread(r.srv), BATCH, BATCH + 1);
    ck_assert_uint_eq(r.dele_checked, BATCH);
    ck_assert_msg(!r.dele_before_file, "DELE arrived before its message file existed");
    snprintf(line, sizeof line, "RETR %d: POP3A_ERR_SERVER", REFUSED);
    ck_assert_msg(strstr(r.stderr_text, line) != NULL, "stderr: %s", r.stderr_text);
    for (size_t i = 1; i < REFUSED; i++)
        assert_file(&r, i, &m[(i - 1) % n]);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* A server that advertises PIPELINING and drops the connection in the middle
 * of the pipelined RETRs: fetch-all keeps message 1, reconnects once with
 * pipelining off (PASS after USER's reply, then one command at a time) and
 * fetches 2..4. With --delete (_i = 1) the second session marks message 1
 * again, since the first one's marks were never committed (no QUIT). */
START_TEST(drop_while_pipelining_retries_once_without)
{
    int delete_after = _i;
    msg m[MAX_MSGS];
    size_t n = make_mailbox(m);
    run r;
    char names[256], line[32];
    run_init(&r);
    p3s *again = p3s_new(r.base);
    ck_assert_ptr_nonnull(again);
    p3s_hand_over(r.srv, again);
    script_login(r.srv, 1);
    script_stat(r.srv, m, n);
    script_retr(r.srv, 1, &m[0]);
    for (size_t i = 2; i <= n; i++) {
        snprintf(line, sizeof line, "RETR %zu", i);
        p3s_expect(r.srv, line);
    }
    p3s_send(r.srv, "+OK message follows\r\nSubject: cut\r\n");
    p3s_close(r.srv);

    script_login(again, 1); /* PIPELINING still offered; not used */
    script_stat(again, m, n);
    if (delete_after) {
        p3s_expect(again, "DELE 1");
        p3s_send(again, "+OK marked\r\n");
    }
    for (size_t i = 2; i <= n; i++) {
        snprintf(line, sizeof line, "RETR %zu", i);
        p3s_expect(again, line);
        p3s_expect_silence(again, 50); /* nothing pipelined behind it */
        p3s_send(again, "+OK message follows\r\n");
        p3s_send_bytes(again, m[i - 1].wire, m[i - 1].wire_len);
    }
    for (size_t i = 2; delete_after && i <= n; i++) {
        snprintf(line, sizeof line, "DELE %zu", i);
        p3s_expect(again, line);
        p3s_send(again, "+OK marked\r\n");
    }
    script_quit(again, "+OK bye\r\n");

    const char *const extra[] = {delete_after ? "--delete" : NULL, NULL};
    run_fetch(&r, PASSWORD, extra);
    ck_assert_msg(p3s_error(again) == NULL, "second script: %s", p3s_error(again));
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    ck_assert_msg(p3s_done(again), "second script did not run to its end");
    ck_assert_msg(strstr(r.stderr_text, "retrying once without pipelining") != NULL,
                  "stderr: %s", r.stderr_text);
    assert_all_stored(&r, m, n);
    list_out(&r, names, sizeof names);
    ck_assert_str_eq(names, "1.eml 2.eml 3.eml 4.eml");
    p3s_free(again);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* Without PIPELINING a drop is not the server's pipelining failing: no retry. */
START_TEST(drop_without_pipelining_is_not_retried)
{
    msg m[MAX_MSGS];
    size_t n = make_mailbox(m);
    run r;
    run_init(&r);
    p3s *again = p3s_new(r.base);
    ck_assert_ptr_nonnull(again);
    p3s_hand_over(r.srv, again);
    script_login(r.srv, 0);
    script_stat(r.srv, m, n);
    p3s_expect(r.srv, "RETR 1");
    p3s_close(r.srv);

    run_fetch(&r, PASSWORD, NULL);
    EXIT_IS(&r, 1);
    SCRIPT_DONE(&r);
    ck_assert_msg(!p3s_connected(again), "fetch-all reconnected");
    ck_assert_msg(strstr(r.stderr_text, "RETR 1: POP3A_ERR_EOF") != NULL, "stderr: %s",
                  r.stderr_text);
    p3s_free(again);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* The temp name of message 2 is taken by a directory: open fails, the fetcher
 * stops, message 1 is kept and nothing further is sent (no DELE 1: without
 * pipelining it would follow RETR 2's reply, which the abort cut off). */
START_TEST(unwritable_message_stops_before_any_dele)
{
    msg m[MAX_MSGS];
    run r;
    char names[256];
    size_t n = run_init_mailbox(&r, m, 0);
    ck_assert_int_eq(mkdir(path_in(r.out, ".2.eml.tmp"), 0700), 0);
    script_retr(r.srv, 1, &m[0]);
    script_retr(r.srv, 2, &m[1]);

    const char *const extra[] = {"--delete", NULL};
    run_fetch(&r, PASSWORD, extra);
    EXIT_IS(&r, 1);
    ck_assert_msg(p3s_error(r.srv) == NULL, "script: %s", p3s_error(r.srv));
    ck_assert_uint_eq(p3s_bytes_unread(r.srv), 0);
    ck_assert_msg(strstr(r.stderr_text, "/.2.eml.tmp: ") != NULL, "stderr: %s", r.stderr_text);
    assert_file(&r, 1, &m[0]);
    list_out(&r, names, sizeof names);
    ck_assert_str_eq(names, ".2.eml.tmp 1.eml");
    run_free_mailbox(&r, m, n);
}
END_TEST

START_TEST(pass_refused_fails_with_the_server_text)
{
    run r;
    char names[256];
    run_init(&r);
    p3s_send(r.srv, "+OK test POP3 server ready\r\n");
    p3s_expect(r.srv, "CAPA");
    p3s_send(r.srv, "+OK\r\nUSER\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n.\r\n");
    p3s_expect(r.srv, "USER alice");
    p3s_send(r.srv, "+OK\r\n");
    p3s_expect(r.srv, "PASS wrong");
    p3s_send(r.srv, "-ERR [AUTH] invalid user or password\r\n");

    run_fetch(&r, "wrong", NULL);
    EXIT_IS(&r, 1);
    SCRIPT_DONE(&r);
    ck_assert_msg(strstr(r.stderr_text, "fetch-all: login: POP3A_ERR_AUTH") == r.stderr_text,
                  "stderr: %s", r.stderr_text);
    ck_assert_msg(strstr(r.stderr_text, "invalid user or password") != NULL, "stderr: %s",
                  r.stderr_text);
    ck_assert_str_eq(r.stdout_text, "");
    list_out(&r, names, sizeof names);
    ck_assert_str_eq(names, "");
    run_free(&r);
}
END_TEST

/* --tls stls and a server without STLS: a hard error before any credential. */
START_TEST(stls_required_but_missing_sends_no_password)
{
    run r;
    run_init(&r);
    p3s_send(r.srv, "+OK test POP3 server ready\r\n");
    p3s_expect(r.srv, "CAPA");
    p3s_send(r.srv, "+OK\r\nUSER\r\n.\r\n");

    const char *const extra[] = {"--tls", "stls", NULL};
    run_fetch(&r, PASSWORD, extra);
    EXIT_IS(&r, 1);
    SCRIPT_DONE(&r);
    /* At most a polite QUIT; never "USER alice". */
    ck_assert_msg(p3s_bytes_unread(r.srv) == 0 || p3s_bytes_unread(r.srv) == strlen("QUIT\r\n"),
                  "%zu bytes after CAPA", p3s_bytes_unread(r.srv));
    ck_assert_msg(strstr(r.stderr_text, "fetch-all: connect: POP3A_ERR_TLS_REQUIRED") != NULL,
                  "stderr: %s", r.stderr_text);
    run_free(&r);
}
END_TEST

/* A server that accepts and never greets: --timeout 1 bounds the wait. */
START_TEST(silent_server_times_out_after_the_given_timeout)
{
    run r;
    struct timespec t0, t1;
    const char *const extra[] = {"--timeout", "1", NULL};
    run_init(&r);
    p3s_expect_silence(r.srv, 10000);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run_fetch(&r, PASSWORD, extra);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    EXIT_IS(&r, 1);
    ck_assert_msg(strstr(r.stderr_text, "fetch-all: connect: POP3A_ERR_TIMEOUT") != NULL,
                  "stderr: %s", r.stderr_text);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    ck_assert_msg(secs > 0.8 && secs < 4.0, "gave up after %.2f s, want about 1", secs);
    run_free(&r);
}
END_TEST

/* Usage errors exit 2 before connecting; the password is never echoed. */
START_TEST(usage_errors_exit_2_without_connecting)
{
    static const struct {
        const char *password; /* NULL: variable unset */
        const char *extra[3];
    } cases[] = {
        {NULL, {NULL}},
        {"", {NULL}},
        {PASSWORD, {"--tls", "smtp", NULL}},
        {PASSWORD, {"--port", "70000", NULL}},
        {PASSWORD, {"--timeout", "soon", NULL}},
        {PASSWORD, {"--bogus", NULL}},
        {PASSWORD, {"--out", NULL}}, /* the last option lacks its value */
    };
    run r;
    run_init(&r);
    run_fetch(&r, cases[_i].password, cases[_i].extra);
    EXIT_IS(&r, 2);
    ck_assert_int_eq(p3s_connected(r.srv), 0);
    ck_assert_msg(strstr(r.stderr_text, "fetch-all: ") == r.stderr_text, "stderr: %s",
                  r.stderr_text);
    ck_assert_ptr_null(strstr(r.stderr_text, PASSWORD));
    run_free(&r);
}
END_TEST

/* ------------------------------------------------------------------ TLS */

/* The server side of --tls implicit (_i 0: POP3S from the first byte) or --tls
 * stls (_i 1: STLS, then CAPA again, RFC 2595 section 4), up to the handshake. */
static void script_tls_start(p3s *s, int stls)
{
    SSL_CTX *ctx = p3s_tls_server_ctx("leaf");
    ck_assert_ptr_nonnull(ctx);
    if (!stls) {
        p3s_tls_implicit(s, ctx);
    } else {
        p3s_send(s, "+OK test POP3 server ready\r\n");
        p3s_expect(s, "CAPA");
        p3s_send(s, "+OK\r\nSTLS\r\nUSER\r\n.\r\n");
        p3s_expect(s, "STLS");
        p3s_send(s, "+OK Begin TLS\r\n");
        p3s_start_tls(s, ctx);
    }
    SSL_CTX_free(ctx);
}

/* A verified TLS session with the test CA: every message stored, QUIT sent. */
START_TEST(tls_with_ca_file_fetches_every_message)
{
    int stls = _i;
    msg m[MAX_MSGS];
    size_t n = make_mailbox(m);
    run r;
    run_init(&r);
    script_tls_start(r.srv, stls);
    if (stls) { /* CAPA again under TLS; the greeting came before STLS */
        p3s_expect(r.srv, "CAPA");
        p3s_send(r.srv, "+OK\r\nUSER\r\nPIPELINING\r\n.\r\n");
        p3s_expect(r.srv, "USER alice");
        p3s_send(r.srv, "+OK\r\n");
        p3s_expect(r.srv, "PASS " PASSWORD);
        p3s_send(r.srv, "+OK logged in\r\n");
    } else {
        script_login(r.srv, 1);
    }
    script_stat(r.srv, m, n);
    script_retr_all(r.srv, m, n);
    script_quit(r.srv, "+OK bye\r\n");

    const char *const extra[] = {"--tls", stls ? "stls" : "implicit", "--ca-file",
                                 p3s_cert("ca.pem"), NULL};
    run_fetch(&r, PASSWORD, extra);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    ck_assert_int_eq(p3s_tls_handshake_done(r.srv), 1);
    assert_all_stored(&r, m, n);
    ck_assert_str_eq(r.stderr_text, "");
    run_free_mailbox(&r, m, n);
}
END_TEST

/* Without --ca-file the system store does not know the test CA: the connect
 * fails with POP3A_ERR_TLS and no credential is sent. */
START_TEST(tls_without_ca_file_fails_before_the_password)
{
    int stls = _i;
    run r;
    run_init(&r);
    script_tls_start(r.srv, stls);
    p3s_expect_eof(r.srv);

    const char *const extra[] = {"--tls", stls ? "stls" : "implicit", NULL};
    run_fetch(&r, PASSWORD, extra);
    EXIT_IS(&r, 1);
    SCRIPT_DONE(&r);
    ck_assert_msg(strstr(r.stderr_text, "fetch-all: connect: POP3A_ERR_TLS") == r.stderr_text,
                  "stderr: %s", r.stderr_text);
    ck_assert_int_eq(p3s_tls_handshake_done(r.srv), 0);
    /* Nothing (implicit) or just "CAPA\r\nSTLS\r\n" in clear: never USER or PASS. */
    ck_assert_uint_eq(p3s_bytes_received(r.srv), stls ? 12u : 0u);
    ck_assert_str_eq(r.stdout_text, "");
    ck_assert_ptr_null(strstr(r.stderr_text, PASSWORD));
    run_free(&r);
}
END_TEST

START_TEST(help_prints_usage_and_exits_0)
{
    run r;
    const char *const extra[] = {"--help", NULL};
    run_init(&r);
    run_fetch(&r, PASSWORD, extra);
    EXIT_IS(&r, 0);
    ck_assert_msg(strstr(r.stdout_text, "usage: fetch-all --host H") == r.stdout_text,
                  "stdout: %s", r.stdout_text);
    ck_assert_int_eq(p3s_connected(r.srv), 0);
    run_free(&r);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s /path/to/fetch-all\n", argv[0]);
        return 2;
    }
    fetch_all_path = argv[1];
    if (!p3s_certs_make()) {
        fprintf(stderr, "test_fetch_all: make-test-certs not found or failed "
                        "(set POP3A_MAKE_TEST_CERTS)\n");
        return 1;
    }
    Suite *s = suite_create("fetch_all");
    TCase *tc = tcase_create("fetch_all");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, stores_every_message_unstuffed_then_quits, 0, 2);
    tcase_add_loop_test(tc, delete_sends_dele_only_once_the_file_is_stored, 0, 2);
    tcase_add_test(tc, drop_mid_retr_fails_and_leaves_no_file_for_that_message);
    tcase_add_test(tc, retr_error_with_delete_never_quits);
    tcase_add_test(tc, delete_marks_stored_batches_only);
    tcase_add_loop_test(tc, drop_while_pipelining_retries_once_without, 0, 2);
    tcase_add_test(tc, drop_without_pipelining_is_not_retried);
    tcase_add_test(tc, unwritable_message_stops_before_any_dele);
    tcase_add_test(tc, pass_refused_fails_with_the_server_text);
    tcase_add_test(tc, stls_required_but_missing_sends_no_password);
    tcase_add_test(tc, silent_server_times_out_after_the_given_timeout);
    tcase_add_loop_test(tc, usage_errors_exit_2_without_connecting, 0, 7);
    tcase_add_test(tc, help_prints_usage_and_exits_0);
    tcase_add_loop_test(tc, tls_with_ca_file_fetches_every_message, 0, 2);
    tcase_add_loop_test(tc, tls_without_ca_file_fails_before_the_password, 0, 2);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV); /* CK_VERBOSITY, default normal */
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    p3s_certs_remove();
    return failed == 0 ? 0 : 1;
}
