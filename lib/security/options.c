/*
 * The options object: public setters (pop3async.h) and the internal copy used by
 * pop3a_client_new (options.h). Setters validate and copy; on any failure they
 * return -1 and leave the previous value in place.
 */
#include "options.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "alloc.h"
#include "command.h"
#include "sasl_scram.h"

/* RFC 2449 section 4: a response line may be up to 512 octets; a smaller cap
 * would refuse conforming servers. */
#define MIN_MAX_LINE 512u

void pop3a_options_defaults(pop3a_options *o)
{
    memset(o, 0, sizeof *o);
    /* Secure by default: implicit TLS (RFC 8314), verified, no cleartext. */
    o->tls_mode = POP3A_TLS_IMPLICIT;
    o->connect_ms = POP3A_DEFAULT_CONNECT_MS;
    o->idle_ms = POP3A_DEFAULT_IDLE_MS;
    o->pipeline_window = POP3A_DEFAULT_WINDOW;
    o->max_line = POP3A_DEFAULT_MAX_LINE;
    o->max_listing = POP3A_DEFAULT_MAX_LISTING;
    o->scram_max_iterations = POP3A_SCRAM_DEFAULT_MAX_ITERATIONS;
}

void pop3a_options_release(pop3a_options *o)
{
    if (o == NULL)
        return;
    SSL_CTX_free(o->ssl_ctx); /* NULL-safe; drops our reference only */
    SSL_CTX_free(o->default_ctx);
    pop3a_free(o->ca_file);
    pop3a_free(o->ca_dir);
    pop3a_free(o->verify_name);
    pop3a_free(o->cert_file);
    pop3a_free(o->key_file);
    if (o->proxy)
        OPENSSL_cleanse(o->proxy, sizeof *o->proxy); /* the proxy password */
    pop3a_free(o->proxy);
    memset(o, 0, sizeof *o);
}

/* strdup that keeps NULL as NULL; -1 only when a real copy failed. */
static int dup_or_null(const char *src, char **dst)
{
    *dst = NULL;
    if (src == NULL)
        return 0;
    *dst = pop3a_strdup(src);
    return *dst == NULL ? -1 : 0;
}

int pop3a_options_copy(pop3a_options *dst, const pop3a_options *src)
{
    *dst = *src;
    dst->ssl_ctx = NULL;
    dst->default_ctx = NULL;
    dst->proxy = NULL;
    int failed = dup_or_null(src->ca_file, &dst->ca_file) | dup_or_null(src->ca_dir, &dst->ca_dir) |
                 dup_or_null(src->verify_name, &dst->verify_name) |
                 dup_or_null(src->cert_file, &dst->cert_file) |
                 dup_or_null(src->key_file, &dst->key_file);
    if (!failed && src->proxy != NULL) {
        dst->proxy = pop3a_malloc(sizeof *dst->proxy);
        if (dst->proxy)
            *dst->proxy = *src->proxy;
        else
            failed = 1;
    }
    if (!failed && src->ssl_ctx != NULL) {
        if (SSL_CTX_up_ref(src->ssl_ctx) == 1)
            dst->ssl_ctx = src->ssl_ctx;
        else
            failed = 1;
    }
    if (failed) {
        pop3a_options_release(dst);
        return -1;
    }
    return 0;
}

/* A setter that changes what the default context is built from drops it. */
static void drop_default_ctx(pop3a_options *o)
{
    SSL_CTX_free(o->default_ctx);
    o->default_ctx = NULL;
}

/* Replaces *slot with a copy of value (NULL clears it). An empty string is
 * refused: it is never a usable file or name. */
static int replace_string(char **slot, const char *value)
{
    char *copy = NULL;
    if (value != NULL) {
        if (value[0] == '\0')
            return -1;
        copy = pop3a_strdup(value);
        if (copy == NULL)
            return -1;
    }
    pop3a_free(*slot);
    *slot = copy;
    return 0;
}

POP3A_EXPORT pop3a_options *pop3a_options_new(void)
{
    pop3a_options *o = pop3a_malloc(sizeof *o); /* owner: the caller, pop3a_options_free */
    if (o != NULL)
        pop3a_options_defaults(o);
    return o;
}

POP3A_EXPORT void pop3a_options_free(pop3a_options *opts)
{
    if (opts == NULL)
        return;
    pop3a_options_release(opts);
    pop3a_free(opts);
}

POP3A_EXPORT int pop3a_options_set_tls(pop3a_options *opts, pop3a_tls_mode mode,
                                       struct ssl_ctx_st *ctx)
{
    if (opts == NULL ||
        (mode != POP3A_TLS_NONE && mode != POP3A_TLS_IMPLICIT && mode != POP3A_TLS_STLS))
        return -1;
    if (ctx != NULL && SSL_CTX_up_ref(ctx) != 1)
        return -1;
    SSL_CTX_free(opts->ssl_ctx);
    opts->ssl_ctx = ctx;
    opts->tls_mode = mode;
    drop_default_ctx(opts);
    return 0;
}

POP3A_EXPORT int pop3a_options_set_proxy(pop3a_options *opts, const char *url)
{
    if (opts == NULL)
        return -1;
    pop3a_socks5_url *proxy = NULL;
    if (url != NULL) {
        proxy = pop3a_malloc(sizeof *proxy);
        if (proxy == NULL)
            return -1;
        if (pop3a_socks5_url_parse(url, proxy) != 0) {
            pop3a_free(proxy); /* the parser cleared it */
            return -1;
        }
    }
    if (opts->proxy)
        OPENSSL_cleanse(opts->proxy, sizeof *opts->proxy);
    pop3a_free(opts->proxy);
    opts->proxy = proxy;
    return 0;
}

POP3A_EXPORT int pop3a_options_set_ca(pop3a_options *opts, const char *ca_file,
                                      const char *ca_dir)
{
    if (opts == NULL || (ca_file != NULL && ca_file[0] == '\0') ||
        (ca_dir != NULL && ca_dir[0] == '\0'))
        return -1;
    char *file = NULL, *dir = NULL;
    if (dup_or_null(ca_file, &file) < 0 || dup_or_null(ca_dir, &dir) < 0) {
        pop3a_free(file);
        return -1;
    }
    pop3a_free(opts->ca_file);
    pop3a_free(opts->ca_dir);
    opts->ca_file = file;
    opts->ca_dir = dir;
    drop_default_ctx(opts);
    return 0;
}

/* The name goes out as SNI and shows in the connect trace and errors, as the
 * host given to pop3a_connect does: the same CR/LF rule (pop3a_arg_ok). */
POP3A_EXPORT int pop3a_options_set_verify_name(pop3a_options *opts, const char *name)
{
    if (opts == NULL || (name != NULL && pop3a_arg_ok(name) != 0))
        return -1;
    return replace_string(&opts->verify_name, name);
}

POP3A_EXPORT int pop3a_options_set_tls_pin_sha256(pop3a_options *opts, const uint8_t pin[32])
{
    if (opts == NULL)
        return -1;
    if (pin == NULL) { /* removes the pin */
        memset(opts->pin, 0, sizeof opts->pin);
        opts->has_pin = 0;
        return 0;
    }
    memcpy(opts->pin, pin, sizeof opts->pin);
    opts->has_pin = 1;
    return 0;
}

POP3A_EXPORT int pop3a_options_set_client_cert(pop3a_options *opts, const char *cert_file,
                                               const char *key_file)
{
    if (opts == NULL || (cert_file == NULL && key_file != NULL) ||
        (cert_file != NULL && cert_file[0] == '\0') || (key_file != NULL && key_file[0] == '\0'))
        return -1;
    char *cert = NULL, *key = NULL;
    if (dup_or_null(cert_file, &cert) < 0 || dup_or_null(key_file, &key) < 0) {
        pop3a_free(cert);
        return -1;
    }
    pop3a_free(opts->cert_file);
    pop3a_free(opts->key_file);
    opts->cert_file = cert;
    opts->key_file = key;
    drop_default_ctx(opts);
    return 0;
}

POP3A_EXPORT int pop3a_options_set_tls_insecure_skip_verify(pop3a_options *opts, int yes)
{
    if (opts == NULL)
        return -1;
    opts->insecure_skip_verify = yes != 0;
    drop_default_ctx(opts);
    return 0;
}

POP3A_EXPORT int pop3a_options_set_timeouts(pop3a_options *opts, uint32_t connect_ms,
                                            uint32_t idle_ms)
{
    if (opts == NULL)
        return -1;
    if (connect_ms != 0)
        opts->connect_ms = connect_ms;
    if (idle_ms != 0)
        opts->idle_ms = idle_ms;
    return 0;
}

POP3A_EXPORT int pop3a_options_set_pipelining(pop3a_options *opts, uint32_t max_in_flight)
{
    if (opts == NULL || max_in_flight == 0)
        return -1;
    opts->pipeline_window = max_in_flight;
    return 0;
}

POP3A_EXPORT int pop3a_options_allow_cleartext(pop3a_options *opts, int yes)
{
    if (opts == NULL)
        return -1;
    opts->allow_cleartext = yes != 0;
    return 0;
}

POP3A_EXPORT int pop3a_options_set_max_line(pop3a_options *opts, uint32_t octets)
{
    if (opts == NULL || octets < MIN_MAX_LINE)
        return -1;
    opts->max_line = octets;
    return 0;
}

POP3A_EXPORT int pop3a_options_set_max_listing(pop3a_options *opts, uint32_t entries)
{
    if (opts == NULL || entries == 0)
        return -1;
    opts->max_listing = entries;
    return 0;
}

POP3A_EXPORT int pop3a_options_set_size_check(pop3a_options *opts, pop3a_size_check mode)
{
    if (opts == NULL || (mode != POP3A_SIZE_CHECK_AUTO && mode != POP3A_SIZE_CHECK_STRICT &&
                         mode != POP3A_SIZE_CHECK_OFF))
        return -1;
    opts->size_check = mode;
    return 0;
}

POP3A_EXPORT int pop3a_options_set_scram_max_iterations(pop3a_options *opts, uint32_t iterations)
{
    if (opts == NULL || iterations == 0)
        return -1;
    opts->scram_max_iterations = iterations;
    return 0;
}

POP3A_EXPORT int pop3a_options_set_trace(pop3a_options *opts, pop3a_trace_cb cb, void *arg)
{
    if (opts == NULL)
        return -1;
    opts->trace = cb;
    opts->trace_arg = cb != NULL ? arg : NULL;
    return 0;
}
