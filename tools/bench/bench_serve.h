/*
 * The loopback server loop shared by the libevent benchmark programs (latproxy,
 * tinypop): listen on 127.0.0.1 with a port the kernel picks, print "port N" on
 * stdout, serve until SIGTERM or SIGINT, then free everything (so the programs
 * stay clean under valgrind).
 */
#ifndef POP3A_BENCH_SERVE_H
#define POP3A_BENCH_SERVE_H

#include <event2/listener.h>

struct event_base;

/* Runs the loop of `base`; accept_cb gets each connection with `arg`. `name`
 * prefixes error messages. Returns the exit status for main (0, or 1 when the
 * listener or the signal watchers could not be set up). */
int bench_serve_loopback(struct event_base *base, const char *name, evconnlistener_cb accept_cb,
                         void *arg, int backlog);

#endif
