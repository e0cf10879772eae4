/*
 * mbox delivery (mboxrd): a "From " line, the message with LF line ends and
 * every line matching ^>*From  quoted with one more '>', then an empty line.
 * Each message is written under an fcntl lock and a dotlock (FILE.lock, when
 * the directory lets us make one), fsync'd, and a failure truncates the file
 * back to its old size, so a reader never sees half a message.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (64u * 1024u)

struct mbox {
    struct store base;
    char *path, *lock_path;
    int fd;
    int dotlocked, locked;
    off_t old_size;
    /* quoting: at a line start, the '>'s and the part of "From " seen so far */
    int matching;
    size_t gt, from;
    char last; /* last octet written, for the closing newline */
    size_t used;
    char buf[BUF_SIZE];
};

static int flush_buf(struct mbox *m)
{
    if (m->used && store_write_fd(m->fd, m->buf, m->used) != 0)
        return store_fail_errno(&m->base, "write", m->path);
    m->used = 0;
    return 0;
}

static int put(struct mbox *m, const char *data, size_t len)
{
    while (len > 0) {
        if (m->used == BUF_SIZE && flush_buf(m) != 0)
            return -1;
        size_t n = BUF_SIZE - m->used < len ? BUF_SIZE - m->used : len;
        memcpy(m->buf + m->used, data, n);
        m->used += n;
        data += n;
        len -= n;
        m->last = data[-1];
    }
    return 0;
}

static int put_gt(struct mbox *m, size_t n)
{
    for (; n > 0; n--)
        if (put(m, ">", 1) != 0)
            return -1;
    return 0;
}

/* A line start that turned out not to be ^>*From : what was held back. */
static int release(struct mbox *m)
{
    m->matching = 0;
    return put_gt(m, m->gt) != 0 || put(m, "From ", m->from) != 0 ? -1 : 0;
}

static int mb_write(struct store *st, const char *data, size_t len)
{
    static const char from[] = "From ";
    struct mbox *m = (struct mbox *)st;
    while (len > 0) {
        if (m->matching) {
            char ch = *data;
            if (m->from == 0 && ch == '>') {
                m->gt++;
            } else if (ch == from[m->from]) {
                if (++m->from == 5) { /* mboxrd: one more '>' */
                    m->matching = 0;
                    if (put_gt(m, m->gt + 1) != 0 || put(m, from, 5) != 0)
                        return -1;
                }
            } else if (release(m) != 0) {
                return -1;
            } else {
                continue; /* ch again, as ordinary text */
            }
            data++;
            len--;
            continue;
        }
        const char *nl = memchr(data, '\n', len);
        size_t n = nl ? (size_t)(nl - data) + 1 : len;
        if (put(m, data, n) != 0)
            return -1;
        data += n;
        len -= n;
        if (nl)
            m->matching = 1, m->gt = m->from = 0;
    }
    return 0;
}

static void unlock(struct mbox *m)
{
    if (m->locked) {
        struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET};
        fcntl(m->fd, F_SETLK, &fl);
    }
    if (m->dotlocked)
        unlink(m->lock_path);
    m->locked = m->dotlocked = 0;
}

static int lock(struct mbox *m)
{
    int fd = open(m->lock_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
        close(fd);
        m->dotlocked = 1;
    } else if (errno == EEXIST) {
        snprintf(m->base.err, sizeof m->base.err, "mbox %s is locked (%s exists)", m->path,
                 m->lock_path);
        return -1;
    } /* else: no right to make files beside it; the fcntl lock still holds */
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(m->fd, F_SETLK, &fl) != 0) {
        snprintf(m->base.err, sizeof m->base.err, "mbox %s is locked by another process (%s)",
                 m->path, strerror(errno));
        unlock(m);
        return -1;
    }
    m->locked = 1;
    return 0;
}

static int mb_begin(struct store *st, const char *tag)
{
    struct mbox *m = (struct mbox *)st;
    struct stat sb;
    char line[80], date[40];
    time_t now = time(NULL);
    struct tm tm;
    (void)tag;
    if (lock(m) != 0)
        return -1;
    if (fstat(m->fd, &sb) != 0) {
        unlock(m);
        return store_fail_errno(st, "stat", m->path);
    }
    m->old_size = sb.st_size;
    m->used = 0;
    m->last = '\n';
    m->matching = 1;
    m->gt = m->from = 0;
    strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", gmtime_r(&now, &tm));
    snprintf(line, sizeof line, "From MAILER-DAEMON %s\n", date);
    return put(m, line, strlen(line));
}

static void mb_abort(struct store *st)
{
    struct mbox *m = (struct mbox *)st;
    m->used = 0;
    if (m->locked && ftruncate(m->fd, m->old_size) == 0)
        fsync(m->fd);
    unlock(m);
}

static int mb_commit(struct store *st)
{
    struct mbox *m = (struct mbox *)st;
    if ((m->matching && release(m) != 0) || (m->last != '\n' && put(m, "\n", 1) != 0) ||
        put(m, "\n", 1) != 0 || flush_buf(m) != 0)
        goto fail;
    if (fsync(m->fd) != 0) {
        store_fail_errno(st, "fsync", m->path);
        goto fail;
    }
    unlock(m);
    return 0;
fail:
    mb_abort(st);
    return -1;
}

static int mb_sync(struct store *st)
{
    (void)st; /* every commit was fsync'd */
    return 0;
}

static void mb_close(struct store *st)
{
    struct mbox *m = (struct mbox *)st;
    unlock(m);
    if (m->fd >= 0)
        close(m->fd);
    free(m->path);
    free(m->lock_path);
    free(m);
}

static const struct store_ops mbox_ops = {mb_begin, mb_write, mb_commit, mb_abort,
                                          mb_sync,  NULL,     mb_close};

struct store *store_mbox_open(const char *path, char *err, size_t errsz)
{
    struct mbox *m = calloc(1, sizeof *m);
    size_t n = strlen(path) + 6;
    if (!m || !(m->path = strdup(path)) || !(m->lock_path = malloc(n))) {
        if (m)
            free(m->path);
        free(m);
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    snprintf(m->lock_path, n, "%s.lock", path);
    m->base.ops = &mbox_ops;
    m->base.to_lf = 1;
    m->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (m->fd < 0) {
        snprintf(err, errsz, "mbox %s: %s", path, strerror(errno));
        mb_close(&m->base);
        return NULL;
    }
    return &m->base;
}
