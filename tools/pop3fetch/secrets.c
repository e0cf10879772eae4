/* Secret sources (secrets.h). */
#include "secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "child.h"

/* The first line of buf[0..len): cut at LF (and a CR before it). NULL when
 * empty or when it holds a NUL. */
static char *first_line(char *buf, size_t len, const char *what, char *err, size_t errsz)
{
    char *nl = memchr(buf, '\n', len);
    size_t n = nl ? (size_t)(nl - buf) : len;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    if (n == 0 || memchr(buf, '\0', n)) {
        snprintf(err, errsz, "%s: %s", what, n ? "holds a NUL byte" : "empty first line");
        return NULL;
    }
    char *out = malloc(n + 1);
    if (!out) {
        snprintf(err, errsz, "%s: out of memory", what);
        return NULL;
    }
    memcpy(out, buf, n);
    out[n] = '\0';
    return out;
}

static char *from_file(const char *path, char *err, size_t errsz)
{
    char buf[SECRET_MAX];
    size_t len = 0;
    ssize_t got;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errsz, "password_file %s: %s", path, strerror(errno));
        return NULL;
    }
    while (len < sizeof buf && (got = read(fd, buf + len, sizeof buf - len)) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            snprintf(err, errsz, "password_file %s: %s", path, strerror(errno));
            close(fd);
            return NULL;
        }
        len += (size_t)got;
    }
    close(fd);
    char *s = first_line(buf, len, "password_file", err, errsz);
    explicit_bzero(buf, sizeof buf);
    return s;
}

/*
 * A password or token command, run from the event loop so that a slow one
 * holds up only its own account: its stdout is read on EV_READ events up to
 * the first line (or EOF, or SECRET_MAX octets), then the pipe is closed (a
 * command still writing gets EPIPE/SIGPIPE); the answer counts once it has
 * also exited 0. All of it within SECRET_CMD_TIMEOUT_S.
 */
struct secret_job {
    const char *what, *cmd;
    struct child *child; /* NULL once reaped */
    int fd;              /* read end, -1 once done reading */
    struct event *readable, *deadline;
    char buf[SECRET_MAX];
    size_t len;
    int status; /* the child's, once reaped */
    secret_done_fn fn;
    void *arg;
};

/* The outcome to the caller; the job is done (the caller may free it). */
static void job_end(struct secret_job *j, int timed_out)
{
    char err[512];
    char *secret = NULL;
    int st = j->status;
    if (timed_out)
        snprintf(err, sizeof err, "%s: no answer within %d s", j->what, SECRET_CMD_TIMEOUT_S);
    else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        snprintf(err, sizeof err, "%s: the command failed (%s %d)", j->what,
                 WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    else
        secret = first_line(j->buf, j->len, j->what, err, sizeof err);
    explicit_bzero(j->buf, sizeof j->buf);
    j->fn(j->arg, secret, secret ? NULL : err); /* may free j: nothing after */
}

static void stop_reading(struct secret_job *j)
{
    if (j->readable)
        event_free(j->readable);
    j->readable = NULL;
    if (j->fd >= 0)
        close(j->fd);
    j->fd = -1;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct secret_job *j = arg;
    (void)what;
    ssize_t got = read(fd, j->buf + j->len, sizeof j->buf - j->len);
    if (got < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (got > 0)
        j->len += (size_t)got;
    if (got > 0 && j->len < sizeof j->buf && !memchr(j->buf, '\n', j->len))
        return;
    stop_reading(j);
    if (!j->child)
        job_end(j, 0);
}

static void on_cmd_exit(struct child *ch, int status, void *arg)
{
    struct secret_job *j = arg;
    child_free(ch);
    j->child = NULL;
    if (status == -1)
        return job_end(j, 1);
    j->status = status;
    if (j->fd < 0)
        job_end(j, 0);
}

static void on_job_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    job_end(arg, 1); /* a child holding the pipe past its own exit */
}

int secret_is_command(const struct settings *s)
{
    return s->password_cmd || s->oauth_token_cmd;
}

struct secret_job *secret_cmd_start(struct event_base *base, const struct settings *s,
                                    secret_done_fn fn, void *arg, char *err, size_t errsz)
{
    struct secret_job *j = calloc(1, sizeof *j);
    int fds[2] = {-1, -1};
    char why[256];
    struct timeval limit = {SECRET_CMD_TIMEOUT_S, 0};
    if (!j) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    j->what = s->password_cmd ? "password_cmd" : "oauth_token_cmd";
    j->cmd = s->password_cmd ? s->password_cmd : s->oauth_token_cmd;
    j->fn = fn;
    j->arg = arg;
    j->fd = -1;
    if (pipe(fds) != 0) {
        snprintf(err, errsz, "%s: pipe: %s", j->what, strerror(errno));
        free(j);
        return NULL;
    }
    j->fd = fds[0];
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    j->child = child_spawn(base, j->cmd, -1, fds[1], SECRET_CMD_TIMEOUT_S * 1000L, on_cmd_exit,
                           j, why, sizeof why);
    close(fds[1]);
    j->readable = event_new(base, j->fd, EV_READ | EV_PERSIST, on_readable, j);
    j->deadline = evtimer_new(base, on_job_deadline, j);
    if (!j->child || !j->readable || !j->deadline || event_add(j->readable, NULL) != 0 ||
        event_add(j->deadline, &limit) != 0) {
        snprintf(err, errsz, "%s: %s", j->what, j->child ? "out of memory" : why);
        secret_job_free(j);
        return NULL;
    }
    return j;
}

void secret_job_free(struct secret_job *j)
{
    if (!j)
        return;
    child_free(j->child);
    stop_reading(j);
    if (j->deadline)
        event_free(j->deadline);
    explicit_bzero(j->buf, sizeof j->buf);
    free(j);
}

char *secret_get(const struct settings *s, char *err, size_t errsz)
{
    if (s->password_file)
        return from_file(s->password_file, err, errsz);
    const char *v = s->password_env ? getenv(s->password_env) : NULL;
    if (!v || !v[0]) {
        snprintf(err, errsz, "password_env %s: not set or empty",
                 s->password_env ? s->password_env : "(none)");
        return NULL;
    }
    char *out = strdup(v);
    if (!out)
        snprintf(err, errsz, "out of memory");
    return out;
}

void secret_free(char *secret)
{
    if (secret)
        explicit_bzero(secret, strlen(secret));
    free(secret);
}
