/* The resetting peer of reset_peer.h. */
#include "reset_peer.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <arpa/inet.h>

/* The server's receive buffer: far less than the client's command batch. */
#define RP_RCVBUF 4096

typedef struct {
    int fd;
    SSL *ssl; /* NULL before TLS */
    char buf[512];
    size_t len;
} rp_conn;

int rp_listen(uint16_t *port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    int small = RP_RCVBUF; /* set before listen: accepted sockets inherit it */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) != 0 ||
        bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 4) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &alen) != 0) {
        close(s);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return s;
}

static int rp_send(rp_conn *c, const char *text)
{
    size_t n = strlen(text);
    if (c->ssl)
        return SSL_write(c->ssl, text, (int)n) == (int)n ? 0 : -1;
    return send(c->fd, text, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

/* The next line, CRLF removed, must start with `prefix`. */
static int rp_expect(rp_conn *c, const char *prefix)
{
    for (;;) {
        char *eol = memchr(c->buf, '\n', c->len);
        if (eol) {
            size_t line = (size_t)(eol - c->buf) + 1;
            int ok = strncmp(c->buf, prefix, strlen(prefix)) == 0;
            if (!ok)
                fprintf(stderr, "reset peer: expected %s, got %.*s\n", prefix, (int)line,
                        c->buf);
            memmove(c->buf, c->buf + line, c->len - line);
            c->len -= line;
            return ok ? 0 : -1;
        }
        if (c->len == sizeof c->buf)
            return -1;
        /* One byte at a time never reads past the line: after STLS, the
         * handshake's bytes must stay in the socket for SSL_accept. */
        int n = c->ssl ? SSL_read(c->ssl, c->buf + c->len, 1)
                       : (int)recv(c->fd, c->buf + c->len, 1, 0);
        if (n <= 0) {
            fprintf(stderr, "reset peer: connection ended waiting for %s\n", prefix);
            return -1;
        }
        c->len += (size_t)n;
    }
}

static int rp_tls(rp_conn *c, SSL_CTX *ctx)
{
    c->ssl = SSL_new(ctx);
    if (!c->ssl || !SSL_set_fd(c->ssl, c->fd) || SSL_accept(c->ssl) != 1) {
        fprintf(stderr, "reset peer: TLS handshake failed\n");
        return -1;
    }
    return 0;
}

static int rp_script(rp_conn *c, rp_mode mode, rp_reset when, SSL_CTX *ctx)
{
    if (mode == RP_IMPLICIT_TLS && rp_tls(c, ctx) != 0)
        return -1;
    if (rp_send(c, "+OK ready\r\n"))
        return -1;
    if (when == RP_AFTER_GREETING)
        return 0;
    if (rp_expect(c, "CAPA") ||
        rp_send(c, mode == RP_STLS ? "+OK\r\nUSER\r\nPIPELINING\r\nSTLS\r\n.\r\n"
                                   : "+OK\r\nUSER\r\nPIPELINING\r\n.\r\n"))
        return -1;
    if (mode == RP_STLS &&
        (rp_expect(c, "STLS") || rp_send(c, "+OK begin TLS\r\n") || rp_tls(c, ctx) ||
         rp_expect(c, "CAPA") || rp_send(c, "+OK\r\nUSER\r\nPIPELINING\r\n.\r\n")))
        return -1;
    if (rp_expect(c, "USER ") || rp_send(c, "+OK\r\n") || rp_expect(c, "PASS ") ||
        rp_send(c, "+OK logged in\r\n"))
        return -1;
    if (when == RP_MID_BATCH)
        return rp_expect(c, "LIST ");
    for (int i = 1; i <= RP_ANSWERED; i++) {
        char reply[32];
        snprintf(reply, sizeof reply, "+OK %d 100\r\n", i);
        if (rp_expect(c, "LIST ") || rp_send(c, reply))
            return -1;
    }
    return 0;
}

int rp_serve_one(int listener, rp_mode mode, rp_reset when, SSL_CTX *ctx, unsigned timeout_ms)
{
    struct pollfd p = {.fd = listener, .events = POLLIN};
    if (poll(&p, 1, (int)timeout_ms) != 1) {
        fprintf(stderr, "reset peer: no connection within %u ms\n", timeout_ms);
        return -1;
    }
    rp_conn c = {.fd = accept(listener, NULL, NULL)};
    if (c.fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    /* Each reply leaves at once: Nagle would hold the later ones back until
     * the client's (delayed) ACK, and the reset would discard them. */
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = rp_script(&c, mode, when, ctx);
    /* No close_notify, no FIN: an RST, whatever the client still sends. */
    struct linger reset = {.l_onoff = 1, .l_linger = 0};
    setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    SSL_free(c.ssl);
    close(c.fd);
    return rc;
}
