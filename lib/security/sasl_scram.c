/*
 * SCRAM client (RFC 5802; SHA-256 variant RFC 7677; channel binding RFC 5929 and
 * RFC 9266). All cryptography is OpenSSL's: PKCS5_PBKDF2_HMAC for Hi(), HMAC()
 * and EVP_Digest for the keys, CRYPTO_memcmp for the server signature check,
 * RAND_bytes for the nonce.
 *
 * Exchange (RFC 5802 section 3):
 *   C: gs2-header client-first-bare          n,,n=user,r=CNONCE
 *   S: server-first                          r=CNONCE+SNONCE,s=SALT,i=COUNT
 *   C: client-final                          c=GS2+CB,r=CNONCE+SNONCE,p=PROOF
 *   S: server-final                          v=SIGNATURE  (or e=ERROR)
 */
#include "sasl_scram.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "alloc.h"
#include "base64.h"
#include "pop3async/pop3async.h"
#include "saslprep.h"

/* Random client nonce: 18 bytes = 24 base64 characters with no padding; the
 * base64 alphabet never contains ',' so it is a valid SCRAM nonce. */
#define NONCE_RANDOM_BYTES 18
/* Longest server error text (e=) kept for the error message. */
#define MAX_SERVER_ERROR 200
/* Longest salt accepted (decoded). RFC 5802 sets none; real salts are 16 to
 * 64 bytes. The cap keeps PBKDF2's int-sized length argument in range even
 * when the caller raised the line cap to gigabytes. */
#define MAX_SALT 1024

enum scram_state { SCRAM_START, SCRAM_WAIT_FIRST, SCRAM_WAIT_FINAL, SCRAM_DONE, SCRAM_FAILED };

struct pop3a_scram {
    const EVP_MD *md;
    size_t hlen;                /* digest length: 20 or 32 */
    char *user;                 /* SASLprep'd, escaped as saslname; NULL if prep failed */
    char *password;             /* SASLprep'd; wiped on free; NULL if prep failed */
    const char *prep_error;     /* static; why user/password could not be prepared */
    char *gs2_header;           /* "n,,", "y,," or "p=TYPE,," */
    unsigned char *cb_data;     /* channel binding data ("p" only), malloc'd */
    size_t cb_len;
    char *nonce;                /* client nonce, malloc'd */
    char *client_first_bare;    /* kept for AuthMessage */
    unsigned char server_signature[EVP_MAX_MD_SIZE]; /* expected v=, wiped on free */
    enum scram_state state;
    uint32_t max_iterations;    /* highest count accepted from the server */
    const char *error;          /* static or error_owned */
    char *error_owned;
};

/* ------------------------------------------------------------------ helpers */

static void set_error(pop3a_scram *sc, const char *msg)
{
    sc->error = msg;
    sc->state = SCRAM_FAILED;
}

char *pop3a_saslname_escape(const char *name)
{
    size_t n = 0;
    for (const char *p = name; *p != '\0'; p++)
        n += (*p == ',' || *p == '=') ? 3 : 1;
    char *out = pop3a_malloc(n + 1); /* owner: the caller */
    if (out == NULL)
        return NULL;
    char *w = out;
    for (const char *p = name; *p != '\0'; p++) {
        if (*p == ',' || *p == '=') {
            memcpy(w, *p == ',' ? "=2C" : "=3D", 3);
            w += 3;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return out;
}

/* RFC 5802 section 7, "printable": %x21-7E except ','. */
static int is_nonce_char(unsigned char c)
{
    return c >= 0x21 && c <= 0x7E && c != ',';
}

static int valid_nonce(const char *p, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_nonce_char((unsigned char)p[i]))
            return 0;
    }
    return 1;
}

/* RFC 5056 section 7: cb-name = 1*(ALPHA / DIGIT / "." / "-"). */
static int valid_cb_name(const char *name)
{
    if (*name == '\0')
        return 0;
    for (const char *p = name; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

/* Concatenates NUL-terminated parts into one malloc'd string. */
static char *concat(const char *const *parts, size_t count)
{
    size_t total = 1;
    for (size_t i = 0; i < count; i++)
        total += strlen(parts[i]);
    char *out = pop3a_malloc(total); /* owner: the caller */
    if (out == NULL)
        return NULL;
    size_t w = 0;
    for (size_t i = 0; i < count; i++) {
        size_t l = strlen(parts[i]);
        memcpy(out + w, parts[i], l);
        w += l;
    }
    out[w] = '\0';
    return out;
}

static char *random_nonce(void)
{
    unsigned char raw[NONCE_RANDOM_BYTES];
    if (POP3A_MAY_FAIL(RAND_bytes(raw, sizeof raw), 0) != 1)
        return NULL;
    return pop3a_b64_encode(raw, sizeof raw, NULL);
}

/* ------------------------------------------------------------ construction */

/* gs2-header (RFC 5802 section 7): "p=TYPE,," when binding, "y,," when the
 * caller could bind but the server did not offer -PLUS (section 6: lets a
 * server that does support binding detect a downgrade), "n,," otherwise. */
static int setup_binding(pop3a_scram *sc, const pop3a_sasl_cb *cb)
{
    if (cb == NULL || cb->type == NULL) {
        sc->gs2_header = pop3a_strdup(cb == NULL ? "n,," : "y,,");
        return sc->gs2_header == NULL ? -1 : 0;
    }
    if (!valid_cb_name(cb->type) || cb->data == NULL || cb->len == 0) {
        sc->prep_error = "SCRAM: invalid channel binding type or empty binding data";
        sc->gs2_header = pop3a_strdup("n,,");
        return sc->gs2_header == NULL ? -1 : 0;
    }
    const char *parts[] = {"p=", cb->type, ",,"};
    sc->gs2_header = concat(parts, 3);
    sc->cb_data = pop3a_malloc(cb->len);
    if (sc->gs2_header == NULL || sc->cb_data == NULL)
        return -1;
    memcpy(sc->cb_data, cb->data, cb->len);
    sc->cb_len = cb->len;
    return 0;
}

static int setup_credentials(pop3a_scram *sc, const char *user, const char *password)
{
    char *prepped = NULL;
    int rc = pop3a_saslprep(user, &prepped);
    if (rc == -2)
        return -1;
    if (rc == -1 || prepped[0] == '\0') {
        pop3a_free(prepped);
        sc->prep_error = "SCRAM: the user name is empty or not valid for SASLprep (RFC 4013)";
        return 0;
    }
    sc->user = pop3a_saslname_escape(prepped);
    pop3a_free(prepped);
    if (sc->user == NULL)
        return -1;
    rc = pop3a_saslprep(password, &sc->password);
    if (rc == -2)
        return -1;
    if (rc == -1)
        sc->prep_error = "SCRAM: the password is not valid for SASLprep (RFC 4013)";
    return 0;
}

static int setup_nonce(pop3a_scram *sc, const char *nonce)
{
    if (nonce == NULL) {
        sc->nonce = random_nonce();
        return sc->nonce == NULL ? -1 : 0;
    }
    if (!valid_nonce(nonce, strlen(nonce)))
        sc->prep_error = "SCRAM: the fixed client nonce has a character outside %x21-7E or ','";
    sc->nonce = pop3a_strdup(nonce);
    return sc->nonce == NULL ? -1 : 0;
}

pop3a_scram *pop3a_scram_new(unsigned mech, const char *user, const char *password,
                             const pop3a_sasl_cb *cb, const char *nonce)
{
    const EVP_MD *md;
    if (mech == POP3A_MECH_SCRAM_SHA_1)
        md = EVP_sha1();
    else if (mech == POP3A_MECH_SCRAM_SHA_256)
        md = EVP_sha256();
    else
        return NULL;
    pop3a_scram *sc = pop3a_calloc(1, sizeof *sc); /* owner: the pop3a_sasl */
    if (sc == NULL)
        return NULL;
    sc->md = md;
    sc->hlen = (size_t)EVP_MD_get_size(md);
    sc->state = SCRAM_START;
    sc->max_iterations = POP3A_SCRAM_DEFAULT_MAX_ITERATIONS;
    if (setup_credentials(sc, user != NULL ? user : "", password != NULL ? password : "") <
            0 ||
        setup_binding(sc, cb) < 0 || setup_nonce(sc, nonce) < 0) {
        pop3a_scram_free(sc);
        return NULL;
    }
    return sc;
}

void pop3a_scram_set_max_iterations(pop3a_scram *sc, uint32_t max)
{
    if (sc != NULL && max > 0)
        sc->max_iterations = max;
}

void pop3a_scram_free(pop3a_scram *sc)
{
    if (sc == NULL)
        return;
    pop3a_free(sc->user);
    if (sc->password != NULL) {
        OPENSSL_cleanse(sc->password, strlen(sc->password));
        pop3a_free(sc->password);
    }
    pop3a_free(sc->gs2_header);
    pop3a_free(sc->cb_data);
    pop3a_free(sc->nonce);
    pop3a_free(sc->client_first_bare);
    pop3a_free(sc->error_owned);
    OPENSSL_cleanse(sc, sizeof *sc);
    pop3a_free(sc);
}

/* ------------------------------------------------------------ client-first */

pop3a_sasl_rc pop3a_scram_start(pop3a_scram *sc, unsigned char **out, size_t *out_len)
{
    if (sc->state != SCRAM_START) {
        set_error(sc, "SCRAM: the exchange was already started");
        return POP3A_SASL_ERROR;
    }
    if (sc->prep_error != NULL) {
        set_error(sc, sc->prep_error);
        return POP3A_SASL_ERROR;
    }
    const char *bare[] = {"n=", sc->user, ",r=", sc->nonce};
    sc->client_first_bare = concat(bare, 4);
    if (sc->client_first_bare == NULL)
        return POP3A_SASL_NOMEM;
    const char *first[] = {sc->gs2_header, sc->client_first_bare};
    char *msg = concat(first, 2);
    if (msg == NULL)
        return POP3A_SASL_NOMEM;
    *out = (unsigned char *)msg;
    *out_len = strlen(msg);
    sc->state = SCRAM_WAIT_FIRST;
    return POP3A_SASL_CONTINUE;
}

/* ------------------------------------------------------------ server-first */

typedef struct {
    const char *nonce; /* points into the message */
    size_t nonce_len;
    unsigned char *salt; /* malloc'd */
    size_t salt_len;
    unsigned iterations;
} server_first;

/* Takes "X=value" at *p up to ',' or the end; value into *v / *vlen. */
static int take_attr(const char **p, const char *end, char name, const char **v, size_t *vlen)
{
    const char *s = *p;
    if (end - s < 2 || s[0] != name || s[1] != '=')
        return -1;
    s += 2;
    const char *comma = memchr(s, ',', (size_t)(end - s));
    const char *stop = comma != NULL ? comma : end;
    *v = s;
    *vlen = (size_t)(stop - s);
    *p = comma != NULL ? comma + 1 : end;
    return 0;
}

/* RFC 5802 section 7: iteration-count = posit-number, bounded here (by
 * max, see POP3A_SCRAM_DEFAULT_MAX_ITERATIONS) so a hostile server cannot make
 * PBKDF2 spin. */
static int parse_iterations(const char *v, size_t len, uint32_t max, unsigned *out)
{
    if (len == 0 || len > 10 || v[0] == '0')
        return -1;
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    if (n < 1 || n > max || n > INT_MAX) /* PKCS5_PBKDF2_HMAC takes an int */
        return -1;
    *out = (unsigned)n;
    return 0;
}

/* Records a server-reported "e=" error (RFC 5802 section 7, server-error),
 * keeping only printable ASCII so it is safe to log. */
static void set_server_error(pop3a_scram *sc, const char *v, size_t len)
{
    static const char prefix[] = "SCRAM: the server reported an error: ";
    if (len > MAX_SERVER_ERROR)
        len = MAX_SERVER_ERROR;
    pop3a_free(sc->error_owned);
    sc->error_owned = pop3a_malloc(sizeof prefix + len); /* owner: sc */
    if (sc->error_owned == NULL) {
        set_error(sc, "SCRAM: the server reported an error");
        return;
    }
    memcpy(sc->error_owned, prefix, sizeof prefix - 1);
    char *w = sc->error_owned + sizeof prefix - 1;
    for (size_t i = 0; i < len; i++)
        *w++ = (v[i] >= 0x20 && v[i] <= 0x7E) ? v[i] : '?';
    *w = '\0';
    set_error(sc, sc->error_owned);
}

/* parse_server_first's answer when it ran out of memory rather than found a fault. */
static const char scram_nomem[] = "SCRAM: out of memory";

/* Parses server-first-message (RFC 5802 section 7); returns a static reason on
 * failure (scram_nomem: no memory), NULL on success (f->salt then owned by the
 * caller). */
static const char *parse_server_first(pop3a_scram *sc, const char *msg, size_t len,
                                      server_first *f)
{
    const char *p = msg, *end = msg + len, *v;
    size_t vlen;
    if (len >= 2 && msg[0] == 'm' && msg[1] == '=')
        return "SCRAM: the server requires an unsupported mandatory extension (m=)";
    if (take_attr(&p, end, 'r', &f->nonce, &f->nonce_len) < 0 ||
        !valid_nonce(f->nonce, f->nonce_len))
        return "SCRAM: malformed nonce in the server-first message";
    /* Section 5.1: the server's nonce starts with ours and adds its own part. */
    size_t ours = strlen(sc->nonce);
    if (f->nonce_len <= ours || memcmp(f->nonce, sc->nonce, ours) != 0)
        return "SCRAM: the server nonce does not extend the client nonce";
    if (take_attr(&p, end, 's', &v, &vlen) < 0 || vlen == 0)
        return "SCRAM: malformed salt in the server-first message";
    f->salt = pop3a_b64_decode(v, vlen, &f->salt_len);
    if (f->salt == NULL && pop3a_b64_valid(v, vlen))
        return scram_nomem;
    if (f->salt == NULL || f->salt_len == 0)
        return "SCRAM: the salt is not valid base64";
    if (f->salt_len > MAX_SALT)
        return "SCRAM: the salt is longer than 1024 bytes";
    if (take_attr(&p, end, 'i', &v, &vlen) < 0 || parse_iterations(v, vlen, sc->max_iterations, &f->iterations) < 0)
        return "SCRAM: the iteration count is missing, malformed or above the limit";
    /* Anything after is an optional extension (section 7), ignored. */
    return NULL;
}

/* The keys of RFC 5802 section 3 for one exchange. */
typedef struct {
    unsigned char salted[EVP_MAX_MD_SIZE];
    unsigned char client_key[EVP_MAX_MD_SIZE];
    unsigned char stored_key[EVP_MAX_MD_SIZE];
    unsigned char client_sig[EVP_MAX_MD_SIZE];
    unsigned char server_key[EVP_MAX_MD_SIZE];
    unsigned char proof[EVP_MAX_MD_SIZE];
} scram_keys;

static int hmac(const EVP_MD *md, const unsigned char *key, size_t klen, const void *data,
                size_t dlen, unsigned char *out)
{
    unsigned int olen = 0;
    return POP3A_MAY_FAIL(HMAC(md, key, (int)klen, data, dlen, out, &olen), NULL) != NULL ? 0 : -1;
}

/* SaltedPassword, ClientProof and ServerSignature for auth_message. */
static int compute_keys(pop3a_scram *sc, const server_first *f, const char *auth_message,
                        scram_keys *k)
{
    const EVP_MD *md = sc->md;
    size_t h = sc->hlen;
    size_t amlen = strlen(auth_message);
    if (POP3A_MAY_FAIL(PKCS5_PBKDF2_HMAC(sc->password, (int)strlen(sc->password), f->salt,
                                        (int)f->salt_len, (int)f->iterations, md, (int)h,
                                        k->salted),
                      0) != 1)
        return -1;
    if (hmac(md, k->salted, h, "Client Key", 10, k->client_key) < 0 ||
        POP3A_MAY_FAIL(EVP_Digest(k->client_key, h, k->stored_key, NULL, md, NULL), 0) != 1 ||
        hmac(md, k->stored_key, h, auth_message, amlen, k->client_sig) < 0 ||
        hmac(md, k->salted, h, "Server Key", 10, k->server_key) < 0 ||
        hmac(md, k->server_key, h, auth_message, amlen, sc->server_signature) < 0)
        return -1;
    for (size_t i = 0; i < h; i++)
        k->proof[i] = k->client_key[i] ^ k->client_sig[i];
    return 0;
}

/* "c=" base64(gs2-header || cbind-data) (RFC 5802 section 7, channel-binding). */
static char *channel_binding_attr(const pop3a_scram *sc)
{
    size_t glen = strlen(sc->gs2_header);
    unsigned char *raw = pop3a_malloc(glen + sc->cb_len); /* freed below */
    if (raw == NULL)
        return NULL;
    memcpy(raw, sc->gs2_header, glen);
    if (sc->cb_len > 0)
        memcpy(raw + glen, sc->cb_data, sc->cb_len);
    char *b64 = pop3a_b64_encode(raw, glen + sc->cb_len, NULL);
    pop3a_free(raw);
    return b64;
}

/* Builds client-final-message from a parsed server-first; NOMEM or ERROR. */
static pop3a_sasl_rc build_client_final(pop3a_scram *sc, const char *server_first_msg,
                                        const server_first *f, char **final_msg)
{
    pop3a_sasl_rc rc = POP3A_SASL_NOMEM;
    char *cbind = channel_binding_attr(sc), *nonce = NULL, *without_proof = NULL;
    char *auth_message = NULL, *proof_b64 = NULL;
    scram_keys k;
    memset(&k, 0, sizeof k);
    if (cbind == NULL || (nonce = pop3a_strndup(f->nonce, f->nonce_len)) == NULL)
        goto out;
    const char *wp[] = {"c=", cbind, ",r=", nonce};
    if ((without_proof = concat(wp, 4)) == NULL)
        goto out;
    /* Section 3: AuthMessage = client-first-message-bare + "," +
     * server-first-message + "," + client-final-message-without-proof. */
    const char *am[] = {sc->client_first_bare, ",", server_first_msg, ",", without_proof};
    if ((auth_message = concat(am, 5)) == NULL)
        goto out;
    /* The digest was checked and the iterations capped: what is left to fail
     * in OpenSSL's PBKDF2 and HMAC is its allocations. */
    if (compute_keys(sc, f, auth_message, &k) < 0)
        goto out;
    if ((proof_b64 = pop3a_b64_encode(k.proof, sc->hlen, NULL)) == NULL)
        goto out;
    const char *fin[] = {without_proof, ",p=", proof_b64};
    if ((*final_msg = concat(fin, 3)) == NULL)
        goto out;
    rc = POP3A_SASL_CONTINUE;
out:
    OPENSSL_cleanse(&k, sizeof k);
    pop3a_free(cbind);
    pop3a_free(nonce);
    pop3a_free(without_proof);
    pop3a_free(auth_message);
    pop3a_free(proof_b64);
    return rc;
}

static pop3a_sasl_rc on_server_first(pop3a_scram *sc, const char *msg, size_t len,
                                     unsigned char **out, size_t *out_len)
{
    if (len >= 2 && msg[0] == 'e' && msg[1] == '=') {
        set_server_error(sc, msg + 2, len - 2);
        return POP3A_SASL_ERROR;
    }
    server_first f;
    memset(&f, 0, sizeof f);
    const char *why = parse_server_first(sc, msg, len, &f);
    if (why == scram_nomem) {
        pop3a_free(f.salt);
        return POP3A_SASL_NOMEM;
    }
    if (why != NULL) {
        pop3a_free(f.salt);
        set_error(sc, why);
        return POP3A_SASL_ERROR;
    }
    char *copy = pop3a_strndup(msg, len), *final_msg = NULL;
    pop3a_sasl_rc rc = POP3A_SASL_NOMEM;
    if (copy != NULL)
        rc = build_client_final(sc, copy, &f, &final_msg);
    pop3a_free(copy);
    pop3a_free(f.salt);
    if (rc != POP3A_SASL_CONTINUE)
        return rc;
    *out = (unsigned char *)final_msg;
    *out_len = strlen(final_msg);
    sc->state = SCRAM_WAIT_FINAL;
    return POP3A_SASL_CONTINUE;
}

/* ------------------------------------------------------------ server-final */

/* server-final-message = (server-error / verifier) ["," extensions]. The
 * signature is compared in constant time (CRYPTO_memcmp). */
static pop3a_sasl_rc on_server_final(pop3a_scram *sc, const char *msg, size_t len,
                                     unsigned char **out, size_t *out_len)
{
    const char *p = msg, *end = msg + len, *v;
    size_t vlen;
    if (take_attr(&p, end, 'e', &v, &vlen) == 0) {
        set_server_error(sc, v, vlen);
        return POP3A_SASL_ERROR;
    }
    if (take_attr(&p, end, 'v', &v, &vlen) < 0) {
        set_error(sc, "SCRAM: malformed server-final message");
        return POP3A_SASL_ERROR;
    }
    size_t siglen = 0;
    unsigned char *sig = pop3a_b64_decode(v, vlen, &siglen);
    if (sig == NULL && pop3a_b64_valid(v, vlen))
        return POP3A_SASL_NOMEM; /* not a wrong signature: we could not look */
    int ok = sig != NULL && siglen == sc->hlen &&
             CRYPTO_memcmp(sig, sc->server_signature, sc->hlen) == 0;
    pop3a_free(sig);
    if (!ok) {
        set_error(sc, "SCRAM: the server signature is wrong: the server does not know "
                      "the password");
        return POP3A_SASL_ERROR;
    }
    /* POP3 carries no data on +OK, so the server sends v= as a challenge and
     * the client answers with an empty response (RFC 4422 section 3.6). */
    unsigned char *empty = pop3a_malloc(1);
    if (empty == NULL)
        return POP3A_SASL_NOMEM;
    empty[0] = '\0';
    *out = empty;
    *out_len = 0;
    sc->state = SCRAM_DONE;
    return POP3A_SASL_CONTINUE;
}

pop3a_sasl_rc pop3a_scram_step(pop3a_scram *sc, const unsigned char *in, size_t in_len,
                               unsigned char **out, size_t *out_len)
{
    const char *msg = (const char *)in;
    if (sc->state == SCRAM_FAILED)
        return POP3A_SASL_ERROR;
    if (in_len > 0 && memchr(in, '\0', in_len) != NULL) {
        set_error(sc, "SCRAM: NUL byte in a server message");
        return POP3A_SASL_ERROR;
    }
    switch (sc->state) {
    case SCRAM_WAIT_FIRST:
        return on_server_first(sc, msg, in_len, out, out_len);
    case SCRAM_WAIT_FINAL:
        return on_server_final(sc, msg, in_len, out, out_len);
    case SCRAM_START:
        set_error(sc, "SCRAM: a challenge came before the client-first message");
        return POP3A_SASL_ERROR;
    default:
        set_error(sc, "SCRAM: a challenge came after the exchange was complete");
        return POP3A_SASL_ERROR;
    }
}

int pop3a_scram_binds(const pop3a_scram *sc)
{
    return sc->cb_data != NULL;
}

int pop3a_scram_verified(const pop3a_scram *sc)
{
    return sc->state == SCRAM_DONE;
}

const char *pop3a_scram_error(const pop3a_scram *sc)
{
    return sc->error != NULL ? sc->error : "";
}
