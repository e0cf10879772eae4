/* Session test helpers: see test_util.h. */
#include "test_util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

/* ------------------------------------------------------------------ loop */

static void tu_on_deadline(evutil_socket_t fd, short what, void *arg)
{
    *(int *)arg = 1;
}

unsigned tu_time_scale(void)
{
    const char *v = getenv("POP3A_TEST_TIME_SCALE");
    long n = v ? strtol(v, NULL, 10) : 1;
    return n >= 1 && n <= 100 ? (unsigned)n : 1;
}

/* Dispatches until done(state) or ms passed (not scaled); 0 when done. */
static int loop_until(struct event_base *base, int (*done)(const int *, int), const int *state,
                      int target, unsigned ms)
{
    int expired = 0;
    /* The deadline is an event of its own so EVLOOP_ONCE always has something to
     * wait for and wakes up in time even when the client has nothing pending. */
    struct event *deadline = evtimer_new(base, tu_on_deadline, &expired);
    if (!deadline)
        abort();
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    evtimer_add(deadline, &tv);
    while (!done(state, target) && !expired)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(deadline);
    return done(state, target) ? 0 : -1;
}

static int count_reached(const int *counter, int target)
{
    return *counter >= target;
}

static int flag_set(const int *flag, int unused)
{
    return *flag != 0;
}

int run_until_count(struct event_base *base, int *counter, int target, unsigned timeout_ms)
{
    return loop_until(base, count_reached, counter, target, timeout_ms * tu_time_scale());
}

int run_until(struct event_base *base, int *flag, unsigned timeout_ms)
{
    return loop_until(base, flag_set, flag, 0, timeout_ms * tu_time_scale());
}

void run_for(struct event_base *base, unsigned ms)
{
    int never = 0;
    (void)loop_until(base, flag_set, &never, 0, ms);
}

void tu_ignore_sigpipe(void)
{
    signal(SIGPIPE, SIG_IGN);
}

/* -------------------------------------------------------------- recorder */

void tu_rec_init(tu_rec *r, int id, tu_order *order)
{
    memset(r, 0, sizeof *r);
    r->id = id;
    r->order = order;
    r->status = (pop3a_status)-1; /* "no result yet" is distinct from every status */
    r->stat_rc = -2;
}

void tu_rec_clear(tu_rec *r)
{
    free(r->body);
    r->body = NULL;
    r->body_len = r->body_cap = 0;
}

/* Appends n bytes to the NUL-terminated growable buffer *buf (*len used, *cap
 * allocated; the first allocation is first_cap, doubled as needed). A test
 * helper that cannot allocate aborts: there is no test left to run. */
static void tu_buf_append(char **buf, size_t *len, size_t *cap, size_t first_cap,
                          const char *data, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t want = *cap ? *cap : first_cap;
        while (want < *len + n + 1)
            want *= 2;
        char *grown = realloc(*buf, want);
        if (!grown)
            abort();
        *buf = grown;
        *cap = want;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static void tu_rec_append(tu_rec *r, const char *data, size_t len)
{
    tu_buf_append(&r->body, &r->body_len, &r->body_cap, 256, data, len);
}

static void tu_free_client(tu_rec *r, pop3a_client *client)
{
    pop3a_client_free(client);
    if (r->client_slot)
        *r->client_slot = NULL;
}

int tu_chunk(pop3a_client *client, pop3a_future *future, const char *data, size_t len,
             int final, void *arg)
{
    tu_rec *r = arg;
    if (r->in_submit && *r->in_submit)
        r->callback_in_submit++;
    if (r->done_calls)
        r->chunk_after_done++;
    if (r->final_count)
        r->chunk_after_final++;
    r->chunk_calls++;
    if (final)
        r->final_count++;
    if (len)
        tu_rec_append(r, data, len);
    unsigned at = final && r->action_at_chunk == TU_AT_FINAL_CHUNK ? TU_AT_FINAL_CHUNK
                                                                   : (unsigned)r->chunk_calls;
    if (at != r->action_at_chunk)
        return POP3A_CHUNK_CONTINUE;
    switch (r->chunk_action) {
    case TU_ACT_PAUSE:
        r->paused = future;
        return POP3A_CHUNK_PAUSE;
    case TU_ACT_ABORT:
        return POP3A_CHUNK_ABORT;
    case TU_ACT_CANCEL_SELF:
        pop3a_future_cancel(future);
        break;
    case TU_ACT_CANCEL:
        if (r->victim)
            pop3a_future_cancel(r->victim);
        break;
    case TU_ACT_FREE_CLIENT:
        tu_free_client(r, client);
        break;
    default:
        break;
    }
    return POP3A_CHUNK_CONTINUE;
}

static void tu_rec_results(tu_rec *r, const pop3a_future *f)
{
    r->status = pop3a_future_status(f);
    r->resp = pop3a_future_resp_code(f);
    const char *text = pop3a_future_text(f);
    snprintf(r->text, sizeof r->text, "%s", text ? text : "(null)");
    r->msg = pop3a_future_msg(f);
    r->octets = pop3a_future_octets(f);
    r->stat_rc = pop3a_future_stat(f, &r->stat_count, &r->stat_octets);
    r->count = pop3a_future_count(f);
    for (size_t i = 0; i < r->count && i < TU_MAX_ENTRIES; i++) {
        const char *uid = NULL;
        if (pop3a_future_entry(f, i, &r->entry_msg[i], &r->entry_size[i], &uid) != 0)
            r->entry_msg[i] = UINT32_MAX;
        r->entry_has_uid[i] = uid != NULL;
        snprintf(r->entry_uid[i], TU_UID_MAX, "%s", uid ? uid : "");
    }
    const pop3a_capa *capa = pop3a_future_capa(f);
    r->has_capa = capa != NULL;
    if (capa) {
        r->capa_flags = pop3a_capa_flags(capa);
        r->capa_mechs = pop3a_capa_mechs(capa);
    }
}

void tu_done(pop3a_client *client, pop3a_future *future, void *arg)
{
    tu_rec *r = arg;
    if (r->in_submit && *r->in_submit)
        r->callback_in_submit++;
    tu_rec_results(r, future);
    if (r->watch)
        r->watch_at_done = *r->watch;
    if (r->order && r->order->n < TU_MAX_ORDER)
        r->order->seq[r->order->n] = r->id;
    if (r->order)
        r->order->n++;
    switch (r->done_action) {
    case TU_ACT_FREE_CLIENT:
        tu_free_client(r, client);
        break;
    case TU_ACT_CANCEL:
        if (r->victim)
            pop3a_future_cancel(r->victim);
        break;
    case TU_ACT_SUBMIT_NOOP:
        r->submitted = pop3a_noop(client, tu_done, r->submit_rec);
        r->submit_error = pop3a_client_error(client);
        break;
    default:
        break;
    }
    /* Counted last: tests wait on done_calls, and everything above is then in. */
    r->done_calls++;
}

/* ----------------------------------------------------------------- trace */

static void tu_trace_append(tu_trace *t, const char *s, size_t len)
{
    tu_buf_append(&t->log, &t->len, &t->cap, 512, s, len);
}

void tu_trace_cb(pop3a_client *client, pop3a_trace_dir dir, const char *line, size_t len,
                 void *arg)
{
    tu_trace *t = arg;
    const char *tag = dir == POP3A_TRACE_SENT ? "> " : dir == POP3A_TRACE_RECEIVED ? "< " : "* ";
    if (dir == POP3A_TRACE_SENT)
        t->sent++;
    else if (dir == POP3A_TRACE_RECEIVED)
        t->received++;
    tu_trace_append(t, tag, 2);
    tu_trace_append(t, line, len);
    tu_trace_append(t, "\n", 1);
}

int tu_trace_has(const tu_trace *t, const char *needle)
{
    return t->log && strstr(t->log, needle) != NULL;
}

void tu_trace_clear(tu_trace *t)
{
    free(t->log);
    memset(t, 0, sizeof *t);
}

/* ----------------------------------------------------------- environment */

void tu_env_init(tu_env *e)
{
    memset(e, 0, sizeof *e);
    tu_ignore_sigpipe();
    e->base = event_base_new();
    e->srv = e->base ? p3s_new(e->base) : NULL;
    e->opts = pop3a_options_new();
    if (!e->base || !e->srv || !e->opts) {
        fprintf(stderr, "tu_env_init: out of memory\n");
        abort();
    }
    if (pop3a_options_set_tls(e->opts, POP3A_TLS_NONE, NULL) != 0 ||
        pop3a_options_allow_cleartext(e->opts, 1) != 0 ||
        pop3a_options_set_timeouts(e->opts, 3000 * tu_time_scale(),
                                   3000 * tu_time_scale()) != 0) {
        fprintf(stderr, "tu_env_init: option setters failed\n");
        abort();
    }
}

static void tu_env_on_close(pop3a_client *client, pop3a_status why, void *arg)
{
    tu_env *e = arg;
    e->close_calls++;
    e->close_why = why;
}

void tu_env_watch_close(tu_env *e)
{
    pop3a_client_set_close_cb(e->client, tu_env_on_close, e);
}

pop3a_future *tu_env_attach(tu_env *e, tu_rec *rec)
{
    if (!e->client) {
        e->client = pop3a_client_new(e->base, NULL, e->opts);
        if (!e->client) {
            fprintf(stderr, "tu_env_attach: pop3a_client_new failed\n");
            abort();
        }
    }
    tu_env_watch_close(e);
    struct bufferevent *bev = p3s_pair(e->srv);
    if (!bev) {
        fprintf(stderr, "tu_env_attach: p3s_pair failed\n");
        abort();
    }
    return pop3a_attach(e->client, bev, tu_done, rec);
}

void tu_env_free(tu_env *e)
{
    pop3a_client_free(e->client);
    e->client = NULL;
    /* Let a deferred teardown run before the server and base go away. */
    if (e->base)
        run_for(e->base, 1);
    p3s_free(e->srv);
    pop3a_options_free(e->opts);
    if (e->base)
        event_base_free(e->base);
    memset(e, 0, sizeof *e);
}

void tu_script_greeting_capa(p3s *s, const char *greeting, const char *capa_lines)
{
    p3s_send(s, greeting);
    p3s_expect(s, "CAPA");
    if (!capa_lines) {
        p3s_send(s, "-ERR unknown command\r\n");
        return;
    }
    p3s_send(s, "+OK Capability list follows\r\n");
    p3s_send(s, capa_lines);
    p3s_send(s, ".\r\n");
}
