/*
 * Load: 1000 concurrent sessions on one event_base against 1000 scripted
 * servers (socketpairs). Each connects, logs in, and once all are logged in
 * (so all 1000 are open at the same time) STATs, RETRs two messages and
 * QUITs. Bounded in time (60 s); every future must succeed exactly once. The
 * memory per open session (RSS and live heap, deltas / sessions) is printed
 * for doc/ROBUSTNESS.md.
 *
 * POP3A_LOAD_SESSIONS overrides the count (e.g. smaller under valgrind).
 */
#include <stdio.h>
#include <sys/resource.h>

#include <event2/event.h>

#include "hostile.h"

enum { S_CONN, S_LOGIN, S_STAT, S_RETR1, S_RETR2, S_QUIT, S_COUNT };

typedef struct {
    int done;
    pop3a_status status;
    uint64_t bytes;
    int finals;
    int *counter; /* incremented once per done callback, shared */
} small_rec;

typedef struct {
    p3s *srv;
    pop3a_client *client;
    small_rec rec[S_COUNT];
} session;

static void small_done(pop3a_client *c, pop3a_future *f, void *arg)
{
    small_rec *r = arg;
    r->done++;
    r->status = pop3a_future_status(f);
    (*r->counter)++;
}

static int small_chunk(pop3a_client *c, pop3a_future *f, const char *data, size_t len, int final,
                       void *arg)
{
    small_rec *r = arg;
    r->bytes += len;
    r->finals += final;
    return POP3A_CHUNK_CONTINUE;
}

static char *make_message(int which, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *m = malloc(cap);
    ck_assert_ptr_nonnull(m);
    n += (size_t)snprintf(m + n, cap - n, "From: load@test\r\nSubject: message %d\r\n\r\n", which);
    for (int i = 0; n + 80 < cap - 200 && i < 30; i++)
        n += (size_t)snprintf(m + n, cap - n, "%sline %02d of a modest message body\r\n",
                              i % 7 == 0 ? ".." : "", i);
    *len = n;
    return m;
}

/* The body as delivered: stuffed dots removed. */
static uint64_t unstuffed_len(const char *m)
{
    uint64_t n = 0;
    int line_start = 1;
    for (const char *p = m; *p; p++) {
        if (line_start && *p == '.') {
            line_start = 0;
            continue;
        }
        n++;
        line_start = *p == '\n';
    }
    return n;
}

static void script_session(p3s *s, const char *m1, const char *m2)
{
    h_script_login(s, "USER\r\nUIDL\r\nTOP\r\n");
    p3s_expect(s, "STAT");
    char stat[64];
    snprintf(stat, sizeof stat, "+OK 2 %zu\r\n", strlen(m1) + strlen(m2));
    p3s_send(s, stat);
    p3s_expect(s, "RETR 1");
    p3s_send(s, "+OK\r\n");
    p3s_send(s, m1);
    p3s_send(s, ".\r\n");
    p3s_expect(s, "RETR 2");
    p3s_send(s, "+OK\r\n");
    p3s_send(s, m2);
    p3s_send(s, ".\r\n");
    p3s_expect(s, "QUIT");
    p3s_send(s, "+OK bye\r\n");
    p3s_expect_eof(s);
}

static int session_count(void)
{
    const char *env = getenv("POP3A_LOAD_SESSIONS");
    int n = env ? atoi(env) : 1000;
    return n > 0 ? n : 1000;
}

/* Each session needs 2 descriptors (both ends of its socketpair). */
static void raise_fd_limit(int sessions)
{
    struct rlimit rl;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rlim_t need = (rlim_t)sessions * 2 + 64;
    if (rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max;
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    ck_assert_msg(rl.rlim_cur >= need, "need %lu descriptors, the hard limit is %lu",
                  (unsigned long)need, (unsigned long)rl.rlim_max);
}

START_TEST(thousand_concurrent_sessions_on_one_base)
{
    int n = session_count();
    raise_fd_limit(n);
    tu_ignore_sigpipe();
    struct event_base *base = event_base_new();
    ck_assert_ptr_nonnull(base);
    pop3a_options *opts = pop3a_options_new();
    ck_assert_ptr_nonnull(opts);
    pop3a_options_set_tls(opts, POP3A_TLS_NONE, NULL);
    pop3a_options_allow_cleartext(opts, 1);
    pop3a_options_set_timeouts(opts, 30000, 30000);
    size_t l1, l2;
    char *m1 = make_message(1, &l1), *m2 = make_message(2, &l2);
    uint64_t want1 = unstuffed_len(m1), want2 = unstuffed_len(m2);

    session *ss = calloc((size_t)n, sizeof *ss);
    ck_assert_ptr_nonnull(ss);
    int done = 0;
    for (int i = 0; i < n; i++) {
        ss[i].srv = p3s_new(base);
        ck_assert_ptr_nonnull(ss[i].srv);
        script_session(ss[i].srv, m1, m2);
        for (int k = 0; k < S_COUNT; k++)
            ss[i].rec[k].counter = &done;
    }

    size_t rss0 = mem_rss_kb(), heap0 = mem_heap_now();
    unsigned long t0 = h_now_ms();
    for (int i = 0; i < n; i++) {
        ss[i].client = pop3a_client_new(base, NULL, opts);
        ck_assert_ptr_nonnull(ss[i].client);
        struct bufferevent *bev = p3s_pair(ss[i].srv);
        ck_assert_ptr_nonnull(bev);
        ck_assert_ptr_nonnull(pop3a_attach(ss[i].client, bev, small_done, &ss[i].rec[S_CONN]));
        ck_assert_ptr_nonnull(pop3a_login(ss[i].client, "alice", "alicepw", POP3A_MECH_USER,
                                          small_done, &ss[i].rec[S_LOGIN]));
    }
    ck_assert_msg(run_until_count(base, &done, 2 * n, 60000) == 0,
                  "only %d of %d connects/logins completed", done, 2 * n);
    unsigned long t_login = h_now_ms() - t0;
    size_t rss1 = mem_rss_kb(), heap1 = mem_heap_now();

    for (int i = 0; i < n; i++) {
        small_rec *r = ss[i].rec;
        ck_assert_ptr_nonnull(pop3a_stat(ss[i].client, small_done, &r[S_STAT]));
        ck_assert_ptr_nonnull(
            pop3a_retr(ss[i].client, 1, small_chunk, small_done, &r[S_RETR1]));
        ck_assert_ptr_nonnull(
            pop3a_retr(ss[i].client, 2, small_chunk, small_done, &r[S_RETR2]));
        ck_assert_ptr_nonnull(pop3a_quit(ss[i].client, small_done, &r[S_QUIT]));
    }
    unsigned long left = 60000 - (t_login < 60000 ? t_login : 60000);
    ck_assert_msg(run_until_count(base, &done, S_COUNT * n, (unsigned)left) == 0,
                  "only %d of %d futures completed within 60 s", done, S_COUNT * n);
    unsigned long t_all = h_now_ms() - t0;
    run_for(base, 20);

    for (int i = 0; i < n; i++) {
        for (int k = 0; k < S_COUNT; k++) {
            const small_rec *r = &ss[i].rec[k];
            ck_assert_msg(r->done == 1, "session %d future %d: %d done calls", i, k, r->done);
            ck_assert_msg(r->status == POP3A_OK, "session %d future %d: %s", i, k,
                          pop3a_status_name(r->status));
        }
        ck_assert(ss[i].rec[S_RETR1].bytes == want1 && ss[i].rec[S_RETR1].finals == 1);
        ck_assert(ss[i].rec[S_RETR2].bytes == want2 && ss[i].rec[S_RETR2].finals == 1);
        const char *err = p3s_error(ss[i].srv);
        ck_assert_msg(err == NULL, "session %d script: %s", i, err);
    }

    printf("load: %d sessions; all logged in after %lu ms, all done after %lu ms\n", n, t_login,
           t_all);
    if (mem_untrusted())
        printf("load: memory not measured under valgrind\n");
    else
        printf("load: per open session (client, transport and the scripted peer's buffers): RSS %.1f KiB, "
               "live heap %.1f KiB\n",
               (double)(rss1 > rss0 ? rss1 - rss0 : 0) / n,
               (double)(heap1 > heap0 ? heap1 - heap0 : 0) / 1024.0 / n);
    fflush(stdout);

    for (int i = 0; i < n; i++)
        pop3a_client_free(ss[i].client);
    run_for(base, 1);
    for (int i = 0; i < n; i++)
        p3s_free(ss[i].srv);
    free(ss);
    free(m1);
    free(m2);
    pop3a_options_free(opts);
    event_base_free(base);
}
END_TEST

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* the numbers reach the log before a fork exits */
    Suite *s = suite_create("hostile_load");
    TCase *tc = tcase_create("load");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, thousand_concurrent_sessions_on_one_base);
    suite_add_tcase(s, tc);
    return h_run_suite(s);
}
