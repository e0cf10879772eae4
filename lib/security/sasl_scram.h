/*
 * SCRAM-SHA-1 and SCRAM-SHA-256 client (RFC 5802, RFC 7677), with optional
 * channel binding (the -PLUS variants). Private to sasl.c; the public face is
 * pop3a_sasl_* in sasl.h.
 */
#ifndef POP3A_SASL_SCRAM_H
#define POP3A_SASL_SCRAM_H

#include <stddef.h>
#include <stdint.h>

#include "sasl.h"

/* Highest iteration count accepted from a server unless set otherwise
 * (pop3a_options_set_scram_max_iterations). PBKDF2 runs on the event loop's
 * thread and stalls every other session on it: a million iterations is ~0.25 s
 * per attempt, twice with the SHA-256 -> SHA-1 fallback. 65,536 is 16 times
 * the RFC 7677 minimum of 4096 (Dovecot's default) and costs ~15 ms. */
#define POP3A_SCRAM_DEFAULT_MAX_ITERATIONS 65536u

typedef struct pop3a_scram pop3a_scram;

/* mech: POP3A_MECH_SCRAM_SHA_1 or POP3A_MECH_SCRAM_SHA_256. Strings and the
 * channel binding data are copied. NULL on out-of-memory or a bad mech. */
pop3a_scram *pop3a_scram_new(unsigned mech, const char *user, const char *password,
                             const pop3a_sasl_cb *cb, const char *nonce);
void pop3a_scram_free(pop3a_scram *sc);

/* client-first-message (RFC 5802 section 7). */
pop3a_sasl_rc pop3a_scram_start(pop3a_scram *sc, unsigned char **out, size_t *out_len);
/* server-first-message in, client-final-message out; then server-final-message
 * in, empty response out. */
pop3a_sasl_rc pop3a_scram_step(pop3a_scram *sc, const unsigned char *in, size_t in_len,
                               unsigned char **out, size_t *out_len);
/* The highest iteration count accepted from the server (default
 * POP3A_SCRAM_DEFAULT_MAX_ITERATIONS; at least 1). */
void pop3a_scram_set_max_iterations(pop3a_scram *sc, uint32_t max);
/* 1 when channel binding data was given (the -PLUS mechanism). */
int pop3a_scram_binds(const pop3a_scram *sc);
/* 1 once the server's signature (v=) has been verified. */
int pop3a_scram_verified(const pop3a_scram *sc);
/* Why the last call failed; owned by sc; "" if nothing. */
const char *pop3a_scram_error(const pop3a_scram *sc);

/* RFC 5802 section 5.1 saslname: ',' as "=2C" and '=' as "=3D" (also the gs2
 * authzid of OAUTHBEARER, RFC 7628 section 3.1). malloc'd, NULL on
 * out-of-memory. */
char *pop3a_saslname_escape(const char *name);

#endif
