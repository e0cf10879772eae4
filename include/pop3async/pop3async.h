/**
 * @file pop3async.h
 * @brief libpop3async: a non-blocking POP3 client on libevent.
 *
 * Every POP3 command is a *future*: a submit call queues it and returns at once;
 * its done callback runs exactly once, later, from the event loop. RETR and TOP
 * stream the message through a chunk callback, so memory stays bounded whatever
 * the message size.
 *
 * The rules every function below relies on are the @ref contract "callback
 * contract" and the @ref threads "threading rule" (both just below).
 *
 * Signals: the library never raises SIGPIPE, so callers need not ignore it.
 * A server that resets the connection fails the pending futures with
 * #POP3A_ERR_IO: plain sockets are written with send(MSG_NOSIGNAL), TLS
 * through a socket BIO that does the same. A TLS or filter bufferevent passed
 * to pop3a_attach() is written by libevent as the caller built it (a plain
 * socket one is sent like the library's own).
 */
/**
 * @mainpage libpop3async
 *
 * A non-blocking POP3 client for Linux daemons: every command is a future on a
 * libevent bufferevent; RETR and TOP stream the body in chunks with a final flag.
 * Everything public is declared in pop3async.h; start with pop3a_client_new(),
 * pop3a_connect(), pop3a_login() and pop3a_retr().
 *
 * @section contract Callback contract
 *
 * The part users rely on:
 *  1. A submit call that returns NULL never calls back; pop3a_client_error() says
 *     why (#POP3A_ERR_INVALID for a bad argument, #POP3A_ERR_CLOSED when the client
 *     is being freed, #POP3A_ERR_NOMEM). A submit that returns a future calls its
 *     done callback exactly once, from the event loop, never inside the submit.
 *  2. The library owns a future until its done callback returns; the results
 *     (text, listing, capabilities) live in it. pop3a_future_ref() keeps it, and
 *     its results, alive longer; pop3a_future_unref() releases that reference.
 *  3. Chunks are valid only during the chunk callback, are not NUL-terminated and
 *     may be any size from 1 byte. `final` is 1 exactly once, on success, possibly
 *     with len 0 (freeing the client there still fails the future, contract 6).
 *     After an error no chunk comes. Returning #POP3A_CHUNK_PAUSE stops
 *     reading until pop3a_future_resume(); any value other than CONTINUE/PAUSE
 *     aborts: the reply cannot be abandoned halfway, so the connection is closed,
 *     this future fails with #POP3A_ERR_CANCELLED and every other pending one with
 *     #POP3A_ERR_CLOSED. Aborting on the final chunk only fails this future
 *     (CANCELLED): the reply is complete and the session goes on.
 *  4. Futures complete in submission order (a cancelled one too, when its turn
 *     comes). With PIPELINING advertised, commands after login are sent without
 *     waiting, up to the window, and QUIT may follow them at once (nothing is
 *     sent after QUIT); otherwise one at a time.
 *  5. pop3a_future_cancel() on a queued command: it is never sent and completes
 *     with #POP3A_ERR_CANCELLED on a later loop turn. On a sent one: its reply is
 *     read and dropped (no more chunks). Allowed inside any callback. On a
 *     connect or login already under way: nothing more is sent (no PASS, no
 *     SASL response), the connection is dropped (the others pending fail with
 *     #POP3A_ERR_CLOSED, the close callback gets #POP3A_ERR_CLOSED) and the
 *     client is disconnected, ready for pop3a_connect() again.
 *  6. pop3a_client_free() is safe from inside any callback: teardown happens when
 *     the outermost library frame returns. Every future whose done callback has
 *     not run yet is pending and completes with #POP3A_ERR_CLOSED, whichever
 *     callback freed the client: a RETR/TOP freed from its final chunk callback
 *     too (its body was whole, but its done callback, where a caller acts on
 *     it, says CLOSED), and a future whose reply line was being traced. Only
 *     futures a lost connection is already failing keep that failure's status
 *     (#POP3A_ERR_EOF, ...). No chunk comes after the free; submits from the
 *     remaining callbacks return NULL. The future whose done callback frees the
 *     client keeps its own status.
 *  7. A lost connection fails every pending future once, then calls the close
 *     callback. The client is never freed behind the caller's back.
 *
 * @section threads Threads and strings
 *
 * A client and its futures belong to the thread running its event_base: call
 * every function that takes a client, a future or a capability set from that
 * thread only (the library takes no locks). Options objects and
 * pop3a_strerror()/pop3a_status_name() are not tied to a loop. Strings passed in
 * are copied unless a function's documentation says otherwise.
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
/** Marks a public function: exported from the shared library, nothing for users. */
#define POP3A_EXPORT
#endif

/* libevent and OpenSSL types, forward-declared so users need not include them. */
struct event_base;
struct evdns_base;
struct bufferevent;
struct ssl_ctx_st;

/** One POP3 session on one event_base. Opaque; made by pop3a_client_new(). */
typedef struct pop3a_client pop3a_client;
/** Settings, copied by pop3a_client_new(). Opaque; made by pop3a_options_new(). */
typedef struct pop3a_options pop3a_options;
/** One per submitted command; see the @ref contract "callback contract". Opaque. */
typedef struct pop3a_future pop3a_future;
/** A parsed CAPA reply (RFC 2449). Opaque; read with the pop3a_capa_*() functions. */
typedef struct pop3a_capa pop3a_capa;

/** Why a future or a submit failed. Values are stable and only ever appended. */
typedef enum {
    POP3A_OK = 0,           /**< success */
    POP3A_ERR_SERVER,       /**< the server said -ERR: see pop3a_future_text/_resp_code */
    POP3A_ERR_PROTOCOL,     /**< reply was not POP3: bad line, too long, bad listing */
    POP3A_ERR_IO,           /**< socket error */
    POP3A_ERR_EOF,          /**< connection closed before the reply was complete */
    POP3A_ERR_TIMEOUT,      /**< connect, greeting or reply took too long */
    POP3A_ERR_DNS,          /**< host name did not resolve */
    POP3A_ERR_TLS,          /**< handshake or certificate verification failed */
    POP3A_ERR_TLS_REQUIRED, /**< STLS missing or refused while TLS is required */
    POP3A_ERR_AUTH,         /**< every permitted login mechanism was refused */
    POP3A_ERR_CLEARTEXT,    /**< would send a password in clear and that is not allowed */
    POP3A_ERR_CANCELLED,    /**< pop3a_future_cancel() or a chunk callback abort */
    POP3A_ERR_CLOSED,       /**< the client was freed or the connection was shut */
    POP3A_ERR_NOMEM,        /**< out of memory */
    POP3A_ERR_INVALID,      /**< bad argument, e.g. CR/LF/NUL in a string, message 0 */
    POP3A_ERR_STATE,        /**< command not allowed in the session's current state */
    POP3A_ERR_UNSUPPORTED   /**< the server (or this build) lacks the capability */
} pop3a_status;

/**
 * @brief A short English description of a status.
 * @param status any value, known or not ("unknown status" for the rest).
 * @return static storage, never NULL; the caller does not free it.
 * @par Threads
 *     Any thread.
 */
POP3A_EXPORT const char *pop3a_strerror(pop3a_status status);
/**
 * @brief The enumerator's name, e.g. "POP3A_ERR_AUTH".
 * @param status any value ("POP3A_UNKNOWN" for one this version does not know).
 * @return static storage, never NULL; the caller does not free it.
 * @par Threads
 *     Any thread.
 */
POP3A_EXPORT const char *pop3a_status_name(pop3a_status status);

/** Extended response codes in brackets after +OK/-ERR (RFC 2449 section 8, RFC 3206). */
typedef enum {
    POP3A_RESP_NONE = 0,    /**< no bracketed code */
    POP3A_RESP_IN_USE,      /**< [IN-USE]: maildrop locked by another session */
    POP3A_RESP_LOGIN_DELAY, /**< [LOGIN-DELAY]: logged in too recently */
    POP3A_RESP_SYS_TEMP,    /**< [SYS/TEMP]: temporary server failure, retry later */
    POP3A_RESP_SYS_PERM,    /**< [SYS/PERM]: permanent server failure */
    POP3A_RESP_AUTH,        /**< [AUTH]: the credentials were wrong */
    POP3A_RESP_UTF8,        /**< [UTF8]: needs UTF8 mode (RFC 6856) */
    POP3A_RESP_OTHER        /**< some other code; the text still holds it */
} pop3a_resp_code;

/** How the connection is encrypted; set with pop3a_options_set_tls(). */
typedef enum {
    POP3A_TLS_NONE = 0, /**< plain TCP; passwords need pop3a_options_allow_cleartext */
    POP3A_TLS_IMPLICIT, /**< TLS from the first byte (POP3S, RFC 8314, port 995) */
    POP3A_TLS_STLS      /**< plain, then STLS (RFC 2595); required: never falls back */
} pop3a_tls_mode;

/** Login mechanisms, as a mask. 0 means "every mechanism the options allow". */
enum {
    POP3A_MECH_USER = 1u << 0,          /**< USER/PASS (RFC 1939): cleartext */
    POP3A_MECH_APOP = 1u << 1,          /**< APOP (RFC 1939): MD5 of the greeting's timestamp */
    POP3A_MECH_PLAIN = 1u << 2,         /**< SASL PLAIN (RFC 4616): cleartext */
    POP3A_MECH_LOGIN = 1u << 3,         /**< SASL LOGIN (draft, widely deployed): cleartext */
    POP3A_MECH_CRAM_MD5 = 1u << 4,      /**< SASL CRAM-MD5 (RFC 2195) */
    POP3A_MECH_SCRAM_SHA_1 = 1u << 5,   /**< SASL SCRAM-SHA-1 (RFC 5802) */
    POP3A_MECH_SCRAM_SHA_256 = 1u << 6, /**< SASL SCRAM-SHA-256 (RFC 7677) */
    POP3A_MECH_XOAUTH2 = 1u << 7,       /**< only through pop3a_login_oauth */
    POP3A_MECH_OAUTHBEARER = 1u << 8,   /**< only through pop3a_login_oauth (RFC 7628) */
    POP3A_MECH_EXTERNAL = 1u << 9       /**< TLS client certificate */
};

/** Capabilities from CAPA (RFC 2449, 2595, 5034, 6856), as a mask: pop3a_capa_flags(). */
enum {
    POP3A_CAPA_TOP = 1u << 0,              /**< TOP */
    POP3A_CAPA_UIDL = 1u << 1,             /**< UIDL */
    POP3A_CAPA_USER = 1u << 2,             /**< USER/PASS accepted */
    POP3A_CAPA_SASL = 1u << 3,             /**< SASL with a list of mechanisms (RFC 5034) */
    POP3A_CAPA_STLS = 1u << 4,             /**< STLS (RFC 2595) */
    POP3A_CAPA_PIPELINING = 1u << 5,       /**< PIPELINING (RFC 2449 section 6.6) */
    POP3A_CAPA_RESP_CODES = 1u << 6,       /**< RESP-CODES (RFC 2449 section 8) */
    POP3A_CAPA_AUTH_RESP_CODE = 1u << 7,   /**< AUTH-RESP-CODE (RFC 3206) */
    POP3A_CAPA_LOGIN_DELAY = 1u << 8,      /**< LOGIN-DELAY: pop3a_capa_login_delay() */
    POP3A_CAPA_EXPIRE = 1u << 9,           /**< EXPIRE: pop3a_capa_expire() */
    POP3A_CAPA_UTF8 = 1u << 10,            /**< UTF8 (RFC 6856) */
    POP3A_CAPA_IMPLEMENTATION = 1u << 11,  /**< IMPLEMENTATION: pop3a_capa_implementation() */
    POP3A_CAPA_LANG = 1u << 12             /**< LANG (RFC 6856) */
};

/* ---------------------------------------------------------------- callbacks */

/**
 * @brief Completion of a future: called exactly once per future, from the event loop.
 * @param client the future's client; it may be freed from here (contract 6).
 * @param future the completed command; read its status and results here. It is
 *        freed when the callback returns unless pop3a_future_ref() was called.
 * @param arg the pointer given to the submit call, untouched.
 */
typedef void (*pop3a_done_cb)(pop3a_client *client, pop3a_future *future, void *arg);

/**
 * @brief RETR/TOP body: dot-unstuffed, terminator removed, CRLF kept as sent.
 *
 * Line ends are a property of the session, decided by the server's greeting:
 * after a CRLF greeting (RFC 1939) only CRLF "." CRLF ends a multi-line reply,
 * and a bare LF inside a body or listing line is data; only a server whose
 * greeting ends in a bare LF gets bare-LF framing ("\n.\n" ends its replies).
 * @param client the future's client.
 * @param future the RETR or TOP future.
 * @param data the next body bytes: valid during the call only, not NUL-terminated.
 * @param len size of @p data, from 0 (only with @p final) up.
 * @param final 1 exactly once, on the last call of a successful body; else 0.
 *        A message cut short by the server never gets it (see
 *        pop3a_future_announced_octets()).
 * @param arg the pointer given to the submit call, untouched.
 * @return #POP3A_CHUNK_CONTINUE, #POP3A_CHUNK_PAUSE (stop reading until
 *         pop3a_future_resume()) or anything else to abort (contract 3).
 */
typedef int (*pop3a_chunk_cb)(pop3a_client *client, pop3a_future *future, const char *data,
                              size_t len, int final, void *arg);
/** What a pop3a_chunk_cb returns. */
enum {
    POP3A_CHUNK_CONTINUE = 0, /**< keep reading */
    POP3A_CHUNK_PAUSE = 1,    /**< stop reading until pop3a_future_resume() */
    POP3A_CHUNK_ABORT = 2     /**< abort: the connection is closed (contract 3) */
};

/** What a trace line is. */
typedef enum {
    POP3A_TRACE_SENT = 0,     /**< a command line we sent, CRLF removed, secrets redacted */
    POP3A_TRACE_RECEIVED = 1, /**< a status or listing line we read (body lines are not traced) */
    POP3A_TRACE_INFO = 2      /**< a note from the library (connect, TLS, body sizes) */
} pop3a_trace_dir;
/**
 * @brief Protocol trace, set with pop3a_options_set_trace(); called from the event loop.
 * @param client the client whose session this is.
 * @param dir what the line is.
 * @param line valid during the call only and not NUL-terminated.
 * @param len size of @p line.
 * @param arg the pointer given to pop3a_options_set_trace().
 */
typedef void (*pop3a_trace_cb)(pop3a_client *client, pop3a_trace_dir dir, const char *line,
                               size_t len, void *arg);

/**
 * @brief After the connection is gone and every pending future has failed.
 * Called from the event loop, after QUIT's done callback too; not called when
 * pop3a_client_free() ends the connection, nor when a connect fails with no
 * transport open (a DNS failure, every address refused): only the futures say so.
 * @param client the client; still valid, and reusable with pop3a_connect().
 * @param why #POP3A_OK after QUIT, else the failure that ended the connection.
 * @param arg the pointer given to pop3a_client_set_close_cb().
 */
typedef void (*pop3a_close_cb)(pop3a_client *client, pop3a_status why, void *arg);

/* ------------------------------------------------------------------ options */

/**
 * @brief A new options object with the defaults.
 *
 * Defaults: TLS_IMPLICIT with verification, connect timeout 30 s, idle timeout
 * 60 s, pipelining window 1024, cleartext denied, line cap 8 KiB.
 * @return a new object owned by the caller (pop3a_options_free()), or NULL on
 *         out-of-memory.
 * @par Threads
 *     Any thread: options are not tied to a loop (one call at a time per object).
 */
POP3A_EXPORT pop3a_options *pop3a_options_new(void);
/**
 * @brief Frees an options object and the references it holds (its SSL_CTX reference).
 * Clients made from it keep their own copy.
 * @param opts the object, or NULL (no-op).
 * @par Threads
 *     Any thread, one call at a time per options object.
 */
POP3A_EXPORT void pop3a_options_free(pop3a_options *opts);

/**
 * @brief TLS mode and context.
 *
 * The library still sets SNI and the host check on every connection.
 * @param opts the options.
 * @param mode #POP3A_TLS_NONE, #POP3A_TLS_IMPLICIT or #POP3A_TLS_STLS.
 * @param ctx NULL for a default verified context (system trust store, TLS >= 1.2); or
 *        the caller's, which is up-ref'd (the caller keeps its own reference).
 * @return 0, or -1 (bad mode, NULL @p opts) with the old values kept.
 * @par Threads
 *     Any thread, one call at a time per options object.
 */
POP3A_EXPORT int pop3a_options_set_tls(pop3a_options *opts, pop3a_tls_mode mode,
                                       struct ssl_ctx_st *ctx);
/**
 * @brief Trust anchors for the default context, instead of the system store.
 *
 * The default context is built (and these files read) once per options object,
 * for the first client made from it that uses TLS, and shared by every later
 * client made from it: 10,000 clients load the trust store once. Any TLS setter
 * (this one, pop3a_options_set_tls(), pop3a_options_set_client_cert(),
 * pop3a_options_set_tls_insecure_skip_verify()) makes the next client build a
 * fresh one: call it again to pick up a rotated CA file.
 * @param opts the options.
 * @param ca_file a PEM file, or NULL to leave it unset. Copied.
 * @param ca_dir a hashed directory (c_rehash), or NULL to leave it unset. Copied.
 * @return 0, or -1 (an empty string, out of memory) with the old values kept.
 * @par Threads
 *     Any thread, one call at a time per options object.
 */
POP3A_EXPORT int pop3a_options_set_ca(pop3a_options *opts, const char *ca_file,
                                      const char *ca_dir);
/**
 * @brief Connect through a SOCKS5 proxy (RFC 1928), with RFC 1929 user name
 *        and password authentication when the URL has them.
 *
 * "socks5h://[user:pass@]host:port" sends the target's name to the proxy,
 * which resolves it (no DNS query leaves this host: what Tor needs);
 * "socks5://..." resolves the target here and sends its address. An IPv6
 * proxy is written in brackets ("socks5h://[::1]:1080"); user and pass may
 * be percent-encoded. TLS (implicit or STLS) runs over the tunnel: SNI and
 * the certificate's name are checked against the target given to
 * pop3a_connect(), never against the proxy. The connect timeout covers the
 * proxy's handshake; the proxy password never appears in a trace.
 * pop3a_attach() ignores the proxy (the caller made the transport).
 * @param opts the options.
 * @param url the proxy URL, parsed and copied; NULL removes the proxy.
 * @return 0, or -1, keeping the old value, for a NULL @p opts, an unknown
 *         scheme, a missing or bad port (1..65535), CR, LF, NUL, a space or
 *         a path in the URL, a user or password that is empty or longer than
 *         255 octets, or out of memory.
 * @par Threads
 *     Any thread, one call at a time per options object.
 */
POP3A_EXPORT int pop3a_options_set_proxy(pop3a_options *opts, const char *url);
/**
 * @brief Name checked against the certificate (and sent as SNI).
 * @param opts the options.
 * @param name the name, copied; NULL restores the default: the host given to
 *        pop3a_connect().
 * @return 0, or -1, keeping the old value, for a name with CR or LF, or an empty one.
 * @par Threads
 *     Any thread, one call at a time per options object.
 */
POP3A_EXPORT int pop3a_options_set_verify_name(pop3a_options *opts, const char *name);
/**
 * @brief Pin the server certificate.
 *
 * With a pin the certificate must match it; the chain and name checks still
 * apply unless disabled.
 * @param opts the options.
 * @param pin 32-byte SHA-256 of the certificate's DER encoding, copied; NULL
 *        removes the pin.
 * @return 0, or -1 for a NULL @p opts.
 * @par Threads
 *     Any thread, one call at a time per options object.
 */
POP3A_EXPORT int pop3a_options_set_tls_pin_sha256(pop3a_options *opts, const uint8_t pin[32]);
/**
 * @brief Client certificate and key (PEM files), e.g. for SASL EXTERNAL.
 * @param opts the options.
 * @param cert_file the certificate chain file, copied; NULL removes both.
 * @param key_file the key file, copied; NULL: the key is in @p cert_file.
 * @return 0, or -1 (a key without a certificate, an empty string) with the old
 *         values kept.
 * @par Threads
 *     Any thread, one call at a time per options object.
 */
POP3A_EXPORT int pop3a_options_set_client_cert(pop3a_options *opts, const char *cert_file,
                                               const char *key_file);
/**
 * @brief Turns OFF chain and host verification.
 *
 * For tests against self-made servers only; a pin, if set, is still enforced.
 * @param opts the options.
 * @param yes nonzero to skip verification, 0 to verify again (the default).
 * @return 0, or -1 for a NULL @p opts.
 * @par Threads
 *     Any thread, one call at a time per options object.
 */
POP3A_EXPORT int pop3a_options_set_tls_insecure_skip_verify(pop3a_options *opts, int yes);

/**
 * @brief Connect and idle timeouts.
 *
 * A slow-loris server: while a reply is owed, each idle_ms period must finish a
 * reply or bring at least 8 octets per second of it, or the session fails with
 * #POP3A_ERR_TIMEOUT.
 * @param opts the options.
 * @param connect_ms bounds DNS + TCP + TLS + greeting + CAPA; 0 keeps the current value.
 * @param idle_ms bounds the silence while a reply is awaited and a blocked write;
 *        0 keeps the current value.
 * @return 0, or -1 for a NULL @p opts.
 * @par Threads
 *     Any thread, one call at a time per options object.
 */
POP3A_EXPORT int pop3a_options_set_timeouts(pop3a_options *opts, uint32_t connect_ms,
                                            uint32_t idle_ms);
/**
 * @brief Maximum commands in flight when the server advertises PIPELINING.
 *
 * A full window is refilled once half of it has been answered.
 * @param opts the options.
 * @param max_in_flight the window; 1 disables pipelining.
 * @return 0, or -1 for 0 or a NULL @p opts.
 * @par Threads
 *     Any thread, one call at a time per options object.
 */
POP3A_EXPORT int pop3a_options_set_pipelining(pop3a_options *opts, uint32_t max_in_flight);
/**
 * @brief Allow USER/PASS, PLAIN and LOGIN over an unencrypted connection. Default: no.
 * @param opts the options.
 * @param yes nonzero to allow, 0 to deny.
 * @return 0, or -1 for a NULL @p opts.
 * @par Threads
 *     Any thread, one call at a time per options object.
 */
POP3A_EXPORT int pop3a_options_allow_cleartext(pop3a_options *opts, int yes);
/**
 * @brief Cap on one status, CAPA or listing line.
 * @param opts the options.
 * @param octets the cap (default 8192, minimum 512: RFC 2449's longest line).
 * @return 0, or -1 below the minimum.
 * @par Threads
 *     Any thread, one call at a time per options object.
 */
POP3A_EXPORT int pop3a_options_set_max_line(pop3a_options *opts, uint32_t octets);
/**
 * @brief Cap on entries in one LIST/UIDL listing.
 *
 * The default, 1,000,000, bounds a UIDL listing to about 90 MB. After a STAT on
 * the same connection the cap is STAT's message count, if lower (RFC 1939: a
 * listing has no more entries than that).
 * @param opts the options.
 * @param entries the cap; a longer listing fails with #POP3A_ERR_PROTOCOL and
 *        the session goes on.
 * @return 0, or -1 for 0.
 * @par Threads
 *     Any thread, one call at a time per options object.
 */
POP3A_EXPORT int pop3a_options_set_max_listing(pop3a_options *opts, uint32_t entries);
/**
 * @brief How a RETR body is checked against the size the server announced.
 *
 * The size is the "+OK nnn octets" of RETR, else the message's size in this
 * session's LIST; RFC 1939 counts CRLF line ends and no dot-stuffing.
 */
typedef enum {
    /** Default: a body shorter than announced fails (#POP3A_ERR_PROTOCOL, no
     *  final chunk) once this session's sizes have matched and none has differed. */
    POP3A_SIZE_CHECK_AUTO = 0,
    /** Every body shorter than announced fails. */
    POP3A_SIZE_CHECK_STRICT,
    /** Sizes are only reported (pop3a_future_announced_octets()); never a failure. */
    POP3A_SIZE_CHECK_OFF
} pop3a_size_check;
/**
 * @brief Sets the size check (see #pop3a_size_check).
 *
 * Whatever the mode, a body whose end no size vouches for completes only once
 * what follows its terminator proves it was the end (see
 * pop3a_future_announced_octets()).
 * @param opts the options.
 * @param mode one of #pop3a_size_check.
 * @return 0, or -1 for a NULL @p opts or an unknown mode.
 * @par Threads
 *     Any thread, one call at a time per options object.
 */
POP3A_EXPORT int pop3a_options_set_size_check(pop3a_options *opts, pop3a_size_check mode);
/**
 * @brief Highest SCRAM iteration count accepted from a server.
 *
 * PBKDF2 runs on the event loop's thread, stalling every session on it (a
 * million iterations take ~0.25 s); a server asking for more gets "*" and the
 * next mechanism is tried.
 * @param opts the options.
 * @param iterations the cap (default 65,536, 16 times RFC 7677's minimum).
 * @return 0, or -1 for a NULL @p opts or 0.
 * @par Threads
 *     Any thread, one call at a time per options object.
 */
POP3A_EXPORT int pop3a_options_set_scram_max_iterations(pop3a_options *opts,
                                                        uint32_t iterations);
/**
 * @brief Protocol trace; PASS, APOP and AUTH secrets are redacted before the callback.
 * @param opts the options.
 * @param cb called from the event loop for each line; NULL turns tracing off.
 * @param arg passed to @p cb, never dereferenced by the library.
 * @return 0, or -1 for a NULL @p opts.
 * @par Threads
 *     Any thread, one call at a time per options object.
 */
POP3A_EXPORT int pop3a_options_set_trace(pop3a_options *opts, pop3a_trace_cb cb, void *arg);

/* ------------------------------------------------------------------- client */

/**
 * @brief A new client: one POP3 session at a time on @p base.
 *
 * Nothing happens until pop3a_connect() or pop3a_attach().
 * @param base the event loop; not owned, must outlive the client.
 * @param dns may be NULL: the client then makes (and frees) its own evdns_base
 *        when it first needs one. Not owned; must outlive the client.
 * @param opts NULL for defaults; copied, so the caller may free it at once.
 * @return a client owned by the caller (pop3a_client_free()), or NULL (NULL
 *         @p base, out of memory).
 * @par Threads
 *     The client belongs to the thread that runs @p base; call this there too.
 */
POP3A_EXPORT pop3a_client *pop3a_client_new(struct event_base *base, struct evdns_base *dns,
                                            const pop3a_options *opts);
/**
 * @brief Ends the session without QUIT and frees the client.
 *
 * Safe from inside any callback (see contract 6): pending futures complete with
 * #POP3A_ERR_CLOSED, before this returns or when the outermost callback returns.
 * The close callback is not called. libevent frees bufferevents from the loop
 * (finalizers), and after STLS the socket's bufferevent only once the TLS
 * filter's finalizer has run: before event_base_free, run the loop once more
 * (event_base_loop(base, EVLOOP_NONBLOCK)) or that memory is never released.
 * @param client the client, or NULL (no-op).
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT void pop3a_client_free(pop3a_client *client);
/**
 * @brief Sets the callback run after the connection ends (see pop3a_close_cb).
 * @param client the client; NULL is a no-op.
 * @param cb the callback, or NULL for none.
 * @param arg passed to @p cb, never dereferenced by the library.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT void pop3a_client_set_close_cb(pop3a_client *client, pop3a_close_cb cb, void *arg);
/**
 * @brief Drops the connection and keeps the client.
 *
 * E.g. to abort a session so that its DELEs are not committed (no QUIT is sent),
 * or to enforce a deadline of one's own. Every pending future completes with
 * #POP3A_ERR_CLOSED, then the close callback runs (#POP3A_ERR_CLOSED) if there
 * was a connection; the client is then disconnected, ready for pop3a_connect()
 * or pop3a_attach(). Like pop3a_client_free(): outside a callback that happens
 * before it returns; inside one, when the outermost library frame returns
 * (nothing more is read or sent meanwhile).
 * @param client the client.
 * @return 0, or -1 for NULL or a client being freed.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT int pop3a_client_disconnect(pop3a_client *client);
/**
 * @brief The reason for the last NULL submit or failed connection.
 *
 * A submit that returns a future resets it to #POP3A_OK: read it right after the
 * failing call, or in the done or close callback of the failure.
 * @param client the client.
 * @return the status, #POP3A_OK if none; #POP3A_ERR_INVALID for a NULL @p client.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT pop3a_status pop3a_client_error(const pop3a_client *client);
/**
 * @brief Human detail for pop3a_client_error() (OpenSSL reason, server text...).
 * @param client the client.
 * @return never NULL; owned by the client, valid until the next call into it.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT const char *pop3a_client_errstr(const pop3a_client *client);
/**
 * @brief X509 verification result of the last TLS handshake.
 * @param client the client.
 * @return X509_V_OK (0), an X509_V_ERR_* code, or -1 when no handshake happened.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT long pop3a_client_tls_verify_result(const pop3a_client *client);
/**
 * @brief Capabilities last read from CAPA.
 * @param client the client.
 * @return never NULL for a client (an empty set before connect); owned by the
 *         client, valid until the next CAPA or pop3a_connect().
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT const pop3a_capa *pop3a_client_capa(const pop3a_client *client);
/**
 * @brief Whether the connection is encrypted.
 * @param client the client.
 * @return 1 when the connection is encrypted, else 0.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT int pop3a_client_is_tls(const pop3a_client *client);
/**
 * @brief APOP timestamp of the greeting.
 * @param client the client.
 * @return the timestamp including its angle brackets, or NULL. Owned by the
 *         client, valid until the connection ends.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT const char *pop3a_client_apop_timestamp(const pop3a_client *client);

/* ----------------------------------------------------------------- commands */

/**
 * @brief Connect: resolve, TCP, TLS as the options say, greeting, CAPA (and STLS + CAPA again).
 *
 * `host` resolves to IPv4 and IPv6 addresses, each tried in order; an address
 * literal skips the resolver. The connect timeout bounds all of it. The future's
 * capabilities (pop3a_future_capa()) and the client's (pop3a_client_capa()) hold
 * the final CAPA.
 * @param client the client; its state must be disconnected when the command's turn comes.
 * @param host name or address; copied. Not empty, no CR/LF/NUL, at most 255 octets.
 * @param port TCP port, not 0 (995 for POP3S, 110 for plain or STLS).
 * @param done called once from the event loop; may be NULL.
 * @param arg passed to @p done, never dereferenced by the library.
 * @return a future owned by the library until @p done returns, or NULL (contract 1).
 *         Statuses: #POP3A_OK, #POP3A_ERR_DNS, #POP3A_ERR_IO, #POP3A_ERR_TIMEOUT,
 *         #POP3A_ERR_TLS, #POP3A_ERR_TLS_REQUIRED, #POP3A_ERR_EOF,
 *         #POP3A_ERR_PROTOCOL, #POP3A_ERR_SERVER (-ERR greeting), #POP3A_ERR_STATE
 *         (already connected), #POP3A_ERR_CANCELLED, #POP3A_ERR_CLOSED, #POP3A_ERR_NOMEM.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT pop3a_future *pop3a_connect(pop3a_client *client, const char *host, uint16_t port,
                                         pop3a_done_cb done, void *arg);
/**
 * @brief Use a connected bufferevent the caller made (plain or already TLS).
 *
 * Then as pop3a_connect() from the greeting on. A TLS bufferevent
 * (bufferevent_openssl, handshake finished) is held to the options like a
 * connection the library makes: chain verified, pin, and the certificate must
 * name pop3a_options_set_verify_name()'s name, else the name the caller's SSL
 * checks (SSL_set1_host) or sends as SNI; with none of these it fails with
 * #POP3A_ERR_TLS (only insecure_skip_verify turns the checks off). A plain one
 * fails with #POP3A_ERR_TLS_REQUIRED while the mode is #POP3A_TLS_IMPLICIT (the
 * default): set #POP3A_TLS_STLS to upgrade it with STLS, or #POP3A_TLS_NONE to
 * run in clear (it then counts as unencrypted for the cleartext policy). The
 * transport may be any bufferevent, e.g. a pair or a filter fed from a loop
 * that is not libevent's.
 * @param client the client, on the bufferevent's event_base.
 * @param bev the transport; once this returns a future the client owns it and
 *        frees it, also when that future fails. On NULL it is untouched and
 *        still the caller's to free.
 * @param done called once from the event loop; may be NULL.
 * @param arg passed to @p done, never dereferenced by the library.
 * @return a future owned by the library until @p done returns, or NULL (contract 1).
 *         Statuses as pop3a_connect() without #POP3A_ERR_DNS.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT pop3a_future *pop3a_attach(pop3a_client *client, struct bufferevent *bev,
                                        pop3a_done_cb done, void *arg);

/**
 * @brief Log in with the strongest mechanism allowed, falling back when refused.
 *
 * The strongest mechanism the server offers and `mechs` plus the cleartext
 * policy allow, falling back down the list when the server refuses one:
 * SCRAM-SHA-256 > SCRAM-SHA-1 > CRAM-MD5 > APOP > PLAIN > LOGIN > USER
 * (EXTERNAL, when asked for, first). A SCRAM server that fails our check of its
 * signature ends the connection: nothing weaker is tried against an impostor.
 * A refusal with [IN-USE], [LOGIN-DELAY], [SYS/TEMP] or [SYS/PERM] is not about
 * the credentials and stops the fallback at once: the status is #POP3A_ERR_AUTH
 * and pop3a_future_resp_code() says which.
 * @param client the client; the session must be in the AUTHORIZATION state when
 *        the command's turn comes (after pop3a_connect()).
 * @param user the user name, copied; no CR/LF/NUL; empty only for EXTERNAL alone.
 * @param secret the password, copied and wiped after use; never traced.
 * @param mechs #POP3A_MECH_USER .. #POP3A_MECH_EXTERNAL bits; 0 = all but EXTERNAL.
 * @param done called once from the event loop; may be NULL.
 * @param arg passed to @p done, never dereferenced by the library.
 * @return a future owned by the library until @p done returns, or NULL (contract 1).
 *         Statuses: #POP3A_OK; #POP3A_ERR_AUTH (server text and resp code of the
 *         last refusal); #POP3A_ERR_CLEARTEXT when nothing permitted is safe to
 *         send; #POP3A_ERR_UNSUPPORTED when the server offers none of @p mechs
 *         or this build's crypto can do none of them (a mechanism it cannot do,
 *         e.g. APOP or CRAM-MD5 without MD5 under FIPS, is skipped);
 *         #POP3A_ERR_STATE; connection failures (#POP3A_ERR_IO, #POP3A_ERR_EOF,
 *         #POP3A_ERR_TIMEOUT, #POP3A_ERR_PROTOCOL, #POP3A_ERR_CLOSED);
 *         #POP3A_ERR_CANCELLED.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT pop3a_future *pop3a_login(pop3a_client *client, const char *user, const char *secret,
                                       unsigned mechs, pop3a_done_cb done, void *arg);
/**
 * @brief OAuth 2.0 bearer token with XOAUTH2 and/or OAUTHBEARER.
 *
 * OAUTHBEARER (RFC 7628) first when offered, then XOAUTH2 (Gmail, Outlook).
 * Getting and refreshing the token is the caller's job. Same rules as pop3a_login().
 * @param client the client.
 * @param user the account, copied; no CR/LF/NUL.
 * @param token the access token, copied and wiped after use; never traced.
 * @param mechs #POP3A_MECH_XOAUTH2 and/or #POP3A_MECH_OAUTHBEARER; 0 = both.
 * @param done called once from the event loop; may be NULL.
 * @param arg passed to @p done, never dereferenced by the library.
 * @return a future owned by the library until @p done returns, or NULL (contract 1).
 *         Statuses as pop3a_login().
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT pop3a_future *pop3a_login_oauth(pop3a_client *client, const char *user,
                                             const char *token, unsigned mechs,
                                             pop3a_done_cb done, void *arg);

/**
 * @brief USER: the first half of a manual USER/PASS login (RFC 1939).
 *
 * Single commands (RFC 1939) share these rules: message numbers are 1-based (0
 * is #POP3A_ERR_INVALID), arguments with CR/LF/NUL/space make the submit return
 * NULL, and the future completes with #POP3A_OK, #POP3A_ERR_SERVER (-ERR: see
 * pop3a_future_text() and pop3a_future_resp_code()), #POP3A_ERR_STATE (not
 * allowed in the session's state), #POP3A_ERR_PROTOCOL, a connection failure
 * (#POP3A_ERR_IO, #POP3A_ERR_EOF, #POP3A_ERR_TIMEOUT, #POP3A_ERR_CLOSED), or
 * #POP3A_ERR_CANCELLED.
 * @param client the client.
 * @param user the user name, copied.
 * @param done called once from the event loop; may be NULL.
 * @param arg passed to @p done, never dereferenced by the library.
 * @return a future owned by the library until @p done returns, or NULL (contract 1).
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT pop3a_future *pop3a_user(pop3a_client *client, const char *user, pop3a_done_cb done,
                                      void *arg);
/**
 * @brief PASS: the second half of a manual USER/PASS login.
 *
 * On an unencrypted connection without pop3a_options_allow_cleartext() it is
 * never sent and completes with #POP3A_ERR_CLEARTEXT.
 * @param client the client.
 * @param password copied, wiped after use, redacted in traces.
 * @param done called once from the event loop; may be NULL.
 * @param arg passed to @p done, never dereferenced by the library.
 * @return a future owned by the library until @p done returns, or NULL (contract 1).
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT pop3a_future *pop3a_pass(pop3a_client *client, const char *password,
                                      pop3a_done_cb done, void *arg);
/**
 * @brief APOP login (RFC 1939 section 7): pop3a_login() with #POP3A_MECH_APOP only.
 * @param client the client.
 * @param user the user name, copied.
 * @param secret the shared secret, copied and wiped after use.
 * @param done called once from the event loop; may be NULL.
 * @param arg passed to @p done, never dereferenced by the library.
 * @return a future owned by the library until @p done returns, or NULL (contract 1).
 *         Statuses as pop3a_login(); #POP3A_ERR_UNSUPPORTED when the greeting had
 *         no timestamp.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT pop3a_future *pop3a_apop(pop3a_client *client, const char *user, const char *secret,
                                      pop3a_done_cb done, void *arg);
/**
 * @brief STAT: message count and size; read with pop3a_future_stat().
 * @param client the client.
 * @param done called once from the event loop; may be NULL.
 * @param arg passed to @p done, never dereferenced by the library.
 * @return a future owned by the library until @p done returns, or NULL (contract 1).
 *         Statuses as pop3a_user().
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT pop3a_future *pop3a_stat(pop3a_client *client, pop3a_done_cb done, void *arg);
/**
 * @brief LIST: message sizes; read with pop3a_future_count() and pop3a_future_entry().
 * @param client the client.
 * @param msg 0: the whole listing (multi-line); otherwise one entry.
 * @param done called once from the event loop; may be NULL.
 * @param arg passed to @p done, never dereferenced by the library.
 * @return a future owned by the library until @p done returns, or NULL (contract 1).
 *         Statuses as pop3a_user().
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT pop3a_future *pop3a_list(pop3a_client *client, uint32_t msg, pop3a_done_cb done,
                                      void *arg);
/**
 * @brief UIDL: unique ids; read with pop3a_future_count() and pop3a_future_entry().
 * @param client the client.
 * @param msg 0: the whole listing (multi-line); otherwise one entry.
 * @param done called once from the event loop; may be NULL.
 * @param arg passed to @p done, never dereferenced by the library.
 * @return a future owned by the library until @p done returns, or NULL (contract 1).
 *         Statuses as pop3a_user().
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT pop3a_future *pop3a_uidl(pop3a_client *client, uint32_t msg, pop3a_done_cb done,
                                      void *arg);
/**
 * @brief RETR: stream one message through @p chunk.
 * @param client the client.
 * @param msg the message number, from 1.
 * @param chunk called from the event loop with the body (contract 3); may be NULL
 *        to drop the body.
 * @param done called once from the event loop, after the final chunk; may be NULL.
 * @param arg passed to both callbacks, never dereferenced by the library.
 * @return a future owned by the library until @p done returns, or NULL (contract 1).
 *         Statuses as pop3a_user(), and #POP3A_ERR_CANCELLED when @p chunk aborted.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT pop3a_future *pop3a_retr(pop3a_client *client, uint32_t msg, pop3a_chunk_cb chunk,
                                      pop3a_done_cb done, void *arg);
/**
 * @brief TOP: stream a message's header and its first @p lines body lines.
 * @param client the client.
 * @param msg the message number, from 1.
 * @param lines how many body lines; 0 for the header only.
 * @param chunk called from the event loop with the text (contract 3); may be NULL.
 * @param done called once from the event loop, after the final chunk; may be NULL.
 * @param arg passed to both callbacks, never dereferenced by the library.
 * @return a future owned by the library until @p done returns, or NULL (contract 1).
 *         Statuses as pop3a_retr().
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT pop3a_future *pop3a_top(pop3a_client *client, uint32_t msg, uint32_t lines,
                                     pop3a_chunk_cb chunk, pop3a_done_cb done, void *arg);
/**
 * @brief DELE: mark a message deleted; the server removes it at QUIT (RFC 1939).
 * @param client the client.
 * @param msg the message number, from 1.
 * @param done called once from the event loop; may be NULL.
 * @param arg passed to @p done, never dereferenced by the library.
 * @return a future owned by the library until @p done returns, or NULL (contract 1).
 *         Statuses as pop3a_user().
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT pop3a_future *pop3a_dele(pop3a_client *client, uint32_t msg, pop3a_done_cb done,
                                      void *arg);
/**
 * @brief NOOP: the server only answers; keeps an idle session alive.
 * @param client the client.
 * @param done called once from the event loop; may be NULL.
 * @param arg passed to @p done, never dereferenced by the library.
 * @return a future owned by the library until @p done returns, or NULL (contract 1).
 *         Statuses as pop3a_user().
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT pop3a_future *pop3a_noop(pop3a_client *client, pop3a_done_cb done, void *arg);
/**
 * @brief RSET: unmark every message marked deleted in this session.
 * @param client the client.
 * @param done called once from the event loop; may be NULL.
 * @param arg passed to @p done, never dereferenced by the library.
 * @return a future owned by the library until @p done returns, or NULL (contract 1).
 *         Statuses as pop3a_user().
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT pop3a_future *pop3a_rset(pop3a_client *client, pop3a_done_cb done, void *arg);
/**
 * @brief CAPA again (RFC 2449); the client's capability set is replaced by the answer.
 * @param client the client.
 * @param done called once from the event loop; may be NULL.
 * @param arg passed to @p done, never dereferenced by the library.
 * @return a future owned by the library until @p done returns, or NULL (contract 1).
 *         Statuses as pop3a_user(); the set is in pop3a_future_capa().
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT pop3a_future *pop3a_capa_refresh(pop3a_client *client, pop3a_done_cb done, void *arg);
/**
 * @brief UTF8 (RFC 6856): switch the session to UTF-8.
 * @param client the client.
 * @param done called once from the event loop; may be NULL.
 * @param arg passed to @p done, never dereferenced by the library.
 * @return a future owned by the library until @p done returns, or NULL (contract 1).
 *         Statuses as pop3a_user().
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT pop3a_future *pop3a_utf8(pop3a_client *client, pop3a_done_cb done, void *arg);
/**
 * @brief QUIT: enters the UPDATE state (deletions happen); the connection is then closed.
 *
 * After @p done, the close callback runs with #POP3A_OK; the client may connect again.
 * @param client the client.
 * @param done called once from the event loop; may be NULL.
 * @param arg passed to @p done, never dereferenced by the library.
 * @return a future owned by the library until @p done returns, or NULL (contract 1).
 *         Statuses as pop3a_user(); #POP3A_ERR_SERVER means the deletions failed.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT pop3a_future *pop3a_quit(pop3a_client *client, pop3a_done_cb done, void *arg);

/**
 * @brief Batch: queue RETR for every message in @p msgs at once.
 *
 * With PIPELINING they go out in a few writes. Each message gets its own future
 * and callbacks (`arg` shared). Deleting stays the caller's job, after the
 * message is stored durably: call pop3a_dele() from the done callback; the
 * server removes nothing before QUIT (RFC 1939 UPDATE state).
 * @param client the client.
 * @param msgs message numbers, from 1; read during the call only.
 * @param n how many.
 * @param chunk as for pop3a_retr().
 * @param done as for pop3a_retr(), once per message.
 * @param arg passed to every callback.
 * @return how many were queued: less than @p n only when a submit failed (see
 *         pop3a_client_error()); the futures are not returned.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT size_t pop3a_retr_many(pop3a_client *client, const uint32_t *msgs, size_t n,
                                    pop3a_chunk_cb chunk, pop3a_done_cb done, void *arg);
/**
 * @brief Batch: queue DELE for every message in @p msgs at once.
 *
 * Pipelined like pop3a_retr_many(). Call it only for messages already stored
 * durably; a -ERR fails only that message's future.
 * @param client the client.
 * @param msgs message numbers, from 1; read during the call only.
 * @param n how many.
 * @param done as for pop3a_dele(), once per message.
 * @param arg passed to every callback.
 * @return how many were queued, as pop3a_retr_many().
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT size_t pop3a_dele_many(pop3a_client *client, const uint32_t *msgs, size_t n,
                                    pop3a_done_cb done, void *arg);

/* ------------------------------------------------------------------ futures */

/**
 * @brief A future's status.
 *
 * The accessors below read a future inside its done callback, or later while a
 * pop3a_future_ref() reference is held; they take NULL and return an empty result.
 * @param future the future.
 * @return the final status once completed, #POP3A_OK also while pending (see
 *         pop3a_future_is_done()); #POP3A_ERR_INVALID for NULL.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT pop3a_status pop3a_future_status(const pop3a_future *future);
/**
 * @brief Whether a future has completed.
 * @param future the future.
 * @return 1 once it has completed (its status and results are final: from its
 *         done callback on), 0 while it is pending or for NULL.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT int pop3a_future_is_done(const pop3a_future *future);
/**
 * @brief Text after +OK / -ERR of the final reply (response code included).
 * @param future the future.
 * @return the text, or a library message for local failures; "" if none. Owned by
 *         the future.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT const char *pop3a_future_text(const pop3a_future *future);
/**
 * @brief The bracketed response code of the final reply (RFC 2449, RFC 3206).
 * @param future the future.
 * @return the code, #POP3A_RESP_NONE if none.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT pop3a_resp_code pop3a_future_resp_code(const pop3a_future *future);
/**
 * @brief The message number a RETR/TOP/DELE/LIST n/UIDL n was for.
 * @param future the future.
 * @return the number, 0 otherwise.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT uint32_t pop3a_future_msg(const pop3a_future *future);
/**
 * @brief Body octets delivered so far by RETR/TOP (after unstuffing).
 * @param future the future.
 * @return the count; also valid inside the chunk callback.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT uint64_t pop3a_future_octets(const pop3a_future *future);
/**
 * @brief The size the server announced for a RETR's message.
 *
 * Its "+OK nnn octets", else the message's size in this session's LIST.
 * A message cut short never completes as OK: a body shorter than announced
 * fails under the size check (pop3a_options_set_size_check()), and a body the
 * size cannot vouch for gets its final chunk and done callback only once the
 * next reply's status line (or the end of the connection, or a short quiet
 * time when nothing is owed after it) proves its terminator was the end; bytes
 * after it that are no reply fail it. So a fetcher stores on the final chunk;
 * it may also compare the two sizes itself and refuse a short message.
 * @param future the future.
 * @param octets receives the size; may be NULL.
 * @return 0, or -1 when none was announced (and for TOP, which sends only part
 *         of a message).
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT int pop3a_future_announced_octets(const pop3a_future *future, uint64_t *octets);
/**
 * @brief The body received so far, counted as RFC 1939 counts a message's size.
 *
 * Octets after unstuffing, each bare LF counted as CRLF: equal to the
 * announced size for a whole message (or pop3a_future_octets() is, from a
 * server that counts as it sends).
 * @param future the future.
 * @return the count; also valid inside the chunk callback.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT uint64_t pop3a_future_received_octets(const pop3a_future *future);
/**
 * @brief STAT result.
 * @param future the future.
 * @param count receives the message count; may be NULL.
 * @param octets receives the maildrop size; may be NULL.
 * @return 0, or -1 when the future is not a successful STAT.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT int pop3a_future_stat(const pop3a_future *future, uint32_t *count, uint64_t *octets);
/**
 * @brief LIST/UIDL result: number of entries.
 * @param future the future.
 * @return the count (1 for LIST n or UIDL n), 0 for other commands.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT size_t pop3a_future_count(const pop3a_future *future);
/**
 * @brief LIST/UIDL result: one entry.
 * @param future the future.
 * @param index from 0 to pop3a_future_count() - 1.
 * @param msg receives the message number; may be NULL.
 * @param size receives the size (LIST), 0 for UIDL; may be NULL.
 * @param uid receives the unique id (UIDL), NULL for LIST; owned by the future;
 *        may be NULL.
 * @return 0, or -1 for a bad index.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT int pop3a_future_entry(const pop3a_future *future, size_t index, uint32_t *msg,
                                    uint64_t *size, const char **uid);
/**
 * @brief CAPA result (also from pop3a_connect()).
 * @param future the future.
 * @return owned by the future; NULL if none.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT const pop3a_capa *pop3a_future_capa(const pop3a_future *future);
/**
 * @brief The future's client.
 * @param future the future.
 * @return the client; NULL once its done callback has returned.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT pop3a_client *pop3a_future_client(const pop3a_future *future);
/**
 * @brief Cancel a command (contract 5).
 *
 * Queued: never sent, completes with #POP3A_ERR_CANCELLED on a later loop turn.
 * Sent: its reply is read and dropped (no more chunks). A pending connect is
 * dropped. Allowed inside any callback; a completed future is left alone.
 * @param future the future, or NULL (no-op).
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT void pop3a_future_cancel(pop3a_future *future);
/**
 * @brief Resume reading after a chunk callback returned #POP3A_CHUNK_PAUSE.
 *
 * Buffered input is processed from the loop, not from inside this call.
 * @param future the paused future.
 * @return 0, or -1 if the future is not paused.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT int pop3a_future_resume(pop3a_future *future);
/**
 * @brief Take a reference, keeping the future and its results past its done callback.
 * @param future the future, or NULL.
 * @return @p future; release it with pop3a_future_unref().
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT pop3a_future *pop3a_future_ref(pop3a_future *future);
/**
 * @brief Drop a reference taken with pop3a_future_ref(); the last one frees the future.
 * @param future the future, or NULL (no-op).
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT void pop3a_future_unref(pop3a_future *future);

/* ------------------------------------------------------------- capabilities */

/**
 * @brief POP3A_CAPA_* bits present.
 *
 * The capa accessors take NULL (an empty result) and read a set owned by a client
 * or a future: see pop3a_client_capa() and pop3a_future_capa() for how long.
 * @param capa the set.
 * @return the mask.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT unsigned pop3a_capa_flags(const pop3a_capa *capa);
/**
 * @brief POP3A_MECH_* bits of the SASL mechanisms offered.
 *
 * Plus #POP3A_MECH_USER when CAPA lists USER. APOP has no CAPA tag: see
 * pop3a_client_apop_timestamp().
 * @param capa the set.
 * @return the mask.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT unsigned pop3a_capa_mechs(const pop3a_capa *capa);
/**
 * @brief LOGIN-DELAY in seconds (RFC 2449 section 6.5).
 * @param capa the set.
 * @return the delay, or -1 when absent or unreadable.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT int64_t pop3a_capa_login_delay(const pop3a_capa *capa);
/**
 * @brief EXPIRE in days (RFC 2449 section 6.7).
 * @param capa the set.
 * @return the days, UINT32_MAX for EXPIRE NEVER, or -1 when absent or unreadable.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT int64_t pop3a_capa_expire(const pop3a_capa *capa);
/**
 * @brief IMPLEMENTATION text.
 * @param capa the set.
 * @return the text or NULL; owned by the capa.
 * @par Threads
 *     The thread that runs the client's event loop only (see @ref threads).
 */
POP3A_EXPORT const char *pop3a_capa_implementation(const pop3a_capa *capa);

#ifdef __cplusplus
}
#endif

#endif
