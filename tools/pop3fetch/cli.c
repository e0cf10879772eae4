/* Command line parsing (cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <pop3async/pop3async.h>

#define JOBS_DEFAULT 8
#define JOBS_MAX 1000

static void usage(FILE *to)
{
    fputs("usage: pop3fetch [--config FILE] [--account NAME]... [--jobs N]\n"
          "                 [--daemon [--syslog]]\n"
          "       pop3fetch --host H [--port P] --user U\n"
          "                 (--password-file F | --password-env VAR | --password-cmd CMD |\n"
          "                  --oauth-token-cmd CMD)\n"
          "                 [--tls implicit|stls|none] [--ca-file F] [--fingerprint SHA256HEX]\n"
          "                 [--allow-cleartext]\n"
          "                 [--proxy socks5h://HOST:PORT | --proxy-env VAR]\n"
          "                 (--maildir DIR | --mbox FILE | --mda CMD) [--delete] [--all]\n"
          "                 [--state FILE] [--timeout S]\n"
          "       common: [--quiet] [--verbose] [--trace] [--help] [--version]\n"
          "Fetches new mail from POP3 accounts (messages whose UIDL is not in the state)\n"
          "and delivers it; --delete removes each message once it is delivered durably.\n"
          "TLS is implicit on port 995 and STLS (required) on any other port, verified.\n"
          "--proxy connects through SOCKS5 (socks5h: the proxy resolves the host);\n"
          "proxy credentials only in the config file or the --proxy-env variable.\n"
          "--daemon polls each account every `poll` seconds (default 300) until\n"
          "SIGTERM; SIGHUP reloads the config.\n"
          "Exit status (sysexits.h): 0 all fine; 75 try again later; 77 credentials\n"
          "refused; 78 configuration error; others as pop3fetch(1) says.\n",
          to);
}

/* "--password-file" -> "password_file" into out. */
static int flag_key(const char *flag, char *out, size_t size)
{
    if (strncmp(flag, "--", 2) != 0 || strlen(flag + 2) >= size)
        return -1;
    strcpy(out, flag + 2);
    for (char *p = out; *p; p++)
        if (*p == '-')
            *p = '_';
    return 0;
}

static int global_flag(struct cli *c, const char *arg)
{
    if (strcmp(arg, "--quiet") == 0)
        c->g.quiet = 1;
    else if (strcmp(arg, "--verbose") == 0)
        c->g.verbose = 1;
    else if (strcmp(arg, "--trace") == 0)
        c->g.trace = 1;
    else if (strcmp(arg, "--daemon") == 0)
        c->g.daemon = 1;
    else if (strcmp(arg, "--syslog") == 0)
        c->g.syslog = 1;
    else
        return 0;
    return 1;
}

static int bad(const char *flag, const char *why)
{
    fprintf(stderr, "pop3fetch: %s: %s (see --help)\n", flag, why);
    return EX_USAGE;
}

int cli_parse(int argc, char **argv, struct cli *c)
{
    char key[64], err[256];
    *c = (struct cli){.g = {.jobs = JOBS_DEFAULT}};
    settings_init(&c->flags);
    c->names = calloc((size_t)argc + 1, sizeof *c->names);
    if (!c->names)
        return fputs("pop3fetch: out of memory\n", stderr), EX_OSERR;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "--help") == 0)
            return usage(stdout), 0;
        if (strcmp(arg, "--version") == 0)
            return printf("pop3fetch %s\n", POP3A_VERSION_STRING), 0;
        if (global_flag(c, arg))
            continue;
        if (flag_key(arg, key, sizeof key) != 0)
            return bad(arg, "not an option");
        if (settings_key_is_bool(key)) {
            if (settings_set(&c->flags, key, "true", err, sizeof err) != 0)
                return bad(arg, err);
            continue;
        }
        if (!value)
            return bad(arg, "needs a value");
        i++;
        if (strcmp(key, "config") == 0) {
            c->config = value;
        } else if (strcmp(key, "account") == 0) {
            c->names[c->n_names++] = value;
        } else if (strcmp(key, "jobs") == 0) {
            char *end;
            errno = 0;
            c->g.jobs = strtol(value, &end, 10);
            if (errno || *end || end == value || c->g.jobs < 1 || c->g.jobs > JOBS_MAX)
                return bad(arg, "a number from 1 to 1000");
        } else if (strcmp(key, "proxy") == 0 && proxy_url_has_credentials(value)) {
            /* argv is readable by every user (ps, /proc): not for a password */
            return bad(arg, "no USER:PASS@ on the command line: put the URL in the config "
                            "file's proxy key or in a variable named by --proxy-env");
        } else if (strcmp(key, "poll") == 0) {
            return bad(arg, "not an option (poll is a config key)");
        } else {
            if (strcmp(key, "host") == 0)
                c->has_host = 1;
            if (settings_set(&c->flags, key, value, err, sizeof err) != 0)
                return bad(arg, strncmp(err, "unknown key", 11) == 0 ? "not an option" : err);
        }
    }
    if (c->g.syslog && !c->g.daemon)
        return bad("--syslog", "goes with --daemon");
    if (c->g.quiet && c->g.verbose)
        return bad("--quiet", "cannot go with --verbose");
    if (c->has_host && (c->config || c->n_names))
        return bad("--host", "cannot go with --config or --account");
    return -1;
}

void cli_free(struct cli *c)
{
    free(c->names);
    settings_free(&c->flags);
}
