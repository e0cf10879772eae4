/*
 * Fuzzer for the SASL side (lib/base64.c, lib/security/sasl.c, lib/security/sasl_scram.c): what
 * a server sends during AUTH (RFC 5034), decoded and answered.
 *
 * Checks, besides "no crash, no leak":
 *  - base64: the strict decoder accepts exactly what a reference decoder here
 *    accepts (RFC 4648 alphabet, whole quanta, canonical padding and pad bits)
 *    and yields the same bytes; whatever it accepts re-encodes to the input;
 *    any bytes encode and decode back to themselves.
 *  - SCRAM (RFC 5802): after a fixed client-first, the fuzzer's server-first
 *    goes to pop3a_sasl_step. When it is accepted, the client-final proof is
 *    recomputed here from the RFC's formulas and must match; then either the
 *    correct server-final (computed here, followed by the fuzzer's extension
 *    bytes) or the fuzzer's own server-final is fed, and success must equal
 *    "the signature is right and what follows is an extension".
 *  - CRAM-MD5 (RFC 2195): the answer is "user " + hex HMAC-MD5 of the challenge.
 *  - LOGIN: every answer is the user name or the password; a third challenge
 *    fails.
 *  - XOAUTH2 / OAUTHBEARER (RFC 7628): the server's error challenge ends up in
 *    pop3a_sasl_error without control characters.
 *
 * Input: [mode][frames...], a frame = [2-byte big-endian length][bytes].
 * mode % 7 picks the part (base64, SCRAM-SHA-1, SCRAM-SHA-256, CRAM-MD5, LOGIN,
 * XOAUTH2, OAUTHBEARER); (mode / 7) & 1 feeds SCRAM the correct server-final.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base64.h"
#include "fuzz_common.h"
#include "pop3async/pop3async.h"
#include "sasl.h"

#define USER "user"
#define PASSWORD "pencil"
/* RFC 5802 section 5's example nonce, fixed so the fuzzer can extend it. */
#define CNONCE "fyko+d2lbbFgONRv9qkxdawL"
#define MAX_FUZZ_ITERATIONS 4096u

static void take_frame(fuzz_input *in, const uint8_t **p, size_t *n)
{
    size_t want = (size_t)fuzz_byte(in, 0) << 8;
    want |= fuzz_byte(in, 0);
    if (want > in->len)
        want = in->len;
    *p = in->p;
    *n = want;
    in->p += want;
    in->len -= want;
}

/* ---------------------------------------------------------------- base64 */

static int b64_val(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Strict RFC 4648 decode; returns the length, or -1. out has room for len. */
static long ref_b64_decode(const uint8_t *in, size_t len, uint8_t *out)
{
    if (len % 4 != 0)
        return -1;
    size_t w = 0;
    for (size_t q = 0; q < len; q += 4) {
        int last = q + 4 == len;
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            if (in[q + k] == '=') {
                /* Padding only at the very end, as "x=" or "==" in the last quantum. */
                if (!last || k < 2)
                    return -1;
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad > 0)
                return -1; /* data after '=' */
            if ((v[k] = b64_val(in[q + k])) < 0)
                return -1;
        }
        uint32_t bits = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
                        (uint32_t)v[3];
        if ((pad == 1 && (bits & 0xff)) || (pad == 2 && (bits & 0xffff)))
            return -1; /* non-zero pad bits: not canonical */
        out[w++] = (uint8_t)(bits >> 16);
        if (pad < 2)
            out[w++] = (uint8_t)(bits >> 8);
        if (pad < 1)
            out[w++] = (uint8_t)bits;
    }
    return (long)w;
}

static void check_base64(const uint8_t *in, size_t len)
{
    uint8_t *want = malloc(len + 1);
    if (!want)
        return;
    long wn = ref_b64_decode(in, len, want);
    size_t gn = 0;
    unsigned char *got = pop3a_b64_decode((const char *)in, len, &gn);
    FUZZ_CHECK((got != NULL) == (wn >= 0), "decode: library %s, reference %s",
               got ? "accepts" : "rejects", wn >= 0 ? "accepts" : "rejects");
    if (got) {
        FUZZ_CHECK(gn == (size_t)wn && memcmp(got, want, gn) == 0, "decoded bytes differ");
        FUZZ_CHECK(got[gn] == '\0', "decoded buffer not NUL-terminated");
        size_t en = 0;
        char *again = pop3a_b64_encode(got, gn, &en);
        FUZZ_CHECK(again && en == len && memcmp(again, in, len) == 0,
                   "accepted input does not re-encode to itself");
        free(again);
        free(got);
    }
    free(want);

    size_t en = 0;
    char *enc = pop3a_b64_encode(in, len, &en);
    FUZZ_CHECK(enc != NULL, "encode failed");
    FUZZ_CHECK(en == (len + 2) / 3 * 4 && strlen(enc) == en, "encoded length %zu for %zu", en,
               len);
    size_t dn = 0;
    unsigned char *dec = pop3a_b64_decode(enc, en, &dn);
    FUZZ_CHECK(dec && dn == len && (len == 0 || memcmp(dec, in, len) == 0),
               "encode/decode round trip");
    free(dec);
    free(enc);
}

/* ------------------------------------------------------------------ SCRAM */

typedef struct {
    const EVP_MD *md;
    size_t hlen;
    unsigned char server_sig[EVP_MAX_MD_SIZE];
} scram_expect;

/* "X=" attribute value in a comma-separated message, or NULL. */
static const char *attr(const char *msg, char name, size_t *len)
{
    for (const char *p = msg; p && *p;) {
        const char *comma = strchr(p, ',');
        if (p[0] == name && p[1] == '=') {
            *len = comma ? (size_t)(comma - p - 2) : strlen(p + 2);
            return p + 2;
        }
        p = comma ? comma + 1 : NULL;
    }
    return NULL;
}

/* Skips server-first messages whose iteration count would make one run take
 * a noticeable time (the library accepts up to a million). */
static int too_many_iterations(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (p[i] != 'i' || p[i + 1] != '=')
            continue;
        unsigned long v = 0;
        for (size_t k = i + 2; k < n && p[k] >= '0' && p[k] <= '9'; k++) {
            v = v * 10 + (unsigned long)(p[k] - '0');
            if (v > MAX_FUZZ_ITERATIONS)
                return 1;
        }
    }
    return 0;
}

static void hmac(const EVP_MD *md, const unsigned char *key, size_t klen, const void *data,
                 size_t dlen, unsigned char *out)
{
    unsigned int n = 0;
    FUZZ_CHECK(HMAC(md, key, (int)klen, data, dlen, out, &n) != NULL, "HMAC failed");
}

/* RFC 5802 section 3, recomputed from the exchanged messages: checks the
 * client's proof and fills the expected server signature. */
static void scram_verify_client_final(scram_expect *x, const char *client_first,
                                      const char *server_first, const char *client_final)
{
    size_t rlen = 0, slen = 0, ilen = 0, plen = 0, crlen = 0;
    const char *r = attr(server_first, 'r', &rlen);
    const char *s = attr(server_first, 's', &slen);
    const char *it = attr(server_first, 'i', &ilen);
    FUZZ_CHECK(r && s && it, "accepted server-first lacks r, s or i");
    FUZZ_CHECK(strncmp(client_first, "n,,", 3) == 0, "gs2 header is not \"n,,\"");
    const char *bare = client_first + 3;
    const char *proof = strstr(client_final, ",p=");
    FUZZ_CHECK(proof != NULL, "client-final has no proof");
    FUZZ_CHECK(strncmp(client_final, "c=biws,", 7) == 0, "channel binding is not c=biws");
    const char *cr = attr(client_final, 'r', &crlen);
    FUZZ_CHECK(cr && crlen == rlen && memcmp(cr, r, rlen) == 0,
               "client-final nonce is not the server's");

    unsigned long iters = 0;
    for (size_t i = 0; i < ilen; i++)
        iters = iters * 10 + (unsigned long)(it[i] - '0');
    size_t salt_len = 0;
    unsigned char *salt = pop3a_b64_decode(s, slen, &salt_len);
    FUZZ_CHECK(salt != NULL, "accepted salt is not base64");

    unsigned char salted[EVP_MAX_MD_SIZE], ckey[EVP_MAX_MD_SIZE], stored[EVP_MAX_MD_SIZE],
        csig[EVP_MAX_MD_SIZE], skey[EVP_MAX_MD_SIZE];
    FUZZ_CHECK(PKCS5_PBKDF2_HMAC(PASSWORD, (int)strlen(PASSWORD), salt, (int)salt_len,
                                 (int)iters, x->md, (int)x->hlen, salted) == 1,
               "PBKDF2 failed");
    free(salt);
    hmac(x->md, salted, x->hlen, "Client Key", 10, ckey);
    unsigned int dl = 0;
    EVP_Digest(ckey, x->hlen, stored, &dl, x->md, NULL);
    hmac(x->md, salted, x->hlen, "Server Key", 10, skey);

    size_t without_proof = (size_t)(proof - client_final);
    size_t am_len = strlen(bare) + 1 + strlen(server_first) + 1 + without_proof;
    char *am = malloc(am_len + 1);
    FUZZ_CHECK(am != NULL, "out of memory");
    snprintf(am, am_len + 1, "%s,%s,%.*s", bare, server_first, (int)without_proof, client_final);
    hmac(x->md, stored, x->hlen, am, am_len, csig);
    hmac(x->md, skey, x->hlen, am, am_len, x->server_sig);
    free(am);

    unsigned char want_proof[EVP_MAX_MD_SIZE];
    for (size_t i = 0; i < x->hlen; i++)
        want_proof[i] = ckey[i] ^ csig[i];
    const char *pv = attr(proof + 1, 'p', &plen);
    size_t got_len = 0;
    unsigned char *got = pop3a_b64_decode(pv, plen, &got_len);
    FUZZ_CHECK(got && got_len == x->hlen && memcmp(got, want_proof, x->hlen) == 0,
               "client proof differs from RFC 5802's formula");
    free(got);
}

static char *cstr(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    FUZZ_CHECK(s != NULL, "out of memory");
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static void fuzz_scram(unsigned mech, uint8_t flags, fuzz_input *in)
{
    const uint8_t *sf, *fin;
    size_t sf_len, fin_len;
    take_frame(in, &sf, &sf_len);
    take_frame(in, &fin, &fin_len);
    if (too_many_iterations(sf, sf_len))
        return;
    scram_expect x;
    x.md = mech == POP3A_MECH_SCRAM_SHA_1 ? EVP_sha1() : EVP_sha256();
    x.hlen = (size_t)EVP_MD_get_size(x.md);

    pop3a_sasl *s = pop3a_sasl_new(mech, USER, PASSWORD, NULL, CNONCE);
    FUZZ_CHECK(s != NULL, "sasl_new");
    unsigned char *first = NULL, *final = NULL, *empty = NULL;
    size_t first_len = 0, final_len = 0, empty_len = 0;
    FUZZ_CHECK(pop3a_sasl_start(s, &first, &first_len) == POP3A_SASL_CONTINUE, "start");
    pop3a_sasl_rc rc = pop3a_sasl_step(s, sf, sf_len, &final, &final_len);
    if (rc != POP3A_SASL_CONTINUE) {
        FUZZ_CHECK(rc == POP3A_SASL_ERROR && final == NULL, "bad server-first gave rc %d", rc);
        FUZZ_CHECK(pop3a_sasl_finish(s) != 0, "finish succeeded after a failed step");
        goto out;
    }
    char *cf = cstr(first, first_len), *sfs = cstr(sf, sf_len), *cfin = cstr(final, final_len);
    FUZZ_CHECK(strlen(sfs) == sf_len, "server-first with NUL accepted");
    scram_verify_client_final(&x, cf, sfs, cfin);
    free(cf);
    free(sfs);
    free(cfin);
    FUZZ_CHECK(pop3a_sasl_finish(s) != 0, "finish succeeded before the server's proof");

    /* The server-final: correct signature + fuzzer's bytes, or the fuzzer's own. */
    size_t sig_b64_len = 0;
    char *sig_b64 = pop3a_b64_encode(x.server_sig, x.hlen, &sig_b64_len);
    FUZZ_CHECK(sig_b64 != NULL, "encode");
    int good;
    unsigned char *msg;
    size_t msg_len;
    if (flags & 1) {
        msg_len = 2 + sig_b64_len + fin_len;
        msg = malloc(msg_len ? msg_len : 1);
        FUZZ_CHECK(msg != NULL, "out of memory");
        memcpy(msg, "v=", 2);
        memcpy(msg + 2, sig_b64, sig_b64_len);
        if (fin_len)
            memcpy(msg + 2 + sig_b64_len, fin, fin_len);
        /* RFC 5802 s7: extensions follow a comma; no NUL anywhere. */
        good = (fin_len == 0 || fin[0] == ',') && (fin_len == 0 || !memchr(fin, 0, fin_len));
    } else {
        msg_len = fin_len;
        msg = malloc(msg_len ? msg_len : 1);
        FUZZ_CHECK(msg != NULL, "out of memory");
        if (fin_len)
            memcpy(msg, fin, fin_len);
        size_t vlen = 0;
        char *m = cstr(fin, fin_len);
        const char *v = strncmp(m, "v=", 2) == 0 ? attr(m, 'v', &vlen) : NULL;
        good = v != NULL && strlen(m) == fin_len && vlen == sig_b64_len &&
               memcmp(v, sig_b64, vlen) == 0;
        free(m);
    }
    rc = pop3a_sasl_step(s, msg, msg_len, &empty, &empty_len);
    FUZZ_CHECK((rc == POP3A_SASL_CONTINUE) == good, "server-final %s but rc %d",
               good ? "is right" : "is wrong", rc);
    if (good)
        FUZZ_CHECK(empty_len == 0 && pop3a_sasl_finish(s) == 0, "verified exchange not finished");
    else
        FUZZ_CHECK(pop3a_sasl_finish(s) != 0, "finish succeeded with a wrong server-final");
    free(msg);
    free(sig_b64);
out:
    pop3a_sasl_response_free(first, first_len);
    pop3a_sasl_response_free(final, final_len);
    pop3a_sasl_response_free(empty, empty_len);
    pop3a_sasl_free(s);
}

/* --------------------------------------------------- the other mechanisms */

static void fuzz_cram_md5(fuzz_input *in)
{
    const uint8_t *ch;
    size_t n;
    take_frame(in, &ch, &n);
    pop3a_sasl *s = pop3a_sasl_new(POP3A_MECH_CRAM_MD5, USER, PASSWORD, NULL, NULL);
    FUZZ_CHECK(s != NULL, "sasl_new");
    unsigned char *out = NULL;
    size_t out_len = 0;
    pop3a_sasl_rc rc = pop3a_sasl_step(s, ch, n, &out, &out_len);
    if (n == 0) {
        FUZZ_CHECK(rc == POP3A_SASL_ERROR, "empty CRAM-MD5 challenge accepted");
    } else {
        FUZZ_CHECK(rc == POP3A_SASL_CONTINUE, "CRAM-MD5 challenge refused");
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int ml = 0;
        HMAC(EVP_md5(), PASSWORD, (int)strlen(PASSWORD), ch, n, mac, &ml);
        char want[64];
        int w = snprintf(want, sizeof want, "%s ", USER);
        for (unsigned i = 0; i < ml; i++)
            w += snprintf(want + w, sizeof want - (size_t)w, "%02x", mac[i]);
        FUZZ_CHECK(out_len == (size_t)w && memcmp(out, want, out_len) == 0,
                   "CRAM-MD5 answer differs from RFC 2195");
        FUZZ_CHECK(pop3a_sasl_finish(s) == 0, "CRAM-MD5 not complete");
        unsigned char *again = NULL;
        size_t again_len = 0;
        FUZZ_CHECK(pop3a_sasl_step(s, ch, n, &again, &again_len) == POP3A_SASL_ERROR,
                   "second CRAM-MD5 challenge accepted");
    }
    pop3a_sasl_response_free(out, out_len);
    pop3a_sasl_free(s);
}

static void fuzz_login(fuzz_input *in)
{
    pop3a_sasl *s = pop3a_sasl_new(POP3A_MECH_LOGIN, USER, PASSWORD, NULL, NULL);
    FUZZ_CHECK(s != NULL, "sasl_new");
    for (int step = 0; step < 3; step++) {
        const uint8_t *ch;
        size_t n;
        take_frame(in, &ch, &n);
        unsigned char *out = NULL;
        size_t out_len = 0;
        pop3a_sasl_rc rc = pop3a_sasl_step(s, ch, n, &out, &out_len);
        if (step == 2) {
            FUZZ_CHECK(rc == POP3A_SASL_ERROR, "third LOGIN challenge accepted");
        } else {
            FUZZ_CHECK(rc == POP3A_SASL_CONTINUE, "LOGIN challenge refused");
            int is_user = out_len == strlen(USER) && memcmp(out, USER, out_len) == 0;
            int is_pass = out_len == strlen(PASSWORD) && memcmp(out, PASSWORD, out_len) == 0;
            FUZZ_CHECK(is_user || is_pass, "LOGIN answered neither user nor password");
        }
        pop3a_sasl_response_free(out, out_len);
    }
    pop3a_sasl_free(s);
}

static void fuzz_oauth(unsigned mech, fuzz_input *in)
{
    const uint8_t *ch;
    size_t n;
    take_frame(in, &ch, &n);
    pop3a_sasl *s = pop3a_sasl_new(mech, USER, "token-abc", NULL, NULL);
    FUZZ_CHECK(s != NULL, "sasl_new");
    unsigned char *ir = NULL, *out = NULL;
    size_t ir_len = 0, out_len = 0;
    FUZZ_CHECK(pop3a_sasl_start(s, &ir, &ir_len) == POP3A_SASL_CONTINUE, "start");
    pop3a_sasl_rc rc = pop3a_sasl_step(s, ch, n, &out, &out_len);
    FUZZ_CHECK(rc == POP3A_SASL_CONTINUE, "OAuth error challenge not answered");
    const char *err = pop3a_sasl_error(s);
    for (const char *p = err; *p; p++)
        FUZZ_CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p != 0x7f,
                   "control character in the recorded server error");
    FUZZ_CHECK(pop3a_sasl_finish(s) != 0, "OAuth error challenge counted as success");
    pop3a_sasl_response_free(ir, ir_len);
    pop3a_sasl_response_free(out, out_len);
    pop3a_sasl_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    uint8_t mode = fuzz_byte(&in, 0);
    switch (mode % 7) {
    case 0:
        check_base64(in.p ? in.p : (const uint8_t *)"", in.len);
        break;
    case 1:
        fuzz_scram(POP3A_MECH_SCRAM_SHA_1, (uint8_t)(mode / 7), &in);
        break;
    case 2:
        fuzz_scram(POP3A_MECH_SCRAM_SHA_256, (uint8_t)(mode / 7), &in);
        break;
    case 3:
        fuzz_cram_md5(&in);
        break;
    case 4:
        fuzz_login(&in);
        break;
    case 5:
        fuzz_oauth(POP3A_MECH_XOAUTH2, &in);
        break;
    default:
        fuzz_oauth(POP3A_MECH_OAUTHBEARER, &in);
        break;
    }
    return 0;
}
