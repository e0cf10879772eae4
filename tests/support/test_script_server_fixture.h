/*
 * The fixture of the scripted server's own tests (test_script_server.c and
 * test_script_server_tls.c): one p3s on its own event_base, and a bare
 * bufferevent as the client that records what it read.
 */
#ifndef POP3A_TEST_SCRIPT_SERVER_FIXTURE_H
#define POP3A_TEST_SCRIPT_SERVER_FIXTURE_H

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "script_server.h"

/* What the fake client saw. */
typedef struct {
    struct evbuffer *got;
    int reads;
    int eof;
} peer;

typedef struct {
    struct event_base *base;
    p3s *srv;
    struct bufferevent *bev;
    peer p;
} fixture;

/* A fresh base and server; SIGPIPE ignored. */
void fx_init(fixture *f);
/* Makes bev (asserted non-NULL) the client, reading into f->p. */
void fx_attach(fixture *f, struct bufferevent *bev);
void fx_free(fixture *f);
/* Runs the loop until the script is done or failed, or ms passed. */
void fx_run(fixture *f, unsigned ms);
/* Runs the loop for ms, whatever happens. */
void fx_run_for(fixture *f, unsigned ms);
/* 1 when the client read exactly `want`. */
int got_equals(const peer *p, const char *want);

#endif
