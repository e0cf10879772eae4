/*
 * The daemon's wait before an account's next poll (daemon_next_poll_ms):
 * the poll interval after a success, the backoff after temporary failures
 * (min(poll, 60 s), doubling, capped at max(poll, 1 h), plus at most 10 %
 * jitter), and the server's LOGIN-DELAY as the floor of either.
 */
#include <check.h>
#include <stdlib.h>

#include "daemon.h"

static const struct {
    long poll_s;
    unsigned failures;
    long long login_delay_s, want_ms; /* with jitter 0 */
} rows[] = {
    {300, 0, -1, 300000},      /* a success: the poll interval */
    {0, 0, -1, 300000},        /* poll unset: the default */
    {300, 1, -1, 60000},       /* first retry: 60 s, sooner than the poll */
    {300, 2, -1, 120000},      /* then twice as long */
    {300, 6, -1, 1920000},
    {300, 7, -1, 3600000},     /* capped at an hour */
    {300, 4000, -1, 3600000},  /* and it stays there (no overflow) */
    {10, 1, -1, 10000},        /* a short poll: the first retry after it */
    {10, 3, -1, 40000},
    {7200, 9, -1, 7200000},    /* a poll over an hour is the cap */
    {1, 0, 5, 5000},           /* LOGIN-DELAY 5 over poll 1 */
    {300, 0, 5, 300000},       /* a longer poll is left alone */
    {10, 1, 900, 900000},      /* LOGIN-DELAY over the backoff too */
};

START_TEST(next_poll_without_jitter)
{
    ck_assert_int_eq(daemon_next_poll_ms(rows[_i].poll_s, rows[_i].failures,
                                         rows[_i].login_delay_s, 0),
                     rows[_i].want_ms);
}
END_TEST

/* Jitter only lengthens a backoff, by at most a tenth, and never touches a
 * regular poll. */
START_TEST(jitter_stays_within_a_tenth_of_a_backoff)
{
    for (unsigned j = 0; j < 100000; j += 7) {
        long long ms = daemon_next_poll_ms(300, 2, -1, j);
        ck_assert_int_ge(ms, 120000);
        ck_assert_int_le(ms, 132000);
        ck_assert_int_eq(daemon_next_poll_ms(300, 0, -1, j), 300000);
    }
    ck_assert_int_gt(daemon_next_poll_ms(300, 2, -1, 11999), 120000);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pop3fetch_backoff");
    TCase *tc = tcase_create("backoff");
    tcase_add_loop_test(tc, next_poll_without_jitter, 0, sizeof rows / sizeof rows[0]);
    tcase_add_test(tc, jitter_stays_within_a_tenth_of_a_backoff);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
