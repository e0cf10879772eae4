/* The SASL server side of the session and torture tests (sasl_server.h). */
#include "sasl_server.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>

char *sasl_srv_b64(const void *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    ck_assert_ptr_nonnull(out);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

/* Decodes into out (NUL-terminated); the decoded length, or -1. */
int sasl_srv_unb64(const char *in, size_t len, unsigned char *out, size_t cap)
{
    if (len % 4 != 0 || len / 4 * 3 + 1 > cap)
        return -1;
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
    if (n < 0)
        return -1;
    for (size_t i = len; i > 0 && in[i - 1] == '='; i--)
        n--; /* EVP_DecodeBlock counts the padding as zero bytes */
    out[n] = '\0';
    return n;
}

/* "+ " base64(text) CRLF, malloc'd, as p3s_respond wants it. */
char *sasl_srv_challenge(const char *text)
{
    char *enc = sasl_srv_b64(text, strlen(text));
    char *line = malloc(strlen(enc) + 5);
    ck_assert_ptr_nonnull(line);
    sprintf(line, "+ %s\r\n", enc);
    free(enc);
    return line;
}

/* ------------------------------------------------- SCRAM, server side */


static void hmac(const scram_srv *sc, const void *key, size_t klen, const char *msg,
                 unsigned char *out)
{
    unsigned int n = 0;
    ck_assert_ptr_nonnull(
        HMAC(sc->md, key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &n));
}

/* client-first "gs2 n=user,r=CNONCE" in, server-first out. */
char *scram_first(const char *line, size_t len, void *arg)
{
    scram_srv *sc = arg;
    char want[64];
    unsigned char msg[512];
    snprintf(want, sizeof want, "AUTH %s ", sc->mech);
    size_t wl = strlen(want);
    if (len <= wl || memcmp(line, want, wl) != 0 || sasl_srv_unb64(line + wl, len - wl, msg, sizeof msg) < 0)
        return NULL;
    size_t gl = strlen(sc->gs2);
    const char *bare = (const char *)msg + gl, *r = strstr(bare, ",r=");
    if (strncmp((char *)msg, sc->gs2, gl) != 0 || strncmp(bare, "n=", 2) != 0 || !r)
        return NULL;
    snprintf(sc->first_bare, sizeof sc->first_bare, "%s", bare);
    snprintf(sc->nonce, sizeof sc->nonce, "%s%s", sc->foreign_nonce ? "x" : "", r + 3);
    strcat(sc->nonce, "3rfcNHYJY1ZVvWVs7j");
    snprintf(sc->server_first, sizeof sc->server_first, "r=%s,s=%s,i=%d", sc->nonce, SCRAM_SALT,
             sc->iterations ? sc->iterations : SCRAM_ITERATIONS);
    return sasl_srv_challenge(sc->server_first);
}

/* c= is base64(gs2 header + channel binding data), RFC 5802 section 7. */
static char *expected_cbind(const scram_srv *sc)
{
    unsigned char raw[128];
    size_t n = strlen(sc->gs2);
    memcpy(raw, sc->gs2, n);
    if (strcmp(sc->gs2, "p=tls-exporter,,") == 0) {
        /* RFC 9266 section 2 */
        const char label[] = "EXPORTER-Channel-Binding";
        ck_assert_int_eq(SSL_export_keying_material(p3s_tls_ssl(sc->srv), raw + n, 32, label,
                                                    sizeof label - 1, NULL, 0, 0),
                         1);
        n += 32;
    }
    return sasl_srv_b64(raw, n);
}

/* What a server knows (RFC 5802 section 3): SaltedPassword and StoredKey. */
static void scram_keys(const scram_srv *sc, unsigned char *salted, unsigned char *stored)
{
    unsigned char salt[64], client_key[64];
    size_t h = (size_t)EVP_MD_get_size(sc->md);
    int salt_len = sasl_srv_unb64(SCRAM_SALT, strlen(SCRAM_SALT), salt, sizeof salt);
    ck_assert_int_eq(PKCS5_PBKDF2_HMAC(SASL_SRV_SECRET, (int)strlen(SASL_SRV_SECRET), salt, salt_len,
                                       sc->iterations ? sc->iterations : SCRAM_ITERATIONS,
                                       sc->md, (int)h, salted),
                     1);
    hmac(sc, salted, h, "Client Key", client_key);
    ck_assert_int_eq(EVP_Digest(client_key, h, stored, NULL, sc->md, NULL), 1);
}

/* client-final "c=..,r=..,p=PROOF" in: the proof is checked as a server does
 * (H(ClientProof XOR ClientSignature) == StoredKey), then v= ServerSignature. */
char *scram_final(const char *line, size_t len, void *arg)
{
    scram_srv *sc = arg;
    unsigned char msg[512], proof[64], salted[64], stored[64], sig[64], server_key[64];
    size_t h = (size_t)EVP_MD_get_size(sc->md);
    char *p = sasl_srv_unb64(line, len, msg, sizeof msg) < 0 ? NULL : strstr((char *)msg, ",p=");
    char *cbind = expected_cbind(sc), prefix[600], auth_message[1600], final[128];
    snprintf(prefix, sizeof prefix, "c=%s,r=%s", cbind, sc->nonce);
    free(cbind);
    if (!p || (size_t)(p - (char *)msg) != strlen(prefix) ||
        strncmp((char *)msg, prefix, strlen(prefix)) != 0 ||
        sasl_srv_unb64(p + 3, strlen(p + 3), proof, sizeof proof) != (int)h)
        return NULL;
    *p = '\0';
    snprintf(auth_message, sizeof auth_message, "%s,%s,%s", sc->first_bare, sc->server_first,
             (char *)msg);
    scram_keys(sc, salted, stored);
    hmac(sc, stored, h, auth_message, sig); /* ClientSignature */
    for (size_t i = 0; i < h; i++)
        proof[i] ^= sig[i]; /* now the ClientKey the client claims */
    ck_assert_int_eq(EVP_Digest(proof, h, sig, NULL, sc->md, NULL), 1);
    sc->proof_ok = memcmp(sig, stored, h) == 0;
    if (!sc->proof_ok)
        return strdup("-ERR [AUTH] Authentication failed.\r\n");
    if (sc->no_signature)
        return strdup("+OK Logged in.\r\n");
    hmac(sc, salted, h, "Server Key", server_key);
    hmac(sc, server_key, h, auth_message, sig); /* ServerSignature */
    sig[0] ^= (unsigned char)sc->wrong_signature;
    char *enc = sasl_srv_b64(sig, h);
    snprintf(final, sizeof final, "v=%s", enc);
    free(enc);
    return sasl_srv_challenge(final);
}

void scram_init(scram_srv *sc, int sha1, const char *gs2, p3s *srv)
{
    memset(sc, 0, sizeof *sc);
    sc->md = sha1 ? EVP_sha1() : EVP_sha256();
    sc->mech = sha1 ? "SCRAM-SHA-1" : "SCRAM-SHA-256";
    sc->gs2 = gs2;
    sc->srv = srv;
}
