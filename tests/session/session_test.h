/*
 * Shared bits of the session tests: assertion macros over tu_rec / p3s, common
 * script fragments and the suite runner. Each test file has its own suite.
 */
#ifndef POP3A_SESSION_TEST_H
#define POP3A_SESSION_TEST_H

#include <check.h>
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

#define ASSERT_STATUS(rec, want)                                                            \
    ck_assert_msg((rec).status == (want), "%s: status %s (\"%s\"), want %s", #rec,          \
                  (int)(rec).status < 0 ? "none" : pop3a_status_name((rec).status),         \
                  (rec).text, pop3a_status_name(want))

#define ASSERT_OK(rec) ASSERT_STATUS(rec, POP3A_OK)

/* Exactly one done call, never one inside a submit, no chunk after final/done. */
#define ASSERT_ONCE(rec)                                                                    \
    do {                                                                                    \
        ck_assert_msg((rec).done_calls == 1, "%s: %d done calls", #rec, (rec).done_calls);  \
        ck_assert_int_eq((rec).callback_in_submit, 0);                                      \
        ck_assert_int_eq((rec).chunk_after_done, 0);                                        \
        ck_assert_int_eq((rec).chunk_after_final, 0);                                       \
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

/* Greeting, CAPA, then USER/PASS accepted (the client side is tu_login_user). */
static inline void script_login(p3s *s, const char *capa)
{
    tu_script_greeting_capa(s, PLAIN_GREETING, capa);
    p3s_expect(s, "USER alice");
    p3s_send(s, "+OK\r\n");
    p3s_expect(s, "PASS alicepw");
    p3s_send(s, "+OK Logged in.\r\n");
}

/* Attach and log in with USER/PASS; waits for both. */
static inline void session_login(tu_env *e, tu_rec *conn, tu_rec *login)
{
    ck_assert_ptr_nonnull(tu_env_attach(e, conn));
    ck_assert_ptr_nonnull(
        pop3a_login(e->client, "alice", "alicepw", POP3A_MECH_USER, tu_done, login));
    WAIT_DONE(e, *login);
    ASSERT_OK(*conn);
    ASSERT_OK(*login);
}

/* session_login for a test that only needs the session logged in. */
static inline void session_logged_in(tu_env *e)
{
    tu_rec conn, login;
    tu_rec_init(&conn, 100, NULL);
    tu_rec_init(&login, 101, NULL);
    session_login(e, &conn, &login);
}

static inline int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
