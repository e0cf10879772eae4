/*
 * fd exhaustion (issue 11): with RLIMIT_NOFILE just too low for a session,
 * pop3a_connect must fail with a clear POP3A_ERR_IO naming the cause ("Too
 * many open files"): no crash, no hang, no fd left open. In a child (the
 * limit must not reach the test runner): a listener that never speaks is
 * opened first, then the limit is set to the fds in use plus `spare`:
 *  - spare 0: not even the socket can be made: IO, "Too many open files";
 *  - spare 1: the socket connects (the kernel accepts from the backlog) and
 *    the connect waits for a greeting that never comes: TIMEOUT at the
 *    connect deadline, which bounds it.
 * Under implicit TLS the context (CA file, opened and closed) is made before
 * the socket, the same. Afterwards as many fds are open as before. The limit
 * counts fd numbers, and a new fd takes the lowest free one: "the fds in
 * use" is that number.
 */
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <check.h>
#include <event2/event.h>

#include "session_test.h"

typedef struct {
    pop3a_tls_mode tls;
    unsigned spare;
    pop3a_status want;
    const char *want_text; /* in the connect future's text */
} fd_case;

static const fd_case cases[] = {
    {POP3A_TLS_NONE, 0, POP3A_ERR_IO, "Too many open files"},
    {POP3A_TLS_NONE, 1, POP3A_ERR_TIMEOUT, "connecting took longer"},
    {POP3A_TLS_IMPLICIT, 0, POP3A_ERR_IO, "Too many open files"},
    {POP3A_TLS_IMPLICIT, 1, POP3A_ERR_TIMEOUT, "connecting took longer"},
};

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n - 1; /* the directory's own */
}

/* A listener on 127.0.0.1 that nobody accepts on; its port in *port. */
static int silent_listener(uint16_t *port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 4) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &alen) != 0)
        return -1;
    *port = ntohs(a.sin_port);
    return s;
}

static void on_done(pop3a_client *client, pop3a_future *f, void *arg)
{
    (void)client;
    tu_rec *r = arg;
    r->done_calls++;
    r->status = pop3a_future_status(f);
    snprintf(r->text, sizeof r->text, "%s", pop3a_future_text(f));
}

/* The child's session: its exit status says what went wrong (0: nothing). */
static int limited_connect(const fd_case *fc)
{
    uint16_t port = 0;
    int listener = silent_listener(&port);
    struct event_base *base = event_base_new();
    pop3a_options *o = pop3a_options_new();
    if (listener < 0 || !base || !o || pop3a_options_set_tls(o, fc->tls, NULL) ||
        pop3a_options_set_ca(o, p3s_cert("ca.pem"), NULL) ||
        pop3a_options_allow_cleartext(o, 1) ||
        pop3a_options_set_timeouts(o, 300 * tu_time_scale(), 5000))
        return 2;
    pop3a_client *c = pop3a_client_new(base, NULL, o);
    if (!c)
        return 3;
    int before = open_fds();
    int lowest_free = dup(0);
    close(lowest_free);
    struct rlimit lim, saved;
    if (getrlimit(RLIMIT_NOFILE, &saved) != 0)
        return 4;
    lim = saved;
    lim.rlim_cur = (rlim_t)lowest_free + fc->spare;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
        return 4;
    tu_rec r;
    tu_rec_init(&r, 0, NULL);
    if (!pop3a_connect(c, "127.0.0.1", port, on_done, &r))
        return 5;
    event_base_dispatch(base);
    if (setrlimit(RLIMIT_NOFILE, &saved) != 0) /* counting needs an fd */
        return 4;
    int after = open_fds();
    pop3a_client_free(c);
    pop3a_options_free(o);
    event_base_free(base);
    close(listener);
    fprintf(stderr, "spare %u: %s, \"%s\"; %d fds before, %d after\n", fc->spare,
            pop3a_status_name(r.status), r.text, before, after);
    if (r.done_calls != 1 || r.status != fc->want || !strstr(r.text, fc->want_text))
        return 6;
    return after == before ? 0 : 7;
}

START_TEST(too_few_fds_fail_clearly)
{
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0)
        _exit(limited_connect(&cases[_i]));
    int status = 0;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert_msg(WIFEXITED(status), "case %d: the child died by signal %d", _i,
                  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    ck_assert_msg(WEXITSTATUS(status) == 0,
                  "case %d: exit %d (6: wrong status or text, 7: fds leaked; see above)", _i,
                  WEXITSTATUS(status));
}
END_TEST

static Suite *fd_suite(void)
{
    Suite *s = suite_create("fd_exhaustion");
    TCase *tc = tcase_create("limit");
    tcase_add_loop_test(tc, too_few_fds_fail_clearly, 0, (int)(sizeof cases / sizeof *cases));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite_with_certs(fd_suite, "test_fd_exhaustion");
}
