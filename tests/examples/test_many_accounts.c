/*
 * examples/many-accounts against three scripted servers on one loop: one line
 * per account, in the order they finish, which shows that the sessions really
 * run at the same time; --parallel 1 runs them one after the other, in file
 * order; a malformed accounts file is refused without echoing its passwords.
 *
 * Usage: test_many_accounts /path/to/many-accounts
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "fetch_all_run.h"

static const char *prog;

/* Three accounts, in file order: A answers STAT only after 1000 ms, B refuses
 * the password after 500 ms, C answers at once (margins for slow machines).
 * All three are user alice, each on its own server (port). */
typedef struct {
    run r; /* r.srv is A's server */
    p3s *b, *c;
    uint16_t port_b, port_c;
    msg m[MAX_MSGS];
    size_t n;
    char accounts[128];
} three;

static void three_init(three *t)
{
    char line[64];
    t->n = make_mailbox(t->m);
    run_init(&t->r);
    t->b = p3s_new(t->r.base);
    t->c = p3s_new(t->r.base);
    ck_assert_ptr_nonnull(t->b);
    ck_assert_ptr_nonnull(t->c);
    t->port_b = p3s_listen(t->b, "127.0.0.1");
    t->port_c = p3s_listen(t->c, "127.0.0.1");
    ck_assert(t->port_b && t->port_c);

    script_login(t->r.srv, 0);
    p3s_expect(t->r.srv, "STAT");
    p3s_delay(t->r.srv, 1000);
    snprintf(line, sizeof line, "+OK 2 %zu\r\n", t->m[0].body_len + t->m[1].body_len);
    p3s_send(t->r.srv, line);
    script_quit(t->r.srv, "+OK bye\r\n");

    p3s_send(t->b, "+OK test POP3 server ready\r\n");
    p3s_expect(t->b, "CAPA");
    p3s_send(t->b, "+OK\r\nUSER\r\n.\r\n");
    p3s_expect(t->b, "USER alice");
    p3s_send(t->b, "+OK\r\n");
    p3s_expect(t->b, "PASS wrong pw");
    p3s_delay(t->b, 500);
    p3s_send(t->b, "-ERR [AUTH] invalid password\r\n");
    p3s_expect_eof(t->b); /* no QUIT after a failed login: just hang up */

    script_login(t->c, 0);
    script_stat(t->c, t->m, t->n);
    script_quit(t->c, "+OK bye\r\n");

    snprintf(t->accounts, sizeof t->accounts, "%s", path_in(t->r.out, "accounts"));
    int fd = open(t->accounts, O_WRONLY | O_CREAT | O_EXCL, 0600); /* else: a warning */
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    ck_assert_ptr_nonnull(f);
    fprintf(f, "# host port user password\n"
               "127.0.0.1 %u alice " PASSWORD "\n"
               "\n"
               "127.0.0.1\t%u\talice  wrong pw\n"
               "127.0.0.1 %u alice " PASSWORD "\n",
            (unsigned)t->r.port, (unsigned)t->port_b, (unsigned)t->port_c);
    ck_assert_int_eq(fclose(f), 0);
}

static void three_run(three *t, const char *parallel)
{
    const char *const argv[] = {prog, "--accounts", t->accounts, "--tls", "none",
                                "--allow-cleartext", "--timeout", child_timeout_arg(), "--parallel", parallel,
                                NULL};
    run_program(&t->r, NULL, argv);
    serve_until_closed(&t->r, t->b);
    serve_until_closed(&t->r, t->c);
    SCRIPT_DONE(&t->r);
    ck_assert_msg(p3s_error(t->b) == NULL && p3s_done(t->b), "B: %s", p3s_error(t->b));
    ck_assert_msg(p3s_error(t->c) == NULL && p3s_done(t->c), "C: %s", p3s_error(t->c));
}

/* Line k (0 A, 1 B, 2 C) of the expected output. */
static const char *line_of(const three *t, int k)
{
    static char buf[3][128];
    if (k == 0)
        snprintf(buf[0], sizeof buf[0], "alice@127.0.0.1:%u: 2 messages, %zu octets\n",
                 (unsigned)t->r.port, t->m[0].body_len + t->m[1].body_len);
    else if (k == 1)
        snprintf(buf[1], sizeof buf[1],
                 "alice@127.0.0.1:%u: login: POP3A_ERR_AUTH [AUTH] invalid password\n",
                 (unsigned)t->port_b);
    else
        snprintf(buf[2], sizeof buf[2], "alice@127.0.0.1:%u: 4 messages, %zu octets\n",
                 (unsigned)t->port_c,
                 t->m[0].body_len + t->m[1].body_len + t->m[2].body_len + t->m[3].body_len);
    return buf[k];
}

static void three_free(three *t)
{
    p3s_free(t->b);
    p3s_free(t->c);
    run_free_mailbox(&t->r, t->m, t->n);
}

/* All at once: C, then B (500 ms), then A (1000 ms). Run one after the other,
 * A would come first. One account failed: exit 1. */
START_TEST(accounts_run_concurrently_one_line_each)
{
    three t;
    char want[512];
    three_init(&t);
    three_run(&t, "16");
    EXIT_IS(&t.r, 1);
    snprintf(want, sizeof want, "%s%s%s", line_of(&t, 2), line_of(&t, 1), line_of(&t, 0));
    ck_assert_str_eq(t.r.stdout_text, want);
    ck_assert_str_eq(t.r.stderr_text, "");
    three_free(&t);
}
END_TEST

/* --parallel 1: one session at a time, in file order. */
START_TEST(parallel_one_runs_in_file_order)
{
    three t;
    char want[512];
    three_init(&t);
    three_run(&t, "1");
    EXIT_IS(&t.r, 1);
    snprintf(want, sizeof want, "%s%s%s", line_of(&t, 0), line_of(&t, 1), line_of(&t, 2));
    ck_assert_str_eq(t.r.stdout_text, want);
    three_free(&t);
}
END_TEST

/* A line without a password: exit 2 before any connection, naming the line
 * but never printing the passwords in the file. */
START_TEST(malformed_accounts_file_is_refused_quietly)
{
    run r;
    run_init(&r);
    const char *accounts = path_in(r.out, "accounts");
    int fd = open(accounts, O_WRONLY | O_CREAT | O_EXCL, 0600);
    ck_assert_int_ge(fd, 0);
    const char text[] = "127.0.0.1 110 alice " PASSWORD "\n127.0.0.1 110 bob\n";
    ck_assert_int_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    const char *const argv[] = {prog, "--accounts", accounts, NULL};
    run_program(&r, NULL, argv);
    EXIT_IS(&r, 2);
    ck_assert_int_eq(p3s_connected(r.srv), 0);
    ck_assert_msg(strstr(r.stderr_text, "line 2: want \"host port user password\"") != NULL,
                  "stderr: %s", r.stderr_text);
    ck_assert_ptr_null(strstr(r.stderr_text, PASSWORD));
    ck_assert_str_eq(r.stdout_text, "");
    run_free(&r);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, accounts_run_concurrently_one_line_each);
    tcase_add_test(tc, parallel_one_runs_in_file_order);
    tcase_add_test(tc, malformed_accounts_file_is_refused_quietly);
}

int main(int argc, char **argv)
{
    return example_test_main(argc, argv, "many_accounts", &prog, 0, add_tests);
}
