/*
 * The callback contract (header comment, points 1-6): never inside a submit,
 * exactly once, in submission order, and free / cancel / pause / abort / submit
 * from inside chunk and done callbacks.
 */
#include "session_test.h"

#define RETR_FOLLOWS "+OK message follows\r\n"

/* Contract 1: every done callback, including early local failures, runs from the
 * loop and never inside the submit call that created it. */
START_TEST(done_never_called_inside_submit)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    p3s_expect(e.srv, "NOOP");
    p3s_send(e.srv, "+OK\r\n");
    int in_submit = 0;
    tu_rec conn, login, user, cancelled, noop;
    tu_rec *all[] = {&conn, &login, &user, &cancelled, &noop};
    for (int i = 0; i < 5; i++) {
        tu_rec_init(all[i], i, NULL);
        all[i]->in_submit = &in_submit;
    }
    in_submit = 1;
    ck_assert_ptr_nonnull(tu_env_attach(&e, &conn));
    ck_assert_ptr_nonnull(
        pop3a_login(e.client, "alice", "alicepw", POP3A_MECH_USER, tu_done, &login));
    /* STATE once its turn comes (after login). */
    pop3a_future *u = pop3a_user(e.client, "late", tu_done, &user);
    pop3a_future *c = pop3a_noop(e.client, tu_done, &cancelled);
    ck_assert_ptr_nonnull(u);
    ck_assert_ptr_nonnull(c);
    pop3a_future_cancel(c); /* CANCELLED, later */
    in_submit = 0;
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(all[i]->done_calls, 0);
    WAIT_DONE(&e, cancelled);
    /* From a settled session with nothing queued, a command refused at once
     * (STATE) and one that succeeds: both results still come on a later turn. */
    tu_rec refused;
    tu_rec_init(&refused, 5, NULL);
    refused.in_submit = &in_submit;
    in_submit = 1;
    ck_assert_ptr_nonnull(pop3a_user(e.client, "again", tu_done, &refused));
    ck_assert_ptr_nonnull(pop3a_noop(e.client, tu_done, &noop));
    in_submit = 0;
    ck_assert_int_eq(refused.done_calls, 0);
    ck_assert_int_eq(noop.done_calls, 0);
    WAIT_DONE(&e, noop);
    ASSERT_ONCE(refused);
    ASSERT_STATUS(refused, POP3A_ERR_STATE);
    SCRIPT_DONE(e.srv);
    ASSERT_OK(login);
    ASSERT_STATUS(user, POP3A_ERR_STATE);
    ASSERT_STATUS(cancelled, POP3A_ERR_CANCELLED);
    ASSERT_OK(noop);
    for (int i = 0; i < 5; i++)
        ASSERT_ONCE(*all[i]);
    tu_env_free(&e);
}
END_TEST

/* Contract 4: completion order is submission order whatever the outcome. */
START_TEST(completion_order_is_submission_order)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    p3s_expect(e.srv, "STAT");
    p3s_send(e.srv, "+OK 3 30\r\n");
    script_retr_1(e.srv, 0, RETR_FOLLOWS, "a\r\n");
    p3s_expect(e.srv, "DELE 9");
    p3s_send(e.srv, "-ERR no such message\r\n");
    p3s_expect(e.srv, "RETR 3");
    send_multiline(e.srv, RETR_FOLLOWS, "c\r\n");
    p3s_expect(e.srv, "NOOP");
    p3s_send(e.srv, "+OK\r\n");
    tu_order order = {0};
    tu_rec r[8];
    for (int i = 0; i < 8; i++)
        tu_rec_init(&r[i], i, &order);
    ck_assert_ptr_nonnull(tu_env_attach(&e, &r[0]));
    ck_assert_ptr_nonnull(
        pop3a_login(e.client, "alice", "alicepw", POP3A_MECH_USER, tu_done, &r[1]));
    ck_assert_ptr_nonnull(pop3a_stat(e.client, tu_done, &r[2]));
    ck_assert_ptr_nonnull(pop3a_retr(e.client, 1, tu_chunk, tu_done, &r[3]));
    pop3a_future *gone = pop3a_retr(e.client, 2, tu_chunk, tu_done, &r[4]);
    ck_assert_ptr_nonnull(gone);
    pop3a_future_cancel(gone);
    ck_assert_ptr_nonnull(pop3a_dele(e.client, 9, tu_done, &r[5]));
    ck_assert_ptr_nonnull(pop3a_retr(e.client, 3, tu_chunk, tu_done, &r[6]));
    ck_assert_ptr_nonnull(pop3a_noop(e.client, tu_done, &r[7]));
    WAIT_COUNT(&e, &order.n, 8);
    run_for(e.base, 20);
    SCRIPT_DONE(e.srv);
    ck_assert_int_eq(order.n, 8);
    for (int i = 0; i < 8; i++) {
        ck_assert_msg(order.seq[i] == i, "completion %d was future %d", i, order.seq[i]);
        ASSERT_ONCE(r[i]);
    }
    ASSERT_STATUS(r[4], POP3A_ERR_CANCELLED);
    ck_assert_int_eq(r[4].chunk_calls, 0);
    ASSERT_STATUS(r[5], POP3A_ERR_SERVER);
    ASSERT_BODY(r[3], "a\r\n");
    ASSERT_BODY(r[6], "c\r\n");
    for (int i = 0; i < 8; i++)
        tu_rec_clear(&r[i]);
    tu_env_free(&e);
}
END_TEST

/* Contract 6 from a chunk callback: the RETR and everything queued complete with
 * CLOSED exactly once, no chunk after, teardown deferred until the frame returns. */
START_TEST(free_client_inside_chunk_callback)
{
    tu_env e;
    char *body = env_init_retr_1_body(&e, 2000, 4096, RETR_FOLLOWS);
    tu_rec retr, dele, noop, late;
    RECS_INIT(NULL, 2, &retr, &dele, &noop, &late);
    session_logged_in(&e);
    act_at_chunk(&retr, TU_ACT_FREE_CLIENT, 1);
    retr.client_slot = &e.client;
    noop.done_action = TU_ACT_SUBMIT_NOOP; /* a submit during teardown returns NULL */
    noop.submit_rec = &late;
    ck_assert_ptr_nonnull(pop3a_retr(e.client, 1, tu_chunk, tu_done, &retr));
    ck_assert_ptr_nonnull(pop3a_dele(e.client, 1, tu_done, &dele));
    ck_assert_ptr_nonnull(pop3a_noop(e.client, tu_done, &noop));
    WAIT_DONE(&e, noop);
    run_for(e.base, 50);
    ck_assert_ptr_null(e.client);
    ASSERT_ONCE_STATUS(retr, POP3A_ERR_CLOSED);
    ck_assert_int_eq(retr.chunk_calls, 1);
    ck_assert_int_eq(retr.final_count, 0);
    ASSERT_ONCE_STATUS(dele, POP3A_ERR_CLOSED);
    ASSERT_ONCE_STATUS(noop, POP3A_ERR_CLOSED);
    ck_assert_ptr_null(noop.submitted);
    ck_assert_int_eq(noop.submit_error, POP3A_ERR_CLOSED);
    ck_assert_int_eq(late.done_calls, 0);
    ck_assert_int_eq(e.close_calls, 0); /* freeing is not a connection loss */
    free(body);
    tu_rec_clear(&retr);
    tu_env_free(&e);
}
END_TEST

/* Contract 6 from the final chunk callback of a RETR answered with
 * `status_line` and "hello": the whole body came, but the RETR's done callback
 * had not run when the client was freed, so it completes with CLOSED like
 * everything else pending (the done callback is where a caller acts on a body,
 * e.g. DELEs it, and a freed client can act on nothing). */
static void free_in_final_chunk(const char *status_line, int dele_is_sent)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    script_retr_1(e.srv, 0, status_line, "hello\r\n");
    if (dele_is_sent) { /* a body held for proof of its end lets DELE go out */
        p3s_expect(e.srv, "DELE 1");
        p3s_send(e.srv, "+OK deleted\r\n");
    }
    p3s_expect_eof(e.srv); /* and nothing more is sent */
    tu_rec retr, dele, noop;
    RECS_INIT(NULL, 2, &retr, &dele, &noop);
    session_logged_in(&e);
    act_at_chunk(&retr, TU_ACT_FREE_CLIENT, TU_AT_FINAL_CHUNK);
    retr.client_slot = &e.client;
    ck_assert_ptr_nonnull(pop3a_retr(e.client, 1, tu_chunk, tu_done, &retr));
    ck_assert_ptr_nonnull(pop3a_dele(e.client, 1, tu_done, &dele));
    ck_assert_ptr_nonnull(pop3a_noop(e.client, tu_done, &noop));
    WAIT_DONE(&e, noop);
    WAIT_SCRIPT(&e);
    SCRIPT_DONE(e.srv);
    ck_assert_ptr_null(e.client);
    ASSERT_ONCE_STATUS(retr, POP3A_ERR_CLOSED);
    ck_assert_str_eq(retr.text, "client freed");
    ASSERT_BODY(retr, "hello\r\n");
    ASSERT_ONCE_STATUS(dele, POP3A_ERR_CLOSED);
    ASSERT_ONCE_STATUS(noop, POP3A_ERR_CLOSED);
    ck_assert_int_eq(e.close_calls, 0); /* freeing is not a connection loss */
    tu_rec_clear(&retr);
    tu_env_free(&e);
}

/* The size announced matches: the final chunk comes with the terminator. */
START_TEST(free_client_inside_final_chunk_callback)
{
    free_in_final_chunk("+OK 7 octets\r\n", 0);
}
END_TEST

/* No size announced: the final chunk waits for the next reply (body_end.c),
 * here DELE's, which the free then leaves undelivered. */
START_TEST(free_client_inside_final_chunk_of_held_body)
{
    free_in_final_chunk("+OK\r\n", 1);
}
END_TEST

/* Contract 6 from a done callback. */
START_TEST(free_client_inside_done_callback)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    p3s_expect(e.srv, "STAT");
    p3s_send(e.srv, "+OK 1 10\r\n");
    tu_rec stat, retr, quit;
    RECS_INIT(NULL, 2, &stat, &retr, &quit);
    session_logged_in(&e);
    stat.done_action = TU_ACT_FREE_CLIENT;
    stat.client_slot = &e.client;
    ck_assert_ptr_nonnull(pop3a_stat(e.client, tu_done, &stat));
    ck_assert_ptr_nonnull(pop3a_retr(e.client, 1, tu_chunk, tu_done, &retr));
    ck_assert_ptr_nonnull(pop3a_quit(e.client, tu_done, &quit));
    WAIT_DONE(&e, quit);
    run_for(e.base, 50);
    ck_assert_ptr_null(e.client);
    ASSERT_OK(stat);
    ck_assert_uint_eq(stat.stat_count, 1);
    ASSERT_ONCE_STATUS(retr, POP3A_ERR_CLOSED);
    ck_assert_int_eq(retr.chunk_calls, 0);
    ASSERT_ONCE_STATUS(quit, POP3A_ERR_CLOSED);
    /* The connection went with the client. */
    WAIT_PEER_CLOSED(&e, e.srv);
    tu_env_free(&e);
}
END_TEST

/* Freeing outside any callback with work queued and a reply half read. */
START_TEST(free_client_with_work_pending)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    p3s_expect(e.srv, "RETR 1");
    p3s_send(e.srv, "+OK\r\npartial\r\n");
    tu_rec retr, noop;
    session_retr_1_and_noop_acting(&e, &retr, &noop, TU_ACT_NONE, 0);
    WAIT_COUNT(&e, &retr.chunk_calls, 1);
    pop3a_client_free(e.client);
    e.client = NULL;
    run_for(e.base, 20);
    ASSERT_ONCE_STATUS(retr, POP3A_ERR_CLOSED);
    ck_assert_int_eq(retr.final_count, 0);
    ASSERT_ONCE_STATUS(noop, POP3A_ERR_CLOSED);
    tu_rec_clear(&retr);
    tu_env_free(&e);
}
END_TEST

/* Contract 5, sent command: cancel from its own chunk callback; no more chunks,
 * CANCELLED, the rest of the reply is read and dropped, the session goes on. */
START_TEST(cancel_inside_chunk_callback)
{
    tu_env e;
    char *body =
        env_init_chunked_retr_1_then_noop(&e, 3000, 1000, RETR_FOLLOWS, "+OK still here\r\n");
    tu_rec retr, noop;
    session_retr_1_and_noop_acting(&e, &retr, &noop, TU_ACT_CANCEL_SELF, 1);
    WAIT_DONE(&e, noop);
    SCRIPT_DONE(e.srv);
    ASSERT_ONCE_STATUS(retr, POP3A_ERR_CANCELLED);
    ck_assert_int_eq(retr.chunk_calls, 1);
    ck_assert_int_eq(retr.final_count, 0);
    ASSERT_ONCE_OK(noop);
    ck_assert_str_eq(noop.text, "still here");
    ck_assert_int_eq(e.close_calls, 0);
    free(body);
    tu_rec_clear(&retr);
    tu_env_free(&e);
}
END_TEST

/* Contract 5, queued command: cancelled from a done callback, it is never sent. */
START_TEST(cancel_queued_inside_done_callback)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    p3s_expect(e.srv, "STAT");
    p3s_send(e.srv, "+OK 2 20\r\n");
    p3s_expect(e.srv, "NOOP"); /* not RETR 2 */
    p3s_send(e.srv, "+OK\r\n");
    tu_order order = {0};
    tu_rec stat, retr, noop;
    RECS_INIT(&order, 2, &stat, &retr, &noop);
    session_logged_in(&e);
    ck_assert_ptr_nonnull(pop3a_stat(e.client, tu_done, &stat));
    pop3a_future *victim = pop3a_retr(e.client, 2, tu_chunk, tu_done, &retr);
    ck_assert_ptr_nonnull(victim);
    stat.done_action = TU_ACT_CANCEL;
    stat.victim = victim;
    ck_assert_ptr_nonnull(pop3a_noop(e.client, tu_done, &noop));
    WAIT_DONE(&e, noop);
    SCRIPT_DONE(e.srv);
    ASSERT_OK(stat);
    ASSERT_ONCE_STATUS(retr, POP3A_ERR_CANCELLED);
    ASSERT_OK(noop);
    ck_assert_int_eq(order.seq[0], 2);
    ck_assert_int_eq(order.seq[1], 3);
    ck_assert_int_eq(order.seq[2], 4);
    tu_env_free(&e);
}
END_TEST

/* Cancel twice, and cancel after completion through a reference: still once. */
START_TEST(cancel_is_idempotent)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    p3s_expect(e.srv, "NOOP");
    p3s_send(e.srv, "+OK\r\n");
    tu_rec a, b;
    RECS_INIT(NULL, 2, &a, &b);
    session_logged_in(&e);
    pop3a_future *fa = pop3a_stat(e.client, tu_done, &a);
    ck_assert_ptr_nonnull(fa);
    pop3a_future_ref(fa);
    pop3a_future_cancel(fa);
    pop3a_future_cancel(fa);
    pop3a_future *fb = pop3a_noop(e.client, tu_done, &b);
    ck_assert_ptr_nonnull(fb);
    pop3a_future_ref(fb);
    WAIT_DONE(&e, b);
    pop3a_future_cancel(fa);
    pop3a_future_cancel(fb);
    run_for(e.base, 20);
    SCRIPT_DONE(e.srv);
    ASSERT_ONCE_STATUS(a, POP3A_ERR_CANCELLED);
    ck_assert_int_eq(pop3a_future_status(fa), POP3A_ERR_CANCELLED);
    ASSERT_ONCE_OK(b);
    ck_assert_int_eq(pop3a_future_status(fb), POP3A_OK); /* done stays done */
    pop3a_future_unref(fa);
    pop3a_future_unref(fb);
    tu_env_free(&e);
}
END_TEST

/* Contract 3: PAUSE from the chunk callback stops delivery until resume, then the
 * rest arrives intact and final comes once. */
START_TEST(pause_then_resume_delivers_rest)
{
    tu_env e;
    /* 400 lines: 5200 bytes */
    char *body = env_init_chunked_retr_1_then_noop(&e, 400, 700, RETR_FOLLOWS, "+OK\r\n");
    tu_rec retr, noop;
    session_retr_1_and_noop_acting(&e, &retr, &noop, TU_ACT_PAUSE, 1);
    WAIT_COUNT(&e, &retr.chunk_calls, 1);
    ck_assert_ptr_nonnull(retr.paused);
    run_for(e.base, 150); /* the whole body has been written by now */
    ck_assert_int_eq(retr.chunk_calls, 1);
    ck_assert_int_eq(retr.done_calls, 0);
    ck_assert_int_eq(noop.done_calls, 0);
    ck_assert_int_eq(pop3a_future_resume(retr.paused), 0);
    ck_assert_int_eq(pop3a_future_resume(retr.paused), -1); /* not paused any more */
    WAIT_DONE(&e, noop);
    SCRIPT_DONE(e.srv);
    ASSERT_ONCE_OK(retr);
    ASSERT_BODY(retr, body);
    ck_assert_uint_eq(retr.octets, strlen(body));
    ASSERT_OK(noop);
    free(body);
    tu_rec_clear(&retr);
    tu_env_free(&e);
}
END_TEST

/* PAUSE is backpressure: the client stops reading, so a big message stays in the
 * server's send queue instead of in client memory. */
START_TEST(pause_stops_reading_the_socket)
{
    tu_env e;
    char *body = env_init_retr_1_body(&e, 640000, 0, RETR_FOLLOWS); /* ~8 MiB */
    pop3a_options_set_timeouts(e.opts, 3000, 10000);
    tu_rec retr;
    tu_rec_init(&retr, 2, NULL);
    session_logged_in(&e);
    act_at_chunk(&retr, TU_ACT_PAUSE, 1);
    ck_assert_ptr_nonnull(pop3a_retr(e.client, 1, tu_chunk, tu_done, &retr));
    WAIT_COUNT(&e, &retr.chunk_calls, 1);
    run_for(e.base, 200);
    ck_assert_int_eq(retr.chunk_calls, 1);
    ck_assert_msg(!p3s_done(e.srv), "8 MiB went through a paused client");
    ck_assert_int_eq(pop3a_future_resume(retr.paused), 0);
    WAIT_DONE(&e, retr);
    ASSERT_OK(retr);
    ASSERT_BODY(retr, body);
    free(body);
    tu_rec_clear(&retr);
    tu_env_free(&e);
}
END_TEST

/* Contract 3, final chunk: an abort there (e.g. the caller could not store the
 * message) fails only this future with CANCELLED; the reply is complete, so
 * the session goes on. */
START_TEST(abort_on_final_chunk_fails_only_that_future)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    p3s_expect(e.srv, "RETR 1");
    p3s_send(e.srv, "+OK\r\nhello\r\n.\r\n"); /* one write: a data chunk, then final */
    p3s_expect(e.srv, "NOOP");
    p3s_send(e.srv, "+OK still here\r\n");
    tu_rec retr, noop;
    session_retr_1_and_noop_acting(&e, &retr, &noop, TU_ACT_ABORT, 2);
    WAIT_DONE(&e, noop);
    SCRIPT_DONE(e.srv);
    ASSERT_ONCE_STATUS(retr, POP3A_ERR_CANCELLED);
    ck_assert_int_eq(retr.chunk_calls, 2);
    ck_assert_int_eq(retr.final_count, 1);
    ASSERT_ONCE_OK(noop);
    ck_assert_int_eq(e.close_calls, 0);
    tu_rec_clear(&retr);
    tu_env_free(&e);
}
END_TEST

/* Contract 3: any other return value aborts: this future CANCELLED, the others
 * CLOSED, the connection closed. */
START_TEST(abort_from_chunk_callback_closes)
{
    tu_env e;
    char *body = env_init_retr_1_body(&e, 2000, 2048, RETR_FOLLOWS);
    tu_rec retr, noop;
    session_retr_1_and_noop_acting(&e, &retr, &noop, TU_ACT_ABORT, 1);
    WAIT_DONE(&e, noop);
    ASSERT_ONCE_STATUS(retr, POP3A_ERR_CANCELLED);
    ck_assert_int_eq(retr.chunk_calls, 1);
    ASSERT_ONCE_STATUS(noop, POP3A_ERR_CLOSED);
    WAIT_PEER_CLOSED(&e, e.srv);
    free(body);
    tu_rec_clear(&retr);
    tu_env_free(&e);
}
END_TEST

/* Contract 10: a done callback may submit; the new command runs normally. */
START_TEST(submit_from_done_callback)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    p3s_expect(e.srv, "STAT");
    p3s_send(e.srv, "+OK 0 0\r\n");
    p3s_expect(e.srv, "NOOP");
    p3s_send(e.srv, "+OK from inside\r\n");
    tu_rec stat, noop;
    RECS_INIT(NULL, 2, &stat, &noop);
    session_logged_in(&e);
    stat.done_action = TU_ACT_SUBMIT_NOOP;
    stat.submit_rec = &noop;
    ck_assert_ptr_nonnull(pop3a_stat(e.client, tu_done, &stat));
    WAIT_DONE(&e, noop);
    SCRIPT_DONE(e.srv);
    ck_assert_ptr_nonnull(stat.submitted);
    ASSERT_ONCE_OK(noop);
    ck_assert_str_eq(noop.text, "from inside");
    tu_env_free(&e);
}
END_TEST

/* Contract 2: a reference keeps the results after done; the client link is cut. */
START_TEST(reference_keeps_results_after_done)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    p3s_expect(e.srv, "UIDL");
    p3s_send(e.srv, "+OK\r\n1 abc\r\n2 def\r\n.\r\n");
    tu_rec uidl;
    tu_rec_init(&uidl, 2, NULL);
    session_logged_in(&e);
    pop3a_future *f = pop3a_uidl(e.client, 0, tu_done, &uidl);
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_eq(pop3a_future_ref(f), f);
    ck_assert_ptr_eq(pop3a_future_client(f), e.client);
    WAIT_DONE(&e, uidl);
    pop3a_client_free(e.client); /* results outlive the client too */
    e.client = NULL;
    ck_assert_ptr_null(pop3a_future_client(f));
    ck_assert_int_eq(pop3a_future_status(f), POP3A_OK);
    ck_assert_uint_eq(pop3a_future_count(f), 2);
    uint32_t msg = 0;
    uint64_t size = 1;
    const char *uid = NULL;
    ck_assert_int_eq(pop3a_future_entry(f, 1, &msg, &size, &uid), 0);
    ck_assert_uint_eq(msg, 2);
    ck_assert_str_eq(uid, "def");
    ck_assert_int_eq(pop3a_future_entry(f, 2, &msg, &size, &uid), -1);
    pop3a_future_unref(f);
    tu_env_free(&e);
}
END_TEST

static Suite *callbacks_suite(void)
{
    Suite *s = suite_create("session_callbacks");
    TCase *tc = tcase_create("contract");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, done_never_called_inside_submit);
    tcase_add_test(tc, completion_order_is_submission_order);
    tcase_add_test(tc, free_client_inside_chunk_callback);
    tcase_add_test(tc, free_client_inside_final_chunk_callback);
    tcase_add_test(tc, free_client_inside_final_chunk_of_held_body);
    tcase_add_test(tc, free_client_inside_done_callback);
    tcase_add_test(tc, free_client_with_work_pending);
    tcase_add_test(tc, cancel_inside_chunk_callback);
    tcase_add_test(tc, cancel_queued_inside_done_callback);
    tcase_add_test(tc, cancel_is_idempotent);
    tcase_add_test(tc, pause_then_resume_delivers_rest);
    tcase_add_test(tc, pause_stops_reading_the_socket);
    tcase_add_test(tc, abort_from_chunk_callback_closes);
    tcase_add_test(tc, abort_on_final_chunk_fails_only_that_future);
    tcase_add_test(tc, submit_from_done_callback);
    tcase_add_test(tc, reference_keeps_results_after_done);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(callbacks_suite());
}
