/*
 * pop3fetch against the scripted server: what it fetches, delivers, records
 * and deletes, and how it fails. Harness: pop3fetch_run.[ch].
 *
 * Usage: test_pop3fetch /path/to/pop3fetch
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pop3fetch_run.h"

static void assert_summary(const run *r, size_t n_new, uint64_t bytes, size_t deleted)
{
    char want[128];
    summary_prefix(want, sizeof want, n_new, bytes, deleted);
    ck_assert_msg(strncmp(r->stdout_text, want, strlen(want)) == 0 &&
                      strchr(r->stdout_text, '\n') == r->stdout_text + strlen(r->stdout_text) - 1,
                  "stdout \"%s\", want one line starting \"%s\"", r->stdout_text, want);
}

/* Keep mode: every message into new/ with LF line ends, then QUIT and no
 * DELE. The second run finds every UIDL in the state and fetches nothing. */
START_TEST(keep_mode_delivers_once_then_fetches_nothing)
{
    msg m[MAX_MSGS];
    run r;
    size_t n = run_init_mailbox(&r, m, 0);
    fresh_server(&r); /* run_init_mailbox scripted STAT: pop3fetch lists */
    script_session_start(r.srv, m, n);
    script_retr_all(r.srv, m, n);
    script_quit(r.srv, "+OK bye\r\n");
    run_pop3fetch(&r, NULL);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    ck_assert_uint_eq(p3s_bytes_unread(r.srv), 0);
    assert_summary(&r, n, wire_bytes(m, n), 0);
    ck_assert_str_eq(r.stderr_text, "");
    assert_maildir(&r, m, n);

    fresh_server(&r);
    script_session_start(r.srv, m, n);
    script_quit(r.srv, "+OK bye\r\n");
    run_pop3fetch(&r, NULL);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    assert_summary(&r, 0, 0, 0);
    assert_maildir(&r, m, n);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* With PIPELINING the UIDL and LIST go out together, and with --delete the
 * DELEs and QUIT follow the RETRs; the count of deleted comes from QUIT. */
START_TEST(delete_marks_every_delivered_message_then_quits)
{
    msg m[MAX_MSGS];
    run r;
    char line[32];
    size_t n = make_mailbox(m);
    run_init(&r);
    script_login(r.srv, 1);
    script_listings(r.srv, m, n, NULL);
    script_retr_all(r.srv, m, n);
    for (size_t i = 1; i <= n; i++) {
        snprintf(line, sizeof line, "DELE %zu", i);
        p3s_expect(r.srv, line);
        p3s_send(r.srv, "+OK marked\r\n");
    }
    script_quit(r.srv, "+OK bye\r\n");
    const char *const extra[] = {"--delete", NULL};
    run_pop3fetch(&r, extra);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    ck_assert_uint_eq(p3s_bytes_unread(r.srv), 0);
    assert_summary(&r, n, wire_bytes(m, n), n);
    assert_maildir(&r, m, n);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* New mail since the last run: only the messages whose UIDL is new. */
START_TEST(second_run_fetches_only_new_uidls)
{
    msg m[MAX_MSGS];
    run r;
    size_t n = make_mailbox(m);
    run_init(&r);
    script_session_start(r.srv, m, 2);
    script_retr_all(r.srv, m, 2);
    script_quit(r.srv, "+OK bye\r\n");
    run_pop3fetch(&r, NULL);
    EXIT_IS(&r, 0);

    fresh_server(&r);
    script_session_start(r.srv, m, n);
    script_retr(r.srv, 3, &m[2]);
    script_retr(r.srv, 4, &m[3]);
    script_quit(r.srv, "+OK bye\r\n");
    run_pop3fetch(&r, NULL);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    assert_summary(&r, 2, wire_bytes(m + 2, 2), 0);
    assert_maildir(&r, m, n);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* The connection drops in the middle of message 2: message 1 is delivered
 * and recorded, nothing of 2 stays in the Maildir, no QUIT (nothing deleted),
 * exit 75 and the error names the host and status. The rerun fetches 2..4. */
START_TEST(drop_mid_retr_keeps_what_was_delivered_and_exits_tempfail)
{
    msg m[MAX_MSGS];
    run r;
    size_t n = make_mailbox(m);
    run_init(&r);
    script_session_start(r.srv, m, n);
    script_retr(r.srv, 1, &m[0]);
    p3s_expect(r.srv, "RETR 2");
    p3s_send(r.srv, "+OK message follows\r\nSubject: dots\r\n\r\n..starts with a do");
    p3s_close(r.srv);
    const char *const extra[] = {"--delete", NULL};
    run_pop3fetch(&r, extra);
    EXIT_IS(&r, 75);
    SCRIPT_DONE(&r);
    ck_assert_str_eq(r.stdout_text, "");
    STDERR_HAS(&r, "alice@127.0.0.1: error: RETR 2 at 127.0.0.1:");
    STDERR_HAS(&r, "POP3A_ERR_EOF");
    STDERR_HAS(&r, "; 1 new, ");
    assert_maildir(&r, m, 1);

    fresh_server(&r);
    script_session_start(r.srv, m, n);
    for (size_t i = 2; i <= n; i++)
        script_retr(r.srv, i, &m[i - 1]);
    script_quit(r.srv, "+OK bye\r\n");
    run_pop3fetch(&r, NULL);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    assert_maildir(&r, m, n);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* --delete, and the session drops after message 1 was delivered, recorded
 * and marked: the server kept it (no QUIT). The next --delete run must not
 * fetch it again but must delete it, with the others it fetches. */
START_TEST(delete_after_a_dropped_session_deletes_what_was_delivered)
{
    msg m[MAX_MSGS];
    run r;
    char line[32];
    size_t n = make_mailbox(m);
    run_init(&r);
    script_session_start(r.srv, m, n);
    script_retr(r.srv, 1, &m[0]);
    p3s_expect(r.srv, "RETR 2");
    p3s_close(r.srv);
    const char *const extra[] = {"--delete", NULL};
    run_pop3fetch(&r, extra);
    EXIT_IS(&r, 75);
    assert_maildir(&r, m, 1);

    fresh_server(&r);
    script_session_start(r.srv, m, n);
    for (size_t i = 2; i <= n; i++)
        script_retr(r.srv, i, &m[i - 1]);
    for (size_t i = 1; i <= n; i++) { /* the one delivered before goes first */
        snprintf(line, sizeof line, "DELE %zu", i);
        p3s_expect(r.srv, line);
        p3s_send(r.srv, "+OK\r\n");
    }
    script_quit(r.srv, "+OK bye\r\n");
    run_pop3fetch(&r, extra);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    assert_summary(&r, n - 1, wire_bytes(m + 1, n - 1), n);
    assert_maildir(&r, m, n);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* A server that offers PIPELINING and drops the connection in the middle
 * of the pipelined RETRs: message 1 is kept, and one more session without
 * pipelining (one command at a time) fetches 2..4; with --delete (_i = 1)
 * it marks 1..4, as the first session's DELEs never took effect. */
START_TEST(pipelining_breakage_retries_once_without)
{
    int delete_after = _i;
    msg m[MAX_MSGS];
    run r;
    char line[32];
    size_t n = make_mailbox(m);
    run_init(&r);
    p3s *again = p3s_new(r.base);
    ck_assert_ptr_nonnull(again);
    p3s_hand_over(r.srv, again);
    script_login(r.srv, 1);
    script_listings(r.srv, m, n, NULL);
    for (size_t i = 1; i <= n; i++) {
        snprintf(line, sizeof line, "RETR %zu", i);
        p3s_expect(r.srv, line);
    }
    p3s_send(r.srv, "+OK message follows\r\n");
    p3s_send_bytes(r.srv, m[0].wire, m[0].wire_len);
    p3s_send(r.srv, "+OK message follows\r\nSubject: cut\r\n");
    p3s_close(r.srv);
    script_login(again, 1); /* offered again, not used */
    p3s_expect(again, "UIDL");
    p3s_expect_silence(again, 50); /* LIST only after UIDL's reply */
    p3s_send(again, "+OK\r\n1 uid-1\r\n2 uid-2\r\n3 uid-3\r\n4 uid-4\r\n.\r\n");
    script_list(again, m, n);
    for (size_t i = 2; i <= n; i++)
        script_retr(again, i, &m[i - 1]);
    for (size_t i = 1; delete_after && i <= n; i++) {
        snprintf(line, sizeof line, "DELE %zu", i);
        p3s_expect(again, line);
        p3s_send(again, "+OK\r\n");
    }
    script_quit(again, "+OK bye\r\n");
    const char *const extra[] = {delete_after ? "--delete" : NULL, NULL};
    run_pop3fetch(&r, extra);
    EXIT_IS(&r, 0);
    ck_assert_msg(p3s_error(again) == NULL && p3s_done(again), "second session: %s",
                  p3s_error(again));
    STDERR_HAS(&r, "warning: RETR 2 at 127.0.0.1:");
    STDERR_HAS(&r, "retrying once without pipelining");
    assert_summary(&r, n, wire_bytes(m, n), delete_after ? n : 0);
    assert_maildir(&r, m, n);
    p3s_free(again);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* A small tmpfs on OUT (the tests run as root), made read-only or left to
 * fill up. 0, or -1 when this machine does not let us mount. */
static int mount_small_fs(const run *r, int read_only)
{
    char dir[160];
    if (mount("tmpfs", r->out, "tmpfs", 0, "size=64k,mode=0700") != 0)
        return -1;
    if (read_only) { /* a complete Maildir, then no writes at all */
        static const char *const subs[] = {"tmp", "new", "cur"};
        for (int i = 0; i < 3; i++) {
            snprintf(dir, sizeof dir, "%s/%s", r->out, subs[i]);
            ck_assert_int_eq(mkdir(dir, 0700), 0);
        }
        /* the type is ignored on a remount; valgrind wants one all the same */
        ck_assert_int_eq(mount("tmpfs", r->out, "tmpfs", MS_REMOUNT | MS_RDONLY, NULL), 0);
    }
    return 0;
}

enum { READ_ONLY, FULL, MDA_EXIT_1 };

/* Delivery fails (a read-only Maildir, a full file system, an MDA exiting
 * 1): the session ends at once without DELE or QUIT, so the server keeps
 * everything; exit 74 with the reason. What was delivered before (messages
 * 1..3 on the full file system) is recorded, the rest is fetched next time. */
START_TEST(delivery_failure_deletes_nothing_and_exits_ioerr)
{
    int how = _i;
    msg m[MAX_MSGS];
    run r;
    char line[32];
    size_t n = make_mailbox(m), stored = how == FULL ? 3 : 0;
    run_init(&r);
    if (how != MDA_EXIT_1 && mount_small_fs(&r, how == READ_ONLY) != 0) {
        run_free_mailbox(&r, m, n);
        ck_abort_msg("cannot mount a tmpfs (not root?): %s", strerror(errno));
    }
    script_login(r.srv, 1);
    script_listings(r.srv, m, n, NULL);
    /* Pipelined: every RETR goes out at once, but an MDA gets one at a time. */
    for (size_t i = 1; i <= (how == MDA_EXIT_1 ? 1 : n); i++) {
        snprintf(line, sizeof line, "RETR %zu", i);
        p3s_expect(r.srv, line);
    }
    for (size_t i = 0; i <= stored; i++) {
        p3s_send(r.srv, "+OK message follows\r\n");
        p3s_send_bytes(r.srv, m[i].wire, m[i].wire_len);
    }
    const char *const maildir[] = {"--delete", NULL};
    const char *const mda[] = {"--delete", "--mda", "cat >/dev/null; exit 1", NULL};
    run_pop3fetch(&r, how == MDA_EXIT_1 ? mda : maildir);
    EXIT_IS(&r, 74);
    ck_assert_msg(p3s_bytes_unread(r.srv) == 0, "%zu bytes after the RETRs (DELE? QUIT?)",
                  p3s_bytes_unread(r.srv));
    ck_assert_int_eq(p3s_peer_closed(r.srv), 1);
    STDERR_HAS(&r, how == READ_ONLY ? "Read-only file system (nothing deleted on the server)"
                   : how == FULL    ? "No space left on device (nothing deleted on the server)"
                                    : "MDA \"cat >/dev/null; exit 1\" exited with 1 (nothing "
                                      "deleted on the server)");
    ck_assert_str_eq(r.stdout_text, "");
    if (how != MDA_EXIT_1) {
        umount(r.out);
        if (how == FULL) { /* the tmpfs is gone: what it held too */
            fresh_server(&r);
            script_session_start(r.srv, m, n);
            script_retr(r.srv, 4, &m[3]);
            script_quit(r.srv, "+OK bye\r\n");
            run_pop3fetch(&r, NULL);
            EXIT_IS(&r, 0);
            SCRIPT_DONE(&r);
            assert_summary(&r, 1, m[3].body_len, 0);
        }
    }
    run_free_mailbox(&r, m, n);
}
END_TEST

/* A second pop3fetch on the same state: exit 75, says so, sends nothing
 * after login... it never connects at all. */
START_TEST(state_locked_by_another_process_exits_tempfail)
{
    msg m[MAX_MSGS];
    run r;
    char lock[160];
    size_t n = make_mailbox(m);
    run_init(&r);
    snprintf(lock, sizeof lock, "%s/state.sqlite.lock", r.work);
    int fd = open(lock, O_RDWR | O_CREAT, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX), 0);
    run_pop3fetch(&r, NULL);
    close(fd);
    EXIT_IS(&r, 75);
    ck_assert_int_eq(p3s_connected(r.srv), 0);
    STDERR_HAS(&r, "another pop3fetch is fetching this account");
    run_free_mailbox(&r, m, n);
}
END_TEST

/* Wrong password: 77 with the server's text; [IN-USE]: 75. */
START_TEST(login_refusals_map_to_sysexits)
{
    int in_use = _i;
    msg m[MAX_MSGS];
    run r;
    size_t n = make_mailbox(m);
    run_init(&r);
    p3s_send(r.srv, "+OK ready\r\n");
    p3s_expect(r.srv, "CAPA");
    p3s_send(r.srv, "+OK\r\nUSER\r\nRESP-CODES\r\n.\r\n");
    p3s_expect(r.srv, "USER alice");
    p3s_send(r.srv, "+OK\r\n");
    p3s_expect(r.srv, "PASS " PASSWORD);
    p3s_send(r.srv, in_use ? "-ERR [IN-USE] mailbox locked\r\n" : "-ERR [AUTH] bad password\r\n");
    run_pop3fetch(&r, NULL);
    EXIT_IS(&r, in_use ? 75 : 77);
    SCRIPT_DONE(&r);
    STDERR_HAS(&r, in_use ? "login at 127.0.0.1:" : "login at 127.0.0.1:");
    STDERR_HAS(&r, in_use ? "POP3A_ERR_AUTH [IN-USE] mailbox locked"
                          : "POP3A_ERR_AUTH [AUTH] bad password");
    ck_assert_msg(strstr(r.stderr_text, PASSWORD) == NULL, "password in stderr");
    run_free_mailbox(&r, m, n);
}
END_TEST

enum { PW_FILE, PW_CMD, PW_CMD_FAILS };

/* The password from a file's or a command's first line; a failing command
 * is a configuration error (78) before any connection. */
START_TEST(password_from_file_or_command)
{
    int how = _i;
    msg m[MAX_MSGS];
    run r;
    char port[16], state[160], pwfile[160];
    size_t n = make_mailbox(m);
    run_init(&r);
    if (how != PW_CMD_FAILS) {
        script_session_start(r.srv, m, 1);
        script_retr(r.srv, 1, &m[0]);
        script_quit(r.srv, "+OK bye\r\n");
    }
    snprintf(port, sizeof port, "%u", (unsigned)r.port);
    snprintf(state, sizeof state, "%s/state.sqlite", r.work);
    snprintf(pwfile, sizeof pwfile, "%s/pw", r.work);
    FILE *f = fopen(pwfile, "w");
    ck_assert_ptr_nonnull(f);
    fputs(PASSWORD "\nsecond line\n", f);
    fclose(f);
    const char *const args[] = {"--host", "127.0.0.1", "--port", port, "--user", "alice",
                                how == PW_FILE ? "--password-file" : "--password-cmd",
                                how == PW_FILE  ? pwfile
                                : how == PW_CMD ? "printf '" PASSWORD "\\nignored\\n'"
                                                : "echo half; exit 3",
                                "--tls", "none", "--allow-cleartext", "--state", state,
                                "--maildir", r.out, NULL};
    run_pop3fetch_args(&r, args);
    if (how == PW_CMD_FAILS) {
        EXIT_IS(&r, 78);
        STDERR_HAS(&r, "alice@127.0.0.1: error: password_cmd: the command failed (exit 3)");
        ck_assert_int_eq(p3s_connected(r.srv), 0);
    } else {
        EXIT_IS(&r, 0);
        SCRIPT_DONE(&r);
        assert_maildir(&r, m, 1);
    }
    run_free_mailbox(&r, m, n);
}
END_TEST

START_TEST(two_password_sources_are_a_usage_error)
{
    msg m[MAX_MSGS];
    run r;
    size_t n = make_mailbox(m);
    run_init(&r);
    const char *const extra[] = {"--password-cmd", "true", NULL}; /* and --password-env */
    run_pop3fetch(&r, extra);
    EXIT_IS(&r, 64);
    STDERR_HAS(&r, "only one of password_file");
    ck_assert_int_eq(p3s_connected(r.srv), 0);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* --trace shows the exchange on stderr, the password redacted; --verbose
 * each delivered message. */
START_TEST(trace_and_verbose_never_show_the_password)
{
    msg m[MAX_MSGS];
    run r;
    size_t n = make_mailbox(m);
    run_init(&r);
    script_session_start(r.srv, m, 1);
    script_retr(r.srv, 1, &m[0]);
    script_quit(r.srv, "+OK bye\r\n");
    const char *const extra[] = {"--trace", "--verbose", NULL};
    run_pop3fetch(&r, extra);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    STDERR_HAS(&r, "pop3fetch: alice@127.0.0.1: > USER alice\n");
    STDERR_HAS(&r, "pop3fetch: alice@127.0.0.1: > PASS ");
    STDERR_HAS(&r, "pop3fetch: alice@127.0.0.1: < +OK logged in\n");
    STDERR_HAS(&r, "pop3fetch: alice@127.0.0.1: message 1 (uid-1): ");
    ck_assert_msg(strstr(r.stderr_text, "s3cret") == NULL, "password in the trace: %s",
                  r.stderr_text);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* On a terminal (script(1) gives one), a progress line is redrawn while
 * messages come, at most 10 times a second; then the summary. Off a
 * terminal the other tests see nothing but the summary. */
START_TEST(progress_on_a_terminal_at_most_ten_redraws_a_second)
{
    msg m[MAX_MSGS];
    run r;
    char cmd[1024];
    size_t n = make_mailbox(m);
    run_init(&r);
    script_session_start(r.srv, m, n);
    for (size_t i = 0; i < n; i++) { /* 4 x 400 ms: about 16 redraws */
        p3s_delay(r.srv, 400);
        script_retr(r.srv, i + 1, &m[i]);
    }
    script_quit(r.srv, "+OK bye\r\n");
    /* A valgrind wrapper goes around pop3fetch, inside script(1), not around
     * script itself. */
    const char *wrapper = getenv("POP3A_CHILD_WRAPPER");
    char *saved = wrapper ? strdup(wrapper) : NULL;
    snprintf(cmd, sizeof cmd,
             "P3TEST_PW='" PASSWORD "' %s %s --host 127.0.0.1 --port %u --user alice "
             "--password-env P3TEST_PW --tls none --allow-cleartext --state %s/s.sqlite "
             "--maildir %s",
             saved ? saved : "", pop3fetch_path, (unsigned)r.port, r.work, r.out);
    unsetenv("POP3A_CHILD_WRAPPER");
    const char *const argv[] = {"script", "-qec", cmd, "/dev/null", NULL};
    run_child(&r, argv);
    if (saved)
        setenv("POP3A_CHILD_WRAPPER", saved, 1);
    free(saved);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    size_t redraws = 0;
    for (const char *p = r.stdout_text; (p = strstr(p, "\r\033[Kalice@127.0.0.1 ")); p++)
        redraws++;
    /* 1.6 s of RETRs: 16 at 10 per second; a little slack for the start */
    ck_assert_msg(redraws >= 5 && redraws <= 20, "%zu redraws: %s", redraws, r.stdout_text);
    ck_assert_msg(strstr(r.stdout_text, "alice@127.0.0.1 2/4 ") != NULL, "no 2/4: %s",
                  r.stdout_text);
    ck_assert_msg(strstr(r.stdout_text, "alice@127.0.0.1: 4 new, ") != NULL, "no summary: %s",
                  r.stdout_text);
    assert_maildir(&r, m, n);
    run_free_mailbox(&r, m, n);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, keep_mode_delivers_once_then_fetches_nothing);
    tcase_add_test(tc, delete_marks_every_delivered_message_then_quits);
    tcase_add_test(tc, second_run_fetches_only_new_uidls);
    tcase_add_test(tc, drop_mid_retr_keeps_what_was_delivered_and_exits_tempfail);
    tcase_add_test(tc, delete_after_a_dropped_session_deletes_what_was_delivered);
    tcase_add_loop_test(tc, pipelining_breakage_retries_once_without, 0, 2);
    tcase_add_loop_test(tc, delivery_failure_deletes_nothing_and_exits_ioerr, READ_ONLY,
                        MDA_EXIT_1 + 1);
    tcase_add_test(tc, state_locked_by_another_process_exits_tempfail);
    tcase_add_loop_test(tc, login_refusals_map_to_sysexits, 0, 2);
    tcase_add_loop_test(tc, password_from_file_or_command, PW_FILE, PW_CMD_FAILS + 1);
    tcase_add_test(tc, two_password_sources_are_a_usage_error);
    tcase_add_test(tc, progress_on_a_terminal_at_most_ten_redraws_a_second);
    tcase_add_test(tc, trace_and_verbose_never_show_the_password);
}

int main(int argc, char **argv)
{
    return example_test_main(argc, argv, "pop3fetch", &pop3fetch_path, 0, add_tests);
}
