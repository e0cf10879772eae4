/*
 * The fixture of the scripted server's own tests: see
 * test_script_server_fixture.h.
 */
#include "test_script_server_fixture.h"

#include <check.h>
#include <signal.h>
#include <string.h>

static void peer_read(struct bufferevent *bev, void *arg)
{
    peer *p = arg;
    p->reads++;
    evbuffer_add_buffer(p->got, bufferevent_get_input(bev));
}

static void peer_event(struct bufferevent *bev, short what, void *arg)
{
    peer *p = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        p->eof = 1;
}

void fx_init(fixture *f)
{
    signal(SIGPIPE, SIG_IGN);
    memset(f, 0, sizeof *f);
    f->base = event_base_new();
    ck_assert_ptr_nonnull(f->base);
    f->srv = p3s_new(f->base);
    ck_assert_ptr_nonnull(f->srv);
    f->p.got = evbuffer_new();
}

void fx_attach(fixture *f, struct bufferevent *bev)
{
    ck_assert_ptr_nonnull(bev);
    f->bev = bev;
    bufferevent_setcb(bev, peer_read, NULL, peer_event, &f->p);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

void fx_free(fixture *f)
{
    if (f->bev)
        bufferevent_free(f->bev);
    p3s_free(f->srv);
    evbuffer_free(f->p.got);
    event_base_free(f->base);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    *(int *)arg = 1;
}

/* Runs the loop until the script is done or failed, or ms passed. */
void fx_run(fixture *f, unsigned ms)
{
    int expired = 0;
    struct event *t = evtimer_new(f->base, on_deadline, &expired);
    struct timeval tv = {0, (suseconds_t)ms * 1000};
    evtimer_add(t, &tv);
    while (!expired && !p3s_done(f->srv) && !p3s_error(f->srv))
        event_base_loop(f->base, EVLOOP_ONCE);
    event_free(t);
}

void fx_run_for(fixture *f, unsigned ms)
{
    int expired = 0;
    struct event *t = evtimer_new(f->base, on_deadline, &expired);
    struct timeval tv = {0, (suseconds_t)ms * 1000};
    evtimer_add(t, &tv);
    while (!expired)
        event_base_loop(f->base, EVLOOP_ONCE);
    event_free(t);
}

int got_equals(const peer *p, const char *want)
{
    size_t n = evbuffer_get_length(p->got);
    const char *data = (const char *)evbuffer_pullup(p->got, -1);
    return n == strlen(want) && (n == 0 || memcmp(data, want, n) == 0);
}
