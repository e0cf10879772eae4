/* Children watched from the event loop (child.h). */
#define _GNU_SOURCE /* posix_spawn_file_actions_addclosefrom_np (glibc 2.34) */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

extern char **environ;

#define POLL_MS 10 /* without a pidfd: how often waitpid is asked */

struct child {
    pid_t pid; /* 0 once reaped */
    int pidfd; /* -1: polled instead */
    struct event *exit_ev, *deadline;
    child_exit_fn fn;
    void *arg;
};

static void reaped(struct child *ch, int status)
{
    ch->pid = 0;
    event_del(ch->exit_ev);
    event_del(ch->deadline);
    ch->fn(ch, status, ch->arg); /* may free ch: nothing after this */
}

static void on_exit_ready(evutil_socket_t fd, short what, void *arg)
{
    struct child *ch = arg;
    int status;
    (void)fd;
    (void)what;
    pid_t got = waitpid(ch->pid, &status, WNOHANG);
    if (got == ch->pid)
        reaped(ch, status);
    else if (got < 0 && errno != EINTR)
        reaped(ch, -1); /* reaped by someone else: treat as lost */
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct child *ch = arg;
    (void)fd;
    (void)what;
    kill(ch->pid, SIGKILL);
    waitpid(ch->pid, NULL, 0); /* a killed child goes at once */
    reaped(ch, -1);
}

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0)
        fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
#else
    (void)pid;
    return -1;
#endif
}

struct child *child_spawn(struct event_base *base, const char *cmd, int stdin_fd, int stdout_fd,
                          long timeout_ms, child_exit_fn fn, void *arg, char *err, size_t errsz)
{
    struct child *ch = calloc(1, sizeof *ch);
    if (!ch) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    *ch = (struct child){.pidfd = -1, .fn = fn, .arg = arg};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (stdin_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, stdin_fd, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, stdout_fd >= 0 ? stdout_fd : 2, 1);
    /* Nothing else: other accounts' sockets (libevent opens them without
     * CLOEXEC) would stay open in the child, and their servers would never
     * see the hang-up while it runs, nor their pipes an EOF. */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    char *const argv[] = {"sh", "-c", (char *)cmd, NULL};
    int rc = posix_spawn(&ch->pid, "/bin/sh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        snprintf(err, errsz, "cannot run /bin/sh: %s", strerror(rc));
        free(ch);
        return NULL;
    }
    ch->pidfd = open_pidfd(ch->pid);
    struct timeval poll = {0, POLL_MS * 1000}, limit = {timeout_ms / 1000,
                                                         (timeout_ms % 1000) * 1000};
    ch->exit_ev = ch->pidfd >= 0
                      ? event_new(base, ch->pidfd, EV_READ | EV_PERSIST, on_exit_ready, ch)
                      : event_new(base, -1, EV_PERSIST, on_exit_ready, ch);
    ch->deadline = evtimer_new(base, on_deadline, ch);
    if (!ch->exit_ev || !ch->deadline ||
        event_add(ch->exit_ev, ch->pidfd >= 0 ? NULL : &poll) != 0 ||
        event_add(ch->deadline, &limit) != 0) {
        snprintf(err, errsz, "out of memory");
        child_free(ch);
        return NULL;
    }
    return ch;
}

void child_free(struct child *ch)
{
    if (!ch)
        return;
    if (ch->pid > 0) {
        kill(ch->pid, SIGKILL);
        waitpid(ch->pid, NULL, 0);
    }
    if (ch->exit_ev)
        event_free(ch->exit_ev);
    if (ch->deadline)
        event_free(ch->deadline);
    if (ch->pidfd >= 0)
        close(ch->pidfd);
    free(ch);
}
