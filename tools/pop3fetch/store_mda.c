/*
 * MDA delivery: each message is piped to `/bin/sh -c CMD` (stdin: the message
 * as the server sent it, CRLF, unless mda_crlf = false; stdout goes to our
 * stderr). Delivered only when all of it was written, the pipe closed and the
 * command exited 0, all within the timeout (counted from its start).
 *
 * Everything happens on the event loop, so a slow MDA holds up only its own
 * account: the message goes into the non-blocking pipe as far as it takes
 * it, the rest waits in a buffer written on EV_WRITE events (past HIGH_WATER
 * the store is backlogged and the caller pauses the transfer), and commit
 * returns STORE_PENDING; the child's exit (child.h) settles it.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "child.h"

#define HIGH_WATER (256u * 1024) /* buffered beyond what the pipe took */
#define LOW_WATER (64u * 1024)

struct mda {
    struct store base;
    struct event_base *evb;
    char *cmd;
    long timeout_ms;
    struct child *child; /* NULL: none running */
    int fd;              /* its stdin, non-blocking; -1 once closed */
    struct event *writable;
    struct evbuffer *out; /* what the pipe has not taken yet */
    int committing;       /* commit came: close the pipe once out is empty */
    int exited, status;   /* the child's end, when it came first */
};

static void close_pipe(struct mda *m)
{
    if (m->writable)
        event_free(m->writable);
    m->writable = NULL;
    if (m->fd >= 0)
        close(m->fd);
    m->fd = -1;
}

/* Kills and reaps the child, drops what was not written. */
static void reset(struct mda *m)
{
    close_pipe(m);
    child_free(m->child);
    m->child = NULL;
    if (m->out)
        evbuffer_drain(m->out, evbuffer_get_length(m->out));
    m->committing = m->exited = 0;
    m->base.backlogged = 0;
}

/* The message is settled (the child reaped, the pipe closed): say how. */
static void settle(struct mda *m, const char *why)
{
    int ok = !why;
    if (why)
        snprintf(m->base.err, sizeof m->base.err, "%s", why);
    reset(m);
    store_notify(&m->base, ok ? STORE_EV_COMMITTED : STORE_EV_FAILED);
}

static void settle_exit(struct mda *m)
{
    char why[sizeof m->base.err];
    int st = m->status;
    if (st == -1)
        snprintf(why, sizeof why, "MDA \"%s\" took more than %ld s", m->cmd,
                 m->timeout_ms / 1000);
    else if (m->fd >= 0 || evbuffer_get_length(m->out) > 0 || !m->committing)
        snprintf(why, sizeof why, "MDA \"%s\": it stopped reading the message", m->cmd);
    else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return settle(m, NULL);
    else
        snprintf(why, sizeof why, "MDA \"%s\" %s %d", m->cmd,
                 WIFEXITED(st) ? "exited with" : "killed by signal",
                 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    settle(m, why);
}

static void on_child_exit(struct child *ch, int status, void *arg)
{
    struct mda *m = arg;
    (void)ch;
    m->exited = 1;
    m->status = status;
    /* Still writing to it: the pipe's EPIPE or drained buffer decides, but
     * an exit is final either way. */
    settle_exit(m);
}

/* Writes as much of out as the pipe takes. 0, or -1 with err set. */
static int flush_out(struct mda *m)
{
    while (evbuffer_get_length(m->out) > 0) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(m->out, -1, NULL, &v, 1) < 1)
            break;
        ssize_t w = write(m->fd, v.iov_base, v.iov_len);
        if (w > 0) {
            evbuffer_drain(m->out, (size_t)w);
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            return event_add(m->writable, NULL);
        snprintf(m->base.err, sizeof m->base.err, "MDA \"%s\": %s", m->cmd,
                 errno == EPIPE ? "it stopped reading the message" : strerror(errno));
        return -1;
    }
    event_del(m->writable);
    if (m->committing)
        close_pipe(m); /* EOF: the child may finish */
    return 0;
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    struct mda *m = arg;
    (void)fd;
    (void)what;
    if (flush_out(m) != 0) {
        char why[sizeof m->base.err];
        snprintf(why, sizeof why, "%s", m->base.err);
        return settle(m, why);
    }
    if (m->base.backlogged && evbuffer_get_length(m->out) <= LOW_WATER) {
        m->base.backlogged = 0;
        store_notify(&m->base, STORE_EV_READY);
    }
}

static int mda_begin(struct store *st, const char *tag)
{
    struct mda *m = (struct mda *)st;
    int fds[2];
    (void)tag;
    if (pipe(fds) != 0)
        return store_fail_errno(st, "pipe for", "the MDA");
    fcntl(fds[1], F_SETFD, FD_CLOEXEC); /* later MDAs must not hold it open */
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    m->child = child_spawn(m->evb, m->cmd, fds[0], -1, m->timeout_ms, on_child_exit, m,
                           st->err, sizeof st->err);
    close(fds[0]);
    m->fd = fds[1];
    m->writable = event_new(m->evb, m->fd, EV_WRITE | EV_PERSIST, on_writable, m);
    if (!m->child || !m->writable) {
        if (m->child)
            snprintf(st->err, sizeof st->err, "out of memory");
        reset(m);
        return -1;
    }
    return 0;
}

static int mda_write(struct store *st, const char *data, size_t len)
{
    struct mda *m = (struct mda *)st;
    if (evbuffer_add(m->out, data, len) != 0) {
        snprintf(st->err, sizeof st->err, "out of memory");
        return -1;
    }
    if (flush_out(m) != 0)
        return -1;
    st->backlogged = evbuffer_get_length(m->out) > HIGH_WATER;
    return 0;
}

static int mda_commit(struct store *st)
{
    struct mda *m = (struct mda *)st;
    m->committing = 1;
    if (flush_out(m) != 0) {
        reset(m);
        return -1;
    }
    return STORE_PENDING;
}

static void mda_abort(struct store *st)
{
    /* Killed before it could finish: an MDA that delivers only what it
     * read to the end delivers nothing. */
    reset((struct mda *)st);
}

static int mda_sync(struct store *st)
{
    (void)st; /* exit 0 is the MDA's word that the message is safe */
    return 0;
}

static void mda_close(struct store *st)
{
    struct mda *m = (struct mda *)st;
    reset(m);
    evbuffer_free(m->out);
    free(m->cmd);
    free(m);
}

static const struct store_ops mda_ops = {mda_begin, mda_write, mda_commit, mda_abort,
                                         mda_sync,  NULL,      mda_close};

struct store *store_mda_open(struct event_base *base, const char *cmd, int crlf,
                             long timeout_s, char *err, size_t errsz)
{
    struct mda *m = calloc(1, sizeof *m);
    if (!m || !(m->cmd = strdup(cmd)) || !(m->out = evbuffer_new())) {
        if (m)
            free(m->cmd);
        free(m);
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    m->base.ops = &mda_ops;
    m->base.to_lf = !crlf;
    m->base.async = 1;
    m->evb = base;
    m->fd = -1;
    m->timeout_ms = timeout_s * 1000;
    return &m->base;
}
