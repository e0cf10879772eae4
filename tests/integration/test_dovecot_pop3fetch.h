/*
 * Helpers of the pop3fetch integration cases (test_dovecot_pop3fetch*.c):
 * fills through dovecot-env, pop3fetch runs as children with their output
 * kept, and checks of the deliveries against the fill manifests.
 */
#ifndef POP3A_TEST_DOVECOT_POP3FETCH_H
#define POP3A_TEST_DOVECOT_POP3FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "itest.h"

#define WAIT_S 120

typedef struct {
    char dir[64];   /* work directory: stdout, stderr, state, deliveries */
    char out[128];  /* the Maildir / mbox / MDA directory */
    char state[128];
    int rc;
    char *stdout_text, *stderr_text;
} fetch_run;

/* The value of an environment variable meson sets; fails the test without it. */
const char *env_or_fail(const char *name);
/* dovecot-env fill BASE USER COUNT SEED SPEC */
void fill(const char *user, const char *count, const char *seed, const char *spec);
/* A fresh work directory (/tmp/pop3a-it-p3f.*) with out/ and state.sqlite paths. */
void run_init(fetch_run *r);
void run_free(fetch_run *r);
/* pop3fetch with `args` (NULL-ended), the password in P3IT_PW. */
void run_pop3fetch(fetch_run *r, const char *password, const char *const *args);
/* One account of the harness over STLS (the default on a port other than
 * 995), verified with the harness CA, into r->out, plus `extra`. */
void fetch_user(fetch_run *r, const char *user, const char *password, const char *const *extra);
/* fetch_user's arguments (after the program name) into args[0..max),
 * NULL-ended; returns how many. The port text is a static buffer. */
size_t fetch_user_args(const fetch_run *r, const char *user, const char *const *extra,
                       const char **args, size_t max);
/* The summary line of an account starts "<name>: <n> new, <bytes> bytes, <d> deleted, ". */
void assert_summary(const char *text, const char *name, size_t n, uint64_t bytes,
                    size_t deleted);
/* CRLF -> LF in place; returns the new length. */
size_t to_lf(char *p, size_t len);
/* Every file of `dir` equals one message of man[0..n) (after CRLF -> LF when
 * `lf`), each message exactly once. */
void assert_files_match(const char *dir, const it_manifest *man, size_t n, int lf);
/* MAILDIR/tmp is empty and MAILDIR/new holds exactly man[0..n) (LF). */
void assert_maildir(const char *maildir, const it_manifest *man, size_t n);
/* The octets of man[0..n). */
uint64_t manifest_bytes(const it_manifest *man, size_t n);

#define EXIT_IS(r, want)                                                                    \
    ck_assert_msg((r)->rc == (want), "pop3fetch exit %d, want %d; stderr: %s", (r)->rc,     \
                  (want), (r)->stderr_text)

/* The daemon and crash-safety cases (test_dovecot_pop3fetch_daemon.c). */
void p3f_add_daemon_tests(TCase *tc);

#endif
