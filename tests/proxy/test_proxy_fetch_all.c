/*
 * fetch-all --proxy: the whole mailbox fetched through a real SOCKS5 server
 * (microsocks) with authentication, in front of the scripted server; a bad
 * URL is a usage error that never prints the URL (it may hold a password).
 */
#include <stdio.h>
#include <string.h>

#include "fetch_all_run.h"
#include "microsocks_run.h"

START_TEST(fetches_every_message_through_microsocks)
{
    ms_proxy p;
    ck_assert_int_eq(ms_start(&p, "pxuser", "pxpass"), 0);
    msg m[MAX_MSGS];
    run r;
    size_t n = run_init_mailbox(&r, m, 1);
    script_retr_all(r.srv, m, n);
    script_quit(r.srv, "+OK bye\r\n");
    char url[80];
    snprintf(url, sizeof url, "socks5h://pxuser:pxpass@127.0.0.1:%u", p.port);
    const char *const extra[] = {"--proxy", url, NULL};
    run_fetch(&r, PASSWORD, extra);
    ms_stop(&p);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    assert_all_stored(&r, m, n);
    ck_assert_str_eq(r.stderr_text, "");
    run_free_mailbox(&r, m, n);
}
END_TEST

START_TEST(bad_proxy_url_is_a_usage_error)
{
    run r;
    run_init(&r);
    const char *const extra[] = {"--proxy", "http://pxuser:Pr0xyS3cret@127.0.0.1:1", NULL};
    run_fetch(&r, PASSWORD, extra);
    EXIT_IS(&r, 2);
    ck_assert_msg(strstr(r.stderr_text, "--proxy") != NULL, "stderr: %s", r.stderr_text);
    ck_assert(strstr(r.stderr_text, "Pr0xyS3cret") == NULL);
    ck_assert(!p3s_connected(r.srv));
    run_free(&r);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, fetches_every_message_through_microsocks);
    tcase_add_test(tc, bad_proxy_url_is_a_usage_error);
}

int main(int argc, char **argv)
{
    return example_test_main(argc, argv, "proxy_fetch_all", &fetch_all_path, 0, add_tests);
}
