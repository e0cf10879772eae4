/* Unit tests of lib/protocol/listing.c: STAT, LIST and UIDL number decoding. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "listing.h"

/* Parsers take counted text; these wrappers pass C literals. */
static int stat_of(const char *text, uint32_t *count, uint64_t *octets)
{
    return pop3a_parse_stat(text, strlen(text), count, octets);
}

static int list_of(const char *line, uint32_t *msg, uint64_t *size)
{
    return pop3a_parse_list_line(line, strlen(line), msg, size);
}

static int uidl_of(const char *line, uint32_t *msg, const char **uid, size_t *uid_len)
{
    return pop3a_parse_uidl_line(line, strlen(line), msg, uid, uid_len);
}

static int u64_of(const char *s, uint64_t *v)
{
    return pop3a_parse_u64(s, strlen(s), v);
}

/* STAT and a LIST line both read a number (messages, or a message) and an
 * octet count: one shape of check serves both. */
typedef int (*number_pair_fn)(const char *text, uint32_t *n, uint64_t *octets);

typedef struct {
    const char *text;
    uint32_t n;
    uint64_t octets;
} number_pair;

static void expect_pair(number_pair_fn parse, const number_pair *want)
{
    uint32_t n = 9;
    uint64_t o = 9;

    ck_assert_msg(parse(want->text, &n, &o) == 0, "refused \"%s\"", want->text);
    ck_assert_uint_eq(n, want->n);
    ck_assert(o == want->octets);
}

/* Every one of bad[0..count) is refused and leaves both outputs at `untouched`. */
static void expect_pairs_refused(number_pair_fn parse, const char *const *bad, size_t count,
                                 unsigned untouched)
{
    for (size_t i = 0; i < count; i++) {
        uint32_t n = untouched;
        uint64_t o = untouched;
        ck_assert_msg(parse(bad[i], &n, &o) == -1, "accepted \"%s\"", bad[i]);
        ck_assert_uint_eq(n, untouched);
        ck_assert(o == untouched);
    }
}

/* ---------------------------------------------------------------- numbers */

START_TEST(u64_accepts_zero_to_uint64_max)
{
    uint64_t v = 1;

    ck_assert_int_eq(u64_of("0", &v), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(u64_of("18446744073709551615", &v), 0);
    ck_assert(v == UINT64_MAX);
    ck_assert_int_eq(u64_of("000000000000000000000000042", &v), 0);
    ck_assert(v == 42);
}
END_TEST

START_TEST(u64_refuses_overflow_sign_and_non_digits)
{
    static const char *const bad[] = {
        "18446744073709551616",  /* UINT64_MAX + 1 */
        "18446744073709551620",  /* overflow in the last digit */
        "99999999999999999999",  /* 20 digits, beyond */
        "184467440737095516150", /* 21 digits */
        "-1", "+1", "", " 1", "1 ", "0x10", "1a", "\xd9\xa3",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v = 77;
        ck_assert_msg(u64_of(bad[i], &v) == -1, "accepted \"%s\"", bad[i]);
        ck_assert(v == 77);
    }
    ck_assert_int_eq(pop3a_parse_u64(NULL, 0, &(uint64_t){0}), -1);
    /* len bounds the digits: "12" of "123". */
    {
        uint64_t v = 0;
        ck_assert_int_eq(pop3a_parse_u64("123", 2, &v), 0);
        ck_assert(v == 12);
    }
}
END_TEST

/* ------------------------------------------------------------------- STAT */

static const number_pair good_stats[] = {
    {"59 10693206", 59, 10693206}, /* Dovecot transcript */
    {"0 0", 0, 0},                 /* empty maildrop */
    {"4294967295 18446744073709551615", UINT32_MAX, UINT64_MAX},
    /* Extra spaces and trailing text are tolerated. */
    {"2   320", 2, 320},
    {"  3 400", 3, 400},
    {"4 500 messages (500 octets)", 4, 500},
    {"5\t600\t", 5, 600},
};

START_TEST(stat_reads_count_and_octets)
{
    expect_pair(stat_of, &good_stats[_i]);
}
END_TEST

/* A real server sent "+OK 33852 -1972428639": an error, never a wrapped size. */
START_TEST(stat_refuses_negative_overflow_and_garbage)
{
    static const char *const bad[] = {
        "33852 -1972428639",
        "-1 100",
        "4294967296 1",            /* UINT32_MAX + 1 messages */
        "1 18446744073709551616",  /* UINT64_MAX + 1 octets */
        "1 99999999999999999999999",
        "",
        " ",
        "12",
        "12 ",
        "abc def",
        "1 2x",
        "1x 2",
        "+1 2",
        "1 +2",
        "1,2",
        "1\x01 2",
    };
    expect_pairs_refused(stat_of, bad, sizeof bad / sizeof bad[0], 7);
    ck_assert_int_eq(pop3a_parse_stat(NULL, 0, &(uint32_t){0}, &(uint64_t){0}), -1);
}
END_TEST

START_TEST(stat_stops_at_len)
{
    uint32_t n = 0;
    uint64_t o = 0;

    ck_assert_int_eq(pop3a_parse_stat("2 3456789", 5, &n, &o), 0);
    ck_assert(o == 345);
    /* a NUL inside the counted text is not a separator */
    ck_assert_int_eq(pop3a_parse_stat("2 3\0 4", 6, &n, &o), -1);
}
END_TEST

/* ------------------------------------------------------------------- LIST */

static const number_pair good_list_lines[] = {
    {"1 2235", 1, 2235},
    {"4294967295 18446744073709551615", UINT32_MAX, UINT64_MAX},
    {"7 0", 7, 0}, /* an empty message */
    {"2    200", 2, 200},
    {"3 300 extra info", 3, 300},
};

START_TEST(list_line_reads_msg_and_size)
{
    expect_pair(list_of, &good_list_lines[_i]);
}
END_TEST

START_TEST(list_line_refuses_msg_zero_and_out_of_range)
{
    static const char *const bad[] = {
        "0 100",                  /* messages are numbered from 1 */
        "4294967296 100",         /* UINT32_MAX + 1 */
        "18446744073709551616 1", /* beyond 64 bits too */
        "1 18446744073709551616", /* UINT64_MAX + 1 */
        "-1 100",
        "1 -100",
        "1 -1972428639",
        "",
        "1",
        "1 ",
        "x 1",
        "1 1.5",
        "1 1e3",
        "\t",
    };
    expect_pairs_refused(list_of, bad, sizeof bad / sizeof bad[0], 5);
}
END_TEST

/* ------------------------------------------------------------------- UIDL */

START_TEST(uidl_line_points_into_the_line)
{
    const char *line = "1 000000016b07986b"; /* Dovecot transcript */
    const char *uid = NULL;
    size_t len = 0;
    uint32_t m = 0;

    ck_assert_int_eq(uidl_of(line, &m, &uid, &len), 0);
    ck_assert_uint_eq(m, 1);
    ck_assert_ptr_eq(uid, line + 2);
    ck_assert_uint_eq(len, 16);

    line = "2   QhdPYR:00=;>~!  trailing words";
    ck_assert_int_eq(uidl_of(line, &m, &uid, &len), 0);
    ck_assert_uint_eq(m, 2);
    ck_assert_uint_eq(len, strlen("QhdPYR:00=;>~!"));
    ck_assert_int_eq(memcmp(uid, "QhdPYR:00=;>~!", len), 0);

    ck_assert_int_eq(uidl_of("4294967295 x", &m, &uid, &len), 0);
    ck_assert_uint_eq(m, UINT32_MAX);
    ck_assert_uint_eq(len, 1);
}
END_TEST

/* RFC 1939 s7: 1 to 70 characters, each 0x21..0x7E. */
START_TEST(uidl_uid_of_70_passes_and_71_is_refused)
{
    char line[128];
    const char *uid;
    size_t len;
    uint32_t m;

    strcpy(line, "9 ");
    memset(line + 2, '!', 70);
    line[72] = '\0';
    ck_assert_int_eq(uidl_of(line, &m, &uid, &len), 0);
    ck_assert_uint_eq(len, 70);
    memset(line + 2, '~', 71);
    line[73] = '\0';
    ck_assert_int_eq(uidl_of(line, &m, &uid, &len), -1);
}
END_TEST

START_TEST(uidl_line_refuses_bad_msg_and_bad_uid)
{
    static const char *const bad[] = {
        "0 abc",          /* message 0 */
        "4294967296 abc", /* UINT32_MAX + 1 */
        "-1 abc",
        "1",
        "1 ",
        "",
        "abc",
        "1 ab\001c",      /* control character */
        "1 ab\x7f",       /* DEL */
        "1 caf\xc3\xa9",  /* 8-bit */
        "1x abc",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *uid = "untouched";
        size_t len = 99;
        uint32_t m = 3;
        ck_assert_msg(uidl_of(bad[i], &m, &uid, &len) == -1, "accepted \"%s\"", bad[i]);
        ck_assert_uint_eq(m, 3);
        ck_assert_uint_eq(len, 99);
        ck_assert_str_eq(uid, "untouched");
    }
    /* A NUL in the counted uid is a control character too. */
    {
        const char *uid;
        size_t len;
        uint32_t m;
        ck_assert_int_eq(pop3a_parse_uidl_line("1 ab\0cd", 7, &m, &uid, &len), -1);
    }
}
END_TEST

static Suite *listing_suite(void)
{
    Suite *s = suite_create("listing");
    TCase *num = tcase_create("numbers");
    TCase *stat = tcase_create("stat");
    TCase *list = tcase_create("list");
    TCase *uidl = tcase_create("uidl");

    tcase_add_test(num, u64_accepts_zero_to_uint64_max);
    tcase_add_test(num, u64_refuses_overflow_sign_and_non_digits);
    suite_add_tcase(s, num);
    tcase_add_loop_test(stat, stat_reads_count_and_octets, 0,
                        sizeof good_stats / sizeof good_stats[0]);
    tcase_add_test(stat, stat_refuses_negative_overflow_and_garbage);
    tcase_add_test(stat, stat_stops_at_len);
    suite_add_tcase(s, stat);
    tcase_add_loop_test(list, list_line_reads_msg_and_size, 0,
                        sizeof good_list_lines / sizeof good_list_lines[0]);
    tcase_add_test(list, list_line_refuses_msg_zero_and_out_of_range);
    suite_add_tcase(s, list);
    tcase_add_test(uidl, uidl_line_points_into_the_line);
    tcase_add_test(uidl, uidl_uid_of_70_passes_and_71_is_refused);
    tcase_add_test(uidl, uidl_line_refuses_bad_msg_and_bad_uid);
    suite_add_tcase(s, uidl);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(listing_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
