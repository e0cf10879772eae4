/*
 * The SOCKS5 handshake as a step of the connect op: run on the TCP connection
 * to the proxy, before anything else (TLS included) uses it. The connect op
 * keeps the step's state in its own and says what comes next (done).
 */
#ifndef POP3A_SOCKS5_STEP_H
#define POP3A_SOCKS5_STEP_H

#include <stdint.h>

#include "client_internal.h"
#include "socks5.h"

struct bufferevent;

/* The tunnel is up: bev (now the caller's) carries the target's bytes, the
 * proxy's reply already drained from it. */
typedef void (*pop3a_socks5_done_fn)(pop3a_client *c, pop3a_future *f, struct bufferevent *bev);

typedef struct pop3a_socks5_step {
    struct bufferevent *bev; /* owned while the handshake runs */
    pop3a_future *f;
    pop3a_socks5_done_fn done;
    int stage;
    size_t connect_len;
    uint8_t connect_req[POP3A_SOCKS5_MAX_REQUEST]; /* sent after the method (and auth) */
} pop3a_socks5_step;

/* Takes bev (connected to the proxy c->opts.proxy) and asks the proxy for a
 * tunnel to the target: its name (socks5h) or its address (family 4 or 6,
 * addr; socks5). Failures fail the connection with the reason. */
void pop3a_socks5_step_start(pop3a_client *c, pop3a_future *f, pop3a_socks5_step *st,
                             struct bufferevent *bev, const char *host, int family,
                             const uint8_t *addr, uint16_t port, pop3a_socks5_done_fn done);
/* Frees what the step still owns; idempotent. */
void pop3a_socks5_step_cleanup(pop3a_socks5_step *st);

#endif
