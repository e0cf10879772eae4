/*
 * The SOCKS5 handshake (RFC 1928, RFC 1929) on the connection to the proxy:
 * method offer, user name and password when the proxy picks them, CONNECT.
 * Each reply is read through lib/protocol/socks5.c, which bounds it: at most
 * 262 octets are ever looked at, and a reply that does not parse fails the
 * connect. The connect op's deadline bounds the whole of it. The password is
 * written once and never traced; its request buffer is wiped.
 */
#include "socks5_step.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "alloc.h"

enum { STAGE_METHOD = 1, STAGE_AUTH, STAGE_CONNECT, STAGE_DONE };

/* The longest reply: CONNECT's with a 255-octet bound name (RFC 1928 s6). */
#define MAX_REPLY (4 + 1 + 255 + 2)

static void step_fail(pop3a_client *c, const char *why)
{
    char text[200];
    snprintf(text, sizeof text, "SOCKS5 proxy: %s", why);
    pop3a_fail_connection(c, POP3A_ERR_IO, text);
}

static int send_bytes(pop3a_client *c, pop3a_socks5_step *st, const uint8_t *p, size_t n)
{
    /* Sent at once with MSG_NOSIGNAL (io.c): a proxy that resets the
     * connection must not raise SIGPIPE through libevent's writev. */
    if (POP3A_MAY_FAIL(pop3a_send_early(st->bev, p, n), (errno = ENOMEM, -1)) != 0) {
        if (errno == ENOMEM)
            pop3a_fail_connection(c, POP3A_ERR_NOMEM, "out of memory");
        else
            step_fail(c, evutil_socket_error_to_string(errno));
        return -1;
    }
    return 0;
}

static int send_auth(pop3a_client *c, pop3a_socks5_step *st)
{
    const pop3a_socks5_url *px = c->opts.proxy;
    uint8_t req[POP3A_SOCKS5_MAX_REQUEST];
    size_t n = pop3a_socks5_auth_request(req, px->user, px->pass);
    /* Before sending: a failed send fails the connection, and st goes with it. */
    st->stage = STAGE_AUTH;
    int rc = send_bytes(c, st, req, n);
    OPENSSL_cleanse(req, sizeof req);
    if (rc == 0) {
        static const char note[] = "SOCKS5 proxy: user name and password sent";
        pop3a_trace(c, POP3A_TRACE_INFO, note, sizeof note - 1);
    }
    return rc;
}

static int send_connect(pop3a_client *c, pop3a_socks5_step *st)
{
    st->stage = STAGE_CONNECT;
    return send_bytes(c, st, st->connect_req, st->connect_len);
}

/* One reply read from what is waiting: 1 when a stage ended, 0 to wait for
 * more, -1 when the connection was failed. */
static int read_reply(pop3a_client *c, pop3a_socks5_step *st)
{
    struct evbuffer *in = bufferevent_get_input(st->bev);
    size_t len = evbuffer_get_length(in);
    if (len > MAX_REPLY)
        len = MAX_REPLY; /* a complete reply is never longer: the rest is the target's */
    const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)len);
    if (!p && len > 0) {
        pop3a_fail_connection(c, POP3A_ERR_NOMEM, "out of memory");
        return -1;
    }
    pop3a_socks5_result r;
    pop3a_socks5_rc rc;
    if (st->stage == STAGE_METHOD)
        rc = pop3a_socks5_read_method(p, len, c->opts.proxy->has_auth, &r);
    else if (st->stage == STAGE_AUTH)
        rc = pop3a_socks5_read_auth(p, len, &r);
    else
        rc = pop3a_socks5_read_connect(p, len, &r);
    if (rc == POP3A_SOCKS5_FAIL) {
        step_fail(c, r.why);
        return -1;
    }
    if (rc == POP3A_SOCKS5_NEED)
        return 0;
    evbuffer_drain(in, r.consumed);
    int sent;
    switch (st->stage) {
    case STAGE_METHOD:
        sent = r.method == 2 ? send_auth(c, st) : send_connect(c, st);
        return sent == 0 ? 1 : -1;
    case STAGE_AUTH:
        return send_connect(c, st) == 0 ? 1 : -1;
    default: {
        static const char note[] = "SOCKS5 proxy: tunnel to the target is up";
        pop3a_trace(c, POP3A_TRACE_INFO, note, sizeof note - 1);
        struct bufferevent *bev = st->bev;
        st->bev = NULL;
        st->stage = STAGE_DONE;
        bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
        st->done(c, st->f, bev);
        return -1; /* the step is over: read nothing more here */
    }
    }
}

static void step_read_cb(struct bufferevent *bev, void *arg)
{
    pop3a_socks5_step *st = arg;
    pop3a_client *c = st->f->client;
    (void)bev;
    pop3a_enter(c);
    /* A proxy may send two replies at once (method and connect, when it
     * needs no authentication, is pipelined by some): read them all. */
    while (read_reply(c, st) == 1)
        ;
    pop3a_leave(c);
}

static void step_event_cb(struct bufferevent *bev, short what, void *arg)
{
    pop3a_socks5_step *st = arg;
    pop3a_client *c = st->f->client;
    (void)bev;
    pop3a_enter(c);
    step_fail(c, (what & BEV_EVENT_EOF) ? "the proxy closed the connection during its handshake"
                                       : "connection to the proxy failed during its handshake");
    pop3a_leave(c);
}

void pop3a_socks5_step_start(pop3a_client *c, pop3a_future *f, pop3a_socks5_step *st,
                             struct bufferevent *bev, const char *host, int family,
                             const uint8_t *addr, uint16_t port, pop3a_socks5_done_fn done)
{
    st->bev = bev;
    st->f = f;
    st->done = done;
    st->stage = STAGE_METHOD;
    st->connect_len = host ? pop3a_socks5_connect_name(st->connect_req, host, port)
                           : pop3a_socks5_connect_addr(st->connect_req, family, addr, port);
    if (st->connect_len == 0) {
        step_fail(c, "the target's name cannot be sent (empty or over 255 octets)");
        return;
    }
    bufferevent_setcb(bev, step_read_cb, NULL, step_event_cb, st);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    uint8_t hello[4];
    size_t n = pop3a_socks5_greeting(hello, c->opts.proxy->has_auth);
    send_bytes(c, st, hello, n);
}

void pop3a_socks5_step_cleanup(pop3a_socks5_step *st)
{
    if (st->bev) {
        bufferevent_free(st->bev);
        st->bev = NULL;
    }
}
