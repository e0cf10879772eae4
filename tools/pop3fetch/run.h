/* Many accounts on one event loop, at most `jobs` at once. */
#ifndef POP3FETCH_RUN_H
#define POP3FETCH_RUN_H

#include <stddef.h>

#include "cli.h"
#include "settings.h"

/* Runs every account (each one even when others fail), prints one summary
 * line per account, and returns the worst exit code. */
int run_accounts(const struct settings *accounts, size_t n, const struct globals *g);

#endif
