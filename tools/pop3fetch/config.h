/*
 * The config file (pop3fetch.conf(5)), read with inih: [defaults], then one
 * [account NAME] section per account; keys are the long flags with '-'
 * written '_', plus poll.
 */
#ifndef POP3FETCH_CONFIG_H
#define POP3FETCH_CONFIG_H

#include <stddef.h>

#include "settings.h"

struct config {
    struct settings defaults;
    struct settings *accounts; /* in file order */
    size_t n_accounts;
};

/* The default path: $XDG_CONFIG_HOME/pop3fetch/config, else ~/.config/...,
 * then ~/.pop3fetchrc if only that exists. Malloc'd, or NULL when neither
 * exists (*tried then names the first). */
char *config_default_path(char *tried, size_t size);

/* Reads `path`. Returns 0, or an exit status (EX_CONFIG, EX_NOINPUT) with
 * "FILE:LINE: what" in err. Refuses a file that group or others can read when
 * it names a password source. */
int config_load(const char *path, struct config *cfg, char *err, size_t errsz);
void config_free(struct config *cfg);

#endif
