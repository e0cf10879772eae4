/* The accounts to run (accounts.h). */
#include "accounts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "config.h"

/* The accounts the config file names (all, or those of --account), each
 * with the command-line flags over its own keys over [defaults]. */
static int accounts_from_config(const struct cli *c, const struct config *cfg,
                                struct settings **out, size_t *n_out)
{
    char err[512];
    size_t n = c->n_names ? c->n_names : cfg->n_accounts;
    struct settings *list = calloc(n ? n : 1, sizeof *list);
    if (!list)
        return fputs("pop3fetch: out of memory\n", stderr), EX_OSERR;
    *out = list;
    for (size_t i = 0; i < n; i++) {
        const struct settings *acct = NULL;
        settings_init(&list[i]);
        *n_out = i + 1;
        if (c->n_names) {
            for (size_t k = 0; k < cfg->n_accounts && !acct; k++)
                if (strcmp(cfg->accounts[k].name, c->names[i]) == 0)
                    acct = &cfg->accounts[k];
            if (!acct) {
                fprintf(stderr, "pop3fetch: --account %s: no [account %s] in the config\n",
                        c->names[i], c->names[i]);
                return EX_USAGE;
            }
        } else {
            acct = &cfg->accounts[i];
        }
        if (settings_inherit(&list[i], &c->flags) != 0 ||
            settings_inherit(&list[i], acct) != 0 ||
            settings_inherit(&list[i], &cfg->defaults) != 0 ||
            !(list[i].name = strdup(acct->name)))
            return fputs("pop3fetch: out of memory\n", stderr), EX_OSERR;
        if (settings_finish(&list[i], err, sizeof err) != 0) {
            fprintf(stderr, "pop3fetch: [account %s]: %s\n", acct->name, err);
            return EX_CONFIG;
        }
    }
    return 0;
}

int accounts_load(struct cli *c, struct settings **list, size_t *n)
{
    char err[1024], tried[1024];
    if (c->has_host) {
        if (!(*list = calloc(1, sizeof **list)))
            return EX_OSERR;
        **list = c->flags; /* moved: cli_free then frees nothing twice */
        settings_init(&c->flags);
        *n = 1;
        if (settings_finish(*list, err, sizeof err) != 0) {
            fprintf(stderr, "pop3fetch: %s (see --help)\n", err);
            return EX_USAGE;
        }
        return 0;
    }
    char *path = c->config ? strdup(c->config) : config_default_path(tried, sizeof tried);
    if (!path) {
        fprintf(stderr, "pop3fetch: no --host and no config file (%s)\n%s",
                c->config ? "out of memory" : tried,
                "usage: pop3fetch --host H --user U ... or pop3fetch --config FILE (--help)\n");
        return EX_USAGE;
    }
    struct config cfg;
    int rc = config_load(path, &cfg, err, sizeof err);
    free(path);
    if (rc == 0)
        rc = accounts_from_config(c, &cfg, list, n);
    else
        fprintf(stderr, "pop3fetch: %s\n", err);
    config_free(&cfg);
    return rc;
}

void accounts_free(struct settings *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        settings_free(&list[i]);
    free(list);
}
