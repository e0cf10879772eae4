/*
 * The SCRAM-SHA-256 client of tools/bench/floor (RFC 5802, RFC 7677): the three
 * messages of the exchange as base64 text, ready for the lines of POP3's AUTH
 * command (RFC 5034). The caller does the socket I/O. No channel binding ("n,,"),
 * and no SASLprep: see floor_scram.c.
 */
#ifndef POP3A_FLOOR_SCRAM_H
#define POP3A_FLOOR_SCRAM_H

#include <stddef.h>

#define FLOOR_SCRAM_TEXT_MAX 1024u /* longest SCRAM message either side may send */
#define FLOOR_SCRAM_NONCE_LEN 24u  /* 18 random bytes in base64 */
#define FLOOR_SCRAM_HASH_LEN 32u   /* SHA-256 */

struct floor_scram {
    char nonce[FLOOR_SCRAM_NONCE_LEN + 1];
    char client_first_bare[FLOOR_SCRAM_TEXT_MAX]; /* part of the AuthMessage */
    unsigned char server_signature[FLOOR_SCRAM_HASH_LEN]; /* the v= to expect */
};

/* Every function returns 0, or -1 after a message on stderr. `out` receives
 * NUL-terminated base64 text. */

/* client-first-message ("n,,n=USER,r=NONCE"), the AUTH initial response. */
int floor_scram_first(struct floor_scram *sc, const char *user, char *out, size_t cap);

/* client-final-message, answering the server-first-message (base64 text of the
 * challenge); computes the server signature to expect as well. */
int floor_scram_final(struct floor_scram *sc, const char *password,
                      const char *server_first_b64, char *out, size_t cap);

/* Checks the server-final-message (base64 text of the last challenge): -1 unless
 * it is "v=" with the expected signature. */
int floor_scram_verify(const struct floor_scram *sc, const char *server_final_b64);

#endif
