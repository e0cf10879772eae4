/*
 * The command line: global flags, and either one account given by flags
 * (--host ...) or accounts from a config file (--config, --account).
 */
#ifndef POP3FETCH_CLI_H
#define POP3FETCH_CLI_H

#include "settings.h"

struct globals {
    int quiet, verbose, trace;
    long jobs; /* accounts at once, default 8 */
    int daemon;
    int syslog; /* --syslog: the daemon logs to syslog, not stderr */
};

struct cli {
    struct globals g;
    const char *config;  /* --config, or NULL */
    const char **names;  /* --account NAME..., malloc'd array of argv pointers */
    size_t n_names;
    struct settings flags; /* account settings given as flags (--host, --delete...) */
    int has_host;          /* --host given: the flags are the account */
};

/* Returns -1 to go on, or the exit status: 0 after --help/--version, EX_USAGE. */
int cli_parse(int argc, char **argv, struct cli *c);
void cli_free(struct cli *c);

#endif
