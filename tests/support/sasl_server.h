/*
 * The server side of SASL exchanges for tests against the scripted server
 * (p3s_respond): base64 helpers, "+ " challenges, and a real SCRAM server
 * (RFC 5802, RFC 7677, channel binding RFC 9266) computed with OpenSSL, since
 * the client nonce is random. Assertions are Check's (ck_assert).
 */
#ifndef POP3A_TEST_SASL_SERVER_H
#define POP3A_TEST_SASL_SERVER_H

#include <stddef.h>

#include <openssl/evp.h>

#include "script_server.h"

/* The password every SCRAM exchange here verifies against. */
#define SASL_SRV_SECRET "s3cret-Pw"

/* base64 of data, malloc'd (caller frees). */
char *sasl_srv_b64(const void *data, size_t len);
/* Decodes into out (NUL-terminated); the decoded length, or -1. */
int sasl_srv_unb64(const char *in, size_t len, unsigned char *out, size_t cap);
/* "+ " base64(text) CRLF, malloc'd, as p3s_respond wants it. */
char *sasl_srv_challenge(const char *text);

/* RFC 7677 section 3's salt and iteration count. */
#define SCRAM_SALT "W22ZaJ0SNY7soEsUEjb6gQ=="
#define SCRAM_ITERATIONS 4096

typedef struct {
    const EVP_MD *md;
    const char *mech; /* as on the AUTH line */
    const char *gs2;  /* the gs2 header the client must send */
    p3s *srv;         /* for tls-exporter data when gs2 is p=tls-exporter */
    /* server-first not extending the client nonce; v= one bit off; +OK, no v= */
    int foreign_nonce, wrong_signature, no_signature;
    int iterations; /* 0: SCRAM_ITERATIONS */
    char first_bare[256], server_first[512], nonce[128];
    int proof_ok;
} scram_srv;

/* SCRAM-SHA-1 (sha1) or SCRAM-SHA-256 expecting this gs2 header; srv gives the
 * tls-exporter data for "p=tls-exporter,,". */
void scram_init(scram_srv *sc, int sha1, const char *gs2, p3s *srv);
/* p3s_respond steps, arg the scram_srv: client-first in, server-first out;
 * then client-final in (proof checked as a server does), server-final out. */
char *scram_first(const char *line, size_t len, void *arg);
char *scram_final(const char *line, size_t len, void *arg);

#endif
