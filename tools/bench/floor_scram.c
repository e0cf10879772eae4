/*
 * SCRAM-SHA-256 for the floor (see floor_scram.h), on OpenSSL 3:
 *
 *   C: n,,n=USER,r=CNONCE                    client-first (gs2 header "n,,": no binding)
 *   S: r=CNONCE+SNONCE,s=SALT,i=ITERATIONS   server-first
 *   C: c=biws,r=CNONCE+SNONCE,p=PROOF        client-final ("biws" = base64 "n,,")
 *   S: v=SERVER-SIGNATURE                    server-final
 *
 * RFC 5802 section 3: SaltedPassword = Hi(password, salt, i) (PBKDF2-HMAC),
 * ClientKey = HMAC(SaltedPassword, "Client Key"), StoredKey = H(ClientKey),
 * AuthMessage = client-first-bare "," server-first "," client-final-without-proof,
 * ClientProof = ClientKey XOR HMAC(StoredKey, AuthMessage),
 * ServerSignature = HMAC(HMAC(SaltedPassword, "Server Key"), AuthMessage).
 *
 * SASLprep (RFC 4013) is skipped on purpose: the bench's users and passwords are
 * plain ASCII, for which it changes nothing. The user name is still escaped as an
 * RFC 5802 saslname (',' and '=').
 */
#include "floor_scram.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define SALT_MAX 256u
#define ITERATIONS_MAX 10000000ul /* anything above is a broken or hostile server */

static int scram_fail(const char *why)
{
    fprintf(stderr, "floor: SCRAM: %s\n", why);
    return -1;
}

/* Base64 of in[0..len) into out; -1 if it does not fit. */
static int b64_encode(const unsigned char *in, size_t len, char *out, size_t cap)
{
    if (len > INT_MAX / 2 || (len + 2) / 3 * 4 + 1 > cap)
        return -1;
    EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    return 0;
}

/* Decodes base64 text into out and NUL-terminates it (the caller parses text);
 * -1 on bad base64 or if it does not fit. EVP_DecodeBlock counts padding as
 * zero bytes, so they are taken off again. */
static int b64_decode(const char *in, unsigned char *out, size_t cap, size_t *out_len)
{
    size_t len = strlen(in);
    if (len == 0 || len % 4 != 0 || len > INT_MAX / 2 || len / 4 * 3 + 1 > cap)
        return -1;
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
    if (n < 0)
        return -1;
    size_t pad = in[len - 1] == '=' ? (in[len - 2] == '=' ? 2 : 1) : 0;
    *out_len = (size_t)n - pad;
    out[*out_len] = '\0';
    return 0;
}

/* RFC 5802 section 5.1: in a saslname ',' is "=2C" and '=' is "=3D". */
static int escape_saslname(const char *name, char *out, size_t cap)
{
    size_t used = 0;
    for (const char *p = name; *p; p++) {
        const char *piece = *p == ',' ? "=2C" : *p == '=' ? "=3D" : NULL;
        size_t n = piece ? 3 : 1;
        if (used + n >= cap)
            return -1;
        memcpy(out + used, piece ? piece : p, n);
        used += n;
    }
    out[used] = '\0';
    return used ? 0 : -1;
}

int floor_scram_first(struct floor_scram *sc, const char *user, char *out, size_t cap)
{
    unsigned char raw[FLOOR_SCRAM_NONCE_LEN / 4 * 3];
    char name[FLOOR_SCRAM_TEXT_MAX / 2], first[FLOOR_SCRAM_TEXT_MAX];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return scram_fail("no random bytes for the nonce");
    /* 18 bytes make 24 base64 characters without padding; none of them is ','. */
    b64_encode(raw, sizeof raw, sc->nonce, sizeof sc->nonce);
    if (escape_saslname(user, name, sizeof name) != 0)
        return scram_fail("user name empty or too long");
    snprintf(sc->client_first_bare, sizeof sc->client_first_bare, "n=%s,r=%s", name, sc->nonce);
    int n = snprintf(first, sizeof first, "n,,%s", sc->client_first_bare);
    if (n < 0 || (size_t)n >= sizeof first ||
        b64_encode((const unsigned char *)first, (size_t)n, out, cap) != 0)
        return scram_fail("client-first message too long");
    return 0;
}

struct server_first {
    const char *nonce; /* CNONCE+SNONCE, up to the next ',' */
    size_t nonce_len;
    unsigned char salt[SALT_MAX];
    size_t salt_len;
    unsigned long iterations;
};

/* "r=...,s=...,i=..." (RFC 5802 section 7); a leading "m=" is an extension we
 * cannot honour, so it fails like any other unexpected start. */
static int parse_server_first(const struct floor_scram *sc, const char *text,
                              struct server_first *sf)
{
    const char *salt_start = strstr(text, ",s="), *iter_start = strstr(text, ",i=");
    if (strncmp(text, "r=", 2) != 0 || !salt_start || !iter_start || iter_start < salt_start)
        return scram_fail("malformed server-first message");
    sf->nonce = text + 2;
    sf->nonce_len = (size_t)(salt_start - sf->nonce);
    if (sf->nonce_len <= FLOOR_SCRAM_NONCE_LEN ||
        memcmp(sf->nonce, sc->nonce, FLOOR_SCRAM_NONCE_LEN) != 0 ||
        memchr(sf->nonce, ',', sf->nonce_len))
        return scram_fail("the server's nonce does not extend ours");
    char salt_b64[SALT_MAX * 2];
    size_t salt_b64_len = (size_t)(iter_start - salt_start - 3);
    if (salt_b64_len >= sizeof salt_b64)
        return scram_fail("salt too long");
    memcpy(salt_b64, salt_start + 3, salt_b64_len);
    salt_b64[salt_b64_len] = '\0';
    unsigned char salt[SALT_MAX + 1];
    if (b64_decode(salt_b64, salt, sizeof salt, &sf->salt_len) != 0 || sf->salt_len == 0)
        return scram_fail("bad salt");
    memcpy(sf->salt, salt, sf->salt_len);
    char *end;
    sf->iterations = strtoul(iter_start + 3, &end, 10);
    if (end == iter_start + 3 || (*end && *end != ',') || sf->iterations < 1 ||
        sf->iterations > ITERATIONS_MAX)
        return scram_fail("bad iteration count");
    return 0;
}

static int hmac_sha256(const unsigned char *key, const void *data, size_t len,
                       unsigned char out[FLOOR_SCRAM_HASH_LEN])
{
    unsigned int out_len = 0;
    return HMAC(EVP_sha256(), key, FLOOR_SCRAM_HASH_LEN, data, len, out, &out_len) &&
                   out_len == FLOOR_SCRAM_HASH_LEN
               ? 0
               : -1;
}

/* ClientProof into proof and ServerSignature into sc (RFC 5802 section 3). */
static int compute_proof(struct floor_scram *sc, const char *password,
                         const struct server_first *sf, const char *auth_message,
                         unsigned char proof[FLOOR_SCRAM_HASH_LEN])
{
    unsigned char salted[FLOOR_SCRAM_HASH_LEN], client_key[FLOOR_SCRAM_HASH_LEN];
    unsigned char stored_key[FLOOR_SCRAM_HASH_LEN], signature[FLOOR_SCRAM_HASH_LEN];
    unsigned char server_key[FLOOR_SCRAM_HASH_LEN];
    size_t am_len = strlen(auth_message);
    int ok = PKCS5_PBKDF2_HMAC(password, (int)strlen(password), sf->salt, (int)sf->salt_len,
                               (int)sf->iterations, EVP_sha256(), sizeof salted, salted) == 1 &&
             hmac_sha256(salted, "Client Key", 10, client_key) == 0 &&
             EVP_Digest(client_key, sizeof client_key, stored_key, NULL, EVP_sha256(), NULL) ==
                 1 &&
             hmac_sha256(stored_key, auth_message, am_len, signature) == 0 &&
             hmac_sha256(salted, "Server Key", 10, server_key) == 0 &&
             hmac_sha256(server_key, auth_message, am_len, sc->server_signature) == 0;
    for (size_t i = 0; i < FLOOR_SCRAM_HASH_LEN; i++)
        proof[i] = client_key[i] ^ signature[i];
    OPENSSL_cleanse(salted, sizeof salted);
    OPENSSL_cleanse(client_key, sizeof client_key);
    OPENSSL_cleanse(server_key, sizeof server_key);
    return ok ? 0 : scram_fail("OpenSSL could not compute the proof");
}

int floor_scram_final(struct floor_scram *sc, const char *password,
                      const char *server_first_b64, char *out, size_t cap)
{
    unsigned char text[FLOOR_SCRAM_TEXT_MAX], proof[FLOOR_SCRAM_HASH_LEN];
    char without_proof[FLOOR_SCRAM_TEXT_MAX], auth_message[3 * FLOOR_SCRAM_TEXT_MAX];
    char proof_b64[FLOOR_SCRAM_HASH_LEN * 2], final_msg[FLOOR_SCRAM_TEXT_MAX];
    struct server_first sf;
    size_t len;
    if (b64_decode(server_first_b64, text, sizeof text, &len) != 0 || strlen((char *)text) != len)
        return scram_fail("server-first message is not base64 text");
    if (parse_server_first(sc, (const char *)text, &sf) != 0)
        return -1;
    int n = snprintf(auth_message, sizeof auth_message, "%s,%s,", sc->client_first_bare,
                     (const char *)text);
    int w = snprintf(without_proof, sizeof without_proof, "c=biws,r=%.*s", (int)sf.nonce_len,
                     sf.nonce);
    if (n < 0 || w < 0 || (size_t)w >= sizeof without_proof ||
        (size_t)n + (size_t)w >= sizeof auth_message)
        return scram_fail("server-first message too long");
    memcpy(auth_message + n, without_proof, (size_t)w + 1);
    if (compute_proof(sc, password, &sf, auth_message, proof) != 0)
        return -1;
    b64_encode(proof, sizeof proof, proof_b64, sizeof proof_b64);
    int f = snprintf(final_msg, sizeof final_msg, "%s,p=%s", without_proof, proof_b64);
    if (f < 0 || (size_t)f >= sizeof final_msg ||
        b64_encode((unsigned char *)final_msg, (size_t)f, out, cap) != 0)
        return scram_fail("client-final message too long");
    return 0;
}

int floor_scram_verify(const struct floor_scram *sc, const char *server_final_b64)
{
    unsigned char text[FLOOR_SCRAM_TEXT_MAX], signature[FLOOR_SCRAM_HASH_LEN + 3];
    size_t len, sig_len;
    if (b64_decode(server_final_b64, text, sizeof text, &len) != 0)
        return scram_fail("server-final message is not base64");
    char *s = (char *)text;
    if (strncmp(s, "e=", 2) == 0) {
        fprintf(stderr, "floor: SCRAM: the server says %.*s\n", (int)strcspn(s + 2, ","), s + 2);
        return -1;
    }
    s[strcspn(s, ",")] = '\0'; /* extensions after the verifier are not ours */
    if (strncmp(s, "v=", 2) != 0 ||
        b64_decode(s + 2, signature, sizeof signature, &sig_len) != 0 ||
        sig_len != FLOOR_SCRAM_HASH_LEN ||
        CRYPTO_memcmp(signature, sc->server_signature, FLOOR_SCRAM_HASH_LEN) != 0)
        return scram_fail("the server's signature (v=) does not match: not our server?");
    return 0;
}
