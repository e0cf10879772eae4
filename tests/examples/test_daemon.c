/*
 * examples/daemon against the scripted server: a poll at start and one per
 * --interval, each a session of its own; SIGTERM in the middle of a session
 * sends QUIT at once (pipelined ahead of the STAT answer) and exits 0 once it
 * is answered; SIGTERM while logging in hangs up; SIGTERM between polls exits
 * 0 without connecting again.
 *
 * Usage: test_daemon /path/to/daemon
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "fetch_all_run.h"

static const char *prog;

/* The two sessions (the scripted server takes one connection and hands the
 * second to `second`), and when to send SIGTERM. */
typedef enum {
    AFTER_PASS, /* the second session sent PASS: logging in */
    AFTER_STAT, /* the second session sent STAT: logged in */
    AFTER_END   /* the second session ended: idle between polls */
} when;

typedef struct {
    p3s *second;
    when signal_at;
    int signalled;
} polls;

static void signal_tick(run *r)
{
    polls *p = r->tick_arg;
    int now = p->signal_at == AFTER_END ? p3s_done(p->second) && p3s_peer_closed(p->second)
              /* CAPA USER PASS, then STAT */
              : p3s_lines_received(p->second) >= (p->signal_at == AFTER_PASS ? 3u : 4u);
    if (now && !p->signalled) {
        p->signalled = 1;
        kill(r->pid, SIGTERM);
    }
}

static void run_daemon(run *r, polls *p)
{
    /* 2 s: poll 1 must be over before poll 2 starts, even under valgrind. */
    const char *const extra[] = {"--interval", "2", NULL};
    r->tick = signal_tick;
    r->tick_arg = p;
    run_example(r, prog, PASSWORD, extra);
    serve_until_closed(r, p->second);
    ck_assert_int_eq(p->signalled, 1);
    SCRIPT_DONE(r);
    ck_assert_msg(p3s_error(p->second) == NULL && p3s_done(p->second), "second session: %s",
                  p3s_error(p->second));
}

/* The poll line the daemon prints for messages 1..n of m. */
static const char *poll_line(int number, const msg *m, size_t n, size_t fresh)
{
    static char buf[2][96];
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += m[i].body_len;
    snprintf(buf[number % 2], sizeof buf[0], "poll %d: %zu messages, %zu octets, %zu new\n",
             number, n, total, fresh);
    return buf[number % 2];
}

/* Poll 1 sees 2 messages; poll 2 (two seconds after) logs in with PIPELINING and
 * sends STAT, and then SIGTERM comes: QUIT must follow before the server
 * answers STAT, which shows it came from the signal handler, not from the end
 * of the poll. The daemon prints poll 2 (4 messages, 2 new) and exits 0. */
START_TEST(sigterm_mid_session_quits_then_exits_0)
{
    msg m[MAX_MSGS];
    size_t n = make_mailbox(m);
    char want[512];
    run r;
    polls p = {.signal_at = AFTER_STAT};
    run_init(&r);
    p.second = p3s_new(r.base);
    ck_assert_ptr_nonnull(p.second);
    p3s_hand_over(r.srv, p.second);
    script_login(r.srv, 0);
    script_stat(r.srv, m, 2);
    script_quit(r.srv, "+OK bye\r\n");
    script_login(p.second, 1);
    p3s_expect(p.second, "STAT");
    p3s_expect(p.second, "QUIT");
    snprintf(want, sizeof want, "+OK 4 %zu\r\n+OK bye\r\n",
             m[0].body_len + m[1].body_len + m[2].body_len + m[3].body_len);
    p3s_send(p.second, want);
    p3s_close(p.second);

    run_daemon(&r, &p);
    EXIT_IS(&r, 0);
    snprintf(want, sizeof want, "%sSIGTERM: stopping\n", poll_line(1, m, 2, 2));
    strcat(want, poll_line(2, m, 4, 2));
    ck_assert_str_eq(r.stdout_text, want);
    ck_assert_str_eq(r.stderr_text, "");
    p3s_free(p.second);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* Two whole polls (2 messages each: none new the second time), then SIGTERM
 * while idle: exit 0 at once, no third connection. */
START_TEST(sigterm_between_polls_exits_0)
{
    msg m[MAX_MSGS];
    size_t n = make_mailbox(m);
    char want[512];
    run r;
    polls p = {.signal_at = AFTER_END};
    run_init(&r);
    p.second = p3s_new(r.base);
    ck_assert_ptr_nonnull(p.second);
    p3s_hand_over(r.srv, p.second);
    for (int k = 0; k < 2; k++) {
        p3s *s = k == 0 ? r.srv : p.second;
        script_login(s, 0);
        script_stat(s, m, 2);
        script_quit(s, "+OK bye\r\n");
    }

    run_daemon(&r, &p);
    EXIT_IS(&r, 0);
    snprintf(want, sizeof want, "%s", poll_line(1, m, 2, 2));
    strcat(want, poll_line(2, m, 2, 0));
    strcat(want, "SIGTERM: stopping\n");
    ck_assert_str_eq(r.stdout_text, want);
    ck_assert_str_eq(r.stderr_text, "");
    p3s_free(p.second);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* SIGTERM while the second session is logging in (PASS sent, not answered):
 * nothing to QUIT from; the connection is dropped and the daemon exits 0
 * without a word about the dropped session. */
START_TEST(sigterm_while_logging_in_hangs_up_and_exits_0)
{
    msg m[MAX_MSGS];
    size_t n = make_mailbox(m);
    char want[256];
    run r;
    polls p = {.signal_at = AFTER_PASS};
    run_init(&r);
    p.second = p3s_new(r.base);
    ck_assert_ptr_nonnull(p.second);
    p3s_hand_over(r.srv, p.second);
    script_login(r.srv, 0);
    script_stat(r.srv, m, 2);
    script_quit(r.srv, "+OK bye\r\n");
    p3s_send(p.second, "+OK test POP3 server ready\r\n");
    p3s_expect(p.second, "CAPA");
    p3s_send(p.second, "+OK\r\nUSER\r\n.\r\n");
    p3s_expect(p.second, "USER alice");
    p3s_send(p.second, "+OK\r\n");
    p3s_expect(p.second, "PASS " PASSWORD);
    p3s_expect_eof(p.second);

    run_daemon(&r, &p);
    EXIT_IS(&r, 0);
    snprintf(want, sizeof want, "%sSIGTERM: stopping\n", poll_line(1, m, 2, 2));
    ck_assert_str_eq(r.stdout_text, want);
    ck_assert_str_eq(r.stderr_text, "");
    p3s_free(p.second);
    run_free_mailbox(&r, m, n);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, sigterm_mid_session_quits_then_exits_0);
    tcase_add_test(tc, sigterm_between_polls_exits_0);
    tcase_add_test(tc, sigterm_while_logging_in_hangs_up_and_exits_0);
}

int main(int argc, char **argv)
{
    return example_test_main(argc, argv, "daemon", &prog, 0, add_tests);
}
