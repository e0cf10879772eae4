/*
 * An account's secret (password or OAuth token) from a file, an environment
 * variable or a command. Never from argv, never printed.
 */
#ifndef POP3FETCH_SECRETS_H
#define POP3FETCH_SECRETS_H

#include <stddef.h>

#include "settings.h"

/* Bounds on a command: its first line of output, read for this long. */
#define SECRET_MAX 4096
#define SECRET_CMD_TIMEOUT_S 30

/* The secret, malloc'd (free with secret_free, which wipes it), or NULL with a
 * message in err (which never holds the secret). */
char *secret_get(const struct settings *s, char *err, size_t errsz);
void secret_free(char *secret);

#endif
