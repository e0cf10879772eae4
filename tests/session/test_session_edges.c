/*
 * Corners of the contract: callbacks that free or submit while a connection loss
 * is being reported, pause combined with cancel / timeouts / pipelining, replies
 * that look like POP3 but are not, and what the trace must leave out.
 */
#include "session_test.h"

/* Logged in, with STAT answered by the server closing the connection. */
static void logged_in_then_close_at_stat(tu_env *e)
{
    env_init_login_script(e, CAPA_BASIC);
    p3s_expect(e->srv, "STAT");
    p3s_close(e->srv);
}

/* Logs in (recorders set up by the test) and submits STAT on stat, NOOP on noop. */
static void login_and_stat_noop(tu_env *e, tu_rec *stat, tu_rec *noop)
{
    session_logged_in(e);
    ck_assert_ptr_nonnull(pop3a_stat(e->client, tu_done, stat));
    ck_assert_ptr_nonnull(pop3a_noop(e->client, tu_done, noop));
}

/* Logs in and queues RETR 1..n on recorders r[0..n-1] (ids 0..n-1, `order`). */
static void login_and_retr(tu_env *e, tu_rec *r, int n, tu_order *order)
{
    session_logged_in(e);
    for (int i = 0; i < n; i++) {
        tu_rec_init(&r[i], i, order);
        ck_assert_ptr_nonnull(pop3a_retr(e->client, (uint32_t)i + 1, tu_chunk, tu_done, &r[i]));
    }
}

/* Logs in and submits a RETR 1 that pauses itself at its first chunk. */
static void login_and_pause_retr_1(tu_env *e, tu_rec *retr)
{
    session_logged_in(e);
    act_at_chunk(retr, TU_ACT_PAUSE, 1);
    ck_assert_ptr_nonnull(pop3a_retr(e->client, 1, tu_chunk, tu_done, retr));
}

/* Contract 7: every pending future has failed before the close callback runs. */
START_TEST(close_callback_after_pending_futures_failed)
{
    tu_env e;
    logged_in_then_close_at_stat(&e);
    tu_rec stat, noop;
    RECS_INIT(NULL, 2, &stat, &noop);
    stat.watch = noop.watch = &e.close_calls;
    login_and_stat_noop(&e, &stat, &noop);
    WAIT_COUNT(&e, &e.close_calls, 1);
    run_for(e.base, 20);
    ASSERT_ONCE_STATUS(stat, POP3A_ERR_EOF);
    ASSERT_ONCE_STATUS(noop, POP3A_ERR_EOF);
    ck_assert_int_eq(stat.watch_at_done, 0);
    ck_assert_int_eq(noop.watch_at_done, 0);
    ck_assert_int_eq(e.close_calls, 1);
    /* The client survives the loss: it is not freed behind our back. */
    ck_assert_int_eq(pop3a_client_error(e.client), POP3A_ERR_EOF);
    tu_env_free(&e);
}
END_TEST

/* Freeing the client from a done callback while a connection loss is failing a
 * pipelined window: each future still completes exactly once. */
START_TEST(free_inside_done_during_connection_loss)
{
    tu_env e;
    env_init_login_script(&e, CAPA_PIPELINING);
    for (int i = 1; i <= 4; i++) {
        char line[16];
        snprintf(line, sizeof line, "RETR %d", i);
        p3s_expect(e.srv, line);
    }
    send_multiline(e.srv, "+OK\r\n", "one\r\n");
    p3s_close(e.srv);
    tu_order order = {0};
    tu_rec r[4];
    login_and_retr(&e, r, 4, &order);
    r[1].done_action = TU_ACT_FREE_CLIENT;
    r[1].client_slot = &e.client;
    WAIT_COUNT(&e, &order.n, 4);
    run_for(e.base, 20);
    ck_assert_ptr_null(e.client);
    ck_assert_int_eq(order.n, 4);
    ASSERT_OK(r[0]);
    ASSERT_STATUS(r[1], POP3A_ERR_EOF);
    for (int i = 0; i < 4; i++) {
        ASSERT_ONCE(r[i]);
        ck_assert_int_eq(order.seq[i], i);
        /* The sweep under way keeps its reason (contract 6): the connection
         * was lost before the free. */
        if (i >= 2)
            ASSERT_STATUS(r[i], POP3A_ERR_EOF);
        tu_rec_clear(&r[i]);
    }
    tu_env_free(&e);
}
END_TEST

/* A reconnect-style submit from the done callback of a failed future survives
 * the failure sweep and completes once, later. */
START_TEST(submit_inside_done_during_connection_loss)
{
    tu_env e;
    logged_in_then_close_at_stat(&e);
    tu_rec stat, late;
    RECS_INIT(NULL, 2, &stat, &late);
    session_logged_in(&e);
    stat.done_action = TU_ACT_SUBMIT_NOOP;
    stat.submit_rec = &late;
    ck_assert_ptr_nonnull(pop3a_stat(e.client, tu_done, &stat));
    WAIT_DONE(&e, late);
    run_for(e.base, 20);
    ASSERT_STATUS(stat, POP3A_ERR_EOF);
    ck_assert_ptr_nonnull(stat.submitted);
    ASSERT_ONCE_STATUS(late, POP3A_ERR_STATE); /* no connection any more */
    tu_env_free(&e);
}
END_TEST

static void free_on_close(pop3a_client *client, pop3a_status why, void *arg)
{
    tu_env *e = arg;
    e->close_calls++;
    e->close_why = why;
    pop3a_client_free(client);
    e->client = NULL;
}

/* The close callback may free the client. What the lost connection failed
 * keeps its status; a future submitted since (here a NOOP from STAT's done
 * callback, as a reconnect would be) is pending and completes with CLOSED. */
START_TEST(free_inside_close_callback)
{
    tu_env e;
    logged_in_then_close_at_stat(&e);
    tu_rec stat, late;
    RECS_INIT(NULL, 2, &stat, &late);
    session_logged_in(&e);
    pop3a_client_set_close_cb(e.client, free_on_close, &e);
    stat.done_action = TU_ACT_SUBMIT_NOOP;
    stat.submit_rec = &late;
    ck_assert_ptr_nonnull(pop3a_stat(e.client, tu_done, &stat));
    WAIT_COUNT(&e, &e.close_calls, 1);
    run_for(e.base, 20);
    ck_assert_ptr_null(e.client);
    ASSERT_ONCE_STATUS(stat, POP3A_ERR_EOF);
    ck_assert_ptr_nonnull(stat.submitted);
    ASSERT_ONCE_STATUS(late, POP3A_ERR_CLOSED);
    ck_assert_str_eq(late.text, "client freed");
    ck_assert_int_eq(e.close_calls, 1);
    ck_assert_int_eq(e.close_why, POP3A_ERR_EOF);
    tu_env_free(&e);
}
END_TEST

typedef struct {
    tu_env *env;
    pop3a_trace_dir dir; /* free the client when a line of this kind */
    const char *free_on; /* and this text is traced */
    int freed;
} trace_freer;

static void free_on_trace(pop3a_client *client, pop3a_trace_dir dir, const char *line, size_t len,
                          void *arg)
{
    trace_freer *t = arg;
    if (!t->freed && dir == t->dir && len == strlen(t->free_on) &&
        memcmp(line, t->free_on, len) == 0) {
        t->freed = 1;
        pop3a_client_free(client);
        t->env->client = NULL;
    }
}

/* Where the trace callback frees the client, with STAT, RETR 1 and NOOP
 * submitted: as the STAT line is written, as STAT's one-line reply is read
 * (whole, but its done callback not run), and as the note on RETR's body size
 * comes, just before its final chunk would. */
static const struct {
    pop3a_trace_dir dir;
    const char *line;
    pop3a_status stat; /* what STAT ends with */
} trace_frees[] = {
    {POP3A_TRACE_SENT, "STAT", POP3A_ERR_CLOSED},
    {POP3A_TRACE_RECEIVED, "+OK 1 7", POP3A_ERR_CLOSED},
    {POP3A_TRACE_INFO, "(7 body octets)", POP3A_OK},
};

/* "Safe from inside any callback" includes the trace callback: every future
 * whose done callback has not run completes with CLOSED (contract 6), and no
 * chunk comes after the free. */
START_TEST(free_inside_trace_callback)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    trace_freer tf = {&e, trace_frees[_i].dir, trace_frees[_i].line, 0};
    pop3a_options_set_trace(e.opts, free_on_trace, &tf);
    p3s_expect(e.srv, "STAT");
    p3s_send(e.srv, "+OK 1 7\r\n");
    script_retr_1(e.srv, 0, "+OK 7 octets\r\n", "hello\r\n");
    tu_rec stat, retr, noop;
    RECS_INIT(NULL, 2, &stat, &retr, &noop);
    session_logged_in(&e);
    ck_assert_ptr_nonnull(pop3a_stat(e.client, tu_done, &stat));
    ck_assert_ptr_nonnull(pop3a_retr(e.client, 1, tu_chunk, tu_done, &retr));
    ck_assert_ptr_nonnull(pop3a_noop(e.client, tu_done, &noop));
    WAIT_DONE(&e, noop);
    run_for(e.base, 20);
    ck_assert_int_eq(tf.freed, 1);
    ck_assert_ptr_null(e.client);
    ASSERT_ONCE_STATUS(stat, trace_frees[_i].stat);
    ASSERT_ONCE_STATUS(retr, POP3A_ERR_CLOSED);
    ck_assert_str_eq(retr.text, "client freed");
    ck_assert_int_eq(retr.final_count, 0);
    ASSERT_ONCE_STATUS(noop, POP3A_ERR_CLOSED);
    ck_assert_int_eq(e.close_calls, 0);
    tu_rec_clear(&retr);
    tu_env_free(&e);
}
END_TEST

/* Cancelling a paused transfer: CANCELLED, no more chunks, the rest of the reply
 * is drained and the session carries on. */
START_TEST(cancel_paused_transfer)
{
    tu_env e;
    char *body = env_init_chunked_retr_1_then_noop(&e, 400, 700, "+OK\r\n", "+OK after\r\n");
    tu_rec retr, noop;
    session_retr_1_and_noop_acting(&e, &retr, &noop, TU_ACT_PAUSE, 1);
    WAIT_COUNT(&e, &retr.chunk_calls, 1);
    run_for(e.base, 50);
    pop3a_future_cancel(retr.paused);
    ck_assert_int_eq(retr.done_calls, 0); /* never inside the cancel call */
    WAIT_DONE(&e, noop);
    SCRIPT_DONE(e.srv);
    ASSERT_ONCE_STATUS(retr, POP3A_ERR_CANCELLED);
    ck_assert_int_eq(retr.chunk_calls, 1);
    ASSERT_OK(noop);
    ck_assert_str_eq(noop.text, "after");
    free(body);
    tu_rec_clear(&retr);
    tu_env_free(&e);
}
END_TEST

/* The caller's own pause is not server silence: no idle timeout while paused. */
START_TEST(pause_longer_than_idle_timeout)
{
    tu_env e;
    char *body = env_init_retr_1_body(&e, 400, 1000, "+OK\r\n");
    pop3a_options_set_timeouts(e.opts, 3000, 100);
    tu_rec retr;
    tu_rec_init(&retr, 2, NULL);
    login_and_pause_retr_1(&e, &retr);
    WAIT_COUNT(&e, &retr.chunk_calls, 1);
    run_for(e.base, 350);
    ck_assert_msg(retr.done_calls == 0, "paused RETR completed: %s",
                  pop3a_status_name(retr.status));
    ck_assert_int_eq(pop3a_future_resume(retr.paused), 0);
    WAIT_DONE(&e, retr);
    ASSERT_OK(retr);
    ASSERT_BODY(retr, body);
    free(body);
    tu_rec_clear(&retr);
    tu_env_free(&e);
}
END_TEST

/* Pausing the first of three pipelined transfers holds the later ones too (they
 * complete in order), and resume releases all of them. */
START_TEST(pause_inside_pipelined_window)
{
    tu_env e;
    env_init_login_script(&e, CAPA_PIPELINING);
    char *body = make_body(200);
    p3s_expect(e.srv, "RETR 1");
    p3s_expect(e.srv, "RETR 2");
    p3s_expect(e.srv, "RETR 3");
    for (int i = 0; i < 3; i++)
        send_multiline(e.srv, "+OK\r\n", body);
    tu_order order = {0};
    tu_rec r[3];
    login_and_retr(&e, r, 3, &order);
    act_at_chunk(&r[0], TU_ACT_PAUSE, 1);
    WAIT_COUNT(&e, &r[0].chunk_calls, 1);
    run_for(e.base, 100);
    ck_assert_int_eq(order.n, 0);
    ck_assert_int_eq(r[1].chunk_calls, 0);
    ck_assert_int_eq(pop3a_future_resume(r[0].paused), 0);
    WAIT_COUNT(&e, &order.n, 3);
    SCRIPT_DONE(e.srv);
    for (int i = 0; i < 3; i++) {
        ASSERT_ONCE_OK(r[i]);
        ASSERT_BODY(r[i], body);
        ck_assert_int_eq(order.seq[i], i);
        tu_rec_clear(&r[i]);
    }
    free(body);
    tu_env_free(&e);
}
END_TEST

/* Replies that start right but are not valid POP3 results. */
START_TEST(malformed_results_are_protocol_errors)
{
    static const struct {
        const char *what;
        const char *reply;
    } cases[] = {
        {"STAT words", "+OK many some\r\n"},
        {"STAT overflow", "+OK 99999999999999999999 1\r\n"},
        {"LIST bad size", "+OK\r\n1 abc\r\n.\r\n"},
        {"LIST msg past 32 bits", "+OK\r\n4294967296 10\r\n.\r\n"},
        {"LIST msg zero", "+OK\r\n0 10\r\n.\r\n"},
        {"LIST over max entries", "+OK\r\n1 1\r\n2 2\r\n3 3\r\n4 4\r\n.\r\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_env e;
        env_init_login_script(&e, CAPA_BASIC);
        pop3a_options_set_max_listing(e.opts, 3);
        int is_stat = strncmp(cases[i].what, "STAT", 4) == 0;
        p3s_expect(e.srv, is_stat ? "STAT" : "LIST");
        p3s_send(e.srv, cases[i].reply);
        tu_rec r;
        tu_rec_init(&r, 2, NULL);
        session_logged_in(&e);
        if (is_stat)
            ck_assert_ptr_nonnull(pop3a_stat(e.client, tu_done, &r));
        else
            ck_assert_ptr_nonnull(pop3a_list(e.client, 0, tu_done, &r));
        WAIT_DONE(&e, r);
        ck_assert_msg(r.status == POP3A_ERR_PROTOCOL, "%s: %s", cases[i].what,
                      pop3a_status_name(r.status));
        ASSERT_ONCE(r);
        tu_env_free(&e);
    }
}
END_TEST

/* A STAT on the connection caps the listings after it at its count (RFC 1939:
 * no more entries than messages): after "+OK 2 320" a UIDL of 3 entries fails
 * PROTOCOL and the session goes on (_i 0). Without the STAT the same UIDL is
 * fine (_i 1). */
START_TEST(stat_count_caps_the_listings_after_it)
{
    int with_stat = _i == 0;
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    if (with_stat) {
        p3s_expect(e.srv, "STAT");
        p3s_send(e.srv, "+OK 2 320\r\n");
    }
    p3s_expect(e.srv, "UIDL");
    p3s_send(e.srv, "+OK\r\n1 a\r\n2 b\r\n3 c\r\n.\r\n");
    p3s_expect(e.srv, "NOOP");
    p3s_send(e.srv, "+OK\r\n");
    tu_rec stat, uidl, noop;
    RECS_INIT(NULL, 2, &stat, &uidl, &noop);
    session_logged_in(&e);
    if (with_stat)
        ck_assert_ptr_nonnull(pop3a_stat(e.client, tu_done, &stat));
    ck_assert_ptr_nonnull(pop3a_uidl(e.client, 0, tu_done, &uidl));
    ck_assert_ptr_nonnull(pop3a_noop(e.client, tu_done, &noop));
    WAIT_DONE_AND_SCRIPT(&e, noop);
    if (with_stat) {
        ASSERT_ONCE_OK(stat);
        ASSERT_ONCE_STATUS(uidl, POP3A_ERR_PROTOCOL);
        ck_assert_uint_le(uidl.count, 2);
    } else {
        ASSERT_ONCE_OK(uidl);
        ck_assert_uint_eq(uidl.count, 3);
    }
    ASSERT_ONCE_OK(noop);
    tu_env_free(&e);
}
END_TEST

/* Body lines are not traced (header: only status and listing lines). */
START_TEST(trace_leaves_out_message_bodies)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    tu_trace tr = {0};
    pop3a_options_set_trace(e.opts, tu_trace_cb, &tr);
    script_retr_1(e.srv, 0, "+OK\r\n", "Subject: private\r\n\r\nconfidential-body-line\r\n");
    tu_rec retr;
    tu_rec_init(&retr, 2, NULL);
    session_logged_in(&e);
    ck_assert_ptr_nonnull(pop3a_retr(e.client, 1, tu_chunk, tu_done, &retr));
    WAIT_DONE(&e, retr);
    ASSERT_OK(retr);
    ck_assert_msg(tu_trace_has(&tr, "> RETR 1\n"), "trace:\n%s", tr.log);
    ck_assert_msg(!tu_trace_has(&tr, "confidential-body-line"), "body traced:\n%s", tr.log);
    tu_rec_clear(&retr);
    tu_trace_clear(&tr);
    tu_env_free(&e);
}
END_TEST

/* A second attach on a connected client is refused (STATE) and the library still
 * owns (and frees) the bufferevent it was given. */
START_TEST(second_attach_refused)
{
    tu_env e;
    tu_env_init(&e);
    tu_script_greeting_capa(e.srv, PLAIN_GREETING, CAPA_BASIC);
    tu_rec conn, again;
    RECS_INIT(NULL, 0, &conn, &again);
    ck_assert_ptr_nonnull(tu_env_attach(&e, &conn));
    WAIT_DONE(&e, conn);
    p3s *other = p3s_new(e.base);
    ck_assert_ptr_nonnull(other);
    struct bufferevent *bev = p3s_pair(other);
    ck_assert_ptr_nonnull(bev);
    ck_assert_ptr_nonnull(pop3a_attach(e.client, bev, tu_done, &again));
    WAIT_DONE(&e, again);
    ASSERT_ONCE_STATUS(again, POP3A_ERR_STATE);
    WAIT_PEER_CLOSED(&e, other); /* the refused bufferevent was freed */
    ASSERT_OK(conn);
    p3s_free(other);
    tu_env_free(&e);
}
END_TEST

/* Cancelling the attach while the greeting is still on its way. */
START_TEST(cancel_connect_before_greeting)
{
    tu_env e;
    tu_env_init(&e);
    p3s_delay(e.srv, 100);
    p3s_send(e.srv, PLAIN_GREETING);
    tu_rec conn, noop;
    RECS_INIT(NULL, 0, &conn, &noop);
    pop3a_future *f = tu_env_attach(&e, &conn);
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(pop3a_noop(e.client, tu_done, &noop));
    pop3a_future_cancel(f);
    WAIT_DONE(&e, noop);
    run_for(e.base, 150);
    ASSERT_ONCE_STATUS(conn, POP3A_ERR_CANCELLED);
    ASSERT_ONCE(noop);
    /* The attach was cancelled before it started: no session, so no NOOP. */
    ASSERT_STATUS(noop, POP3A_ERR_STATE);
    tu_env_free(&e);
}
END_TEST

static Suite *edges_suite(void)
{
    Suite *s = suite_create("session_edges");
    TCase *tc = tcase_create("edges");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, close_callback_after_pending_futures_failed);
    tcase_add_test(tc, free_inside_done_during_connection_loss);
    tcase_add_test(tc, submit_inside_done_during_connection_loss);
    tcase_add_test(tc, free_inside_close_callback);
    tcase_add_loop_test(tc, free_inside_trace_callback, 0,
                        (int)(sizeof trace_frees / sizeof trace_frees[0]));
    tcase_add_test(tc, cancel_paused_transfer);
    tcase_add_test(tc, pause_longer_than_idle_timeout);
    tcase_add_test(tc, pause_inside_pipelined_window);
    tcase_add_test(tc, malformed_results_are_protocol_errors);
    tcase_add_test(tc, trace_leaves_out_message_bodies);
    tcase_add_loop_test(tc, stat_count_caps_the_listings_after_it, 0, 2);
    tcase_add_test(tc, second_attach_refused);
    tcase_add_test(tc, cancel_connect_before_greeting);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(edges_suite());
}
