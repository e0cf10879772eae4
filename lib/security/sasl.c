/*
 * SASL client mechanisms (RFC 4422) other than SCRAM (sasl_scram.c): PLAIN,
 * LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER and EXTERNAL. Pure state machines: raw
 * bytes in, raw bytes out; base64 and the AUTH framing (RFC 5034) are the
 * caller's. HMAC-MD5 comes from OpenSSL.
 */
#include "sasl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "alloc.h"
#include "pop3async/pop3async.h"
#include "sasl_scram.h"

/* Longest OAuth error JSON kept for pop3a_sasl_error. */
#define MAX_OAUTH_ERROR 1024

struct pop3a_sasl {
    unsigned mech;       /* one POP3A_MECH_* bit */
    char *user;          /* malloc'd, "" when none was given */
    char *secret;        /* malloc'd, wiped on free */
    pop3a_scram *scram;  /* SCRAM mechanisms only */
    int started;         /* the initial response was produced */
    unsigned steps;      /* challenges answered */
    int login_sent_user; /* LOGIN */
    int login_sent_pass;
    int complete;        /* everything the client has to send was sent */
    int failed;          /* a check failed or the server sent an error */
    const char *err;     /* static, err_owned, or the SCRAM object's */
    char *err_owned;
};

/* Cleartext to an eavesdropper: the password or a replayable bearer token goes
 * on the wire as is. */
#define CLEARTEXT_MECHS                                                                   \
    (POP3A_MECH_USER | POP3A_MECH_PLAIN | POP3A_MECH_LOGIN | POP3A_MECH_XOAUTH2 |       \
     POP3A_MECH_OAUTHBEARER)
#define CLIENT_FIRST_MECHS                                                                \
    (POP3A_MECH_PLAIN | POP3A_MECH_SCRAM_SHA_1 | POP3A_MECH_SCRAM_SHA_256 |             \
     POP3A_MECH_XOAUTH2 | POP3A_MECH_OAUTHBEARER | POP3A_MECH_EXTERNAL)
#define SASL_MECHS (CLIENT_FIRST_MECHS | POP3A_MECH_LOGIN | POP3A_MECH_CRAM_MD5)

static int is_scram(unsigned mech)
{
    return mech == POP3A_MECH_SCRAM_SHA_1 || mech == POP3A_MECH_SCRAM_SHA_256;
}

/* ---------------------------------------------------------------- lifecycle */

pop3a_sasl *pop3a_sasl_new(unsigned mech, const char *user, const char *secret,
                           const pop3a_sasl_cb *cb, const char *nonce)
{
    /* Exactly one supported SASL bit. */
    if ((mech & SASL_MECHS) == 0 || (mech & (mech - 1)) != 0)
        return NULL;
    pop3a_sasl *s = pop3a_calloc(1, sizeof *s); /* owner: the caller, pop3a_sasl_free */
    if (s == NULL)
        return NULL;
    s->mech = mech;
    s->user = pop3a_strdup(user != NULL ? user : "");
    s->secret = pop3a_strdup(secret != NULL ? secret : "");
    if (s->user == NULL || s->secret == NULL)
        goto fail;
    if (is_scram(mech)) {
        s->scram = pop3a_scram_new(mech, s->user, s->secret, cb, nonce);
        if (s->scram == NULL)
            goto fail;
    }
    return s;
fail:
    pop3a_sasl_free(s);
    return NULL;
}

void pop3a_sasl_set_max_iterations(pop3a_sasl *s, uint32_t max)
{
    if (s != NULL)
        pop3a_scram_set_max_iterations(s->scram, max); /* NULL-safe */
}

void pop3a_sasl_free(pop3a_sasl *s)
{
    if (s == NULL)
        return;
    pop3a_free(s->user);
    if (s->secret != NULL) {
        OPENSSL_cleanse(s->secret, strlen(s->secret));
        pop3a_free(s->secret);
    }
    pop3a_scram_free(s->scram);
    pop3a_free(s->err_owned);
    pop3a_free(s);
}

void pop3a_sasl_response_free(unsigned char *out, size_t len)
{
    if (out == NULL)
        return;
    OPENSSL_cleanse(out, len);
    pop3a_free(out);
}

int pop3a_sasl_client_first(const pop3a_sasl *s)
{
    return (s->mech & CLIENT_FIRST_MECHS) != 0;
}

int pop3a_sasl_is_cleartext(unsigned mech)
{
    return (mech & CLEARTEXT_MECHS) != 0;
}

const char *pop3a_sasl_mech_name(const pop3a_sasl *s)
{
    switch (s->mech) {
    case POP3A_MECH_PLAIN:
        return "PLAIN";
    case POP3A_MECH_LOGIN:
        return "LOGIN";
    case POP3A_MECH_CRAM_MD5:
        return "CRAM-MD5";
    case POP3A_MECH_SCRAM_SHA_1:
        return pop3a_scram_binds(s->scram) ? "SCRAM-SHA-1-PLUS" : "SCRAM-SHA-1";
    case POP3A_MECH_SCRAM_SHA_256:
        return pop3a_scram_binds(s->scram) ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256";
    case POP3A_MECH_XOAUTH2:
        return "XOAUTH2";
    case POP3A_MECH_OAUTHBEARER:
        return "OAUTHBEARER";
    default:
        return "EXTERNAL";
    }
}

const char *pop3a_sasl_error(const pop3a_sasl *s)
{
    return s->err != NULL ? s->err : "";
}

/* ------------------------------------------------------------------ helpers */

static pop3a_sasl_rc fail(pop3a_sasl *s, const char *why)
{
    s->err = why;
    s->failed = 1;
    return POP3A_SASL_ERROR;
}

/* Hands a malloc'd response (its length already in *out_len) to the caller. */
static pop3a_sasl_rc emit(unsigned char *buf, unsigned char **out)
{
    if (buf == NULL)
        return POP3A_SASL_NOMEM;
    *out = buf;
    return POP3A_SASL_CONTINUE;
}

/* Concatenates byte strings (which may contain NULs) into one malloc'd buffer. */
static unsigned char *join(const char *const *parts, const size_t *lens, size_t count,
                           size_t *total)
{
    size_t n = 0;
    for (size_t i = 0; i < count; i++)
        n += lens[i];
    unsigned char *buf = pop3a_malloc(n + 1); /* owner: the caller of start/step */
    if (buf == NULL)
        return NULL;
    size_t w = 0;
    for (size_t i = 0; i < count; i++) {
        memcpy(buf + w, parts[i], lens[i]);
        w += lens[i];
    }
    buf[w] = '\0';
    *total = n;
    return buf;
}

static unsigned char *copy_bytes(const char *str, size_t *len)
{
    const char *parts[] = {str};
    size_t lens[] = {strlen(str)};
    return join(parts, lens, 1, len);
}

/* 1 if every byte is printable ASCII (%x20-7E). */
static int printable(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7E)
            return 0;
    }
    return 1;
}

/* 1 if s has no ASCII control character (the \x01 separators of the OAuth
 * mechanisms must not be forgeable from the user name). */
static int no_controls(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7F)
            return 0;
    }
    return 1;
}

/* Keeps a server's OAuth error (RFC 7628 section 3.2.2 JSON) for
 * pop3a_sasl_error, with control characters replaced so it is safe to log. */
static void record_server_error(pop3a_sasl *s, const unsigned char *in, size_t len)
{
    if (len == 0) {
        s->err = "the server sent an empty error challenge";
        return;
    }
    if (len > MAX_OAUTH_ERROR)
        len = MAX_OAUTH_ERROR;
    pop3a_free(s->err_owned);
    s->err_owned = pop3a_malloc(len + 1); /* owner: s */
    if (s->err_owned == NULL) {
        s->err = "the server sent an error challenge";
        return;
    }
    for (size_t i = 0; i < len; i++)
        s->err_owned[i] = (in[i] >= 0x20 && in[i] != 0x7F) ? (char)in[i] : '?';
    s->err_owned[len] = '\0';
    s->err = s->err_owned;
}

/* ------------------------------------------------------- initial responses */

/* RFC 4616 section 2: [authzid] NUL authcid NUL passwd, authzid empty. */
static pop3a_sasl_rc plain_start(pop3a_sasl *s, unsigned char **out, size_t *out_len)
{
    const char *parts[] = {"\0", s->user, "\0", s->secret};
    size_t lens[] = {1, strlen(s->user), 1, strlen(s->secret)};
    return emit(join(parts, lens, 4, out_len), out);
}

/* Google's XOAUTH2: "user=" U ^A "auth=Bearer " T ^A ^A. */
static pop3a_sasl_rc xoauth2_start(pop3a_sasl *s, unsigned char **out, size_t *out_len)
{
    if (!no_controls(s->user) || s->secret[0] == '\0' || !printable(s->secret))
        return fail(s, "XOAUTH2: the user name or token holds a control character or the "
                       "token is empty");
    const char *parts[] = {"user=", s->user, "\001auth=Bearer ", s->secret, "\001\001"};
    size_t lens[] = {5, strlen(s->user), 13, strlen(s->secret), 2};
    return emit(join(parts, lens, 5, out_len), out);
}

/* RFC 7628 section 3.1: gs2-header "n,a=" U "," then kvpairs ^A "auth=Bearer "
 * T ^A ^A (host and port are optional and left out). */
static pop3a_sasl_rc oauthbearer_start(pop3a_sasl *s, unsigned char **out, size_t *out_len)
{
    if (!no_controls(s->user) || s->secret[0] == '\0' || !printable(s->secret))
        return fail(s, "OAUTHBEARER: the user name or token holds a control character or "
                       "the token is empty");
    char *authzid = pop3a_saslname_escape(s->user); /* freed below */
    if (authzid == NULL)
        return POP3A_SASL_NOMEM;
    int has_user = s->user[0] != '\0';
    const char *parts[] = {has_user ? "n,a=" : "n,", authzid, ",\001auth=Bearer ", s->secret,
                           "\001\001"};
    size_t lens[] = {has_user ? 4u : 2u, strlen(authzid), 14, strlen(s->secret), 2};
    pop3a_sasl_rc rc = emit(join(parts, lens, 5, out_len), out);
    pop3a_free(authzid);
    return rc;
}

/* RFC 4422 appendix A.1: an empty response means "authorize as the identity
 * of my certificate"; a user name is sent as the authorization identity. */
static pop3a_sasl_rc external_start(pop3a_sasl *s, unsigned char **out, size_t *out_len)
{
    return emit(copy_bytes(s->user, out_len), out);
}

pop3a_sasl_rc pop3a_sasl_start(pop3a_sasl *s, unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (s->failed)
        return POP3A_SASL_ERROR;
    if (!pop3a_sasl_client_first(s))
        return fail(s, "this mechanism waits for the server's challenge");
    if (s->started)
        return fail(s, "the initial response was already produced");
    pop3a_sasl_rc rc;
    switch (s->mech) {
    case POP3A_MECH_PLAIN:
        rc = plain_start(s, out, out_len);
        break;
    case POP3A_MECH_XOAUTH2:
        rc = xoauth2_start(s, out, out_len);
        break;
    case POP3A_MECH_OAUTHBEARER:
        rc = oauthbearer_start(s, out, out_len);
        break;
    case POP3A_MECH_EXTERNAL:
        rc = external_start(s, out, out_len);
        break;
    default:
        rc = pop3a_scram_start(s->scram, out, out_len);
        if (rc == POP3A_SASL_ERROR)
            return fail(s, pop3a_scram_error(s->scram));
        break;
    }
    if (rc == POP3A_SASL_CONTINUE) {
        s->started = 1;
        s->complete = !is_scram(s->mech);
    }
    return rc;
}

/* --------------------------------------------------------------- challenges */

/* Which LOGIN prompt the challenge is (draft-murchison-sasl-login: the texts
 * are not standard, so compare case-insensitively and ignore a trailing ':'). */
static int login_prompt_is(const unsigned char *in, size_t len, const char *word)
{
    while (len > 0 && (in[len - 1] == ':' || in[len - 1] == ' '))
        len--;
    return len == strlen(word) && strncasecmp((const char *)in, word, len) == 0;
}

/* LOGIN: "Username:" gets the user, "Password:" the password. An unknown
 * prompt gets the user first and the password second. */
static pop3a_sasl_rc login_step(pop3a_sasl *s, const unsigned char *in, size_t len,
                                unsigned char **out, size_t *out_len)
{
    if (s->steps >= 2)
        return fail(s, "LOGIN: more than two challenges");
    int want_user;
    if (login_prompt_is(in, len, "username") || login_prompt_is(in, len, "user name"))
        want_user = 1;
    else if (login_prompt_is(in, len, "password"))
        want_user = 0;
    else
        want_user = !s->login_sent_user;
    if (want_user)
        s->login_sent_user = 1;
    else
        s->login_sent_pass = 1;
    s->complete = s->login_sent_pass;
    return emit(copy_bytes(want_user ? s->user : s->secret, out_len), out);
}

/* RFC 2195 section 2: user SP lowercase-hex(HMAC-MD5(secret, challenge)). */
static pop3a_sasl_rc cram_md5_step(pop3a_sasl *s, const unsigned char *in, size_t len,
                                   unsigned char **out, size_t *out_len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (s->steps >= 1)
        return fail(s, "CRAM-MD5: more than one challenge");
    if (len == 0)
        return fail(s, "CRAM-MD5: empty challenge");
    if (HMAC(EVP_md5(), s->secret, (int)strlen(s->secret), in, len, mac, &mac_len) == NULL)
        return fail(s, "CRAM-MD5: HMAC-MD5 is not available from OpenSSL");
    char digest[2 * EVP_MAX_MD_SIZE + 1];
    for (unsigned int i = 0; i < mac_len; i++) {
        digest[2 * i] = hex[mac[i] >> 4];
        digest[2 * i + 1] = hex[mac[i] & 0x0f];
    }
    digest[2 * mac_len] = '\0';
    OPENSSL_cleanse(mac, sizeof mac);
    const char *parts[] = {s->user, " ", digest};
    size_t lens[] = {strlen(s->user), 1, 2 * (size_t)mac_len};
    s->complete = 1;
    return emit(join(parts, lens, 3, out_len), out);
}

/* XOAUTH2 and OAUTHBEARER: any challenge after the initial response is the
 * server's JSON error. XOAUTH2 answers with an empty response (Google's
 * protocol); OAUTHBEARER with a lone ^A (RFC 7628 section 3.2.3). The server
 * then sends -ERR; the JSON stays in pop3a_sasl_error. */
static pop3a_sasl_rc oauth_error_step(pop3a_sasl *s, const unsigned char *in, size_t len,
                                      unsigned char **out, size_t *out_len)
{
    if (s->steps >= 1)
        return fail(s, "OAuth: more than one error challenge");
    record_server_error(s, in, len);
    s->complete = 0; /* the login failed, whatever the server says next */
    return emit(copy_bytes(s->mech == POP3A_MECH_OAUTHBEARER ? "\001" : "", out_len), out);
}

static pop3a_sasl_rc dispatch_step(pop3a_sasl *s, const unsigned char *in, size_t len,
                                   unsigned char **out, size_t *out_len)
{
    pop3a_sasl_rc rc;
    switch (s->mech) {
    case POP3A_MECH_LOGIN:
        return login_step(s, in, len, out, out_len);
    case POP3A_MECH_CRAM_MD5:
        return cram_md5_step(s, in, len, out, out_len);
    case POP3A_MECH_XOAUTH2:
    case POP3A_MECH_OAUTHBEARER:
        return oauth_error_step(s, in, len, out, out_len);
    case POP3A_MECH_SCRAM_SHA_1:
    case POP3A_MECH_SCRAM_SHA_256:
        rc = pop3a_scram_step(s->scram, in, len, out, out_len);
        if (rc == POP3A_SASL_ERROR)
            return fail(s, pop3a_scram_error(s->scram));
        s->complete = pop3a_scram_verified(s->scram);
        return rc;
    default: /* PLAIN, EXTERNAL: the initial response was everything */
        return fail(s, "unexpected challenge after the initial response");
    }
}

pop3a_sasl_rc pop3a_sasl_step(pop3a_sasl *s, const unsigned char *in, size_t in_len,
                              unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (s->failed)
        return POP3A_SASL_ERROR;
    if (in == NULL && in_len > 0)
        return fail(s, "NULL challenge");
    /* RFC 4422 section 5 / RFC 5034 section 4: a client-first mechanism whose
     * initial response did not go with AUTH gets an empty challenge, and the
     * initial response is the answer. */
    if (pop3a_sasl_client_first(s) && !s->started) {
        if (in_len != 0)
            return fail(s, "a non-empty challenge came before the initial response");
        return pop3a_sasl_start(s, out, out_len);
    }
    pop3a_sasl_rc rc = dispatch_step(s, in != NULL ? in : (const unsigned char *)"", in_len,
                                     out, out_len);
    if (rc == POP3A_SASL_CONTINUE)
        s->steps++;
    return rc;
}

int pop3a_sasl_finish(pop3a_sasl *s)
{
    if (s->failed)
        return -1;
    if (is_scram(s->mech) && !pop3a_scram_verified(s->scram)) {
        s->err = "SCRAM: the server accepted without proving it knows the password "
                 "(no verified server signature)";
        return -1;
    }
    if (!s->complete) {
        if (s->err == NULL)
            s->err = "the server accepted an incomplete exchange";
        return -1;
    }
    return 0;
}
