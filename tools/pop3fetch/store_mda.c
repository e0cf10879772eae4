/*
 * MDA delivery: each message is piped to `/bin/sh -c CMD` (stdin: the message
 * as the server sent it, CRLF, unless mda_crlf = false; stdout goes to our
 * stderr). Delivered only when the command exits 0 within the timeout.
 *
 * The writes and the wait block the event loop (every account waits for the
 * MDA): a bounded time, since both are under the timeout.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct mda {
    struct store base;
    char *cmd;
    long timeout_ms;
    pid_t pid; /* 0: none running */
    int fd;    /* its stdin, non-blocking */
    struct timespec t0;
};

static long ms_left(const struct mda *m)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return m->timeout_ms - ((now.tv_sec - m->t0.tv_sec) * 1000 +
                            (now.tv_nsec - m->t0.tv_nsec) / 1000000);
}

static void reap(struct mda *m, int kill_it)
{
    if (m->fd >= 0)
        close(m->fd);
    m->fd = -1;
    if (m->pid > 0) {
        if (kill_it)
            kill(m->pid, SIGKILL);
        waitpid(m->pid, NULL, 0);
    }
    m->pid = 0;
}

static int mda_begin(struct store *st, const char *tag)
{
    struct mda *m = (struct mda *)st;
    int fds[2];
    (void)tag;
    if (pipe(fds) != 0)
        return store_fail_errno(st, "pipe for", "the MDA");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
    posix_spawn_file_actions_adddup2(&fa, 2, 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    char *const argv[] = {"sh", "-c", m->cmd, NULL};
    int rc = posix_spawn(&m->pid, "/bin/sh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[0]);
    if (rc != 0) {
        close(fds[1]);
        m->pid = 0;
        snprintf(st->err, sizeof st->err, "cannot run /bin/sh: %s", strerror(rc));
        return -1;
    }
    m->fd = fds[1];
    fcntl(m->fd, F_SETFD, FD_CLOEXEC); /* later MDAs must not hold it open */
    fcntl(m->fd, F_SETFL, O_NONBLOCK);
    clock_gettime(CLOCK_MONOTONIC, &m->t0);
    return 0;
}

static int mda_write(struct store *st, const char *data, size_t len)
{
    struct mda *m = (struct mda *)st;
    while (len > 0) {
        ssize_t w = write(m->fd, data, len);
        if (w > 0) {
            data += w;
            len -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            long left = ms_left(m);
            struct pollfd p = {.fd = m->fd, .events = POLLOUT};
            if (left > 0 && poll(&p, 1, (int)left) >= 0)
                continue;
            snprintf(st->err, sizeof st->err, "MDA \"%s\" took more than %ld s", m->cmd,
                     m->timeout_ms / 1000);
            return -1;
        }
        snprintf(st->err, sizeof st->err, "MDA \"%s\": %s", m->cmd,
                 errno == EPIPE ? "it stopped reading the message" : strerror(errno));
        return -1;
    }
    return 0;
}

static int mda_commit(struct store *st)
{
    struct mda *m = (struct mda *)st;
    int status;
    pid_t got;
    close(m->fd);
    m->fd = -1;
    while ((got = waitpid(m->pid, &status, WNOHANG)) == 0 && ms_left(m) > 0) {
        struct timespec tick = {0, 2 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    if (got != m->pid) {
        snprintf(st->err, sizeof st->err, "MDA \"%s\" took more than %ld s", m->cmd,
                 m->timeout_ms / 1000);
        reap(m, 1);
        return -1;
    }
    m->pid = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    snprintf(st->err, sizeof st->err, "MDA \"%s\" %s %d", m->cmd,
             WIFEXITED(status) ? "exited with" : "killed by signal",
             WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return -1;
}

static void mda_abort(struct store *st)
{
    /* Killed before it could finish: an MDA that delivers only what it
     * read to the end delivers nothing. */
    reap((struct mda *)st, 1);
}

static int mda_sync(struct store *st)
{
    (void)st; /* exit 0 is the MDA's word that the message is safe */
    return 0;
}

static void mda_close(struct store *st)
{
    struct mda *m = (struct mda *)st;
    reap(m, 1);
    free(m->cmd);
    free(m);
}

static const struct store_ops mda_ops = {mda_begin, mda_write, mda_commit, mda_abort,
                                         mda_sync,  NULL,      mda_close};

struct store *store_mda_open(const char *cmd, int crlf, long timeout_s, char *err,
                             size_t errsz)
{
    struct mda *m = calloc(1, sizeof *m);
    if (!m || !(m->cmd = strdup(cmd))) {
        free(m);
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    m->base.ops = &mda_ops;
    m->base.to_lf = !crlf;
    m->fd = -1;
    m->timeout_ms = timeout_s * 1000;
    return &m->base;
}
