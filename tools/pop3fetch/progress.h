/*
 * The live progress line on a terminal (stderr), at most 10 redraws a second,
 * and messages printed around it (say), so they never mix.
 */
#ifndef POP3FETCH_PROGRESS_H
#define POP3FETCH_PROGRESS_H

#include <stddef.h>

struct event_base;
struct account;

/* Starts redrawing when stderr is a terminal and `enabled`. 0 or -1. */
int progress_start(struct event_base *base, struct account **accounts, size_t n, int enabled);
void progress_stop(void);
/* printf to `to` (stdout or stderr), first clearing the progress line. */
/* From now on say() writes to syslog (facility mail), one record a line. */
void say_use_syslog(void);
void say(int to_stderr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
