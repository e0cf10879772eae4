/*
 * Helpers for session tests: bounded loop running, a recorder for futures (what
 * the callbacks saw, in what order, how often), a trace recorder, and a small
 * environment (event_base + scripted server + client) that most tests start from.
 */
#ifndef POP3A_TEST_UTIL_H
#define POP3A_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <pop3async/pop3async.h>

#include "script_server.h"

/* ------------------------------------------------------------------ loop */

/* POP3A_TEST_TIME_SCALE (1..100, default 1): the valgrind and ASan test setups
 * set it, since everything runs many times slower there. It stretches the
 * waits below and tu_env's default deadlines, never run_for's fixed spans nor
 * a deadline a test sets itself to watch it expire. */
unsigned tu_time_scale(void);

/* Dispatches with EVLOOP_ONCE until *flag is non-zero or timeout_ms passed.
 * 0 when the flag was set, -1 on timeout. Never blocks past the timeout even
 * when nothing else is pending. */
int run_until(struct event_base *base, int *flag, unsigned timeout_ms);
/* The same until *counter >= target. */
int run_until_count(struct event_base *base, int *counter, int target, unsigned timeout_ms);
/* Dispatches for ms milliseconds whatever happens. */
void run_for(struct event_base *base, unsigned ms);

/* Writing to a peer that went away must not kill the test with SIGPIPE (libevent
 * leaves that signal to the application, as every libevent program does). */
void tu_ignore_sigpipe(void);

/* -------------------------------------------------------------- recorder */

#define TU_MAX_ORDER 1024
#define TU_MAX_ENTRIES 64
#define TU_UID_MAX 72

/* Completion order shared by several recorders: each done callback appends its
 * recorder's id. */
typedef struct {
    int seq[TU_MAX_ORDER];
    int n;
} tu_order;

typedef enum {
    TU_ACT_NONE = 0,
    TU_ACT_PAUSE,       /* chunk: return POP3A_CHUNK_PAUSE, remember the future */
    TU_ACT_ABORT,       /* chunk: return POP3A_CHUNK_ABORT */
    TU_ACT_CANCEL_SELF, /* chunk: pop3a_future_cancel(this future) */
    TU_ACT_CANCEL,      /* chunk or done: pop3a_future_cancel(rec->victim) */
    TU_ACT_FREE_CLIENT, /* chunk or done: pop3a_client_free, *client_slot = NULL */
    TU_ACT_SUBMIT_NOOP  /* done: pop3a_noop(...) from inside, result in submitted */
} tu_action;

/* action_at_chunk for "at the final chunk", however many chunks came before. */
#define TU_AT_FINAL_CHUNK 0xffffffffu

typedef struct tu_rec tu_rec;
struct tu_rec {
    /* set up by the test (tu_rec_init zeroes everything) */
    int id;
    tu_order *order;         /* may be NULL */
    const int *in_submit;    /* when non-NULL and set during a callback: a violation */
    tu_action chunk_action;  /* what to do at chunk call number action_at_chunk */
    unsigned action_at_chunk; /* or TU_AT_FINAL_CHUNK: at the call with final = 1 */
    tu_action done_action;
    pop3a_client **client_slot; /* for TU_ACT_FREE_CLIENT */
    pop3a_future *victim;       /* for TU_ACT_CANCEL */
    tu_rec *submit_rec;         /* recorder for TU_ACT_SUBMIT_NOOP */
    pop3a_future *submitted;    /* what that submit returned */
    pop3a_status submit_error;  /* pop3a_client_error after it */
    const int *watch;           /* when set, *watch is copied to watch_at_done */

    /* what happened */
    int done_calls;
    int chunk_calls;
    int final_count;
    int chunk_after_final; /* chunks delivered after a final one */
    int chunk_after_done;  /* chunks delivered after done */
    int callback_in_submit;
    int watch_at_done;
    pop3a_future *paused; /* set by TU_ACT_PAUSE; valid until done */

    pop3a_status status;
    pop3a_resp_code resp;
    char text[512];
    uint32_t msg;
    uint64_t octets;
    int stat_rc;
    uint32_t stat_count;
    uint64_t stat_octets;
    size_t count;
    uint32_t entry_msg[TU_MAX_ENTRIES];
    uint64_t entry_size[TU_MAX_ENTRIES];
    char entry_uid[TU_MAX_ENTRIES][TU_UID_MAX];
    int entry_has_uid[TU_MAX_ENTRIES];
    int has_capa;
    unsigned capa_flags;
    unsigned capa_mechs;

    char *body; /* chunks concatenated, malloc'd, NUL-terminated */
    size_t body_len, body_cap;
};

void tu_rec_init(tu_rec *r, int id, tu_order *order);
/* Frees the body. */
void tu_rec_clear(tu_rec *r);

/* Callbacks; arg is a tu_rec. */
void tu_done(pop3a_client *client, pop3a_future *future, void *arg);
int tu_chunk(pop3a_client *client, pop3a_future *future, const char *data, size_t len,
             int final, void *arg);

/* ----------------------------------------------------------------- trace */

typedef struct {
    char *log; /* "> line\n" sent, "< line\n" received, "* line\n" info; malloc'd */
    size_t len, cap;
    int sent, received;
} tu_trace;

void tu_trace_cb(pop3a_client *client, pop3a_trace_dir dir, const char *line, size_t len,
                 void *arg);
/* 1 when `needle` occurs anywhere in the log. */
int tu_trace_has(const tu_trace *t, const char *needle);
void tu_trace_clear(tu_trace *t);

/* ----------------------------------------------------------- environment */

typedef struct {
    struct event_base *base;
    p3s *srv;
    pop3a_options *opts; /* TLS_NONE, cleartext allowed, timeouts 3 s / 3 s (scaled) */
    pop3a_client *client;
    int close_calls;
    pop3a_status close_why;
} tu_env;

/* Makes base, server and options; aborts the test on failure. */
void tu_env_init(tu_env *e);
/* Makes the client from e->opts (if not made yet), pairs it with the server and
 * submits pop3a_attach with tu_done/rec. Records close callbacks in e. */
pop3a_future *tu_env_attach(tu_env *e, tu_rec *rec);
/* Records e->client's close callbacks in e (close_calls, close_why). */
void tu_env_watch_close(tu_env *e);
/* Frees what is left (client if non-NULL, server, options, base). */
void tu_env_free(tu_env *e);

/* Script: greeting, then "CAPA" answered with `capa_lines` ("TOP\r\nUIDL\r\n..."),
 * or with -ERR when capa_lines is NULL. */
void tu_script_greeting_capa(p3s *s, const char *greeting, const char *capa_lines);

#endif
