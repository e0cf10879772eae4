/*
 * pop3fetch --daemon against the scripted server: the backoff after [IN-USE]
 * (its delays measured by the server, from the connections it accepts), the
 * server's LOGIN-DELAY as the floor of the next poll, SIGHUP starting a new
 * account, dropping a removed one and surviving a broken config, and
 * SIGTERM in the middle of a message: exit 0, what was delivered stays
 * delivered, nothing deleted, no QUIT.
 *
 * Usage: test_pop3fetch_daemon /path/to/pop3fetch
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pop3fetch_run.h"

#define MAX_SERVERS 3

/* What the tick watches: the servers in the order the daemon reaches them,
 * when each accepted its connection, and when to signal the daemon. */
typedef struct {
    p3s *srv[MAX_SERVERS];
    size_t n;
    double connected_at[MAX_SERVERS]; /* monotonic seconds, 0 until then */
    double ended_at[MAX_SERVERS];     /* when srv[k] saw its script through and the hang-up */
    /* optional: called once srv[k] has run its script and seen the hang-up */
    void (*on_done)(run *r, size_t k);
    size_t done_seen;
} watch;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int finished(p3s *s)
{
    return p3s_done(s) && p3s_peer_closed(s);
}

static void watch_tick(run *r)
{
    watch *w = r->tick_arg;
    for (size_t k = 0; k < w->n; k++)
        if (w->connected_at[k] == 0 && p3s_connected(w->srv[k]))
            w->connected_at[k] = now_s();
    while (w->done_seen < w->n && finished(w->srv[w->done_seen])) {
        w->ended_at[w->done_seen] = now_s();
        if (w->on_done)
            w->on_done(r, w->done_seen);
        w->done_seen++;
    }
}

/* SIGTERM once the last server is through. */
static void term_after_last(run *r, size_t k)
{
    watch *w = r->tick_arg;
    if (k + 1 == w->n)
        kill(r->pid, SIGTERM);
}

/* An [account NAME] section on 127.0.0.1:port, delivering into OUT/<maildir>
 * with the state WORK/<name>.sqlite; appended to buf. */
static void account_text(char *buf, size_t size, const run *r, const char *name, uint16_t port,
                         long poll, int delete_after, const char *maildir)
{
    size_t used = strlen(buf);
    snprintf(buf + used, size - used,
             "[account %s]\n"
             "host = 127.0.0.1\n"
             "port = %u\n"
             "user = alice\n"
             "password_env = P3TEST_PW\n"
             "tls = none\n"
             "allow_cleartext = true\n"
             "timeout = %s\n"
             "maildir = %s%s%s\n"
             "state = %s/%s.sqlite\n"
             "delete = %s\n"
             "poll = %ld\n",
             name, (unsigned)port, child_timeout_arg(), r->out, maildir[0] ? "/" : "",
             maildir, r->work, name, delete_after ? "true" : "false", poll);
}

/* The daemon's config: one account "alice" on `port`, delivering into OUT. */
static const char *alice_config(const run *r, uint16_t port, long poll, int delete_after)
{
    char text[1024] = "";
    account_text(text, sizeof text, r, "alice", port, poll, delete_after, "");
    return write_config(r, 0600, text);
}

static void run_daemon(run *r, watch *w, const char *config)
{
    const char *const args[] = {"--daemon", "--config", config, NULL};
    w->srv[0] = r->srv;
    r->tick = watch_tick;
    r->tick_arg = w;
    setenv("P3TEST_PW", PASSWORD, 1);
    run_pop3fetch_args(r, args);
    for (size_t k = 1; k < w->n; k++)
        serve_until_closed(r, w->srv[k]);
    for (size_t k = 0; k < w->n; k++)
        ck_assert_msg(p3s_error(w->srv[k]) == NULL && p3s_done(w->srv[k]),
                      "server %zu: %s", k, p3s_error(w->srv[k]) ? p3s_error(w->srv[k])
                                                                 : "script not run to its end");
}

/* Servers chained on r's port: srv[1..n) take the daemon's later sessions. */
static void chain_servers(run *r, watch *w, size_t n)
{
    w->n = n;
    for (size_t k = 1; k < n; k++) {
        w->srv[k] = p3s_new(r->base);
        ck_assert_ptr_nonnull(w->srv[k]);
        p3s_hand_over(k == 1 ? r->srv : w->srv[k - 1], w->srv[k]);
    }
}

static void free_servers(watch *w)
{
    for (size_t k = 1; k < w->n; k++)
        p3s_free(w->srv[k]);
}

static void script_in_use(p3s *s)
{
    p3s_send(s, "+OK ready\r\n");
    p3s_expect(s, "CAPA");
    p3s_send(s, "+OK\r\nUSER\r\nRESP-CODES\r\n.\r\n");
    p3s_expect(s, "USER alice");
    p3s_send(s, "+OK\r\n");
    p3s_expect(s, "PASS " PASSWORD);
    p3s_send(s, "-ERR [IN-USE] maildrop locked by another session\r\n");
    p3s_expect_eof(s);
}

/* poll = 1: the first retry after a temporary failure waits min(poll, 60) =
 * 1 s, the second twice that (plus at most 10 % jitter each); the servers
 * measure each wait from the failed session's hang-up to the next connection
 * (not connection to connection: a session's own length, long under
 * valgrind, is no part of the backoff). Then a clean session delivers, and
 * SIGTERM ends the daemon with 0. */
START_TEST(in_use_backs_off_exponentially)
{
    msg m[MAX_MSGS];
    run r;
    watch w = {.on_done = term_after_last};
    size_t n = make_mailbox(m);
    run_init(&r);
    chain_servers(&r, &w, 3);
    script_in_use(r.srv);
    script_in_use(w.srv[1]);
    script_session_start(w.srv[2], m, 2);
    script_retr_all(w.srv[2], m, 2);
    script_quit(w.srv[2], "+OK bye\r\n");

    run_daemon(&r, &w, alice_config(&r, r.port, 1, 0));
    EXIT_IS(&r, 0);
    /* 50 ms: the hang-up is seen on a 2 ms poll, after the daemon's clock started. */
    double wait1 = w.connected_at[1] - w.ended_at[0];
    double wait2 = w.connected_at[2] - w.ended_at[1];
    ck_assert_msg(wait1 >= 0.95 && wait2 >= 1.95,
                  "retries %.3f s and %.3f s after the failures; want >= 1 s, then >= 2 s",
                  wait1, wait2);
    STDERR_HAS(&r, "[IN-USE] maildrop locked");
    STDERR_HAS(&r, "SIGTERM: stopping");
    assert_maildir(&r, m, 2);
    free_servers(&w);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* A session whose CAPA says LOGIN-DELAY 2; the message is fetched only the
 * first time (then the state has it). */
static void script_login_delay_session(p3s *s, const msg *m, int fetch)
{
    script_login_capa(s, "+OK\r\nUSER\r\nLOGIN-DELAY 2\r\n.\r\n");
    script_listings(s, m, 1, NULL);
    if (fetch)
        script_retr_all(s, m, 1);
    script_quit(s, "+OK bye\r\n");
}

/* poll = 1 but the server says LOGIN-DELAY 2 (RFC 2449 section 6.5): the
 * second poll comes no sooner than 2 s after the first session. */
START_TEST(login_delay_is_the_floor_of_the_poll)
{
    msg m[MAX_MSGS];
    run r;
    watch w = {.on_done = term_after_last};
    size_t n = make_mailbox(m);
    run_init(&r);
    chain_servers(&r, &w, 2);
    script_login_delay_session(r.srv, m, 1);
    script_login_delay_session(w.srv[1], m, 0);

    run_daemon(&r, &w, alice_config(&r, r.port, 1, 0));
    EXIT_IS(&r, 0);
    double gap = w.connected_at[1] - w.connected_at[0];
    ck_assert_msg(gap >= 2.0, "second poll after %.3f s; LOGIN-DELAY says 2", gap);
    assert_maildir(&r, m, 1); /* the second poll found it in the state */
    free_servers(&w);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* After alice's session the config gains account "bob" (its own server and
 * Maildir) and the daemon gets SIGHUP; after bob's session, SIGTERM. */
static uint16_t bob_port;

/* Bob's server as w->srv[1] on bob_port; alice's session (r->srv) delivers
 * message 1, bob's messages 1 and 2. */
static void script_alice_and_bob(run *r, watch *w, const msg *m)
{
    w->srv[1] = p3s_new(r->base);
    ck_assert_ptr_nonnull(w->srv[1]);
    bob_port = p3s_listen(w->srv[1], "127.0.0.1");
    ck_assert_uint_ne(bob_port, 0);
    script_session_start(r->srv, m, 1);
    script_retr_all(r->srv, m, 1);
    script_quit(r->srv, "+OK bye\r\n");
    script_session_start(w->srv[1], m, 2);
    script_retr_all(w->srv[1], m, 2);
    script_quit(w->srv[1], "+OK bye\r\n");
}

static void add_bob_then_term(run *r, size_t k)
{
    char text[2048] = "";
    if (k == 1) {
        kill(r->pid, SIGTERM);
        return;
    }
    account_text(text, sizeof text, r, "alice", r->port, 3600, 0, "");
    account_text(text, sizeof text, r, "bob", bob_port, 3600, 0, "bob");
    write_config(r, 0600, text);
    kill(r->pid, SIGHUP);
}

/* alice polls once (poll = 3600: not again in this test); SIGHUP adds bob,
 * whose first poll starts at once and delivers into its own Maildir; alice
 * is not polled again by the reload. */
START_TEST(sighup_starts_a_new_account)
{
    msg m[MAX_MSGS];
    run r;
    watch w = {.on_done = add_bob_then_term, .n = 2};
    size_t n = make_mailbox(m);
    run_init(&r);
    script_alice_and_bob(&r, &w, m);

    run_daemon(&r, &w, alice_config(&r, r.port, 3600, 0));
    EXIT_IS(&r, 0);
    STDERR_HAS(&r, "config reloaded: 2 accounts, 1 new, 0 removed");
    STDERR_HAS(&r, "bob: 2 new");
    ck_assert_uint_eq(maildir_count(&r, "new"), 1);
    char bob_new[200];
    snprintf(bob_new, sizeof bob_new, "%s/bob/new", r.out);
    size_t count = 0;
    for (DIR *d = opendir(bob_new); d; closedir(d), d = NULL)
        for (struct dirent *e; (e = readdir(d)) != NULL;)
            count += e->d_name[0] != '.';
    ck_assert_uint_eq(count, 2);
    free_servers(&w);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* After alice's first session (poll = 1) the config names only bob: SIGHUP
 * drops alice, bob starts. SIGTERM comes 1.5 s after bob's session, past
 * alice's next poll time, and alice never came back. */
static double bob_done_at;

static void swap_alice_for_bob(run *r, size_t k)
{
    char text[1024] = "";
    if (k == 1) {
        bob_done_at = now_s();
        return;
    }
    account_text(text, sizeof text, r, "bob", bob_port, 3600, 0, "bob");
    write_config(r, 0600, text);
    kill(r->pid, SIGHUP);
}

static void term_later(run *r)
{
    watch_tick(r);
    if (bob_done_at > 0 && now_s() - bob_done_at >= 1.5) {
        bob_done_at = -1;
        kill(r->pid, SIGTERM);
    }
}

START_TEST(sighup_removes_an_account)
{
    msg m[MAX_MSGS];
    run r;
    watch w = {.on_done = swap_alice_for_bob, .n = 2};
    size_t n = make_mailbox(m);
    run_init(&r);
    p3s *alice_again = p3s_new(r.base);
    ck_assert_ptr_nonnull(alice_again);
    p3s_hand_over(r.srv, alice_again); /* a second poll of alice would land here */
    script_alice_and_bob(&r, &w, m);

    bob_done_at = 0;
    const char *config = alice_config(&r, r.port, 1, 0);
    const char *const args[] = {"--daemon", "--config", config, NULL};
    w.srv[0] = r.srv;
    r.tick = term_later;
    r.tick_arg = &w;
    setenv("P3TEST_PW", PASSWORD, 1);
    run_pop3fetch_args(&r, args);
    serve_until_closed(&r, w.srv[1]);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    ck_assert_msg(bob_done_at < 0, "SIGTERM was not sent");
    ck_assert_msg(!p3s_connected(alice_again), "alice was polled after her removal");
    STDERR_HAS(&r, "config reloaded: 1 accounts, 1 new, 1 removed");
    p3s_free(alice_again);
    free_servers(&w);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* After the first session the config breaks (an unknown key) and SIGHUP
 * comes: the daemon says so, keeps the old config, and alice's next poll
 * (poll = 1) still happens; then SIGTERM. */
static void break_config_then_term(run *r, size_t k)
{
    if (k == 1) {
        kill(r->pid, SIGTERM);
        return;
    }
    write_config(r, 0600, "[account alice]\nhost = 127.0.0.1\nno_such_key = 1\n");
    kill(r->pid, SIGHUP);
}

START_TEST(sighup_with_a_broken_config_keeps_the_old_one)
{
    msg m[MAX_MSGS];
    run r;
    watch w = {.on_done = break_config_then_term};
    size_t n = make_mailbox(m);
    run_init(&r);
    chain_servers(&r, &w, 2);
    script_session_start(r.srv, m, 1);
    script_retr_all(r.srv, m, 1);
    script_quit(r.srv, "+OK bye\r\n");
    script_session_start(w.srv[1], m, 1); /* known now: nothing to fetch */
    script_quit(w.srv[1], "+OK bye\r\n");

    run_daemon(&r, &w, alice_config(&r, r.port, 1, 0));
    EXIT_IS(&r, 0);
    STDERR_HAS(&r, "no_such_key");
    STDERR_HAS(&r, "the config is not valid (above); keeping the old one");
    assert_maildir(&r, m, 1);
    free_servers(&w);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* SIGTERM while the second message is half read (--delete): exit 0; the
 * first message is delivered and recorded, the half one leaves no file, and
 * the daemon hangs up with neither DELE nor QUIT, so the server keeps both.
 * The next run fetches the second only and deletes both. */
static size_t ticks_after_partial;

static void term_mid_message(run *r)
{
    watch_tick(r);
    /* CAPA USER PASS UIDL LIST RETR 1 RETR 2: the partial body is on its way */
    if (p3s_lines_received(r->srv) >= 7 && ++ticks_after_partial == 50)
        kill(r->pid, SIGTERM);
}

START_TEST(sigterm_mid_message_deletes_nothing)
{
    msg m[MAX_MSGS];
    run r;
    watch w = {.n = 1};
    size_t n = make_mailbox(m);
    run_init(&r);
    /* PIPELINING: a DELE or QUIT the stop queued would go out at once */
    script_login(r.srv, 1);
    script_listings(r.srv, m, 2, NULL);
    script_retr(r.srv, 1, &m[0]);
    p3s_expect(r.srv, "RETR 2");
    p3s_send(r.srv, "+OK\r\nSubject: half\r\n\r\nthe rest never comes\r\n");
    p3s_expect_eof(r.srv);

    ticks_after_partial = 0;
    const char *config = alice_config(&r, r.port, 3600, 1);
    const char *const args[] = {"--daemon", "--verbose", "--config", config, NULL};
    w.srv[0] = r.srv;
    r.tick = term_mid_message;
    r.tick_arg = &w;
    setenv("P3TEST_PW", PASSWORD, 1);
    run_pop3fetch_args(&r, args);
    SCRIPT_DONE(&r);
    EXIT_IS(&r, 0);
    STDERR_HAS(&r, "stopped (nothing deleted this session)");
    assert_maildir(&r, m, 1);

    /* A rerun fetches only message 2, then deletes both. */
    fresh_server(&r);
    script_session_start(r.srv, m, 2);
    script_retr(r.srv, 2, &m[1]);
    p3s_expect(r.srv, "DELE 1");
    p3s_send(r.srv, "+OK\r\n");
    p3s_expect(r.srv, "DELE 2");
    p3s_send(r.srv, "+OK\r\n");
    script_quit(r.srv, "+OK bye\r\n");
    const char *const rerun[] = {"--config", alice_config(&r, r.port, 3600, 1), NULL};
    r.tick = NULL;
    run_pop3fetch_args(&r, rerun);
    SCRIPT_DONE(&r);
    EXIT_IS(&r, 0);
    assert_maildir(&r, m, 2);
    run_free_mailbox(&r, m, n);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, in_use_backs_off_exponentially);
    tcase_add_test(tc, login_delay_is_the_floor_of_the_poll);
    tcase_add_test(tc, sighup_starts_a_new_account);
    tcase_add_test(tc, sighup_removes_an_account);
    tcase_add_test(tc, sighup_with_a_broken_config_keeps_the_old_one);
    tcase_add_test(tc, sigterm_mid_message_deletes_nothing);
}

int main(int argc, char **argv)
{
    return example_test_main(argc, argv, "pop3fetch_daemon", &pop3fetch_path, 0, add_tests);
}
