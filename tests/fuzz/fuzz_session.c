/*
 * Whole-session fuzzer: the fuzzer is the server.
 *
 * A client is attached to one end of a bufferevent pair (TLS_NONE, cleartext
 * allowed, or STLS required with a fixed context), and every command is
 * submitted at once: login, STAT, LIST, UIDL, LIST 1, UIDL 1, RETR 1, TOP 1 5,
 * DELE 1, NOOP, CAPA, QUIT. The fuzzer's bytes are the server's stream, written
 * into the other end in fuzzer-chosen pieces with the loop run in between;
 * then the server end signals EOF.
 *
 * Checks (the callback contract of pop3async.h):
 *  - after EOF the loop settles with every future done: exactly one done call
 *    each, none from inside a submit;
 *  - no chunk after final or after done, final at most once and only with OK;
 *  - the password never appears in a traced command line;
 *  - everything is freed (LeakSanitizer in the fuzz build, valgrind/ASan in
 *    the replay suite).
 *
 * Input: [flags][window][max_line][extra][split seed: 4 bytes][server bytes...]
 *   flags & 7:   login mechanisms (USER, APOP, PLAIN, LOGIN, CRAM-MD5, any)
 *   flags & 8:   RETR's chunk callback aborts at its second chunk
 *   flags & 16:  STAT's done callback cancels the TOP future
 *   flags & 32:  a done callback frees the client (which one: window byte)
 *   flags & 64:  STLS required (CAPA must offer it; TLS then meets fuzz bytes)
 *   flags & 128: options left at their defaults for line cap and listing size
 *   extra & 1:   RETR/TOP chunk callbacks return PAUSE on odd chunks; the
 *                harness resumes them between loop turns (and after EOF)
 *   extra & 2:   RETR's chunk callback cancels its own future at chunk 1
 *   extra & 4:   paced: the server bytes are frames ([2-byte length][bytes]);
 *                frame 0 (the greeting) is sent at once, frame n only after the
 *                client has sent n lines, as a server answering each command
 *                would. Otherwise the stream is sent regardless of the client
 *                (which exercises replies to commands not yet sent).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "fuzz_common.h"
#include "pop3async/pop3async.h"

#define SECRET "s3cr3t-pw"

enum {
    F_CONNECT,
    F_LOGIN,
    F_STAT,
    F_LIST,
    F_UIDL,
    F_LIST1,
    F_UIDL1,
    F_RETR,
    F_TOP,
    F_DELE,
    F_NOOP,
    F_CAPA,
    F_QUIT,
    F_COUNT
};

typedef struct session session;

typedef struct {
    session *s;
    int index;
    pop3a_future *f; /* as returned by the submit; NULL if it refused */
    int done_calls;
    int chunks, finals, chunk_after_final, chunk_after_done;
    pop3a_future *paused; /* set when the chunk callback paused, until resumed/done */
    pop3a_status status;
} fut_rec;

struct session {
    struct event_base *base;
    pop3a_client *client;
    struct bufferevent *srv;
    fut_rec recs[F_COUNT];
    int in_submit;
    int client_freed;
    unsigned long client_lines; /* lines the client has written */
    uint8_t flags;
    uint8_t extra;
    int free_at; /* index of the done callback that frees the client, or -1 */
};

static SSL_CTX *shared_ctx(void)
{
    /* One context for all runs: loading the trust store per input would
     * dominate the run time. The library up-refs it. */
    static SSL_CTX *ctx;
    if (!ctx) {
        ctx = SSL_CTX_new(TLS_client_method());
        FUZZ_CHECK(ctx != NULL, "SSL_CTX_new");
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    return ctx;
}

static void on_trace(pop3a_client *c, pop3a_trace_dir dir, const char *line, size_t len,
                     void *arg)
{
    (void)c;
    (void)arg;
    if (dir != POP3A_TRACE_SENT)
        return;
    size_t n = strlen(SECRET);
    for (size_t i = 0; i + n <= len; i++)
        FUZZ_CHECK(memcmp(line + i, SECRET, n) != 0, "password in a traced command");
}

static void read_results(pop3a_future *f)
{
    /* Touch every result accessor: ASan checks what they point at. */
    const char *text = pop3a_future_text(f);
    FUZZ_CHECK(text != NULL, "NULL text");
    (void)strlen(text);
    (void)pop3a_future_resp_code(f);
    uint32_t count, msg;
    uint64_t octets, size;
    (void)pop3a_future_stat(f, &count, &octets);
    size_t n = pop3a_future_count(f);
    for (size_t i = 0; i < n; i++) {
        const char *uid = NULL;
        FUZZ_CHECK(pop3a_future_entry(f, i, &msg, &size, &uid) == 0, "entry %zu of %zu", i, n);
        if (uid)
            (void)strlen(uid);
    }
    FUZZ_CHECK(pop3a_future_entry(f, n, &msg, &size, NULL) != 0, "entry past the end");
    const pop3a_capa *capa = pop3a_future_capa(f);
    if (capa && pop3a_capa_implementation(capa))
        (void)strlen(pop3a_capa_implementation(capa));
}

static void on_done(pop3a_client *c, pop3a_future *f, void *arg)
{
    fut_rec *r = arg;
    session *s = r->s;
    FUZZ_CHECK(!s->in_submit, "done callback inside a submit");
    FUZZ_CHECK(r->f == NULL || r->f == f, "done callback for another future");
    FUZZ_CHECK(pop3a_future_client(f) == c, "future's client is not the caller's");
    r->done_calls++;
    r->paused = NULL; /* the library drops the future after this callback */
    r->status = pop3a_future_status(f);
    FUZZ_CHECK(r->finals == 0 || r->status == POP3A_OK || r->status == POP3A_ERR_CANCELLED,
               "final chunk delivered but the future failed with %s",
               pop3a_status_name(r->status));
    read_results(f);
    if (r->index == F_STAT && (s->flags & 16) && s->recs[F_TOP].f)
        pop3a_future_cancel(s->recs[F_TOP].f);
    if (r->index == s->free_at && !s->client_freed) {
        s->client_freed = 1;
        pop3a_client_free(c);
    }
}

static int on_chunk(pop3a_client *c, pop3a_future *f, const char *data, size_t len, int final,
                    void *arg)
{
    (void)c;
    (void)f;
    fut_rec *r = arg;
    if (r->finals)
        r->chunk_after_final++;
    if (r->done_calls)
        r->chunk_after_done++;
    r->chunks++;
    if (final)
        r->finals++;
    if (len)
        FUZZ_CHECK(data != NULL, "chunk without data");
    volatile char sink = 0;
    for (size_t i = 0; i < len; i += 64)
        sink ^= data[i]; /* ASan: the span must be readable */
    (void)sink;
    if (r->index == F_RETR && (r->s->flags & 8) && r->chunks == 2 && !final)
        return POP3A_CHUNK_ABORT;
    if (r->index == F_RETR && (r->s->extra & 2) && r->chunks == 1)
        pop3a_future_cancel(f);
    if ((r->s->extra & 1) && (r->chunks & 1) && !final) {
        r->paused = f;
        return POP3A_CHUNK_PAUSE;
    }
    return POP3A_CHUNK_CONTINUE;
}

static void drain_client_output(struct bufferevent *bev, void *arg)
{
    session *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(in);
    const unsigned char *p = evbuffer_pullup(in, (ev_ssize_t)n);
    for (size_t i = 0; i < n; i++)
        s->client_lines += p[i] == '\n';
    evbuffer_drain(in, n);
}

static int all_done(const session *s)
{
    for (int i = 0; i < F_COUNT; i++)
        if (s->recs[i].f && s->recs[i].done_calls == 0)
            return 0;
    return 1;
}

/* A paused transfer is resumed on the next turn: the caller's side of
 * backpressure, as an application that has written its buffer out would. */
static void resume_paused(session *s)
{
    for (int i = 0; i < F_COUNT; i++) {
        pop3a_future *f = s->recs[i].paused;
        if (f) {
            s->recs[i].paused = NULL;
            /* -1 is fine: a cancel may have resumed it already. A future
             * left paused for good shows up as "still pending" below. */
            (void)pop3a_future_resume(f);
        }
    }
}

static void spin(session *s, int turns)
{
    for (int i = 0; i < turns; i++) {
        event_base_loop(s->base, EVLOOP_NONBLOCK);
        if (!s->client_freed)
            resume_paused(s);
    }
}

/* Bytes to the client, piece by piece, with the client running between. */
static void deliver_raw(session *s, const uint8_t *p, size_t len, fuzz_rng *rng)
{
    while (len > 0 && !s->client_freed) {
        size_t n = fuzz_piece_len(rng, len);
        bufferevent_write(s->srv, p, n);
        p += n;
        len -= n;
        spin(s, 3);
    }
}

/* Frame n once the client has written n lines; stops when the client stays
 * silent (it is waiting for something else, or has given up). */
static void deliver_paced(session *s, fuzz_input *in, fuzz_rng *rng)
{
    unsigned long frame = 0;
    while (in->len > 0 && !s->client_freed) {
        int idle = 0;
        while (frame > s->client_lines && idle < 8 && !s->client_freed) {
            spin(s, 1);
            idle++;
        }
        if (frame > s->client_lines || s->client_freed)
            return;
        size_t n = (size_t)fuzz_byte(in, 0) << 8;
        n |= fuzz_byte(in, 0);
        if (n > in->len)
            n = in->len;
        deliver_raw(s, in->p, n, rng);
        in->p += n;
        in->len -= n;
        frame++;
    }
}

static unsigned mech_mask(uint8_t flags)
{
    static const unsigned masks[] = {POP3A_MECH_USER,  POP3A_MECH_APOP,     POP3A_MECH_PLAIN,
                                     POP3A_MECH_LOGIN, POP3A_MECH_CRAM_MD5, 0,
                                     POP3A_MECH_USER,  POP3A_MECH_APOP};
    return masks[flags & 7];
}

static pop3a_options *make_options(uint8_t flags, uint8_t window, uint8_t max_line)
{
    pop3a_options *o = pop3a_options_new();
    FUZZ_CHECK(o != NULL, "options");
    if (flags & 64)
        pop3a_options_set_tls(o, POP3A_TLS_STLS, shared_ctx());
    else
        pop3a_options_set_tls(o, POP3A_TLS_NONE, NULL);
    pop3a_options_allow_cleartext(o, 1);
    /* The loop is only ever run without blocking: no timer may fire. */
    pop3a_options_set_timeouts(o, 600000, 600000);
    pop3a_options_set_pipelining(o, 1u + (window & 15u));
    if (!(flags & 128)) {
        pop3a_options_set_max_line(o, 512u + 32u * max_line);
        pop3a_options_set_max_listing(o, 64);
    }
    pop3a_options_set_trace(o, on_trace, NULL);
    return o;
}

static void submit_all(session *s)
{
    pop3a_client *c = s->client;
    fut_rec *r = s->recs;
    s->in_submit = 1;
    r[F_LOGIN].f = pop3a_login(c, "alice", SECRET, mech_mask(s->flags), on_done, &r[F_LOGIN]);
    r[F_STAT].f = pop3a_stat(c, on_done, &r[F_STAT]);
    r[F_LIST].f = pop3a_list(c, 0, on_done, &r[F_LIST]);
    r[F_UIDL].f = pop3a_uidl(c, 0, on_done, &r[F_UIDL]);
    r[F_LIST1].f = pop3a_list(c, 1, on_done, &r[F_LIST1]);
    r[F_UIDL1].f = pop3a_uidl(c, 1, on_done, &r[F_UIDL1]);
    r[F_RETR].f = pop3a_retr(c, 1, on_chunk, on_done, &r[F_RETR]);
    r[F_TOP].f = pop3a_top(c, 1, 5, on_chunk, on_done, &r[F_TOP]);
    r[F_DELE].f = pop3a_dele(c, 1, on_done, &r[F_DELE]);
    r[F_NOOP].f = pop3a_noop(c, on_done, &r[F_NOOP]);
    r[F_CAPA].f = pop3a_capa_refresh(c, on_done, &r[F_CAPA]);
    r[F_QUIT].f = pop3a_quit(c, on_done, &r[F_QUIT]);
    s->in_submit = 0;
    for (int i = F_LOGIN; i < F_COUNT; i++)
        FUZZ_CHECK(r[i].f != NULL, "submit %d refused: %s", i,
                   pop3a_status_name(pop3a_client_error(c)));
}

static void check_records(const session *s)
{
    for (int i = 0; i < F_COUNT; i++) {
        const fut_rec *r = &s->recs[i];
        if (!r->f)
            continue;
        FUZZ_CHECK(r->done_calls == 1, "future %d: %d done calls", i, r->done_calls);
        FUZZ_CHECK(r->chunk_after_final == 0 && r->chunk_after_done == 0,
                   "future %d: chunk after final/done", i);
        FUZZ_CHECK(r->finals <= 1, "future %d: %d final chunks", i, r->finals);
        FUZZ_CHECK(r->finals == 0 || r->status == POP3A_OK || r->status == POP3A_ERR_CANCELLED,
                   "future %d: final chunk but status %s", i, pop3a_status_name(r->status));
        if (i != F_RETR && i != F_TOP)
            FUZZ_CHECK(r->chunks == 0, "future %d: chunks without a chunk callback", i);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    uint8_t flags = fuzz_byte(&in, 0);
    uint8_t window = fuzz_byte(&in, 0);
    uint8_t max_line = fuzz_byte(&in, 0);
    uint8_t extra = fuzz_byte(&in, 0);
    fuzz_rng rng;
    fuzz_rng_init(&rng, fuzz_u32(&in));

    session s;
    memset(&s, 0, sizeof s);
    s.flags = flags;
    s.extra = extra;
    s.free_at = (flags & 32) ? (window >> 4) % F_COUNT : -1;
    for (int i = 0; i < F_COUNT; i++) {
        s.recs[i].s = &s;
        s.recs[i].index = i;
        s.recs[i].status = (pop3a_status)-1;
    }
    s.base = event_base_new();
    FUZZ_CHECK(s.base != NULL, "event_base_new");
    pop3a_options *o = make_options(flags, window, max_line);
    s.client = pop3a_client_new(s.base, NULL, o);
    pop3a_options_free(o);
    FUZZ_CHECK(s.client != NULL, "client_new");

    struct bufferevent *pair[2];
    FUZZ_CHECK(bufferevent_pair_new(s.base, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS,
                                    pair) == 0,
               "bufferevent_pair_new");
    s.srv = pair[1];
    bufferevent_setcb(s.srv, drain_client_output, NULL, NULL, &s);
    bufferevent_enable(s.srv, EV_READ | EV_WRITE);

    s.in_submit = 1;
    s.recs[F_CONNECT].f = pop3a_attach(s.client, pair[0], on_done, &s.recs[F_CONNECT]);
    s.in_submit = 0;
    FUZZ_CHECK(s.recs[F_CONNECT].f != NULL, "attach refused");
    submit_all(&s);
    spin(&s, 2);

    if (extra & 4)
        deliver_paced(&s, &in, &rng);
    else
        deliver_raw(&s, in.p, in.len, &rng);
    /* Then the server goes away: every pending future must now complete. */
    bufferevent_flush(s.srv, EV_WRITE, BEV_FINISHED);
    for (int turn = 0; turn < 1000 && !all_done(&s); turn++)
        spin(&s, 1);
    FUZZ_CHECK(all_done(&s), "futures still pending after the server closed");
    check_records(&s);

    if (!s.client_freed)
        pop3a_client_free(s.client);
    check_records(&s); /* freeing completes nothing twice */
    bufferevent_free(s.srv);
    spin(&s, 2);
    event_base_free(s.base);
    return 0;
}
