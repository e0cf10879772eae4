/*
 * SOCKS5 (RFC 1928, RFC 1929), the pure part: the proxy URL parsed strictly,
 * the request bytes exact, and each reply read at every split point, with
 * every malformed or refusing reply failing with its own text.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socks5.h"

START_TEST(url_socks5h_with_auth)
{
    pop3a_socks5_url u;
    ck_assert_int_eq(pop3a_socks5_url_parse("socks5h://alice:s%40cret@proxy.example:1080", &u), 0);
    ck_assert_int_eq(u.remote_dns, 1);
    ck_assert_str_eq(u.host, "proxy.example");
    ck_assert_uint_eq(u.port, 1080);
    ck_assert_int_eq(u.has_auth, 1);
    ck_assert_str_eq(u.user, "alice");
    ck_assert_str_eq(u.pass, "s@cret");
}
END_TEST

START_TEST(url_socks5_ipv6_without_auth)
{
    pop3a_socks5_url u;
    ck_assert_int_eq(pop3a_socks5_url_parse("socks5://[::1]:9050", &u), 0);
    ck_assert_int_eq(u.remote_dns, 0);
    ck_assert_str_eq(u.host, "::1");
    ck_assert_uint_eq(u.port, 9050);
    ck_assert_int_eq(u.has_auth, 0);
}
END_TEST

static const char *const bad_urls[] = {
    "http://proxy:1080",          /* scheme */
    "socks4://proxy:1080",
    "SOCKS5://proxy:1080",
    "socks5h://proxy",            /* no port */
    "socks5h://proxy:",
    "socks5h://proxy:0",
    "socks5h://proxy:65536",
    "socks5h://proxy:10x0",
    "socks5h://proxy:+80",
    "socks5h://:1080",            /* no host */
    "socks5h://::1:1080",         /* IPv6 without brackets */
    "socks5h://[::1:1080",
    "socks5h://proxy:1080/",      /* a path */
    "socks5h://proxy:1080?x",
    "socks5h://pro xy:1080",      /* space */
    "socks5h://proxy\r\n:1080",   /* CR LF */
    "socks5h://a\tb:1080",
    "socks5h://u@proxy:1080",     /* user without password */
    "socks5h://:p@proxy:1080",    /* empty user */
    "socks5h://u:@proxy:1080",    /* empty password */
    "socks5h://u:p%0d%0a@proxy:1080", /* CR LF encoded */
    "socks5h://u:p%00@proxy:1080",    /* NUL encoded */
    "socks5h://u:p%4@proxy:1080",     /* short escape */
    "socks5h://u:p%zz@proxy:1080",
    "",
};

START_TEST(url_refused)
{
    pop3a_socks5_url u;
    ck_assert_msg(pop3a_socks5_url_parse(bad_urls[_i], &u) == -1, "accepted: %s", bad_urls[_i]);
    ck_assert_int_eq(u.has_auth, 0);
    ck_assert_str_eq(u.pass, "");
}
END_TEST

START_TEST(url_fields_of_255_pass_and_256_are_refused)
{
    char url[700];
    char f255[256], f256[257];
    memset(f255, 'u', 255);
    f255[255] = '\0';
    memset(f256, 'p', 256);
    f256[256] = '\0';
    pop3a_socks5_url u;
    snprintf(url, sizeof url, "socks5h://%s:%s@h:1", f255, f255);
    ck_assert_int_eq(pop3a_socks5_url_parse(url, &u), 0);
    ck_assert_uint_eq(strlen(u.user), 255);
    snprintf(url, sizeof url, "socks5h://%s:x@h:1", f256);
    ck_assert_int_eq(pop3a_socks5_url_parse(url, &u), -1);
    snprintf(url, sizeof url, "socks5h://x:%s@h:1", f256);
    ck_assert_int_eq(pop3a_socks5_url_parse(url, &u), -1);
    ck_assert_int_eq(pop3a_socks5_url_parse(NULL, &u), -1);
}
END_TEST

START_TEST(requests_are_byte_exact)
{
    uint8_t b[POP3A_SOCKS5_MAX_REQUEST];
    ck_assert_uint_eq(pop3a_socks5_greeting(b, 0), 3);
    ck_assert_mem_eq(b, "\x05\x01\x00", 3);
    ck_assert_uint_eq(pop3a_socks5_greeting(b, 1), 4);
    ck_assert_mem_eq(b, "\x05\x02\x00\x02", 4);
    ck_assert_uint_eq(pop3a_socks5_auth_request(b, "al", "pw1"), 8);
    ck_assert_mem_eq(b, "\x01\x02" "al" "\x03" "pw1", 8);
    ck_assert_uint_eq(pop3a_socks5_connect_name(b, "mail.example", 995), 19);
    ck_assert_mem_eq(b, "\x05\x01\x00\x03\x0c" "mail.example" "\x03\xe3", 19);
    const uint8_t v4[4] = {127, 0, 0, 1};
    ck_assert_uint_eq(pop3a_socks5_connect_addr(b, 4, v4, 110), 10);
    ck_assert_mem_eq(b, "\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x6e", 10);
    uint8_t v6[16] = {0};
    v6[15] = 1;
    ck_assert_uint_eq(pop3a_socks5_connect_addr(b, 6, v6, 110), 22);
    ck_assert_mem_eq(b, "\x05\x01\x00\x04", 4);
    ck_assert_mem_eq(b + 4, v6, 16);
    char long_name[257];
    memset(long_name, 'a', 256);
    long_name[256] = '\0';
    ck_assert_uint_eq(pop3a_socks5_connect_name(b, long_name, 1), 0);
    ck_assert_uint_eq(pop3a_socks5_connect_name(b, "", 1), 0);
}
END_TEST

/* Every prefix of a complete reply asks for more; the whole is DONE with
 * exactly its length consumed, also with the target's bytes after it. */
static void check_splits(const uint8_t *reply, size_t len, int which)
{
    uint8_t buf[300];
    memcpy(buf, reply, len);
    memcpy(buf + len, "+OK", 3);
    pop3a_socks5_result r;
    for (size_t cut = 0; cut <= len + 3; cut++) {
        pop3a_socks5_rc rc = which == 0   ? pop3a_socks5_read_method(buf, cut, 1, &r)
                             : which == 1 ? pop3a_socks5_read_auth(buf, cut, &r)
                                          : pop3a_socks5_read_connect(buf, cut, &r);
        if (cut < len) {
            ck_assert_msg(rc == POP3A_SOCKS5_NEED, "cut %zu of %zu", cut, len);
        } else {
            ck_assert_int_eq(rc, POP3A_SOCKS5_DONE);
            ck_assert_uint_eq(r.consumed, len);
        }
    }
}

START_TEST(replies_at_every_split)
{
    check_splits((const uint8_t *)"\x05\x00", 2, 0);
    check_splits((const uint8_t *)"\x05\x02", 2, 0);
    check_splits((const uint8_t *)"\x01\x00", 2, 1);
    check_splits((const uint8_t *)"\x05\x00\x00\x01\x7f\x00\x00\x01\x04\x38", 10, 2);
    uint8_t v6[22] = {5, 0, 0, 4};
    check_splits(v6, sizeof v6, 2);
    check_splits((const uint8_t *)"\x05\x00\x00\x03\x03" "abc" "\x04\x38", 10, 2);
}
END_TEST

static const char *fail_text(pop3a_socks5_rc rc, const pop3a_socks5_result *r)
{
    ck_assert_int_eq(rc, POP3A_SOCKS5_FAIL);
    ck_assert_ptr_nonnull(r->why);
    return r->why;
}

START_TEST(method_reply_refusals)
{
    pop3a_socks5_result r;
    ck_assert_ptr_nonnull(strstr(fail_text(pop3a_socks5_read_method((const uint8_t *)"\x04", 1, 0, &r), &r), "SOCKS5"));
    ck_assert_ptr_nonnull(strstr(fail_text(pop3a_socks5_read_method((const uint8_t *)"\x05\xff", 2, 1, &r), &r), "none of our"));
    /* username/password chosen but not offered; GSSAPI never offered */
    ck_assert_ptr_nonnull(strstr(fail_text(pop3a_socks5_read_method((const uint8_t *)"\x05\x02", 2, 0, &r), &r), "did not offer"));
    ck_assert_ptr_nonnull(strstr(fail_text(pop3a_socks5_read_method((const uint8_t *)"\x05\x01", 2, 1, &r), &r), "did not offer"));
    ck_assert_ptr_nonnull(strstr(fail_text(pop3a_socks5_read_auth((const uint8_t *)"\x01\x01", 2, &r), &r), "refused the user"));
    ck_assert_ptr_nonnull(strstr(fail_text(pop3a_socks5_read_auth((const uint8_t *)"\x05\x00", 2, &r), &r), "bad version"));
}
END_TEST

START_TEST(connect_refusal_codes_have_their_texts)
{
    static const char *const words[] = {NULL, "general", "ruleset", "network unreachable",
                                        "host unreachable", "refused", "TTL", "command",
                                        "address type"};
    uint8_t rep[2] = {5, (uint8_t)_i};
    pop3a_socks5_result r;
    const char *why = fail_text(pop3a_socks5_read_connect(rep, 2, &r), &r);
    ck_assert_msg(strstr(why, words[_i]) != NULL, "code %d: %s", _i, why);
    ck_assert_int_eq(r.reply_code, _i);
}
END_TEST

START_TEST(connect_reply_malformed)
{
    pop3a_socks5_result r;
    ck_assert_ptr_nonnull(strstr(fail_text(pop3a_socks5_read_connect((const uint8_t *)"\x04\x5a", 2, &r), &r), "bad version"));
    ck_assert_ptr_nonnull(strstr(fail_text(pop3a_socks5_read_connect((const uint8_t *)"\x05\x09", 2, &r), &r), "unknown SOCKS5 reply"));
    ck_assert_ptr_nonnull(strstr(fail_text(pop3a_socks5_read_connect((const uint8_t *)"\x05\x00\x01", 3, &r), &r), "reserved"));
    ck_assert_ptr_nonnull(strstr(fail_text(pop3a_socks5_read_connect((const uint8_t *)"\x05\x00\x00\x02\x00", 5, &r), &r), "unknown address type"));
    ck_assert_ptr_nonnull(strstr(fail_text(pop3a_socks5_read_connect((const uint8_t *)"\x05\x00\x00\x03\x00", 5, &r), &r), "empty bound name"));
}
END_TEST

static Suite *socks5_suite(void)
{
    Suite *s = suite_create("socks5");
    TCase *url = tcase_create("url");
    TCase *wire = tcase_create("wire");
    tcase_add_test(url, url_socks5h_with_auth);
    tcase_add_test(url, url_socks5_ipv6_without_auth);
    tcase_add_loop_test(url, url_refused, 0, (int)(sizeof bad_urls / sizeof bad_urls[0]));
    tcase_add_test(url, url_fields_of_255_pass_and_256_are_refused);
    suite_add_tcase(s, url);
    tcase_add_test(wire, requests_are_byte_exact);
    tcase_add_test(wire, replies_at_every_split);
    tcase_add_test(wire, method_reply_refusals);
    tcase_add_loop_test(wire, connect_refusal_codes_have_their_texts, 1, 9);
    tcase_add_test(wire, connect_reply_malformed);
    suite_add_tcase(s, wire);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(socks5_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
