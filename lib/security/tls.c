/*
 * TLS policy over OpenSSL: the default client context, per-connection SSL
 * objects with SNI and the name check, certificate pinning, failure reasons and
 * channel binding. No libevent: client.c hands the SSL to bufferevent_openssl.
 *
 * Verification is the default and is enforced twice: OpenSSL aborts the
 * handshake (SSL_VERIFY_PEER with SSL_set1_host or the IP check), and
 * pop3a_tls_check_peer refuses a completed handshake whose verify result is not
 * X509_V_OK (a caller's context may have been set to SSL_VERIFY_NONE).
 */
#include "tls.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "alloc.h"

/* RFC 9266 section 2: the label, 32 bytes, no context. */
#define EXPORTER_LABEL "EXPORTER-Channel-Binding"
#define EXPORTER_LEN 32
/* Longest host name: RFC 1035 section 2.3.4, plus a trailing dot. */
#define MAX_HOST_NAME 254

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static _Thread_local int last_failure_was_nomem; /* for pop3a_tls_out_of_memory */

/* Empties OpenSSL's error queue: 1 when one of its entries was a failed
 * allocation. */
static int drain_errors_nomem(void)
{
    int nomem = 0;
    for (unsigned long q; (q = ERR_get_error()) != 0;)
        nomem |= ERR_GET_REASON(q) == ERR_R_MALLOC_FAILURE;
    return nomem;
}

/* `what`, then the first queued OpenSSL error (the root cause) if any; the
 * queue is cleared. */
static void set_openssl_err(char *err, size_t errlen, const char *what)
{
    char reason[256] = "";
    unsigned long e = ERR_peek_error();
    if (e != 0)
        ERR_error_string_n(e, reason, sizeof reason);
    last_failure_was_nomem = drain_errors_nomem();
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s%s%s", what, reason[0] != '\0' ? ": " : "", reason);
}

/* An IPv4 or IPv6 literal (RFC 6066 section 3: never sent as SNI; RFC 6125
 * section 6.2: checked against iPAddress SANs, not DNS names). */
static int is_ip_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* ------------------------------------------------------------------ context */

static int load_trust(SSL_CTX *ctx, const pop3a_options *o, char *err, size_t errlen)
{
    if (o->ca_file != NULL || o->ca_dir != NULL) {
        if (SSL_CTX_load_verify_locations(ctx, o->ca_file, o->ca_dir) != 1) {
            set_openssl_err(err, errlen, "cannot load the CA file/dir");
            return -1;
        }
        return 0;
    }
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        set_openssl_err(err, errlen, "cannot load the system trust store");
        return -1;
    }
    return 0;
}

int pop3a_tls_first_use(void)
{
    if (OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS,
                         NULL) != 1)
        return -1;
    /* OpenSSL 3.0 makes its default library context on first use, once; when
     * that fails, later calls fall back to the half-made context and crash on
     * its NULL lock (RAND_bytes first). This call reports the failure. */
    if (OSSL_LIB_CTX_get0_global_default() == NULL)
        return -1;
    unsigned char probe;
    if (RAND_bytes(&probe, 1) == 1)
        return 0;
    /* Only memory counts: a generator missing by configuration (a FIPS
     * property query without the FIPS provider) is not a reason to refuse a
     * client that may never need it; SCRAM's nonce reports that failure. */
    return drain_errors_nomem() ? -1 : 0;
}

int pop3a_tls_out_of_memory(void)
{
    return last_failure_was_nomem;
}

/* Client certificate (a PEM chain) and its key; the key may sit in the same
 * file when key_file is NULL. */
static int load_client_cert(SSL_CTX *ctx, const pop3a_options *o, char *err, size_t errlen)
{
    if (o->cert_file == NULL)
        return 0;
    const char *key = o->key_file != NULL ? o->key_file : o->cert_file;
    if (SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1) {
        set_openssl_err(err, errlen, "cannot load the client certificate");
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        set_openssl_err(err, errlen, "cannot load the client key");
        return -1;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        set_openssl_err(err, errlen, "the client key does not match its certificate");
        return -1;
    }
    return 0;
}

SSL_CTX *pop3a_tls_ctx_new(const pop3a_options *o, char *err, size_t errlen)
{
    if (o->ssl_ctx != NULL) {
        if (SSL_CTX_up_ref(o->ssl_ctx) != 1) {
            set_openssl_err(err, errlen, "SSL_CTX_up_ref failed");
            return NULL;
        }
        return o->ssl_ctx;
    }
    if (o->default_ctx != NULL && SSL_CTX_up_ref(o->default_ctx) == 1)
        return o->default_ctx; /* shared with the other clients of one options object */
    SSL_CTX *ctx = POP3A_MAY_FAIL(SSL_CTX_new(TLS_client_method()), NULL);
    if (ctx == NULL) {
        set_err(err, errlen, POP3A_TLS_ERR_NOMEM);
        return NULL;
    }
    /* RFC 8996 deprecates TLS 1.0/1.1; RFC 8314 section 4.1 asks for >= 1.2.
     * Compression invites CRIME; renegotiation serves no purpose here. */
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
        set_openssl_err(err, errlen, "cannot require TLS 1.2");
        goto fail;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_verify(ctx, o->insecure_skip_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    if (load_trust(ctx, o, err, errlen) < 0 || load_client_cert(ctx, o, err, errlen) < 0)
        goto fail;
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

void pop3a_tls_share_default_ctx(pop3a_options *dst, const pop3a_options *src)
{
    if (src->ssl_ctx != NULL || src->tls_mode == POP3A_TLS_NONE)
        return; /* the caller's context, or no TLS at all */
    /* src is always made by pop3a_options_new (heap, never a const object), so
     * filling its cache through this pointer is defined; the exchange keeps two
     * threads making clients from one object at once from leaking a context. */
    SSL_CTX **cache = (SSL_CTX **)&((pop3a_options *)src)->default_ctx;
    SSL_CTX *ctx = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
    if (ctx == NULL) {
        char err[128];
        SSL_CTX *fresh = pop3a_tls_ctx_new(src, err, sizeof err);
        if (fresh == NULL)
            return;
        SSL_CTX *expected = NULL;
        if (__atomic_compare_exchange_n(cache, &expected, fresh, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            ctx = fresh; /* the cache now holds fresh's one reference */
        } else {
            SSL_CTX_free(fresh);
            ctx = expected;
        }
    }
    if (SSL_CTX_up_ref(ctx) == 1)
        dst->default_ctx = ctx;
}

/* ---------------------------------------------------------- per connection */

/* SNI (RFC 6066 section 3): a DNS name without the trailing dot, never an IP
 * literal. The name the certificate must carry is the one to announce, so a
 * verify_name wins over the host connected to. */
static int set_sni(SSL *ssl, const char *name, char *err, size_t errlen)
{
    if (is_ip_literal(name))
        return 0;
    char sni[MAX_HOST_NAME + 1];
    size_t len = strlen(name);
    if (len > 0 && name[len - 1] == '.')
        len--;
    if (len == 0 || len >= sizeof sni) {
        set_err(err, errlen, "invalid host name for SNI: \"%.200s\"", name);
        return -1;
    }
    memcpy(sni, name, len);
    sni[len] = '\0';
    if (SSL_set_tlsext_host_name(ssl, sni) != 1) {
        set_openssl_err(err, errlen, "cannot set SNI");
        return -1;
    }
    return 0;
}

/* The name check (RFC 6125): a DNS name against the DNS SANs, no partial
 * wildcards ("w*.example.com"); an IP literal against the iPAddress SANs. */
static int set_name_check(SSL *ssl, const char *name, char *err, size_t errlen)
{
    if (is_ip_literal(name)) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) != 1) {
            set_openssl_err(err, errlen, "cannot set the IP address check");
            return -1;
        }
        return 0;
    }
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl, name) != 1) {
        set_openssl_err(err, errlen, "cannot set the host name check");
        return -1;
    }
    return 0;
}

SSL *pop3a_tls_ssl_new(SSL_CTX *ctx, const pop3a_options *o, const char *host, char *err,
                       size_t errlen)
{
    const char *name = o->verify_name != NULL ? o->verify_name : host;
    if (name == NULL || name[0] == '\0') {
        set_err(err, errlen, "no host name to verify the certificate against");
        return NULL;
    }
    SSL *ssl = POP3A_MAY_FAIL(SSL_new(ctx), NULL);
    if (ssl == NULL) {
        set_err(err, errlen, POP3A_TLS_ERR_NOMEM);
        return NULL;
    }
    /* A daemon holds thousands of sessions that mostly wait: without this each
     * keeps a 16 KiB+ read and write buffer for its whole life (issue 14 s5).
     * Set on the SSL, so a caller's context gets it too. */
    SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
    if (set_sni(ssl, name, err, errlen) < 0)
        goto fail;
    if (o->insecure_skip_verify) {
        SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
        return ssl;
    }
    /* A caller's context may say SSL_VERIFY_NONE: verification is still on
     * unless the options say otherwise. Its verify callback, if any, is kept. */
    if ((SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) == 0)
        SSL_set_verify(ssl, SSL_VERIFY_PEER, SSL_get_verify_callback(ssl));
    if (set_name_check(ssl, name, err, errlen) < 0)
        goto fail;
    return ssl;
fail:
    SSL_free(ssl);
    return NULL;
}

/* ------------------------------------------------------------- after shake */

/* SHA-256 over the leaf certificate's DER encoding (what mpop's
 * tls_fingerprint and `openssl x509 -fingerprint -sha256` show). */
static int pin_matches(X509 *cert, const uint8_t pin[32])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (X509_digest(cert, EVP_sha256(), md, &len) != 1 || len != 32)
        return 0;
    return CRYPTO_memcmp(md, pin, 32) == 0;
}

int pop3a_tls_check_peer(SSL *ssl, const pop3a_options *o, char *err, size_t errlen)
{
    X509 *cert = SSL_get0_peer_certificate(ssl);
    if (cert == NULL) {
        set_err(err, errlen, "the server sent no certificate");
        return -1;
    }
    if (!o->insecure_skip_verify) {
        long vr = SSL_get_verify_result(ssl);
        if (vr != X509_V_OK) {
            set_err(err, errlen, "certificate verification failed: %s",
                    X509_verify_cert_error_string(vr));
            return -1;
        }
    }
    if (o->has_pin && !pin_matches(cert, o->pin)) {
        set_err(err, errlen, "the server certificate does not match the pinned SHA-256");
        return -1;
    }
    return 0;
}

/* The name the SSL's owner asked OpenSSL to check, else the SNI it sends. */
static const char *ssl_own_name(SSL *ssl)
{
    const char *name = X509_VERIFY_PARAM_get0_host(SSL_get0_param(ssl), 0);
    if (name == NULL || name[0] == '\0')
        name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    return name != NULL && name[0] != '\0' ? name : NULL;
}

long pop3a_tls_check_name(SSL *ssl, const pop3a_options *o, const char *host, char *err,
                          size_t errlen)
{
    if (o->insecure_skip_verify)
        return X509_V_OK;
    const char *name = o->verify_name != NULL ? o->verify_name : host;
    if (name == NULL || name[0] == '\0')
        name = ssl_own_name(ssl);
    if (name == NULL) {
        set_err(err, errlen, "no host name to check the certificate against "
                             "(pop3a_options_set_verify_name)");
        return X509_V_ERR_UNSPECIFIED;
    }
    X509 *cert = SSL_get0_peer_certificate(ssl);
    if (cert == NULL) {
        set_err(err, errlen, "the server sent no certificate");
        return X509_V_ERR_UNSPECIFIED;
    }
    int ip = is_ip_literal(name);
    /* "host." is the same DNS name as "host" (as for SNI); X509_check_host
     * would compare the dot too. */
    size_t len = strlen(name);
    if (!ip && len > 1 && name[len - 1] == '.')
        len--;
    int ok = ip ? X509_check_ip_asc(cert, name, 0)
                : X509_check_host(cert, name, len, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL);
    if (ok == 1)
        return X509_V_OK;
    long code = ip ? X509_V_ERR_IP_ADDRESS_MISMATCH : X509_V_ERR_HOSTNAME_MISMATCH;
    set_err(err, errlen, "certificate verification failed: %s (\"%.200s\")",
            X509_verify_cert_error_string(code), name);
    return code;
}

void pop3a_tls_describe_failure(SSL *ssl, unsigned long openssl_err, char *err, size_t errlen)
{
    if (err == NULL || errlen == 0) {
        ERR_clear_error();
        return;
    }
    /* Only meaningful when OpenSSL was verifying: with SSL_VERIFY_NONE the
     * result is recorded but did not cause the failure. */
    if (ssl != NULL && (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) != 0) {
        long vr = SSL_get_verify_result(ssl);
        if (vr != X509_V_OK) {
            ERR_clear_error();
            set_err(err, errlen, "certificate verification failed: %s",
                    X509_verify_cert_error_string(vr));
            return;
        }
    }
    unsigned long e = openssl_err != 0 ? openssl_err : ERR_peek_error();
    ERR_clear_error();
    if (e == 0) {
        set_err(err, errlen, "TLS handshake failed (connection closed or I/O error)");
        return;
    }
    char reason[256];
    ERR_error_string_n(e, reason, sizeof reason);
    set_err(err, errlen, "TLS handshake failed: %s", reason);
}

/* ---------------------------------------------------------- channel binding */

/* RFC 9266: TLS 1.3 only here (for 1.2 it would need extended master secret,
 * and tls-server-end-point serves 1.2 well). */
static size_t tls_exporter(SSL *ssl, unsigned char *out, size_t cap)
{
    if (SSL_version(ssl) != TLS1_3_VERSION || cap < EXPORTER_LEN)
        return 0;
    if (SSL_export_keying_material(ssl, out, EXPORTER_LEN, EXPORTER_LABEL,
                                   sizeof EXPORTER_LABEL - 1, NULL, 0, 0) != 1)
        return 0;
    return EXPORTER_LEN;
}

/* RFC 5929 section 4.1: the hash of the server's certificate with the hash
 * of its signature algorithm, SHA-256 instead of MD5 or SHA-1; undefined for
 * algorithms without one hash (e.g. Ed25519), then 0. */
static size_t tls_server_end_point(SSL *ssl, unsigned char *out, size_t cap)
{
    X509 *cert = SSL_get0_peer_certificate(ssl);
    int md_nid = NID_undef;
    if (cert == NULL || X509_get_signature_info(cert, &md_nid, NULL, NULL, NULL) != 1)
        return 0;
    if (md_nid == NID_md5 || md_nid == NID_sha1)
        md_nid = NID_sha256;
    const EVP_MD *md = md_nid != NID_undef ? EVP_get_digestbynid(md_nid) : NULL;
    if (md == NULL || (size_t)EVP_MD_get_size(md) > cap)
        return 0;
    unsigned int len = 0;
    if (X509_digest(cert, md, out, &len) != 1)
        return 0;
    return len;
}

size_t pop3a_tls_channel_binding(SSL *ssl, const char *type, unsigned char *out, size_t cap)
{
    if (ssl == NULL || type == NULL || out == NULL)
        return 0;
    if (strcmp(type, "tls-exporter") == 0)
        return tls_exporter(ssl, out, cap);
    if (strcmp(type, "tls-server-end-point") == 0)
        return tls_server_end_point(ssl, out, cap);
    return 0;
}
