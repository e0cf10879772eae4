/* Unit tests added by the review of the pure and security modules: option
 * strings that reach the wire, and the field splitter and number reader that
 * listing.c and capa.c share, the SCRAM salt cap. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "capa.h"
#include "listing.h"
#include "options.h"
#include "sasl.h"

/* ------------------------------------------------------------ verify name */

/* The verify name goes out as SNI and stands in for the host in traces and
 * errors, so it follows the host's rule: no CR or LF; a refused name leaves
 * the previous one in place. */
START_TEST(verify_name_with_a_line_end_is_refused)
{
    static const char *const bad[] = {"mail.example.com\r\nQUIT", "mail\n", "\rmail", "\n"};
    pop3a_options *o = pop3a_options_new();

    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(pop3a_options_set_verify_name(o, "mail.example.com"), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(pop3a_options_set_verify_name(o, bad[i]), -1);
        ck_assert_str_eq(o->verify_name, "mail.example.com");
    }
    ck_assert_int_eq(pop3a_options_set_verify_name(o, NULL), 0);
    ck_assert_ptr_null(o->verify_name);
    pop3a_options_free(o);
}
END_TEST

/* ---------------------------------------------------------------- fields */

static size_t next_of(pop3a_fields *f, const char **field)
{
    return pop3a_fields_next(f, field);
}

START_TEST(fields_split_on_runs_of_spaces_and_tabs)
{
    static const char text[] = " \t12 \t\t abc\t";
    pop3a_fields f;
    const char *field;

    pop3a_fields_init(&f, text, sizeof text - 1);
    ck_assert_uint_eq(next_of(&f, &field), 2);
    ck_assert(memcmp(field, "12", 2) == 0);
    ck_assert_uint_eq(next_of(&f, &field), 3);
    ck_assert(memcmp(field, "abc", 3) == 0);
    ck_assert_uint_eq(next_of(&f, &field), 0);
    ck_assert_uint_eq(next_of(&f, &field), 0);
}
END_TEST

/* Counted text: a NUL is an ordinary byte, and nothing past len is read. */
START_TEST(fields_are_counted_not_nul_terminated)
{
    static const char text[] = "a\0b c|never";
    pop3a_fields f;
    const char *field;

    pop3a_fields_init(&f, text, 5);
    ck_assert_uint_eq(next_of(&f, &field), 3);
    ck_assert(memcmp(field, "a\0b", 3) == 0);
    ck_assert_uint_eq(next_of(&f, &field), 1);
    ck_assert_int_eq(field[0], 'c');
    ck_assert_uint_eq(next_of(&f, &field), 0);
}
END_TEST

START_TEST(fields_rest_trims_both_ends_and_uses_the_fields_up)
{
    static const char text[] = "IMPLEMENTATION \t Shlemazle Plotz v302 \t ";
    pop3a_fields f;
    const char *field, *rest;

    pop3a_fields_init(&f, text, sizeof text - 1);
    ck_assert_uint_eq(next_of(&f, &field), strlen("IMPLEMENTATION"));
    ck_assert_uint_eq(pop3a_fields_rest(&f, &rest), strlen("Shlemazle Plotz v302"));
    ck_assert(memcmp(rest, "Shlemazle Plotz v302", strlen("Shlemazle Plotz v302")) == 0);
    ck_assert_uint_eq(next_of(&f, &field), 0);

    pop3a_fields_init(&f, " \t ", 3);
    ck_assert_uint_eq(pop3a_fields_rest(&f, &rest), 0);
}
END_TEST

START_TEST(u32_is_zero_to_uint32_max)
{
    uint32_t v = 7;

    ck_assert_int_eq(pop3a_parse_u32("4294967295", 10, &v), 0);
    ck_assert(v == UINT32_MAX);
    ck_assert_int_eq(pop3a_parse_u32("0", 1, &v), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(pop3a_parse_u32("00000000004294967295", 20, &v), 0);
    ck_assert(v == UINT32_MAX);
    v = 7;
    ck_assert_int_eq(pop3a_parse_u32("4294967296", 10, &v), -1);
    ck_assert_int_eq(pop3a_parse_u32("18446744073709551616", 20, &v), -1);
    ck_assert_int_eq(pop3a_parse_u32("", 0, &v), -1);
    ck_assert_int_eq(pop3a_parse_u32("+1", 2, &v), -1);
    ck_assert_int_eq(pop3a_parse_u32("1 ", 2, &v), -1);
    ck_assert_uint_eq(v, 7); /* untouched on error */
}
END_TEST

/* CAPA counts follow the same rules as listing numbers, leading zeros too. */
START_TEST(capa_counts_read_like_listing_numbers)
{
    static const char line[] = "EXPIRE\t00004294967295 USER";
    struct pop3a_capa c;

    pop3a_capa_init(&c);
    ck_assert_int_eq(pop3a_capa_add_line(&c, line, sizeof line - 1), 0);
    ck_assert(c.expire == (int64_t)UINT32_MAX);
    ck_assert_int_eq(pop3a_capa_add_line(&c, "LOGIN-DELAY 1\0002", 15), 0);
    ck_assert(c.login_delay == -1);
    pop3a_capa_clear(&c);
}
END_TEST

/* ------------------------------------------------------------ SCRAM salt */

/* A server-first message with a salt of salt_len bytes; the SCRAM step's
 * result. */
static pop3a_sasl_rc scram_with_salt_of(size_t salt_len)
{
    unsigned char *salt = calloc(1, salt_len);
    unsigned char *out = NULL;
    size_t out_len = 0;
    pop3a_sasl *s = pop3a_sasl_new(POP3A_MECH_SCRAM_SHA_256, "user", "pencil", NULL, "cnonce");

    ck_assert_ptr_nonnull(salt);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(pop3a_sasl_start(s, &out, &out_len), POP3A_SASL_CONTINUE);
    pop3a_sasl_response_free(out, out_len);

    char *salt_b64 = pop3a_b64_encode(salt, salt_len, NULL);
    ck_assert_ptr_nonnull(salt_b64);
    size_t cap = strlen(salt_b64) + 64;
    char *first = malloc(cap);
    ck_assert_ptr_nonnull(first);
    int n = snprintf(first, cap, "r=cnonceSERVER,s=%s,i=4096", salt_b64);
    pop3a_sasl_rc rc =
        pop3a_sasl_step(s, (const unsigned char *)first, (size_t)n, &out, &out_len);
    pop3a_sasl_response_free(out, out_len);
    free(first);
    free(salt_b64);
    free(salt);
    pop3a_sasl_free(s);
    return rc;
}

/* RFC 5802 bounds no salt; a hostile one of gigabytes would overflow the int
 * PBKDF2 takes. 1024 bytes is far above any real salt. */
START_TEST(scram_salt_above_1024_bytes_is_refused)
{
    ck_assert_int_eq(scram_with_salt_of(1024), POP3A_SASL_CONTINUE);
    ck_assert_int_eq(scram_with_salt_of(1025), POP3A_SASL_ERROR);
}
END_TEST

static Suite *review_suite(void)
{
    Suite *s = suite_create("review");
    TCase *opts = tcase_create("options");
    TCase *fields = tcase_create("fields");

    tcase_add_test(opts, verify_name_with_a_line_end_is_refused);
    suite_add_tcase(s, opts);
    tcase_add_test(fields, fields_split_on_runs_of_spaces_and_tabs);
    tcase_add_test(fields, fields_are_counted_not_nul_terminated);
    tcase_add_test(fields, fields_rest_trims_both_ends_and_uses_the_fields_up);
    tcase_add_test(fields, u32_is_zero_to_uint32_max);
    tcase_add_test(fields, capa_counts_read_like_listing_numbers);
    suite_add_tcase(s, fields);
    TCase *scram = tcase_create("scram");
    tcase_add_test(scram, scram_salt_above_1024_bytes_is_refused);
    suite_add_tcase(s, scram);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(review_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
