/*
 * RFC 2449 section 6.6 PIPELINING: commands go out without waiting when (and
 * only when) the server advertises it, up to the window; replies are matched in
 * order however the bytes are split or coalesced; a drop fails every pending
 * future exactly once.
 */
#include "session_test.h"

/* Bodies with the awkward parts: stuffed dots, "\r\n." inside, a lone dot line. */
static const char *const wire_bodies[] = {
    "Subject: 1\r\n\r\n..dot\r\n",
    "Subject: 2\r\n\r\n...\r\n..\r\nx.\r\n",
    "Subject: 3\r\n\r\n\r\n.. \r\nend\r\n",
    "Subject: 4\r\n\r\nplain\r\n",
    "Subject: 5\r\n\r\n..\r\n",
};
static const char *const bodies[] = {
    "Subject: 1\r\n\r\n.dot\r\n",
    "Subject: 2\r\n\r\n..\r\n.\r\nx.\r\n",
    "Subject: 3\r\n\r\n\r\n. \r\nend\r\n",
    "Subject: 4\r\n\r\nplain\r\n",
    "Subject: 5\r\n\r\n.\r\n",
};
#define NBODIES 5

static void send_retr(p3s *s, size_t i)
{
    send_multiline(s, "+OK\r\n", wire_bodies[i]);
}

static void expect_retrs(p3s *s, size_t from, size_t to)
{
    for (size_t i = from; i <= to; i++) {
        char line[32];
        snprintf(line, sizeof line, "RETR %zu", i);
        p3s_expect(s, line);
    }
}

/* Logs in, then queues RETR 1..n with recorders r[0..n-1] (ids 0..n-1). */
static void login_and_retr(tu_env *e, tu_rec *r, size_t n, tu_order *order)
{
    session_logged_in(e);
    for (size_t i = 0; i < n; i++) {
        tu_rec_init(&r[i], (int)i, order);
        ck_assert_ptr_nonnull(pop3a_retr(e->client, (uint32_t)i + 1, tu_chunk, tu_done, &r[i]));
    }
}

static void check_retrs(tu_rec *r, size_t n, const tu_order *order)
{
    for (size_t i = 0; i < n; i++) {
        ASSERT_ONCE(r[i]);
        ASSERT_OK(r[i]);
        ASSERT_BODY(r[i], bodies[i % NBODIES]);
        ck_assert_uint_eq(r[i].msg, i + 1);
        ck_assert_int_eq(order->seq[i], (int)i);
        tu_rec_clear(&r[i]);
    }
}

/* The common run once the script is written: log in, RETR 1..n, wait for all n,
 * the whole script ran, every body right and in order; frees the environment. */
static void run_retrs_and_check(tu_env *e, size_t n)
{
    tu_order order = {0};
    tu_rec *r = calloc(n, sizeof *r);
    ck_assert_ptr_nonnull(r);
    login_and_retr(e, r, n, &order);
    WAIT_COUNT(e, &order.n, (int)n);
    SCRIPT_DONE(e->srv);
    check_retrs(r, n, &order);
    free(r);
    tu_env_free(e);
}

/* The scripted server reads all three RETRs before it answers any. */
START_TEST(pipelined_retrs_sent_before_any_reply)
{
    tu_env e;
    env_init_login_script(&e, CAPA_PIPELINING);
    expect_retrs(e.srv, 1, 3);
    for (size_t i = 0; i < 3; i++)
        send_retr(e.srv, i);
    run_retrs_and_check(&e, 3);
}
END_TEST

/* A mixed pipelined batch, answered in one stream cut into n-byte writes for every
 * n from 1 to 7 (and whole): replies split and coalesced at every boundary. */
START_TEST(pipelined_replies_split_and_coalesced)
{
    for (size_t n = 0; n <= 7; n++) {
        tu_env e;
        env_init_login_script(&e, CAPA_PIPELINING);
        static const char *const lines[] = {"RETR 1", "LIST", "RETR 2", "UIDL 2",
                                            "STAT",   "DELE 1", "RETR 3", "NOOP"};
        for (size_t i = 0; i < 8; i++)
            p3s_expect(e.srv, lines[i]);
        p3s_write_chunk(e.srv, n, 0);
        send_retr(e.srv, 0);
        p3s_send(e.srv, "+OK 2 messages\r\n1 10\r\n2 20\r\n.\r\n");
        send_retr(e.srv, 1);
        p3s_send(e.srv, "+OK 2 uid-two\r\n");
        p3s_send(e.srv, "+OK 2 30\r\n");
        p3s_send(e.srv, "+OK message 1 deleted\r\n");
        send_retr(e.srv, 2);
        p3s_send(e.srv, "+OK\r\n");

        tu_order order = {0};
        tu_rec r[8];
        for (int i = 0; i < 8; i++)
            tu_rec_init(&r[i], i, &order);
        session_logged_in(&e);
        ck_assert_ptr_nonnull(pop3a_retr(e.client, 1, tu_chunk, tu_done, &r[0]));
        ck_assert_ptr_nonnull(pop3a_list(e.client, 0, tu_done, &r[1]));
        ck_assert_ptr_nonnull(pop3a_retr(e.client, 2, tu_chunk, tu_done, &r[2]));
        ck_assert_ptr_nonnull(pop3a_uidl(e.client, 2, tu_done, &r[3]));
        ck_assert_ptr_nonnull(pop3a_stat(e.client, tu_done, &r[4]));
        ck_assert_ptr_nonnull(pop3a_dele(e.client, 1, tu_done, &r[5]));
        ck_assert_ptr_nonnull(pop3a_retr(e.client, 3, tu_chunk, tu_done, &r[6]));
        ck_assert_ptr_nonnull(pop3a_noop(e.client, tu_done, &r[7]));
        WAIT_COUNT(&e, &order.n, 8);
        SCRIPT_DONE(e.srv);
        for (int i = 0; i < 8; i++) {
            ck_assert_msg(order.seq[i] == i, "chunk %zu: completion %d was %d", n, i,
                          order.seq[i]);
            ASSERT_ONCE_OK(r[i]);
        }
        ASSERT_BODY(r[0], bodies[0]);
        ASSERT_BODY(r[2], bodies[1]);
        ASSERT_BODY(r[6], bodies[2]);
        ck_assert_uint_eq(r[1].count, 2);
        ck_assert_uint_eq(r[1].entry_size[1], 20);
        ck_assert_str_eq(r[3].entry_uid[0], "uid-two");
        ck_assert_uint_eq(r[4].stat_count, 2);
        ck_assert_uint_eq(r[4].stat_octets, 30);
        for (int i = 0; i < 8; i++)
            tu_rec_clear(&r[i]);
        tu_env_free(&e);
    }
}
END_TEST

/* The connection drops with five RETRs in flight: the first (whole) succeeds, the
 * cut one and the three never answered fail, each exactly once; no final chunk
 * for any of them; one close callback. */
START_TEST(mid_window_drop_fails_pending_once)
{
    tu_env e;
    env_init_login_script(&e, CAPA_PIPELINING);
    expect_retrs(e.srv, 1, 5);
    send_retr(e.srv, 0);
    p3s_send(e.srv, "+OK\r\nSubject: 2\r\n\r\nhalf of it\r\n");
    p3s_close(e.srv);
    tu_order order = {0};
    tu_rec r[5];
    login_and_retr(&e, r, 5, &order);
    WAIT_COUNT(&e, &order.n, 5);
    run_for(e.base, 50);
    SCRIPT_DONE(e.srv);
    ck_assert_int_eq(order.n, 5);
    ASSERT_OK(r[0]);
    ASSERT_BODY(r[0], bodies[0]);
    for (int i = 0; i < 5; i++) {
        ASSERT_ONCE(r[i]);
        ck_assert_int_eq(order.seq[i], i);
        if (i > 0) {
            ASSERT_STATUS(r[i], POP3A_ERR_EOF);
            ck_assert_int_eq(r[i].final_count, 0);
        }
        tu_rec_clear(&r[i]);
    }
    ck_assert_int_eq(r[2].chunk_calls, 0);
    /* The cut one says why it failed, not the "+OK" it had started with. */
    ck_assert_str_eq(r[1].text, "connection closed by the server before the reply was complete");
    ck_assert_int_eq(e.close_calls, 1);
    tu_env_free(&e);
}
END_TEST

/* One -ERR inside the window fails only its own future. */
START_TEST(error_in_window_fails_only_its_future)
{
    tu_env e;
    env_init_login_script(&e, CAPA_PIPELINING);
    expect_retrs(e.srv, 1, 3);
    send_retr(e.srv, 0);
    p3s_send(e.srv, "-ERR no such message\r\n");
    send_retr(e.srv, 2);
    tu_order order = {0};
    tu_rec r[3];
    login_and_retr(&e, r, 3, &order);
    WAIT_COUNT(&e, &order.n, 3);
    SCRIPT_DONE(e.srv);
    ASSERT_OK(r[0]);
    ASSERT_BODY(r[0], bodies[0]);
    ASSERT_STATUS(r[1], POP3A_ERR_SERVER);
    ck_assert_int_eq(r[1].chunk_calls, 0);
    ASSERT_OK(r[2]);
    ASSERT_BODY(r[2], bodies[2]);
    for (int i = 0; i < 3; i++) {
        ASSERT_ONCE(r[i]);
        ck_assert_int_eq(order.seq[i], i);
        tu_rec_clear(&r[i]);
    }
    tu_env_free(&e);
}
END_TEST

/* One at a time: RETR n+1 is not written before the reply to RETR n is in. */
static void script_one_at_a_time(p3s *s, size_t n)
{
    for (size_t i = 1; i <= n; i++) {
        expect_retrs(s, i, i);
        p3s_expect_silence(s, 100);
        send_retr(s, i - 1);
    }
}

/* No PIPELINING in CAPA (_i 0), or advertised with the window set to 1 (_i 1). */
START_TEST(no_pipelining_without_capability_or_with_window_one)
{
    int window_one = _i;
    tu_env e;
    env_init_login_script(&e, window_one ? CAPA_PIPELINING : CAPA_BASIC);
    if (window_one)
        ck_assert_int_eq(pop3a_options_set_pipelining(e.opts, 1), 0);
    script_one_at_a_time(e.srv, 3);
    run_retrs_and_check(&e, 3);
}
END_TEST

/* Window 2: never more than two commands in flight. */
START_TEST(pipelining_window_is_respected)
{
    tu_env e;
    env_init_login_script(&e, CAPA_PIPELINING);
    ck_assert_int_eq(pop3a_options_set_pipelining(e.opts, 2), 0);
    expect_retrs(e.srv, 1, 2);
    p3s_expect_silence(e.srv, 100);
    send_retr(e.srv, 0);
    expect_retrs(e.srv, 3, 3);
    p3s_expect_silence(e.srv, 100);
    send_retr(e.srv, 1);
    expect_retrs(e.srv, 4, 4);
    send_retr(e.srv, 2);
    send_retr(e.srv, 3);
    run_retrs_and_check(&e, 4);
}
END_TEST

/* Answers RETR from..to (1-based) with the bodies the checks expect. */
static void send_retrs(p3s *s, size_t from, size_t to)
{
    for (size_t i = from; i <= to; i++)
        send_retr(s, (i - 1) % NBODIES);
}

/* Window 8 with hysteresis: a full window is refilled only once half of it is
 * answered (4 owed), and then up to 8 again at once; not one command per reply. */
START_TEST(window_refills_after_half_drained)
{
    enum { N = 14 };
    tu_env e;
    env_init_login_script(&e, CAPA_PIPELINING);
    ck_assert_int_eq(pop3a_options_set_pipelining(e.opts, 8), 0);
    expect_retrs(e.srv, 1, 8);
    p3s_expect_silence(e.srv, 100);
    send_retrs(e.srv, 1, 3); /* 5 owed: still more than half */
    p3s_expect_silence(e.srv, 150);
    send_retrs(e.srv, 4, 4); /* 4 owed: refill to 8 */
    expect_retrs(e.srv, 9, 12);
    p3s_expect_silence(e.srv, 100);
    send_retrs(e.srv, 5, 8);
    expect_retrs(e.srv, 13, 14);
    send_retrs(e.srv, 9, 14);
    run_retrs_and_check(&e, N);
}
END_TEST

/* QUIT goes out right behind pipelined commands (no round trip to wait for their
 * replies), but nothing is ever written after it: the NOOP submitted later is
 * refused once the session has ended. */
START_TEST(quit_ends_a_pipelined_batch)
{
    tu_env e;
    env_init_login_script(&e, CAPA_PIPELINING);
    expect_retrs(e.srv, 1, 2);
    p3s_expect(e.srv, "QUIT");
    p3s_expect_silence(e.srv, 100);
    send_retrs(e.srv, 1, 2);
    p3s_send(e.srv, "+OK bye\r\n");
    p3s_expect_eof(e.srv);
    tu_order order = {0};
    tu_rec r[2], quit, noop;
    login_and_retr(&e, r, 2, &order);
    RECS_INIT(&order, 2, &quit, &noop);
    ck_assert_ptr_nonnull(pop3a_quit(e.client, tu_done, &quit));
    ck_assert_ptr_nonnull(pop3a_noop(e.client, tu_done, &noop));
    WAIT_COUNT(&e, &order.n, 4);
    WAIT_SCRIPT(&e);
    SCRIPT_DONE(e.srv);
    check_retrs(r, 2, &order);
    ASSERT_ONCE_OK(quit);
    ck_assert_int_eq(order.seq[2], 2);
    ASSERT_ONCE(noop);
    ASSERT_STATUS(noop, POP3A_ERR_STATE);
    tu_env_free(&e);
}
END_TEST

/* Without PIPELINING, QUIT waits for the reply before it like any command. */
START_TEST(quit_waits_without_pipelining)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    script_one_at_a_time(e.srv, 2);
    p3s_expect(e.srv, "QUIT");
    p3s_send(e.srv, "+OK bye\r\n");
    p3s_expect_eof(e.srv);
    tu_order order = {0};
    tu_rec r[2], quit;
    login_and_retr(&e, r, 2, &order);
    tu_rec_init(&quit, 2, &order);
    ck_assert_ptr_nonnull(pop3a_quit(e.client, tu_done, &quit));
    WAIT_COUNT(&e, &order.n, 3);
    WAIT_SCRIPT(&e);
    SCRIPT_DONE(e.srv);
    check_retrs(r, 2, &order);
    ASSERT_OK(quit);
    tu_env_free(&e);
}
END_TEST

/* A server that advertises PIPELINING and answers slowly, in small pieces: every
 * reply still lands on the right future, none times out early. */
START_TEST(slow_pipelining_server)
{
    tu_env e;
    env_init_login_script(&e, CAPA_PIPELINING);
    pop3a_options_set_timeouts(e.opts, 3000, 1000);
    expect_retrs(e.srv, 1, 5);
    p3s_write_chunk(e.srv, 5, 3);
    for (size_t i = 0; i < 5; i++) {
        p3s_delay(e.srv, 60);
        send_retr(e.srv, i);
    }
    run_retrs_and_check(&e, 5);
}
END_TEST

/* A big batch through pop3a_retr_many: all 40 commands are out before any reply
 * (window 64), then 40 replies of 20 KiB come back-to-back. */
START_TEST(retr_many_batch_pipelined)
{
    enum { N = 40, SIZE = 20 * 1024 };
    tu_env e;
    env_init_login_script(&e, CAPA_PIPELINING);
    expect_retrs(e.srv, 1, N);
    char *body = malloc(SIZE + 1);
    ck_assert_ptr_nonnull(body);
    for (size_t i = 0; i < SIZE; i++)
        body[i] = (i % 64 == 62) ? '\r' : (i % 64 == 63) ? '\n' : (char)('a' + i % 26);
    body[SIZE] = '\0';
    for (int i = 0; i < N; i++)
        send_multiline(e.srv, "+OK\r\n", body);
    tu_rec all;
    tu_rec_init(&all, 0, NULL);
    session_logged_in(&e);
    uint32_t msgs[N];
    for (uint32_t i = 0; i < N; i++)
        msgs[i] = i + 1;
    /* One recorder for the whole batch: bodies concatenate, done counts up. */
    ck_assert_uint_eq(pop3a_retr_many(e.client, msgs, N, tu_chunk, tu_done, &all), N);
    WAIT_COUNT(&e, &all.done_calls, N);
    SCRIPT_DONE(e.srv);
    ck_assert_int_eq(all.done_calls, N);
    ck_assert_int_eq(all.final_count, N);
    ck_assert_uint_eq(all.body_len, (size_t)N * SIZE);
    for (int i = 0; i < N; i++)
        ck_assert(memcmp(all.body + (size_t)i * SIZE, body, SIZE) == 0);
    ASSERT_OK(all); /* the last one */
    free(body);
    tu_rec_clear(&all);
    tu_env_free(&e);
}
END_TEST

/* pop3a_dele_many: every DELE is out before any reply; a -ERR fails only its
 * own future; no list at all is refused with INVALID and queues nothing. */
START_TEST(dele_many_pipelined_each_with_its_own_result)
{
    tu_env e;
    env_init_login_script(&e, CAPA_PIPELINING);
    p3s_expect(e.srv, "DELE 1");
    p3s_expect(e.srv, "DELE 2");
    p3s_expect(e.srv, "DELE 3");
    p3s_send(e.srv, "+OK 1 deleted\r\n-ERR message 2 already deleted\r\n+OK 3 deleted\r\n");
    tu_order order = {0};
    tu_rec r[3];
    for (int i = 0; i < 3; i++)
        tu_rec_init(&r[i], i, &order);
    session_logged_in(&e);
    ck_assert_uint_eq(pop3a_dele_many(e.client, NULL, 2, tu_done, &r[0]), 0);
    ck_assert_int_eq(pop3a_client_error(e.client), POP3A_ERR_INVALID);
    static const uint32_t msgs[] = {1, 2, 3};
    /* One call per future here, to tell the three results apart. */
    for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(pop3a_dele_many(e.client, &msgs[i], 1, tu_done, &r[i]), 1);
    WAIT_COUNT(&e, &order.n, 3);
    SCRIPT_DONE(e.srv);
    for (int i = 0; i < 3; i++) {
        ASSERT_ONCE(r[i]);
        ck_assert_int_eq(order.seq[i], i);
    }
    ASSERT_OK(r[0]);
    ASSERT_STATUS(r[1], POP3A_ERR_SERVER);
    ck_assert_str_eq(r[1].text, "message 2 already deleted");
    ASSERT_OK(r[2]);
    tu_env_free(&e);
}
END_TEST

/* A server that stops reading with a huge window in flight: 20000 commands
 * (240 KB) fill the socket buffers, so the client's writes block, and nothing is
 * answered. The idle timeout ends it; every future fails exactly once. */
START_TEST(stuck_server_with_full_window_times_out)
{
    enum { N = 20000 };
    tu_env e;
    env_init_login_script(&e, CAPA_PIPELINING);
    pop3a_options_set_timeouts(e.opts, 3000, 300);
    ck_assert_int_eq(pop3a_options_set_pipelining(e.opts, N), 0);
    p3s_stop_reading(e.srv);
    tu_rec all;
    tu_rec_init(&all, 0, NULL);
    session_logged_in(&e);
    uint32_t *msgs = malloc(N * sizeof *msgs);
    ck_assert_ptr_nonnull(msgs);
    for (uint32_t i = 0; i < N; i++)
        msgs[i] = i + 1;
    ck_assert_uint_eq(pop3a_retr_many(e.client, msgs, N, tu_chunk, tu_done, &all), N);
    free(msgs);
    WAIT_COUNT(&e, &all.done_calls, N);
    run_for(e.base, 20);
    ck_assert_int_eq(all.done_calls, N);
    ck_assert_int_eq(all.chunk_calls, 0);
    ASSERT_STATUS(all, POP3A_ERR_TIMEOUT);
    ck_assert_int_eq(e.close_calls, 1);
    ck_assert_int_eq(e.close_why, POP3A_ERR_TIMEOUT);
    tu_env_free(&e);
}
END_TEST

static Suite *pipelining_suite(void)
{
    Suite *s = suite_create("pipelining");
    TCase *tc = tcase_create("pipelining");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, pipelined_retrs_sent_before_any_reply);
    tcase_add_test(tc, pipelined_replies_split_and_coalesced);
    tcase_add_test(tc, mid_window_drop_fails_pending_once);
    tcase_add_test(tc, error_in_window_fails_only_its_future);
    tcase_add_loop_test(tc, no_pipelining_without_capability_or_with_window_one, 0, 2);
    tcase_add_test(tc, pipelining_window_is_respected);
    tcase_add_test(tc, window_refills_after_half_drained);
    tcase_add_test(tc, quit_ends_a_pipelined_batch);
    tcase_add_test(tc, quit_waits_without_pipelining);
    tcase_add_test(tc, slow_pipelining_server);
    tcase_add_test(tc, retr_many_batch_pipelined);
    tcase_add_test(tc, dele_many_pipelined_each_with_its_own_result);
    tcase_add_test(tc, stuck_server_with_full_window_times_out);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(pipelining_suite());
}
