/*
 * pop3fetch's config file and command line: [defaults] and [account NAME]
 * sections, --account, several accounts (every one runs, the worst exit
 * wins), refusals with file and line, the default path, --help/--version.
 *
 * Usage: test_pop3fetch_config /path/to/pop3fetch
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pop3async/pop3async.h>

#include "pop3fetch_run.h"

/* A config for two accounts on the scripted servers at port1 and port2,
 * "good" and "bad", Maildirs OUT/good and OUT/bad. */
static const char *two_accounts(const run *r, uint16_t port1, uint16_t port2)
{
    char text[1024];
    snprintf(text, sizeof text,
             "# pop3fetch test config\n"
             "[defaults]\n"
             "host = 127.0.0.1\n"
             "user = alice\n"
             "password_env = P3TEST_PW\n"
             "tls = none\n"
             "allow_cleartext = true\n"
             "timeout = 5\n"
             "\n"
             "[account good]\n"
             "port = %u\n"
             "maildir = %s/good\n"
             "state = %s/good.sqlite\n"
             "\n"
             "[account bad]\n"
             "port = %u\n"
             "maildir = %s/bad\n"
             "state = %s/bad.sqlite\n",
             (unsigned)port1, r->out, r->work, (unsigned)port2, r->out, r->work);
    return write_config(r, 0600, text);
}

/* Both accounts run, on one loop: "good" delivers, "bad" is refused. Exit
 * 77 (the worse), one summary line each: good's on stdout, bad's error
 * with host, status name and server text on stderr. */
START_TEST(every_account_runs_and_the_worst_exit_wins)
{
    msg m[MAX_MSGS];
    run r;
    size_t n = make_mailbox(m);
    run_init(&r);
    p3s *bad = p3s_new(r.base);
    ck_assert_ptr_nonnull(bad);
    uint16_t bad_port = p3s_listen(bad, "127.0.0.1");
    script_session_start(r.srv, m, 2);
    script_retr_all(r.srv, m, 2);
    script_quit(r.srv, "+OK bye\r\n");
    p3s_send(bad, "+OK ready\r\n");
    p3s_expect(bad, "CAPA");
    p3s_send(bad, "+OK\r\nUSER\r\n.\r\n");
    p3s_expect(bad, "USER alice");
    p3s_send(bad, "+OK\r\n");
    p3s_expect(bad, "PASS " PASSWORD);
    p3s_send(bad, "-ERR [AUTH] no such user\r\n");
    const char *config = two_accounts(&r, r.port, bad_port);
    setenv("P3TEST_PW", PASSWORD, 1);
    const char *const args[] = {"--config", config, NULL};
    run_pop3fetch_args(&r, args);
    EXIT_IS(&r, 77);
    SCRIPT_DONE(&r);
    ck_assert_msg(p3s_error(bad) == NULL && p3s_done(bad), "bad: %s", p3s_error(bad));
    ck_assert_msg(strncmp(r.stdout_text, "good: 2 new, ", 13) == 0 &&
                      strchr(r.stdout_text, '\n') == r.stdout_text + strlen(r.stdout_text) - 1,
                  "stdout: %s", r.stdout_text);
    STDERR_HAS(&r, "bad: error: login at 127.0.0.1:");
    STDERR_HAS(&r, "POP3A_ERR_AUTH [AUTH] no such user; 0 new, 0 bytes, 0 deleted, ");
    p3s_free(bad);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* --account picks one section; the other is never contacted. */
START_TEST(account_flag_runs_only_that_account)
{
    msg m[MAX_MSGS];
    run r;
    size_t n = make_mailbox(m);
    run_init(&r);
    p3s *other = p3s_new(r.base);
    uint16_t other_port = p3s_listen(other, "127.0.0.1");
    script_session_start(r.srv, m, 1);
    script_retr_all(r.srv, m, 1);
    script_quit(r.srv, "+OK bye\r\n");
    const char *config = two_accounts(&r, r.port, other_port);
    setenv("P3TEST_PW", PASSWORD, 1);
    const char *const args[] = {"--config", config, "--account", "good", "--quiet", NULL};
    run_pop3fetch_args(&r, args);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    ck_assert_int_eq(p3s_connected(other), 0);
    ck_assert_str_eq(r.stdout_text, ""); /* --quiet: no summary on success */
    ck_assert_str_eq(r.stderr_text, "");
    p3s_free(other);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* Rows: a config file and the error pop3fetch must give (exit 78). */
static const struct {
    mode_t mode;
    const char *text, *error;
} refused[] = {
    {0644, "[account a]\nhost = h\nuser = u\npassword_env = X\nmaildir = /tmp/x\n",
     "or a proxy password but group or others can read or write it (mode 644)"},
    {0640, "[account a]\nhost = h\nuser = u\npassword_cmd = pass show x\nmaildir = /tmp/x\n",
     "or a proxy password but group or others can read or write it (mode 640)"},
    {0600, "[defaults]\nhost = h\n\n[account a\nuser = u\n", ":4: syntax error"},
    {0600, "[account a]\nhost = h\nuser = u\nhots = typo\n", ":4: unknown key \"hots\""},
    {0600, "[account a]\nhost = h\ndelete = yes\n",
     ":3: delete: bad value \"yes\" (true or false)"},
    {0600, "[account a]\nport = 0\n", ":2: port: bad value \"0\" (a positive number)"},
    {0600, "[account a]\nmaildir = /x\nmbox = /y\n", ":3: mbox: only one of maildir, mbox and mda"},
    {0600, "[acount a]\nhost = h\n", ":2: section [acount a] is neither [defaults] nor"},
    {0600, "[account a]\nhost = h\n[defaults]\nuser = u\n",
     ":4: [defaults] must come before the first [account]"},
    {0600, "[account a]\nhost = h\nuser = u\npassword_env = X\n",
     "[account a]: needs one of maildir, mbox and mda"},
    {0600,
     "[account a]\nhost = h\nuser = u\npassword_env = X\nmaildir = /x\n"
     "fingerprint = ab:cd\n",
     "[account a]: fingerprint: want 64 hex digits"},
    {0600, "[account a]\nhost = h\nuser = u\npassword_env = X\nmaildir = /x\n"
           "proxy = http://pxuser:Pr0xyS3cret@127.0.0.1:1\n",
     "[account a]: proxy: not a socks5h:// or socks5:// URL with a port"},
    {0600, "[account a]\nhost = h\nuser = u\npassword_env = X\nmaildir = /x\n"
           "proxy = socks5h://127.0.0.1:1\nproxy_env = P3TEST_PROXY\n",
     "[account a]: only one of proxy and proxy_env"},
    {0600, "[account a]\nhost = h\nuser = u\npassword_env = X\nmaildir = /x\n"
           "proxy_env = P3TEST_UNSET_PROXY\n",
     "[account a]: proxy_env P3TEST_UNSET_PROXY: not set or empty"},
};

START_TEST(bad_config_is_refused_with_file_and_line)
{
    msg m[MAX_MSGS];
    run r;
    char want[512];
    size_t n = make_mailbox(m);
    run_init(&r);
    const char *config = write_config(&r, refused[_i].mode, refused[_i].text);
    const char *const args[] = {"--config", config, NULL};
    run_pop3fetch_args(&r, args);
    EXIT_IS(&r, 78);
    snprintf(want, sizeof want, "%s%s", refused[_i].error[0] == ':' ? config : "",
             refused[_i].error);
    STDERR_HAS(&r, want);
    ck_assert(strstr(r.stderr_text, "Pr0xyS3cret") == NULL); /* a proxy URL is not echoed */
    ck_assert_int_eq(p3s_connected(r.srv), 0);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* Without --config: $XDG_CONFIG_HOME/pop3fetch/config, else ~/.pop3fetchrc;
 * neither: a usage error naming the first. */
START_TEST(default_config_path)
{
    int which = _i; /* 0: XDG, 1: ~/.pop3fetchrc, 2: none */
    msg m[MAX_MSGS];
    run r;
    char dir[160], path[200], text[512];
    size_t n = make_mailbox(m);
    run_init(&r);
    snprintf(dir, sizeof dir, "%s/xdg", r.work);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/pop3fetch", dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    setenv("XDG_CONFIG_HOME", dir, 1);
    setenv("HOME", r.work, 1);
    if (which == 0)
        snprintf(path, sizeof path, "%s/xdg/pop3fetch/config", r.work);
    else
        snprintf(path, sizeof path, "%s/.pop3fetchrc", r.work);
    /* ~/ is $HOME, here WORK: the Maildir is WORK/out */
    snprintf(text, sizeof text,
             "[account only]\nhost = 127.0.0.1\nport = %u\nuser = alice\n"
             "password_env = P3TEST_PW\ntls = none\nallow_cleartext = true\n"
             "maildir = %s\nstate = ~/s.sqlite\n",
             (unsigned)r.port, which ? "~/out" : r.out);
    if (which < 2) {
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        fclose(f);
        chmod(path, 0600);
        script_session_start(r.srv, m, 1);
        script_retr_all(r.srv, m, 1);
        script_quit(r.srv, "+OK bye\r\n");
    }
    setenv("P3TEST_PW", PASSWORD, 1);
    const char *const args[] = {NULL};
    run_pop3fetch_args(&r, args);
    if (which < 2) {
        EXIT_IS(&r, 0);
        SCRIPT_DONE(&r);
        ck_assert_msg(strncmp(r.stdout_text, "only: 1 new, ", 13) == 0, "stdout: %s",
                      r.stdout_text);
        assert_maildir(&r, m, 1);
        ck_assert_int_eq(access(path_in(r.work, "s.sqlite"), F_OK), 0);
    } else {
        EXIT_IS(&r, 64);
        STDERR_HAS(&r, "no --host and no config file");
        STDERR_HAS(&r, "/xdg/pop3fetch/config");
    }
    run_free_mailbox(&r, m, n);
}
END_TEST

/* Rows: a command line and what it must give. */
static const struct {
    const char *args[4];
    int exit_code;
    const char *out, *err;
} command_lines[] = {
    {{"--help", NULL}, 0, "usage: pop3fetch [--config FILE] [--account NAME]...", ""},
    {{"--version", NULL}, 0, "pop3fetch " POP3A_VERSION_STRING "\n", ""},
    {{"--hots", "x", NULL}, 64, "", "pop3fetch: --hots: not an option"},
    {{"--jobs", "0", NULL}, 64, "", "pop3fetch: --jobs: a number from 1 to 1000"},
    {{"--tls", "ssl", NULL}, 64, "", "tls: bad value \"ssl\" (implicit, stls or none)"},
    {{"--host", "h", "--config", NULL}, 64, "", "--config: needs a value"},
    {{"--host", "h", NULL}, 64, "", "host and user are required"},
    {{"--syslog", NULL}, 64, "", "pop3fetch: --syslog: goes with --daemon"},
    {{"--daemon", "--poll", "5", NULL}, 64, "", "--poll: not an option (poll is a config key)"},
};

START_TEST(command_line)
{
    msg m[MAX_MSGS];
    run r;
    size_t n = make_mailbox(m);
    run_init(&r);
    run_pop3fetch_args(&r, command_lines[_i].args);
    EXIT_IS(&r, command_lines[_i].exit_code);
    ck_assert_msg(strstr(r.stdout_text, command_lines[_i].out) != NULL, "stdout: %s",
                  r.stdout_text);
    STDERR_HAS(&r, command_lines[_i].err);
    run_free_mailbox(&r, m, n);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, every_account_runs_and_the_worst_exit_wins);
    tcase_add_test(tc, account_flag_runs_only_that_account);
    tcase_add_loop_test(tc, bad_config_is_refused_with_file_and_line, 0,
                        sizeof refused / sizeof refused[0]);
    tcase_add_loop_test(tc, default_config_path, 0, 3);
    tcase_add_loop_test(tc, command_line, 0, sizeof command_lines / sizeof command_lines[0]);
}

int main(int argc, char **argv)
{
    return example_test_main(argc, argv, "pop3fetch_config", &pop3fetch_path, 0, add_tests);
}
