/*
 * What the examples share: the connection options every one of them takes, the
 * password (from an environment variable or a file, never from argv, where `ps`
 * shows it to every user), and a client made from those options.
 *
 * Built with each example (examples/meson.build), or alone:
 *
 *   cc -o capabilities capabilities.c example_common.c \
 *      $(pkg-config --cflags --libs libpop3async libevent_core)
 *
 * Options (parsed by ex_parse_option):
 *   --host H  --port P  --user U  --password-env VAR | --password-file F
 *   --tls none|stls|implicit (default implicit: port 995; 110 otherwise)
 *   --ca-file F  --allow-cleartext  --timeout SECONDS
 */
#ifndef POP3A_EXAMPLE_COMMON_H
#define POP3A_EXAMPLE_COMMON_H

#include <stdio.h>

#include <pop3async/pop3async.h>

struct event_base;

enum { EX_EXIT_FAIL = 1, EX_EXIT_USAGE = 2 };

struct ex_opts {
    const char *prog; /* for messages: "capabilities: ..." */
    const char *host, *user, *password_env, *password_file, *ca_file;
    long port;      /* -1 until ex_check_options: the TLS mode's default */
    long timeout_s; /* 0: the library's defaults */
    pop3a_tls_mode tls;
    int allow_cleartext;
};

/* Defaults (implicit TLS, verified). */
void ex_opts_init(struct ex_opts *o, const char *prog);

/* If argv[*i] is one of the options above, stores it, moves *i past its value
 * and returns 1. 0: not one of ours (the example's own, or unknown). -1: a bad
 * or missing value (printed). */
int ex_parse_option(struct ex_opts *o, int argc, char **argv, int *i);

/* After parsing: the TLS mode's default port, and with need_account set, --host,
 * --user and one password source are required. 0, or -1 (printed). */
int ex_check_options(struct ex_opts *o, int need_account);

/* A positive decimal number up to max, or -1. */
int ex_parse_number(const char *s, long max, long *out);

/* The password from --password-env or --password-file (first line), malloc'd,
 * or NULL (printed). Free it with ex_password_free, which wipes it first. */
char *ex_password(const struct ex_opts *o);
void ex_password_free(char *password);

/* Warns on stderr when the open file `fd` (named `path`) holding secrets can be
 * read by other users, as ssh does for keys. */
void ex_warn_if_shared(const struct ex_opts *o, const char *path, int fd);

/* A client on `base` with the TLS mode, CA file, cleartext policy and timeouts
 * of `o`; NULL on out-of-memory or an unreadable CA file (printed). */
pop3a_client *ex_client_new(struct event_base *base, const struct ex_opts *o);

/* pop3a_client_free, then one non-blocking loop turn so that libevent runs the
 * finalizers that release the connection (see pop3a_client_free). */
void ex_client_free(struct event_base *base, pop3a_client *client);

/* "PROG: WHAT: STATUS TEXT (DETAIL)" on stderr; the detail only when it adds
 * something (a failed connect: pop3a_client_errstr has the OpenSSL reason). */
void ex_report(const struct ex_opts *o, const char *what, const char *status, const char *text,
               const char *detail);
/* The same for a future that failed (status name and server or library text),
 * and for a submit that returned NULL (pop3a_client_error). */
void ex_report_future(const struct ex_opts *o, const char *what, const pop3a_future *fut);
void ex_report_submit(const struct ex_opts *o, const char *what, const pop3a_client *client);

/* The option lines of a usage message. */
void ex_usage_options(FILE *to);

#endif
