/*
 * APOP (RFC 1939 s7): the client proves the secret by sending
 * MD5(timestamp || secret) in lower-case hex, where the timestamp is the
 * "<...@...>" msg-id the server put in its greeting.
 */
#include "apop.h"

#include <string.h>

#include <openssl/evp.h>

#include "alloc.h"

/* The timestamp is an RFC 822 msg-id; no real one comes near this, and a cap
 * keeps a hostile greeting from choosing what we hash at any length. */
#define TIMESTAMP_MAX 255

static int printable_no_space(unsigned char c)
{
    return c >= 0x21 && c <= 0x7E;
}

/* len bytes from '<' to '>' inclusive: is it "<local@domain>" with nothing odd? */
static int timestamp_valid(const char *ts, size_t len)
{
    const char *at;

    if (len < 5 || len > TIMESTAMP_MAX) /* "<a@b>" is the shortest */
        return 0;
    for (size_t i = 1; i + 1 < len; i++) {
        unsigned char c = (unsigned char)ts[i];
        if (!printable_no_space(c) || c == '<')
            return 0;
    }
    /* An '@' with something on both sides: the msg-id form (RFC 822 s4.6.1). */
    at = memchr(ts + 1, '@', len - 2);
    return at != NULL && at != ts + 1 && at != ts + len - 2;
}

int pop3a_apop_find_timestamp(const char *text, size_t len, const char **ts, size_t *ts_len)
{
    const char *end;
    const char *open;

    if (text == NULL)
        return -1;
    end = text + len;
    /* Each '<' starts a candidate that ends at the first '>' after it; the first
     * well-formed one is the timestamp ("+OK POP3 server ready <1896.697170952@dbc>"). */
    for (open = memchr(text, '<', len); open != NULL;
         open = memchr(open + 1, '<', (size_t)(end - open - 1))) {
        const char *close = memchr(open, '>', (size_t)(end - open));
        if (close == NULL)
            return -1; /* no '>' after this '<', so none after a later one either */
        if (timestamp_valid(open, (size_t)(close - open) + 1)) {
            *ts = open;
            *ts_len = (size_t)(close - open) + 1;
            return 0;
        }
    }
    return -1;
}

static void to_hex(const unsigned char *bin, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[bin[i] >> 4];
        hex[2 * i + 1] = digits[bin[i] & 0x0F];
    }
    hex[2 * n] = '\0';
}

/* MD5 over the two parts fed in turn, so the secret is never copied into a
 * buffer we would have to wipe. */
static int md5_two_parts(const char *a, size_t a_len, const char *b, size_t b_len,
                         unsigned char out[16])
{
    EVP_MD *md = EVP_MD_fetch(NULL, "MD5", NULL); /* NULL in a FIPS-only setup */
    EVP_MD_CTX *ctx = POP3A_MAY_FAIL(EVP_MD_CTX_new(), NULL);
    unsigned int out_len = 0;
    int ok = md != NULL && ctx != NULL && EVP_DigestInit_ex2(ctx, md, NULL) == 1 &&
             EVP_DigestUpdate(ctx, a, a_len) == 1 && EVP_DigestUpdate(ctx, b, b_len) == 1 &&
             EVP_DigestFinal_ex(ctx, out, &out_len) == 1 && out_len == 16;
    /* Without a context MD5 may well be there: that is out of memory. */
    int rc = ok ? 0 : md != NULL && ctx == NULL ? -2 : -1;

    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    return rc;
}

int pop3a_apop_digest(const char *timestamp, size_t ts_len, const char *secret, char hex[33])
{
    unsigned char bin[16];

    if (timestamp == NULL || secret == NULL || hex == NULL)
        return -1;
    int rc = md5_two_parts(timestamp, ts_len, secret, strlen(secret), bin);
    if (rc != 0)
        return rc;
    to_hex(bin, sizeof bin, hex);
    return 0;
}
