/* Config file reading (config.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <ini.h>

struct parse {
    struct config *cfg;
    struct settings *current; /* NULL before the first section */
    int names_secret;
    char err[512]; /* the first error; inih gives its line */
};

static int fail(struct parse *p, const char *msg)
{
    if (!p->err[0])
        snprintf(p->err, sizeof p->err, "%s", msg);
    return 0; /* inih: an error on this line */
}

static struct settings *section(struct parse *p, const char *name)
{
    struct config *cfg = p->cfg;
    if (strcmp(name, "defaults") == 0)
        return cfg->n_accounts == 0 ? &cfg->defaults : NULL;
    if (strncmp(name, "account ", 8) != 0 || !name[8])
        return NULL;
    for (size_t i = 0; i < cfg->n_accounts; i++)
        if (strcmp(cfg->accounts[i].name, name + 8) == 0)
            return &cfg->accounts[i]; /* a section may be continued further down */
    struct settings *a = realloc(cfg->accounts, (cfg->n_accounts + 1) * sizeof *a);
    if (!a)
        return NULL;
    cfg->accounts = a;
    a = &cfg->accounts[cfg->n_accounts];
    settings_init(a);
    if (!(a->name = strdup(name + 8)))
        return NULL;
    cfg->n_accounts++;
    return a;
}

static int on_pair(void *user, const char *sect, const char *key, const char *value)
{
    struct parse *p = user;
    char err[300];
    /* inih passes the section name with every pair: look it up each time */
    p->current = section(p, sect);
    if (!p->current) {
        if (strcmp(sect, "defaults") == 0)
            return fail(p, "[defaults] must come before the first [account]");
        snprintf(err, sizeof err, "section [%s] is neither [defaults] nor [account NAME]", sect);
        return fail(p, err);
    }
    if (settings_pair_is_secret(key, value))
        p->names_secret = 1;
    if (settings_set(p->current, key, value, err, sizeof err) != 0)
        return fail(p, err);
    return 1;
}

int config_load(const char *path, struct config *cfg, char *err, size_t errsz)
{
    struct parse p = {.cfg = cfg};
    struct stat st;
    *cfg = (struct config){0};
    settings_init(&cfg->defaults);
    FILE *f = fopen(path, "re");
    if (!f || fstat(fileno(f), &st) != 0) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        if (f)
            fclose(f);
        return EX_NOINPUT;
    }
    int line = ini_parse_file(f, on_pair, &p);
    fclose(f);
    if (line != 0) {
        if (line < 0)
            snprintf(err, errsz, "%s: cannot read it", path);
        else
            snprintf(err, errsz, "%s:%d: %s", path, line,
                     p.err[0] ? p.err : "syntax error (want [section] or key = value)");
        return EX_CONFIG;
    }
    /* A password source in a file others can read tells them where the secret
     * is, or (password_cmd) lets them see what runs with it; a proxy URL may
     * hold the proxy's password itself. */
    if (p.names_secret && (st.st_mode & (S_IRGRP | S_IROTH | S_IWGRP | S_IWOTH))) {
        snprintf(err, errsz, "%s: names a password source or a proxy password but group or "
                 "others can read or write it (mode %03o): chmod 600 it", path,
                 (unsigned)(st.st_mode & 0777));
        return EX_CONFIG;
    }
    if (cfg->n_accounts == 0) {
        snprintf(err, errsz, "%s: no [account NAME] section", path);
        return EX_CONFIG;
    }
    return 0;
}

void config_free(struct config *cfg)
{
    settings_free(&cfg->defaults);
    for (size_t i = 0; i < cfg->n_accounts; i++)
        settings_free(&cfg->accounts[i]);
    free(cfg->accounts);
    *cfg = (struct config){0};
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s", a, b);
    return p;
}

char *config_default_path(char *tried, size_t size)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    char *path = NULL;
    if (xdg && xdg[0] == '/')
        path = join(xdg, "/pop3fetch/config");
    else if (home)
        path = join(home, "/.config/pop3fetch/config");
    snprintf(tried, size, "%s", path ? path : "$XDG_CONFIG_HOME/pop3fetch/config");
    if (path && access(path, F_OK) == 0)
        return path;
    free(path);
    if (!home)
        return NULL;
    path = join(home, "/.pop3fetchrc");
    if (path && access(path, F_OK) == 0)
        return path;
    free(path);
    return NULL;
}
