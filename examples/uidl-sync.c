/*
 * uidl-sync: fetch only the messages not fetched before, leaving every message
 * on the server ("leave mail on server", as mail clients call it).
 *
 *   cc -o uidl-sync uidl-sync.c example_common.c \
 *      $(pkg-config --cflags --libs libpop3async libevent_core)
 *   POP3_PASSWORD=... ./uidl-sync --host pop.example.org --user alice \
 *      --password-env POP3_PASSWORD --state ~/.pop3-seen --out ~/Mail/in
 *
 * Message numbers change between sessions; a UIDL (RFC 1939 section 7) is a
 * server-chosen name that stays with the message. The state file lists the
 * UIDLs already stored, one a line. A run: UIDL, then RETR of each message
 * whose UIDL is not in the file, each stored as DIR/<uidl>.eml ("/", "%", "."
 * and other unsafe bytes written as %XX). Only once a message file is durable
 * (fsync of the data, rename, fsync of the directory) is its UIDL appended to
 * the state file (and fsynced). A crash between the two just fetches that
 * message again next time, into the same name: nothing is lost, nothing doubled.
 *
 * Kept simple on purpose: one RETR at a time, written with plain blocking
 * write(2). examples/fetch-all.c pipelines RETRs; examples/retr-to-file.c
 * writes through the event loop with backpressure. The state file only grows:
 * pruning UIDLs no longer on the server is left out.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* openat, renameat, fsync, getline under -std=c11 */
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

/* UIDLs are 1 to 70 characters from 0x21 to 0x7E (RFC 1939 section 7; the
 * library refuses a listing with any other): three bytes per character when
 * escaped, and room for ".eml" or the temp prefix. */
#define NAME_MAX_LEN (3 * 70 + 16)

/* The UIDLs already stored, sorted for bsearch. */
struct seen {
    char **uid;
    size_t n, cap;
};

/* A message to fetch: its number in this session and its UIDL. */
struct wanted {
    uint32_t msg;
    char *uid;
};

struct sync {
    struct ex_opts opts;
    char *password;
    const char *state_path, *out;
    struct event_base *base;
    struct seen seen;
    int state_fd, dir_fd;
    struct wanted *todo; /* the new messages, in listing order */
    size_t n_todo, next, already_seen;
    int file_fd; /* the message being written, or -1 */
    char tmp[NAME_MAX_LEN], final_name[NAME_MAX_LEN];
    uint64_t bytes;
    int finished, failed;
};

/* ---------------------------------------------------------- the UIDL set */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int seen_add(struct seen *s, const char *uid)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        char **bigger = realloc(s->uid, cap * sizeof *bigger);
        if (!bigger)
            return -1;
        s->uid = bigger;
        s->cap = cap;
    }
    if (!(s->uid[s->n] = strdup(uid)))
        return -1;
    s->n++;
    return 0;
}

static int seen_has(const struct seen *s, const char *uid)
{
    return s->n > 0 && bsearch(&uid, s->uid, s->n, sizeof *s->uid, cmp_str) != NULL;
}

/* Reads the state file (missing: nothing seen yet) and keeps it open for
 * appending. 0, or -1 (printed). */
static int state_open(struct sync *y)
{
    FILE *f = fopen(y->state_path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int last_newline = 1;
    if (!f && errno != ENOENT) {
        fprintf(stderr, "uidl-sync: %s: %s\n", y->state_path, strerror(errno));
        return -1;
    }
    while (f && (len = getline(&line, &cap, f)) > 0) {
        last_newline = line[len - 1] == '\n';
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] && seen_add(&y->seen, line) != 0) {
            fputs("uidl-sync: out of memory\n", stderr);
            free(line);
            fclose(f);
            return -1;
        }
    }
    free(line);
    if (f)
        fclose(f);
    qsort(y->seen.uid, y->seen.n, sizeof *y->seen.uid, cmp_str);
    y->state_fd = open(y->state_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    /* A crash in the middle of an append leaves a line without its newline: end
     * it, or the next UIDL would be glued to it. (The cut UIDL matches nothing,
     * so that message is fetched again: the safe side.) */
    if (y->state_fd < 0 || (!last_newline && write(y->state_fd, "\n", 1) != 1)) {
        fprintf(stderr, "uidl-sync: %s: %s\n", y->state_path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Appends one UIDL and makes it durable. */
static int state_append(struct sync *y, const char *uid)
{
    char line[80];
    int n = snprintf(line, sizeof line, "%s\n", uid);
    if (n < 0 || (size_t)n >= sizeof line || write(y->state_fd, line, (size_t)n) != n)
        return -1;
    return fsync(y->state_fd);
}

/* ------------------------------------------------------- message storage */

/* DIR/<escaped uidl>.eml: a UIDL may hold any printable byte, "/" and ".."
 * included, so everything but letters, digits, "-" and "_" is %XX. */
static void file_names(struct sync *y, const char *uid)
{
    char esc[3 * 70 + 1];
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)uid; *p && k + 4 <= sizeof esc; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_')
            esc[k++] = (char)*p;
        else
            k += (size_t)snprintf(esc + k, 4, "%%%02X", *p);
    }
    esc[k] = '\0';
    snprintf(y->final_name, sizeof y->final_name, "%s.eml", esc);
    snprintf(y->tmp, sizeof y->tmp, ".%s.eml.tmp", esc);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Data on disk, then the name, then the name on disk (see fetch-all.c). */
static int file_commit(struct sync *y)
{
    int rc = fsync(y->file_fd);
    rc |= close(y->file_fd);
    y->file_fd = -1;
    if (rc != 0 || renameat(y->dir_fd, y->tmp, y->dir_fd, y->final_name) != 0)
        return -1;
    /* EINVAL: this file system cannot sync a directory; nothing better exists. */
    return fsync(y->dir_fd) != 0 && errno != EINVAL ? -1 : 0;
}

/* A message cut off: its temp file goes. */
static void file_discard(struct sync *y)
{
    if (y->file_fd < 0)
        return;
    close(y->file_fd);
    unlinkat(y->dir_fd, y->tmp, 0);
    y->file_fd = -1;
}

/* ----------------------------------------------------------- the session */

static void stop(struct sync *y, int failed)
{
    y->failed |= failed;
    y->finished = 1;
    event_base_loopbreak(y->base);
}

static void fail_file(struct sync *y, const char *op)
{
    fprintf(stderr, "uidl-sync: %s %s/%s: %s\n", op, y->out, y->tmp, strerror(errno));
    stop(y, 1);
}

static void on_quit(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct sync *y = arg;
    (void)c;
    if (y->finished)
        return;
    if (pop3a_future_status(fut) != POP3A_OK) {
        ex_report_future(&y->opts, "QUIT", fut);
        stop(y, 1);
        return;
    }
    printf("%zu new, %zu already seen\n", y->n_todo, y->already_seen);
    stop(y, 0);
}

static void retr_next(pop3a_client *c, struct sync *y);

static int on_chunk(pop3a_client *c, pop3a_future *fut, const char *data, size_t len,
                    int final, void *arg)
{
    struct sync *y = arg;
    (void)c;
    (void)fut;
    if (y->finished)
        return POP3A_CHUNK_ABORT;
    /* Opened on the first chunk: a RETR refused before it leaves no file. */
    if (y->file_fd < 0) {
        y->bytes = 0;
        y->file_fd = openat(y->dir_fd, y->tmp,
                            O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    }
    y->bytes += len;
    if (y->file_fd < 0)
        fail_file(y, "open");
    else if (write_all(y->file_fd, data, len) != 0)
        fail_file(y, "write");
    else if (final && file_commit(y) != 0)
        fail_file(y, "store");
    else
        return POP3A_CHUNK_CONTINUE;
    /* Aborting closes the connection (a reply cannot be left halfway). */
    file_discard(y);
    return POP3A_CHUNK_ABORT;
}

static void on_retr(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct sync *y = arg;
    const struct wanted *w = &y->todo[y->next];
    char what[32];
    if (y->finished)
        return;
    if (pop3a_future_status(fut) != POP3A_OK) {
        file_discard(y);
        snprintf(what, sizeof what, "RETR %" PRIu32, w->msg);
        ex_report_future(&y->opts, what, fut);
        stop(y, 1);
        return;
    }
    /* The message is durable (on_chunk committed it on the final chunk): only
     * now may the state file say so. */
    if (state_append(y, w->uid) != 0) {
        fprintf(stderr, "uidl-sync: %s: %s\n", y->state_path, strerror(errno));
        stop(y, 1);
        return;
    }
    printf("%s %" PRIu64 " %s\n", w->uid, y->bytes, y->final_name);
    y->next++;
    retr_next(c, y);
}

/* The next new message, or QUIT when none is left. */
static void retr_next(pop3a_client *c, struct sync *y)
{
    if (y->next == y->n_todo) {
        if (!pop3a_quit(c, on_quit, y)) {
            ex_report_submit(&y->opts, "QUIT", c);
            stop(y, 1);
        }
        return;
    }
    file_names(y, y->todo[y->next].uid);
    if (!pop3a_retr(c, y->todo[y->next].msg, on_chunk, on_retr, y)) {
        ex_report_submit(&y->opts, "RETR", c);
        stop(y, 1);
    }
}

static void on_uidl(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct sync *y = arg;
    size_t n = pop3a_future_count(fut);
    if (pop3a_future_status(fut) != POP3A_OK) { /* -ERR: the server has no UIDL */
        ex_report_future(&y->opts, "UIDL", fut);
        stop(y, 1);
        return;
    }
    /* The UIDL strings belong to the future, which goes when this callback
     * returns: copy the ones we need. */
    y->todo = calloc(n ? n : 1, sizeof *y->todo);
    for (size_t i = 0; y->todo && i < n; i++) {
        uint32_t msg;
        uint64_t size;
        const char *uid = NULL;
        pop3a_future_entry(fut, i, &msg, &size, &uid);
        if (!uid || seen_has(&y->seen, uid)) {
            y->already_seen++;
            continue;
        }
        y->todo[y->n_todo].msg = msg;
        if (!(y->todo[y->n_todo++].uid = strdup(uid)))
            break;
    }
    if (!y->todo || (y->n_todo && !y->todo[y->n_todo - 1].uid)) {
        fputs("uidl-sync: out of memory\n", stderr);
        stop(y, 1);
        return;
    }
    retr_next(c, y);
}

static void on_login(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct sync *y = arg;
    if (pop3a_future_status(fut) != POP3A_OK) {
        ex_report_future(&y->opts, "login", fut);
        stop(y, 1);
    } else if (!pop3a_uidl(c, 0, on_uidl, y)) { /* 0: the whole listing */
        ex_report_submit(&y->opts, "UIDL", c);
        stop(y, 1);
    }
}

static void on_connect(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct sync *y = arg;
    if (pop3a_future_status(fut) != POP3A_OK) {
        ex_report(&y->opts, "connect", pop3a_status_name(pop3a_future_status(fut)),
                  pop3a_future_text(fut), pop3a_client_errstr(c));
        stop(y, 1);
    } else if (!pop3a_login(c, y->opts.user, y->password, 0, on_login, y)) {
        ex_report_submit(&y->opts, "login", c);
        stop(y, 1);
    }
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *to)
{
    fputs("usage: uidl-sync OPTIONS --state FILE --out DIR\n", to);
    ex_usage_options(to);
    fputs("Stores each message whose UIDL is not in FILE as DIR/<uidl>.eml, prints\n"
          "\"<uidl> <octets> <file>\" for it, then appends its UIDL to FILE. Nothing is\n"
          "deleted. Exit status: 0 in sync, 1 failure, 2 usage error.\n",
          to);
}

static void cleanup(struct sync *y)
{
    file_discard(y);
    for (size_t i = 0; i < y->seen.n; i++)
        free(y->seen.uid[i]);
    free(y->seen.uid);
    for (size_t i = 0; y->todo && i < y->n_todo; i++)
        free(y->todo[i].uid);
    free(y->todo);
    if (y->state_fd >= 0)
        close(y->state_fd);
    if (y->dir_fd >= 0)
        close(y->dir_fd);
    ex_password_free(y->password);
}

int main(int argc, char **argv)
{
    static struct sync y = {.state_fd = -1, .dir_fd = -1, .file_fd = -1};
    ex_opts_init(&y.opts, "uidl-sync");
    for (int i = 1; i < argc; i++) {
        int rc = ex_parse_option(&y.opts, argc, argv, &i);
        if (rc < 0)
            return EX_EXIT_USAGE;
        if (rc == 1)
            continue;
        if (!strcmp(argv[i], "--help"))
            return usage(stdout), 0;
        if (!strcmp(argv[i], "--state") && i + 1 < argc) {
            y.state_path = argv[++i];
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            y.out = argv[++i];
        } else {
            fprintf(stderr, "uidl-sync: %s: unknown option or missing value\n", argv[i]);
            return usage(stderr), EX_EXIT_USAGE;
        }
    }
    if (ex_check_options(&y.opts, 1) != 0 || !y.state_path || !y.out) {
        if (!y.state_path || !y.out)
            fputs("uidl-sync: --state and --out are required\n", stderr);
        return usage(stderr), EX_EXIT_USAGE;
    }
    if (!(y.password = ex_password(&y.opts)))
        return EX_EXIT_USAGE;
    signal(SIGPIPE, SIG_IGN); /* a server that hangs up must give EPIPE, not kill us */
    y.dir_fd = open(y.out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (y.dir_fd < 0) {
        fprintf(stderr, "uidl-sync: --out %s: %s\n", y.out, strerror(errno));
        cleanup(&y);
        return EX_EXIT_FAIL;
    }
    if (state_open(&y) != 0) {
        cleanup(&y);
        return EX_EXIT_FAIL;
    }

    pop3a_client *client = NULL;
    y.base = event_base_new();
    if (!y.base || !(client = ex_client_new(y.base, &y.opts)))
        y.failed = 1;
    else if (!pop3a_connect(client, y.opts.host, (uint16_t)y.opts.port, on_connect, &y)) {
        ex_report_submit(&y.opts, "connect", client);
        y.failed = 1;
    } else {
        event_base_dispatch(y.base);
        y.failed |= !y.finished; /* the loop ran dry before the end: a bug */
    }
    /* After a failure: no QUIT, just hang up. Nothing is deleted either way. */
    y.finished = 1;
    ex_client_free(y.base, client);
    if (y.base)
        event_base_free(y.base);
    cleanup(&y);
    return fflush(stdout) == 0 && !y.failed ? 0 : EX_EXIT_FAIL;
}
