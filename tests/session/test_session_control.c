/*
 * What a daemon uses to steer a session besides submitting commands: whether a
 * future is done, dropping the connection while keeping the client, who owns a
 * bufferevent pop3a_attach refused, and what pop3a_client_error means.
 */
#include <event2/bufferevent.h>

#include "session_test.h"

/* A done callback that also notes pop3a_future_is_done as the callback sees it. */
typedef struct {
    tu_rec rec;
    int is_done_in_callback;
} done_seen;

static void done_noting_is_done(pop3a_client *client, pop3a_future *future, void *arg)
{
    done_seen *d = arg;
    d->is_done_in_callback = pop3a_future_is_done(future);
    tu_done(client, future, &d->rec);
}

/* pop3a_future_status is POP3A_OK while pending; pop3a_future_is_done tells:
 * 0 before the reply, 1 from the done callback on. */
START_TEST(future_is_done_only_once_completed)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    p3s_expect(e.srv, "NOOP");
    p3s_delay(e.srv, 50);
    p3s_send(e.srv, "+OK\r\n");
    done_seen noop;
    tu_rec_init(&noop.rec, 2, NULL);
    noop.is_done_in_callback = -1;
    session_logged_in(&e);
    pop3a_future *f = pop3a_future_ref(pop3a_noop(e.client, done_noting_is_done, &noop));
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(pop3a_future_is_done(f), 0);
    ck_assert_int_eq(pop3a_future_status(f), POP3A_OK); /* why is_done is needed */
    run_for(e.base, 10);
    ck_assert_int_eq(noop.rec.done_calls, 0);
    ck_assert_int_eq(pop3a_future_is_done(f), 0);
    WAIT_DONE_AND_SCRIPT(&e, noop.rec);
    ck_assert_int_eq(noop.is_done_in_callback, 1);
    ck_assert_int_eq(pop3a_future_is_done(f), 1);
    ck_assert_int_eq(pop3a_future_is_done(NULL), 0);
    pop3a_future_unref(f);
    tu_env_free(&e);
}
END_TEST

static void done_then_disconnect(pop3a_client *client, pop3a_future *future, void *arg)
{
    tu_done(client, future, arg);
    ck_assert_int_eq(pop3a_client_disconnect(client), 0);
}

/* A session aborted so that its DELE is not committed: no QUIT goes out, the
 * server sees the connection end (EOF), what is pending completes CLOSED, the
 * close callback says CLOSED, and the same client connects again. _i 0: from
 * outside any callback (STAT sent and unanswered, completed before the call
 * returns); _i 1: from DELE's done callback (STAT is then never sent). */
START_TEST(disconnect_drops_the_connection_and_keeps_the_client)
{
    int inside = _i;
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    p3s_expect(e.srv, "DELE 1");
    p3s_send(e.srv, "+OK marked\r\n");
    if (!inside)
        p3s_expect(e.srv, "STAT");
    p3s_expect_eof(e.srv);
    tu_rec dele, stat, again;
    RECS_INIT(NULL, 2, &dele, &stat, &again);
    session_logged_in(&e);
    ck_assert_ptr_nonnull(
        pop3a_dele(e.client, 1, inside ? done_then_disconnect : tu_done, &dele));
    ck_assert_ptr_nonnull(pop3a_stat(e.client, tu_done, &stat));
    if (inside) {
        WAIT_DONE(&e, stat);
    } else {
        for (unsigned waited = 0; waited < WAIT_MS && p3s_lines_received(e.srv) < 5; waited += 5)
            run_for(e.base, 5);
        ck_assert_uint_eq(p3s_lines_received(e.srv), 5); /* CAPA USER PASS DELE STAT */
        ck_assert_int_eq(stat.done_calls, 0);
        ck_assert_int_eq(pop3a_client_disconnect(e.client), 0);
        ck_assert_int_eq(stat.done_calls, 1); /* before it returned */
    }
    WAIT_SCRIPT(&e);
    SCRIPT_DONE(e.srv);
    ASSERT_ONCE_OK(dele);
    ASSERT_ONCE_STATUS(stat, POP3A_ERR_CLOSED);
    ck_assert_str_eq(stat.text, "disconnected by the caller");
    ck_assert_int_eq(e.close_calls, 1);
    ck_assert_int_eq(e.close_why, POP3A_ERR_CLOSED);

    p3s *two = p3s_new(e.base);
    ck_assert_ptr_nonnull(two);
    tu_script_greeting_capa(two, PLAIN_GREETING, CAPA_BASIC);
    ck_assert_ptr_nonnull(pop3a_attach(e.client, p3s_pair(two), tu_done, &again));
    WAIT_DONE(&e, again);
    ASSERT_ONCE_OK(again);
    ck_assert_ptr_null(p3s_error(two));
    p3s_free(two);
    ck_assert_int_eq(pop3a_client_disconnect(NULL), -1);
    tu_env_free(&e);
}
END_TEST

/* pop3a_attach returning NULL leaves the bufferevent to the caller: here the
 * client is being freed (inside a done callback), the attach is refused with
 * CLOSED, and the caller frees the bufferevent itself (a second free by the
 * library would be a double free under ASan/valgrind). */
typedef struct {
    tu_rec rec;
    p3s *other;
    pop3a_client **slot;
    pop3a_future *attached;
    pop3a_status attach_error;
    struct bufferevent *bev; /* the refused one, still ours */
} attach_after_free;

static void done_free_then_attach(pop3a_client *client, pop3a_future *future, void *arg)
{
    attach_after_free *x = arg;
    tu_done(client, future, &x->rec);
    pop3a_client_free(client);
    *x->slot = NULL;
    struct bufferevent *bev = p3s_pair(x->other);
    ck_assert_ptr_nonnull(bev);
    x->attached = pop3a_attach(client, bev, tu_done, NULL);
    x->attach_error = pop3a_client_error(client);
    x->bev = bev;
    ck_assert_int_eq(bufferevent_write(bev, "QUIT\r\n", 6), 0);
}

START_TEST(refused_attach_leaves_the_bufferevent_to_the_caller)
{
    tu_env e;
    tu_env_init(&e);
    tu_script_greeting_capa(e.srv, PLAIN_GREETING, CAPA_BASIC);
    attach_after_free x;
    memset(&x, 0, sizeof x);
    tu_rec_init(&x.rec, 0, NULL);
    x.other = p3s_new(e.base);
    ck_assert_ptr_nonnull(x.other);
    p3s_expect(x.other, "QUIT");
    x.slot = &e.client;
    e.client = pop3a_client_new(e.base, NULL, e.opts);
    ck_assert_ptr_nonnull(e.client);
    ck_assert_ptr_nonnull(pop3a_attach(e.client, p3s_pair(e.srv), done_free_then_attach, &x));
    WAIT_DONE(&e, x.rec);
    ASSERT_ONCE_OK(x.rec);
    ck_assert_ptr_null(x.attached);
    ck_assert_int_eq(x.attach_error, POP3A_ERR_CLOSED);
    for (unsigned waited = 0; waited < WAIT_MS && !p3s_done(x.other); waited += 5)
        run_for(e.base, 5);
    SCRIPT_DONE(x.other); /* what the caller wrote on it arrived */
    bufferevent_free(x.bev);
    p3s_free(x.other);
    tu_env_free(&e);
}
END_TEST

/* pop3a_client_error: the reason for a NULL submit, reset to POP3A_OK by the
 * next submit that returns a future. */
START_TEST(client_error_is_reset_by_a_successful_submit)
{
    tu_env e;
    tu_env_init(&e);
    e.client = pop3a_client_new(e.base, NULL, e.opts);
    ck_assert_ptr_nonnull(e.client);
    ck_assert_int_eq(pop3a_client_error(e.client), POP3A_OK);
    ck_assert_ptr_null(pop3a_retr(e.client, 0, tu_chunk, tu_done, NULL));
    ck_assert_int_eq(pop3a_client_error(e.client), POP3A_ERR_INVALID);
    ck_assert_str_eq(pop3a_client_errstr(e.client), "message numbers start at 1");
    tu_rec noop;
    tu_rec_init(&noop, 0, NULL);
    ck_assert_ptr_nonnull(pop3a_noop(e.client, tu_done, &noop));
    ck_assert_int_eq(pop3a_client_error(e.client), POP3A_OK);
    ck_assert_str_eq(pop3a_client_errstr(e.client), pop3a_strerror(POP3A_OK));
    WAIT_DONE(&e, noop);
    ASSERT_ONCE_STATUS(noop, POP3A_ERR_STATE); /* not connected */
    tu_env_free(&e);
}
END_TEST

static Suite *control_suite(void)
{
    Suite *s = suite_create("session_control");
    TCase *tc = tcase_create("control");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, future_is_done_only_once_completed);
    tcase_add_loop_test(tc, disconnect_drops_the_connection_and_keeps_the_client, 0, 2);
    tcase_add_test(tc, refused_attach_leaves_the_bufferevent_to_the_caller);
    tcase_add_test(tc, client_error_is_reset_by_a_successful_submit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    tu_ignore_sigpipe();
    return run_suite(control_suite());
}
