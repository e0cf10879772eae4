/*
 * Per-account UIDL state in SQLite (WAL): the UIDLs already delivered. One row
 * per message, inserted in one transaction per batch, so a 100,000-message
 * mailbox costs an index lookup per message, never a rewrite of the whole
 * state. A lock file beside it keeps a second pop3fetch off the account.
 */
#ifndef POP3FETCH_STATE_H
#define POP3FETCH_STATE_H

#include <stddef.h>

struct state;

/* $XDG_STATE_HOME/pop3fetch/<key>.sqlite (~/.local/state/... without it), the
 * key made safe for a file name; malloc'd, NULL out of memory. */
char *state_default_path(const char *key);

/* Opens (creating the file and its directory) and locks. NULL with a message
 * in err; *busy is then 1 when another process holds the lock. */
struct state *state_open(const char *path, int *busy, char *err, size_t errsz);
/* 1 recorded, 0 not, -1 error (state_error). */
int state_has(struct state *st, const char *uidl);
/* Records every uidl in one transaction, durable when it returns 0. */
int state_record(struct state *st, const char *const *uidls, size_t n);
/* Forgets every recorded UIDL not in uidls[0..n) (the server's listing at
 * the start of a successful session): a message gone from the server needs
 * no row, so the state does not grow forever with --delete. Only when the
 * state holds more rows than the listing. 0 or -1. */
int state_prune(struct state *st, const char *const *uidls, size_t n);
const char *state_error(struct state *st);
void state_close(struct state *st);

#endif
