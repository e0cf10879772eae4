/*
 * One account's session on the library: connect, log in, UIDL + LIST, RETR
 * the new messages (pipelined when the server offers it), deliver each
 * durably, record the UIDLs durably, then DELE (batched, with --delete) and
 * QUIT. Any failure ends the session without QUIT, so the server deletes
 * nothing (RFC 1939 section 6: deletions happen only in the UPDATE state).
 */
#ifndef POP3FETCH_ACCOUNT_H
#define POP3FETCH_ACCOUNT_H

#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "settings.h"

struct event_base;
struct account;

/* Called once, from the event loop, when the account is done. */
typedef void (*account_done_fn)(struct account *a, void *arg);

struct account_progress {
    uint32_t msgs_done, msgs_total;
    uint64_t bytes_done, bytes_total;
    int started, finished;
};

/* `s` and `g` must outlive the account. NULL out of memory. */
struct account *account_new(struct event_base *base, const struct settings *s,
                            const struct globals *g, account_done_fn done, void *arg);
void account_start(struct account *a);
/* Ends a running session at once, safely (no DELE takes effect, what was
 * delivered is recorded); the done callback still runs. No-op when not
 * running. */
void account_stop(struct account *a);
/* The server's LOGIN-DELAY in seconds (CAPA), or -1 when it named none. */
int64_t account_login_delay(const struct account *a);
/* 0 or the sysexits.h code of its failure (once done). */
int account_exit(const struct account *a);
/* "<name>: <n> new, <bytes> bytes, <n> deleted, <s> s", or the error. */
void account_summary(const struct account *a, char *out, size_t size);
void account_get_progress(const struct account *a, struct account_progress *p);
const char *account_name(const struct account *a);
void account_free(struct account *a);

#endif
