/* See bench_serve.h. */
#include "bench_serve.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

int bench_serve_loopback(struct event_base *base, const char *name, evconnlistener_cb accept_cb,
                         void *arg, int backlog)
{
    struct sockaddr_in any = {.sin_family = AF_INET}, bound;
    socklen_t bound_len = sizeof bound;
    any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    signal(SIGPIPE, SIG_IGN); /* a peer that hangs up must not kill the server */
    struct evconnlistener *l =
        base ? evconnlistener_new_bind(base, accept_cb, arg,
                                       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, backlog,
                                       (struct sockaddr *)&any, sizeof any)
             : NULL;
    if (!l || getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&bound, &bound_len)) {
        fprintf(stderr, "%s: cannot listen: %s\n", name, strerror(errno));
        if (l)
            evconnlistener_free(l);
        return 1;
    }
    struct event *term = evsignal_new(base, SIGTERM, on_signal, base);
    struct event *intr = evsignal_new(base, SIGINT, on_signal, base);
    int rc = 1;
    if (!term || !intr || evsignal_add(term, NULL) != 0 || evsignal_add(intr, NULL) != 0) {
        fprintf(stderr, "%s: cannot watch signals\n", name);
    } else {
        printf("port %u\n", ntohs(bound.sin_port));
        fflush(stdout);
        event_base_dispatch(base);
        rc = 0;
    }
    if (term)
        event_free(term);
    if (intr)
        event_free(intr);
    evconnlistener_free(l);
    return rc;
}
