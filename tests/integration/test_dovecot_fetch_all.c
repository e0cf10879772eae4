/*
 * examples/fetch-all against Dovecot, as a user runs it: STLS with the harness
 * CA, the strongest mechanism, pipelined RETRs, and with --delete the DELEs and
 * the QUIT pipelined behind them. Every stored file must equal the manifest's
 * message byte for byte, and a later session must find the maildrop empty.
 * load300 (run-suite fills it with the edge messages) is emptied by each run.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"

extern char **environ;

#define FETCH_USER "load300"
#define FETCH_PASSWORD "pw300"
#define FETCH_WAIT_S 120

/* Runs fetch-all with its stdout and stderr in files under dir; returns its
 * exit status, or -1 when it was killed after FETCH_WAIT_S seconds. */
static int run_fetch_all(const char *dir, const char *out)
{
    const char *exe = getenv("POP3A_FETCH_ALL");
    ck_assert_msg(exe && exe[0], "POP3A_FETCH_ALL (the fetch-all binary) is not set");
    char port[16], out_path[600], err_path[600];
    snprintf(port, sizeof port, "%u", (unsigned)it_cfg()->port);
    snprintf(out_path, sizeof out_path, "%s/stdout", dir);
    snprintf(err_path, sizeof err_path, "%s/stderr", dir);
    const char *argv[] = {exe,        "--host",     it_cfg()->host, "--port",
                          port,       "--tls",      "stls",         "--ca-file",
                          it_cfg()->ca, "--user",   FETCH_USER,     "--password-env",
                          "P3IT_PW",  "--out",      out,            "--delete",
                          NULL};
    setenv("P3IT_PW", FETCH_PASSWORD, 1);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int rc = posix_spawn(&pid, exe, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    unsetenv("P3IT_PW");
    ck_assert_msg(rc == 0, "posix_spawn %s: %s", exe, strerror(rc));
    int status;
    for (int waited_ms = 0;; waited_ms += 10) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (waited_ms >= FETCH_WAIT_S * 1000) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        struct timespec tick = {0, 10 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
}

static void remove_tree(const char *dir)
{
    char path[1200];
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0)
            remove_tree(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static uint32_t messages_on_server(void)
{
    it_session s;
    it_session_init(&s, NULL, POP3A_TLS_STLS);
    ck_assert_int_eq(it_connect(&s, it_cfg()->host, it_cfg()->port), POP3A_OK);
    ck_assert_int_eq(it_login(&s, FETCH_USER, FETCH_PASSWORD, 0), POP3A_OK);
    pop3a_future *f = it_run(&s, pop3a_stat(s.client, it_done, &s));
    uint32_t count = 0;
    uint64_t octets = 0;
    ck_assert_int_eq(pop3a_future_stat(f, &count, &octets), 0);
    ck_assert_int_eq(it_quit(&s), POP3A_OK);
    it_session_free(&s);
    return count;
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
    remove_tree(dir);
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
