/*
 * retr-to-file: stream one message (RETR) into a file, a pipe or stdout, with
 * backpressure: when the writer falls behind, the chunk callback returns
 * POP3A_CHUNK_PAUSE and the library stops reading the socket (the server then
 * stops sending: TCP flow control) until pop3a_future_resume. Memory stays
 * bounded by HIGH_WATER plus one chunk, however big the message and however
 * slow the disk or the reader of the pipe.
 *
 *   cc -o retr-to-file retr-to-file.c example_common.c \
 *      $(pkg-config --cflags --libs libpop3async libevent_core)
 *   POP3_PASSWORD=... ./retr-to-file --host pop.example.org --user alice \
 *      --password-env POP3_PASSWORD --msg 1 --out - | formail -s procmail
 *
 * The writes are driven by the same event loop as the POP3 session:
 *  - a pipe, socket or terminal is made non-blocking and written when libevent
 *    says it is writable (EV_WRITE), so a slow reader pauses the download;
 *  - a regular file cannot be polled (it is always "ready"), so its writes are
 *    deferred events: one slice of at most WRITE_SLICE octets per loop turn,
 *    leaving the loop free for the socket and timers in between.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* fsync, fcntl under -std=c11 */
#endif

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <pop3async/pop3async.h>

#include "example_common.h"

#define HIGH_WATER (64u * 1024u)  /* pending octets at which the RETR is paused */
#define LOW_WATER (16u * 1024u)   /* ...and resumed, once the writer is below this */
#define WRITE_SLICE (64u * 1024u) /* most octets written per loop turn */

/* Octets received but not yet written, and what writes them. */
struct writer {
    int fd;
    int is_stream;     /* pipe, socket, tty: EV_WRITE; a regular file: deferred */
    int old_flags;     /* the fd's flags before O_NONBLOCK, restored at the end */
    int scheduled;     /* the write event is added (stream) or made active (file) */
    struct evbuffer *pending;
    struct event *ev;
    pop3a_future *paused; /* the RETR we paused; valid until its done callback */
    unsigned pauses;
    uint64_t written;
};

struct job {
    struct ex_opts opts;
    char *password;
    const char *out; /* the path, or "-" */
    long msg;
    struct event_base *base;
    struct writer w;
    int retr_ok;   /* the RETR completed: every chunk is in w.pending or written */
    int quit_done; /* QUIT answered: the server is done with us */
    int finished, failed;
};

/* --------------------------------------------------------------- the end */

static void stop(struct job *j, int failed)
{
    j->failed |= failed;
    j->finished = 1;
    event_base_loopbreak(j->base);
}

/* Success needs all three: the whole body received, every octet of it written,
 * and QUIT answered. Whichever comes last ends the run. */
static void maybe_done(struct job *j)
{
    if (j->finished || !j->retr_ok || !j->quit_done || evbuffer_get_length(j->w.pending) > 0)
        return;
    /* On a file, "written" means on disk: the data reached the kernel, fsync
     * makes it durable. A pipe or tty cannot be synced (EINVAL): nothing to do. */
    if (!j->w.is_stream && fsync(j->w.fd) != 0) {
        fprintf(stderr, "retr-to-file: fsync %s: %s\n", j->out, strerror(errno));
        stop(j, 1);
        return;
    }
    fprintf(stderr, "retr-to-file: message %ld: %" PRIu64 " octets written, paused %u times\n",
            j->msg, j->w.written, j->w.pauses);
    stop(j, 0);
}

/* ------------------------------------------------------------ the writer */

static void writer_schedule(struct writer *w)
{
    if (w->scheduled)
        return;
    w->scheduled = 1;
    if (w->is_stream)
        event_add(w->ev, NULL);        /* called back once the fd can take more */
    else
        event_active(w->ev, EV_WRITE, 0); /* called back on this loop turn's end */
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    struct job *j = arg;
    struct writer *w = &j->w;
    (void)what;
    (void)fd;
    int n = evbuffer_write_atmost(w->pending, w->fd, WRITE_SLICE);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        fprintf(stderr, "retr-to-file: write %s: %s\n", j->out, strerror(errno));
        stop(j, 1); /* main drops the connection: the RETR's reply goes unread */
        return;
    }
    if (n > 0)
        w->written += (uint64_t)n;
    size_t left = evbuffer_get_length(w->pending);
    /* Resume well below the mark that paused, not at once, or every chunk would
     * pause and resume again. Resuming may deliver chunks right here (they are
     * appended to pending), and one of them may pause again: clear first. */
    if (w->paused && left < LOW_WATER) {
        pop3a_future *fut = w->paused;
        w->paused = NULL;
        pop3a_future_resume(fut);
        left = evbuffer_get_length(w->pending);
    }
    if (left == 0) {
        w->scheduled = 0;
        if (w->is_stream)
            event_del(w->ev);
        maybe_done(j);
    } else if (!w->is_stream) {
        event_active(w->ev, EV_WRITE, 0); /* the next slice, on a later turn */
    }
}

/* ----------------------------------------------------------- the session */

static int on_chunk(pop3a_client *c, pop3a_future *fut, const char *data, size_t len,
                    int final, void *arg)
{
    struct job *j = arg;
    (void)c;
    if (j->finished)
        return POP3A_CHUNK_ABORT;
    /* The chunk is valid only during this call: copy it into the pending buffer. */
    if (len > 0 && evbuffer_add(j->w.pending, data, len) != 0) {
        fputs("retr-to-file: out of memory\n", stderr);
        stop(j, 1);
        return POP3A_CHUNK_ABORT;
    }
    if (evbuffer_get_length(j->w.pending) > 0)
        writer_schedule(&j->w);
    /* The writer is behind: stop reading until it catches up (on_writable
     * resumes). Not on the final chunk: the reply is complete by then. */
    if (!final && evbuffer_get_length(j->w.pending) >= HIGH_WATER) {
        j->w.paused = fut;
        j->w.pauses++;
        return POP3A_CHUNK_PAUSE;
    }
    return POP3A_CHUNK_CONTINUE;
}

static void on_quit(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct job *j = arg;
    (void)c;
    if (j->finished)
        return;
    if (pop3a_future_status(fut) != POP3A_OK) {
        ex_report_future(&j->opts, "QUIT", fut);
        stop(j, 1);
        return;
    }
    j->quit_done = 1;
    maybe_done(j);
}

static void on_retr(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct job *j = arg;
    char what[32];
    j->w.paused = NULL; /* the future goes after this callback */
    if (j->finished)
        return;
    if (pop3a_future_status(fut) != POP3A_OK) {
        snprintf(what, sizeof what, "RETR %ld", j->msg);
        ex_report_future(&j->opts, what, fut);
        stop(j, 1);
        return;
    }
    j->retr_ok = 1;
    /* The body may still be in w.pending: the session does not need to wait. */
    if (!pop3a_quit(c, on_quit, j)) {
        ex_report_submit(&j->opts, "QUIT", c);
        stop(j, 1);
    }
}

static void on_login(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct job *j = arg;
    if (pop3a_future_status(fut) != POP3A_OK) {
        ex_report_future(&j->opts, "login", fut);
        stop(j, 1);
    } else if (!pop3a_retr(c, (uint32_t)j->msg, on_chunk, on_retr, j)) {
        ex_report_submit(&j->opts, "RETR", c);
        stop(j, 1);
    }
}

static void on_connect(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct job *j = arg;
    if (pop3a_future_status(fut) != POP3A_OK) {
        ex_report(&j->opts, "connect", pop3a_status_name(pop3a_future_status(fut)),
                  pop3a_future_text(fut), pop3a_client_errstr(c));
        stop(j, 1);
    } else if (!pop3a_login(c, j->opts.user, j->password, 0, on_login, j)) {
        ex_report_submit(&j->opts, "login", c);
        stop(j, 1);
    }
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *to)
{
    fputs("usage: retr-to-file OPTIONS --msg N --out FILE|-\n", to);
    ex_usage_options(to);
    fputs("Writes message N (as stored on the server, CRLF line ends) to FILE or to\n"
          "stdout, and a summary line to stderr. A file that could not be completed is\n"
          "removed. Exit status: 0 written, 1 failure, 2 usage error.\n",
          to);
}

/* Opens the output and sets up its writer. 0, or -1 (printed). */
static int writer_open(struct job *j)
{
    struct writer *w = &j->w;
    struct stat st;
    w->fd = !strcmp(j->out, "-") ? STDOUT_FILENO
                                 : open(j->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (w->fd < 0 || fstat(w->fd, &st) != 0) {
        fprintf(stderr, "retr-to-file: %s: %s\n", j->out, strerror(errno));
        return -1;
    }
    w->is_stream = !S_ISREG(st.st_mode);
    w->old_flags = fcntl(w->fd, F_GETFL);
    /* A stream is polled, so its writes must never block the loop. (O_NONBLOCK
     * is shared with every process using the same pipe or tty: restored at the
     * end.) */
    if (w->is_stream &&
        (w->old_flags < 0 || fcntl(w->fd, F_SETFL, w->old_flags | O_NONBLOCK) < 0)) {
        fprintf(stderr, "retr-to-file: %s: %s\n", j->out, strerror(errno));
        return -1;
    }
    w->pending = evbuffer_new();
    w->ev = event_new(j->base, w->is_stream ? w->fd : -1, EV_WRITE | EV_PERSIST, on_writable, j);
    return w->pending && w->ev ? 0 : -1;
}

static void writer_close(struct job *j)
{
    struct writer *w = &j->w;
    if (w->ev)
        event_free(w->ev);
    if (w->pending)
        evbuffer_free(w->pending);
    if (w->fd >= 0 && w->is_stream && w->old_flags >= 0)
        fcntl(w->fd, F_SETFL, w->old_flags);
    if (w->fd > STDOUT_FILENO)
        close(w->fd);
    /* Never leave a partial message behind in a file of ours. */
    if (j->failed && !w->is_stream && w->fd > STDOUT_FILENO)
        unlink(j->out);
}

int main(int argc, char **argv)
{
    static struct job j;
    ex_opts_init(&j.opts, "retr-to-file");
    for (int i = 1; i < argc; i++) {
        int rc = ex_parse_option(&j.opts, argc, argv, &i);
        if (rc < 0)
            return EX_EXIT_USAGE;
        if (rc == 1)
            continue;
        if (!strcmp(argv[i], "--help"))
            return usage(stdout), 0;
        if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            j.out = argv[++i];
        } else if (!strcmp(argv[i], "--msg") && i + 1 < argc) {
            if (ex_parse_number(argv[++i], UINT32_MAX, &j.msg) != 0)
                return fprintf(stderr, "retr-to-file: --msg: bad value\n"), EX_EXIT_USAGE;
        } else {
            fprintf(stderr, "retr-to-file: %s: unknown option or missing value\n", argv[i]);
            return usage(stderr), EX_EXIT_USAGE;
        }
    }
    if (ex_check_options(&j.opts, 1) != 0 || !j.out || !j.msg) {
        if (!j.out || !j.msg)
            fputs("retr-to-file: --msg and --out are required\n", stderr);
        return usage(stderr), EX_EXIT_USAGE;
    }
    j.password = ex_password(&j.opts);
    if (!j.password)
        return EX_EXIT_USAGE;
    signal(SIGPIPE, SIG_IGN); /* a closed pipe or server: EPIPE, not death */

    pop3a_client *client = NULL;
    j.w.fd = -1;
    j.base = event_base_new();
    if (!j.base || writer_open(&j) != 0 || !(client = ex_client_new(j.base, &j.opts)))
        j.failed = 1;
    else if (!pop3a_connect(client, j.opts.host, (uint16_t)j.opts.port, on_connect, &j)) {
        ex_report_submit(&j.opts, "connect", client);
        j.failed = 1;
    } else {
        event_base_dispatch(j.base);
        j.failed |= !j.finished; /* the loop ran dry before the end: a bug */
    }
    /* After a failure this drops the connection mid-reply, which is the only way
     * to abandon a RETR; pending futures complete with POP3A_ERR_CLOSED and their
     * callbacks see `finished`. */
    j.finished = 1;
    ex_client_free(j.base, client);
    writer_close(&j);
    if (j.base)
        event_base_free(j.base);
    ex_password_free(j.password);
    return j.failed ? EX_EXIT_FAIL : 0;
}
