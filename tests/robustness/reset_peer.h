/*
 * A POP3 peer that resets the connection mid-pipeline, for the SIGPIPE test.
 * It runs in its own process (the test's parent) with blocking sockets, so the
 * client under test can be a child whose death by a signal the parent sees.
 * Per connection: greeting, CAPA (PIPELINING; STLS when asked), STLS and TLS
 * when asked (or TLS from the first byte), USER and PASS accepted, then the
 * pipelined LISTs; the connection is closed with SO_LINGER 0 (an RST, whatever
 * the client still sends) at one of the points below.
 */
#ifndef POP3A_TEST_RESET_PEER_H
#define POP3A_TEST_RESET_PEER_H

#include <stdint.h>

#include <openssl/ssl.h>

typedef enum { RP_PLAIN = 0, RP_IMPLICIT_TLS, RP_STLS } rp_mode;

typedef enum {
    /* Right after the greeting: the client answers it (CAPA) on a
     * connection the kernel already knows is reset. */
    RP_AFTER_GREETING = 0,
    /* After reading the batch's first LIST: most of it is still queued. */
    RP_MID_BATCH,
    /* After answering the first RP_ANSWERED LISTs: the client writes more
     * (its window refills) as the reset arrives. */
    RP_AFTER_REPLIES,
    RP_RESET_POINTS
} rp_reset;

#define RP_ANSWERED 8

/* Listens on 127.0.0.1 with a small receive buffer (so the client's batch
 * cannot all leave at once); returns the socket and *port, or -1. */
int rp_listen(uint16_t *port);

/* Serves one connection as above; ctx is the server's TLS context (NULL for
 * RP_PLAIN). Waits at most timeout_ms for the client at each step. 0 when the
 * script ran to the reset, -1 (with a reason on stderr) otherwise. */
int rp_serve_one(int listener, rp_mode mode, rp_reset when, SSL_CTX *ctx, unsigned timeout_ms);

#endif
