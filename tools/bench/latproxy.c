/*
 * latproxy: a TCP proxy on loopback that delays every chunk by a fixed time in
 * each direction, to measure POP3 sessions at a long round trip (issue 5, case 3)
 * without netem or a network namespace.
 *
 *   latproxy UPSTREAM-HOST UPSTREAM-PORT DELAY-MS
 *
 * Listens on 127.0.0.1 on a free port and prints "port N" on stdout once ready;
 * runs until killed. Each chunk read from one side is queued with its due time
 * (now + delay) and written to the other side when due, in arrival order, so the
 * bandwidth is not limited, only the latency: a round trip costs 2 x DELAY-MS.
 * An EOF is delayed like data; then both sides are closed once their output
 * has drained.
 *
 * SIGUSR1 prints "chunks N late_max_ms X late_mean_ms Y" on stdout and starts
 * the count again: how long after its due time each chunk was handed to the
 * kernel since the last SIGUSR1. A proxy that keeps up hands every chunk over
 * within a loop turn of its due time; one that falls behind shows it here.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "bench_serve.h"
#include "bench_util.h"

struct chunk {
    struct chunk *next;
    double due;           /* bench_now() when it may be written */
    struct evbuffer *data; /* NULL: the sender's EOF */
};

struct conn;

/* One direction: bytes read from `from` go, delayed, to `to`. */
struct pipe {
    struct conn *conn;
    struct bufferevent *from, *to;
    struct chunk *head, *tail; /* owned queue, in arrival order */
    struct event *timer;
    int eof_delivered;
};

struct conn {
    struct pipe up, down; /* client -> server, server -> client */
    struct bufferevent *client, *server;
    int closing;
};

static struct event_base *base;
static double delay_s;

/* Lateness of the chunks handed over since the last report (SIGUSR1). */
static struct {
    unsigned long chunks;
    double late_sum, late_max;
} late;
static struct sockaddr_storage upstream;
static int upstream_len;

static void conn_free(struct conn *c)
{
    struct pipe *pipes[2] = {&c->up, &c->down};
    for (int i = 0; i < 2; i++) {
        struct chunk *ch = pipes[i]->head;
        while (ch) {
            struct chunk *next = ch->next;
            if (ch->data)
                evbuffer_free(ch->data);
            free(ch);
            ch = next;
        }
        event_free(pipes[i]->timer);
    }
    bufferevent_free(c->client);
    bufferevent_free(c->server);
    free(c);
}

/* Once an EOF went through, the connection ends when both outputs are empty. */
static void maybe_close(struct conn *c)
{
    if (!c->up.eof_delivered && !c->down.eof_delivered && !c->closing)
        return;
    if (evbuffer_get_length(bufferevent_get_output(c->client)) == 0 &&
        evbuffer_get_length(bufferevent_get_output(c->server)) == 0)
        conn_free(c);
}

static void arm(struct pipe *p)
{
    if (!p->head)
        return;
    double wait = p->head->due - bench_now();
    if (wait < 0)
        wait = 0;
    struct timeval tv = {.tv_sec = (time_t)wait,
                         .tv_usec = (suseconds_t)((wait - (double)(time_t)wait) * 1e6)};
    evtimer_add(p->timer, &tv);
}

static void on_due(evutil_socket_t fd, short what, void *arg)
{
    struct pipe *p = arg;
    double now = bench_now();
    (void)fd;
    (void)what;
    while (p->head && p->head->due <= now) {
        struct chunk *ch = p->head;
        p->head = ch->next;
        if (!p->head)
            p->tail = NULL;
        double behind = now - ch->due;
        late.chunks++;
        late.late_sum += behind;
        if (behind > late.late_max)
            late.late_max = behind;
        if (ch->data) {
            bufferevent_write_buffer(p->to, ch->data);
            evbuffer_free(ch->data);
        } else {
            p->eof_delivered = 1;
        }
        free(ch);
    }
    if (p->eof_delivered) {
        maybe_close(p->conn);
        return; /* p may be freed */
    }
    arm(p);
}

static void enqueue(struct pipe *p, struct evbuffer *data)
{
    struct chunk *ch = calloc(1, sizeof *ch);
    if (!ch) {
        if (data)
            evbuffer_free(data);
        return;
    }
    ch->due = bench_now() + delay_s;
    ch->data = data;
    if (p->tail)
        p->tail->next = ch;
    else
        p->head = ch;
    p->tail = ch;
    if (!evtimer_pending(p->timer, NULL))
        arm(p);
}

static struct pipe *pipe_from(struct conn *c, struct bufferevent *bev)
{
    return bev == c->client ? &c->up : &c->down;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct pipe *p = pipe_from(arg, bev);
    struct evbuffer *data = evbuffer_new();
    if (!data)
        return;
    bufferevent_read_buffer(bev, data);
    enqueue(p, data);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    (void)bev;
    maybe_close(arg);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    if (what & BEV_EVENT_CONNECTED)
        return;
    if (what & BEV_EVENT_EOF) {
        bufferevent_disable(bev, EV_READ);
        enqueue(pipe_from(c, bev), NULL);
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        c->closing = 1;
        conn_free(c);
    }
}

static void on_report(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    (void)arg;
    printf("chunks %lu late_max_ms %.3f late_mean_ms %.3f\n", late.chunks, late.late_max * 1e3,
           late.chunks ? late.late_sum / (double)late.chunks * 1e3 : 0.0);
    fflush(stdout);
    late.chunks = 0;
    late.late_sum = late.late_max = 0;
}

static void set_nodelay(struct bufferevent *bev)
{
    int one = 1;
    setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    struct conn *c = calloc(1, sizeof *c);
    (void)l;
    (void)sa;
    (void)salen;
    (void)arg;
    if (!c) {
        evutil_closesocket(fd);
        return;
    }
    c->client = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->server = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    c->up = (struct pipe){.conn = c, .from = c->client, .to = c->server};
    c->down = (struct pipe){.conn = c, .from = c->server, .to = c->client};
    c->up.timer = evtimer_new(base, on_due, &c->up);
    c->down.timer = evtimer_new(base, on_due, &c->down);
    if (!c->client || !c->server || !c->up.timer || !c->down.timer ||
        bufferevent_socket_connect(c->server, (struct sockaddr *)&upstream, upstream_len) != 0) {
        fprintf(stderr, "latproxy: cannot set up a connection\n");
        conn_free(c);
        return;
    }
    set_nodelay(c->client);
    set_nodelay(c->server);
    bufferevent_setcb(c->client, on_read, on_write, on_event, c);
    bufferevent_setcb(c->server, on_read, on_write, on_event, c);
    bufferevent_enable(c->client, EV_READ | EV_WRITE);
    bufferevent_enable(c->server, EV_READ | EV_WRITE);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fputs("usage: latproxy UPSTREAM-HOST UPSTREAM-PORT DELAY-MS\n", stderr);
        return 2;
    }
    delay_s = (double)bench_number(argv[3], "DELAY-MS", 0, 60000) / 1000.0;
    upstream_len = (int)sizeof upstream;
    char spec[300];
    snprintf(spec, sizeof spec, "%s:%s", argv[1], argv[2]);
    if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&upstream, &upstream_len) != 0) {
        fprintf(stderr, "latproxy: %s: want a numeric address\n", spec);
        return 2;
    }
    base = event_base_new();
    struct event *report = base ? evsignal_new(base, SIGUSR1, on_report, NULL) : NULL;
    if (!report || evsignal_add(report, NULL) != 0) {
        fputs("latproxy: cannot watch SIGUSR1\n", stderr);
        return 1;
    }
    int rc = bench_serve_loopback(base, "latproxy", on_accept, NULL, 128);
    event_free(report);
    event_base_free(base);
    return rc;
}
