/* TLS policy on top of OpenSSL: contexts, per-connection SSL objects with SNI and
 * host verification, certificate pinning and error reporting. No libevent here;
 * client.c wires the SSL into bufferevent_openssl. */
#ifndef POP3A_TLS_H
#define POP3A_TLS_H

#include <stddef.h>
#include <string.h>

#include <openssl/ssl.h>

#include "options.h"

/* OpenSSL's lazy first uses, done where a failure can be reported: the
 * library's initialisation (OPENSSL_init_ssl, which includes crypto's) and
 * the random generator (a one-byte RAND_bytes: the SCRAM nonce's source).
 * Out of memory there, OpenSSL 3 leaves global state half-made and a later
 * RAND_bytes crashes (CRYPTO_THREAD_read_lock(NULL)); checked at client
 * creation, it is a NULL client instead. 0, or -1 when out of memory (a
 * generator that fails for another reason is left to its user). */
int pop3a_tls_first_use(void);

/* 1 when the last failure of this file's calls on this thread (a context or
 * an SSL not made) was OpenSSL running out of memory. */
int pop3a_tls_out_of_memory(void);

/* The context for a client: the caller's (one more reference taken) or a default
 * one: system trust store or the options' CA file/dir, TLS 1.2 minimum, no
 * compression or renegotiation, SSL_VERIFY_PEER unless insecure_skip_verify,
 * client cert/key if set (key_file NULL: the key is in cert_file). The caller
 * frees it with SSL_CTX_free. NULL on failure with a reason in err. */
SSL_CTX *pop3a_tls_ctx_new(const pop3a_options *o, char *err, size_t errlen);

/* The reason pop3a_tls_ctx_new and pop3a_tls_ssl_new give when OpenSSL could not
 * allocate the context or the SSL: the caller reports POP3A_ERR_NOMEM then. */
#define POP3A_TLS_ERR_NOMEM "out of memory for OpenSSL's TLS objects"
static inline int pop3a_tls_err_is_nomem(const char *err)
{
    return strcmp(err, POP3A_TLS_ERR_NOMEM) == 0;
}

/* An SSL for one connection to `host`: the name is o->verify_name or else host;
 * it is sent as SNI (only a DNS name, trailing dot removed, never an IP literal,
 * RFC 6066) and checked against the certificate (an IP literal as an IP
 * address; no partial wildcards). Verification is forced on, even when a
 * caller's context says SSL_VERIFY_NONE, unless insecure_skip_verify. NULL on
 * failure with a reason in err. */
SSL *pop3a_tls_ssl_new(SSL_CTX *ctx, const pop3a_options *o, const char *host, char *err,
                       size_t errlen);

/* After a completed handshake: enforces the SHA-256 pin if one is set (compared
 * in constant time), and (as a second line of defence) that verification
 * succeeded unless skipped. A server without a certificate always fails.
 * Returns 0, or -1 with a reason in err. */
int pop3a_tls_check_peer(SSL *ssl, const pop3a_options *o, char *err, size_t errlen);

/* After a completed handshake: the certificate names the server (RFC 6125, as
 * pop3a_tls_ssl_new sets up; an IP literal against the iPAddress SANs). The
 * name is o->verify_name, else `host`, else the name the SSL's owner set up
 * for its own check (SSL_set1_host) or sent as SNI: an SSL the caller made
 * (pop3a_attach) may have neither, and then there is nothing to check against,
 * which fails. Nothing is checked with insecure_skip_verify. Returns X509_V_OK,
 * or with a reason in err X509_V_ERR_HOSTNAME_MISMATCH / _IP_ADDRESS_MISMATCH,
 * or X509_V_ERR_UNSPECIFIED when there is no name or no certificate. */
long pop3a_tls_check_name(SSL *ssl, const pop3a_options *o, const char *host, char *err,
                         size_t errlen);

/* A reason for a failed handshake: the verify result string when verification
 * was on and failed, else openssl_err (pass the SSL_ERROR_SSL cause, or 0 to
 * take the first entry of the queue). The queue is cleared. */
void pop3a_tls_describe_failure(SSL *ssl, unsigned long openssl_err, char *err, size_t errlen);

/* Channel binding data for SCRAM-PLUS: "tls-exporter" (TLS 1.3 only, 32 bytes,
 * RFC 9266) or "tls-server-end-point" (RFC 5929 section 4.1: the server
 * certificate's hash; EVP_MAX_MD_SIZE is enough). Writes into out and returns
 * the length, or 0 when not available (other type, TLS 1.2 for the exporter,
 * a signature without a single hash such as Ed25519, cap too small). Prefer
 * tls-exporter on TLS 1.3, tls-server-end-point otherwise. */
size_t pop3a_tls_channel_binding(SSL *ssl, const char *type, unsigned char *out, size_t cap);

/* Gives dst (a client's copy of src) src's shared default TLS context, building
 * it first if src has none yet and TLS will be needed. Best effort: when it
 * cannot be built, dst gets none and the client builds (and reports) its own
 * at connect time. */
void pop3a_tls_share_default_ctx(pop3a_options *dst, const pop3a_options *src);

#endif
