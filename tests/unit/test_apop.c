/* Unit tests of lib/protocol/apop.c: the greeting timestamp and the APOP digest. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "apop.h"

static int find(const char *text, const char **ts, size_t *len)
{
    return pop3a_apop_find_timestamp(text, strlen(text), ts, len);
}

/* Asserts the timestamp found in text is exactly `expected`. */
static void expect_timestamp(const char *text, const char *expected)
{
    const char *ts = NULL;
    size_t len = 0;

    ck_assert_msg(find(text, &ts, &len) == 0, "no timestamp in \"%s\"", text);
    ck_assert_uint_eq(len, strlen(expected));
    ck_assert_int_eq(memcmp(ts, expected, len), 0);
    ck_assert(ts >= text && ts + len <= text + strlen(text)); /* points into text */
}

static void expect_no_timestamp(const char *text)
{
    const char *ts = "untouched";
    size_t len = 99;

    ck_assert_msg(find(text, &ts, &len) == -1, "accepted \"%s\"", text);
    ck_assert_str_eq(ts, "untouched");
    ck_assert_uint_eq(len, 99);
}

/* --------------------------------------------------------------- timestamp */

START_TEST(rfc1939_greeting_timestamp_is_found)
{
    expect_timestamp("POP3 server ready <1896.697170952@dbc.mtview.ca.us>",
                     "<1896.697170952@dbc.mtview.ca.us>");
}
END_TEST

START_TEST(dovecot_greeting_timestamp_is_found)
{
    expect_timestamp("Dovecot lab ready. <2a4d.9.6b07986f.IewrgFl6D85owvG4jbKkPA==@vm>",
                     "<2a4d.9.6b07986f.IewrgFl6D85owvG4jbKkPA==@vm>");
}
END_TEST

START_TEST(first_well_formed_candidate_wins)
{
    expect_timestamp("<ready> for you <1@h> and <2@h>", "<1@h>");
    expect_timestamp("<a@b>", "<a@b>");
    expect_timestamp("x<a@b>y", "<a@b>");
    expect_timestamp("<a@b> extra <c", "<a@b>");
    /* The candidate at the inner '<' is itself well formed. */
    expect_timestamp("<a<b@c>", "<b@c>");
}
END_TEST

START_TEST(timestamps_not_of_the_form_are_refused)
{
    static const char *const bad[] = {
        "",
        "POP3 server ready",
        "ready 1896.697170952@dbc.mtview.ca.us",
        "<1896.697170952.dbc.mtview.ca.us>", /* no '@' */
        "<1896.697170952 @dbc.mtview.ca.us>", /* space inside */
        "<1896.697170952@dbc\tmtview>",       /* tab inside */
        "<1896.697170952@dbc.mtview.ca.us",   /* never closed */
        "1896.697170952@dbc.mtview.ca.us>",   /* never opened */
        "<@dbc.mtview.ca.us>",                /* empty local part */
        "<1896.697170952@>",                  /* empty domain */
        "<@>",
        "<>",
        "<",
        ">",
        "<a@b\x01>",          /* control character */
        "<a@b\x7f>",          /* DEL */
        "<caf\xc3\xa9@b>",    /* 8-bit */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_no_timestamp(bad[i]);
    {
        const char *ts;
        size_t len;
        ck_assert_int_eq(pop3a_apop_find_timestamp(NULL, 0, &ts, &len), -1);
        /* A NUL inside the counted greeting is not printable. */
        ck_assert_int_eq(pop3a_apop_find_timestamp("<a\0@b>", 6, &ts, &len), -1);
        /* len bounds the search: the '>' lies beyond it. */
        ck_assert_int_eq(pop3a_apop_find_timestamp("<a@b>", 4, &ts, &len), -1);
    }
}
END_TEST

static char *long_timestamp(size_t total)
{
    /* "<" + local + "@h>" with total characters. */
    char *s = malloc(total + 1);
    ck_assert_ptr_nonnull(s);
    s[0] = '<';
    memset(s + 1, 'x', total - 4);
    memcpy(s + total - 3, "@h>", 4);
    return s;
}

/* The whole "<...>" may be 255 characters, not 256. */
START_TEST(timestamp_of_255_passes_and_256_is_refused)
{
    char *ok = long_timestamp(255);
    char *too_long = long_timestamp(256);
    const char *ts;
    size_t len;

    ck_assert_uint_eq(strlen(ok), 255);
    ck_assert_int_eq(find(ok, &ts, &len), 0);
    ck_assert_uint_eq(len, 255);
    ck_assert_int_eq(find(too_long, &ts, &len), -1);
    free(ok);
    free(too_long);
}
END_TEST

/* ------------------------------------------------------------------ digest */

static void expect_digest(const char *ts, const char *secret, const char *hex)
{
    char out[33];

    memset(out, 'Z', sizeof out);
    ck_assert_int_eq(pop3a_apop_digest(ts, strlen(ts), secret, out), 0);
    ck_assert_str_eq(out, hex);
}

/* RFC 1939 s7: the example exchange. */
START_TEST(rfc1939_digest_vector)
{
    expect_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf",
                  "c4c9334bac560ecc979e58001b3e22fb");
}
END_TEST

START_TEST(digest_of_other_inputs_matches_md5)
{
    /* Expected values from Python's hashlib.md5 over timestamp + secret. */
    expect_digest("<2a4d.9.6b07986f.IewrgFl6D85owvG4jbKkPA==@vm>", "alicepw",
                  "4e13f69bb8599d0b4ec4e2e99ba1808e");
    expect_digest("<a@b>", "", "88619db570587f35a6761a4982138641");
    expect_digest("<1896.697170952@dbc.mtview.ca.us>", "pass word \xc3\xa9",
                  "07393d3037088cfaef7c843f1100f253");
}
END_TEST

START_TEST(digest_hashes_only_ts_len_bytes)
{
    const char *greeting = "<1896.697170952@dbc.mtview.ca.us> trailing text";
    char out[33];

    ck_assert_int_eq(pop3a_apop_digest(greeting, 33, "tanstaaf", out), 0);
    ck_assert_str_eq(out, "c4c9334bac560ecc979e58001b3e22fb");
}
END_TEST

START_TEST(digest_refuses_null_arguments)
{
    char out[33];

    ck_assert_int_eq(pop3a_apop_digest(NULL, 0, "x", out), -1);
    ck_assert_int_eq(pop3a_apop_digest("<a@b>", 5, NULL, out), -1);
    ck_assert_int_eq(pop3a_apop_digest("<a@b>", 5, "x", NULL), -1);
}
END_TEST

static Suite *apop_suite(void)
{
    Suite *s = suite_create("apop");
    TCase *ts = tcase_create("timestamp");
    TCase *dg = tcase_create("digest");

    tcase_add_test(ts, rfc1939_greeting_timestamp_is_found);
    tcase_add_test(ts, dovecot_greeting_timestamp_is_found);
    tcase_add_test(ts, first_well_formed_candidate_wins);
    tcase_add_test(ts, timestamps_not_of_the_form_are_refused);
    tcase_add_test(ts, timestamp_of_255_passes_and_256_is_refused);
    suite_add_tcase(s, ts);
    tcase_add_test(dg, rfc1939_digest_vector);
    tcase_add_test(dg, digest_of_other_inputs_matches_md5);
    tcase_add_test(dg, digest_hashes_only_ts_len_bytes);
    tcase_add_test(dg, digest_refuses_null_arguments);
    suite_add_tcase(s, dg);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(apop_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
