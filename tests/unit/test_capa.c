/* Unit tests of lib/protocol/capa.c: CAPA lines into a capability set, and the accessors. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "capa.h"

static void add(struct pop3a_capa *c, const char *line)
{
    ck_assert_int_eq(pop3a_capa_add_line(c, line, strlen(line)), 0);
}

static void add_all(struct pop3a_capa *c, const char *const *lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        add(c, lines[i]);
}

#define ADD_ALL(c, lines) add_all((c), (lines), sizeof(lines) / sizeof((lines)[0]))

/* ------------------------------------------------------- real CAPA replies */

/* From /work/shared/reference/dovecot-2.3-session-transcript.txt, before STLS. */
static const char *const dovecot_before_stls[] = {
    "CAPA",       "TOP",  "UIDL", "RESP-CODES",
    "PIPELINING", "AUTH-RESP-CODE", "STLS", "USER",
    "SASL PLAIN LOGIN CRAM-MD5 DIGEST-MD5 SCRAM-SHA-1 SCRAM-SHA-256",
};

START_TEST(dovecot_capa_before_stls)
{
    struct pop3a_capa c;

    pop3a_capa_init(&c);
    ADD_ALL(&c, dovecot_before_stls);
    ck_assert_uint_eq(c.flags, POP3A_CAPA_TOP | POP3A_CAPA_UIDL | POP3A_CAPA_RESP_CODES |
                                   POP3A_CAPA_PIPELINING | POP3A_CAPA_AUTH_RESP_CODE |
                                   POP3A_CAPA_STLS | POP3A_CAPA_USER | POP3A_CAPA_SASL);
    /* DIGEST-MD5 is not one of ours: ignored. */
    ck_assert_uint_eq(c.mechs, POP3A_MECH_USER | POP3A_MECH_PLAIN | POP3A_MECH_LOGIN |
                                   POP3A_MECH_CRAM_MD5 | POP3A_MECH_SCRAM_SHA_1 |
                                   POP3A_MECH_SCRAM_SHA_256);
    ck_assert(c.login_delay == -1);
    ck_assert(c.expire == -1);
    ck_assert_ptr_null(c.implementation);
    pop3a_capa_clear(&c);
}
END_TEST

START_TEST(dovecot_capa_after_login_has_no_stls_or_mechanisms)
{
    static const char *const after_login[] = {
        "CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE",
    };
    struct pop3a_capa c;

    pop3a_capa_init(&c);
    ADD_ALL(&c, after_login);
    ck_assert_uint_eq(c.flags, POP3A_CAPA_TOP | POP3A_CAPA_UIDL | POP3A_CAPA_RESP_CODES |
                                   POP3A_CAPA_PIPELINING | POP3A_CAPA_AUTH_RESP_CODE);
    ck_assert_uint_eq(c.mechs, 0);
    pop3a_capa_clear(&c);
}
END_TEST

/* RFC 2449 s5, the example reply to CAPA. */
START_TEST(rfc2449_example)
{
    static const char *const example[] = {
        "TOP",        "USER",      "SASL CRAM-MD5 KERBEROS_V4",
        "RESP-CODES", "LOGIN-DELAY 900", "PIPELINING",
        "EXPIRE 60",  "UIDL",      "IMPLEMENTATION Shlemazle-Plotz-v302",
    };
    struct pop3a_capa c;

    pop3a_capa_init(&c);
    ADD_ALL(&c, example);
    ck_assert_uint_eq(c.flags, POP3A_CAPA_TOP | POP3A_CAPA_USER | POP3A_CAPA_SASL |
                                   POP3A_CAPA_RESP_CODES | POP3A_CAPA_LOGIN_DELAY |
                                   POP3A_CAPA_PIPELINING | POP3A_CAPA_EXPIRE | POP3A_CAPA_UIDL |
                                   POP3A_CAPA_IMPLEMENTATION);
    ck_assert_uint_eq(c.mechs, POP3A_MECH_USER | POP3A_MECH_CRAM_MD5);
    ck_assert(c.login_delay == 900);
    ck_assert(c.expire == 60);
    ck_assert_str_eq(c.implementation, "Shlemazle-Plotz-v302");
    pop3a_capa_clear(&c);
    ck_assert_uint_eq(c.flags, 0);
    ck_assert_ptr_null(c.implementation);
}
END_TEST

/* ------------------------------------------------------------ line forms */

START_TEST(keywords_are_case_insensitive_and_spaces_tolerated)
{
    struct pop3a_capa c;

    pop3a_capa_init(&c);
    add(&c, "top");
    add(&c, "  Pipelining");
    add(&c, "\tuidl  ");
    add(&c, "sasl   scram-sha-256\t plain  ");
    add(&c, "stls");
    add(&c, "utf8 USER");
    add(&c, "lang");
    ck_assert_uint_eq(c.flags, POP3A_CAPA_TOP | POP3A_CAPA_PIPELINING | POP3A_CAPA_UIDL |
                                   POP3A_CAPA_SASL | POP3A_CAPA_STLS | POP3A_CAPA_UTF8 |
                                   POP3A_CAPA_LANG);
    ck_assert_uint_eq(c.mechs, POP3A_MECH_SCRAM_SHA_256 | POP3A_MECH_PLAIN);
    pop3a_capa_clear(&c);
}
END_TEST

START_TEST(login_delay_forms)
{
    struct pop3a_capa c;

    pop3a_capa_init(&c);
    add(&c, "LOGIN-DELAY 900");
    ck_assert_uint_eq(c.flags, POP3A_CAPA_LOGIN_DELAY);
    ck_assert(c.login_delay == 900);
    add(&c, "LOGIN-DELAY 0 USER");
    ck_assert(c.login_delay == 0);
    add(&c, "login-delay   60   user");
    ck_assert(c.login_delay == 60);
    add(&c, "LOGIN-DELAY 4294967295");
    ck_assert(c.login_delay == (int64_t)UINT32_MAX);
    /* Unreadable numbers: announced, value unknown (-1). */
    add(&c, "LOGIN-DELAY 4294967296");
    ck_assert(c.login_delay == -1);
    add(&c, "LOGIN-DELAY 30");
    add(&c, "LOGIN-DELAY -5");
    ck_assert(c.login_delay == -1);
    add(&c, "LOGIN-DELAY 30");
    add(&c, "LOGIN-DELAY");
    ck_assert(c.login_delay == -1);
    add(&c, "LOGIN-DELAY 3O");
    ck_assert(c.login_delay == -1);
    add(&c, "LOGIN-DELAY 99999999999999999999999999");
    ck_assert(c.login_delay == -1);
    ck_assert_uint_eq(c.flags, POP3A_CAPA_LOGIN_DELAY);
    pop3a_capa_clear(&c);
}
END_TEST

START_TEST(expire_forms)
{
    struct pop3a_capa c;

    pop3a_capa_init(&c);
    add(&c, "EXPIRE NEVER");
    ck_assert_uint_eq(c.flags, POP3A_CAPA_EXPIRE);
    ck_assert(c.expire == (int64_t)UINT32_MAX);
    add(&c, "EXPIRE 0");
    ck_assert(c.expire == 0);
    add(&c, "expire never user");
    ck_assert(c.expire == (int64_t)UINT32_MAX);
    add(&c, "EXPIRE 31 USER");
    ck_assert(c.expire == 31);
    add(&c, "EXPIRE NEVERMORE");
    ck_assert(c.expire == -1);
    add(&c, "EXPIRE");
    ck_assert(c.expire == -1);
    add(&c, "EXPIRE -1");
    ck_assert(c.expire == -1);
    ck_assert_uint_eq(c.flags, POP3A_CAPA_EXPIRE);
    pop3a_capa_clear(&c);
}
END_TEST

START_TEST(unknown_lines_are_ignored)
{
    static const char *const junk[] = {
        "", " ", "CAPA", "X-DOVECOT-FOO bar", "TOPX", "TO", "USERS", "SASLPLAIN",
        "APOP", "LAST", "STLS2", "IMPLEMENTATIONS x", "\x01\x02", "EXPIRE-NEVER",
    };
    struct pop3a_capa c;

    pop3a_capa_init(&c);
    ADD_ALL(&c, junk);
    ck_assert_uint_eq(c.flags, 0);
    ck_assert_uint_eq(c.mechs, 0);
    ck_assert(c.login_delay == -1);
    ck_assert(c.expire == -1);
    ck_assert_ptr_null(c.implementation);
    ck_assert_int_eq(pop3a_capa_add_line(&c, NULL, 0), 0);
    ck_assert_int_eq(pop3a_capa_add_line(NULL, "TOP", 3), 0);
    pop3a_capa_clear(&c);
}
END_TEST

START_TEST(sasl_ignores_unknown_mechanisms)
{
    struct pop3a_capa c;

    pop3a_capa_init(&c);
    add(&c, "SASL GSSAPI DIGEST-MD5 SCRAM-SHA-256-PLUS NTLM");
    ck_assert_uint_eq(c.flags, POP3A_CAPA_SASL);
    ck_assert_uint_eq(c.mechs, 0);
    add(&c, "SASL");
    ck_assert_uint_eq(c.mechs, 0);
    add(&c, "SASL XOAUTH2 OAUTHBEARER EXTERNAL");
    ck_assert_uint_eq(c.mechs, POP3A_MECH_XOAUTH2 | POP3A_MECH_OAUTHBEARER | POP3A_MECH_EXTERNAL);
    pop3a_capa_clear(&c);
}
END_TEST

START_TEST(line_is_bounded_by_len)
{
    struct pop3a_capa c;

    pop3a_capa_init(&c);
    ck_assert_int_eq(pop3a_capa_add_line(&c, "TOPIC", 3), 0);
    ck_assert_uint_eq(c.flags, POP3A_CAPA_TOP);
    ck_assert_int_eq(pop3a_capa_add_line(&c, "SASL PLAINLOGIN", 10), 0);
    ck_assert_uint_eq(c.mechs, POP3A_MECH_PLAIN);
    /* A NUL glued to a keyword makes it unknown. */
    ck_assert_int_eq(pop3a_capa_add_line(&c, "UIDL\0", 5), 0);
    ck_assert_uint_eq(c.flags & POP3A_CAPA_UIDL, 0);
    pop3a_capa_clear(&c);
}
END_TEST

/* --------------------------------------------------------- IMPLEMENTATION */

START_TEST(implementation_text_is_copied_whole)
{
    char line[] = "IMPLEMENTATION  Dovecot (Debian) 2.3.19  ";
    struct pop3a_capa c;

    pop3a_capa_init(&c);
    add(&c, line);
    memset(line, 'X', sizeof line - 1); /* the capa holds its own copy */
    ck_assert_uint_eq(c.flags, POP3A_CAPA_IMPLEMENTATION);
    ck_assert_str_eq(c.implementation, "Dovecot (Debian) 2.3.19");
    add(&c, "implementation second");
    ck_assert_str_eq(c.implementation, "second");
    add(&c, "IMPLEMENTATION");
    ck_assert_str_eq(c.implementation, "");
    ck_assert_uint_eq(c.flags, POP3A_CAPA_IMPLEMENTATION);
    pop3a_capa_clear(&c);
}
END_TEST

START_TEST(implementation_is_capped_and_control_characters_replaced)
{
    static const char hostile[] = "IMPLEMENTATION a\x1b[2Jb\0c\x7f";
    char line[600];
    size_t prefix = strlen("IMPLEMENTATION ");
    struct pop3a_capa c;

    memcpy(line, "IMPLEMENTATION ", prefix);
    memset(line + prefix, 'v', 500);
    pop3a_capa_init(&c);
    ck_assert_int_eq(pop3a_capa_add_line(&c, line, prefix + 500), 0);
    ck_assert_uint_eq(strlen(c.implementation), 255);

    ck_assert_int_eq(pop3a_capa_add_line(&c, hostile, sizeof hostile - 1), 0);
    ck_assert_str_eq(c.implementation, "a?[2Jb?c?");
    pop3a_capa_clear(&c);
}
END_TEST

/* ------------------------------------------------------------------- copy */

START_TEST(copy_is_deep_and_replaces_dst)
{
    struct pop3a_capa src, dst;

    pop3a_capa_init(&src);
    pop3a_capa_init(&dst);
    add(&dst, "IMPLEMENTATION old"); /* must be freed by the copy (valgrind) */
    add(&dst, "STLS");
    add(&src, "TOP");
    add(&src, "SASL PLAIN");
    add(&src, "LOGIN-DELAY 5");
    add(&src, "EXPIRE NEVER");
    add(&src, "IMPLEMENTATION new one");

    ck_assert_int_eq(pop3a_capa_copy(&dst, &src), 0);
    ck_assert_uint_eq(dst.flags, src.flags);
    ck_assert_uint_eq(dst.mechs, src.mechs);
    ck_assert(dst.login_delay == 5);
    ck_assert(dst.expire == (int64_t)UINT32_MAX);
    ck_assert_ptr_ne(dst.implementation, src.implementation);
    ck_assert_str_eq(dst.implementation, "new one");

    pop3a_capa_clear(&src);
    ck_assert_str_eq(dst.implementation, "new one");

    /* Copying an empty set clears dst; copying onto itself is a no-op. */
    ck_assert_int_eq(pop3a_capa_copy(&dst, &dst), 0);
    ck_assert_str_eq(dst.implementation, "new one");
    ck_assert_int_eq(pop3a_capa_copy(&dst, &src), 0);
    ck_assert_ptr_null(dst.implementation);
    ck_assert_uint_eq(dst.flags, 0);
    ck_assert(dst.login_delay == -1);
    pop3a_capa_clear(&dst);
}
END_TEST

/* ------------------------------------------------------- mechanism names */

START_TEST(mechanism_names_round_trip)
{
    static const unsigned sasl_bits[] = {
        POP3A_MECH_PLAIN,       POP3A_MECH_LOGIN,         POP3A_MECH_CRAM_MD5,
        POP3A_MECH_SCRAM_SHA_1, POP3A_MECH_SCRAM_SHA_256, POP3A_MECH_XOAUTH2,
        POP3A_MECH_OAUTHBEARER, POP3A_MECH_EXTERNAL,
    };
    for (size_t i = 0; i < sizeof sasl_bits / sizeof sasl_bits[0]; i++) {
        const char *name = pop3a_mech_name(sasl_bits[i]);
        ck_assert_ptr_nonnull(name);
        ck_assert_uint_eq(pop3a_mech_from_name(name, strlen(name)), sasl_bits[i]);
    }
    ck_assert_str_eq(pop3a_mech_name(POP3A_MECH_SCRAM_SHA_256), "SCRAM-SHA-256");
    ck_assert_uint_eq(pop3a_mech_from_name("scram-sha-1", 11), POP3A_MECH_SCRAM_SHA_1);
    ck_assert_uint_eq(pop3a_mech_from_name("Cram-Md5", 8), POP3A_MECH_CRAM_MD5);
    ck_assert_uint_eq(pop3a_mech_from_name("SCRAM-SHA-1", 5), 0); /* "SCRAM" */
    ck_assert_uint_eq(pop3a_mech_from_name("SCRAM-SHA-1-PLUS", 16), 0);
    ck_assert_uint_eq(pop3a_mech_from_name("USER", 4), 0);
    ck_assert_uint_eq(pop3a_mech_from_name("APOP", 4), 0);
    ck_assert_uint_eq(pop3a_mech_from_name("", 0), 0);
    ck_assert_uint_eq(pop3a_mech_from_name(NULL, 5), 0);
    ck_assert_ptr_null(pop3a_mech_name(POP3A_MECH_USER));
    ck_assert_ptr_null(pop3a_mech_name(POP3A_MECH_APOP));
    ck_assert_ptr_null(pop3a_mech_name(0));
    ck_assert_ptr_null(pop3a_mech_name(POP3A_MECH_PLAIN | POP3A_MECH_LOGIN));
    ck_assert_ptr_null(pop3a_mech_name(1u << 30));
}
END_TEST

/* -------------------------------------------------------- public accessors */

START_TEST(accessors_report_the_set_and_tolerate_null)
{
    struct pop3a_capa c;

    ck_assert_uint_eq(pop3a_capa_flags(NULL), 0);
    ck_assert_uint_eq(pop3a_capa_mechs(NULL), 0);
    ck_assert(pop3a_capa_login_delay(NULL) == -1);
    ck_assert(pop3a_capa_expire(NULL) == -1);
    ck_assert_ptr_null(pop3a_capa_implementation(NULL));

    pop3a_capa_init(&c);
    ck_assert(pop3a_capa_login_delay(&c) == -1);
    ck_assert(pop3a_capa_expire(&c) == -1);
    add(&c, "USER");
    add(&c, "SASL LOGIN");
    add(&c, "LOGIN-DELAY 120");
    add(&c, "EXPIRE 7");
    add(&c, "IMPLEMENTATION x");
    ck_assert_uint_eq(pop3a_capa_flags(&c), POP3A_CAPA_USER | POP3A_CAPA_SASL |
                                                POP3A_CAPA_LOGIN_DELAY | POP3A_CAPA_EXPIRE |
                                                POP3A_CAPA_IMPLEMENTATION);
    ck_assert_uint_eq(pop3a_capa_mechs(&c), POP3A_MECH_USER | POP3A_MECH_LOGIN);
    ck_assert(pop3a_capa_login_delay(&c) == 120);
    ck_assert(pop3a_capa_expire(&c) == 7);
    ck_assert_str_eq(pop3a_capa_implementation(&c), "x");
    pop3a_capa_clear(&c);
}
END_TEST

static Suite *capa_suite(void)
{
    Suite *s = suite_create("capa");
    TCase *real = tcase_create("replies");
    TCase *forms = tcase_create("forms");
    TCase *impl = tcase_create("implementation");
    TCase *misc = tcase_create("copy_mechs_accessors");

    tcase_add_test(real, dovecot_capa_before_stls);
    tcase_add_test(real, dovecot_capa_after_login_has_no_stls_or_mechanisms);
    tcase_add_test(real, rfc2449_example);
    suite_add_tcase(s, real);
    tcase_add_test(forms, keywords_are_case_insensitive_and_spaces_tolerated);
    tcase_add_test(forms, login_delay_forms);
    tcase_add_test(forms, expire_forms);
    tcase_add_test(forms, unknown_lines_are_ignored);
    tcase_add_test(forms, sasl_ignores_unknown_mechanisms);
    tcase_add_test(forms, line_is_bounded_by_len);
    suite_add_tcase(s, forms);
    tcase_add_test(impl, implementation_text_is_copied_whole);
    tcase_add_test(impl, implementation_is_capped_and_control_characters_replaced);
    suite_add_tcase(s, impl);
    tcase_add_test(misc, copy_is_deep_and_replaces_dst);
    tcase_add_test(misc, mechanism_names_round_trip);
    tcase_add_test(misc, accessors_report_the_set_and_tolerate_null);
    suite_add_tcase(s, misc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(capa_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
