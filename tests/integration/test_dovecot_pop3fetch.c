/*
 * tools/pop3fetch against Dovecot (run-suite starts it): delivery into a
 * Maildir, an mbox and an MDA compared with the fill manifest byte for byte
 * (Maildir and mbox after CRLF -> LF, as pop3fetch(1) documents), keep mode
 * run twice and after 5 more messages, --delete, 20 accounts at once, and
 * refusals as the real server words them. The cases fill their own users
 * (load301..load330) through dovecot-env, so they do not depend on the
 * other suites' mailboxes.
 */
#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test_dovecot_pop3fetch.h"

/* --------------------------------------------------------------- cases */

/* Keep mode: 20 messages, then nothing, then exactly the 5 added (the same
 * fill with 25 keeps the first 20 and their UIDLs). */
START_TEST(keep_mode_twice_then_five_more)
{
    it_manifest man;
    fetch_run r;
    fill("load301", "20", "1301", "edge");
    it_manifest_load("load301", &man);
    run_init(&r);
    const char *const extra[] = {"--maildir", r.out, NULL};
    fetch_user(&r, "load301", "pw301", extra);
    EXIT_IS(&r, 0);
    ck_assert_str_eq(r.stderr_text, "");
    assert_summary(r.stdout_text, "load301@127.0.0.1", 20, man.total, 0);
    assert_maildir(r.out, &man, 20);

    fetch_user(&r, "load301", "pw301", extra);
    EXIT_IS(&r, 0);
    assert_summary(r.stdout_text, "load301@127.0.0.1", 0, 0, 0);

    it_manifest_free(&man);
    fill("load301", "25", "1301", "edge");
    it_manifest_load("load301", &man);
    fetch_user(&r, "load301", "pw301", extra);
    EXIT_IS(&r, 0);
    assert_summary(r.stdout_text, "load301@127.0.0.1", 5,
                   man.total - manifest_bytes(&man, 20), 0);
    assert_maildir(r.out, &man, 25);
    ck_assert_uint_eq(it_messages_on_server("load301", "pw301"), 25); /* kept */
    run_free(&r);
    it_manifest_free(&man);
}
END_TEST

/* --delete over implicit TLS: every message delivered, then the maildrop is
 * empty; a second run finds nothing. */
START_TEST(delete_empties_the_server_of_what_was_delivered)
{
    it_manifest man;
    fetch_run r;
    char port[16];
    fill("load302", "25", "1302", "edge");
    it_manifest_load("load302", &man);
    run_init(&r);
    snprintf(port, sizeof port, "%u", (unsigned)it_cfg()->tls_port);
    const char *const args[] = {"--host", it_cfg()->host, "--port", port, "--tls", "implicit",
                                "--ca-file", it_cfg()->ca, "--user", "load302",
                                "--password-env", "P3IT_PW", "--state", r.state,
                                "--maildir", r.out, "--delete", NULL};
    run_pop3fetch(&r, "pw302", args);
    EXIT_IS(&r, 0);
    assert_summary(r.stdout_text, "load302@127.0.0.1", 25, man.total, 25);
    assert_maildir(r.out, &man, 25);
    ck_assert_uint_eq(it_messages_on_server("load302", "pw302"), 0);
    run_free(&r);
    it_manifest_free(&man);
}
END_TEST

/* mboxrd: each message after its "From " line, LF line ends, ">From "
 * quoting (the fill has no From_ lines in bodies: the quoting itself is in
 * the scripted tests), then an empty line. */
static void assert_mbox(const char *path, const it_manifest *man)
{
    size_t len, pos = 0;
    char *box = it_read_file(path, &len);
    for (size_t i = 0; i < man->n; i++) {
        size_t want_len;
        char *want = it_read_file(man->msgs[i].path, &want_len);
        want_len = to_lf(want, want_len);
        ck_assert_msg(len - pos > 19 && memcmp(box + pos, "From MAILER-DAEMON ", 19) == 0,
                      "message %zu: no From_ line at offset %zu", i + 1, pos);
        char *nl = memchr(box + pos, '\n', len - pos);
        ck_assert_ptr_nonnull(nl);
        pos = (size_t)(nl - box) + 1;
        ck_assert_msg(len - pos >= want_len && memcmp(box + pos, want, want_len) == 0,
                      "message %zu differs", i + 1);
        pos += want_len;
        if (want_len && want[want_len - 1] != '\n')
            ck_assert_int_eq(box[pos++], '\n');
        ck_assert_msg(pos < len && box[pos] == '\n', "message %zu: no empty line after it",
                      i + 1);
        pos++;
        free(want);
    }
    ck_assert_uint_eq(pos, len);
    free(box);
}

/* mbox (LF) and MDA (the bytes as received: CRLF), each byte for byte. */
START_TEST(mbox_and_mda_deliveries_match_the_manifest)
{
    int mda = _i;
    it_manifest man;
    fetch_run r;
    char target[300];
    fill("load303", "15", "1303", "edge");
    it_manifest_load("load303", &man);
    run_init(&r);
    if (mda) {
        ck_assert_int_eq(mkdir(r.out, 0700), 0);
        snprintf(target, sizeof target, "cat > \"$(mktemp %s/m.XXXXXX)\"", r.out);
    } else {
        snprintf(target, sizeof target, "%s/mbox", r.dir);
    }
    const char *const extra[] = {mda ? "--mda" : "--mbox", target, NULL};
    fetch_user(&r, "load303", "pw303", extra);
    EXIT_IS(&r, 0);
    assert_summary(r.stdout_text, "load303@127.0.0.1", 15, man.total, 0);
    if (mda)
        assert_files_match(r.out, &man, man.n, 0);
    else
        assert_mbox(target, &man);
    run_free(&r);
    it_manifest_free(&man);
}
END_TEST

/* 20 accounts from one config file on one loop, --jobs 4 and --jobs 20:
 * every Maildir matches its manifest, one summary line each. */
START_TEST(twenty_accounts_at_once)
{
    const char *jobs = _i ? "20" : "4";
    fetch_run r;
    char path[200], line[1024], user[16];
    fill("load311..load330", "3", "1311", "1k-8k");
    run_init(&r);
    snprintf(path, sizeof path, "%s/config", r.dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "[defaults]\nhost = %s\nport = %u\nca_file = %s\n\n", it_cfg()->host,
            (unsigned)it_cfg()->port, it_cfg()->ca);
    for (int i = 311; i <= 330; i++)
        fprintf(f, "[account a%d]\nuser = load%d\npassword_cmd = echo pw%d\n"
                "maildir = %s/md%d\nstate = %s/s%d.sqlite\n\n", i, i, i, r.dir, i, r.dir, i);
    fclose(f);
    chmod(path, 0600);
    const char *const args[] = {"--config", path, "--jobs", jobs, NULL};
    run_pop3fetch(&r, "unused", args);
    EXIT_IS(&r, 0);
    size_t lines = 0;
    for (const char *p = r.stdout_text; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    ck_assert_msg(lines == 20, "%zu summary lines: %s", lines, r.stdout_text);
    for (int i = 311; i <= 330; i++) {
        it_manifest man;
        snprintf(user, sizeof user, "load%d", i);
        it_manifest_load(user, &man);
        snprintf(line, sizeof line, "a%d", i);
        assert_summary(r.stdout_text, line, 3, man.total, 0);
        snprintf(path, sizeof path, "%s/md%d", r.dir, i);
        assert_maildir(path, &man, 3);
        it_manifest_free(&man);
    }
    run_free(&r);
}
END_TEST

/* A wrong password: 77 with Dovecot's words; no CA (the system store does
 * not know the harness CA): 69 with the TLS status, and no login sent. */
START_TEST(refusals_from_the_real_server)
{
    int tls = _i;
    fetch_run r;
    run_init(&r);
    const char *const extra[] = {"--maildir", r.out, NULL};
    if (tls) {
        char port[16];
        snprintf(port, sizeof port, "%u", (unsigned)it_cfg()->port);
        const char *const args[] = {"--host", it_cfg()->host, "--port", port, "--user",
                                    "load304", "--password-env", "P3IT_PW", "--state", r.state,
                                    "--maildir", r.out, NULL};
        run_pop3fetch(&r, "pw304", args);
        EXIT_IS(&r, 69);
        ck_assert_msg(strstr(r.stderr_text, "error: connect at ") &&
                          strstr(r.stderr_text, "POP3A_ERR_TLS"),
                      "stderr: %s", r.stderr_text);
    } else {
        fetch_user(&r, "load304", "wrong", extra);
        EXIT_IS(&r, 77);
        ck_assert_msg(strstr(r.stderr_text, "error: login at ") &&
                          strstr(r.stderr_text, "POP3A_ERR_AUTH [AUTH] Authentication failed."),
                      "stderr: %s", r.stderr_text);
        ck_assert_ptr_null(strstr(r.stderr_text, "wrong"));
    }
    ck_assert_str_eq(r.stdout_text, "");
    run_free(&r);
}
END_TEST

static Suite *pop3fetch_suite(void)
{
    Suite *s = suite_create("pop3fetch");
    TCase *tc = tcase_create("pop3fetch");
    tcase_set_timeout(tc, WAIT_S + 60);
    tcase_add_test(tc, keep_mode_twice_then_five_more);
    tcase_add_test(tc, delete_empties_the_server_of_what_was_delivered);
    tcase_add_loop_test(tc, mbox_and_mda_deliveries_match_the_manifest, 0, 2);
    tcase_add_loop_test(tc, twenty_accounts_at_once, 0, 2);
    tcase_add_loop_test(tc, refusals_from_the_real_server, 0, 2);
    p3f_add_daemon_tests(tc);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    it_config_load();
    if (it_cfg()->external) /* fills and DELE: only against our own Dovecot */
        return 77;
    SRunner *sr = srunner_create(pop3fetch_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
