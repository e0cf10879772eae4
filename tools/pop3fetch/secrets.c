/* Secret sources (secrets.h). */
#include "secrets.h"

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

static long ms_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Reads the child's stdout until EOF, a full first line, SECRET_MAX octets or
 * the deadline. Returns the octets read, or -1 on timeout. */
static ssize_t read_bounded(int fd, char *buf, size_t size, const struct timespec *t0)
{
    size_t len = 0;
    while (len < size && !memchr(buf, '\n', len)) {
        long left = SECRET_CMD_TIMEOUT_S * 1000L - ms_since(t0);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0)
            return -1;
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r == 0 ? -1 : (ssize_t)len;
        ssize_t got = read(fd, buf + len, size - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    return (ssize_t)len;
}

/* `sh -c CMD` with stdout into a pipe, stdin from /dev/null, stderr ours. */
static char *from_command(const char *what, const char *cmd, char *err, size_t errsz)
{
    char buf[SECRET_MAX];
    int fds[2], status;
    pid_t pid;
    struct timespec t0;
    if (pipe(fds) != 0 || fcntl(fds[0], F_SETFD, FD_CLOEXEC) != 0 ||
        fcntl(fds[1], F_SETFD, FD_CLOEXEC) != 0) {
        snprintf(err, errsz, "%s: pipe: %s", what, strerror(errno));
        return NULL;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    char *const argv[] = {"sh", "-c", (char *)cmd, NULL};
    int rc = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        snprintf(err, errsz, "%s: cannot run /bin/sh: %s", what, strerror(rc));
        return NULL;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ssize_t len = read_bounded(fds[0], buf, sizeof buf, &t0);
    close(fds[0]); /* a command still writing gets EPIPE/SIGPIPE */
    /* A command that printed its line but lingers gets the rest of the time. */
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (len < 0 || ms_since(&t0) > SECRET_CMD_TIMEOUT_S * 1000L) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            len = -1;
            break;
        }
        struct timespec tick = {0, 10 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    char *s = NULL;
    if (len < 0)
        snprintf(err, errsz, "%s: no answer within %d s", what, SECRET_CMD_TIMEOUT_S);
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        snprintf(err, errsz, "%s: the command failed (%s %d)", what,
                 WIFEXITED(status) ? "exit" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    else
        s = first_line(buf, (size_t)len, what, err, errsz);
    explicit_bzero(buf, sizeof buf);
    return s;
}

char *secret_get(const struct settings *s, char *err, size_t errsz)
{
    if (s->password_file)
        return from_file(s->password_file, err, errsz);
    if (s->password_cmd)
        return from_command("password_cmd", s->password_cmd, err, errsz);
    if (s->oauth_token_cmd)
        return from_command("oauth_token_cmd", s->oauth_token_cmd, err, errsz);
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
