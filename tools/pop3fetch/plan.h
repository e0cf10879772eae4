/*
 * Which messages a session fetches: the LIST and UIDL listings checked
 * against each other, then each message looked up in the state (and, for
 * Maildir, among the files a killed run delivered but did not record).
 */
#ifndef POP3FETCH_PLAN_H
#define POP3FETCH_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include <pop3async/pop3async.h>

#include "state.h"
#include "store.h"

struct item {
    uint32_t msg;
    uint64_t size;
    char *uid; /* NULL when the session goes by message numbers */
    char tag[STORE_TAG_LEN + 1]; /* hash of account key and uid, "" without uid */
};

struct plan {
    struct item *items; /* every message, in LIST order */
    size_t n;
    int by_number;       /* no usable UIDL: fetch all, record nothing */
    size_t *todo;        /* items to fetch, in order */
    size_t n_todo;
    size_t *found;       /* delivered by an earlier run: only to record and, with
                            --delete, to delete (a run that failed before QUIT) */
    size_t n_found;
    uint64_t todo_bytes; /* sum of the todo sizes (LIST octets) */
};

/* Builds the items from a successful LIST and, unless NULL, a successful
 * UIDL. A UIDL listing that disagrees with LIST (other numbers, more or fewer
 * entries) or repeats a unique-id puts the plan in by_number and returns a
 * warning (static text); else NULL. *oom is set when memory ran out. */
const char *plan_listings(struct plan *p, const pop3a_future *list, const pop3a_future *uidl,
                          const char *key, int *oom);
/* Fills todo and found: everything when by_number or `all`, else what the
 * state lacks; found gets the messages whose tag the store has and, when
 * `delete_after`, those the state has (delivered, but the session that
 * sent their DELE never reached QUIT). 0, or -1 with err. */
int plan_select(struct plan *p, struct state *state, struct store *store, int all,
                int delete_after, char *err, size_t errsz);
void plan_free(struct plan *p);

#endif
