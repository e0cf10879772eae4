/*
 * The README's usage program, built against the installed library, run as a
 * child process against the scripted server over verified implicit TLS,
 * connecting by host name ("localhost", so the client's own resolver is
 * used). It must print the message and exit 0 by itself: a client that keeps
 * the event loop alive once nothing is pending (an idle evdns_base does) makes
 * event_base_dispatch never return.
 *
 * Usage: test_readme_program PROGRAM...   (one loop test per program: e.g. the
 * shared and the static build)
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "script_server.h"
#include "test_util.h"

#define CHILD_WAIT_MS 10000
#define BODY "Subject: hello\r\n\r\n.. a stuffed line\r\nbye\r\n"

extern char **environ;
static char **programs;

typedef struct {
    pid_t pid;
    int exited, status;
} child;

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
    child *ch = arg;
    if (!ch->exited && waitpid(ch->pid, &ch->status, WNOHANG) == ch->pid)
        ch->exited = 1;
}

static void script_mailbox(p3s *s)
{
    p3s_send(s, "+OK scripted POP3 ready\r\n");
    p3s_expect(s, "CAPA");
    p3s_send(s, "+OK\r\nUSER\r\n.\r\n");
    p3s_expect(s, "USER alice");
    p3s_send(s, "+OK\r\n");
    p3s_expect(s, "PASS s3cret");
    p3s_send(s, "+OK logged in\r\n");
    p3s_expect(s, "RETR 1");
    p3s_send(s, "+OK message follows\r\nSubject: hello\r\n\r\n... a stuffed line\r\nbye\r\n.\r\n");
    p3s_expect(s, "QUIT");
    p3s_send(s, "+OK bye\r\n");
    p3s_close(s);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

START_TEST(readme_program_prints_the_message_and_exits_by_itself)
{
    const char *program = programs[_i];
    struct event_base *base = event_base_new();
    p3s *srv = p3s_new(base);
    SSL_CTX *tls = p3s_tls_server_ctx("leaf");
    ck_assert_ptr_nonnull(tls);
    p3s_tls_implicit(srv, tls);
    SSL_CTX_free(tls);
    uint16_t port = p3s_listen(srv, "127.0.0.1");
    ck_assert_uint_ne(port, 0);
    script_mailbox(srv);

    char port_text[8], out[] = "/tmp/pop3a-readme-XXXXXX";
    snprintf(port_text, sizeof port_text, "%u", (unsigned)port);
    int out_fd = mkstemp(out);
    ck_assert_int_ge(out_fd, 0);
    close(out_fd);
    /* The default context trusts the system store; the test CA stands in for it. */
    setenv("SSL_CERT_FILE", p3s_cert("ca.pem"), 1);
    setenv("POP3_PASSWORD", "s3cret", 1);
    char *const argv[] = {(char *)program, "localhost", port_text, "alice", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_TRUNC, 0);
    child ch = {0};
    int rc = posix_spawn(&ch.pid, program, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    ck_assert_msg(rc == 0, "posix_spawn %s: %s", program, strerror(rc));

    struct event *poll_ev = event_new(base, -1, EV_PERSIST, on_poll, &ch);
    struct timeval tick = {0, 5000};
    event_add(poll_ev, &tick);
    run_until(base, &ch.exited, CHILD_WAIT_MS);
    event_free(poll_ev);
    if (!ch.exited) {
        kill(ch.pid, SIGKILL);
        waitpid(ch.pid, NULL, 0);
    }
    const char *printed = slurp(out);
    unlink(out);
    ck_assert_msg(ch.exited, "%s did not exit within %d ms (script %s: %s)", program,
                  CHILD_WAIT_MS, p3s_done(srv) ? "done" : "not done",
                  p3s_error(srv) ? p3s_error(srv) : "no error");
    ck_assert_msg(WIFEXITED(ch.status) && WEXITSTATUS(ch.status) == 0,
                  "%s: wait status 0x%x", program, ch.status);
    ck_assert_msg(p3s_error(srv) == NULL, "script: %s", p3s_error(srv));
    ck_assert(p3s_done(srv));
    ck_assert_str_eq(printed, BODY);
    p3s_free(srv);
    event_base_free(base);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PROGRAM...\n", argv[0]);
        return 2;
    }
    programs = argv + 1;
    tu_ignore_sigpipe();
    if (!p3s_certs_make())
        return 1;
    Suite *s = suite_create("readme_program");
    TCase *tc = tcase_create("readme");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, readme_program_prints_the_message_and_exits_by_itself, 0, argc - 1);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    p3s_certs_remove();
    return failed ? 1 : 0;
}
