/* APOP (RFC 1939 section 7): MD5 over the greeting's timestamp and the secret. */
#ifndef POP3A_APOP_H
#define POP3A_APOP_H

#include <stddef.h>

/* Finds the "<...@...>" timestamp in a greeting's text. Only that form counts:
 * from a '<' to the first '>' after it, 5..255 characters in all, only 0x21..0x7E
 * inside, no other '<', an '@' with something on both sides; so a server cannot
 * make us hash arbitrary text. The first such candidate wins. Returns 0 and sets
 * ts/ts_len (ts points into text), or -1 with ts/ts_len untouched. */
int pop3a_apop_find_timestamp(const char *text, size_t len, const char **ts, size_t *ts_len);
/* hex: 33 bytes, lower-case MD5(timestamp || secret) + NUL (RFC 1939 s7), through
 * OpenSSL EVP. Returns 0, -2 when OpenSSL had no memory for the digest, or -1 on
 * a NULL argument or another crypto failure (e.g. MD5 unavailable under a
 * FIPS-only provider configuration). */
int pop3a_apop_digest(const char *timestamp, size_t ts_len, const char *secret, char hex[33]);

#endif
