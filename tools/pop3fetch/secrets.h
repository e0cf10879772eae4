/*
 * An account's secret (password or OAuth token) from a file, an environment
 * variable or a command (run from the event loop). Never from argv, never
 * printed.
 */
#ifndef POP3FETCH_SECRETS_H
#define POP3FETCH_SECRETS_H

#include <stddef.h>

#include "settings.h"

/* Bounds on a command: its first line of output, read for this long. */
#define SECRET_MAX 4096
#define SECRET_CMD_TIMEOUT_S 30

struct event_base;
struct secret_job;

/* From a file or an environment variable (not a command): the secret,
 * malloc'd (free with secret_free, which wipes it), or NULL with a message in
 * err (which never holds the secret). */
char *secret_get(const struct settings *s, char *err, size_t errsz);
void secret_free(char *secret);

/* 1 when the secret comes from password_cmd or oauth_token_cmd. */
int secret_is_command(const struct settings *s);
/* Called once from the loop: the secret (the callee's, as from secret_get)
 * or NULL and why. The callee may free the job. */
typedef void (*secret_done_fn)(void *arg, char *secret, const char *err);
/* Runs the account's command from the loop (its first line of output; exit
 * 0 within SECRET_CMD_TIMEOUT_S). NULL with a message in err if it cannot
 * start; `s` must outlive the job. */
struct secret_job *secret_cmd_start(struct event_base *base, const struct settings *s,
                                    secret_done_fn fn, void *arg, char *err, size_t errsz);
/* Stops the command (killed if it runs); no callback. NULL is a no-op. */
void secret_job_free(struct secret_job *j);

#endif
