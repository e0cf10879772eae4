/*
 * A real SOCKS5 server for the tests: Debian's microsocks, started on a free
 * loopback port and stopped by its process id. The child dies with the test
 * process (PR_SET_PDEATHSIG), so a failed assertion leaves no proxy behind.
 */
#ifndef POP3A_MICROSOCKS_RUN_H
#define POP3A_MICROSOCKS_RUN_H

#include <stdint.h>
#include <sys/types.h>

typedef struct {
    pid_t pid;
    uint16_t port;
} ms_proxy;

/* Starts microsocks on 127.0.0.1 (with user/pass when user is non-NULL) and
 * waits, at most 3 s, until it accepts. 0, or -1 (no microsocks binary: the
 * message says so on stderr). */
int ms_start(ms_proxy *p, const char *user, const char *pass);
/* SIGTERM to that pid and reap it. */
void ms_stop(ms_proxy *p);

#endif
