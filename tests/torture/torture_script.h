/*
 * The torture sessions, server side (tests/torture/test_torture.c drives the
 * client): the ways in as rows of a table, then the common part, byte for byte.
 */
#ifndef POP3A_TORTURE_SCRIPT_H
#define POP3A_TORTURE_SCRIPT_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "pop3async/pop3async.h"
#include "sasl_server.h"
#include "script_server.h"

#define N_MSGS 3

/* The messages as the server stores them (RETR sends them dot-stuffed). */
extern const char *const torture_bodies[N_MSGS + 1];

/* How a session gets to the TRANSACTION state: the rows of the sweep. */
typedef struct {
    const char *name;
    pop3a_tls_mode tls;
    unsigned mech;
    int via_socks5; /* through a SOCKS5 proxy (the scripted server) to mail.example */
    int attach;     /* pop3a_attach on a socketpair instead of pop3a_connect */
    /* The server's side up to "+OK" logged in. */
    void (*script_login)(p3s *s, scram_srv *scram, SSL_CTX *tls);
} scenario;

extern const scenario torture_scenarios[];
extern const size_t torture_n_scenarios;

/* The whole server side of `sc`: its way in, then LIST, UIDL, RETR 1-3, TOP 1 0,
 * DELE 1-3, QUIT. `scram` holds the SCRAM rows' server state. */
void torture_script(p3s *s, scram_srv *scram, const scenario *sc, SSL_CTX *tls);

#endif
