/*
 * A `/bin/sh -c CMD` child watched from the event loop, so that a slow MDA or
 * password command holds up only its own account: its exit is an event (a
 * pidfd, or a 10 ms waitpid poll where pidfd_open is missing), and after its
 * deadline it is killed. No SIGCHLD handler: nothing else in the process is
 * disturbed.
 */
#ifndef POP3FETCH_CHILD_H
#define POP3FETCH_CHILD_H

#include <stddef.h>

struct event_base;
struct child;

/* Called once from the loop when the child has exited (status as waitpid
 * gives it) or, with status -1, when the deadline passed and it was killed.
 * The child is reaped; the callee may child_free() it. */
typedef void (*child_exit_fn)(struct child *ch, int status, void *arg);

/* Starts `sh -c cmd` with stdin_fd and stdout_fd as its fds 0 and 1 (-1:
 * /dev/null for stdin, our stderr for stdout); both stay ours to close. NULL
 * with a message in err. */
struct child *child_spawn(struct event_base *base, const char *cmd, int stdin_fd, int stdout_fd,
                          long timeout_ms, child_exit_fn fn, void *arg, char *err, size_t errsz);
/* Kills the child if it still runs (SIGKILL, reaped at once) and frees it;
 * no callback. NULL is a no-op. */
void child_free(struct child *ch);

#endif
