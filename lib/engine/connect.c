/*
 * The connect op: resolve (IPv4 and IPv6, every address in order), TCP connect,
 * implicit TLS, greeting, CAPA, and STLS + CAPA again (RFC 1939 s4, RFC 2449 s5,
 * RFC 2595 s4, RFC 8314). One deadline bounds the whole of it. A name's
 * addresses race (RFC 8305 s5, Happy Eyeballs): the next one starts 250 ms
 * after the last if nothing has connected yet, or at once when an attempt
 * fails; the first to connect wins. So an address that never answers (a
 * black-holed IPv6 route, say) costs 250 ms, not the whole deadline.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "alloc.h"
#include "apop.h"
#include "client_internal.h"
#include "session.h"
#include "sock_bio.h"
#include "socks5_step.h"
#include "tls.h"

enum { TAG_GREETING = 1, TAG_CAPA, TAG_STLS };
enum {
    PHASE_RESOLVING = 1,
    PHASE_TCP,
    PHASE_PROXY,           /* the SOCKS5 handshake on the connection to the proxy */
    PHASE_TUNNEL_HANDSHAKE, /* implicit TLS through the proxy's tunnel */
    PHASE_STLS_HANDSHAKE,
    PHASE_PROTOCOL
};

/* RFC 8305 s5: the recommended Connection Attempt Delay. */
#define ATTEMPT_DELAY_MS 250u
/* Attempts in flight at once; more addresses wait for one of them to fail. */
#define MAX_ATTEMPTS 8

/* The connect op's own state (f->op_state). */
typedef struct {
    char *host; /* the target: SNI and the certificate's name are checked against it */
    uint16_t port;
    /* Whom TCP connects to: the target, or the proxy (c->opts.proxy). */
    const char *dial_host;
    uint16_t dial_port;
    /* socks5:// (not socks5h): the target is resolved here first, and its
     * first address is what the proxy is asked for. */
    int target_family; /* 0 until resolved, else 4 or 6 */
    uint8_t target_addr[16];
    pop3a_socks5_step socks5;
    struct evutil_addrinfo *addrs; /* from evdns_getaddrinfo; freed with it */
    struct evutil_addrinfo *next_addr;
    struct evdns_getaddrinfo_request *dns_req;
    int dns_pending;                /* the lookup has not answered yet */
    struct bufferevent *attach_bev; /* pop3a_attach's, until installed */
    int attached;                   /* the transport is the caller's (pop3a_attach) */
    struct event *deadline;         /* bounds the whole op */
    /* Connecting attempts (TCP, and the handshake under implicit TLS), not yet
     * the session's transport: the first to connect is installed. */
    struct bufferevent *attempts[MAX_ATTEMPTS];
    int n_attempts;
    struct event *stagger;          /* starts the next address: ATTEMPT_DELAY_MS */
    int phase;                      /* which step is under way */
    char last_error[128];           /* why the last address failed */
} connect_state;

static connect_state *state_of(pop3a_future *f)
{
    return f->op_state;
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    pop3a_future *f = arg;
    pop3a_client *c = f->client;
    char why[80];
    snprintf(why, sizeof why, "connecting took longer than %u ms", c->opts.connect_ms);
    pop3a_enter(c);
    pop3a_fail_connection(c, POP3A_ERR_TIMEOUT, why);
    pop3a_leave(c);
}

/* The context or the SSL could not be made: out of memory is NOMEM (the
 * caller may retry), anything else (an unreadable CA file) is TLS. */
static void tls_setup_failed(pop3a_client *c, const char *why)
{
    if (pop3a_tls_err_is_nomem(why) || pop3a_tls_out_of_memory())
        pop3a_fail_connection(c, POP3A_ERR_NOMEM, "cannot set up TLS (out of memory)");
    else
        pop3a_fail_connection(c, POP3A_ERR_TLS, why);
}

static SSL *new_ssl(pop3a_client *c, pop3a_future *f)
{
    char err[200];
    if (!c->ssl_ctx) {
        c->ssl_ctx = pop3a_tls_ctx_new(&c->opts, err, sizeof err);
        if (!c->ssl_ctx) {
            tls_setup_failed(c, err);
            return NULL;
        }
    }
    SSL *ssl = pop3a_tls_ssl_new(c->ssl_ctx, &c->opts, state_of(f)->host, err, sizeof err);
    if (!ssl) {
        tls_setup_failed(c, err);
        return NULL;
    }
    /* OpenSSL 3 reports a close without close_notify as an SSL error, which
     * libevent's dirty-shutdown allowance does not cover: see allow_dirty_close. */
    SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
    return ssl;
}

/* Servers commonly close without a TLS close_notify (after QUIT, or on an idle
 * timeout). POP3's own framing (status lines, the "." terminator) already tells
 * a complete reply from a cut one, so such a close is an EOF like any other,
 * not a TLS error. */
static void allow_dirty_close(struct bufferevent *bev)
{
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
}

/* Once the transport is up (TCP, or TLS finished): verify, then wait for the
 * greeting or, after STLS, ask CAPA again. */
static void transport_up(pop3a_client *c, pop3a_future *f)
{
    if (c->ssl) {
        char err[200];
        c->verify_result = SSL_get_verify_result(c->ssl);
        if (pop3a_tls_check_peer(c->ssl, &c->opts, err, sizeof err) != 0) {
            pop3a_fail_connection(c, POP3A_ERR_TLS, err);
            return;
        }
        /* OpenSSL checked the name during the handshake on an SSL we made; on a
         * caller's (pop3a_attach) nobody may have: check it here, for both. */
        long name_rc = pop3a_tls_check_name(c->ssl, &c->opts, state_of(f)->host, err, sizeof err);
        if (name_rc != X509_V_OK) {
            c->verify_result = name_rc;
            pop3a_fail_connection(c, POP3A_ERR_TLS, err);
            return;
        }
        c->tls_up = 1;
        pop3a_trace(c, POP3A_TRACE_INFO, SSL_get_version(c->ssl), strlen(SSL_get_version(c->ssl)));
    }
    int was_stls = state_of(f)->phase == PHASE_STLS_HANDSHAKE;
    state_of(f)->phase = PHASE_PROTOCOL;
    int rc = was_stls ? pop3a_write_cmd(c, f, POP3A_CMD_CAPA, NULL, 0, TAG_CAPA)
                      : pop3a_expect_reply(c, f, POP3A_EXPECT_STATUS, TAG_GREETING);
    if (rc != 0)
        pop3a_fail_connection(c, POP3A_ERR_NOMEM, "out of memory");
}

static void start_attempts(pop3a_client *c, pop3a_future *f);

/* bev becomes the session's transport: 0, or -1 with the connection failed. */
static int install(pop3a_client *c, struct bufferevent *bev)
{
    if (pop3a_install_bev(c, bev) == 0)
        return 0;
    pop3a_fail_connection(c, POP3A_ERR_NOMEM, "cannot watch the socket (out of memory)");
    return -1;
}

static void drop_attempt(connect_state *cs, int i)
{
    bufferevent_free(cs->attempts[i]); /* BEV_OPT_CLOSE_ON_FREE: socket and SSL go */
    cs->attempts[i] = cs->attempts[--cs->n_attempts];
    cs->attempts[cs->n_attempts] = NULL;
}

static void drop_attempts(connect_state *cs)
{
    while (cs->n_attempts > 0)
        drop_attempt(cs, cs->n_attempts - 1);
    if (cs->stagger)
        evtimer_del(cs->stagger);
}

/* Every address failed: say why the last one did. */
static void no_address_left(pop3a_client *c, pop3a_future *f)
{
    connect_state *cs = state_of(f);
    char why[256];
    snprintf(why, sizeof why, "cannot connect to %s%s port %u: %s",
             c->opts.proxy ? "the proxy " : "", cs->dial_host, cs->dial_port,
             cs->last_error[0] ? cs->last_error : "no address");
    pop3a_fail_connection(c, POP3A_ERR_IO, why);
}

static int start_tls(pop3a_client *c, pop3a_future *f, int phase);

/* The proxy's tunnel to the target is up: it is the session's transport now,
 * and under implicit TLS the handshake (with the target's name) starts. */
static void tunnel_up(pop3a_client *c, pop3a_future *f, struct bufferevent *bev)
{
    if (install(c, bev) != 0)
        return;
    if (c->opts.tls_mode != POP3A_TLS_IMPLICIT) {
        transport_up(c, f);
        /* The greeting may have come with the proxy's reply. */
        if (!c->freeing && pop3a_input_pending(c) > 0)
            pop3a_process_input(c);
        return;
    }
    /* A TLS server never speaks first: bytes here were not the target's. */
    if (pop3a_input_pending(c) > 0) {
        pop3a_fail_connection(c, POP3A_ERR_PROTOCOL,
                              "data received after the proxy's reply, before TLS");
        return;
    }
    start_tls(c, f, PHASE_TUNNEL_HANDSHAKE);
}

/* An attempt connected: it becomes the session's transport, the rest go. */
static void attempt_won(pop3a_client *c, pop3a_future *f, int i)
{
    connect_state *cs = state_of(f);
    struct bufferevent *bev = cs->attempts[i];
    cs->attempts[i] = cs->attempts[--cs->n_attempts];
    cs->attempts[cs->n_attempts] = NULL;
    drop_attempts(cs);
    if (c->opts.proxy) {
        cs->phase = PHASE_PROXY;
        const char *name = c->opts.proxy->remote_dns ? cs->host : NULL;
        pop3a_socks5_step_start(c, f, &cs->socks5, bev, name, cs->target_family,
                                cs->target_addr, cs->port, tunnel_up);
        return;
    }
    c->ssl = bufferevent_openssl_get_ssl(bev); /* NULL unless implicit TLS */
    if (install(c, bev) == 0)
        transport_up(c, f);
}

static void attempt_event_cb(struct bufferevent *bev, short what, void *arg)
{
    pop3a_future *f = arg;
    pop3a_client *c = f->client;
    connect_state *cs = state_of(f);
    int i = 0;
    while (i < cs->n_attempts && cs->attempts[i] != bev)
        i++;
    if (i == cs->n_attempts)
        return; /* an attempt already dropped */
    pop3a_enter(c);
    if (what & BEV_EVENT_CONNECTED) {
        attempt_won(c, f, i);
        pop3a_leave(c);
        return;
    }
    SSL *ssl = bufferevent_openssl_get_ssl(bev);
    unsigned long tls_err = ssl ? bufferevent_get_openssl_error(bev) : 0;
    if (tls_err) {
        /* A certificate or handshake problem is the server's, not the
         * address's: no other address is tried. */
        char why[200];
        c->verify_result = SSL_get_verify_result(ssl);
        pop3a_tls_describe_failure(ssl, tls_err, why, sizeof why);
        pop3a_fail_connection(c, POP3A_ERR_TLS, why);
        pop3a_leave(c);
        return;
    }
    int e = EVUTIL_SOCKET_ERROR();
    snprintf(cs->last_error, sizeof cs->last_error, "%s",
             e ? evutil_socket_error_to_string(e) : "connection closed");
    drop_attempt(cs, i);
    start_attempts(c, f); /* RFC 8305 s5: a failure starts the next at once */
    pop3a_leave(c);
}

/* Starts connecting to ai: 0 with *out the attempt's bufferevent (a TLS one
 * under implicit TLS), 1 when the connect failed at once (cs->last_error
 * says why), -1 when the connection was failed (no memory, no TLS context):
 * then f may be gone. */
static int attempt_new(pop3a_client *c, pop3a_future *f, const struct evutil_addrinfo *ai,
                       struct bufferevent **out)
{
    connect_state *cs = state_of(f);
    int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
    struct bufferevent *bev;
    /* Through a proxy, TLS starts once the tunnel is up (tunnel_up). */
    if (c->opts.tls_mode == POP3A_TLS_IMPLICIT && !c->opts.proxy) {
        SSL *ssl = new_ssl(c, f);
        if (!ssl)
            return -1; /* new_ssl failed the connection */
        /* On failure libevent 2.1 has freed ssl already (CLOSE_ON_FREE); a
         * simulated failure (torture build) does the same. */
        bev = POP3A_MAY_FAIL(
            bufferevent_openssl_socket_new(c->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, opts),
            (SSL_free(ssl), (struct bufferevent *)NULL));
        if (bev)
            allow_dirty_close(bev);
    } else {
        bev = POP3A_MAY_FAIL(bufferevent_socket_new(c->base, -1, opts), NULL);
    }
    if (!bev) {
        pop3a_fail_connection(c, POP3A_ERR_NOMEM, "cannot create a bufferevent");
        return -1;
    }
    bufferevent_setcb(bev, NULL, NULL, attempt_event_cb, f);
    if (bufferevent_socket_connect(bev, ai->ai_addr, (int)ai->ai_addrlen) == 0) {
        /* libevent makes the socket without SOCK_CLOEXEC: a child the caller
         * runs (an MDA, a password command) must not inherit the session. */
        evutil_make_socket_closeonexec(bufferevent_getfd(bev));
        /* libevent gave the SSL OpenSSL's socket BIO, which writes with
         * write(2) (SIGPIPE on a reset): ours replaces it before the
         * handshake's first byte, which waits for the loop. */
        SSL *ssl = bufferevent_openssl_get_ssl(bev);
        if (ssl && pop3a_sock_bio_attach(ssl, bufferevent_getfd(bev)) != 0) {
            bufferevent_free(bev);
            pop3a_fail_connection(c, POP3A_ERR_NOMEM, "out of memory");
            return -1;
        }
        *out = bev;
        return 0;
    }
    snprintf(cs->last_error, sizeof cs->last_error, "%s",
             evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    bufferevent_free(bev);
    return 1;
}

static void stagger_cb(evutil_socket_t fd, short what, void *arg)
{
    pop3a_future *f = arg;
    pop3a_client *c = f->client;
    pop3a_enter(c);
    start_attempts(c, f);
    pop3a_leave(c);
}

/*
 * Starts the next address that can be started (one failing at once is
 * skipped), and arms the stagger timer for the one after it. With nothing in
 * flight and no address left, the connect fails.
 */
static void start_attempts(pop3a_client *c, pop3a_future *f)
{
    connect_state *cs = state_of(f);
    cs->phase = PHASE_TCP;
    while (cs->next_addr && cs->n_attempts < MAX_ATTEMPTS) {
        struct evutil_addrinfo *ai = cs->next_addr;
        cs->next_addr = ai->ai_next;
        struct bufferevent *bev = NULL;
        int rc = attempt_new(c, f, ai, &bev);
        if (rc < 0)
            return; /* the connection is failed: f may be gone */
        if (rc > 0)
            continue; /* failed at once: the next, without waiting */
        cs->attempts[cs->n_attempts++] = bev;
        break;
    }
    if (cs->n_attempts == 0) {
        no_address_left(c, f);
        return;
    }
    if (!cs->next_addr)
        return;
    if (!cs->stagger)
        cs->stagger = POP3A_MAY_FAIL(evtimer_new(c->base, stagger_cb, f), NULL);
    if (cs->stagger) { /* without it (no memory) the next waits for a failure */
        struct timeval tv = pop3a_ms_to_tv(ATTEMPT_DELAY_MS);
        evtimer_add(cs->stagger, &tv);
    }
}

static void resolve(pop3a_client *c, pop3a_future *f);

/* socks5:// resolves the target here: its first address is kept for the
 * CONNECT request, then the proxy's name is resolved and dialled. */
static void keep_target_address(pop3a_client *c, pop3a_future *f, struct evutil_addrinfo *res)
{
    connect_state *cs = state_of(f);
    if (res->ai_family == AF_INET6) {
        memcpy(cs->target_addr, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, 16);
        cs->target_family = 6;
    } else {
        memcpy(cs->target_addr, &((struct sockaddr_in *)res->ai_addr)->sin_addr, 4);
        cs->target_family = 4;
    }
    evutil_freeaddrinfo(res);
    cs->dial_host = c->opts.proxy->host;
    cs->dial_port = c->opts.proxy->port;
    resolve(c, f);
}

static void addresses_known(pop3a_client *c, pop3a_future *f, struct evutil_addrinfo *res)
{
    connect_state *cs = state_of(f);
    if (c->opts.proxy && !c->opts.proxy->remote_dns && cs->target_family == 0) {
        keep_target_address(c, f, res);
        return;
    }
    cs->addrs = res;
    cs->next_addr = res;
    start_attempts(c, f);
}

static void dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
    if (result == EVUTIL_EAI_CANCEL)
        return; /* the op is being torn down: touch nothing */
    pop3a_future *f = arg;
    pop3a_client *c = f->client;
    state_of(f)->dns_pending = 0;
    state_of(f)->dns_req = NULL;
    pop3a_enter(c);
    if (result != 0) {
        char why[256];
        snprintf(why, sizeof why, "cannot resolve %s: %s", state_of(f)->dial_host,
                 evutil_gai_strerror(result));
        pop3a_fail_connection(c, POP3A_ERR_DNS, why);
    } else {
        addresses_known(c, f, res);
    }
    pop3a_leave(c);
}

/* TCP over IPv4 or IPv6, whichever the name has (all addresses are tried). */
static struct evutil_addrinfo tcp_hints(int flags)
{
    struct evutil_addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = flags;
    return hints;
}

/* An IP literal needs no resolver: no resolv.conf read, no DNS socket. */
static int resolve_numeric(pop3a_client *c, pop3a_future *f, const char *port)
{
    struct evutil_addrinfo hints = tcp_hints(EVUTIL_AI_NUMERICHOST | EVUTIL_AI_NUMERICSERV);
    struct evutil_addrinfo *res = NULL;
    if (evutil_getaddrinfo(state_of(f)->dial_host, port, &hints, &res) != 0)
        return -1;
    addresses_known(c, f, res);
    return 0;
}

static void resolve(pop3a_client *c, pop3a_future *f)
{
    char port[8];
    snprintf(port, sizeof port, "%u", state_of(f)->dial_port);
    if (resolve_numeric(c, f, port) == 0)
        return;
    if (!c->dns) {
        /* DISABLE_WHEN_INACTIVE: an idle resolver must not keep the caller's
         * loop alive, or event_base_dispatch never returns once every future
         * is done. libevent 2.1 reads resolv.conf inside evdns_base_new before
         * it applies that flag (the nameserver sockets stay registered), so
         * the configuration is read afterwards, here. Without resolv.conf
         * libevent falls back to its defaults; /etc/hosts is read either way. */
        c->dns = evdns_base_new(c->base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
        if (c->dns)
            evdns_base_resolv_conf_parse(c->dns, DNS_OPTIONS_ALL, "/etc/resolv.conf");
        if (!c->dns) { /* out of memory, or of fds for its sockets */
            pop3a_fail_connection(c, POP3A_ERR_NOMEM, "cannot create a DNS resolver");
            return;
        }
        c->own_dns = 1;
    }
    struct evutil_addrinfo hints = tcp_hints(0);
    state_of(f)->phase = PHASE_RESOLVING;
    state_of(f)->dns_pending = 1;
    /* May answer synchronously (/etc/hosts); then it returns NULL, and dns_cb may
     * already have completed f: our reference keeps it readable until here. */
    pop3a_future_ref(f);
    struct evdns_getaddrinfo_request *req =
        evdns_getaddrinfo(c->dns, state_of(f)->dial_host, port, &hints, dns_cb, f);
    if (state_of(f)->dns_pending)
        state_of(f)->dns_req = req;
    pop3a_future_release(f);
}

static pop3a_status connect_may_start(const pop3a_client *c, const pop3a_future *f)
{
    (void)f;
    return c->state == POP3A_ST_DISCONNECTED ? POP3A_OK : POP3A_ERR_STATE;
}

static void connect_start(pop3a_client *c, pop3a_future *f)
{
    connect_state *cs = state_of(f);
    cs->deadline = POP3A_MAY_FAIL(evtimer_new(c->base, deadline_cb, f), NULL);
    if (!cs->deadline) {
        pop3a_fail_connection(c, POP3A_ERR_NOMEM, "cannot create a timer");
        return;
    }
    struct timeval tv = pop3a_ms_to_tv(c->opts.connect_ms);
    evtimer_add(cs->deadline, &tv);
    c->state = POP3A_ST_CONNECTING;
    pop3a_capa_clear(&c->capa);
    cs->dial_host = cs->host;
    cs->dial_port = cs->port;
    if (c->opts.proxy && c->opts.proxy->remote_dns) {
        cs->dial_host = c->opts.proxy->host; /* socks5h: no DNS query for the target */
        cs->dial_port = c->opts.proxy->port;
    }
    if (state_of(f)->attach_bev) {
        struct bufferevent *bev = state_of(f)->attach_bev;
        state_of(f)->attach_bev = NULL;
        state_of(f)->attached = 1;
        c->ssl = bufferevent_openssl_get_ssl(bev); /* an already-TLS transport */
        if (install(c, bev) != 0)
            return;
        if (!c->ssl && c->opts.tls_mode == POP3A_TLS_IMPLICIT) {
            /* The options promise TLS from the first byte: a plain transport
             * would carry the login in clear. STLS or NONE says otherwise. */
            pop3a_fail_connection(c, POP3A_ERR_TLS_REQUIRED,
                                  "the attached bufferevent is not TLS and the options "
                                  "require implicit TLS");
            return;
        }
        transport_up(c, f);
        return;
    }
    resolve(c, f);
}

/* Transport events of the session's own bufferevent: the connect op only
 * claims the STLS handshake's (the TCP attempts have attempt_event_cb). */
static int connect_on_event(pop3a_client *c, pop3a_future *f, short what)
{
    if (state_of(f)->phase != PHASE_STLS_HANDSHAKE &&
        state_of(f)->phase != PHASE_TUNNEL_HANDSHAKE)
        return 0;
    if (what & BEV_EVENT_CONNECTED) {
        transport_up(c, f);
        return 1;
    }
    /* A certificate or handshake problem is the server's, not the address's:
     * no retry on the next address. */
    unsigned long tls_err = bufferevent_get_openssl_error(c->bev);
    char why[200];
    c->verify_result = SSL_get_verify_result(c->ssl);
    pop3a_tls_describe_failure(c->ssl, tls_err, why, sizeof why);
    pop3a_fail_connection(c, POP3A_ERR_TLS, why);
    return 1;
}

static void finish(pop3a_client *c, pop3a_future *f)
{
    f->has_capa = 1; /* f->capa is the session's (after_capa) */
    c->state = POP3A_ST_AUTHORIZATION;
    pop3a_complete(c, f, POP3A_OK);
}

/* STLS accepted: RFC 2595 s4, TLS starts right after the +OK line. */
static int start_stls_handshake(pop3a_client *c, pop3a_future *f)
{
    /* Bytes already after the +OK were not protected by TLS: a man in the middle
     * may have injected them (curl CVE-2021-22947). Refuse, never interpret. */
    if (pop3a_input_pending(c) > 0) {
        pop3a_fail_connection(c, POP3A_ERR_PROTOCOL,
                              "data received after the STLS reply, before TLS (injection?)");
        return -1;
    }
    pop3a_consume_current(c);
    if (start_tls(c, f, PHASE_STLS_HANDSHAKE) != 0)
        return -1;
    /* What the server said before TLS may have been forged: forget it. */
    pop3a_capa_clear(&c->capa);
    return 0;
}

/*
 * TLS on the session's own plain socket (after STLS, or through a proxy's
 * tunnel): an OpenSSL bufferevent on the same socket replaces the plain one,
 * with the socket BIO of sock_bio.c, so no write can raise SIGPIPE (a filter
 * over the plain bufferevent would write through libevent's writev). NULL
 * when out of memory, ssl freed; c->bev is then unchanged.
 */
static struct bufferevent *tls_on_socket(pop3a_client *c, SSL *ssl)
{
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    if (pop3a_sock_bio_attach(ssl, fd) != 0) {
        SSL_free(ssl);
        return NULL;
    }
    struct bufferevent *tls = POP3A_MAY_FAIL(
        bufferevent_openssl_socket_new(c->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
                                       BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS),
        (SSL_free(ssl), (struct bufferevent *)NULL)); /* as libevent does on failure */
    if (!tls)
        return NULL;
    /* The socket is the new bufferevent's now: the old one lets go of it. */
    pop3a_uninstall_bev(c);
    bufferevent_setfd(c->bev, -1);
    bufferevent_free(c->bev);
    c->bev = NULL;
    return tls;
}

/* TLS over a transport the caller attached, which may be anything: a filter
 * over it. Its timers must not fire into the filter: the filter gets its own
 * (pop3a_install_bev). */
static struct bufferevent *tls_filter(pop3a_client *c, SSL *ssl)
{
    bufferevent_set_timeouts(c->bev, NULL, NULL);
    return POP3A_MAY_FAIL(
        bufferevent_openssl_filter_new(c->base, c->bev, ssl, BUFFEREVENT_SSL_CONNECTING,
                                       BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS),
        (SSL_free(ssl), (struct bufferevent *)NULL)); /* as libevent does on failure */
}

/* TLS over the session's current transport (after STLS, or through a
 * proxy's tunnel): connect_on_event sees its handshake end. */
static int start_tls(pop3a_client *c, pop3a_future *f, int phase)
{
    SSL *ssl = new_ssl(c, f);
    if (!ssl)
        return -1;
    int own_socket = !state_of(f)->attached && c->own_writes;
    struct bufferevent *tls = own_socket ? tls_on_socket(c, ssl) : tls_filter(c, ssl);
    if (!tls) { /* ssl is gone too: libevent 2.1 frees it on failure (CLOSE_ON_FREE) */
        pop3a_fail_connection(c, POP3A_ERR_NOMEM, "cannot start TLS (out of memory)");
        return -1;
    }
    allow_dirty_close(tls);
    c->ssl = ssl;
    state_of(f)->phase = phase;
    return install(c, tls);
}

/* CAPA answered: END, or -ERR from a server without CAPA (RFC 1939 only),
 * whose capabilities are none, not those of an earlier CAPA (before STLS). */
static int after_capa(pop3a_client *c, pop3a_future *f, int refused)
{
    if (refused)
        pop3a_capa_reply_begin(f);
    if (pop3a_capa_reply_adopt(c, f) != 0) {
        pop3a_fail_connection(c, POP3A_ERR_NOMEM, "out of memory");
        return -1;
    }
    if (c->opts.tls_mode == POP3A_TLS_STLS && !c->tls_up) {
        if (!(c->capa.flags & POP3A_CAPA_STLS)) {
            pop3a_fail_connection(c, POP3A_ERR_TLS_REQUIRED,
                                  "the server does not offer STLS and TLS is required");
            return -1;
        }
        if (pop3a_write_cmd(c, f, POP3A_CMD_STLS, NULL, 0, TAG_STLS) != 0) {
            pop3a_fail_connection(c, POP3A_ERR_NOMEM, "out of memory");
            return -1;
        }
        return 0;
    }
    finish(c, f);
    return c->freeing ? -1 : 0;
}

static int on_greeting(pop3a_client *c, pop3a_future *f, const pop3a_pev *ev)
{
    if (ev->kind != POP3A_PEV_OK) {
        pop3a_future_set_text(f, ev->data, ev->len);
        f->resp_code = ev->code;
        pop3a_fail_connection(c, POP3A_ERR_SERVER, "the server refused the session");
        return -1;
    }
    const char *ts;
    size_t ts_len;
    pop3a_free(c->apop_ts);
    c->apop_ts = NULL;
    if (pop3a_apop_find_timestamp(ev->data, ev->len, &ts, &ts_len) == 0) {
        c->apop_ts = pop3a_malloc(ts_len + 1);
        if (!c->apop_ts) {
            /* Not silently a server without APOP: a login would then fail
             * UNSUPPORTED (or fall back) for a reason that is ours. */
            pop3a_fail_connection(c, POP3A_ERR_NOMEM, "out of memory");
            return -1;
        }
        memcpy(c->apop_ts, ts, ts_len);
        c->apop_ts[ts_len] = '\0';
    }
    pop3a_future_set_text(f, ev->data, ev->len);
    /* The greeting is the connect's text only if it succeeds: a failure
     * after it (a reset, a refused STLS) says why instead. */
    f->text_is_ok_line = 1;
    c->state = POP3A_ST_AUTHORIZATION; /* CAPA is allowed from here on */
    if (pop3a_write_cmd(c, f, POP3A_CMD_CAPA, NULL, 0, TAG_CAPA) != 0) {
        pop3a_fail_connection(c, POP3A_ERR_NOMEM, "out of memory");
        return -1;
    }
    return 0;
}

static int connect_on_reply(pop3a_client *c, pop3a_future *f, int tag, const pop3a_pev *ev,
                            int reply_done)
{
    (void)reply_done; /* each tag's handler knows its reply's shape */
    if (ev->kind == POP3A_PEV_CONTINUE) {
        pop3a_fail_connection(c, POP3A_ERR_PROTOCOL, "unexpected SASL continuation");
        return -1;
    }
    switch (tag) {
    case TAG_GREETING:
        return on_greeting(c, f, ev);
    case TAG_CAPA:
        if (ev->kind == POP3A_PEV_OK) {
            pop3a_capa_reply_begin(f);
            return 0;
        }
        if (ev->kind == POP3A_PEV_LINE) {
            /* Unlike pop3a_capa_refresh, which drops the rest of a long reply
             * and keeps the session: nothing is set up yet, and an endless
             * CAPA must not hold the connect op until its deadline. */
            switch (pop3a_capa_reply_line(f, ev)) {
            case POP3A_OK:
                return 0;
            case POP3A_ERR_PROTOCOL:
                pop3a_fail_connection(c, POP3A_ERR_PROTOCOL, "CAPA reply too long");
                return -1;
            default:
                pop3a_fail_connection(c, POP3A_ERR_NOMEM, "out of memory");
                return -1;
            }
        }
        /* END, or -ERR (no CAPA support: RFC 2449 servers only; carry on). */
        return after_capa(c, f, ev->kind == POP3A_PEV_ERR);
    case TAG_STLS:
        if (ev->kind != POP3A_PEV_OK) {
            pop3a_future_set_text(f, ev->data, ev->len);
            pop3a_fail_connection(c, POP3A_ERR_TLS_REQUIRED, "the server refused STLS");
            return -1;
        }
        return start_stls_handshake(c, f);
    }
    return 0;
}

static void connect_cleanup(pop3a_future *f)
{
    connect_state *cs = state_of(f);
    if (cs->deadline) {
        event_free(cs->deadline);
        cs->deadline = NULL;
    }
    drop_attempts(cs);
    pop3a_socks5_step_cleanup(&cs->socks5);
    if (cs->stagger) {
        event_free(cs->stagger);
        cs->stagger = NULL;
    }
    if (cs->dns_req) {
        struct evdns_getaddrinfo_request *req = cs->dns_req;
        cs->dns_req = NULL;
        cs->dns_pending = 0;
        evdns_getaddrinfo_cancel(req); /* calls dns_cb with EVUTIL_EAI_CANCEL */
    }
    if (cs->addrs) {
        evutil_freeaddrinfo(cs->addrs);
        cs->addrs = NULL;
        cs->next_addr = NULL;
    }
    if (cs->attach_bev) {
        bufferevent_free(cs->attach_bev); /* owned since pop3a_attach */
        cs->attach_bev = NULL;
    }
    pop3a_free(cs->host);
    cs->host = NULL;
}

static const pop3a_op connect_op = {
    .name = "connect",
    .state_size = sizeof(connect_state),
    .multi_step = 1,
    .may_start = connect_may_start,
    .start = connect_start,
    .on_reply = connect_on_reply,
    .on_event = connect_on_event,
    .cleanup = connect_cleanup,
};

/* ------------------------------------------------------------- public */

static pop3a_future *submit_connect(pop3a_client *c, pop3a_done_cb done, void *arg)
{
    pop3a_future *f = pop3a_future_alloc(c, &connect_op, done, arg);
    if (!f)
        pop3a_set_error(c, POP3A_ERR_NOMEM, NULL);
    return f;
}

POP3A_EXPORT pop3a_future *pop3a_connect(pop3a_client *c, const char *host, uint16_t port,
                                         pop3a_done_cb done, void *arg)
{
    if (!pop3a_may_submit(c))
        return NULL;
    if (!host || !*host || pop3a_arg_ok(host) != 0 || strlen(host) > 255 || port == 0) {
        pop3a_set_error(c, POP3A_ERR_INVALID, "bad host name or port");
        return NULL;
    }
    pop3a_future *f = submit_connect(c, done, arg);
    if (!f)
        return NULL;
    state_of(f)->host = pop3a_strdup(host);
    if (!state_of(f)->host) {
        pop3a_future_release(f);
        pop3a_set_error(c, POP3A_ERR_NOMEM, NULL);
        return NULL;
    }
    state_of(f)->port = port;
    pop3a_enqueue(c, f);
    return f;
}

POP3A_EXPORT pop3a_future *pop3a_attach(pop3a_client *c, struct bufferevent *bev,
                                        pop3a_done_cb done, void *arg)
{
    if (!pop3a_may_submit(c))
        return NULL;
    if (!bev) {
        pop3a_set_error(c, POP3A_ERR_INVALID, "no bufferevent");
        return NULL;
    }
    pop3a_future *f = submit_connect(c, done, arg);
    if (!f)
        return NULL;
    if (c->opts.verify_name) {
        state_of(f)->host = pop3a_strdup(c->opts.verify_name);
        if (!state_of(f)->host) {
            pop3a_future_release(f);
            pop3a_set_error(c, POP3A_ERR_NOMEM, NULL);
            return NULL;
        }
    }
    state_of(f)->attach_bev = bev;
    pop3a_enqueue(c, f);
    return f;
}
