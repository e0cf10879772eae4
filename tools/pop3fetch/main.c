/*
 * pop3fetch: fetches mail from POP3 accounts into a Maildir, an mbox or an
 * MDA, keeping a UIDL state per account (pop3fetch(1)). This file only wires
 * the parts together: the command line or the config file gives the
 * accounts, run.c runs them once, daemon.c again and again.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "accounts.h"
#include "cli.h"
#include "daemon.h"
#include "progress.h"
#include "run.h"

int main(int argc, char **argv)
{
    struct cli c;
    struct settings *list = NULL;
    size_t n = 0;
    int rc = cli_parse(argc, argv, &c);
    if (rc < 0)
        rc = accounts_load(&c, &list, &n);
    if (rc == 0 && list) {
        /* a server that hangs up must give EPIPE, not kill us; so must an MDA */
        signal(SIGPIPE, SIG_IGN);
        if (c.g.daemon) {
            if (c.g.syslog)
                say_use_syslog();
            rc = daemon_run(&c, list, n); /* takes the list */
            list = NULL;
            n = 0;
        } else {
            rc = run_accounts(list, n, &c.g);
        }
    }
    accounts_free(list, n);
    cli_free(&c);
    return fflush(stdout) == 0 ? rc : EX_IOERR;
}
