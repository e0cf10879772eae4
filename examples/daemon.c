/*
 * daemon: the library inside an event loop that the program also uses for its
 * own work. Here that work is a periodic timer that polls a mailbox (a session
 * with STAT, then QUIT) and the handling of SIGTERM and SIGINT; a real daemon
 * would have its listeners, timers and other clients on the same event_base.
 *
 *   cc -o daemon daemon.c example_common.c \
 *      $(pkg-config --cflags --libs libpop3async libevent_core)
 *   POP3_PASSWORD=... ./daemon --host pop.example.org --user alice \
 *      --password-env POP3_PASSWORD --interval 300
 *
 * Prints a line per poll: "poll 3: 12 messages, 3456789 octets, 2 new". New is
 * the growth of the message count since the previous poll (everything, on the
 * first): cheap, but fooled when messages are deleted and others arrive between
 * two polls; examples/uidl-sync.c shows the exact way, by UIDL.
 *
 * Why a new session per poll: a POP3 session sees the maildrop as it was at
 * login (RFC 1939 section 8 allows the server to lock it), so new mail shows up
 * only in a new session; and a connection kept open idle would be closed by the
 * server's autologout timer anyway (at least 10 minutes, RFC 1939 section 3).
 *
 * Shutdown on SIGTERM or SIGINT (signals become ordinary loop events through
 * evsignal, so the handler may call anything): stop the timer; a session that
 * is logged in gets QUIT (sent at once with PIPELINING, else after the pending
 * reply); one still connecting or logging in is just dropped. The loop exits
 * when that is done. A second signal drops the session at once. Exit 0.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <pop3async/pop3async.h>

#include "example_common.h"

struct daemon {
    struct ex_opts opts;
    char *password;
    long interval_s;
    struct event_base *base;
    struct event *timer, *on_term, *on_int;
    pop3a_client *client; /* while a poll runs */
    unsigned polls;       /* polls started */
    int64_t last_count;   /* messages at the last successful poll; -1: none yet */
    int logged_in, quit_sent;
    int stopping;
};

/* ------------------------------------------------------------- shutdown */

/* The poll is over or dropped: our own events go, and the loop is told to
 * exit. loopexit rather than loopbreak lets the callbacks already due run
 * first (libevent's finalizers for the freed client's connection among them). */
static void shutdown_done(struct daemon *d)
{
    event_del(d->timer);
    event_del(d->on_term);
    event_del(d->on_int);
    event_base_loopexit(d->base, NULL);
}

/* The poll's session is over: its client goes (allowed from inside the
 * client's own callbacks). Futures still pending (a signal dropped the session
 * in the middle) complete with POP3A_ERR_CLOSED, from inside this free: d->client
 * is cleared first so that their callbacks know the poll is gone (poll_gone).
 * When stopping, that was the last thing to wait for. */
static void end_poll(struct daemon *d)
{
    pop3a_client *c = d->client;
    d->client = NULL;
    pop3a_client_free(c);
    if (d->stopping)
        shutdown_done(d);
}

/* A callback for a client that end_poll has let go: nothing to do. */
static int poll_gone(const struct daemon *d, const pop3a_client *c)
{
    return c != d->client;
}

static void on_quit(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct daemon *d = arg;
    if (poll_gone(d, c))
        return;
    if (pop3a_future_status(fut) != POP3A_OK) /* STAT changed nothing: just log */
        ex_report_future(&d->opts, "QUIT", fut);
    end_poll(d);
}

static void send_quit(struct daemon *d)
{
    if (d->quit_sent)
        return;
    d->quit_sent = 1;
    if (!pop3a_quit(d->client, on_quit, d)) {
        ex_report_submit(&d->opts, "QUIT", d->client);
        end_poll(d);
    }
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct daemon *d = arg;
    (void)what;
    printf("%s: stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    event_del(d->timer); /* no new poll */
    if (d->client && d->logged_in && !d->stopping) {
        d->stopping = 1;
        send_quit(d); /* end_poll, on its answer, finishes the shutdown */
        return;
    }
    /* No session; or one not logged in yet, with nothing to say goodbye to; or
     * a second signal from a user who does not want to wait for QUIT. */
    d->stopping = 1;
    if (d->client)
        end_poll(d);
    else
        shutdown_done(d);
}

/* --------------------------------------------------------------- a poll */

static void on_stat(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct daemon *d = arg;
    uint32_t count;
    uint64_t octets;
    if (poll_gone(d, c))
        return;
    if (pop3a_future_stat(fut, &count, &octets) != 0) {
        ex_report_future(&d->opts, "STAT", fut);
    } else {
        int64_t fresh = d->last_count < 0 ? count
                        : count > d->last_count ? count - d->last_count : 0;
        printf("poll %u: %" PRIu32 " messages, %" PRIu64 " octets, %" PRId64 " new\n",
               d->polls, count, octets, fresh);
        d->last_count = count;
    }
    send_quit(d); /* a no-op when a signal sent it already */
}

static void on_login(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct daemon *d = arg;
    if (poll_gone(d, c))
        return;
    if (pop3a_future_status(fut) != POP3A_OK) {
        /* A daemon logs and tries again at the next poll. A real one would back
         * off on [AUTH] (RFC 3206) rather than retry a wrong password forever. */
        ex_report_future(&d->opts, "login", fut);
        end_poll(d);
        return;
    }
    d->logged_in = 1;
    if (!pop3a_stat(c, on_stat, d)) {
        ex_report_submit(&d->opts, "STAT", c);
        end_poll(d);
    }
}

static void on_connect(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct daemon *d = arg;
    if (poll_gone(d, c))
        return;
    if (pop3a_future_status(fut) != POP3A_OK) {
        ex_report(&d->opts, "connect", pop3a_status_name(pop3a_future_status(fut)),
                  pop3a_future_text(fut), pop3a_client_errstr(c));
        end_poll(d);
    } else if (!pop3a_login(c, d->opts.user, d->password, 0, on_login, d)) {
        ex_report_submit(&d->opts, "login", c);
        end_poll(d);
    }
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct daemon *d = arg;
    (void)fd;
    (void)what;
    if (d->client) { /* a slow server: never two sessions on one maildrop */
        fprintf(stderr, "daemon: poll %u still running, skipping this one\n", d->polls);
        return;
    }
    d->polls++;
    d->logged_in = d->quit_sent = 0;
    d->client = ex_client_new(d->base, &d->opts);
    if (d->client && !pop3a_connect(d->client, d->opts.host, (uint16_t)d->opts.port,
                                    on_connect, d)) {
        ex_report_submit(&d->opts, "connect", d->client);
        end_poll(d);
    }
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *to)
{
    fputs("usage: daemon OPTIONS [--interval SECONDS]\n", to);
    ex_usage_options(to);
    fputs("Polls the mailbox at once and then every SECONDS (default 300), printing\n"
          "\"poll N: C messages, B octets, K new\". SIGTERM or SIGINT: QUIT, exit 0.\n",
          to);
}

int main(int argc, char **argv)
{
    static struct daemon d = {.interval_s = 300, .last_count = -1};
    ex_opts_init(&d.opts, "daemon");
    for (int i = 1; i < argc; i++) {
        int rc = ex_parse_option(&d.opts, argc, argv, &i);
        if (rc < 0)
            return EX_EXIT_USAGE;
        if (rc == 1)
            continue;
        if (!strcmp(argv[i], "--help"))
            return usage(stdout), 0;
        if (!strcmp(argv[i], "--interval") && i + 1 < argc) {
            if (ex_parse_number(argv[++i], 86400, &d.interval_s) != 0)
                return fputs("daemon: --interval: bad value\n", stderr), EX_EXIT_USAGE;
        } else {
            fprintf(stderr, "daemon: %s: unknown option or missing value\n", argv[i]);
            return usage(stderr), EX_EXIT_USAGE;
        }
    }
    if (ex_check_options(&d.opts, 1) != 0)
        return usage(stderr), EX_EXIT_USAGE;
    if (!(d.password = ex_password(&d.opts)))
        return EX_EXIT_USAGE;
    signal(SIGPIPE, SIG_IGN); /* a server that hangs up must give EPIPE, not kill us */
    setvbuf(stdout, NULL, _IOLBF, 0); /* a log line as it happens, even into a pipe */

    int rc = EX_EXIT_FAIL;
    struct timeval every = {d.interval_s, 0};
    d.base = event_base_new();
    if (d.base) {
        d.timer = event_new(d.base, -1, EV_PERSIST, on_timer, &d);
        d.on_term = evsignal_new(d.base, SIGTERM, on_signal, &d);
        d.on_int = evsignal_new(d.base, SIGINT, on_signal, &d);
    }
    if (d.timer && d.on_term && d.on_int && event_add(d.timer, &every) == 0 &&
        event_add(d.on_term, NULL) == 0 && event_add(d.on_int, NULL) == 0) {
        on_timer(-1, EV_TIMEOUT, &d); /* the first poll now, not in SECONDS */
        /* Returns once shutdown_done has asked it to (or on an internal error). */
        rc = event_base_dispatch(d.base) == 0 && d.stopping ? 0 : EX_EXIT_FAIL;
    } else {
        fputs("daemon: cannot set up the event loop\n", stderr);
    }
    if (d.client) /* only after an internal error of the loop */
        ex_client_free(d.base, d.client);
    if (d.timer)
        event_free(d.timer);
    if (d.on_term)
        event_free(d.on_term);
    if (d.on_int)
        event_free(d.on_int);
    if (d.base)
        event_base_free(d.base);
    ex_password_free(d.password);
    return rc;
}
