/*
 * examples/fetch-all against Dovecot, as a user runs it: STLS with the harness
 * CA, the strongest mechanism, pipelined RETRs, and with --delete the DELEs and
 * the QUIT pipelined behind them. Every stored file must equal the manifest's
 * message byte for byte, and a later session must find the maildrop empty.
 * load300 (run-suite fills it with the edge messages) is emptied by each run.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "itest.h"

#define FETCH_USER "load300"
#define FETCH_PASSWORD "pw300"
#define FETCH_WAIT_S 120

/* Runs fetch-all with its stdout and stderr in files under dir; returns its
 * exit status, or -1 when it was killed after FETCH_WAIT_S seconds. */
static int run_fetch_all(const char *dir, const char *out)
{
    const char *exe = getenv("POP3A_FETCH_ALL");
    ck_assert_msg(exe && exe[0], "POP3A_FETCH_ALL (the fetch-all binary) is not set");
    char port[16];
    snprintf(port, sizeof port, "%u", (unsigned)it_cfg()->port);
    const char *argv[] = {exe,        "--host",     it_cfg()->host, "--port",
                          port,       "--tls",      "stls",         "--ca-file",
                          it_cfg()->ca, "--user",   FETCH_USER,     "--password-env",
                          "P3IT_PW",  "--out",      out,            "--delete",
                          NULL};
    setenv("P3IT_PW", FETCH_PASSWORD, 1);
    int rc = it_run_child(argv, dir, FETCH_WAIT_S);
    unsetenv("P3IT_PW");
    return rc;
}

static uint32_t messages_on_server(void)
{
    return it_messages_on_server(FETCH_USER, FETCH_PASSWORD);
}

START_TEST(fetch_all_delete_stores_every_message_then_empties_the_maildrop)
{
    it_manifest man;
    it_manifest_load(FETCH_USER, &man);
    ck_assert_msg(man.n > 0 && messages_on_server() == man.n,
                  FETCH_USER "'s maildrop is not as filled: run-suite refills it");
    char dir[] = "/tmp/pop3a-it-fetch.XXXXXX", out[600];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(out, sizeof out, "%s/out", dir);
    ck_assert_int_eq(mkdir(out, 0700), 0);

    int rc = run_fetch_all(dir, out);
    char path[700];
    snprintf(path, sizeof path, "%s/stderr", dir);
    size_t err_len;
    char *err = it_read_file(path, &err_len);
    ck_assert_msg(rc == 0, "fetch-all exit %d; stderr: %s", rc, err);
    ck_assert_str_eq(err, "");
    free(err);

    for (size_t i = 0; i < man.n; i++) {
        size_t want_len, got_len;
        char *want = it_read_file(man.msgs[i].path, &want_len);
        snprintf(path, sizeof path, "%s/%" PRIu32 ".eml", out, man.msgs[i].index);
        char *got = it_read_file(path, &got_len);
        ck_assert_msg(got_len == want_len && memcmp(got, want, want_len) == 0,
                      "message %" PRIu32 ": %zu octets stored, %zu expected or different",
                      man.msgs[i].index, got_len, want_len);
        free(want);
        free(got);
    }
    /* DELE of every message, then QUIT: the UPDATE state removed them all. */
    ck_assert_uint_eq(messages_on_server(), 0);
    it_remove_tree(dir);
    it_manifest_free(&man);
}
END_TEST

Suite *it_suite_fetch_all(void)
{
    Suite *s = suite_create("fetch_all");
    TCase *tc = tcase_create("fetch_all");
    tcase_set_timeout(tc, FETCH_WAIT_S + 60);
    tcase_add_test(tc, fetch_all_delete_stores_every_message_then_empties_the_maildrop);
    suite_add_tcase(s, tc);
    return s;
}
