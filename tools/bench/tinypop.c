/*
 * tinypop: a minimal POP3 server on one event_base, for the benchmark cases that
 * need more sessions than the sandboxed Dovecot is configured for (issue 5,
 * case 5: 1000 idle sessions, 1000 concurrent fetches). It is not a mail store:
 * every user sees the same MESSAGES messages of SIZE octets, and any password
 * is accepted.
 *
 *   tinypop MESSAGES SIZE [split]          prints "port N" once listening on 127.0.0.1
 *   tinypop MESSAGES SIZE tls CERT KEY     the same over implicit TLS (POP3S)
 *   tinypop MESSAGES SIZE stls CERT KEY    plain, with STLS (RFC 2595) offered
 *
 * split (issue 14 s3): the server that stalls a delayed-ACK client. No
 * PIPELINING in CAPA, Nagle left on, and each RETR reply's status line and body
 * go out in two writes: the kernel holds the body until the client ACKs the
 * status line.
 *
 * tls (issue 14 s5): every connection is a TLS server session (OpenSSL through
 * bufferevent_openssl, TLS 1.2 or later, the certificate chain CERT and its key
 * KEY, e.g. tests/support/make-test-certs' leaf.pem and leaf.key), so one
 * process can serve 10,000 concurrent POP3S sessions. Released buffers
 * (SSL_MODE_RELEASE_BUFFERS) keep an idle session small; no session cache or
 * tickets: every client pays a full handshake, the case being measured.
 *
 * stls (issue 14 s6): plain POP3 that offers STLS; after it the session is a
 * TLS socket bufferevent on the same socket, like a tls session from there on,
 * so POP3S and STLS rows compare the clients, not two server write paths.
 *
 * Speaks what the clients under test send (RFC 1939, RFC 2449 CAPA with
 * PIPELINING): CAPA USER PASS STAT LIST UIDL RETR DELE NOOP RSET QUIT. Commands
 * may be pipelined; replies go out in order because each line is answered before
 * the next one is read.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench_serve.h"
#include "bench_util.h"

static unsigned long n_messages;
static int split; /* see the top of the file */
static SSL_CTX *tls_ctx; /* tls: see the top of the file; NULL for plain TCP */
static SSL_CTX *stls_ctx; /* stls: see the top of the file */
static char *wire_body; /* the message, dot-stuffed, with the ".\r\n" terminator */
static size_t wire_len, msg_octets;

/* A message of exactly `size` octets whose lines are 76 octets plus CRLF and every
 * seventh line starts with "." (stuffed to ".." on the wire, RFC 1939 section 3). */
static int make_message(size_t size)
{
    static const char header[] = "From: tinypop@pop3a.test\r\nSubject: bench\r\n\r\n";
    size_t hlen = sizeof header - 1;
    if (size < hlen + 2)
        size = hlen + 2;
    size_t cap = size + size / 40 + 16; /* stuffing adds 1 octet per 7 lines */
    wire_body = malloc(cap);
    if (!wire_body)
        return -1;
    memcpy(wire_body, header, hlen);
    size_t wire = hlen, plain = hlen;
    for (unsigned line = 0; plain < size; line++) {
        size_t room = size - plain, k = room >= 78 ? 76 : room - 2;
        if (room - (k + 2) == 1) /* never leave a 1-octet tail: it cannot hold CRLF */
            k--;
        if (line % 7 == 3 && k > 0)
            wire_body[wire++] = '.'; /* stuffing: not part of the message */
        for (size_t i = 0; i < k; i++)
            wire_body[wire++] = (line % 7 == 3 && i == 0) ? '.' : (char)('a' + (line + i) % 26);
        wire_body[wire++] = '\r';
        wire_body[wire++] = '\n';
        plain += k + 2;
    }
    memcpy(wire_body + wire, ".\r\n", 3);
    wire_len = wire + 3;
    msg_octets = plain;
    return 0;
}

static unsigned long message_arg(const char *arg)
{
    char *end;
    unsigned long n = strtoul(arg, &end, 10);
    return (end != arg && *end == '\0' && n >= 1 && n <= n_messages) ? n : 0;
}

static void reply(struct bufferevent *bev, const char *text)
{
    bufferevent_write(bev, text, strlen(text));
}

static void reply_listing(struct bufferevent *bev, int uidl)
{
    char line[64];
    reply(bev, "+OK\r\n");
    for (unsigned long i = 1; i <= n_messages; i++) {
        if (uidl)
            snprintf(line, sizeof line, "%lu m%lu\r\n", i, i);
        else
            snprintf(line, sizeof line, "%lu %zu\r\n", i, msg_octets);
        reply(bev, line);
    }
    reply(bev, ".\r\n");
}

static void on_read(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

/* STLS: the "+OK" leaves in clear (nothing else is queued: the client waits for
 * it), then a TLS server bufferevent takes the socket over; bev is freed. */
static void start_tls(struct bufferevent *bev)
{
    static const char ok[] = "+OK begin TLS\r\n";
    evutil_socket_t fd = bufferevent_getfd(bev);
    struct event_base *base = bufferevent_get_base(bev);
    SSL *ssl = SSL_new(stls_ctx);
    int sent = ssl && send(fd, ok, sizeof ok - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof ok - 1);
    struct bufferevent *tls = NULL;
    if (sent) {
        bufferevent_setfd(bev, -1);
        tls = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                             BEV_OPT_CLOSE_ON_FREE);
        if (!tls)
            evutil_closesocket(fd);
    }
    bufferevent_free(bev);
    if (!tls) {
        SSL_free(ssl);
        return;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
    bufferevent_setcb(tls, on_read, NULL, on_event, NULL);
    bufferevent_enable(tls, EV_READ | EV_WRITE);
}

/* Answers one command line; returns 1 after QUIT, 2 once STLS freed bev. */
static int answer(struct bufferevent *bev, char *line)
{
    char out[128];
    char *arg = strchr(line, ' ');
    unsigned long n = 0;
    if (arg) {
        *arg++ = '\0';
        n = message_arg(arg);
    }
    if (!strcasecmp(line, "CAPA")) {
        reply(bev, split ? "+OK\r\nUSER\r\nUIDL\r\nTOP\r\n.\r\n"
              : stls_ctx && !bufferevent_openssl_get_ssl(bev)
                  ? "+OK\r\nUSER\r\nPIPELINING\r\nUIDL\r\nTOP\r\nSTLS\r\n.\r\n"
                  : "+OK\r\nUSER\r\nPIPELINING\r\nUIDL\r\nTOP\r\n.\r\n");
    } else if (!strcasecmp(line, "STLS") && stls_ctx && !bufferevent_openssl_get_ssl(bev)) {
        start_tls(bev);
        return 2;
    } else if (!strcasecmp(line, "USER") || !strcasecmp(line, "NOOP") ||
               !strcasecmp(line, "RSET")) {
        reply(bev, "+OK\r\n");
    } else if (!strcasecmp(line, "PASS")) {
        reply(bev, "+OK logged in\r\n");
    } else if (!strcasecmp(line, "STAT")) {
        snprintf(out, sizeof out, "+OK %lu %zu\r\n", n_messages, msg_octets * n_messages);
        reply(bev, out);
    } else if ((!strcasecmp(line, "LIST") || !strcasecmp(line, "UIDL")) && !arg) {
        reply_listing(bev, line[0] == 'U' || line[0] == 'u');
    } else if (!strcasecmp(line, "LIST") && n) {
        snprintf(out, sizeof out, "+OK %lu %zu\r\n", n, msg_octets);
        reply(bev, out);
    } else if (!strcasecmp(line, "UIDL") && n) {
        snprintf(out, sizeof out, "+OK %lu m%lu\r\n", n, n);
        reply(bev, out);
    } else if (!strcasecmp(line, "RETR") && n) {
        snprintf(out, sizeof out, "+OK %zu octets\r\n", msg_octets);
        if (split && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
            /* The status line now, in a write of its own; the body from the loop. */
            (void)send(bufferevent_getfd(bev), out, strlen(out), MSG_NOSIGNAL);
        else
            reply(bev, out);
        bufferevent_write(bev, wire_body, wire_len);
    } else if (!strcasecmp(line, "DELE") && n) {
        reply(bev, "+OK marked\r\n");
    } else if (!strcasecmp(line, "QUIT")) {
        reply(bev, "+OK bye\r\n");
        return 1;
    } else {
        reply(bev, "-ERR unknown command or bad argument\r\n");
    }
    return 0;
}

static void on_drained_close(struct bufferevent *bev, void *arg)
{
    (void)arg;
    bufferevent_free(bev);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)arg;
    if (what == BEV_EVENT_CONNECTED)
        return; /* tls: the handshake is done */
    bufferevent_free(bev); /* EOF or error: the session is over */
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    char *line;
    size_t len;
    (void)arg;
    while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF)) != NULL) {
        int quit = answer(bev, line);
        free(line);
        if (quit == 2)
            return; /* STLS: bev is gone, its TLS successor reads on */
        if (quit) {
            /* RFC 1939 section 6: close once the reply is out. */
            bufferevent_disable(bev, EV_READ);
            bufferevent_setcb(bev, NULL, on_drained_close, on_event, NULL);
            return;
        }
    }
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    struct event_base *base = arg;
    (void)l;
    (void)sa;
    (void)salen;
    struct bufferevent *bev;
    if (tls_ctx) {
        SSL *ssl = SSL_new(tls_ctx);
        bev = ssl ? bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                   BEV_OPT_CLOSE_ON_FREE)
                  : NULL;
        if (!bev)
            SSL_free(ssl);
        else /* clients may close without close_notify after QUIT's reply */
            bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    } else {
        bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    }
    if (!bev) {
        evutil_closesocket(fd);
        return;
    }
    bufferevent_setcb(bev, on_read, NULL, on_event, NULL);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    reply(bev, "+OK tinypop ready\r\n");
}

/* The server context of the tls mode; NULL and a message on failure. */
static SSL_CTX *make_tls_ctx(const char *cert, const char *key)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        fprintf(stderr, "tinypop: cannot load %s / %s: %s\n", cert, key,
                ERR_reason_error_string(ERR_peek_error()));
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
    return ctx;
}

int main(int argc, char **argv)
{
    split = argc == 4 && !strcmp(argv[3], "split");
    int tls = argc == 6 && !strcmp(argv[3], "tls");
    int stls = argc == 6 && !strcmp(argv[3], "stls");
    if (argc != 3 && !split && !tls && !stls) {
        fputs("usage: tinypop MESSAGES SIZE [split | tls CERT KEY | stls CERT KEY]\n", stderr);
        return 2;
    }
    n_messages = bench_number(argv[1], "MESSAGES", 1, 1000000);
    if (make_message(bench_number(argv[2], "SIZE", 64, 1u << 30)) != 0)
        return 1;
    SSL_CTX **ctx = tls ? &tls_ctx : &stls_ctx;
    if ((tls || stls) && !(*ctx = make_tls_ctx(argv[4], argv[5]))) {
        free(wire_body);
        return 1;
    }
    struct event_base *base = event_base_new();
    int rc = bench_serve_loopback(base, "tinypop", on_accept, base, 4096);
    if (base)
        event_base_free(base);
    SSL_CTX_free(tls_ctx);
    SSL_CTX_free(stls_ctx);
    free(wire_body);
    return rc;
}
