/* The scheduler (run.h). */
#include "run.h"

#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include <event2/event.h>

#include "account.h"
#include "exitcode.h"
#include "progress.h"

struct run {
    struct event_base *base;
    const struct globals *g;
    struct account **accounts;
    size_t n, next, running, finished;
    int worst;
};

static void start_more(struct run *r);

static void on_account_done(struct account *a, void *arg)
{
    struct run *r = arg;
    char line[2048];
    int code = account_exit(a);
    account_summary(a, line, sizeof line);
    /* Success on stdout (not with --quiet); failures always, on stderr. */
    if (code != 0)
        say(1, "%s\n", line);
    else if (!r->g->quiet)
        say(0, "%s\n", line);
    r->worst = exit_worse(r->worst, code);
    r->running--;
    r->finished++;
    start_more(r);
    if (r->finished == r->n)
        event_base_loopbreak(r->base);
}

static void start_more(struct run *r)
{
    while (r->next < r->n && r->running < (size_t)r->g->jobs) {
        r->running++;
        account_start(r->accounts[r->next++]);
    }
}

int run_accounts(const struct settings *settings, size_t n, const struct globals *g)
{
    struct run r = {.g = g, .n = n};
    r.base = event_base_new();
    r.accounts = calloc(n ? n : 1, sizeof *r.accounts);
    if (!r.base || !r.accounts) {
        fputs("pop3fetch: cannot set up the event loop (out of memory?)\n", stderr);
        free(r.accounts);
        if (r.base)
            event_base_free(r.base);
        return EX_OSERR;
    }
    for (size_t i = 0; i < n; i++)
        if (!(r.accounts[i] = account_new(r.base, &settings[i], g, on_account_done, &r))) {
            fputs("pop3fetch: out of memory\n", stderr);
            r.worst = EX_OSERR;
            r.n = i;
            break;
        }
    progress_start(r.base, r.accounts, r.n, !g->quiet);
    if (r.n > 0) {
        start_more(&r);
        if (r.finished < r.n)
            event_base_dispatch(r.base);
    }
    progress_stop();
    for (size_t i = 0; i < r.n; i++)
        account_free(r.accounts[i]);
    /* libevent frees a TLS filter's socket bufferevent from the loop (a
     * finalizer): one more turn lets it go before event_base_free. */
    event_base_loop(r.base, EVLOOP_NONBLOCK);
    event_base_free(r.base);
    free(r.accounts);
    return r.worst;
}
