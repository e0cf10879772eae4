/*
 * The accounts to run: the one the command line gives (--host ...), or those
 * of the config file (all, or those of --account). The daemon calls it again
 * on SIGHUP.
 */
#ifndef POP3FETCH_ACCOUNTS_H
#define POP3FETCH_ACCOUNTS_H

#include <stddef.h>

#include "cli.h"
#include "settings.h"

/* 0 with *list (malloc'd, *n entries), or the exit status after a message on
 * stderr; free *list with accounts_free either way. With --host the flags
 * move into the list (c->flags is left empty), so call it once then. */
int accounts_load(struct cli *c, struct settings **list, size_t *n);
void accounts_free(struct settings *list, size_t n);

#endif
