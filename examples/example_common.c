/* What the examples share (example_common.h). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* fstat, O_CLOEXEC under -std=c11 */
#endif

#include "example_common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

void ex_opts_init(struct ex_opts *o, const char *prog)
{
    *o = (struct ex_opts){.prog = prog, .port = -1, .tls = POP3A_TLS_IMPLICIT};
}

int ex_parse_number(const char *s, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_tls(struct ex_opts *o, const char *v)
{
    if (!strcmp(v, "none"))
        o->tls = POP3A_TLS_NONE;
    else if (!strcmp(v, "stls"))
        o->tls = POP3A_TLS_STLS;
    else if (!strcmp(v, "implicit"))
        o->tls = POP3A_TLS_IMPLICIT;
    else
        return -1;
    return 0;
}

int ex_parse_option(struct ex_opts *o, int argc, char **argv, int *i)
{
    enum kind { TEXT, PORT, TLS, TIMEOUT };
    const struct { const char *name; enum kind kind; const char **text; } table[] = {
        {"--host", TEXT, &o->host}, {"--user", TEXT, &o->user},
        {"--password-env", TEXT, &o->password_env},
        {"--password-file", TEXT, &o->password_file}, {"--ca-file", TEXT, &o->ca_file},
        {"--port", PORT, NULL}, {"--tls", TLS, NULL}, {"--timeout", TIMEOUT, NULL}};
    const size_t n = sizeof table / sizeof table[0];
    const char *name = argv[*i];
    size_t k = 0;
    if (!strcmp(name, "--allow-cleartext")) {
        o->allow_cleartext = 1;
        return 1;
    }
    while (k < n && strcmp(name, table[k].name) != 0)
        k++;
    if (k == n)
        return 0;
    if (*i + 1 == argc) {
        fprintf(stderr, "%s: %s: missing value\n", o->prog, name);
        return -1;
    }
    const char *v = argv[++*i];
    int bad = 0;
    switch (table[k].kind) {
    case TEXT:
        *table[k].text = v;
        break;
    case PORT:
        bad = ex_parse_number(v, 65535, &o->port);
        break;
    case TLS:
        bad = parse_tls(o, v);
        break;
    case TIMEOUT: /* given to the library in ms: 4,000,000 s still fits 32 bits */
        bad = ex_parse_number(v, 4000000, &o->timeout_s);
        break;
    }
    if (bad) {
        fprintf(stderr, "%s: %s: bad value \"%s\"\n", o->prog, name, v);
        return -1;
    }
    return 1;
}

int ex_check_options(struct ex_opts *o, int need_account)
{
    if (o->port < 0)
        o->port = o->tls == POP3A_TLS_IMPLICIT ? 995 : 110;
    if (!need_account)
        return 0;
    if (!o->host || !o->user || !o->password_env == !o->password_file) {
        fprintf(stderr, "%s: --host, --user and one of --password-env or --password-file "
                        "are required\n", o->prog);
        return -1;
    }
    return 0;
}

void ex_warn_if_shared(const struct ex_opts *o, const char *path, int fd)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && (st.st_mode & 077))
        fprintf(stderr, "%s: warning: %s can be read by other users\n", o->prog, path);
}

/* The first line of a file: passwords kept in files (mode 0600) rather than on
 * the command line. */
static char *password_from_file(const struct ex_opts *o, const char *path)
{
    char buf[1024];
    ssize_t got = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ex_warn_if_shared(o, path, fd);
        got = read(fd, buf, sizeof buf - 1);
    }
    int err = errno;
    if (fd >= 0)
        close(fd);
    if (got < 0) {
        fprintf(stderr, "%s: --password-file %s: %s\n", o->prog, path, strerror(err));
        return NULL;
    }
    buf[got] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    char *copy = buf[0] ? strdup(buf) : NULL;
    if (!buf[0])
        fprintf(stderr, "%s: --password-file %s: empty\n", o->prog, path);
    for (volatile char *p = buf; p < buf + sizeof buf; p++) /* wipe the stack copy */
        *p = '\0';
    return copy;
}

char *ex_password(const struct ex_opts *o)
{
    if (o->password_file)
        return password_from_file(o, o->password_file);
    const char *p = getenv(o->password_env);
    if (!p || !p[0]) {
        fprintf(stderr, "%s: --password-env %s: variable not set or empty\n", o->prog,
                o->password_env);
        return NULL;
    }
    return strdup(p);
}

void ex_password_free(char *password)
{
    if (!password)
        return;
    /* volatile: a memset before free may otherwise be optimised away */
    for (volatile char *p = password; *p; p++)
        *p = '\0';
    free(password);
}

pop3a_client *ex_client_new(struct event_base *base, const struct ex_opts *o)
{
    pop3a_options *opts = pop3a_options_new();
    pop3a_client *client = NULL;
    uint32_t ms = (uint32_t)o->timeout_s * 1000u; /* 0 keeps the library default */
    if (opts && pop3a_options_set_tls(opts, o->tls, NULL) == 0 &&
        (!o->ca_file || pop3a_options_set_ca(opts, o->ca_file, NULL) == 0) &&
        pop3a_options_allow_cleartext(opts, o->allow_cleartext) == 0 &&
        pop3a_options_set_timeouts(opts, ms, ms) == 0)
        client = pop3a_client_new(base, NULL, opts);
    pop3a_options_free(opts);
    if (!client)
        fprintf(stderr, "%s: cannot set up the client (out of memory, or --ca-file?)\n",
                o->prog);
    return client;
}

void ex_client_free(struct event_base *base, pop3a_client *client)
{
    pop3a_client_free(client);
    if (base)
        event_base_loop(base, EVLOOP_NONBLOCK);
}

void ex_report(const struct ex_opts *o, const char *what, const char *status, const char *text,
               const char *detail)
{
    fprintf(stderr, "%s: %s: %s%s%s", o->prog, what, status, text[0] ? " " : "", text);
    if (detail && detail[0] && strcmp(detail, text) != 0)
        fprintf(stderr, " (%s)", detail);
    fputc('\n', stderr);
}

void ex_report_future(const struct ex_opts *o, const char *what, const pop3a_future *fut)
{
    ex_report(o, what, pop3a_status_name(pop3a_future_status(fut)), pop3a_future_text(fut),
              NULL);
}

void ex_report_submit(const struct ex_opts *o, const char *what, const pop3a_client *client)
{
    ex_report(o, what, pop3a_status_name(pop3a_client_error(client)),
              pop3a_client_errstr(client), NULL);
}

void ex_usage_options(FILE *to)
{
    fputs("  --host H --user U (--password-env VAR | --password-file F)\n"
          "  [--port P] [--tls none|stls|implicit] [--ca-file F] [--allow-cleartext]\n"
          "  [--timeout SECONDS]\n"
          "--tls defaults to implicit (port 995; 110 otherwise). The password is the\n"
          "variable's value or the file's first line, never an argument.\n",
          to);
}
