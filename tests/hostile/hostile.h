/*
 * Helpers of the hostile-server suite (issue 6, doc/ROBUSTNESS.md).
 *
 * Most scenarios use the scripted peer (tests/support/script_server.h) through
 * tu_env. The floods need a peer that never holds what it sends in memory (a
 * 100 MiB line, an endless listing), so this folder adds its own: the "flood
 * peer", a socketpair whose server end writes from a generator as fast as the
 * socket takes it (or at a set pace), after a short scripted prologue
 * (send / expect lines).
 *
 * Memory is measured as live heap bytes (ASan's allocator statistics under
 * ASan, glibc's mallinfo2 otherwise), sampled while the transfer runs.
 */
#ifndef POP3A_HOSTILE_H
#define POP3A_HOSTILE_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pop3async/pop3async.h>

#include "script_server.h"
#include "test_util.h"

struct event_base;
struct bufferevent;

/* ------------------------------------------------------------ assertions */

/* Every wait is bounded: a hang is a test failure, never a stuck CI. */
#define H_WAIT_MS 5000u

#define H_WAIT_DONE_MS(base, rec, ms)                                                        \
    ck_assert_msg(run_until_count((base), &(rec).done_calls, 1, (ms)) == 0,                  \
                  "%s: no done callback within %u ms", #rec, (unsigned)(ms))
#define H_WAIT_DONE(base, rec) H_WAIT_DONE_MS(base, rec, H_WAIT_MS)

#define H_STATUS(rec, want)                                                                  \
    ck_assert_msg((rec).status == (want), "%s: status %s (\"%s\"), want %s", #rec,           \
                  (int)(rec).status < 0 ? "none" : pop3a_status_name((rec).status),          \
                  (rec).text, pop3a_status_name(want))

/* Exactly one done call, none inside a submit, no chunk after final/done. */
#define H_ONCE(rec)                                                                          \
    do {                                                                                     \
        ck_assert_msg((rec).done_calls == 1, "%s: %d done calls", #rec, (rec).done_calls);   \
        ck_assert_int_eq((rec).callback_in_submit, 0);                                       \
        ck_assert_int_eq((rec).chunk_after_done, 0);                                         \
        ck_assert_int_eq((rec).chunk_after_final, 0);                                        \
    } while (0)

#define H_SCRIPT_OK(srv) ck_assert_msg(p3s_error(srv) == NULL, "script: %s", p3s_error(srv))

/* An elapsed time (ms) in [lo, hi): a deadline that fired neither early nor late. */
#define H_TOOK_BETWEEN(took, lo, hi)                                                         \
    ck_assert_msg((took) >= (lo) && (took) < (hi), "took %lu ms", (unsigned long)(took))
#define H_TOOK_UNDER(took, hi)                                                               \
    ck_assert_msg((took) < (hi), "took %lu ms", (unsigned long)(took))

/* Heap growth below `limit` bytes; not checked under valgrind (mem_untrusted). */
#define H_HEAP_GREW_LESS(w, limit)                                                           \
    do {                                                                                     \
        if (!mem_untrusted())                                                                \
            ck_assert_msg(mem_watch_growth(&(w)) < (limit), "heap grew %zu",                 \
                          mem_watch_growth(&(w)));                                           \
    } while (0)

/* ------------------------------------------------------- common scripts */

#define H_GREETING "+OK POP3 ready\r\n"
#define H_CAPA "TOP\r\nUIDL\r\nUSER\r\nRESP-CODES\r\n"
#define H_CAPA_PIPELINING "TOP\r\nUIDL\r\nUSER\r\nRESP-CODES\r\nPIPELINING\r\n"

/* Scripted greeting, CAPA (capa_lines) and USER alice / PASS alicepw accepted. */
void h_script_login(p3s *s, const char *capa_lines);
/* tu_env_init, then h_script_login(capa_lines): the test adds the rest of the
 * script before it attaches. */
void h_env_init_login(tu_env *e, const char *capa_lines);
/* Recorders recs[0..n) with ids 0..n-1. */
void h_recs_init(tu_rec *recs, int n);
/* Attaches e's client and logs in with USER/PASS; asserts both succeed.
 * conn and login are initialised here, as recorders 0 and 1. */
void h_attach_login(tu_env *e, tu_rec *conn, tu_rec *login);
/* Initialises recs[0..n) (n >= 2) and logs in as h_attach_login does, with
 * recs[0] as conn and recs[1] as login; the rest are for the test. */
void h_attach_login_recs(tu_env *e, tu_rec *recs, int n);
/* Attaches e's client (conn, recorder 0) and submits a login as alice/alicepw
 * with `mechs` (login, recorder 1); waits for the login's done callback but
 * asserts nothing about how either ended. */
void h_attach_try_login(tu_env *e, tu_rec *conn, tu_rec *login, unsigned mechs);
/* Attaches e's client (conn, recorder 0) and waits for the connect to end;
 * returns how long that took (ms). */
unsigned long h_attach_timed(tu_env *e, tu_rec *conn);

/* One command submitted with recorder r (a table of them names the command
 * a reply answers). */
typedef pop3a_future *(*h_submit_fn)(pop3a_client *c, tu_rec *r);
pop3a_future *h_submit_stat(pop3a_client *c, tu_rec *r);
pop3a_future *h_submit_list(pop3a_client *c, tu_rec *r);   /* LIST */
pop3a_future *h_submit_list1(pop3a_client *c, tu_rec *r);  /* LIST 1 */
pop3a_future *h_submit_uidl(pop3a_client *c, tu_rec *r);   /* UIDL */
pop3a_future *h_submit_uidl1(pop3a_client *c, tu_rec *r);  /* UIDL 1 */
pop3a_future *h_submit_noop(pop3a_client *c, tu_rec *r);
pop3a_future *h_submit_quit(pop3a_client *c, tu_rec *r);
pop3a_future *h_submit_retr1(pop3a_client *c, tu_rec *r);  /* RETR 1 */
/* Logs in (H_CAPA) to a script that answers `cmd` with the `len` bytes of
 * `reply` (NULs allowed), submits it with r (recorder 2) and waits for r's
 * done callback. The test asserts how it ended, then tu_env_free(e). */
void h_answer_one(tu_env *e, const char *cmd, const char *reply, size_t len, h_submit_fn submit,
                  tu_rec *r);
/* h_answer_one with a reply that is a C string. */
void h_answer_one_text(tu_env *e, const char *cmd, const char *reply, h_submit_fn submit,
                       tu_rec *r);
/* Attaches and logs in (recorders 0, 1, asserted OK), submits `submit` with r
 * (recorder 2) and then a NOOP with noop (recorder 3); waits for the NOOP's
 * done callback, which shows whether the session outlived r's reply. */
void h_attach_submit_then_noop(tu_env *e, h_submit_fn submit, tu_rec *r, tu_rec *noop);

/* ------------------------------------------------------------ flood peer */

/* Fills buf (cap bytes) with the next part of the stream; returns how many,
 * 0 when the stream is over. */
typedef size_t (*fl_gen_fn)(void *arg, char *buf, size_t cap);

typedef struct fl fl;

fl *fl_new(struct event_base *base);
/* The client's end (a new bufferevent for pop3a_attach, which takes it). */
struct bufferevent *fl_pair(fl *f);
void fl_send(fl *f, const char *text);
/* Waits for one line from the client; it must start with `prefix`. */
void fl_expect(fl *f, const char *prefix);
/* Streams what `fn` produces, as fast as the socket takes it. */
void fl_gen(fl *f, fl_gen_fn fn, void *arg);
/* The same, `bytes` per write with `gap_ms` between writes (a slow loris). */
void fl_gen_paced(fl *f, fl_gen_fn fn, void *arg, size_t bytes, unsigned gap_ms);
/* Half-closes once everything before it is written. */
void fl_close(fl *f);
void fl_free(fl *f);

const char *fl_error(const fl *f); /* first script mismatch, or NULL */
uint64_t fl_bytes_sent(const fl *f);
int fl_gen_finished(const fl *f); /* the last generator returned 0 */
int fl_peer_gone(const fl *f);    /* the client closed or a write failed */

/* Generators. A repeat generator: `pattern` over and over for `total` bytes
 * (UINT64_MAX: forever), then `tail` once (may be NULL). */
typedef struct {
    const char *pattern;
    size_t pattern_len;
    uint64_t total;
    const char *tail;
    uint64_t done;
    size_t tail_done;
} gen_repeat;
void gen_repeat_init(gen_repeat *g, const char *pattern, uint64_t total, const char *tail);
size_t gen_repeat_fn(void *arg, char *buf, size_t cap);

/* A listing: "+OK\r\n", then "i size\r\n" for i = 1..count (UINT64_MAX: forever),
 * then ".\r\n". */
typedef struct {
    uint64_t count;
    uint64_t next;
    int header_sent, end_sent;
    char carry[48];
    size_t carry_len, carry_off;
} gen_listing;
void gen_listing_init(gen_listing *g, uint64_t count);
size_t gen_listing_fn(void *arg, char *buf, size_t cap);

/* --------------------------------------------------------------- memory */

/* 1 under valgrind: heap statistics are the tool's, not ours. */
int mem_untrusted(void);
/* Live heap bytes now. */
size_t mem_heap_now(void);
/* Resident set size in KiB (VmRSS). */
size_t mem_rss_kb(void);
/* A running maximum of mem_heap_now() over the samples taken. */
typedef struct {
    size_t base;
    size_t peak;
} mem_watch;
void mem_watch_start(mem_watch *w);
void mem_watch_sample(mem_watch *w);
size_t mem_watch_growth(const mem_watch *w); /* peak - base */
/* Samples the heap every `ms` from a timer on `base` (stopped by mem_sampler_stop). */
struct event *mem_sampler_start(struct event_base *base, mem_watch *w, unsigned ms);
void mem_sampler_stop(struct event *ev);
/* mem_watch_start(w), then mem_sampler_start(base, w, ms). */
struct event *mem_watch_sampled(struct event_base *base, mem_watch *w, unsigned ms);
/* Attaches a new client of e to f (conn, recorder 0) while the heap is
 * sampled into w every 5 ms; waits for the connect to end, takes a last
 * sample and returns how long connecting took (ms). */
unsigned long fl_attach_sampled(tu_env *e, fl *f, tu_rec *conn, mem_watch *w);

/* ---------------------------------------------------------------- misc */

unsigned long h_now_ms(void);
/* A Check suite runner with CK_ENV verbosity; returns the exit status. */
int h_run_suite(Suite *s);

#endif
