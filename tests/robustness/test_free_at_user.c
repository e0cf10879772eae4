/*
 * A review leftover of issue 11: with PIPELINING, login writes USER and PASS
 * in one batch. A client freed from the trace callback as USER is traced has
 * PASS queued behind it; teardown must drop it unsent. The scripted server
 * wants the connection closed right after CAPA, with not one byte more: no
 * PASS (nor USER: the batch would have left on the next loop turn, which
 * never comes for a freed client). The connect completed OK, the login
 * completes CLOSED (contract 6).
 */
#include "session_test.h"

typedef struct {
    pop3a_client **client;
    int freed_at_user;
    int pass_traced;
} free_at_user;

static void free_on_user(pop3a_client *client, pop3a_trace_dir dir, const char *line,
                         size_t len, void *arg)
{
    free_at_user *x = arg;
    if (dir != POP3A_TRACE_SENT)
        return;
    if (len >= 4 && memcmp(line, "PASS", 4) == 0)
        x->pass_traced = 1;
    if (len >= 5 && memcmp(line, "USER ", 5) == 0 && *x->client) {
        x->freed_at_user = 1;
        pop3a_client_free(client);
        *x->client = NULL;
    }
}

START_TEST(pass_queued_behind_user_is_dropped_on_free)
{
    tu_env e;
    tu_env_init(&e);
    free_at_user x = {&e.client, 0, 0};
    ck_assert_int_eq(pop3a_options_set_trace(e.opts, free_on_user, &x), 0);
    tu_script_greeting_capa(e.srv, PLAIN_GREETING, CAPA_PIPELINING);
    p3s_expect_eof(e.srv);
    tu_rec conn, login;
    RECS_INIT(NULL, 0, &conn, &login);
    ck_assert_ptr_nonnull(tu_env_attach(&e, &conn));
    ck_assert_ptr_nonnull(pop3a_login(e.client, "alice", "alicepw", POP3A_MECH_USER, tu_done,
                                      &login));
    WAIT_DONE(&e, login);
    WAIT_SCRIPT(&e);
    SCRIPT_DONE(e.srv);
    ck_assert_int_eq(x.freed_at_user, 1);
    ck_assert_uint_eq(p3s_bytes_unread(e.srv), 0); /* nothing after CAPA */
    ASSERT_ONCE_OK(conn);
    ASSERT_ONCE_STATUS(login, POP3A_ERR_CLOSED);
    tu_env_free(&e);
}
END_TEST

int main(void)
{
    const TTest *tests[] = {pass_queued_behind_user_is_dropped_on_free};
    return run_tests("free_at_user", "login", tests, sizeof tests / sizeof *tests);
}
