/*
 * The harness of the example tests: a scripted mailbox, the server side of a
 * session, and a run of an example program (examples/fetch-all and the others)
 * as a child process against the scripted server, which listens on 127.0.0.1
 * in the test process. The loop serves the script while a timer polls
 * waitpid(WNOHANG) (no SIGCHLD handler, so Check's forking and valgrind are
 * unaffected).
 */
#ifndef POP3A_TEST_FETCH_ALL_RUN_H
#define POP3A_TEST_FETCH_ALL_RUN_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "script_server.h"

struct event_base;

#define PASSWORD "s3cret pw" /* a space: PASS takes the rest of the line */
#define CHILD_WAIT_MS 15000
#define MAX_MSGS 8

/* The fetch-all under test (argv[1] of the test program). */
extern const char *fetch_all_path;

/* A message as the server sends it (dot-stuffed, with terminator) and the bytes
 * the fetcher must store. */
typedef struct {
    char *wire, *body;
    size_t wire_len, body_len;
} msg;

typedef struct run {
    struct event_base *base;
    p3s *srv;
    uint16_t port;
    char work[64]; /* temp dir holding out/, stdout, stderr */
    char out[80];
    pid_t pid;
    int exit_code; /* -1: killed or timed out */
    int exited;
    char *stdout_text, *stderr_text;
    /* DELE checks: when the server has consumed line dele_line + k - 1 ("DELE k"),
     * <k>.eml must already be there. */
    size_t dele_line, dele_count, dele_checked;
    int dele_before_file;
    /* Called on every poll of the child (every 2 ms) while it runs, when set:
     * for tests that act on the child (a signal) or on its output (a slow
     * reader) while it runs. */
    void (*tick)(struct run *r);
    void *tick_arg;
} run;

#define SCRIPT_DONE(r)                                                                      \
    do {                                                                                    \
        ck_assert_msg(p3s_error((r)->srv) == NULL, "script: %s", p3s_error((r)->srv));      \
        ck_assert_msg(p3s_done((r)->srv), "script did not run to its end");                 \
    } while (0)

#define EXIT_IS(r, code)                                                                    \
    ck_assert_msg((r)->exit_code == (code), "exit %d, want %d; stderr: %s",                 \
                  (r)->exit_code, (code), (r)->stderr_text)

/* 1: plain; 2: stuffed dots everywhere; 3: empty; 4: ~360 KiB, larger than the
 * fetcher's write buffer, with a stuffed line every 7. */
size_t make_mailbox(msg *m);

void free_mailbox(msg *m, size_t n);
/* Greeting, CAPA answered with capa_reply (whole lines), USER alice, PASS
 * accepted. */
void script_login_capa(p3s *s, const char *capa_reply);
/* script_login_capa with CAPA USER, and PIPELINING when asked. */
void script_login(p3s *s, int pipelining);
/* STAT for these n messages. */
void script_stat(p3s *s, const msg *m, size_t n);
/* Expects RETR number, sends m. */
void script_retr(p3s *s, size_t number, const msg *m);
/* script_retr for messages 1..n, in order. */
void script_retr_all(p3s *s, const msg *m, size_t n);
/* Expects QUIT, answers `reply` (a whole line) and hangs up. */
void script_quit(p3s *s, const char *reply);

/* A listening scripted server and an empty temp out/ directory. */
void run_init(run *r);
/* make_mailbox(m), run_init(r), then the server scripted through login (with
 * or without PIPELINING) and STAT for the whole mailbox; returns its size. */
size_t run_init_mailbox(run *r, msg *m, int pipelining);
/* run_free(r) and free_mailbox(m, n): the end of a mailbox test. */
void run_free_mailbox(run *r, msg *m, size_t n);

/* dir/name in one of a few static buffers, so two can be used in one call. */
char *path_in(const char *dir, const char *name);
/* A file's bytes, NUL-terminated, malloc'd (length in *len when not NULL), or NULL. */
char *read_file(const char *path, size_t *len);

/* The --timeout (seconds) a child gets: 5, stretched like every test deadline
 * under valgrind and ASan (tu_time_scale), where the child runs slower too. */
const char *child_timeout_arg(void);

/* Preloads `shim_path` (an LD_PRELOAD shim) into the children run from now on,
 * or, with NULL, stops and restores the environment. In an ASan build the shim
 * links the ASan runtime, which then is not first in the child's library list:
 * its link-order check is turned off for the child, so a plain `meson test`
 * works in a sanitizer build dir too, with or without --setup asan. */
void preload_shim(const char *shim_path);

/* run_child with the password in P3TEST_PW, unless `password` is NULL. */
void run_program(run *r, const char *password, const char *const *argv);
/* Serves r's loop until `s` (r->srv or another server on r->base) has seen
 * its client close, for up to 2 s. run_program does it for r->srv; a test
 * with more servers does it for the others before checking their scripts. */
void serve_until_closed(run *r, p3s *s);
/* run_program of `prog` with the usual connection arguments (--host 127.0.0.1
 * --port r->port --user alice --password-env P3TEST_PW --tls none
 * --allow-cleartext --timeout 5) plus `extra` (NULL-ended). */
void run_example(run *r, const char *prog, const char *password, const char *const *extra);
/* run_example of fetch-all with --out r->out. */
void run_fetch(run *r, const char *password, const char *const *extra);
/* Runs argv (NULL-ended; argv[0] found on PATH, $POP3A_CHILD_WRAPPER put
 * in front) with stdout and stderr into files of the run (r->stdout_text,
 * r->stderr_text), serves the script until the child exits, then until the
 * server has read everything it sent. A run may be made again with a fresh
 * script. */
void run_child(run *r, const char *const *argv);

/* The main() of an example's test program: argv[1] is the example under test
 * (stored in *prog); `add` adds the tests to a TCase of the suite `name`; with
 * `certs` set the test certificates are made first and removed at the end.
 * Returns the exit status. */
int example_test_main(int argc, char **argv, const char *name, const char **prog, int certs,
                      void (*add)(TCase *tc));

/* Removes everything the run made. */
void run_free(run *r);
/* The names in out/, sorted, space-separated. */
void list_out(const run *r, char *buf, size_t size);

/* out/<number>.eml holds exactly m's body. */
void assert_file(const run *r, size_t number, const msg *m);
/* The "<n> <bytes>" lines fetch-all prints for messages 1..n. */
void expected_stdout(const msg *m, size_t n, char *buf, size_t size);
/* fetch-all printed the line of each of messages 1..n (expected_stdout) and
 * out/<k>.eml holds message k's body, for every k. */
void assert_all_stored(const run *r, const msg *m, size_t n);

#endif
