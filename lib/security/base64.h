/* Base64 (RFC 4648) over OpenSSL's EVP encoder, for SASL. */
#ifndef POP3A_BASE64_H
#define POP3A_BASE64_H

#include <stddef.h>

/* Returns a malloc'd NUL-terminated encoding (length in *out_len), or NULL. */
char *pop3a_b64_encode(const unsigned char *in, size_t len, size_t *out_len);
/* Strict decode: whitespace is not allowed, padding must be right. Returns a
 * malloc'd buffer (NUL-terminated for convenience, length in *out_len), or NULL on
 * bad input / out of memory. An empty input decodes to an empty buffer. */
unsigned char *pop3a_b64_decode(const char *in, size_t len, size_t *out_len);
/* 1 when pop3a_b64_decode accepts `in`: after a NULL from it, tells out of
 * memory (1) from bad input (0). */
int pop3a_b64_valid(const char *in, size_t len);

#endif
