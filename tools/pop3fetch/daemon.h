/*
 * --daemon: every account polled on its own interval (poll, default 300 s),
 * never sooner than the server's LOGIN-DELAY, backing off (capped
 * exponential, with jitter) after temporary failures; SIGHUP reloads the
 * config, SIGTERM and SIGINT stop safely. One event loop, signals as libevent
 * events.
 */
#ifndef POP3FETCH_DAEMON_H
#define POP3FETCH_DAEMON_H

#include <stddef.h>

#include "cli.h"
#include "settings.h"

#define POLL_DEFAULT_S 300L
#define BACKOFF_CAP_S 3600L /* the longest wait after failures, unless poll is longer */

/* Seconds to wait before the next poll of an account whose poll interval is
 * `poll_s` (<= 0: the default), after `failures` temporary failures in a row
 * (0: the last session was not one), with the server's LOGIN-DELAY
 * (`login_delay_s`, -1 unknown) as the floor. In milliseconds, with up to
 * 10 % jitter added to a backoff so accounts that failed together spread out;
 * `jitter` is a random number. */
long long daemon_next_poll_ms(long poll_s, unsigned failures, long long login_delay_s,
                              unsigned jitter);

/* Runs until SIGTERM or SIGINT, then returns 0 (or an exit status when the
 * loop cannot be set up). Takes `list` (n accounts, from accounts_load); `c`
 * is kept to reload the config on SIGHUP. */
int daemon_run(struct cli *c, struct settings *list, size_t n);

#endif
