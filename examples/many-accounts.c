/*
 * many-accounts: STAT many POP3 accounts at the same time, on one thread and one
 * event loop, and print one line per account as each one finishes.
 *
 *   cc -o many-accounts many-accounts.c example_common.c \
 *      $(pkg-config --cflags --libs libpop3async libevent_core)
 *   ./many-accounts --accounts ~/.pop3-accounts [--parallel 16] [--tls stls] ...
 *
 * The accounts file (mode 0600: it holds passwords) has one account a line:
 *
 *   # host             port  user   password (the rest of the line)
 *   pop.example.org    995   alice  correct horse battery staple
 *
 * Each account gets its own pop3a_client; all of them share the event_base, so
 * while one waits for its server the others run. No threads and no locks: every
 * callback runs on this thread, from event_base_dispatch. At most --parallel
 * sessions are open at once (a bound on sockets and memory); each one that ends
 * starts the next account in the file.
 *
 * Output, in the order the accounts finish:
 *   alice@pop.example.org:995: 12 messages, 3456789 octets
 *   bob@pop.example.org:995: login: POP3A_ERR_AUTH [AUTH] invalid credentials
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* strtok_r, getline, fdopen under -std=c11 */
#endif

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <pop3async/pop3async.h>

#include "example_common.h"

#define MAX_ACCOUNTS 10000
#define DEFAULT_PARALLEL 16

struct pool;

struct account {
    char *host, *user, *password;
    uint16_t port;
    struct pool *pool;
    pop3a_client *client; /* while its session runs */
};

struct pool {
    struct ex_opts opts; /* TLS, CA, cleartext and timeouts, for every account */
    struct event_base *base;
    struct account *acc;
    size_t n, next_to_start, running, ended;
    long parallel;
    int failures;
};

/* ---------------------------------------------------------- the sessions */

static void start_next(struct pool *p);

/* One line per account: "user@host:port: " and what became of it. */
static void report(const struct account *a, const char *what, const char *status,
                   const char *text)
{
    printf("%s@%s:%u: %s%s%s%s%s\n", a->user, a->host, (unsigned)a->port, what,
           status ? ": " : "", status ? status : "", text[0] ? " " : "", text);
}

static void report_future(const struct account *a, const char *what, const pop3a_future *fut)
{
    report(a, what, pop3a_status_name(pop3a_future_status(fut)), pop3a_future_text(fut));
}

/* A submit that returned NULL: it never calls back. */
static void report_submit(const struct account *a, const char *what, const pop3a_client *c)
{
    report(a, what, pop3a_status_name(pop3a_client_error(c)), pop3a_client_errstr(c));
}

/* The account's session is over, however it went: free its client (allowed from
 * inside its own callbacks: the library tears down once the callback returns)
 * and start the next account. Called from the done callback of the account's
 * only pending future, so the free completes no other future (each of which
 * would call back, and end the account twice). */
static void end(struct account *a, int failed)
{
    struct pool *p = a->pool;
    pop3a_client *c = a->client;
    p->failures += failed;
    a->client = NULL;
    pop3a_client_free(c);
    p->running--;
    p->ended++;
    if (p->ended == p->n)
        event_base_loopbreak(p->base);
    else
        start_next(p);
}

static void on_quit(pop3a_client *c, pop3a_future *fut, void *arg)
{
    (void)c;
    (void)fut;
    /* The line is printed already (at STAT). STAT changes nothing on the
     * server, so even a failed QUIT loses nothing: the account is done. */
    end(arg, 0);
}

static void on_stat(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct account *a = arg;
    uint32_t count;
    uint64_t octets;
    char line[96];
    if (pop3a_future_stat(fut, &count, &octets) != 0) {
        report_future(a, "STAT", fut);
        end(a, 1);
        return;
    }
    snprintf(line, sizeof line, "%" PRIu32 " messages, %" PRIu64 " octets", count, octets);
    report(a, line, NULL, "");
    if (!pop3a_quit(c, on_quit, a))
        end(a, 0);
}

static void on_login(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct account *a = arg;
    if (pop3a_future_status(fut) != POP3A_OK) {
        report_future(a, "login", fut);
        end(a, 1);
    } else if (!pop3a_stat(c, on_stat, a)) {
        report_submit(a, "STAT", c);
        end(a, 1);
    }
}

static void on_connect(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct account *a = arg;
    if (pop3a_future_status(fut) != POP3A_OK) {
        report_future(a, "connect", fut);
        end(a, 1);
    } else if (!pop3a_login(c, a->user, a->password, 0, on_login, a)) {
        report_submit(a, "login", c);
        end(a, 1);
    }
}

/* Starts accounts until --parallel sessions run or none is left. A session
 * that cannot even start ends at once (its line says why). */
static void start_next(struct pool *p)
{
    while (p->running < (size_t)p->parallel && p->next_to_start < p->n) {
        struct account *a = &p->acc[p->next_to_start++];
        p->running++;
        a->client = ex_client_new(p->base, &p->opts);
        if (!a->client) {
            report(a, "cannot set up a client", NULL, "");
            end(a, 1);
        } else if (!pop3a_connect(a->client, a->host, a->port, on_connect, a)) {
            report_submit(a, "connect", a->client);
            end(a, 1);
        }
    }
}

/* --------------------------------------------------------- accounts file */

/* One "host port user password" line into a; 0, or -1 for a malformed line. */
static int parse_account(char *line, struct account *a)
{
    char *save, *host, *port, *user, *rest;
    long port_no;
    line[strcspn(line, "\r\n")] = '\0';
    host = strtok_r(line, " \t", &save);
    port = strtok_r(NULL, " \t", &save);
    user = strtok_r(NULL, " \t", &save);
    rest = strtok_r(NULL, "", &save); /* the password: the rest, spaces and all */
    if (rest)
        rest += strspn(rest, " \t");
    if (!host || !port || !user || !rest || !rest[0] ||
        ex_parse_number(port, 65535, &port_no) != 0)
        return -1;
    *a = (struct account){.host = strdup(host), .user = strdup(user),
                          .password = strdup(rest), .port = (uint16_t)port_no};
    return a->host && a->user && a->password ? 0 : -1;
}

static int read_accounts(struct pool *p, const char *path)
{
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    int rc = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (!f) {
        fprintf(stderr, "many-accounts: %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    ex_warn_if_shared(&p->opts, path, fd);
    p->acc = calloc(MAX_ACCOUNTS, sizeof *p->acc);
    while (rc == 0 && p->acc && getline(&line, &cap, f) > 0) {
        lineno++;
        char *t = line + strspn(line, " \t");
        if (*t == '#' || *t == '\n' || *t == '\r' || *t == '\0')
            continue;
        if (p->n == MAX_ACCOUNTS || parse_account(t, &p->acc[p->n]) != 0) {
            /* Never echo the line: it holds a password. */
            fprintf(stderr, "many-accounts: %s line %u: want \"host port user password\"\n",
                    path, lineno);
            rc = -1;
        } else {
            p->acc[p->n++].pool = p;
        }
    }
    if (line) /* wipe the last line read: it may hold a password */
        memset(line, 0, cap);
    free(line);
    fclose(f);
    if (rc == 0 && p->n == 0)
        fprintf(stderr, "many-accounts: %s: no accounts\n", path);
    return rc == 0 && p->acc && p->n > 0 ? 0 : -1;
}

static void free_accounts(struct pool *p)
{
    for (size_t i = 0; p->acc && i < p->n; i++) {
        free(p->acc[i].host);
        free(p->acc[i].user);
        ex_password_free(p->acc[i].password);
    }
    free(p->acc);
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *to)
{
    fputs("usage: many-accounts --accounts FILE [--parallel N] [--tls none|stls|implicit]\n"
          "                     [--ca-file F] [--allow-cleartext] [--timeout SECONDS]\n"
          "FILE has one account a line: \"host port user password\" (# comments).\n"
          "Prints \"user@host:port: N messages, B octets\" or the error, one line per\n"
          "account as each finishes. Exit status: 0 all answered, 1 any failed, 2 usage.\n",
          to);
}

int main(int argc, char **argv)
{
    static struct pool p;
    const char *accounts = NULL;
    ex_opts_init(&p.opts, "many-accounts");
    p.parallel = DEFAULT_PARALLEL;
    for (int i = 1; i < argc; i++) {
        int rc = ex_parse_option(&p.opts, argc, argv, &i);
        if (rc < 0)
            return EX_EXIT_USAGE;
        if (rc == 1)
            continue;
        if (!strcmp(argv[i], "--help"))
            return usage(stdout), 0;
        if (!strcmp(argv[i], "--accounts") && i + 1 < argc) {
            accounts = argv[++i];
        } else if (!strcmp(argv[i], "--parallel") && i + 1 < argc) {
            if (ex_parse_number(argv[++i], 1000, &p.parallel) != 0)
                return fputs("many-accounts: --parallel: bad value\n", stderr), EX_EXIT_USAGE;
        } else {
            fprintf(stderr, "many-accounts: %s: unknown option or missing value\n", argv[i]);
            return usage(stderr), EX_EXIT_USAGE;
        }
    }
    if (!accounts)
        return usage(stderr), EX_EXIT_USAGE;
    /* Each account's port comes from the file; the global option only sets TLS. */
    ex_check_options(&p.opts, 0);
    if (read_accounts(&p, accounts) != 0) {
        free_accounts(&p);
        return EX_EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN); /* a server that hangs up must give EPIPE, not kill us */
    /* Each line as its account finishes, even into a pipe. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    p.base = event_base_new();
    if (!p.base) {
        fputs("many-accounts: cannot set up the event loop\n", stderr);
        free_accounts(&p);
        return EX_EXIT_FAIL;
    }
    start_next(&p);
    if (p.ended < p.n)
        event_base_dispatch(p.base);
    if (p.ended < p.n) { /* the loop ran dry with sessions pending: a bug */
        fputs("many-accounts: event loop ended early\n", stderr);
        p.failures++;
    }
    event_base_loop(p.base, EVLOOP_NONBLOCK); /* finalizers of the freed clients */
    event_base_free(p.base);
    free_accounts(&p);
    return p.failures ? EX_EXIT_FAIL : 0;
}
