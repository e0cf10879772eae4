/*
 * What the files of the scripted server share: the step queue, the connection
 * state, and the functions one file calls in another. Not for tests: they use
 * script_server.h.
 *
 *   script_server.c        socket, step machine, script API, results
 *   script_server_tls.c    OpenSSL between the socket and the script
 *   script_server_certs.c  make-test-certs and server contexts (needs none of this)
 */
#ifndef POP3A_TEST_SCRIPT_SERVER_INTERNAL_H
#define POP3A_TEST_SCRIPT_SERVER_INTERNAL_H

#include <stddef.h>

#include <event2/util.h>
#include <openssl/ssl.h>

#include "script_server.h"

struct event;
struct evbuffer;

typedef enum {
    STEP_SEND,
    STEP_EXPECT,
    STEP_EXPECT_PREFIX,
    STEP_DELAY,
    STEP_CLOSE,
    STEP_WRITE_CHUNK,
    STEP_STOP_READING,
    STEP_SILENCE,
    STEP_EOF,
    STEP_START_TLS,
    STEP_CLOSE_DIRTY,
    STEP_RESPOND,
    STEP_EXPECT_BYTES
} step_kind;

typedef struct {
    step_kind kind;
    char *data; /* owned: bytes to send or the expected line (NUL-terminated) */
    size_t len;
    size_t n;          /* WRITE_CHUNK size */
    unsigned ms;       /* DELAY, SILENCE, WRITE_CHUNK gap */
    SSL_CTX *ctx;      /* START_TLS: one reference, owned */
    p3s_respond_fn fn; /* RESPOND */
    void *arg;
} step;

/* Largest plaintext handed to one SSL_write: the TLS record limit (RFC 8446 s5.1). */
#define P3S_TLS_RECORD 16384

struct p3s {
    struct event_base *base;
    step *steps; /* owned array, each step owns its data */
    size_t nsteps, cap, cur;

    evutil_socket_t fd;  /* the connection, -1 before it exists */
    evutil_socket_t lfd; /* listening socket until the one accept */
    struct p3s *hand_over; /* takes the next connection after ours (not owned) */
    struct event *ev_accept, *ev_read, *ev_write, *ev_kick, *ev_step_timer, *ev_gap;
    struct evbuffer *in;  /* bytes read, not yet consumed by an expect step */
    struct evbuffer *out; /* bytes queued by send steps, not yet written */

    size_t chunk;
    unsigned gap_ms;
    int gap_pending;   /* ev_gap armed: no write until it fires */
    int timer_pending; /* a DELAY or SILENCE step is waiting for ev_step_timer */
    size_t silence_mark;

    int reading;
    int wr_shut;
    int peer_eof;
    int write_failed;

    int failed;
    char error[1024]; /* first failure */
    size_t lines;
    size_t bytes_in;

    /* TLS: see the top of script_server_tls.c. */
    SSL_CTX *implicit_ctx; /* one reference, owned; TLS from the first byte */
    char *client_ca;       /* CA file for client certificates, or NULL */
    size_t tls_record;     /* plaintext per record when not chunked; 0: P3S_TLS_RECORD */
    SSL *ssl;              /* owns its two memory BIOs */
    BIO *rbio, *wbio;      /* socket -> SSL, SSL -> socket */
    struct evbuffer *wire; /* TLS records not yet written to the socket */
    int tls_ready;         /* handshake complete */
    int tls_failed;
    int tls_shutdown_sent;
    int tls_close_notify;
    int client_verified;
    char client_subject[256];
    char tls_error[512];
};

/* ------------------------------------------------------ in script_server.c */

/* Keeps the first failure of the script (p3s_error); later ones are dropped. */
__attribute__((format(printf, 2, 3))) void p3s_fail(p3s *s, const char *fmt, ...);
/* Appends a zeroed step (NULL on out-of-memory, then the script has failed) and,
 * once connected, has the loop run it. */
step *p3s_push(p3s *s, step_kind kind);
void p3s_arm_timer(struct event *ev, unsigned ms);
/* Plaintext or TLS records not yet on the wire. */
int p3s_output_pending(const p3s *s);
/* The peer is gone or TLS broke: what is queued can never be delivered. */
void p3s_drop_output(p3s *s);
/* Writes as much of `out` as the socket and the chunk mode allow (through
 * p3s_flush_tls while TLS is on). */
void p3s_flush(p3s *s);

/* -------------------------------------------------- in script_server_tls.c */

/* p3s_flush and the reading callback under TLS. */
void p3s_flush_tls(p3s *s);
void p3s_read_tls(p3s *s);
/* Puts a server-side SSL between the socket and the script; -1 (script failed)
 * when TLS is already on or cannot be set up. */
int p3s_tls_begin(p3s *s, SSL_CTX *ctx);
/* The CLOSE (clean: close_notify first when TLS is up) and CLOSE_DIRTY steps:
 * 1 once the FIN is sent, 0 while output is still pending. */
int p3s_run_close(p3s *s, int clean);

#endif
