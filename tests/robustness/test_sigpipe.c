/*
 * SIGPIPE (issue 11): a server that resets the connection while the client
 * writes must cost the caller an error on its futures, never its life. The
 * client runs in a child that does NOT ignore SIGPIPE (asserted); the parent
 * plays the server (reset_peer.c) and resets, round after round, on a plain
 * connection, under implicit TLS and after STLS, at each of reset_peer.h's
 * points in turn: after the greeting, mid-way into a large pipelined batch,
 * after answering part of a batch whose window then refills. The child must
 * exit normally, and every round's futures must have completed as
 * `expected` says: what was answered OK, everything else POP3A_ERR_IO (a
 * reset; the library gives every pending future the connection's status,
 * sent or still queued, so none is CLOSED or EOF).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>

#include "reset_peer.h"
#include "session_test.h"

/* Commands per batch: ~50 KB of "LIST n", far more than the server's
 * receive buffer and the client's send buffer take at once. */
#define BATCH 4500
#define ROUNDS 200

/* Futures that complete OK at each reset point: none, connect and login,
 * those and the LISTs answered; all the others (of BATCH + 2) fail with IO. */
static const int expected_ok[RP_RESET_POINTS] = {0, 2, 2 + RP_ANSWERED};

typedef struct {
    int done;
    int ok;       /* futures that completed OK (connect, login) */
    int io;       /* ... with POP3A_ERR_IO */
    int other;    /* ... with anything else */
    char why[160];
} round_result;

/* The IO failures name the socket's error. */
static int says_reset(const char *text)
{
    return strstr(text, "Connection reset by peer") || strstr(text, "Broken pipe");
}

static void count_done(pop3a_client *client, pop3a_future *f, void *arg)
{
    (void)client;
    round_result *r = arg;
    pop3a_status st = pop3a_future_status(f);
    r->done++;
    if (st == POP3A_OK) {
        r->ok++;
    } else if (st == POP3A_ERR_IO && says_reset(pop3a_future_text(f))) {
        r->io++;
    } else {
        if (r->other++ == 0)
            snprintf(r->why, sizeof r->why, "%s: %s", pop3a_status_name(st),
                     pop3a_future_text(f));
    }
}

static pop3a_options *client_options(rp_mode mode, rp_reset when)
{
    /* Mid-batch: the whole batch at once; after replies: a window that
     * refills as they come. */
    uint32_t window = when == RP_MID_BATCH ? BATCH + 1 : RP_ANSWERED;
    pop3a_options *o = pop3a_options_new();
    pop3a_tls_mode tls = mode == RP_PLAIN          ? POP3A_TLS_NONE
                         : mode == RP_IMPLICIT_TLS ? POP3A_TLS_IMPLICIT
                                                   : POP3A_TLS_STLS;
    if (!o || pop3a_options_set_tls(o, tls, NULL) != 0 ||
        pop3a_options_set_ca(o, p3s_cert("ca.pem"), NULL) != 0 ||
        pop3a_options_allow_cleartext(o, mode == RP_PLAIN) != 0 ||
        pop3a_options_set_pipelining(o, window) != 0)
        return NULL;
    return o;
}

/* One session in the child: 0 when it ended as the file's comment says. */
static int client_round(rp_mode mode, rp_reset when, uint16_t port, int round)
{
    struct event_base *base = event_base_new();
    pop3a_options *o = client_options(mode, when);
    pop3a_client *c = base && o ? pop3a_client_new(base, NULL, o) : NULL;
    round_result r = {0};
    int submitted = 0;
    if (c && pop3a_connect(c, "127.0.0.1", port, count_done, &r) &&
        pop3a_login(c, "alice", "secret", POP3A_MECH_USER, count_done, &r))
        submitted = 2;
    for (uint32_t i = 1; submitted >= 2 && i <= BATCH; i++)
        if (pop3a_list(c, i, count_done, &r))
            submitted++;
    if (submitted == BATCH + 2)
        event_base_dispatch(base);
    pop3a_client_free(c);
    pop3a_options_free(o);
    if (base)
        event_base_free(base);
    int ok = submitted == BATCH + 2 && r.done == submitted && r.ok == expected_ok[when] &&
             r.io == submitted - expected_ok[when];
    if (!ok)
        fprintf(stderr, "round %d (reset point %d): %d submitted, %d done: %d OK, %d IO, "
                "%d other (%s)\n", round, (int)when, submitted, r.done, r.ok, r.io, r.other,
                r.other ? r.why : "-");
    return ok ? 0 : -1;
}

/* The child: SIGPIPE at its default (kills), then the rounds. */
static void run_client(rp_mode mode, uint16_t port, int rounds)
{
    signal(SIGPIPE, SIG_DFL);
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    sigprocmask(SIG_UNBLOCK, &pipe_only, NULL);
    struct sigaction now;
    if (sigaction(SIGPIPE, NULL, &now) != 0 || now.sa_handler != SIG_DFL)
        _exit(3);
    int failed = 0;
    for (int i = 0; i < rounds; i++)
        failed |= client_round(mode, (rp_reset)(i % RP_RESET_POINTS), port, i) != 0;
    _exit(failed ? 1 : 0);
}

static int rounds(void)
{
    int n = ROUNDS / (int)tu_time_scale(); /* valgrind: fewer, each slower */
    return n < 20 ? 20 : n;
}

static const rp_mode modes[] = {RP_PLAIN, RP_IMPLICIT_TLS, RP_STLS};
static const char *const mode_names[] = {"plain", "implicit TLS", "STLS"};

START_TEST(reset_mid_pipeline_never_kills)
{
    rp_mode mode = modes[_i];
    uint16_t port = 0;
    int listener = rp_listen(&port);
    ck_assert_int_ge(listener, 0);
    SSL_CTX *ctx = mode == RP_PLAIN ? NULL : p3s_tls_server_ctx("leaf");
    ck_assert(mode == RP_PLAIN || ctx);
    int n = rounds();
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        close(listener);
        run_client(mode, port, n);
    }
    int served = 0, status = 0;
    pid_t reaped = 0;
    for (int i = 0; i < n && !reaped; i++) {
        if (rp_serve_one(listener, mode, (rp_reset)(i % RP_RESET_POINTS), ctx,
                         WAIT_MS * tu_time_scale()) == 0)
            served++;
        else
            reaped = waitpid(child, &status, WNOHANG); /* a dead client ends the rounds */
    }
    if (!reaped)
        reaped = waitpid(child, &status, 0);
    ck_assert_int_eq(reaped, child);
    close(listener);
    SSL_CTX_free(ctx);
    ck_assert_msg(!WIFSIGNALED(status), "%s: the client was killed by signal %d (%s)",
                  mode_names[_i], WTERMSIG(status), strsignal(WTERMSIG(status)));
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "%s: the client exited with %d (see its rounds above)", mode_names[_i],
                  WEXITSTATUS(status));
    ck_assert_int_eq(served, n);
}
END_TEST

static Suite *sigpipe_suite(void)
{
    Suite *s = suite_create("sigpipe");
    TCase *tc = tcase_create("reset");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, reset_mid_pipeline_never_kills, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite_with_certs(sigpipe_suite, "test_sigpipe");
}
