/*
 * Hostile servers, part 3: floods and stalls. Replies that are huge or never
 * end, servers that trickle or stop reading. Each scenario must end in a
 * documented status in bounded time, with bounded memory (live heap sampled
 * while the data flows; the numbers are printed for doc/ROBUSTNESS.md).
 */
#include <inttypes.h>
#include <stdio.h>

#include <event2/event.h>

#include "hostile.h"

#define MIB (1024u * 1024u)

/* The greeting and the "+OK" that opens the CAPA reply. */
static void fl_greeting_capa_start(fl *f)
{
    fl_send(f, H_GREETING);
    fl_expect(f, "CAPA");
    fl_send(f, "+OK\r\n");
}

static void fl_login_prologue(fl *f, const char *capa)
{
    fl_greeting_capa_start(f);
    fl_send(f, capa);
    fl_send(f, ".\r\n");
    fl_expect(f, "USER alice");
    fl_send(f, "+OK\r\n");
    fl_expect(f, "PASS alicepw");
    fl_send(f, "+OK\r\n");
}

/* A client on e's loop attached to the flood peer and logged in. */
static void fl_attach_login(tu_env *e, fl *f, tu_rec *conn, tu_rec *login)
{
    e->client = pop3a_client_new(e->base, NULL, e->opts);
    ck_assert_ptr_nonnull(e->client);
    tu_env_watch_close(e);
    ck_assert_ptr_nonnull(pop3a_attach(e->client, fl_pair(f), tu_done, conn));
    ck_assert_ptr_nonnull(
        pop3a_login(e->client, "alice", "alicepw", POP3A_MECH_USER, tu_done, login));
    H_WAIT_DONE(e->base, *login);
    ck_assert_msg(fl_error(f) == NULL, "flood peer: %s", fl_error(f));
    H_STATUS(*conn, POP3A_OK);
    H_STATUS(*login, POP3A_OK);
}

static void fl_env_free(tu_env *e, fl *f)
{
    pop3a_client_free(e->client);
    e->client = NULL;
    run_for(e->base, 1);
    fl_free(f);
    tu_env_free(e);
}

/* A client logged in to a flood peer, and what the peer streams after login. */
typedef struct {
    tu_env e;
    fl *f;
    gen_repeat repeat;
    gen_listing listing;
    tu_rec conn, login;
} flood;

/* The env and a flood peer that takes the login (CAPA "USER") and then waits
 * for `command`. The test sets options and adds the peer's answer, then calls
 * flood_login. */
static void flood_start(flood *t, const char *command)
{
    tu_env_init(&t->e);
    t->f = fl_new(t->e.base);
    ck_assert_ptr_nonnull(t->f);
    fl_login_prologue(t->f, "USER\r\n");
    fl_expect(t->f, command);
}

/* flood_start, timeouts of 2 s to connect and `idle_ms` idle, and "+OK" to
 * `command`: the test adds the rest of the reply. */
static void flood_start_ok(flood *t, const char *command, unsigned idle_ms)
{
    flood_start(t, command);
    pop3a_options_set_timeouts(t->e.opts, 2000, idle_ms);
    fl_send(t->f, "+OK\r\n");
}

static void flood_login(flood *t)
{
    tu_rec_init(&t->conn, 0, NULL);
    tu_rec_init(&t->login, 1, NULL);
    fl_attach_login(&t->e, t->f, &t->conn, &t->login);
}

/* The peer streams `pattern` for `total` bytes (UINT64_MAX: forever), then `tail`. */
static void flood_repeat(flood *t, const char *pattern, uint64_t total, const char *tail)
{
    gen_repeat_init(&t->repeat, pattern, total, tail);
    fl_gen(t->f, gen_repeat_fn, &t->repeat);
}

/* The peer streams `pattern` forever, one byte every `gap_ms`. */
static void flood_trickle_forever(flood *t, const char *pattern, unsigned gap_ms)
{
    gen_repeat_init(&t->repeat, pattern, UINT64_MAX, NULL);
    fl_gen_paced(t->f, gen_repeat_fn, &t->repeat, 1, gap_ms);
}

/* The peer answers with a listing of `count` entries (UINT64_MAX: forever). */
static void flood_listing(flood *t, uint64_t count)
{
    gen_listing_init(&t->listing, count);
    fl_gen(t->f, gen_listing_fn, &t->listing);
}

static void flood_end(flood *t)
{
    fl_env_free(&t->e, t->f);
}

/* Submits RETR 1 with r (recorder 2) collecting the body. */
static void flood_submit_retr(flood *t, tu_rec *r)
{
    tu_rec_init(r, 2, NULL);
    ck_assert_ptr_nonnull(pop3a_retr(t->e.client, 1, tu_chunk, tu_done, r));
}

/* Frees the client under a RETR that has not ended: r must end once, CLOSED. */
static void flood_free_client_closes(flood *t, tu_rec *r)
{
    pop3a_client_free(t->e.client);
    t->e.client = NULL;
    H_ONCE(*r);
    H_STATUS(*r, POP3A_ERR_CLOSED);
}

/* Waits up to 30 s for a reply that may never end; prints how it went (the
 * numbers are for doc/ROBUSTNESS.md). Returns 1 when r completed. */
static int wait_endless(flood *t, tu_rec *r, const char *scenario, unsigned long t0)
{
    int finished = run_until_count(t->e.base, &r->done_calls, 1, 30000) == 0;
    printf("%s: %s after %lu ms, %" PRIu64 " bytes from the server\n", scenario,
           finished ? "completed" : "STILL PENDING", h_now_ms() - t0, fl_bytes_sent(t->f));
    return finished;
}

static void report_memory(const char *scenario, const mem_watch *w, unsigned long ms)
{
    if (mem_untrusted())
        printf("%s: %lu ms (heap not measured under valgrind)\n", scenario, ms);
    else
        printf("%s: %lu ms, heap growth %zu KiB\n", scenario, ms, mem_watch_growth(w) / 1024);
}

/* A chunk callback that counts instead of keeping, samples the heap, and can
 * abort after a number of bytes. */
typedef struct {
    uint64_t bytes;
    unsigned long chunks;
    int finals;
    uint64_t abort_after; /* 0: never */
    mem_watch *w;
} counter;

/* A recorder with its counter beside it (the chunk callback's arg). */
typedef struct {
    tu_rec rec;
    counter cnt;
} counted;

static int counted_chunk(pop3a_client *c, pop3a_future *f, const char *data, size_t len,
                         int final, void *arg)
{
    counted *k = arg;
    k->cnt.bytes += len;
    k->cnt.chunks++;
    if (final)
        k->cnt.finals++;
    if (k->cnt.w && (k->cnt.chunks & 15) == 0)
        mem_watch_sample(k->cnt.w);
    if (k->cnt.abort_after && k->cnt.bytes >= k->cnt.abort_after)
        return POP3A_CHUNK_ABORT;
    return POP3A_CHUNK_CONTINUE;
}

static void counted_done(pop3a_client *c, pop3a_future *f, void *arg)
{
    tu_done(c, f, &((counted *)arg)->rec);
}

/* Recorder 2, sampling the heap into w as chunks arrive. */
static void counted_init(counted *k, mem_watch *w)
{
    memset(k, 0, sizeof *k);
    tu_rec_init(&k->rec, 2, NULL);
    k->cnt.w = w;
}

/* ------------------------------------------------------------------- CAPA */

static char *capa_lines(unsigned n, const char *last)
{
    size_t cap = (size_t)n * 24 + 64;
    char *s = malloc(cap);
    ck_assert_ptr_nonnull(s);
    size_t len = 0;
    for (unsigned i = 0; i + 1 < n; i++)
        len += (size_t)snprintf(s + len, cap - len, "X-FILLER-%u\r\n", i);
    snprintf(s + len, cap - len, "%s\r\n", last);
    return s;
}

/* Connects to a scripted server whose CAPA reply has `n` lines, the last
 * "UIDL"; waits for the connect to end. */
static void connect_with_capa_lines(tu_env *e, unsigned n, tu_rec *conn)
{
    tu_env_init(e);
    char *body = capa_lines(n, "UIDL");
    tu_script_greeting_capa(e->srv, H_GREETING, body);
    free(body);
    tu_rec_init(conn, 0, NULL);
    ck_assert_ptr_nonnull(tu_env_attach(e, conn));
    H_WAIT_DONE(e->base, *conn);
}

/* 1000 CAPA lines at connect: accepted; the capabilities are read. */
START_TEST(capa_with_1000_lines_at_connect_is_accepted)
{
    tu_env e;
    tu_rec conn;
    connect_with_capa_lines(&e, 1000, &conn);
    H_SCRIPT_OK(e.srv);
    H_STATUS(conn, POP3A_OK);
    ck_assert(pop3a_capa_flags(pop3a_client_capa(e.client)) & POP3A_CAPA_UIDL);
    tu_env_free(&e);
}
END_TEST

static pop3a_future *submit_capa_refresh(pop3a_client *c, tu_rec *r)
{
    return pop3a_capa_refresh(c, tu_done, r);
}

/* CAPA asked again, 1001 lines: that future fails, the session goes on. */
START_TEST(capa_refresh_over_1000_lines_fails_only_capa)
{
    tu_env e;
    h_env_init_login(&e, H_CAPA);
    p3s_expect(e.srv, "CAPA");
    char *body = capa_lines(1001, "UIDL");
    p3s_send(e.srv, "+OK\r\n");
    p3s_send(e.srv, body);
    p3s_send(e.srv, ".\r\n");
    free(body);
    p3s_expect(e.srv, "NOOP");
    p3s_send(e.srv, "+OK\r\n");
    tu_rec capa, noop;
    h_attach_submit_then_noop(&e, submit_capa_refresh, &capa, &noop);
    H_SCRIPT_OK(e.srv);
    H_ONCE(capa);
    H_STATUS(capa, POP3A_ERR_PROTOCOL);
    H_STATUS(noop, POP3A_OK);
    tu_env_free(&e);
}
END_TEST

/* 1001 CAPA lines at connect: more than any server sends; the connection is
 * refused rather than read on. */
START_TEST(capa_with_1001_lines_at_connect_is_protocol)
{
    tu_env e;
    tu_rec conn;
    connect_with_capa_lines(&e, 1001, &conn);
    H_ONCE(conn);
    H_STATUS(conn, POP3A_ERR_PROTOCOL);
    ck_assert_int_eq(e.close_why, POP3A_ERR_PROTOCOL);
    tu_env_free(&e);
}
END_TEST

/* A CAPA reply that never ends during connect: refused at the cap, long
 * before the connect deadline, with bounded memory. */
START_TEST(capa_endless_at_connect_is_protocol)
{
    tu_env e;
    tu_env_init(&e);
    pop3a_options_set_timeouts(e.opts, 3000, 1000);
    fl *f = fl_new(e.base);
    ck_assert_ptr_nonnull(f);
    fl_greeting_capa_start(f);
    gen_repeat g;
    gen_repeat_init(&g, "X-FILLER capability line\r\n", UINT64_MAX, NULL);
    fl_gen(f, gen_repeat_fn, &g);
    mem_watch w;
    tu_rec conn;
    unsigned long took = fl_attach_sampled(&e, f, &conn, &w);
    report_memory("capa_endless_at_connect", &w, took);
    H_ONCE(conn);
    H_STATUS(conn, POP3A_ERR_PROTOCOL);
    H_TOOK_UNDER(took, 1500);
    H_HEAP_GREW_LESS(w, 8 * MIB);
    fl_env_free(&e, f);
}
END_TEST

/* A CAPA reply asked for after login that never ends: past the 1000-line cap
 * the rest is read and dropped (so a merely long reply leaves the session
 * usable), but only for so long (a million lines): then the connection is
 * failed with PROTOCOL. Bounded time, bounded memory. */
START_TEST(capa_refresh_endless_fails_in_bounded_time)
{
    flood t;
    /* The idle timeout only guards this test; the cap is what is tested. */
    flood_start_ok(&t, "CAPA", 300 * tu_time_scale());
    flood_repeat(&t, "X-FILLER capability line\r\n", UINT64_MAX, NULL);
    flood_login(&t);
    tu_rec capa;
    tu_rec_init(&capa, 2, NULL);
    ck_assert_ptr_nonnull(pop3a_capa_refresh(t.e.client, tu_done, &capa));
    int finished = wait_endless(&t, &capa, "capa_refresh_endless", h_now_ms());
    uint64_t sent = fl_bytes_sent(t.f);
    flood_end(&t); /* first: a failed assertion below must not leak */
    ck_assert_msg(finished, "an endless CAPA reply is read forever (%" PRIu64 " bytes so far)",
                  sent);
    H_STATUS(capa, POP3A_ERR_PROTOCOL);
}
END_TEST

/* ---------------------------------------------------------------- LIST */

typedef struct {
    tu_rec rec;
    size_t count;
    int entries_ok;
} list_check;

/* Checks every entry of the listing while the future is alive. */
static void list_check_done(pop3a_client *c, pop3a_future *f, void *arg)
{
    list_check *k = arg;
    k->count = pop3a_future_count(f);
    k->entries_ok = 1;
    for (size_t i = 0; i < k->count; i++) {
        uint32_t msg;
        uint64_t size;
        if (pop3a_future_entry(f, i, &msg, &size, NULL) != 0 || msg != i + 1 ||
            size != 1000 + (i + 1) % 4096) {
            k->entries_ok = 0;
            break;
        }
    }
    tu_done(c, f, &k->rec);
}

/* A million-entry LIST works; memory is the entries (16 bytes each, grown by
 * doubling), not the text. */
START_TEST(list_with_a_million_entries_works)
{
    flood t;
    flood_start(&t, "LIST");
    flood_listing(&t, 1000000);
    flood_login(&t);
    list_check k;
    memset(&k, 0, sizeof k);
    tu_rec_init(&k.rec, 2, NULL);
    mem_watch w;
    struct event *sampler = mem_watch_sampled(t.e.base, &w, 2);
    unsigned long t0 = h_now_ms();
    ck_assert_ptr_nonnull(pop3a_list(t.e.client, 0, list_check_done, &k));
    H_WAIT_DONE_MS(t.e.base, k.rec, 60000);
    unsigned long took = h_now_ms() - t0;
    mem_sampler_stop(sampler);
    report_memory("list_1e6_entries", &w, took);
    H_ONCE(k.rec);
    H_STATUS(k.rec, POP3A_OK);
    ck_assert_uint_eq(k.count, 1000000);
    ck_assert(k.entries_ok);
    H_HEAP_GREW_LESS(w, 64 * MIB);
    flood_end(&t);
}
END_TEST

/* More entries than max_listing, but finite: that LIST fails, the session
 * survives (the rest of the listing is read and dropped). */
START_TEST(list_longer_than_max_listing_fails_only_list)
{
    flood t;
    flood_start(&t, "LIST");
    pop3a_options_set_max_listing(t.e.opts, 100);
    flood_listing(&t, 1000);
    fl_expect(t.f, "NOOP");
    fl_send(t.f, "+OK\r\n");
    flood_login(&t);
    tu_rec list, noop;
    tu_rec_init(&list, 2, NULL);
    tu_rec_init(&noop, 3, NULL);
    ck_assert_ptr_nonnull(pop3a_list(t.e.client, 0, tu_done, &list));
    ck_assert_ptr_nonnull(pop3a_noop(t.e.client, tu_done, &noop));
    H_WAIT_DONE(t.e.base, noop);
    H_ONCE(list);
    H_STATUS(list, POP3A_ERR_PROTOCOL);
    ck_assert_uint_le(list.count, 100);
    H_STATUS(noop, POP3A_OK);
    flood_end(&t);
}
END_TEST

/* A listing that never ends: entries stop at max_listing (bounded memory),
 * the rest is drained for at most a million lines, then the connection is
 * failed with PROTOCOL. */
START_TEST(list_endless_fails_in_bounded_time)
{
    flood t;
    flood_start(&t, "LIST");
    /* The idle timeout only guards this test; the caps are what is tested. */
    pop3a_options_set_timeouts(t.e.opts, 2000 * tu_time_scale(), 300 * tu_time_scale());
    pop3a_options_set_max_listing(t.e.opts, 1000);
    flood_listing(&t, UINT64_MAX);
    flood_login(&t);
    tu_rec list;
    tu_rec_init(&list, 2, NULL);
    mem_watch w;
    struct event *sampler = mem_watch_sampled(t.e.base, &w, 5);
    ck_assert_ptr_nonnull(pop3a_list(t.e.client, 0, tu_done, &list));
    int finished = wait_endless(&t, &list, "list_endless", h_now_ms());
    mem_sampler_stop(sampler);
    printf("list_endless: heap growth %zu KiB\n", mem_watch_growth(&w) / 1024);
    uint64_t sent = fl_bytes_sent(t.f);
    flood_end(&t); /* first: a failed assertion below must not leak */
    H_HEAP_GREW_LESS(w, 8 * MIB);
    ck_assert_msg(finished, "an endless listing is read forever (%" PRIu64 " bytes so far)",
                  sent);
    H_STATUS(list, POP3A_ERR_PROTOCOL);
}
END_TEST

/* ---------------------------------------------------------------- bodies */

/* A 100 MiB message that is one single line: streamed, never gathered. */
START_TEST(retr_100mib_single_line_streams_in_bounded_memory)
{
    flood t;
    flood_start(&t, "RETR 1");
    fl_send(t.f, "+OK 104857602 octets\r\n");
    flood_repeat(&t, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 100u * MIB,
                 "\r\n.\r\n");
    flood_login(&t);
    mem_watch w;
    mem_watch_start(&w);
    counted k;
    counted_init(&k, &w);
    unsigned long t0 = h_now_ms();
    ck_assert_ptr_nonnull(pop3a_retr(t.e.client, 1, counted_chunk, counted_done, &k));
    H_WAIT_DONE_MS(t.e.base, k.rec, 120000);
    unsigned long took = h_now_ms() - t0;
    report_memory("retr_100mib_single_line", &w, took);
    H_ONCE(k.rec);
    H_STATUS(k.rec, POP3A_OK);
    ck_assert_int_eq(k.cnt.finals, 1);
    ck_assert(k.cnt.bytes == 100u * MIB + 2);
    ck_assert(k.rec.octets == 100u * MIB + 2);
    H_HEAP_GREW_LESS(w, 8 * MIB);
    flood_end(&t);
}
END_TEST

/* A body that never ends is a legitimate-looking stream: the caller decides
 * when enough is enough, by aborting from the chunk callback. */
START_TEST(retr_endless_body_is_ended_by_the_caller)
{
    flood t;
    flood_start(&t, "RETR 1");
    fl_send(t.f, "+OK\r\n");
    flood_repeat(&t, "an endless line of text\r\n", UINT64_MAX, NULL);
    flood_login(&t);
    tu_rec dele;
    tu_rec_init(&dele, 3, NULL);
    mem_watch w;
    mem_watch_start(&w);
    counted k;
    counted_init(&k, &w);
    k.cnt.abort_after = 20u * MIB;
    ck_assert_ptr_nonnull(pop3a_retr(t.e.client, 1, counted_chunk, counted_done, &k));
    ck_assert_ptr_nonnull(pop3a_dele(t.e.client, 1, tu_done, &dele));
    H_WAIT_DONE_MS(t.e.base, dele, 30000);
    H_ONCE(k.rec);
    H_STATUS(k.rec, POP3A_ERR_CANCELLED);
    ck_assert_int_eq(k.cnt.finals, 0);
    H_STATUS(dele, POP3A_ERR_CLOSED);
    /* The abort shut the connection: its close callback ran once, saying the
     * session was closed (the abort itself is the RETR's CANCELLED). */
    ck_assert_int_eq(t.e.close_calls, 1);
    ck_assert_int_eq(t.e.close_why, POP3A_ERR_CLOSED);
    H_HEAP_GREW_LESS(w, 8 * MIB);
    flood_end(&t);
}
END_TEST

/* ------------------------------------------------------------- slow loris */

/* One byte every 50 ms with a 300 ms idle timeout: the idle timeout measures
 * silence, and every byte resets it, so a slow reply completes. */
START_TEST(slow_loris_reply_completes_under_idle_timeout)
{
    tu_env e;
    h_env_init_login(&e, H_CAPA);
    pop3a_options_set_timeouts(e.opts, 3000, 300);
    p3s_expect(e.srv, "STAT");
    p3s_write_chunk(e.srv, 1, 50);
    p3s_send(e.srv, "+OK 2 320 slow\r\n");
    tu_rec conn, login, stat;
    tu_rec_init(&stat, 2, NULL);
    h_attach_login(&e, &conn, &login);
    unsigned long t0 = h_now_ms();
    ck_assert_ptr_nonnull(pop3a_stat(e.client, tu_done, &stat));
    H_WAIT_DONE(e.base, stat);
    unsigned long took = h_now_ms() - t0;
    H_STATUS(stat, POP3A_OK);
    ck_assert_uint_eq(stat.stat_count, 2);
    ck_assert_msg(took >= 600, "took only %lu ms: the reply was not trickled", took);
    tu_env_free(&e);
}
END_TEST

/*
 * An endless reply trickling at 20 octets/s (1 byte / 50 ms) is above the
 * library's minimum rate (8 octets/s per idle period), so it is not a stall:
 * the library keeps reading, and the caller's own timer is the remedy for a
 * transfer it finds too slow; pop3a_client_free then completes it with CLOSED.
 * (Cancelling does not end it: a sent command's reply is still read to its end.)
 */
START_TEST(slow_loris_endless_needs_the_callers_deadline)
{
    flood t;
    flood_start_ok(&t, "RETR 1", 300);
    flood_trickle_forever(&t, "slow\r\n", 50);
    flood_login(&t);
    tu_rec retr;
    flood_submit_retr(&t, &retr);
    run_for(t.e.base, 1200);
    ck_assert_msg(retr.done_calls == 0, "completed with %s: a deadline exists now; update "
                  "doc/ROBUSTNESS.md", pop3a_status_name(retr.status));
    ck_assert_uint_gt(retr.body_len, 0);
    flood_free_client_closes(&t, &retr);
    ck_assert_int_eq(retr.final_count, 0);
    tu_rec_clear(&retr);
    flood_end(&t);
}
END_TEST

/* A true slow loris, below the minimum rate (1 byte / 200 ms = 5 octets/s,
 * endless), times out within about one idle period although bytes keep
 * resetting the silence timer; no final chunk. */
START_TEST(slow_loris_below_minimum_rate_times_out)
{
    flood t;
    flood_start_ok(&t, "RETR 1", 1000);
    flood_trickle_forever(&t, "slow\r\n", 200);
    flood_login(&t);
    tu_rec retr;
    unsigned long t0 = h_now_ms();
    flood_submit_retr(&t, &retr);
    H_WAIT_DONE(t.e.base, retr);
    unsigned long took = h_now_ms() - t0;
    H_ONCE(retr);
    H_STATUS(retr, POP3A_ERR_TIMEOUT);
    ck_assert_int_eq(retr.final_count, 0);
    ck_assert_uint_gt(retr.body_len, 0);
    H_TOOK_BETWEEN(took, 900, 3000);
    tu_rec_clear(&retr);
    flood_end(&t);
}
END_TEST

/* The connect deadline bounds the whole of connecting: a greeting trickled a
 * byte at a time (each byte resetting the idle timer) still times out. */
START_TEST(slow_loris_greeting_hits_connect_deadline)
{
    tu_env e;
    tu_env_init(&e);
    pop3a_options_set_timeouts(e.opts, 500, 300);
    p3s_write_chunk(e.srv, 1, 50);
    p3s_send(e.srv, "+OK a greeting sent one byte every fifty milliseconds, slowly\r\n");
    tu_rec conn;
    unsigned long took = h_attach_timed(&e, &conn);
    H_ONCE(conn);
    H_STATUS(conn, POP3A_ERR_TIMEOUT);
    H_TOOK_BETWEEN(took, 450, 1500);
    tu_env_free(&e);
}
END_TEST

/* Backpressure: a caller that pauses an endless body holds bounded memory
 * (reading stops at the high-water mark) and no timeout fires while paused
 * (the pause is the caller's choice). */
START_TEST(paused_endless_body_holds_bounded_memory)
{
    flood t;
    flood_start_ok(&t, "RETR 1", 200);
    flood_repeat(&t, "an endless line of text\r\n", UINT64_MAX, NULL);
    tu_rec retr;
    tu_rec_init(&retr, 2, NULL);
    retr.chunk_action = TU_ACT_PAUSE;
    retr.action_at_chunk = 1;
    flood_login(&t);
    mem_watch w;
    struct event *sampler = mem_watch_sampled(t.e.base, &w, 5);
    ck_assert_ptr_nonnull(pop3a_retr(t.e.client, 1, tu_chunk, tu_done, &retr));
    run_for(t.e.base, 600);
    mem_sampler_stop(sampler);
    report_memory("paused_endless_body", &w, 600);
    ck_assert_ptr_nonnull(retr.paused);
    ck_assert_int_eq(retr.done_calls, 0);
    ck_assert_int_eq(retr.chunk_calls, 1);
    H_HEAP_GREW_LESS(w, 4 * MIB);
    flood_free_client_closes(&t, &retr);
    tu_rec_clear(&retr);
    flood_end(&t);
}
END_TEST

/* ------------------------------------------------- server that never reads */

static void on_trace_count(pop3a_client *c, pop3a_trace_dir dir, const char *line, size_t len,
                           void *arg)
{
    if (dir == POP3A_TRACE_SENT)
        (*(int *)arg)++;
}

/* The server stops reading and answering while the client has 1000 commands
 * queued: only the pipelining window is written (the output stays small) and
 * the idle timeout fails them all. */
START_TEST(server_that_never_reads_bounds_output_to_the_window)
{
    tu_env e;
    h_env_init_login(&e, H_CAPA_PIPELINING);
    pop3a_options_set_timeouts(e.opts, 3000, 300);
    pop3a_options_set_pipelining(e.opts, 8);
    int sent = 0;
    pop3a_options_set_trace(e.opts, on_trace_count, &sent);
    p3s_stop_reading(e.srv);
    tu_rec conn, login;
    h_attach_login(&e, &conn, &login);
    int before = sent;
    enum { N = 1000 };
    tu_rec *r = calloc(N, sizeof *r);
    ck_assert_ptr_nonnull(r);
    for (int i = 0; i < N; i++) {
        tu_rec_init(&r[i], i, NULL);
        ck_assert_ptr_nonnull(pop3a_noop(e.client, tu_done, &r[i]));
    }
    unsigned long t0 = h_now_ms();
    H_WAIT_DONE(e.base, r[N - 1]);
    unsigned long took = h_now_ms() - t0;
    ck_assert_int_eq(sent - before, 8);
    for (int i = 0; i < N; i++) {
        H_ONCE(r[i]);
        H_STATUS(r[i], POP3A_ERR_TIMEOUT);
    }
    H_TOOK_BETWEEN(took, 250, 2000);
    free(r);
    tu_env_free(&e);
}
END_TEST

/* A response the client must write is larger than the socket buffers and the
 * server stops reading: the write blocks, the timeout fires. The output
 * buffer holds that one response, which the caller chose the size of. */
START_TEST(server_that_never_reads_a_big_response_times_out)
{
    tu_env e;
    tu_env_init(&e);
    pop3a_options_set_timeouts(e.opts, 3000, 300);
    tu_script_greeting_capa(e.srv, H_GREETING, "SASL XOAUTH2\r\n");
    p3s_expect(e.srv, "AUTH XOAUTH2");
    p3s_send(e.srv, "+ \r\n");
    p3s_stop_reading(e.srv);
    size_t n = 4u * MIB;
    char *token = malloc(n + 1);
    ck_assert_ptr_nonnull(token);
    memset(token, 't', n);
    token[n] = '\0';
    tu_rec conn, login;
    tu_rec_init(&conn, 0, NULL);
    tu_rec_init(&login, 1, NULL);
    mem_watch w;
    struct event *sampler = mem_watch_sampled(e.base, &w, 5);
    ck_assert_ptr_nonnull(tu_env_attach(&e, &conn));
    unsigned long t0 = h_now_ms();
    ck_assert_ptr_nonnull(
        pop3a_login_oauth(e.client, "alice", token, POP3A_MECH_XOAUTH2, tu_done, &login));
    free(token);
    H_WAIT_DONE(e.base, login);
    unsigned long took = h_now_ms() - t0;
    mem_sampler_stop(sampler);
    report_memory("never_reads_4mib_token", &w, took);
    H_SCRIPT_OK(e.srv);
    H_ONCE(login);
    H_STATUS(login, POP3A_ERR_TIMEOUT);
    H_TOOK_UNDER(took, 3000);
    H_HEAP_GREW_LESS(w, 48 * MIB);
    tu_env_free(&e);
}
END_TEST

int main(void)
{
    tu_ignore_sigpipe();
    setvbuf(stdout, NULL, _IOLBF, 0); /* the numbers reach the log before a fork exits */
    Suite *s = suite_create("hostile_flood");
    TCase *tc = tcase_create("flood");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, capa_with_1000_lines_at_connect_is_accepted);
    tcase_add_test(tc, capa_refresh_over_1000_lines_fails_only_capa);
    tcase_add_test(tc, capa_with_1001_lines_at_connect_is_protocol);
    tcase_add_test(tc, capa_endless_at_connect_is_protocol);
    tcase_add_test(tc, capa_refresh_endless_fails_in_bounded_time);
    tcase_add_test(tc, list_with_a_million_entries_works);
    tcase_add_test(tc, list_longer_than_max_listing_fails_only_list);
    tcase_add_test(tc, list_endless_fails_in_bounded_time);
    tcase_add_test(tc, retr_100mib_single_line_streams_in_bounded_memory);
    tcase_add_test(tc, retr_endless_body_is_ended_by_the_caller);
    tcase_add_test(tc, slow_loris_reply_completes_under_idle_timeout);
    tcase_add_test(tc, slow_loris_endless_needs_the_callers_deadline);
    tcase_add_test(tc, slow_loris_below_minimum_rate_times_out);
    tcase_add_test(tc, slow_loris_greeting_hits_connect_deadline);
    tcase_add_test(tc, paused_endless_body_holds_bounded_memory);
    tcase_add_test(tc, server_that_never_reads_bounds_output_to_the_window);
    tcase_add_test(tc, server_that_never_reads_a_big_response_times_out);
    suite_add_tcase(s, tc);
    return h_run_suite(s);
}
