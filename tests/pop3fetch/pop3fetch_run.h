/*
 * The harness of the pop3fetch tests, on top of the fetch-all one
 * (tests/examples/fetch_all_run.h: scripted mailbox, login script, child
 * runs): pop3fetch's command line, its UIDL + LIST listings, and checks of
 * what it delivered.
 */
#ifndef POP3A_TEST_POP3FETCH_RUN_H
#define POP3A_TEST_POP3FETCH_RUN_H

#include <sys/types.h>

#include "fetch_all_run.h"

/* The pop3fetch under test (argv[1] of the test program). */
extern const char *pop3fetch_path;

/* Every test program's main() is example_test_main (fetch_all_run.h) with
 * &pop3fetch_path: argv[1] is the pop3fetch under test. */

/* Expects LIST, answers it for m[0..n). */
void script_list(p3s *s, const msg *m, size_t n);
/* Expects UIDL and LIST, answers them for m[0..n) with unique-ids
 * uids[i] (NULL: "uid-<i+1>"). */
void script_listings(p3s *s, const msg *m, size_t n, const char *const *uids);
/* script_login without PIPELINING, then script_listings with the default ids. */
void script_session_start(p3s *s, const msg *m, size_t n);

/* For the tests of a timeout: --timeout 1, stretched like every deadline
 * under valgrind and ASan (tu_time_scale), and a silence surely longer. */
const char *short_timeout_arg(void);
unsigned beyond_short_timeout_ms(void);

/* Another scripted server on the run's loop for the next run (the old one
 * served its one connection). */
void fresh_server(run *r);

/* pop3fetch with the usual connection flags (alice, password P3TEST_PW =
 * PASSWORD, no TLS, --timeout 5, --state WORK/state.sqlite), --maildir OUT
 * unless `extra` names a delivery, then `extra` (NULL-ended). */
void run_pop3fetch(run *r, const char *const *extra);
/* pop3fetch with exactly these arguments after the program name. */
void run_pop3fetch_args(run *r, const char *const *args);

/* WORK/config with `mode` (0600: it names a password source), holding
 * `text`; returns its path (a static buffer). */
const char *write_config(const run *r, mode_t mode, const char *text);

/* The body with CRLF turned into LF (malloc'd). */
char *lf_body(const msg *m, size_t *len);
/* OUT/new holds exactly the LF bodies of m[0..n) (any names), OUT/tmp is
 * empty. */
void assert_maildir(const run *r, const msg *m, size_t n);
/* Files in OUT/<sub> ("new", "tmp"). */
size_t maildir_count(const run *r, const char *sub);
/* The UIDLs recorded in WORK/state.sqlite, sorted, space-separated ("" when
 * none, or no state file). */
void state_uids(const run *r, char *out, size_t size);
/* The summary prefix for alice: "alice@127.0.0.1: <n> new, <b> bytes, <d> deleted, ". */
void summary_prefix(char *out, size_t size, size_t n_new, uint64_t bytes, size_t deleted);
uint64_t wire_bytes(const msg *m, size_t n);

#define STDERR_HAS(r, needle)                                                               \
    ck_assert_msg(strstr((r)->stderr_text, (needle)) != NULL, "stderr lacks \"%s\": %s",    \
                  (needle), (r)->stderr_text)

#endif
