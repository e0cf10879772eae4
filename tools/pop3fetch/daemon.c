/* The daemon (daemon.h). */
#include "daemon.h"

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "account.h"
#include "accounts.h"
#include "progress.h"

#define BACKOFF_FIRST_S 60L /* the first retry after a failure, unless poll is sooner */

struct daemon;

/* One account of the config, polled for as long as the config names it. */
struct slot {
    struct daemon *d;
    struct slot *next_slot;
    struct settings s;       /* what its sessions use (account_new keeps a pointer) */
    struct settings pending; /* a reload's settings, taken after the session */
    int has_pending;
    struct event *timer;   /* the next poll */
    struct account *acct;  /* the running session, or NULL */
    unsigned failures;     /* temporary failures in a row */
    int due;               /* its poll time came; waits for a free job */
    int removed;           /* gone from the config: freed after its session */
};

struct daemon {
    struct event_base *base;
    struct cli *c;
    struct slot *slots;
    size_t running;
    int stopping;
    struct event *sig[3]; /* SIGHUP, SIGTERM, SIGINT */
    unsigned seed;
};

long long daemon_next_poll_ms(long poll_s, unsigned failures, long long login_delay_s,
                              unsigned jitter)
{
    long long poll = poll_s > 0 ? poll_s : POLL_DEFAULT_S, ms;
    if (failures == 0) {
        ms = poll * 1000;
    } else {
        long long cap = poll > BACKOFF_CAP_S ? poll : BACKOFF_CAP_S;
        long long s = poll < BACKOFF_FIRST_S ? poll : BACKOFF_FIRST_S;
        for (unsigned k = 1; k < failures && s < cap; k++)
            s *= 2;
        ms = (s < cap ? s : cap) * 1000;
        ms += (long long)(jitter % (unsigned)(ms / 10 + 1));
    }
    /* RFC 2449 section 6.5: a login sooner than LOGIN-DELAY is refused. */
    if (login_delay_s > 0 && ms < login_delay_s * 1000)
        ms = login_delay_s * 1000;
    return ms;
}

static void slot_free(struct slot *sl)
{
    if (sl->timer)
        event_free(sl->timer);
    account_free(sl->acct);
    settings_free(&sl->s);
    if (sl->has_pending)
        settings_free(&sl->pending);
    free(sl);
}

static void unlink_slot(struct daemon *d, struct slot *sl)
{
    for (struct slot **p = &d->slots; *p; p = &(*p)->next_slot)
        if (*p == sl) {
            *p = sl->next_slot;
            return;
        }
}

static void on_session_done(struct account *a, void *arg);

/* Starts the sessions whose poll time came, at most --jobs at once. */
static void start_due(struct daemon *d)
{
    for (struct slot *sl = d->slots; sl && !d->stopping; sl = sl->next_slot) {
        if (d->running >= (size_t)d->c->g.jobs)
            return;
        if (!sl->due || sl->acct || sl->removed)
            continue;
        sl->due = 0;
        sl->acct = account_new(d->base, &sl->s, &d->c->g, on_session_done, sl);
        if (!sl->acct) {
            say(1, "pop3fetch: %s: out of memory; trying again at the next poll\n", sl->s.name);
            continue;
        }
        d->running++;
        account_start(sl->acct);
    }
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct slot *sl = arg;
    (void)fd;
    (void)what;
    sl->due = 1;
    start_due(sl->d);
}

static void schedule(struct slot *sl, long long login_delay_s)
{
    long long ms = daemon_next_poll_ms(sl->s.poll_s, sl->failures, login_delay_s,
                                       (unsigned)rand_r(&sl->d->seed));
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    if (sl->d->c->g.verbose)
        say(1, "pop3fetch: %s: next poll in %.1f s\n", sl->s.name, (double)ms / 1000);
    evtimer_add(sl->timer, &tv);
}

static void on_session_done(struct account *a, void *arg)
{
    struct slot *sl = arg;
    struct daemon *d = sl->d;
    char line[2048];
    int code = account_exit(a);
    long long login_delay = account_login_delay(a);
    account_summary(a, line, sizeof line);
    /* A daemon logs (stderr or syslog); failures even with --quiet. */
    if (code != 0 || !d->c->g.quiet)
        say(1, "%s\n", line);
    account_free(a);
    sl->acct = NULL;
    d->running--;
    sl->failures = code == EX_TEMPFAIL ? sl->failures + 1 : 0;
    if (sl->has_pending) { /* a reload changed it while it ran */
        settings_free(&sl->s);
        sl->s = sl->pending;
        sl->has_pending = 0;
    }
    if (sl->removed) {
        unlink_slot(d, sl);
        slot_free(sl);
    } else if (!d->stopping) {
        schedule(sl, login_delay);
    }
    if (d->stopping && d->running == 0)
        event_base_loopbreak(d->base);
    start_due(d);
}

/* A slot for `s` (moved in), due at once. NULL out of memory. */
static struct slot *slot_add(struct daemon *d, struct settings *s)
{
    struct slot *sl = calloc(1, sizeof *sl);
    if (!sl || !(sl->timer = evtimer_new(d->base, on_timer, sl))) {
        free(sl);
        return NULL;
    }
    sl->d = d;
    sl->s = *s;
    settings_init(s);
    sl->due = 1;
    struct slot **tail = &d->slots;
    while (*tail)
        tail = &(*tail)->next_slot;
    *tail = sl;
    return sl;
}

/* Any slot of that name, also one removed by an earlier reload whose
 * session still runs (so a name put back never runs twice at once). */
static struct slot *slot_named(struct daemon *d, const char *name)
{
    for (struct slot *sl = d->slots; sl; sl = sl->next_slot)
        if (strcmp(sl->s.name, name) == 0)
            return sl;
    return NULL;
}

/*
 * SIGHUP: the config again. Running sessions go on with what they have; a
 * new account starts now, a removed one stops after its session, a changed
 * one takes the change at its next poll. A broken config changes nothing.
 */
static void reload(struct daemon *d)
{
    struct settings *list = NULL;
    size_t n = 0, added = 0, removed = 0;
    if (d->c->has_host) {
        say(1, "pop3fetch: SIGHUP: the account comes from the command line; nothing to reload\n");
        return;
    }
    int rc = accounts_load(d->c, &list, &n);
    if (rc != 0) {
        say(1, "pop3fetch: SIGHUP: the config is not valid (above); keeping the old one\n");
        accounts_free(list, n);
        return;
    }
    for (struct slot *sl = d->slots, *next; sl; sl = next) {
        next = sl->next_slot;
        size_t k = 0;
        while (k < n && !(list[k].name && strcmp(list[k].name, sl->s.name) == 0))
            k++;
        if (k < n || sl->removed)
            continue;
        removed++;
        sl->removed = 1;
        if (!sl->acct) {
            unlink_slot(d, sl);
            slot_free(sl);
        }
    }
    for (size_t k = 0; k < n; k++) {
        struct slot *sl = slot_named(d, list[k].name);
        if (!sl) {
            added += slot_add(d, &list[k]) != NULL;
        } else if (sl->acct) {
            sl->removed = 0; /* put back before its last session ended? */
            if (sl->has_pending)
                settings_free(&sl->pending);
            sl->pending = list[k];
            sl->has_pending = 1;
            settings_init(&list[k]);
        } else {
            settings_free(&sl->s);
            sl->s = list[k];
            settings_init(&list[k]);
        }
    }
    accounts_free(list, n);
    say(1, "pop3fetch: SIGHUP: config reloaded: %zu accounts, %zu new, %zu removed\n", n, added,
        removed);
    start_due(d);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct daemon *d = arg;
    (void)what;
    if (sig == SIGHUP) {
        if (!d->stopping)
            reload(d);
        return;
    }
    if (d->stopping)
        return;
    d->stopping = 1;
    say(1, "pop3fetch: %s: stopping (%zu sessions running)\n",
        sig == SIGTERM ? "SIGTERM" : "SIGINT", d->running);
    for (struct slot *sl = d->slots; sl; sl = sl->next_slot) {
        evtimer_del(sl->timer);
        if (sl->acct)
            account_stop(sl->acct);
    }
    if (d->running == 0)
        event_base_loopbreak(d->base);
}

static int add_signals(struct daemon *d)
{
    static const int sigs[3] = {SIGHUP, SIGTERM, SIGINT};
    for (int i = 0; i < 3; i++)
        if (!(d->sig[i] = evsignal_new(d->base, sigs[i], on_signal, d)) ||
            evsignal_add(d->sig[i], NULL) != 0)
            return -1;
    return 0;
}

int daemon_run(struct cli *c, struct settings *list, size_t n)
{
    struct daemon d = {.c = c, .seed = (unsigned)getpid() ^ (unsigned)time(NULL)};
    int rc = 0;
    if (!(d.base = event_base_new()) || add_signals(&d) != 0) {
        fputs("pop3fetch: cannot set up the event loop (out of memory?)\n", stderr);
        rc = EX_OSERR;
    }
    for (size_t i = 0; i < n && rc == 0; i++)
        if (!slot_add(&d, &list[i])) {
            fputs("pop3fetch: out of memory\n", stderr);
            rc = EX_OSERR;
        }
    accounts_free(list, n);
    if (rc == 0) {
        say(1, "pop3fetch: daemon started: %zu accounts, pid %ld\n", n, (long)getpid());
        start_due(&d);
        event_base_dispatch(d.base);
        say(1, "pop3fetch: stopped\n");
    }
    while (d.slots) {
        struct slot *sl = d.slots;
        d.slots = sl->next_slot;
        slot_free(sl);
    }
    for (int i = 0; i < 3; i++)
        if (d.sig[i])
            event_free(d.sig[i]);
    if (d.base) {
        /* as in run.c: TLS filters are freed from the loop (a finalizer) */
        event_base_loop(d.base, EVLOOP_NONBLOCK);
        event_base_free(d.base);
    }
    return rc;
}
