/*
 * The transaction state against Dovecot: STAT, LIST, UIDL, TOP and RETR of every
 * message compared byte for byte with the fill manifest, pipelined and not; and
 * the RFC 1939 UPDATE state: DELE takes effect at QUIT only, never after RSET or
 * a dropped connection.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest.h"

/* alice: the edge messages plus a few dozen varied ones (read only here).
 * bob: plain messages that the DELE tests remove, one per run of the suite. */
static void login_stls(it_session *s, const char *user, const char *password)
{
    it_session_init(s, NULL, POP3A_TLS_STLS);
    ck_assert_int_eq(it_connect(s, it_cfg()->host, it_cfg()->port), POP3A_OK);
    pop3a_status st = it_login(s, user, password, 0);
    ck_assert_msg(st == POP3A_OK, "login %s: %s \"%s\"", user, pop3a_status_name(st),
                  pop3a_future_text(s->last));
}

/* The first failure, kept for one ck_assert at the end (ck_assert writes a file
 * per call: too slow inside loops over every message). */
typedef struct {
    char text[512];
    int failures;
} mismatch;

static void note(mismatch *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(mismatch *m, const char *fmt, ...)
{
    if (m->failures++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m->text, sizeof m->text, fmt, ap);
        va_end(ap);
    }
}

#define ASSERT_NO_MISMATCH(m)                                                               \
    ck_assert_msg((m).failures == 0, "%d mismatches; first: %s", (m).failures, (m).text)

/* ------------------------------------------------------------- listings */

START_TEST(stat_list_uidl_match_manifest)
{
    it_manifest man;
    it_manifest_load("alice", &man);
    it_session s;
    login_stls(&s, "alice", "alicepw");
    mismatch mm = {{0}, 0};

    pop3a_future *f = it_run(&s, pop3a_stat(s.client, it_done, &s));
    uint32_t count = 0;
    uint64_t octets = 0;
    ck_assert_int_eq(pop3a_future_stat(f, &count, &octets), 0);
    ck_assert_msg(count == man.n && octets == man.total, "STAT %" PRIu32 " %" PRIu64
                  ", manifest %zu %" PRIu64, count, octets, man.n, man.total);

    f = it_run(&s, pop3a_list(s.client, 0, it_done, &s));
    IT_ASSERT_STATUS(f, POP3A_OK);
    ck_assert_uint_eq(pop3a_future_count(f), man.n);
    for (size_t i = 0; i < man.n; i++) {
        uint32_t msg = 0;
        uint64_t size = 0;
        const char *uid = "";
        if (pop3a_future_entry(f, i, &msg, &size, &uid) != 0 || msg != man.msgs[i].index ||
            size != man.msgs[i].octets || uid != NULL)
            note(&mm, "LIST entry %zu: %" PRIu32 " %" PRIu64 ", want %" PRIu32 " %" PRIu64, i,
                 msg, size, man.msgs[i].index, man.msgs[i].octets);
    }

    f = it_run(&s, pop3a_uidl(s.client, 0, it_done, &s));
    IT_ASSERT_STATUS(f, POP3A_OK);
    ck_assert_uint_eq(pop3a_future_count(f), man.n);
    for (size_t i = 0; i < man.n; i++) {
        uint32_t msg = 0;
        uint64_t size = 1;
        const char *uid = NULL;
        if (pop3a_future_entry(f, i, &msg, &size, &uid) != 0 || msg != man.msgs[i].index ||
            size != 0 || !uid || strcmp(uid, man.msgs[i].uidl) != 0)
            note(&mm, "UIDL entry %zu: %" PRIu32 " %s, want %" PRIu32 " %s", i, msg,
                 uid ? uid : "(null)", man.msgs[i].index, man.msgs[i].uidl);
    }

    /* The single-message forms, first, middle and last. */
    size_t picks[] = {0, man.n / 2, man.n - 1};
    for (size_t k = 0; k < 3; k++) {
        const it_msg *want = &man.msgs[picks[k]];
        uint32_t msg = 0;
        uint64_t size = 0;
        const char *uid = NULL;
        f = it_run(&s, pop3a_list(s.client, want->index, it_done, &s));
        if (pop3a_future_status(f) != POP3A_OK || pop3a_future_count(f) != 1 ||
            pop3a_future_entry(f, 0, &msg, &size, &uid) != 0 || msg != want->index ||
            size != want->octets)
            note(&mm, "LIST %" PRIu32 ": %s %" PRIu32 " %" PRIu64, want->index,
                 pop3a_status_name(pop3a_future_status(f)), msg, size);
        f = it_run(&s, pop3a_uidl(s.client, want->index, it_done, &s));
        if (pop3a_future_status(f) != POP3A_OK || pop3a_future_count(f) != 1 ||
            pop3a_future_entry(f, 0, &msg, &size, &uid) != 0 || msg != want->index || !uid ||
            strcmp(uid, want->uidl) != 0)
            note(&mm, "UIDL %" PRIu32 ": %s %s", want->index,
                 pop3a_status_name(pop3a_future_status(f)), uid ? uid : "(null)");
    }
    ASSERT_NO_MISMATCH(mm);
    ck_assert_int_eq(it_quit(&s), POP3A_OK);
    it_session_free(&s);
    it_manifest_free(&man);
}
END_TEST

/* ------------------------------------------------------------- RETR, TOP */

static void check_body(mismatch *mm, it_session *s, pop3a_future *f, const char *what,
                       uint32_t msg, const char *want, size_t want_len)
{
    char diff[200];
    if (pop3a_future_status(f) != POP3A_OK) {
        note(mm, "%s %" PRIu32 ": %s \"%s\"", what, msg, pop3a_status_name(pop3a_future_status(f)),
             pop3a_future_text(f));
    } else if (!it_buf_equals(&s->body, want, want_len)) {
        it_describe_diff(diff, sizeof diff, s->body.p, s->body.len, want, want_len);
        note(mm, "%s %" PRIu32 ": %s", what, msg, diff);
    } else if (s->finals != 1 || pop3a_future_octets(f) != want_len ||
               pop3a_future_msg(f) != msg) {
        note(mm, "%s %" PRIu32 ": %d final chunks, %" PRIu64 " octets counted, msg %" PRIu32,
             what, msg, s->finals, pop3a_future_octets(f), pop3a_future_msg(f));
    }
}

START_TEST(retr_every_message_matches_manifest)
{
    it_manifest man;
    it_manifest_load("alice", &man);
    it_session s;
    login_stls(&s, "alice", "alicepw");
    mismatch mm = {{0}, 0};
    for (size_t i = 0; i < man.n; i++) {
        size_t len;
        char *want = it_read_file(man.msgs[i].path, &len);
        uint32_t msg = man.msgs[i].index;
        pop3a_future *f = it_run(&s, pop3a_retr(s.client, msg, it_chunk, it_done, &s));
        check_body(&mm, &s, f, "RETR", msg, want, len);
        if (len != man.msgs[i].octets) /* the manifest's own promise */
            note(&mm, "manifest: %s has %zu octets, LIST says %" PRIu64, man.msgs[i].path, len,
                 man.msgs[i].octets);
        free(want);
    }
    ASSERT_NO_MISMATCH(mm);
    ck_assert_int_eq(it_quit(&s), POP3A_OK);
    it_session_free(&s);
    it_manifest_free(&man);
}
END_TEST

START_TEST(top_every_message_matches_header_and_first_lines)
{
    static const uint32_t line_counts[] = {0, 1, 3, 1000000};
    it_manifest man;
    it_manifest_load("alice", &man);
    it_session s;
    login_stls(&s, "alice", "alicepw");
    mismatch mm = {{0}, 0};
    for (size_t i = 0; i < man.n; i++) {
        size_t len;
        char *msg_bytes = it_read_file(man.msgs[i].path, &len);
        for (size_t k = 0; k < sizeof line_counts / sizeof *line_counts; k++) {
            size_t want_len;
            char *want = it_expected_top(msg_bytes, len, line_counts[k], &want_len);
            char what[32];
            snprintf(what, sizeof what, "TOP (%" PRIu32 " lines)", line_counts[k]);
            pop3a_future *f = it_run(&s, pop3a_top(s.client, man.msgs[i].index, line_counts[k],
                                                   it_chunk, it_done, &s));
            check_body(&mm, &s, f, what, man.msgs[i].index, want, want_len);
            free(want);
        }
        free(msg_bytes);
    }
    ASSERT_NO_MISMATCH(mm);
    it_session_free(&s);
    it_manifest_free(&man);
}
END_TEST

/* Every message with pop3a_retr_many; bodies kept per message number. */
typedef struct {
    it_buf *bodies; /* [count + 1], index = message number */
    int *finals;
    pop3a_status *status;
    int done;
    int all_done; /* done == count */
    uint32_t count;
} batch;

static int batch_chunk(pop3a_client *client, pop3a_future *future, const char *data,
                       size_t len, int final, void *arg)
{
    batch *b = arg;
    uint32_t msg = pop3a_future_msg(future);
    if (msg == 0 || msg > b->count)
        return POP3A_CHUNK_ABORT;
    it_buf_add(&b->bodies[msg], data, len);
    b->finals[msg] += final != 0;
    return POP3A_CHUNK_CONTINUE;
}

static void batch_done(pop3a_client *client, pop3a_future *future, void *arg)
{
    batch *b = arg;
    uint32_t msg = pop3a_future_msg(future);
    if (msg >= 1 && msg <= b->count)
        b->status[msg] = pop3a_future_status(future);
    b->done++;
    b->all_done = (uint32_t)b->done >= b->count;
}

/* Largest number of RETRs the trace shows on the wire before their replies. */
static int max_retrs_in_flight(const it_trace *t)
{
    int in_flight = 0, max = 0, started = 0;
    const char *p = t->log.p, *end = t->log.p + t->log.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n > 7 && memcmp(p, "> RETR ", 7) == 0) {
            started = 1;
            if (++in_flight > max)
                max = in_flight;
        } else if (started && n > 2 && p[0] == '<' &&
                   (memcmp(p + 2, "+OK", 3) == 0 || memcmp(p + 2, "-ERR", 4) == 0)) {
            in_flight--;
        }
        p += n + 1;
    }
    return max;
}

static void fetch_all(batch *b, uint32_t window, int *max_in_flight)
{
    it_session s;
    it_session_init(&s, NULL, POP3A_TLS_STLS);
    if (window)
        ck_assert_int_eq(pop3a_options_set_pipelining(s.opts, window), 0);
    ck_assert_int_eq(it_connect(&s, it_cfg()->host, it_cfg()->port), POP3A_OK);
    ck_assert_int_eq(it_login(&s, "alice", "alicepw", 0), POP3A_OK);
    pop3a_future *f = it_run(&s, pop3a_stat(s.client, it_done, &s));
    ck_assert_int_eq(pop3a_future_stat(f, &b->count, &(uint64_t){0}), 0);
    b->bodies = calloc(b->count + 1, sizeof *b->bodies);
    b->finals = calloc(b->count + 1, sizeof *b->finals);
    b->status = calloc(b->count + 1, sizeof *b->status);
    uint32_t *msgs = calloc(b->count, sizeof *msgs);
    ck_assert(b->bodies && b->finals && b->status && msgs);
    for (uint32_t i = 0; i < b->count; i++) {
        msgs[i] = i + 1;
        b->status[i + 1] = POP3A_ERR_CLOSED; /* until its done callback says otherwise */
    }
    size_t queued = pop3a_retr_many(s.client, msgs, b->count, batch_chunk, batch_done, b);
    free(msgs);
    ck_assert_uint_eq(queued, b->count);
    ck_assert_msg(it_loop_until(s.base, &b->all_done, IT_WAIT_MS) == 0,
                  "only %d of %" PRIu32 " RETRs done", b->done, b->count);
    *max_in_flight = max_retrs_in_flight(&s.trace);
    ck_assert_int_eq(it_quit(&s), POP3A_OK);
    it_session_free(&s);
}

static void batch_free(batch *b)
{
    for (uint32_t i = 0; b->bodies && i <= b->count; i++)
        it_buf_free(&b->bodies[i]);
    free(b->bodies);
    free(b->finals);
    free(b->status);
    memset(b, 0, sizeof *b);
}

START_TEST(pipelined_and_one_at_a_time_fetch_identical_bytes)
{
    it_manifest man;
    it_manifest_load("alice", &man);
    batch piped = {0}, serial = {0};
    int piped_max = 0, serial_max = 0;
    fetch_all(&piped, 0, &piped_max);  /* the default window */
    fetch_all(&serial, 1, &serial_max); /* pipelining off */
    ck_assert_uint_eq(piped.count, man.n);
    ck_assert_uint_eq(serial.count, man.n);
    /* Dovecot advertises PIPELINING (RFC 2449 section 6.6): the default window
     * must really put several RETRs on the wire, and window 1 only one. */
    ck_assert_msg(piped_max > 1, "pipelined run had at most %d RETR in flight", piped_max);
    ck_assert_msg(serial_max == 1, "window 1 had %d RETRs in flight", serial_max);

    mismatch mm = {{0}, 0};
    char diff[200];
    for (uint32_t i = 1; i <= man.n; i++) {
        size_t len;
        char *want = it_read_file(man.msgs[i - 1].path, &len);
        const it_buf *a = &piped.bodies[i], *b = &serial.bodies[i];
        if (piped.status[i] != POP3A_OK || serial.status[i] != POP3A_OK)
            note(&mm, "RETR %" PRIu32 ": %s pipelined, %s serial", i,
                 pop3a_status_name(piped.status[i]), pop3a_status_name(serial.status[i]));
        else if (a->len != b->len || (a->len && memcmp(a->p, b->p, a->len) != 0))
            note(&mm, "RETR %" PRIu32 ": pipelined and serial bodies differ (%zu vs %zu)", i,
                 a->len, b->len);
        else if (!it_buf_equals(a, want, len)) {
            it_describe_diff(diff, sizeof diff, a->p, a->len, want, len);
            note(&mm, "RETR %" PRIu32 " vs manifest: %s", i, diff);
        } else if (piped.finals[i] != 1 || serial.finals[i] != 1)
            note(&mm, "RETR %" PRIu32 ": %d/%d final chunks", i, piped.finals[i],
                 serial.finals[i]);
        free(want);
    }
    printf("pipelining: up to %d RETRs in flight with the default window, %d with window 1\n",
           piped_max, serial_max);
    batch_free(&piped);
    batch_free(&serial);
    it_manifest_free(&man);
    ASSERT_NO_MISMATCH(mm);
}
END_TEST

/* ------------------------------------------------------------------ DELE */

/* bob's UIDLs as a fresh session sees them, space separated. */
static char *bob_uidls(uint32_t *count)
{
    it_session s;
    login_stls(&s, "bob", "bobpw");
    pop3a_future *f = it_run(&s, pop3a_uidl(s.client, 0, it_done, &s));
    IT_ASSERT_STATUS(f, POP3A_OK);
    it_buf out = {0};
    *count = (uint32_t)pop3a_future_count(f);
    for (size_t i = 0; i < *count; i++) {
        const char *uid = NULL;
        ck_assert_int_eq(pop3a_future_entry(f, i, NULL, NULL, &uid), 0);
        it_buf_add(&out, uid, strlen(uid));
        it_buf_add(&out, " ", 1);
    }
    it_buf_add(&out, "", 1);
    ck_assert_int_eq(it_quit(&s), POP3A_OK);
    it_session_free(&s);
    return out.p;
}

/* The UIDL of message 1 in a session that is logged in as bob. */
static char *first_uidl(it_session *s)
{
    pop3a_future *f = it_run(s, pop3a_uidl(s->client, 1, it_done, s));
    IT_ASSERT_STATUS(f, POP3A_OK);
    const char *uid = NULL;
    ck_assert_int_eq(pop3a_future_entry(f, 0, NULL, NULL, &uid), 0);
    char *copy = strdup(uid);
    ck_assert(copy != NULL);
    return copy;
}

static void dele_first(it_session *s)
{
    pop3a_future *f = it_run(s, pop3a_dele(s->client, 1, it_done, s));
    IT_ASSERT_STATUS(f, POP3A_OK);
    /* Marked: the server now refuses it in this session (RFC 1939 section 5). */
    f = it_run(s, pop3a_retr(s->client, 1, it_chunk, it_done, s));
    IT_ASSERT_STATUS(f, POP3A_ERR_SERVER);
    ck_assert_int_eq(s->finals, 0);
    ck_assert_uint_eq(s->body.len, 0);
}

START_TEST(dele_then_quit_removes_the_message)
{
    uint32_t before_n, after_n;
    char *before = bob_uidls(&before_n);
    ck_assert_msg(before_n >= 1, "bob's maildrop is empty: refill it (run-suite does)");
    it_session s;
    login_stls(&s, "bob", "bobpw");
    char *gone = first_uidl(&s);
    dele_first(&s);
    /* QUIT enters the UPDATE state: now the server removes it (RFC 1939 section 6). */
    ck_assert_int_eq(it_quit(&s), POP3A_OK);
    it_session_free(&s);

    char *after = bob_uidls(&after_n);
    ck_assert_uint_eq(after_n, before_n - 1);
    ck_assert_msg(strncmp(before, gone, strlen(gone)) == 0 && before[strlen(gone)] == ' ',
                  "%s was not first in %s", gone, before);
    ck_assert_str_eq(after, before + strlen(gone) + 1);
    free(before);
    free(after);
    free(gone);
}
END_TEST

START_TEST(dele_then_rset_keeps_the_message)
{
    uint32_t before_n, after_n;
    char *before = bob_uidls(&before_n);
    ck_assert(before_n >= 1);
    it_session s;
    login_stls(&s, "bob", "bobpw");
    dele_first(&s);
    pop3a_future *f = it_run(&s, pop3a_rset(s.client, it_done, &s));
    IT_ASSERT_STATUS(f, POP3A_OK);
    /* Unmarked: readable again in this session. */
    f = it_run(&s, pop3a_retr(s.client, 1, it_chunk, it_done, &s));
    IT_ASSERT_STATUS(f, POP3A_OK);
    ck_assert_int_eq(it_quit(&s), POP3A_OK);
    it_session_free(&s);

    char *after = bob_uidls(&after_n);
    ck_assert_uint_eq(after_n, before_n);
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
}
END_TEST

START_TEST(dele_then_dropped_connection_keeps_the_message)
{
    uint32_t before_n, after_n;
    char *before = bob_uidls(&before_n);
    ck_assert(before_n >= 1);
    it_session s;
    login_stls(&s, "bob", "bobpw");
    dele_first(&s);
    /* No QUIT: the session never reaches the UPDATE state (RFC 1939 section 6). */
    pop3a_client_free(s.client);
    s.client = NULL;
    it_session_free(&s);

    char *after = bob_uidls(&after_n);
    ck_assert_uint_eq(after_n, before_n);
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
}
END_TEST

Suite *it_suite_mailbox(void)
{
    Suite *s = suite_create("mailbox");
    TCase *tc = tcase_create("read");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, stat_list_uidl_match_manifest);
    tcase_add_test(tc, retr_every_message_matches_manifest);
    tcase_add_test(tc, top_every_message_matches_header_and_first_lines);
    tcase_add_test(tc, pipelined_and_one_at_a_time_fetch_identical_bytes);
    suite_add_tcase(s, tc);

    tc = tcase_create("dele");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, dele_then_quit_removes_the_message);
    tcase_add_test(tc, dele_then_rset_keeps_the_message);
    tcase_add_test(tc, dele_then_dropped_connection_keeps_the_message);
    suite_add_tcase(s, tc);
    return s;
}
