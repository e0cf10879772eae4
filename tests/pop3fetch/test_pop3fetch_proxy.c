/*
 * pop3fetch through a SOCKS5 proxy: a real one (microsocks) on loopback in
 * front of the scripted server, with and without authentication, the URL
 * given as --proxy, by --proxy-env or in the config file. A proxy that is
 * down or refuses the credentials is a temporary failure (75) whose summary
 * says so; credentials on the command line, or in a config file others can
 * read, are refused before any connection, and never echoed.
 *
 * Usage: test_pop3fetch_proxy /path/to/pop3fetch
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "microsocks_run.h"
#include "pop3fetch_run.h"

#define PX_USER "pxuser"
#define PX_PASS "Pr0xyS3cret"

typedef enum { VIA_ARG, VIA_ENV, VIA_CONFIG } via;
typedef enum { PROXY_UP, PROXY_DOWN, PROXY_WRONG_PASS } proxy_state;

static const struct {
    const char *name;
    const char *scheme;
    int auth; /* microsocks wants PX_USER/PX_PASS, and the URL carries them */
    via how;
    proxy_state proxy;
    mode_t config_mode;
    int exit_code;
    const char *error; /* in stderr; NULL: the whole mailbox delivered */
} cases[] = {
    {"socks5h, no auth, --proxy", "socks5h", 0, VIA_ARG, PROXY_UP, 0, 0, NULL},
    {"socks5, no auth, --proxy", "socks5", 0, VIA_ARG, PROXY_UP, 0, 0, NULL},
    {"socks5h, auth, --proxy-env", "socks5h", 1, VIA_ENV, PROXY_UP, 0, 0, NULL},
    {"socks5h, auth, config file", "socks5h", 1, VIA_CONFIG, PROXY_UP, 0600, 0, NULL},
    {"proxy down", "socks5h", 0, VIA_ARG, PROXY_DOWN, 0, 75,
     "alice@127.0.0.1: error: connect (through the SOCKS5 proxy) at 127.0.0.1:"},
    {"proxy refuses the password", "socks5h", 1, VIA_ENV, PROXY_WRONG_PASS, 0, 75,
     "POP3A_ERR_IO SOCKS5 proxy: the proxy refused the user name and password; 0 new, "},
    {"credentials on argv", "socks5h", 1, VIA_ARG, PROXY_UP, 0, 64,
     "--proxy: no USER:PASS@ on the command line"},
    {"credentials in a readable config", "socks5h", 1, VIA_CONFIG, PROXY_UP, 0644, 78,
     "names a password source or a proxy password but group or others can read"},
};

static void run_through_proxy(run *r, int i, const char *url)
{
    char text[1024], state[128];
    if (cases[i].how == VIA_ARG) {
        const char *const extra[] = {"--proxy", url, NULL};
        run_pop3fetch(r, extra);
    } else if (cases[i].how == VIA_ENV) {
        setenv("P3TEST_PROXY", url, 1);
        const char *const extra[] = {"--proxy-env", "P3TEST_PROXY", NULL};
        run_pop3fetch(r, extra);
    } else {
        snprintf(state, sizeof state, "%s/state.sqlite", r->work);
        snprintf(text, sizeof text,
                 "[account alice@127.0.0.1]\nhost = 127.0.0.1\nport = %u\nuser = alice\n"
                 "password_env = P3TEST_PW\ntls = none\nallow_cleartext = true\n"
                 "timeout = %s\nstate = %s\nmaildir = %s\nproxy = %s\n",
                 (unsigned)r->port, child_timeout_arg(), state, r->out, url);
        const char *const args[] = {"--config", write_config(r, 0600, text), NULL};
        ck_assert_int_eq(chmod(args[1], cases[i].config_mode), 0);
        setenv("P3TEST_PW", PASSWORD, 1);
        run_pop3fetch_args(r, args);
    }
}

START_TEST(fetch_through_socks5)
{
    msg m[MAX_MSGS];
    run r;
    ms_proxy p;
    char url[128];
    size_t n = make_mailbox(m);
    run_init(&r);
    ck_assert_int_eq(ms_start(&p, cases[_i].auth ? PX_USER : NULL, PX_PASS), 0);
    if (cases[_i].proxy == PROXY_DOWN)
        ms_stop(&p); /* its port is closed now */
    snprintf(url, sizeof url, "%s://%s%s%s127.0.0.1:%u", cases[_i].scheme,
             cases[_i].auth ? PX_USER ":" : "",
             !cases[_i].auth ? "" : cases[_i].proxy == PROXY_WRONG_PASS ? "wrong" : PX_PASS,
             cases[_i].auth ? "@" : "", (unsigned)p.port);
    if (!cases[_i].error) {
        script_session_start(r.srv, m, n);
        script_retr_all(r.srv, m, n);
        script_quit(r.srv, "+OK bye\r\n");
    }
    run_through_proxy(&r, _i, url);
    if (cases[_i].proxy != PROXY_DOWN)
        ms_stop(&p);
    ck_assert_msg(r.exit_code == cases[_i].exit_code, "%s: exit %d, want %d; stderr: %s",
                  cases[_i].name, r.exit_code, cases[_i].exit_code, r.stderr_text);
    ck_assert_msg(strstr(r.stderr_text, PX_PASS) == NULL, "%s: the proxy password in: %s",
                  cases[_i].name, r.stderr_text);
    if (cases[_i].error) {
        STDERR_HAS(&r, cases[_i].error);
        ck_assert_msg(!p3s_connected(r.srv), "%s: the server was reached", cases[_i].name);
        ck_assert_uint_eq(maildir_count(&r, "new"), 0);
    } else {
        SCRIPT_DONE(&r);
        assert_maildir(&r, m, n);
    }
    run_free_mailbox(&r, m, n);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_loop_test(tc, fetch_through_socks5, 0, sizeof cases / sizeof cases[0]);
}

int main(int argc, char **argv)
{
    return example_test_main(argc, argv, "pop3fetch_proxy", &pop3fetch_path, 0, add_tests);
}
