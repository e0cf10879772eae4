/*
 * The engine's shared internals: the client and future layouts and the calls the
 * engine core (client.c, io.c, future.c, submit.c, body_end.c) offers the ops
 * (op.h: cmd_op.c, connect.c, login.c). The core calls the ops only through
 * their rows, never by name.
 *
 * Two queues drive a session:
 *  - the submission queue holds every future not yet completed, in the order the
 *    caller submitted them; futures complete only from its head, which is what
 *    makes completion order equal submission order;
 *  - the reply queue (c->replies) holds one entry per command line written and
 *    not yet answered, in the order written; the parser is armed from its head.
 * Each future has an op (op.h): a plain command writes one line and owns one
 * reply; the connect and login ops write several lines over their life.
 */
#ifndef POP3A_CLIENT_INTERNAL_H
#define POP3A_CLIENT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "capa.h"
#include "command.h"
#include "op.h"
#include "options.h"
#include "parser.h"
#include "pop3async/pop3async.h"

struct event;
struct timeval;

typedef enum {
    POP3A_FUT_QUEUED = 0, /* not started: nothing of it written yet */
    POP3A_FUT_ACTIVE,     /* started: lines written, replies owed */
    POP3A_FUT_DONE        /* completed; only still allocated through references */
} pop3a_future_phase;

typedef struct {
    uint32_t msg;
    uint64_t size;
    uint32_t uid_off; /* offset of the NUL-terminated uid in the future's arena */
} pop3a_entry;

struct pop3a_future {
    unsigned refs;
    pop3a_client *client; /* NULL once the done callback has returned */
    pop3a_future *next;   /* submission queue link */
    const pop3a_op *op;
    void *op_state;       /* the op's own, op->state_size bytes; NULL for none */
    pop3a_future_phase phase;
    pop3a_cmd cmd;
    char *line;        /* the command line to write, CRLF included (plain commands) */
    size_t line_len;
    char *trace_line;  /* redacted form, only when tracing */
    int cancelled;
    int paused;
    pop3a_status local_status; /* != OK: fail without writing (checked at start) */

    pop3a_chunk_cb chunk_cb;
    pop3a_done_cb done_cb;
    void *arg;

    /* results */
    pop3a_status status;
    char *text;
    int text_is_ok_line; /* text is a +OK line's (replaced if the future then fails) */
    pop3a_resp_code resp_code;
    uint32_t msg;
    uint64_t octets;
    uint32_t stat_count;
    uint64_t stat_octets;
    int has_stat;
    pop3a_entry *entries;
    size_t n_entries;
    size_t cap_entries;
    char *arena; /* UIDs */
    size_t arena_len;
    size_t arena_cap;
    pop3a_capa capa;
    int has_capa;
    size_t lines; /* listing/CAPA lines read, against the caps */
    /* RETR/TOP body end (body_end.c) */
    uint64_t announced; /* octets the server announced for the message */
    int has_announced;
    uint64_t bare_lfs;  /* body LFs without a CR before them: RFC 1939 counts CRLF */
    int body_last_cr;   /* the last body octet delivered was a CR */
};

/* One reply owed by the server. `tag` tells a multi-line op which of its lines
 * this answers (e.g. USER vs PASS); plain commands use 0. */
typedef struct {
    pop3a_future *f;
    pop3a_expect expect;
    int tag;
} pop3a_reply_slot;

struct pop3a_client {
    struct event_base *base;
    struct evdns_base *dns;
    int own_dns;
    pop3a_options opts;
    SSL_CTX *ssl_ctx; /* made on first TLS use */

    struct bufferevent *bev; /* NULL when not connected */
    int own_writes;          /* io.c: a plain socket, whose output we send ourselves */
    struct event *flush_ev;  /* ...when its socket is writable (made on first use) */
    SSL *ssl;                /* owned by bev when set */
    int tls_up;
    long verify_result;
    unsigned state; /* POP3A_ST_* */
    pop3a_parser parser;

    pop3a_future *head, *tail; /* submission queue */
    pop3a_future *next_start;  /* first future not yet started */

    pop3a_reply_slot *replies; /* ring buffer */
    size_t replies_cap, replies_head, replies_len;
    int window_draining; /* the window filled: refill once half has drained */
    int quit_started;    /* QUIT is written: nothing may follow it on this connection */

    pop3a_capa capa;
    char *apop_ts;
    uint32_t maildrop_count; /* STAT's message count on this connection... */
    int has_maildrop_count;  /* ...once a STAT succeeded */

    struct event *kick;     /* deferred work: starts, local failures, resumed input */
    int depth;              /* library frames on the stack; teardown waits for 0 */
    int freeing;
    int disconnecting; /* pop3a_client_disconnect inside a callback: done at leave */
    int reading_paused;
    int timeouts_armed;
    struct event *progress_timer; /* slow-loris check while a reply is owed (io.c) */
    uint64_t progress_bytes;      /* octets parsed in the current period */
    unsigned progress_replies;    /* replies completed in the current period */
    int eof_pending;   /* EOF seen while paused: handled after resume */
    int sock_tuned;    /* io.c: TCP options set on this transport (1), not TCP (-1) */
    size_t feed_used;  /* input bytes the event being handled consumed; not drained yet */

    /* body_end.c: whether a body's terminator really ended it (per connection) */
    pop3a_future *held;       /* the RETR/TOP whose end awaits proof; the head */
    struct event *settle;     /* ends the wait when nothing is owed after `held` */
    unsigned sizes_matched;   /* RETRs whose size matched the announced one */
    unsigned sizes_differed;  /* ...and those whose size did not */
    uint64_t *list_sizes;     /* pairs (msg, size) from this session's last LIST */
    size_t n_list_sizes;

    pop3a_status err;
    char errstr[256];
    pop3a_close_cb close_cb;
    void *close_arg;
};

/* future.c */
/* A future of `op`, with its op state allocated; NULL when out of memory. */
pop3a_future *pop3a_future_alloc(pop3a_client *c, const pop3a_op *op, pop3a_done_cb done,
                                 void *arg);
void pop3a_future_release(pop3a_future *f); /* drop the library's reference */
int pop3a_future_set_text(pop3a_future *f, const char *text, size_t len);
int pop3a_future_add_entry(pop3a_future *f, uint32_t msg, uint64_t size, const char *uid,
                           size_t uid_len);

/* client.c: session plumbing */
/* 1 when a submit may go ahead; 0 for a NULL client or one being freed
 * (then pop3a_client_error says POP3A_ERR_CLOSED). */
int pop3a_may_submit(pop3a_client *c);
void pop3a_enqueue(pop3a_client *c, pop3a_future *f);
void pop3a_pump(pop3a_client *c); /* starts what may start, completes local failures */
void pop3a_close_quietly(pop3a_client *c); /* drop the transport, no callbacks */
void pop3a_enter(pop3a_client *c);
void pop3a_leave(pop3a_client *c); /* tears down when the last frame leaves a freed client */
void pop3a_kick(pop3a_client *c);
void pop3a_set_error(pop3a_client *c, pop3a_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pop3a_trace(pop3a_client *c, pop3a_trace_dir dir, const char *line, size_t len);
/* Entries one LIST/UIDL listing may hold: max_listing, or fewer once a STAT on
 * this connection said how many messages there are. */
size_t pop3a_listing_cap(const pop3a_client *c);
/* Completes f (which must be the head of the submission queue) with st; calls the
 * done callback. Returns 0, or -1 when the client was freed inside it. */
int pop3a_complete(pop3a_client *c, pop3a_future *f, pop3a_status st);
/* Writes a line (CRLF included) and queues the reply slot. trace: redacted line
 * without CRLF, or NULL to trace `line` itself. */
int pop3a_write_line(pop3a_client *c, pop3a_future *f, const char *line, size_t len,
                     const char *trace, pop3a_expect expect, int tag);
/* Owes a reply without writing anything (the greeting). */
int pop3a_expect_reply(pop3a_client *c, pop3a_future *f, pop3a_expect expect, int tag);
/* The connection is unusable: fail every pending future with st, close, call the
 * close callback. */
void pop3a_fail_connection(pop3a_client *c, pop3a_status st, const char *why);
/* Installs bev as the session's transport (callbacks, timeouts) and enables
 * it. 0, or -1 when it could not be enabled (out of memory): fail then. */
int pop3a_install_bev(pop3a_client *c, struct bufferevent *bev);
/* Drops what pop3a_install_bev set up besides the bufferevent itself. */
void pop3a_uninstall_bev(pop3a_client *c);
/* Writes bytes on a plain socket bufferevent that is not the session's yet
 * (the SOCKS5 handshake): sent at once with MSG_NOSIGNAL when nothing is
 * queued before them, the rest queued for libevent. 0, or -1 (errno set). */
int pop3a_send_early(struct bufferevent *bev, const void *data, size_t len);
void pop3a_update_timeouts(pop3a_client *c);
struct timeval pop3a_ms_to_tv(uint32_t ms); /* for libevent's timers */
/* Bytes already received beyond the reply being handled. */
size_t pop3a_input_pending(pop3a_client *c);
/* Drains the reply being handled now (before swapping the transport for TLS). */
void pop3a_consume_current(pop3a_client *c);
/* io.c: parse what has arrived and dispatch it. */
void pop3a_process_input(pop3a_client *c);
/* Handles an EOF that arrived while a transfer was paused, once it is drained. */
void pop3a_after_resume(pop3a_client *c);
/* Fails the session for a transport error/timeout event (BEV_EVENT_* bits). */
void pop3a_transport_error(pop3a_client *c, short what);
/* Hands body data (final: the end) to f's chunk callback; -1 when the client was
 * freed or the connection failed. */
int pop3a_body_chunk(pop3a_client *c, pop3a_future *f, const char *data, size_t len, int final);

/* cmd_line.c: a command line formatted once, for the wire and for the trace */
typedef struct {
    char line[POP3A_CMD_LINE_MAX + 1];  /* CRLF included */
    size_t len;
    char trace[POP3A_CMD_LINE_MAX + 1]; /* redacted, no CRLF: when has_trace */
    int has_trace; /* tracing is on and the line holds a secret */
} pop3a_cmd_line;
/* Formats cmd for c; -1 for a bad argument (CR, LF, NUL, too long). Wipe the
 * line (pop3a_cmd_line_wipe) once it is copied or written. */
int pop3a_cmd_line_make(pop3a_cmd_line *l, const pop3a_client *c, pop3a_cmd cmd,
                        const char *const *args, size_t nargs);
void pop3a_cmd_line_wipe(pop3a_cmd_line *l);
/* Formats and writes a command for an op as it goes (connect, login); -2 for a
 * bad argument, -1 when it cannot be written. */
int pop3a_write_cmd(pop3a_client *c, pop3a_future *f, pop3a_cmd cmd, const char *const *args,
                    size_t nargs, int tag);

/* capa_reply.c: a CAPA reply read into f->capa, counted in f->lines */
void pop3a_capa_reply_begin(pop3a_future *f); /* its +OK: a fresh list */
/* One line: POP3A_OK, POP3A_ERR_PROTOCOL past POP3A_MAX_CAPA_LINES (the line
 * is not added), or POP3A_ERR_NOMEM. */
pop3a_status pop3a_capa_reply_line(pop3a_future *f, const pop3a_pev *ev);
/* The reply is complete: f->capa becomes the session's. 0, or -1 when out of
 * memory (then the session has no capabilities). */
int pop3a_capa_reply_adopt(pop3a_client *c, const pop3a_future *f);

/* body_end.c: when a RETR/TOP body is really over (see the file's comment) */
/* +OK of a RETR/TOP: what size the server announced, if any. */
void pop3a_body_begin(pop3a_client *c, pop3a_future *f, const char *text, size_t len);
/* Counts body data the way RFC 1939 counts message sizes. */
void pop3a_body_count(pop3a_future *f, const char *data, size_t len);
/* The terminator of f's body (f OK so far): completes, fails or holds f.
 * Returns 0, or -1 when the client was freed. */
int pop3a_body_end(pop3a_client *c, pop3a_future *f);
/* Completes the held body, if any, as whole: its terminator is proven (the next
 * reply's status line, EOF, or the settle time passed). 0, or -1 when freed. */
int pop3a_body_release_held(pop3a_client *c);
/* The reason to give when bytes that cannot be a reply follow a held body. */
const char *pop3a_body_cut_reason(pop3a_client *c, const char *why, char *buf, size_t size);
/* A LIST completed: its sizes vouch for later RETRs. */
void pop3a_body_note_list(pop3a_client *c, const pop3a_future *f);
/* The connection is gone: forget its state (held future, sizes, timer). */
void pop3a_body_reset(pop3a_client *c);

#endif
