/*
 * libpop3async: a non-blocking POP3 client on libevent.
 *
 * Every POP3 command is a *future*: a submit call queues it and returns at once;
 * its done callback runs exactly once, later, from the event loop. RETR and TOP
 * stream the message through a chunk callback, so memory stays bounded whatever
 * the message size.
 *
 * Callback contract (the part users rely on):
 *  1. A submit call that returns NULL never calls back; pop3a_client_error() says
 *     why (POP3A_ERR_INVALID for a bad argument, POP3A_ERR_CLOSED when the client
 *     is being freed, POP3A_ERR_NOMEM). A submit that returns a future calls its
 *     done callback exactly once, from the event loop, never inside the submit.
 *  2. The library owns a future until its done callback returns; the results
 *     (text, listing, capabilities) live in it. pop3a_future_ref() keeps it, and
 *     its results, alive longer; pop3a_future_unref() releases that reference.
 *  3. Chunks are valid only during the chunk callback, are not NUL-terminated and
 *     may be any size from 1 byte. `final` is 1 exactly once, on success, possibly
 *     with len 0. After an error no chunk comes. Returning POP3A_CHUNK_PAUSE stops
 *     reading until pop3a_future_resume(); any value other than CONTINUE/PAUSE
 *     aborts: the reply cannot be abandoned halfway, so the connection is closed,
 *     this future fails with POP3A_ERR_CANCELLED and every other pending one with
 *     POP3A_ERR_CLOSED. Aborting on the final chunk only fails this future
 *     (CANCELLED): the reply is complete and the session goes on.
 *  4. Futures complete in submission order (a cancelled one too, when its turn
 *     comes). With PIPELINING advertised, commands after login are sent without
 *     waiting, up to the window, and QUIT may follow them at once (nothing is
 *     sent after QUIT); otherwise one at a time.
 *  5. pop3a_future_cancel() on a queued command: it is never sent and completes
 *     with POP3A_ERR_CANCELLED on a later loop turn. On a sent one: its reply is
 *     read and dropped (no more chunks). Allowed inside any callback. On a
 *     connect or login already under way: nothing more is sent (no PASS, no
 *     SASL response), the connection is dropped (the others pending fail with
 *     POP3A_ERR_CLOSED, the close callback gets POP3A_ERR_CLOSED) and the client
 *     is disconnected, ready for pop3a_connect again.
 *  6. pop3a_client_free() is safe from inside any callback: teardown happens when
 *     the outermost library frame returns. Pending futures complete with
 *     POP3A_ERR_CLOSED; submits from those callbacks return NULL.
 *  7. A lost connection fails every pending future once, then calls the close
 *     callback. The client is never freed behind the caller's back.
 *
 * Threads: a client and its futures belong to the thread running its event_base.
 * Strings passed in are copied unless a comment says otherwise.
 */
#ifndef POP3ASYNC_POP3ASYNC_H
#define POP3ASYNC_POP3ASYNC_H

#include <stddef.h>
#include <stdint.h>

#include <pop3async/version.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(POP3A_BUILDING_LIBRARY) && defined(__GNUC__)
#define POP3A_EXPORT __attribute__((visibility("default")))
#else
#define POP3A_EXPORT
#endif

/* libevent and OpenSSL types, forward-declared so users need not include them. */
struct event_base;
struct evdns_base;
struct bufferevent;
struct ssl_ctx_st;

typedef struct pop3a_client pop3a_client;   /* one POP3 session on one event_base */
typedef struct pop3a_options pop3a_options; /* settings, copied by pop3a_client_new */
typedef struct pop3a_future pop3a_future;   /* one per submitted command */
typedef struct pop3a_capa pop3a_capa;       /* a parsed CAPA reply (RFC 2449) */

/* Values are stable and only ever appended. */
typedef enum {
    POP3A_OK = 0,
    POP3A_ERR_SERVER,       /* the server said -ERR: see pop3a_future_text/_resp_code */
    POP3A_ERR_PROTOCOL,     /* reply was not POP3: bad line, too long, bad listing */
    POP3A_ERR_IO,           /* socket error */
    POP3A_ERR_EOF,          /* connection closed before the reply was complete */
    POP3A_ERR_TIMEOUT,      /* connect, greeting or reply took too long */
    POP3A_ERR_DNS,          /* host name did not resolve */
    POP3A_ERR_TLS,          /* handshake or certificate verification failed */
    POP3A_ERR_TLS_REQUIRED, /* STLS missing or refused while TLS is required */
    POP3A_ERR_AUTH,         /* every permitted login mechanism was refused */
    POP3A_ERR_CLEARTEXT,    /* would send a password in clear and that is not allowed */
    POP3A_ERR_CANCELLED,    /* pop3a_future_cancel() or a chunk callback abort */
    POP3A_ERR_CLOSED,       /* the client was freed or the connection was shut */
    POP3A_ERR_NOMEM,        /* out of memory */
    POP3A_ERR_INVALID,      /* bad argument, e.g. CR/LF/NUL in a string, message 0 */
    POP3A_ERR_STATE,        /* command not allowed in the session's current state */
    POP3A_ERR_UNSUPPORTED   /* the server (or this build) lacks the capability */
} pop3a_status;

/* A short English description; never NULL, static storage. */
POP3A_EXPORT const char *pop3a_strerror(pop3a_status status);
/* The enumerator's name, e.g. "POP3A_ERR_AUTH"; never NULL, static storage. */
POP3A_EXPORT const char *pop3a_status_name(pop3a_status status);

/* Extended response codes in brackets after +OK/-ERR (RFC 2449 section 8, RFC 3206). */
typedef enum {
    POP3A_RESP_NONE = 0,    /* no bracketed code */
    POP3A_RESP_IN_USE,      /* [IN-USE]: maildrop locked by another session */
    POP3A_RESP_LOGIN_DELAY, /* [LOGIN-DELAY]: logged in too recently */
    POP3A_RESP_SYS_TEMP,    /* [SYS/TEMP]: temporary server failure, retry later */
    POP3A_RESP_SYS_PERM,    /* [SYS/PERM]: permanent server failure */
    POP3A_RESP_AUTH,        /* [AUTH]: the credentials were wrong */
    POP3A_RESP_UTF8,        /* [UTF8]: needs UTF8 mode (RFC 6856) */
    POP3A_RESP_OTHER        /* some other code; the text still holds it */
} pop3a_resp_code;

typedef enum {
    POP3A_TLS_NONE = 0, /* plain TCP; passwords need pop3a_options_allow_cleartext */
    POP3A_TLS_IMPLICIT, /* TLS from the first byte (POP3S, RFC 8314, port 995) */
    POP3A_TLS_STLS      /* plain, then STLS (RFC 2595); required: never falls back */
} pop3a_tls_mode;

/* Login mechanisms, as a mask. 0 means "every mechanism the options allow". */
enum {
    POP3A_MECH_USER = 1u << 0, /* USER/PASS (RFC 1939): cleartext */
    POP3A_MECH_APOP = 1u << 1, /* APOP (RFC 1939): MD5 of the greeting's timestamp */
    POP3A_MECH_PLAIN = 1u << 2,
    POP3A_MECH_LOGIN = 1u << 3,
    POP3A_MECH_CRAM_MD5 = 1u << 4,
    POP3A_MECH_SCRAM_SHA_1 = 1u << 5,
    POP3A_MECH_SCRAM_SHA_256 = 1u << 6,
    POP3A_MECH_XOAUTH2 = 1u << 7,     /* only through pop3a_login_oauth */
    POP3A_MECH_OAUTHBEARER = 1u << 8, /* only through pop3a_login_oauth */
    POP3A_MECH_EXTERNAL = 1u << 9     /* TLS client certificate */
};

/* Capabilities from CAPA (RFC 2449, 2595, 5034, 6856). */
enum {
    POP3A_CAPA_TOP = 1u << 0,
    POP3A_CAPA_UIDL = 1u << 1,
    POP3A_CAPA_USER = 1u << 2,
    POP3A_CAPA_SASL = 1u << 3,
    POP3A_CAPA_STLS = 1u << 4,
    POP3A_CAPA_PIPELINING = 1u << 5,
    POP3A_CAPA_RESP_CODES = 1u << 6,
    POP3A_CAPA_AUTH_RESP_CODE = 1u << 7,
    POP3A_CAPA_LOGIN_DELAY = 1u << 8,
    POP3A_CAPA_EXPIRE = 1u << 9,
    POP3A_CAPA_UTF8 = 1u << 10,
    POP3A_CAPA_IMPLEMENTATION = 1u << 11,
    POP3A_CAPA_LANG = 1u << 12
};

/* ---------------------------------------------------------------- callbacks */

/* Called exactly once per future, from the event loop. */
typedef void (*pop3a_done_cb)(pop3a_client *client, pop3a_future *future, void *arg);

/* RETR/TOP body: dot-unstuffed, terminator removed, CRLF kept as sent. */
typedef int (*pop3a_chunk_cb)(pop3a_client *client, pop3a_future *future, const char *data,
                              size_t len, int final, void *arg);
enum { POP3A_CHUNK_CONTINUE = 0, POP3A_CHUNK_PAUSE = 1, POP3A_CHUNK_ABORT = 2 };

typedef enum {
    POP3A_TRACE_SENT = 0,     /* a command line we sent, CRLF removed, secrets redacted */
    POP3A_TRACE_RECEIVED = 1, /* a status or listing line we read (body lines are not traced) */
    POP3A_TRACE_INFO = 2      /* a note from the library (connect, TLS, body sizes) */
} pop3a_trace_dir;
/* `line` is valid during the call only and is not NUL-terminated. */
typedef void (*pop3a_trace_cb)(pop3a_client *client, pop3a_trace_dir dir, const char *line,
                               size_t len, void *arg);

/* After the connection is gone and every pending future has failed. */
typedef void (*pop3a_close_cb)(pop3a_client *client, pop3a_status why, void *arg);

/* ------------------------------------------------------------------ options */

/* NULL on out-of-memory. Defaults: TLS_IMPLICIT with verification, connect timeout
 * 30 s, idle timeout 60 s, pipelining window 1024, cleartext denied, line cap 8 KiB. */
POP3A_EXPORT pop3a_options *pop3a_options_new(void);
POP3A_EXPORT void pop3a_options_free(pop3a_options *opts);

/* `ctx`: NULL for a default verified context (system trust store, TLS >= 1.2); or
 * the caller's, which is up-ref'd (the caller keeps its own reference). The library
 * still sets SNI and the host check on every connection. Returns 0 or -1. */
POP3A_EXPORT int pop3a_options_set_tls(pop3a_options *opts, pop3a_tls_mode mode,
                                       struct ssl_ctx_st *ctx);
/* Trust anchors for the default context (PEM file and/or hashed dir), instead of the
 * system store. NULL leaves that one unset. Copied. */
POP3A_EXPORT int pop3a_options_set_ca(pop3a_options *opts, const char *ca_file,
                                      const char *ca_dir);
/* Name checked against the certificate (and sent as SNI); default: the host given
 * to pop3a_connect. -1, keeping the old value, for a name with CR or LF. */
POP3A_EXPORT int pop3a_options_set_verify_name(pop3a_options *opts, const char *name);
/* Pin the server certificate: 32-byte SHA-256 of its DER encoding. With a pin the
 * certificate must match it; the chain and name checks still apply unless disabled. */
POP3A_EXPORT int pop3a_options_set_tls_pin_sha256(pop3a_options *opts, const uint8_t pin[32]);
/* Client certificate and key (PEM files), e.g. for SASL EXTERNAL. Copied. */
POP3A_EXPORT int pop3a_options_set_client_cert(pop3a_options *opts, const char *cert_file,
                                               const char *key_file);
/* Turns OFF chain and host verification. For tests against self-made servers only;
 * a pin, if set, is still enforced. */
POP3A_EXPORT int pop3a_options_set_tls_insecure_skip_verify(pop3a_options *opts, int yes);

/* 0 keeps the current value. connect_ms bounds DNS + TCP + TLS + greeting + CAPA;
 * idle_ms bounds the silence while a reply is awaited and a blocked write, and
 * a slow-loris server: while a reply is owed, each idle_ms period must finish a
 * reply or bring at least 8 octets per second of it, or the session fails with
 * TIMEOUT. */
POP3A_EXPORT int pop3a_options_set_timeouts(pop3a_options *opts, uint32_t connect_ms,
                                            uint32_t idle_ms);
/* Maximum commands in flight when the server advertises PIPELINING; 1 disables.
 * A full window is refilled once half of it has been answered. */
POP3A_EXPORT int pop3a_options_set_pipelining(pop3a_options *opts, uint32_t max_in_flight);
/* Allow USER/PASS, PLAIN and LOGIN over an unencrypted connection. Default: no. */
POP3A_EXPORT int pop3a_options_allow_cleartext(pop3a_options *opts, int yes);
/* Cap on one status, CAPA or listing line (default 8192, minimum 512). */
POP3A_EXPORT int pop3a_options_set_max_line(pop3a_options *opts, uint32_t octets);
/* Cap on entries in one LIST/UIDL listing (default 1,000,000: a UIDL listing then
 * holds at most ~90 MB). After a STAT on the same connection the cap is STAT's
 * message count, if lower (RFC 1939: a listing has no more entries). Longer:
 * that listing fails with POP3A_ERR_PROTOCOL, the session goes on. */
POP3A_EXPORT int pop3a_options_set_max_listing(pop3a_options *opts, uint32_t entries);
/**
 * Highest SCRAM iteration count accepted from a server (default 65,536, 16 times
 * RFC 7677's minimum). PBKDF2 runs on the event loop's thread, stalling every
 * session on it (a million iterations take ~0.25 s); a server asking for more
 * gets "*" and the next mechanism is tried. Returns 0, or -1 for 0.
 */
POP3A_EXPORT int pop3a_options_set_scram_max_iterations(pop3a_options *opts,
                                                        uint32_t iterations);
/* Protocol trace; PASS, APOP and AUTH secrets are redacted before the callback. */
POP3A_EXPORT int pop3a_options_set_trace(pop3a_options *opts, pop3a_trace_cb cb, void *arg);

/* ------------------------------------------------------------------- client */

/* `dns` may be NULL: the client then makes (and frees) its own evdns_base when it
 * first needs one. `opts` may be NULL for defaults; it is copied. NULL on error. */
POP3A_EXPORT pop3a_client *pop3a_client_new(struct event_base *base, struct evdns_base *dns,
                                            const pop3a_options *opts);
/* Safe from inside any callback (see contract 6). NULL is a no-op. libevent
 * frees bufferevents from the loop (finalizers), and after STLS the socket's
 * bufferevent only once the TLS filter's finalizer has run: before
 * event_base_free, run the loop once more (event_base_loop(base,
 * EVLOOP_NONBLOCK)) or that memory is never released. */
POP3A_EXPORT void pop3a_client_free(pop3a_client *client);
POP3A_EXPORT void pop3a_client_set_close_cb(pop3a_client *client, pop3a_close_cb cb, void *arg);
/**
 * Drops the connection and keeps the client: e.g. to abort a session so that its
 * DELEs are not committed (no QUIT is sent), or to enforce a deadline of one's
 * own. Every pending future completes with POP3A_ERR_CLOSED, then the close
 * callback runs (POP3A_ERR_CLOSED) if there was a connection; the client is
 * then disconnected, ready for pop3a_connect/pop3a_attach. Like
 * pop3a_client_free: outside a callback that happens before it returns; inside
 * one, when the outermost library frame returns (nothing more is read or sent
 * meanwhile). Returns 0, or -1 for NULL or a client being freed.
 */
POP3A_EXPORT int pop3a_client_disconnect(pop3a_client *client);
/* The reason for the last NULL submit or failed connection; POP3A_OK if none.
 * A submit that returns a future resets it to POP3A_OK: read it right after the
 * failing call, or in the done/close callback of the failure. */
POP3A_EXPORT pop3a_status pop3a_client_error(const pop3a_client *client);
/* Human detail for that error (OpenSSL reason, server text...); never NULL. Valid
 * until the next call into the client. */
POP3A_EXPORT const char *pop3a_client_errstr(const pop3a_client *client);
/* X509 verification result of the last TLS handshake (X509_V_OK = 0), or -1. */
POP3A_EXPORT long pop3a_client_tls_verify_result(const pop3a_client *client);
/* Capabilities last read from CAPA (empty set before connect); owned by the client,
 * valid until the next CAPA. Never NULL. */
POP3A_EXPORT const pop3a_capa *pop3a_client_capa(const pop3a_client *client);
/* 1 when the connection is encrypted. */
POP3A_EXPORT int pop3a_client_is_tls(const pop3a_client *client);
/* APOP timestamp of the greeting, "<...@...>", or NULL. Owned by the client. */
POP3A_EXPORT const char *pop3a_client_apop_timestamp(const pop3a_client *client);

/* ----------------------------------------------------------------- commands */

/* Resolve `host` (IPv4 and IPv6, each address tried in order), connect, do TLS as
 * the options say, read the greeting, run CAPA (and STLS + CAPA again). */
POP3A_EXPORT pop3a_future *pop3a_connect(pop3a_client *client, const char *host, uint16_t port,
                                         pop3a_done_cb done, void *arg);
/* Use a connected bufferevent the caller made (plain or already TLS). The client
 * takes ownership and frees it, once this returns a future (even one that then
 * fails); on NULL the bufferevent is untouched and still the caller's to free.
 * Then as pop3a_connect from the greeting on.
 * A TLS bufferevent (bufferevent_openssl, handshake finished) is held to the
 * options like a connection the library makes: chain verified, pin, and the
 * certificate must name pop3a_options_set_verify_name's name, else the name the
 * caller's SSL checks (SSL_set1_host) or sends as SNI; with none of these it
 * fails with POP3A_ERR_TLS (only insecure_skip_verify turns the checks off).
 * A plain one fails with POP3A_ERR_TLS_REQUIRED while the mode is
 * POP3A_TLS_IMPLICIT (the default): set POP3A_TLS_STLS to upgrade it, or
 * POP3A_TLS_NONE to run in clear. */
POP3A_EXPORT pop3a_future *pop3a_attach(pop3a_client *client, struct bufferevent *bev,
                                        pop3a_done_cb done, void *arg);

/* Log in with the strongest mechanism the server offers and `mechs` (0 = all)
 * plus the cleartext policy allow, falling back down the list when the server
 * refuses one: SCRAM-SHA-256 > SCRAM-SHA-1 > CRAM-MD5 > APOP > PLAIN > LOGIN > USER.
 * Fails with POP3A_ERR_AUTH (server text and resp code of the last refusal),
 * POP3A_ERR_CLEARTEXT when nothing permitted is safe to send, POP3A_ERR_UNSUPPORTED
 * when the server offers none of them or this build's crypto can do none of them
 * (a mechanism it cannot do, e.g. APOP without MD5 under FIPS, is skipped). */
POP3A_EXPORT pop3a_future *pop3a_login(pop3a_client *client, const char *user, const char *secret,
                                       unsigned mechs, pop3a_done_cb done, void *arg);
/* OAuth 2.0 bearer token with XOAUTH2 and/or OAUTHBEARER (mechs 0 = both). */
POP3A_EXPORT pop3a_future *pop3a_login_oauth(pop3a_client *client, const char *user,
                                             const char *token, unsigned mechs,
                                             pop3a_done_cb done, void *arg);

/* Single commands (RFC 1939). Message numbers are 1-based; 0 is POP3A_ERR_INVALID. */
POP3A_EXPORT pop3a_future *pop3a_user(pop3a_client *client, const char *user, pop3a_done_cb done,
                                      void *arg);
POP3A_EXPORT pop3a_future *pop3a_pass(pop3a_client *client, const char *password,
                                      pop3a_done_cb done, void *arg);
POP3A_EXPORT pop3a_future *pop3a_apop(pop3a_client *client, const char *user, const char *secret,
                                      pop3a_done_cb done, void *arg);
POP3A_EXPORT pop3a_future *pop3a_stat(pop3a_client *client, pop3a_done_cb done, void *arg);
/* msg 0: the whole listing (multi-line); otherwise one entry. */
POP3A_EXPORT pop3a_future *pop3a_list(pop3a_client *client, uint32_t msg, pop3a_done_cb done,
                                      void *arg);
POP3A_EXPORT pop3a_future *pop3a_uidl(pop3a_client *client, uint32_t msg, pop3a_done_cb done,
                                      void *arg);
POP3A_EXPORT pop3a_future *pop3a_retr(pop3a_client *client, uint32_t msg, pop3a_chunk_cb chunk,
                                      pop3a_done_cb done, void *arg);
POP3A_EXPORT pop3a_future *pop3a_top(pop3a_client *client, uint32_t msg, uint32_t lines,
                                     pop3a_chunk_cb chunk, pop3a_done_cb done, void *arg);
POP3A_EXPORT pop3a_future *pop3a_dele(pop3a_client *client, uint32_t msg, pop3a_done_cb done,
                                      void *arg);
POP3A_EXPORT pop3a_future *pop3a_noop(pop3a_client *client, pop3a_done_cb done, void *arg);
POP3A_EXPORT pop3a_future *pop3a_rset(pop3a_client *client, pop3a_done_cb done, void *arg);
/* CAPA again (RFC 2449); the client's capability set is replaced by the answer. */
POP3A_EXPORT pop3a_future *pop3a_capa_refresh(pop3a_client *client, pop3a_done_cb done, void *arg);
POP3A_EXPORT pop3a_future *pop3a_utf8(pop3a_client *client, pop3a_done_cb done, void *arg);
/* Enters the UPDATE state (deletions happen); the connection is then closed. */
POP3A_EXPORT pop3a_future *pop3a_quit(pop3a_client *client, pop3a_done_cb done, void *arg);

/* Batch: queue RETR for every message in `msgs` at once, so that with PIPELINING
 * they go out in a few writes. Each message gets its own future and callbacks
 * (`arg` shared). Returns how many were queued: less than n only when a submit
 * failed (see pop3a_client_error). Deleting stays the caller's job, after the
 * message is stored durably: call pop3a_dele from the done callback; the server
 * removes nothing before QUIT (RFC 1939 UPDATE state). */
POP3A_EXPORT size_t pop3a_retr_many(pop3a_client *client, const uint32_t *msgs, size_t n,
                                    pop3a_chunk_cb chunk, pop3a_done_cb done, void *arg);
/* Batch: queue DELE for every message in `msgs` at once (pipelined like
 * pop3a_retr_many; same return value). Call it only for messages already stored
 * durably; a -ERR fails only that message's future. */
POP3A_EXPORT size_t pop3a_dele_many(pop3a_client *client, const uint32_t *msgs, size_t n,
                                    pop3a_done_cb done, void *arg);

/* ------------------------------------------------------------------ futures */

/* POP3A_OK also while the future is pending: see pop3a_future_is_done. */
POP3A_EXPORT pop3a_status pop3a_future_status(const pop3a_future *future);
/** 1 once the future has completed (its status and results are final: from its
 * done callback on), 0 while it is pending or for NULL. */
POP3A_EXPORT int pop3a_future_is_done(const pop3a_future *future);
/* Text after +OK / -ERR of the final reply (response code included), or a library
 * message for local failures; "" if none. Owned by the future. */
POP3A_EXPORT const char *pop3a_future_text(const pop3a_future *future);
POP3A_EXPORT pop3a_resp_code pop3a_future_resp_code(const pop3a_future *future);
/* The message number a RETR/TOP/DELE/LIST n/UIDL n was for; 0 otherwise. */
POP3A_EXPORT uint32_t pop3a_future_msg(const pop3a_future *future);
/* Body octets delivered so far by RETR/TOP (after unstuffing). */
POP3A_EXPORT uint64_t pop3a_future_octets(const pop3a_future *future);
/* STAT result; returns 0, or -1 when the future is not a successful STAT. */
POP3A_EXPORT int pop3a_future_stat(const pop3a_future *future, uint32_t *count, uint64_t *octets);
/* LIST/UIDL results: number of entries, and each entry (index < count). For LIST
 * entries uid is NULL; for UIDL size is 0. uid is owned by the future. Returns 0,
 * or -1 for a bad index. */
POP3A_EXPORT size_t pop3a_future_count(const pop3a_future *future);
POP3A_EXPORT int pop3a_future_entry(const pop3a_future *future, size_t index, uint32_t *msg,
                                    uint64_t *size, const char **uid);
/* CAPA result (also from pop3a_connect); owned by the future; NULL if none. */
POP3A_EXPORT const pop3a_capa *pop3a_future_capa(const pop3a_future *future);
POP3A_EXPORT pop3a_client *pop3a_future_client(const pop3a_future *future); /* NULL once freed */
POP3A_EXPORT void pop3a_future_cancel(pop3a_future *future);
/* After POP3A_CHUNK_PAUSE; returns 0, or -1 if the future is not paused. */
POP3A_EXPORT int pop3a_future_resume(pop3a_future *future);
POP3A_EXPORT pop3a_future *pop3a_future_ref(pop3a_future *future);
POP3A_EXPORT void pop3a_future_unref(pop3a_future *future);

/* ------------------------------------------------------------- capabilities */

/* POP3A_CAPA_* bits present. */
POP3A_EXPORT unsigned pop3a_capa_flags(const pop3a_capa *capa);
/* POP3A_MECH_* bits of the SASL mechanisms offered, plus POP3A_MECH_USER when CAPA
 * lists USER. APOP has no CAPA tag: see pop3a_client_apop_timestamp. */
POP3A_EXPORT unsigned pop3a_capa_mechs(const pop3a_capa *capa);
/* LOGIN-DELAY in seconds, EXPIRE in days (RFC 2449 s6.5, s6.7; EXPIRE NEVER =
 * UINT32_MAX); -1 when absent or unreadable. */
POP3A_EXPORT int64_t pop3a_capa_login_delay(const pop3a_capa *capa);
POP3A_EXPORT int64_t pop3a_capa_expire(const pop3a_capa *capa);
/* IMPLEMENTATION text or NULL; owned by the capa. */
POP3A_EXPORT const char *pop3a_capa_implementation(const pop3a_capa *capa);

#ifdef __cplusplus
}
#endif

#endif
