/* The delivery interface and its line-end conversion (store.h). */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct store *store_open(const struct settings *s, struct event_base *base, char *err,
                         size_t errsz)
{
    switch (s->deliver) {
    case DELIVER_MAILDIR:
        return store_maildir_open(s->target, err, errsz);
    case DELIVER_MBOX:
        return store_mbox_open(s->target, err, errsz);
    case DELIVER_MDA:
        return store_mda_open(base, s->target, s->mda_crlf,
                              s->timeout_s > 0 ? s->timeout_s : 60, err, errsz);
    case DELIVER_UNSET:
        break;
    }
    snprintf(err, errsz, "no delivery configured");
    return NULL;
}

int store_begin(struct store *st, const char *tag)
{
    st->pending_cr = 0;
    st->err[0] = '\0';
    if (st->ops->begin(st, tag) != 0)
        return -1;
    st->open = 1;
    return 0;
}

/* CRLF -> LF: a CR is held back until the next octet shows whether it ends a
 * line; a lone CR (not before LF) is kept as received. */
static int write_lf(struct store *st, const char *data, size_t len)
{
    static const char cr = '\r';
    while (len > 0) {
        if (st->pending_cr) {
            st->pending_cr = 0;
            if (data[0] != '\n' && st->ops->write(st, &cr, 1) != 0)
                return -1;
        }
        const char *p = memchr(data, '\r', len);
        size_t run = p ? (size_t)(p - data) : len;
        if (run > 0 && st->ops->write(st, data, run) != 0)
            return -1;
        if (!p)
            return 0;
        st->pending_cr = 1;
        data = p + 1;
        len -= run + 1;
    }
    return 0;
}

int store_write(struct store *st, const char *data, size_t len)
{
    return st->to_lf ? write_lf(st, data, len) : st->ops->write(st, data, len);
}

int store_commit(struct store *st)
{
    static const char cr = '\r';
    if (st->pending_cr && st->ops->write(st, &cr, 1) != 0) /* a last lone CR */
        return -1;
    st->pending_cr = 0;
    int rc = st->ops->commit(st);
    if (rc != STORE_PENDING) /* pending: still open, so an abort stops it */
        st->open = 0;
    return rc;
}

void store_notify(struct store *st, int event)
{
    if (event != STORE_EV_READY)
        st->open = 0;
    st->notify(st->notify_arg, event);
}

void store_abort(struct store *st)
{
    if (st && st->open)
        st->ops->abort(st);
    if (st)
        st->open = 0;
}

int store_sync(struct store *st)
{
    return st->ops->sync(st);
}

int store_has(struct store *st, const char *tag)
{
    return st->ops->has ? st->ops->has(st, tag) : 0;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    store_abort(st);
    st->ops->close(st);
}

int store_write_fd(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

int store_fail_errno(struct store *st, const char *what, const char *path)
{
    snprintf(st->err, sizeof st->err, "%s %s: %s", what, path, strerror(errno));
    return -1;
}
