/*
 * Base64 (RFC 4648 section 4) for SASL (RFC 5034 section 4 carries every
 * challenge and response base64-encoded). The transform itself is OpenSSL's
 * EVP_EncodeBlock/EVP_DecodeBlock; this file only adds the strictness that
 * EVP_DecodeBlock lacks and keeps its int-sized arguments in range.
 */
#include "base64.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "alloc.h"

/* Whole 3-byte groups per EVP_EncodeBlock call and whole 4-char quanta per
 * EVP_DecodeBlock call: far below INT_MAX, so the int casts are safe. */
#define ENCODE_CHUNK (3u * 16384u)
#define DECODE_CHUNK (4u * 16384u)

char *pop3a_b64_encode(const unsigned char *in, size_t len, size_t *out_len)
{
    if (in == NULL && len > 0)
        return NULL;
    size_t groups = len / 3 + (len % 3 != 0);
    if (groups > (SIZE_MAX - 1) / 4)
        return NULL;
    size_t cap = groups * 4 + 1; /* + the NUL EVP_EncodeBlock writes */
    char *out = pop3a_malloc(cap);     /* owner: the caller */
    if (out == NULL)
        return NULL;

    size_t done = 0, written = 0;
    while (done < len) {
        size_t n = len - done < ENCODE_CHUNK ? len - done : ENCODE_CHUNK;
        int w = EVP_EncodeBlock((unsigned char *)out + written, in + done, (int)n);
        if (w < 0) {
            pop3a_free(out);
            return NULL;
        }
        done += n;
        written += (size_t)w;
    }
    out[written] = '\0';
    if (out_len != NULL)
        *out_len = written;
    return out;
}

/* The 6-bit value of a base64 alphabet character, or -1 (RFC 4648 table 1). */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/*
 * EVP_DecodeBlock skips leading and trailing white space and reads '=' as a
 * zero digit anywhere, so the input is checked here first: only alphabet
 * characters, a length that is a multiple of 4, at most two '=' and only at the
 * very end, and zero pad bits (RFC 4648 section 3.5 lets a decoder reject
 * non-canonical encodings; every real encoder emits zeros). Returns the number
 * of '=' characters, or -1.
 */
static int b64_check(const char *in, size_t len)
{
    if (len % 4 != 0)
        return -1;
    if (len == 0)
        return 0;
    int pad = 0;
    if (in[len - 1] == '=')
        pad = in[len - 2] == '=' ? 2 : 1;
    for (size_t i = 0; i < len - (size_t)pad; i++) {
        if (b64_value((unsigned char)in[i]) < 0)
            return -1;
    }
    /* The last data character's unused low bits must be zero. */
    int last = b64_value((unsigned char)in[len - 1 - (size_t)pad]);
    if ((pad == 1 && (last & 0x03) != 0) || (pad == 2 && (last & 0x0f) != 0))
        return -1;
    return pad;
}

int pop3a_b64_valid(const char *in, size_t len)
{
    return (in != NULL || len == 0) && b64_check(in, len) >= 0;
}

unsigned char *pop3a_b64_decode(const char *in, size_t len, size_t *out_len)
{
    if (in == NULL && len > 0)
        return NULL;
    int pad = b64_check(in, len);
    if (pad < 0)
        return NULL;
    unsigned char *out = pop3a_malloc(len / 4 * 3 + 1); /* owner: the caller */
    if (out == NULL)
        return NULL;

    size_t done = 0, written = 0;
    while (done < len) {
        size_t n = len - done < DECODE_CHUNK ? len - done : DECODE_CHUNK;
        int w = EVP_DecodeBlock(out + written, (const unsigned char *)in + done, (int)n);
        if (w < 0 || (size_t)w != n / 4 * 3) {
            pop3a_free(out);
            return NULL;
        }
        done += n;
        written += (size_t)w;
    }
    /* EVP_DecodeBlock counts each '=' as a decoded zero byte; drop them. */
    written -= (size_t)pad;
    out[written] = '\0';
    if (out_len != NULL)
        *out_len = written;
    return out;
}
