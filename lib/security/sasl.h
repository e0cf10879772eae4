/*
 * SASL client mechanisms (RFC 4422) as pure state machines: raw bytes in, raw
 * bytes out; base64 and the AUTH command framing (RFC 5034) are the caller's.
 */
#ifndef POP3A_SASL_H
#define POP3A_SASL_H

#include <stddef.h>
#include <stdint.h>

typedef struct pop3a_sasl pop3a_sasl;

/* Channel binding for SCRAM (RFC 5802 section 6). Pass NULL when the connection
 * cannot bind (no TLS): gs2 flag "n". With type "tls-exporter" or
 * "tls-server-end-point" and the data (pop3a_tls_channel_binding): the -PLUS
 * mechanism, gs2 flag "p=type". With type NULL: the client could bind but the
 * server did not offer -PLUS: gs2 flag "y", so a server that does support
 * binding detects the downgrade. The data is copied. Ignored by other mechs. */
typedef struct {
    const char *type;
    const unsigned char *data;
    size_t len;
} pop3a_sasl_cb;

typedef enum {
    POP3A_SASL_CONTINUE = 0, /* send *out (may be empty), expect another message */
    POP3A_SASL_ERROR = -1,   /* the server's message was malformed or failed a check:
                                cancel with "*"; pop3a_sasl_error says why */
    POP3A_SASL_NOMEM = -2
} pop3a_sasl_rc;

/* mech: one POP3A_MECH_* SASL bit (PLAIN, LOGIN, CRAM_MD5, SCRAM_SHA_1,
 * SCRAM_SHA_256, XOAUTH2, OAUTHBEARER, EXTERNAL). secret is the password or the
 * OAuth token. Strings are copied; the copy of the secret is wiped on free.
 * `nonce` (may be NULL) fixes the SCRAM client nonce for tests; otherwise random.
 * user/secret NULL mean "". NULL only for out-of-memory or a bad mech (USER,
 * APOP, several bits); a bad argument (e.g. ^A in an XOAUTH2 user name, a user
 * name SASLprep rejects) is reported by pop3a_sasl_start/_step as ERROR. */
pop3a_sasl *pop3a_sasl_new(unsigned mech, const char *user, const char *secret,
                           const pop3a_sasl_cb *cb, const char *nonce);
void pop3a_sasl_free(pop3a_sasl *s);
/* SCRAM: the highest iteration count accepted from the server (default
 * POP3A_SCRAM_DEFAULT_MAX_ITERATIONS, sasl_scram.h). No-op for other mechs. */
void pop3a_sasl_set_max_iterations(pop3a_sasl *s, uint32_t max);

/* 1 if the mechanism sends data first (the initial response; PLAIN, SCRAM,
 * XOAUTH2, OAUTHBEARER, EXTERNAL), 0 if it waits for a challenge (LOGIN, CRAM-MD5). */
int pop3a_sasl_client_first(const pop3a_sasl *s);
/* 1 when this mechanism exposes the secret to an eavesdropper without TLS
 * (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER: bearer tokens are replayable; and
 * USER/PASS). With a mask: 1 if any of its bits is such a mechanism. */
int pop3a_sasl_is_cleartext(unsigned mech);
/* The name for the AUTH command: "SCRAM-SHA-256-PLUS" when channel binding
 * data was given, else the plain name ("SCRAM-SHA-256", "PLAIN", ...). Static. */
const char *pop3a_sasl_mech_name(const pop3a_sasl *s);

/* Initial response (client-first mechanisms). *out is malloc'd (caller frees,
 * preferably with pop3a_sasl_response_free: it may hold the password), *out_len
 * may be 0 (send "="). When the encoded response does not fit the AUTH line
 * (RFC 5034 section 4: 255 octets), send "AUTH MECH" alone and send *out as
 * the answer to the server's empty "+ " challenge; or pass that empty challenge
 * to pop3a_sasl_step without calling start: it then returns the same bytes. */
pop3a_sasl_rc pop3a_sasl_start(pop3a_sasl *s, unsigned char **out, size_t *out_len);
/* One server challenge (decoded) in, one response out (malloc'd, caller frees;
 * *out_len may be 0: send an empty line). CONTINUE for XOAUTH2/OAUTHBEARER
 * error challenges too (the response is the mechanism's "I give up" reply; the
 * server then says -ERR and pop3a_sasl_error holds its JSON). For SCRAM the
 * server-final "v=" comes as a challenge (POP3 has no data with +OK; RFC 4422
 * section 3.6) and is verified here; its answer is empty. */
pop3a_sasl_rc pop3a_sasl_step(pop3a_sasl *s, const unsigned char *in, size_t in_len,
                              unsigned char **out, size_t *out_len);
/* After the server's +OK: 0 if the exchange is complete and, for SCRAM, the server
 * signature was verified; -1 otherwise (then the login must fail). */
int pop3a_sasl_finish(pop3a_sasl *s);
/* Why the last call failed (static or owned by s), or a server's OAuth JSON error
 * text (control characters replaced by '?'); "" if nothing. */
const char *pop3a_sasl_error(const pop3a_sasl *s);

/* Wipes (OPENSSL_cleanse) and frees a response from start/step. NULL is a no-op. */
void pop3a_sasl_response_free(unsigned char *out, size_t len);

#endif
