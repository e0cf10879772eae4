/*
 * A slow MDA or password command holds up only its own account. Two
 * accounts run on one loop: "slow" (listed first) has a command that waits
 * until "fast" has finished its whole session (this test creates the file
 * the command waits for once fast's server has seen it hang up), "fast"
 * fetches into a Maildir. Only if slow's command runs beside the loop, not
 * on it, can fast finish: then both succeed and fast's summary line comes
 * first. Were the loop blocked, the command would wait in vain until its
 * timeout and slow would fail.
 *
 * Usage: test_pop3fetch_async /path/to/pop3fetch
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pop3fetch_run.h"

/* Waits (in 20 ms steps) for WORK/fast-done. */
#define WAIT_FOR_FAST "while [ ! -e %s/fast-done ]; do sleep 0.02; done"

static const struct {
    const char *name;
    const char *slow_keys; /* printf: WORK for WAIT_FOR_FAST, then WORK, OUT */
} cases[] = {
    {"slow MDA",
     "password_env = P3TEST_PW\nmda = cat >%2$s/slow.eml; " WAIT_FOR_FAST "\n"},
    {"slow password_cmd",
     "password_cmd = " WAIT_FOR_FAST "; echo '" PASSWORD "'\nmaildir = %3$s/slow\n"},
};

struct watch {
    p3s *fast;
    char done_path[128];
};

/* On every poll of the child: once fast's server saw the client hang up
 * (its QUIT answered), let slow's command finish. */
static void release_slow_when_fast_is_done(run *r)
{
    struct watch *w = r->tick_arg;
    if (p3s_peer_closed(w->fast) && access(w->done_path, F_OK) != 0)
        close(open(w->done_path, O_WRONLY | O_CREAT, 0600));
}

START_TEST(slow_command_does_not_stall_the_other_account)
{
    msg m[MAX_MSGS];
    run r;
    struct watch w;
    char slow_keys[512], text[2048];
    size_t n = make_mailbox(m);
    run_init(&r);
    w.fast = p3s_new(r.base);
    ck_assert_ptr_nonnull(w.fast);
    uint16_t fast_port = p3s_listen(w.fast, "127.0.0.1");
    snprintf(w.done_path, sizeof w.done_path, "%s/fast-done", r.work);
    script_session_start(r.srv, m, 1);
    script_retr(r.srv, 1, &m[0]);
    script_quit(r.srv, "+OK bye\r\n");
    script_session_start(w.fast, m, 2);
    script_retr_all(w.fast, m, 2);
    script_quit(w.fast, "+OK bye\r\n");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(slow_keys, sizeof slow_keys, cases[_i].slow_keys, r.work, r.work, r.out);
#pragma GCC diagnostic pop
    snprintf(text, sizeof text,
             "[defaults]\nhost = 127.0.0.1\nuser = alice\ntls = none\nallow_cleartext = true\n"
             "timeout = %s\n\n"
             "[account slow]\nport = %u\nstate = %s/slow.sqlite\n%s\n"
             "[account fast]\nport = %u\nstate = %s/fast.sqlite\npassword_env = P3TEST_PW\n"
             "maildir = %s/fast\n",
             child_timeout_arg(), (unsigned)r.port, r.work, slow_keys, (unsigned)fast_port,
             r.work, r.out);
    const char *const args[] = {"--config", write_config(&r, 0600, text), NULL};
    setenv("P3TEST_PW", PASSWORD, 1);
    r.tick = release_slow_when_fast_is_done;
    r.tick_arg = &w;
    run_pop3fetch_args(&r, args);
    serve_until_closed(&r, w.fast);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    ck_assert_msg(p3s_error(w.fast) == NULL && p3s_done(w.fast), "fast: %s",
                  p3s_error(w.fast));
    const char *second = strchr(r.stdout_text, '\n');
    ck_assert_msg(strncmp(r.stdout_text, "fast: 2 new, ", 13) == 0 && second &&
                      strncmp(second + 1, "slow: 1 new, ", 13) == 0,
                  "%s: want fast's summary, then slow's; stdout: %s", cases[_i].name,
                  r.stdout_text);
    if (strstr(cases[_i].slow_keys, "mda")) { /* the MDA got the message as sent */
        size_t len;
        char *got = read_file(path_in(r.work, "slow.eml"), &len);
        ck_assert_ptr_nonnull(got);
        ck_assert_uint_eq(len, m[0].body_len);
        ck_assert_mem_eq(got, m[0].body, len);
        free(got);
    }
    p3s_free(w.fast);
    run_free_mailbox(&r, m, n);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_loop_test(tc, slow_command_does_not_stall_the_other_account, 0,
                        sizeof cases / sizeof cases[0]);
}

int main(int argc, char **argv)
{
    return example_test_main(argc, argv, "pop3fetch_async", &pop3fetch_path, 0, add_tests);
}
