/*
 * pop3fetch against servers that misbehave: every case ends within its
 * timeout with a clear error and the right exit status, sends no QUIT after
 * a failure (so nothing is deleted), and a server without CAPA still works.
 *
 * Usage: test_pop3fetch_hostile /path/to/pop3fetch
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3fetch_run.h"

static void login_listed(p3s *s, const msg *m)
{
    script_session_start(s, m, 2);
}

static void garbage_greeting(p3s *s, const msg *m)
{
    (void)m;
    p3s_send(s, "HELLO this is not POP3\r\n");
}

static void silent_after_greeting(p3s *s, const msg *m)
{
    (void)m;
    p3s_send(s, "+OK ready\r\n");
    p3s_expect(s, "CAPA");
    p3s_delay(s, 3000); /* longer than --timeout 1 */
}

static void hang_up_after_login(p3s *s, const msg *m)
{
    (void)m;
    script_login(s, 0);
    p3s_expect(s, "UIDL");
    p3s_close(s);
}

static void list_refused(p3s *s, const msg *m)
{
    (void)m;
    script_login(s, 0);
    p3s_expect(s, "UIDL");
    p3s_send(s, "+OK\r\n1 a\r\n.\r\n");
    p3s_expect(s, "LIST");
    p3s_send(s, "-ERR [SYS/PERM] listing broken\r\n");
}

static void list_malformed(p3s *s, const msg *m)
{
    (void)m;
    script_login(s, 0);
    p3s_expect(s, "UIDL");
    p3s_send(s, "+OK\r\n1 a\r\n.\r\n");
    p3s_expect(s, "LIST");
    p3s_send(s, "+OK\r\n1 lots\r\n.\r\n");
}

static void retr_refused(p3s *s, const msg *m)
{
    login_listed(s, m);
    script_retr(s, 1, &m[0]);
    p3s_expect(s, "RETR 2");
    p3s_send(s, "-ERR no such message\r\n");
}

static void dele_refused(p3s *s, const msg *m)
{
    login_listed(s, m);
    script_retr_all(s, m, 2);
    p3s_expect(s, "DELE 1");
    p3s_send(s, "-ERR cannot\r\n");
    p3s_expect(s, "DELE 2"); /* sent with DELE 1, before its answer */
}

static void quit_refused(p3s *s, const msg *m)
{
    login_listed(s, m);
    script_retr_all(s, m, 2);
    p3s_expect(s, "DELE 1");
    p3s_send(s, "+OK\r\n");
    p3s_expect(s, "DELE 2");
    p3s_send(s, "+OK\r\n");
    script_quit(s, "-ERR some deleted messages not removed\r\n");
}

static void endless_uidl_line(p3s *s, const msg *m)
{
    static char line[20000];
    (void)m;
    memset(line, 'x', sizeof line - 1);
    script_login(s, 0);
    p3s_expect(s, "UIDL");
    p3s_send(s, "+OK\r\n1 ");
    p3s_send(s, line);
}

static void no_capa(p3s *s, const msg *m)
{
    p3s_send(s, "+OK old server\r\n");
    p3s_expect(s, "CAPA");
    p3s_send(s, "-ERR unknown command\r\n");
    p3s_expect(s, "USER alice");
    p3s_send(s, "+OK\r\n");
    p3s_expect(s, "PASS " PASSWORD);
    p3s_send(s, "+OK\r\n");
    script_listings(s, m, 2, NULL);
    script_retr_all(s, m, 2);
    script_quit(s, "+OK bye\r\n");
}

static const struct {
    const char *name;
    void (*script)(p3s *s, const msg *m);
    int delete_after, exit_code;
    const char *error; /* in stderr; NULL: success */
} cases[] = {
    {"garbage greeting", garbage_greeting, 0, 76, "error: connect at 127.0.0.1:"},
    {"silence", silent_after_greeting, 0, 75, "POP3A_ERR_TIMEOUT"},
    {"hang-up", hang_up_after_login, 0, 75, "error: UIDL at 127.0.0.1:"},
    {"LIST -ERR", list_refused, 0, 69, "LIST at 127.0.0.1:"},
    {"LIST garbage", list_malformed, 0, 76, "POP3A_ERR_PROTOCOL malformed listing line"},
    {"RETR -ERR", retr_refused, 1, 69, "RETR 2 at 127.0.0.1:"},
    {"DELE -ERR", dele_refused, 1, 69, "DELE 1 at 127.0.0.1:"},
    {"QUIT -ERR", quit_refused, 1, 69, "QUIT at 127.0.0.1:"},
    {"endless line", endless_uidl_line, 0, 76, "POP3A_ERR_PROTOCOL"},
    {"no CAPA", no_capa, 0, 0, NULL},
};

START_TEST(misbehaving_server)
{
    msg m[MAX_MSGS];
    run r;
    size_t n = make_mailbox(m);
    run_init(&r);
    cases[_i].script(r.srv, m);
    /* A 1 s timeout only where the timeout is what is tested; the others keep
     * the harness's (stretched under valgrind, where 1 s of silence happens). */
    const char *timeout = cases[_i].script == silent_after_greeting ? "1" : child_timeout_arg();
    const char *const keep[] = {"--timeout", timeout, NULL};
    const char *const del[] = {"--timeout", timeout, "--delete", NULL};
    run_pop3fetch(&r, cases[_i].delete_after ? del : keep);
    ck_assert_msg(r.exit_code == cases[_i].exit_code, "%s: exit %d, want %d; stderr: %s",
                  cases[_i].name, r.exit_code, cases[_i].exit_code, r.stderr_text);
    if (cases[_i].error) {
        STDERR_HAS(&r, cases[_i].error);
        ck_assert_str_eq(r.stdout_text, "");
        /* after a failure no QUIT: the server deletes nothing */
        if (cases[_i].script != quit_refused)
            ck_assert_msg(p3s_bytes_unread(r.srv) == 0, "%s: %zu bytes after the script",
                          cases[_i].name, p3s_bytes_unread(r.srv));
    } else {
        SCRIPT_DONE(&r);
        assert_maildir(&r, m, 2);
    }
    run_free_mailbox(&r, m, n);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_loop_test(tc, misbehaving_server, 0, sizeof cases / sizeof cases[0]);
}

int main(int argc, char **argv)
{
    return pop3fetch_test_main(argc, argv, NULL, "pop3fetch_hostile", add_tests);
}
