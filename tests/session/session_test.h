/*
 * Shared bits of the session tests: assertion macros over tu_rec / p3s, common
 * script fragments and the suite runner. Each test file has its own suite.
 */
#ifndef POP3A_SESSION_TEST_H
#define POP3A_SESSION_TEST_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "script_server.h"
#include "test_util.h"

/* Every wait in these tests is bounded: a hang is a failure, not a stuck CI. */
#define WAIT_MS 5000u

#define WAIT_COUNT(env, counter, target)                                                    \
    ck_assert_msg(run_until_count((env)->base, (counter), (target), WAIT_MS) == 0,          \
                  "timed out waiting for %s >= %d (now %d)", #counter, (int)(target),       \
                  *(counter))

#define WAIT_DONE(env, rec) WAIT_COUNT(env, &(rec).done_calls, 1)

/* Waits until the script ran to its end (or failed). */
#define WAIT_SCRIPT(env)                                                                    \
    do {                                                                                    \
        int script_over_ = 0;                                                               \
        for (unsigned waited_ = 0; waited_ < WAIT_MS && !script_over_; waited_ += 5) {     \
            run_for((env)->base, 5);                                                        \
            script_over_ = p3s_done((env)->srv) || p3s_error((env)->srv) != NULL;          \
        }                                                                                   \
    } while (0)

#define SCRIPT_OK(srv) ck_assert_msg(p3s_error(srv) == NULL, "script: %s", p3s_error(srv))
#define SCRIPT_DONE(srv)                                                                    \
    do {                                                                                    \
        SCRIPT_OK(srv);                                                                     \
        ck_assert_msg(p3s_done(srv), "script did not run to its end");                      \
    } while (0)

/* The usual end of a test: `rec` completed, then the script ran to its end
 * without a mismatch. */
#define WAIT_DONE_AND_SCRIPT(env, rec)                                                      \
    do {                                                                                    \
        WAIT_DONE(env, rec);                                                                \
        WAIT_SCRIPT(env);                                                                   \
        SCRIPT_DONE((env)->srv);                                                            \
    } while (0)

#define ASSERT_STATUS(rec, want)                                                            \
    ck_assert_msg((rec).status == (want), "%s: status %s (\"%s\"), want %s", #rec,          \
                  (int)(rec).status < 0 ? "none" : pop3a_status_name((rec).status),         \
                  (rec).text, pop3a_status_name(want))

#define ASSERT_OK(rec) ASSERT_STATUS(rec, POP3A_OK)

/* ASSERT_ONCE and ASSERT_STATUS: the usual pair for a future that must have ended
 * one way, exactly once. */
#define ASSERT_ONCE_STATUS(rec, want)                                                       \
    do {                                                                                    \
        ASSERT_ONCE(rec);                                                                   \
        ASSERT_STATUS(rec, want);                                                           \
    } while (0)

#define ASSERT_ONCE_OK(rec) ASSERT_ONCE_STATUS(rec, POP3A_OK)

/* The client closes its end of `srv`'s connection within half a second. */
#define WAIT_PEER_CLOSED(env, srv)                                                          \
    do {                                                                                    \
        for (int tries_ = 0; tries_ < 100 && !p3s_peer_closed(srv); tries_++)               \
            run_for((env)->base, 5);                                                        \
        ck_assert_msg(p3s_peer_closed(srv), "%s: the client never closed the connection",   \
                      #srv);                                                                \
    } while (0)

/* Exactly one done call, never one inside a submit, no chunk after final/done. */
#define ASSERT_ONCE(rec)                                                                    \
    do {                                                                                    \
        ck_assert_msg((rec).done_calls == 1, "%s: %d done calls", #rec, (rec).done_calls);  \
        ck_assert_int_eq((rec).callback_in_submit, 0);                                      \
        ck_assert_int_eq((rec).chunk_after_done, 0);                                        \
        ck_assert_int_eq((rec).chunk_after_final, 0);                                       \
    } while (0)

/* The first n completions recorded in `order` came from recorders 0..n-1 in turn. */
#define ASSERT_COMPLETED_IN_ORDER(order, n)                                                 \
    do {                                                                                    \
        for (int k_ = 0; k_ < (n); k_++)                                                    \
            ck_assert_msg((order).seq[k_] == k_, "completion %d was future %d", k_,         \
                          (order).seq[k_]);                                                 \
    } while (0)

#define ASSERT_BODY(rec, want)                                                              \
    do {                                                                                    \
        ck_assert_uint_eq((rec).body_len, strlen(want));                                    \
        ck_assert_msg((rec).body_len == 0 || memcmp((rec).body, (want), (rec).body_len) == 0, \
                      "%s body differs:\n%s", #rec, (rec).body);                            \
        ck_assert_int_eq((rec).final_count, 1);                                             \
    } while (0)

/* RFC 1939 section 7 sample greeting and the APOP digest of "tanstaaf". */
#define RFC_GREETING "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"
#define RFC_APOP_LINE "APOP mrose c4c9334bac560ecc979e58001b3e22fb"
#define PLAIN_GREETING "+OK POP3 ready\r\n"

#define CAPA_BASIC "TOP\r\nUIDL\r\nUSER\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
#define CAPA_PIPELINING "TOP\r\nUIDL\r\nUSER\r\nRESP-CODES\r\nPIPELINING\r\n"

/* Recorders with ids first_id, first_id + 1, ... in the order given; `order` may
 * be NULL. RECS_INIT(order, first_id, &a, &b, ...) spares a tu_rec_init line each. */
static inline void recs_init_array(tu_order *order, int first_id, tu_rec *const *recs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tu_rec_init(recs[i], first_id + (int)i, order);
}

#define RECS_INIT(order, first_id, ...)                                                     \
    recs_init_array((order), (first_id), (tu_rec *const[]){__VA_ARGS__},                    \
                    sizeof((tu_rec *const[]){__VA_ARGS__}) / sizeof(tu_rec *))

/* What the recorder's chunk callback does at its n-th call (1-based). */
static inline void act_at_chunk(tu_rec *r, tu_action action, unsigned n)
{
    r->chunk_action = action;
    r->action_at_chunk = n;
}

/* A body of n lines "line NNNNNN\r\n" (13 bytes each, nothing to dot-stuff);
 * malloc'd. */
static inline char *make_body(size_t lines)
{
    char *b = malloc(lines * 13 + 1);
    ck_assert_ptr_nonnull(b);
    for (size_t i = 0; i < lines; i++)
        snprintf(b + i * 13, 14, "line %06zu\r\n", i % 1000000);
    if (lines == 0)
        b[0] = '\0';
    return b;
}

/* A multi-line reply: the status line (with its CRLF), the body as it goes on the
 * wire (already dot-stuffed), then the terminating dot line. */
static inline void send_multiline(p3s *s, const char *status_line, const char *wire_body)
{
    p3s_send(s, status_line);
    p3s_send(s, wire_body);
    p3s_send(s, ".\r\n");
}

/* "RETR 1" answered with status_line + body; chunk_bytes non-zero cuts what the
 * server writes from here on into writes of that size, 1 ms apart. */
static inline void script_retr_1(p3s *s, size_t chunk_bytes, const char *status_line,
                                 const char *wire_body)
{
    p3s_expect(s, "RETR 1");
    if (chunk_bytes)
        p3s_write_chunk(s, chunk_bytes, 1);
    send_multiline(s, status_line, wire_body);
}

/* "USER user" answered with user_reply, then "PASS pass" with pass_reply (both
 * replies whole lines with CRLF). */
static inline void script_user_pass(p3s *s, const char *user, const char *user_reply,
                                    const char *pass, const char *pass_reply)
{
    char line[128];
    snprintf(line, sizeof line, "USER %s", user);
    p3s_expect(s, line);
    p3s_send(s, user_reply);
    snprintf(line, sizeof line, "PASS %s", pass);
    p3s_expect(s, line);
    p3s_send(s, pass_reply);
}

/* The RFC 1939 sample greeting (no CAPA: answered -ERR), then its APOP line
 * answered with `reply`. */
static inline void script_rfc_apop(p3s *s, const char *reply)
{
    tu_script_greeting_capa(s, RFC_GREETING, NULL);
    p3s_expect(s, RFC_APOP_LINE);
    p3s_send(s, reply);
}

/* script_retr_1 in chunk_bytes-sized writes, then whole writes again for the
 * NOOP behind it, answered with noop_reply: the command after a transfer that
 * the test pauses, cancels or aborts in the middle. */
static inline void script_chunked_retr_1_then_noop(p3s *s, size_t chunk_bytes,
                                                   const char *status_line, const char *wire_body,
                                                   const char *noop_reply)
{
    script_retr_1(s, chunk_bytes, status_line, wire_body);
    p3s_write_chunk(s, 0, 0);
    p3s_expect(s, "NOOP");
    p3s_send(s, noop_reply);
}

/* Greeting, CAPA, then USER/PASS accepted (the client side is session_login). */
static inline void script_login(p3s *s, const char *capa)
{
    tu_script_greeting_capa(s, PLAIN_GREETING, capa);
    script_user_pass(s, "alice", "+OK\r\n", "alicepw", "+OK Logged in.\r\n");
}

/* Submits the attach on `conn` and pop3a_login(user, secret, mechs) on `login`
 * behind it; does not wait. */
static inline void attach_and_login(tu_env *e, tu_rec *conn, tu_rec *login, const char *user,
                                    const char *secret, unsigned mechs)
{
    ck_assert_ptr_nonnull(tu_env_attach(e, conn));
    ck_assert_ptr_nonnull(pop3a_login(e->client, user, secret, mechs, tu_done, login));
}

/* Attach and log in with USER/PASS; waits for both. */
static inline void session_login(tu_env *e, tu_rec *conn, tu_rec *login)
{
    attach_and_login(e, conn, login, "alice", "alicepw", POP3A_MECH_USER);
    WAIT_DONE(e, *login);
    ASSERT_OK(*conn);
    ASSERT_OK(*login);
}

/* A fresh environment whose server will greet and accept the USER/PASS login of
 * session_login / session_logged_in; the test scripts what comes after. */
static inline void env_init_login_script(tu_env *e, const char *capa)
{
    tu_env_init(e);
    script_login(e->srv, capa);
}

/* session_login for a test that only needs the session logged in. */
static inline void session_logged_in(tu_env *e)
{
    tu_rec conn, login;
    tu_rec_init(&conn, 100, NULL);
    tu_rec_init(&login, 101, NULL);
    session_login(e, &conn, &login);
}

/* A fresh environment (CAPA_BASIC login scripted) whose server answers RETR 1
 * with status_line and a make_body(lines) body, in chunk_bytes-sized writes
 * (0: whole). Returns the body (malloc'd) for the test to compare and free. */
static inline char *env_init_retr_1_body(tu_env *e, size_t lines, size_t chunk_bytes,
                                         const char *status_line)
{
    env_init_login_script(e, CAPA_BASIC);
    char *body = make_body(lines);
    script_retr_1(e->srv, chunk_bytes, status_line, body);
    return body;
}

/* env_init_retr_1_body, then a NOOP behind the RETR answered with noop_reply
 * (see script_chunked_retr_1_then_noop). */
static inline char *env_init_chunked_retr_1_then_noop(tu_env *e, size_t lines,
                                                      size_t chunk_bytes,
                                                      const char *status_line,
                                                      const char *noop_reply)
{
    env_init_login_script(e, CAPA_BASIC);
    char *body = make_body(lines);
    script_chunked_retr_1_then_noop(e->srv, chunk_bytes, status_line, body, noop_reply);
    return body;
}

/* Logs in, then submits RETR 1 on retr and a NOOP on noop (recorders 2 and 3),
 * retr's chunk callback doing `action` at its at_chunk-th call: the contract
 * tests act on the transfer and look at the NOOP to see the session go on. */
static inline void session_retr_1_and_noop_acting(tu_env *e, tu_rec *retr, tu_rec *noop,
                                                  tu_action action, unsigned at_chunk)
{
    RECS_INIT(NULL, 2, retr, noop);
    session_logged_in(e);
    act_at_chunk(retr, action, at_chunk);
    ck_assert_ptr_nonnull(pop3a_retr(e->client, 1, tu_chunk, tu_done, retr));
    ck_assert_ptr_nonnull(pop3a_noop(e->client, tu_done, noop));
}

static inline int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* main() of a program whose tests are one test case: `n` tests of `tests`. */
static inline int run_tests(const char *suite, const char *tcase, const TTest *const *tests,
                            size_t n)
{
    Suite *s = suite_create(suite);
    TCase *tc = tcase_create(tcase);
    for (size_t i = 0; i < n; i++)
        tcase_add_test(tc, tests[i]);
    suite_add_tcase(s, tc);
    return run_suite(s);
}

/* run_suite for the suites whose scripted server speaks TLS: the test
 * certificates (make-test-certs) exist for as long as the suite runs. */
static inline int run_suite_with_certs(Suite *(*make_suite)(void), const char *program)
{
    if (!p3s_certs_make()) {
        fprintf(stderr, "%s: make-test-certs not found or failed (set POP3A_MAKE_TEST_CERTS)\n",
                program);
        return EXIT_FAILURE;
    }
    int rc = run_suite(make_suite());
    p3s_certs_remove();
    return rc;
}

#endif
