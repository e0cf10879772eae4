/* The options object's layout, shared by client.c and tls.c. */
#ifndef POP3A_OPTIONS_H
#define POP3A_OPTIONS_H

#include <stdint.h>

#include "pop3async/pop3async.h"
#include "socks5.h"

struct pop3a_options {
    pop3a_tls_mode tls_mode;
    struct ssl_ctx_st *ssl_ctx; /* caller's context, up-ref'd; NULL = build a default */
    /* Without ssl_ctx: the default context built from these settings for the
     * first client made from this object, then shared (up-ref'd) by every later
     * one: each context costs ~26 KiB and loads the trust store, which 10,000
     * clients must not repeat. Set through a const pointer by
     * pop3a_tls_share_default_ctx (tls.c, atomically), dropped by the TLS setters. */
    struct ssl_ctx_st *default_ctx;
    char *ca_file;              /* malloc'd or NULL */
    char *ca_dir;
    char *verify_name;          /* NULL = the host given to pop3a_connect */
    char *cert_file;
    char *key_file;
    uint8_t pin[32];
    int has_pin;
    int insecure_skip_verify;
    uint32_t connect_ms;
    uint32_t idle_ms;
    uint32_t pipeline_window;   /* 1 = no pipelining */
    uint32_t max_line;
    uint32_t max_listing;
    pop3a_size_check size_check;
    uint32_t scram_max_iterations;
    int allow_cleartext;
    pop3a_socks5_url *proxy;    /* malloc'd or NULL; holds the proxy password */
    pop3a_trace_cb trace;
    void *trace_arg;
};

#define POP3A_DEFAULT_CONNECT_MS 30000u
#define POP3A_DEFAULT_IDLE_MS 60000u
/* Enough to have a whole typical mailbox's RETRs in one round trip; safe because
 * the client keeps reading while it writes, so a full server cannot deadlock us. */
#define POP3A_DEFAULT_WINDOW 1024u
#define POP3A_DEFAULT_MAX_LINE 8192u
/* A UIDL entry costs up to ~90 bytes: ~90 MB at the cap. A STAT on the same
 * connection lowers it to its count (client.c: pop3a_listing_cap). */
#define POP3A_DEFAULT_MAX_LISTING 1000000u

/* Defaults into an uninitialised struct. */
void pop3a_options_defaults(pop3a_options *o);
/* Deep copy into an uninitialised dst; 0 or -1 (dst is then cleared). */
int pop3a_options_copy(pop3a_options *dst, const pop3a_options *src);
/* Frees what the struct owns (not the struct). */
void pop3a_options_release(pop3a_options *o);

#endif
