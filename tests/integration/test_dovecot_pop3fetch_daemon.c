/*
 * pop3fetch against Dovecot, the long-running and the killed: --daemon polls
 * twice (the second poll fetches what a fill added in between), SIGHUP picks
 * up a new account, SIGTERM exits 0; and crash safety: SIGKILL at 50 random
 * points (seeded, printed) of --delete runs into Maildirs, each followed by a
 * clean rerun, after which the Maildir holds the source set byte for byte,
 * once each, and the server is empty. Users load331..load332 and
 * load340..load390.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_dovecot_pop3fetch.h"

#define CRASH_POINTS 50
#define CRASH_FIRST_USER 341 /* load341..load390: one mailbox per point */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t files_in(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;
    while (d && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

/* Waits up to `wait_s` for DIR/new to hold `want` files (the daemon's polls). */
static void wait_for_files(const char *maildir, size_t want, unsigned wait_s, pid_t pid)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/new", maildir);
    for (double end = now_s() + wait_s; files_in(dir) < want && now_s() < end;) {
        int status;
        ck_assert_msg(waitpid(pid, &status, WNOHANG) == 0, "the daemon exited early");
        struct timespec tick = {0, 20 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    ck_assert_msg(files_in(dir) == want, "%s: %zu files, want %zu", dir, files_in(dir), want);
}

static void account_section(FILE *f, const fetch_run *r, int n)
{
    fprintf(f, "[account d%d]\nuser = load%d\npassword_cmd = echo pw%d\n"
            "maildir = %s/md%d\nstate = %s/s%d.sqlite\n\n", n, n, n, r->dir, n, r->dir, n);
}

static const char *write_daemon_config(const fetch_run *r, int two_accounts)
{
    static char path[200];
    snprintf(path, sizeof path, "%s/config", r->dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "[defaults]\nhost = %s\nport = %u\nca_file = %s\npoll = 1\n\n", it_cfg()->host,
            (unsigned)it_cfg()->port, it_cfg()->ca);
    account_section(f, r, 331);
    if (two_accounts)
        account_section(f, r, 332);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(path, 0600), 0);
    return path;
}

static void assert_user_maildir(const fetch_run *r, int n)
{
    char user[16], md[200];
    it_manifest man;
    snprintf(user, sizeof user, "load%d", n);
    snprintf(md, sizeof md, "%s/md%d", r->dir, n);
    it_manifest_load(user, &man);
    assert_maildir(md, &man, man.n);
    it_manifest_free(&man);
}

/* poll = 1: the first poll fetches 10 messages; a fill to 15 (the same 10
 * first, same UIDLs) is fetched by a later poll, 5 new; SIGHUP after a
 * second account joins the config: its 3 arrive; SIGTERM: exit 0. Every
 * Maildir equals its manifest, nothing twice. */
START_TEST(daemon_polls_again_reloads_and_stops)
{
    fetch_run r;
    char md[200], path[300];
    size_t len;
    fill("load331", "10", "1331", "1k-8k");
    fill("load332", "3", "1332", "1k-8k");
    run_init(&r);
    const char *argv[] = {env_or_fail("POP3A_POP3FETCH"), "--daemon", "--config",
                          write_daemon_config(&r, 0), NULL};
    pid_t pid = it_spawn_child(argv, r.dir);
    snprintf(md, sizeof md, "%s/md331", r.dir);
    wait_for_files(md, 10, 60, pid);
    fill("load331", "15", "1331", "1k-8k");
    wait_for_files(md, 15, 60, pid);

    write_daemon_config(&r, 1);
    ck_assert_int_eq(kill(pid, SIGHUP), 0);
    snprintf(md, sizeof md, "%s/md332", r.dir);
    wait_for_files(md, 3, 60, pid);

    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    r.rc = it_wait_child(pid, 30);
    snprintf(path, sizeof path, "%s/stderr", r.dir);
    r.stderr_text = it_read_file(path, &len);
    EXIT_IS(&r, 0);
    ck_assert_msg(strstr(r.stderr_text, "config reloaded: 2 accounts, 1 new, 0 removed") &&
                      strstr(r.stderr_text, "SIGTERM: stopping"),
                  "stderr: %s", r.stderr_text);
    assert_user_maildir(&r, 331);
    assert_user_maildir(&r, 332);
    ck_assert_uint_eq(it_messages_on_server("load331", "pw331"), 15); /* kept */
    run_free(&r);
}
END_TEST

/* A --delete run of `user` into r's Maildir, started now. */
static pid_t spawn_delete_run(const fetch_run *r, const char *user, const char *password)
{
    const char *argv[48];
    const char *const extra[] = {"--maildir", r->out, "--delete", "--quiet", NULL};
    argv[0] = env_or_fail("POP3A_POP3FETCH");
    fetch_user_args(r, user, extra, argv + 1, 47);
    setenv("P3IT_PW", password, 1);
    pid_t pid = it_spawn_child(argv, r->dir);
    unsetenv("P3IT_PW");
    return pid;
}

/*
 * 30 messages of 2-20 KiB per mailbox. A clean run of load340 gives the
 * length of a whole run; each point kills a --delete run of a fresh mailbox
 * at a random time within that (a little less after a run that ended before
 * its kill), then a rerun must exit 0 and leave
 * the Maildir's new/ equal to the source set (each message once: the
 * documented Maildir bound is no duplicate) and the server empty. A killed
 * run may leave a partial file in tmp/, which Maildir readers ignore.
 */
START_TEST(sigkill_at_random_points_loses_nothing)
{
    const char *env_seed = getenv("POP3A_CRASH_SEED");
    unsigned seed = env_seed ? (unsigned)strtoul(env_seed, NULL, 10)
                             : (unsigned)time(NULL) ^ (unsigned)getpid();
    char users[32], user[16], pw[16];
    size_t tmp_left = 0, killed_mid = 0;
    fill("load340", "30", "1340", "2k-20k");
    snprintf(users, sizeof users, "load%d..load%d", CRASH_FIRST_USER,
             CRASH_FIRST_USER + CRASH_POINTS - 1);
    fill(users, "30", "1341", "2k-20k");

    fetch_run r;
    run_init(&r);
    double t0 = now_s();
    pid_t pid = spawn_delete_run(&r, "load340", "pw340");
    r.rc = it_wait_child(pid, WAIT_S);
    double whole = now_s() - t0;
    EXIT_IS(&r, 0);
    run_free(&r);
    printf("crash safety: seed %u (POP3A_CRASH_SEED), a whole run %.3f s\n", seed, whole);
    double window = whole; /* shrinks when a run ends before its kill */

    for (int i = 0; i < CRASH_POINTS; i++) {
        it_manifest man;
        char dir[300];
        int n = CRASH_FIRST_USER + i;
        snprintf(user, sizeof user, "load%d", n);
        snprintf(pw, sizeof pw, "pw%d", n);
        long delay_us = (long)(rand_r(&seed) % (unsigned)(window * 1e6 + 1));
        run_init(&r);
        pid = spawn_delete_run(&r, user, pw);
        struct timespec ts = {delay_us / 1000000, (delay_us % 1000000) * 1000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        int was_killed = WIFSIGNALED(status);
        if (!was_killed)
            window = 0.95 * (double)delay_us / 1e6;
        snprintf(dir, sizeof dir, "%s/new", r.out);
        size_t before = files_in(dir);
        killed_mid += was_killed && before > 0 && before < 30;
        printf("point %2d: %s killed after %6.3f s%s, %zu delivered before the rerun\n", i + 1,
               user, (double)delay_us / 1e6, was_killed ? "" : " (had exited)", before);

        fetch_user(&r, user, pw, (const char *const[]){"--maildir", r.out, "--delete", NULL});
        EXIT_IS(&r, 0);
        it_manifest_load(user, &man);
        assert_files_match(dir, &man, man.n, 1);
        it_manifest_free(&man);
        ck_assert_uint_eq(it_messages_on_server(user, pw), 0);
        snprintf(dir, sizeof dir, "%s/tmp", r.out);
        tmp_left += files_in(dir);
        run_free(&r);
    }
    printf("crash safety: %zu kills fell mid-mailbox; %zu partial files left in tmp/\n",
           killed_mid, tmp_left);
    fflush(stdout);
}
END_TEST

void p3f_add_daemon_tests(TCase *tc)
{
    tcase_add_test(tc, daemon_polls_again_reloads_and_stops);
    tcase_add_test(tc, sigkill_at_random_points_loses_nothing);
}
