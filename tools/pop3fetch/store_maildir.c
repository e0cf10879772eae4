/*
 * Maildir delivery (https://cr.yp.to/proto/maildir.html): the message is
 * written to tmp/ under a unique name, fsync'd, renamed into new/; one fsync
 * of new/ per batch (store_sync) makes the names durable. The fsync and the
 * rename run on fsync_pool's threads (fsync_pool.h: the event loop and the
 * other accounts go on meanwhile); store_sync waits for them first.
 *
 * The unique name carries ",F=<tag>", a hash of the account and the UIDL. A
 * run killed after a message reached new/ but before its UIDL was recorded
 * finds the tag on the next run (store_has) and records it without a second
 * delivery: Maildir never gets a duplicate from a crash.
 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "fsync_pool.h"

#define BUF_SIZE (64u * 1024u)
#define NAME_MAX_LEN 255

enum { TMP, NEW, CUR };

struct maildir {
    struct store base;
    char *path;
    int dirs[3]; /* directory fds: TMP, NEW, CUR */
    int fd;                     /* the message in tmp/, or -1 */
    char name[NAME_MAX_LEN + 1];
    char host[128]; /* gethostname with '/' and ':' escaped, as the spec says */
    unsigned seq;
    size_t used;
    uint64_t *tags; /* store_has: tags found in new/ and cur/, sorted; */
    size_t n_tags;  /* scanned once, on the first call */
    int scanned;
    int pooled;                 /* holds a reference on fsync_pool */
    int commit_failed;          /* a commit failed: base.err says which; sticky */
    struct fsync_group commits; /* committed messages not yet in new/ */
    char buf[BUF_SIZE];
};

static int flush_buf(struct maildir *m)
{
    if (m->used && store_write_fd(m->fd, m->buf, m->used) != 0)
        return store_fail_errno(&m->base, "write", m->name);
    m->used = 0;
    return 0;
}

static int md_write(struct store *st, const char *data, size_t len)
{
    struct maildir *m = (struct maildir *)st;
    if (len > BUF_SIZE - m->used && flush_buf(m) != 0)
        return -1;
    if (len >= BUF_SIZE) {
        if (store_write_fd(m->fd, data, len) != 0)
            return store_fail_errno(st, "write", m->name);
        return 0;
    }
    memcpy(m->buf + m->used, data, len);
    m->used += len;
    return 0;
}

static int wait_commits(struct maildir *m);

static int md_begin(struct store *st, const char *tag)
{
    struct maildir *m = (struct maildir *)st;
    struct timeval tv;
    /* A failed commit fails the next message at once, not only the batch's sync. */
    if (m->commit_failed || fsync_group_failed(&m->commits))
        return wait_commits(m);
    gettimeofday(&tv, NULL);
    snprintf(m->name, sizeof m->name, "%lld.M%06ldP%ldQ%u.%s%s%s", (long long)tv.tv_sec,
             (long)tv.tv_usec, (long)getpid(), ++m->seq, m->host, tag ? ",F=" : "",
             tag ? tag : "");
    m->used = 0;
    /* O_EXCL + O_NOFOLLOW: never reuse or write through an existing name. */
    m->fd = openat(m->dirs[TMP], m->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                   0600);
    if (m->fd < 0)
        return store_fail_errno(st, "create", m->path);
    return 0;
}

static void md_abort(struct store *st)
{
    struct maildir *m = (struct maildir *)st;
    if (m->fd >= 0) {
        close(m->fd);
        unlinkat(m->dirs[TMP], m->name, 0);
    }
    m->fd = -1;
}

/* Every commit handed to the pool is done (in new/, or failed: then the
 * failure is kept for md_sync). */
static int wait_commits(struct maildir *m)
{
    if (fsync_group_wait(&m->commits) != 0) {
        store_fail_errno(&m->base, m->commits.what, m->commits.err_name);
        m->commit_failed = 1;
    }
    return m->commit_failed ? -1 : 0;
}

static int md_commit(struct store *st)
{
    struct maildir *m = (struct maildir *)st;
    if (flush_buf(m) != 0) {
        md_abort(st);
        return -1;
    }
    int fd = m->fd;
    m->fd = -1;
    if (fsync_pool_submit(&m->commits, fd, m->dirs[TMP], m->dirs[NEW], m->name) != 0)
        return store_fail_errno(st, "deliver", m->name);
    return 0;
}

static int md_sync(struct store *st)
{
    struct maildir *m = (struct maildir *)st;
    if (wait_commits(m) != 0)
        return -1;
    /* EINVAL: a file system that cannot sync a directory; nothing better exists. */
    if (fsync(m->dirs[NEW]) != 0 && errno != EINVAL)
        return store_fail_errno(st, "fsync new/ of", m->path);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Adds the tags of the names in one of new/ and cur/. */
static int scan_dir(struct maildir *m, int dir_fd, size_t *cap)
{
    int fd = dup(dir_fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    rewinddir(d);
    while ((e = readdir(d)) != NULL) {
        const char *t = strstr(e->d_name, ",F=");
        char hex[STORE_TAG_LEN + 1], *end;
        if (!t || strlen(t + 3) < STORE_TAG_LEN)
            continue;
        memcpy(hex, t + 3, STORE_TAG_LEN);
        hex[STORE_TAG_LEN] = '\0';
        uint64_t v = strtoull(hex, &end, 16);
        if (*end)
            continue;
        if (m->n_tags == *cap) {
            size_t n = *cap ? *cap * 2 : 256;
            uint64_t *p = realloc(m->tags, n * sizeof *p);
            if (!p) {
                closedir(d);
                return -1;
            }
            m->tags = p;
            *cap = n;
        }
        m->tags[m->n_tags++] = v;
    }
    closedir(d);
    return 0;
}

static int md_has(struct store *st, const char *tag)
{
    struct maildir *m = (struct maildir *)st;
    char *end;
    if (wait_commits(m) != 0) /* the scan must see every committed name */
        return -1;
    if (!m->scanned) {
        size_t cap = 0;
        if (scan_dir(m, m->dirs[NEW], &cap) != 0 || scan_dir(m, m->dirs[CUR], &cap) != 0)
            return store_fail_errno(st, "read", m->path);
        if (m->n_tags) /* qsort wants a non-NULL array even for 0 */
            qsort(m->tags, m->n_tags, sizeof *m->tags, cmp_u64);
        m->scanned = 1;
    }
    uint64_t v = strtoull(tag, &end, 16);
    return m->n_tags && bsearch(&v, m->tags, m->n_tags, sizeof v, cmp_u64) != NULL;
}

static void md_close(struct store *st)
{
    struct maildir *m = (struct maildir *)st;
    md_abort(st);
    if (m->pooled) {
        fsync_group_wait(&m->commits); /* the pool uses our directory fds */
        fsync_pool_unref();
    }
    for (int i = TMP; i <= CUR; i++)
        if (m->dirs[i] >= 0)
            close(m->dirs[i]);
    free(m->tags);
    free(m->path);
    free(m);
}

static const struct store_ops maildir_ops = {md_begin, md_write, md_commit, md_abort,
                                             md_sync,  md_has,   md_close};

/* mkdir -p, mode 0700 for what it creates. */
static int make_dirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0700);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return mkdir(path, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

static void escaped_hostname(char *out, size_t size)
{
    char host[64] = "localhost";
    size_t n = 0;
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    for (const char *p = host; *p && n + 5 < size; p++) {
        if (*p == '/' || *p == ':')
            n += (size_t)snprintf(out + n, size - n, "\\%03o", (unsigned char)*p);
        else
            out[n++] = *p;
    }
    out[n] = '\0';
}

struct store *store_maildir_open(const char *dir, char *err, size_t errsz)
{
    static const char *const subs[] = {"tmp", "new", "cur"};
    struct maildir *m = calloc(1, sizeof *m);
    char path[4096];
    if (!m || !(m->path = strdup(dir))) {
        free(m);
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    m->base.ops = &maildir_ops;
    m->base.to_lf = 1;
    m->fd = m->dirs[TMP] = m->dirs[NEW] = m->dirs[CUR] = -1;
    escaped_hostname(m->host, sizeof m->host);
    if (fsync_pool_ref() != 0) {
        snprintf(err, errsz, "maildir %s: cannot start the fsync threads", dir);
        md_close(&m->base);
        return NULL;
    }
    m->pooled = 1;
    for (int i = 0; i < 3; i++) {
        int *fd = &m->dirs[i];
        if (snprintf(path, sizeof path, "%s/%s", dir, subs[i]) >= (int)sizeof path) {
            errno = ENAMETOOLONG;
        } else if (make_dirs(path) == 0) {
            *fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        }
        if (*fd < 0) {
            snprintf(err, errsz, "maildir %s: %s", path, strerror(errno));
            md_close(&m->base);
            return NULL;
        }
    }
    return &m->base;
}
