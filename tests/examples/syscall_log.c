/*
 * An LD_PRELOAD shim for the fetch-all durability test: it logs, in order, the
 * calls that make a stored message durable and the commands that delete it, so
 * the test can check that no DELE leaves before its file's data, name and
 * directory entry are on disk. One line per event, appended to the file named
 * by $POP3A_SYSCALL_LOG:
 *
 *   fsync NAME        fsync of a regular file (NAME: its base name)
 *   fsync-dir NAME    fsync of a directory
 *   fdatasync NAME    fdatasync (SQLite's commit of pop3fetch's state)
 *   rename OLD NEW    renameat (base names)
 *   send LINE         a DELE or QUIT command line written to a socket
 *                     (write, writev or sendmsg)
 *
 * Each call goes on to the real function (dlsym RTLD_NEXT); the shim changes
 * nothing else. Log lines are written with the raw system call so the shim
 * never sees its own writes.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static int log_fd = -2; /* -2: not opened yet; -1: no log wanted */

/* Appends "KIND A\n", or "KIND A B\n" when b is not NULL. */
static void log_line(const char *kind, const char *a, const char *b)
{
    if (log_fd == -2) {
        const char *path = getenv("POP3A_SYSCALL_LOG");
        log_fd = path ? (int)syscall(SYS_openat, AT_FDCWD, path,
                                     O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)
                      : -1;
    }
    if (log_fd < 0)
        return;
    char line[2 * PATH_MAX + 64];
    int n = snprintf(line, sizeof line, "%s %s%s%s\n", kind, a, b ? " " : "", b ? b : "");
    if (n > 0)
        syscall(SYS_write, log_fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static void *real(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

/* Logs a sync of fd under `file_kind`, or "fsync-dir" for a directory. */
static void log_sync(int fd, const char *file_kind)
{
    char link[64], path[PATH_MAX];
    struct stat st;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n > 0 && fstat(fd, &st) == 0) {
        path[n] = '\0';
        log_line(S_ISDIR(st.st_mode) ? "fsync-dir" : file_kind, base_name(path), NULL);
    }
}

int fsync(int fd)
{
    int (*next)(int) = (int (*)(int))real("fsync");
    log_sync(fd, "fsync");
    return next(fd);
}

int fdatasync(int fd)
{
    int (*next)(int) = (int (*)(int))real("fdatasync");
    log_sync(fd, "fdatasync");
    return next(fd);
}

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
    int (*next)(int, const char *, int, const char *) =
        (int (*)(int, const char *, int, const char *))real("renameat");
    int rc = next(olddirfd, oldpath, newdirfd, newpath);
    if (rc == 0)
        log_line("rename", base_name(oldpath), base_name(newpath));
    return rc;
}

static int is_socket(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Logs the DELE and QUIT lines in bytes written to a socket. */
static void log_commands(const char *data, size_t len)
{
    const char *p = data, *end = data + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if ((n > 5 && memcmp(p, "DELE ", 5) == 0) || (n == 4 && memcmp(p, "QUIT", 4) == 0)) {
            char line[64];
            snprintf(line, sizeof line, "%.*s", (int)(n < 60 ? n : 60), p);
            log_line("send", line, NULL);
        }
        p = eol ? eol + 1 : end;
    }
}

/* A command line may straddle two iovecs (libevent's buffer chains), so the
 * `written` bytes are joined before looking for lines. */
static void log_iov(int fd, const struct iovec *iov, size_t iovcnt, ssize_t written)
{
    char *joined = written > 0 && is_socket(fd) ? malloc((size_t)written) : NULL;
    size_t used = 0;
    for (size_t i = 0; joined && i < iovcnt && used < (size_t)written; i++) {
        size_t left = (size_t)written - used;
        size_t n = iov[i].iov_len < left ? iov[i].iov_len : left;
        memcpy(joined + used, iov[i].iov_base, n);
        used += n;
    }
    if (joined)
        log_commands(joined, used);
    free(joined);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    ssize_t (*next)(int, const struct iovec *, int) =
        (ssize_t (*)(int, const struct iovec *, int))real("writev");
    ssize_t rc = next(fd, iov, iovcnt);
    log_iov(fd, iov, iovcnt > 0 ? (size_t)iovcnt : 0, rc);
    return rc;
}

/* The library sends a plain socket's commands with sendmsg(MSG_NOSIGNAL). */
ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    ssize_t (*next)(int, const struct msghdr *, int) =
        (ssize_t (*)(int, const struct msghdr *, int))real("sendmsg");
    ssize_t rc = next(fd, msg, flags);
    log_iov(fd, msg->msg_iov, msg->msg_iovlen, rc);
    return rc;
}

ssize_t write(int fd, const void *buf, size_t count)
{
    ssize_t (*next)(int, const void *, size_t) =
        (ssize_t (*)(int, const void *, size_t))real("write");
    ssize_t rc = next(fd, buf, count);
    if (rc > 0 && is_socket(fd))
        log_commands(buf, (size_t)rc);
    return rc;
}
