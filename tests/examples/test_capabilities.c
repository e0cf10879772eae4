/*
 * examples/capabilities against the scripted server: STLS with the test CA,
 * SASL login with the strongest mechanism offered, the capabilities printed
 * before and after login, QUIT; and the secure defaults (no password in clear).
 *
 * Usage: test_capabilities /path/to/capabilities
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/ssl.h>

#include "fetch_all_run.h"

static const char *prog;

/* STLS, then CAPA over TLS offering LOGIN and PLAIN: the example must take PLAIN
 * (stronger), with the initial response "\0alice\0s3cret pw". After login the
 * server announces real LOGIN-DELAY and EXPIRE values (RFC 2449 section 6). */
START_TEST(stls_sasl_login_prints_capabilities_then_quits)
{
    run r;
    SSL_CTX *ctx = p3s_tls_server_ctx("leaf");
    ck_assert_ptr_nonnull(ctx);
    run_init(&r);
    p3s_send(r.srv, "+OK test POP3 server ready\r\n");
    p3s_expect(r.srv, "CAPA");
    p3s_send(r.srv, "+OK\r\nSTLS\r\n.\r\n");
    p3s_expect(r.srv, "STLS");
    p3s_send(r.srv, "+OK Begin TLS\r\n");
    p3s_start_tls(r.srv, ctx);
    SSL_CTX_free(ctx);
    p3s_expect(r.srv, "CAPA");
    p3s_send(r.srv, "+OK\r\nTOP\r\nUIDL\r\nSASL LOGIN PLAIN\r\nRESP-CODES\r\n"
                    "LOGIN-DELAY 900 USER\r\nEXPIRE 31 USER\r\n"
                    "IMPLEMENTATION Scripted-Server 1.0\r\n.\r\n");
    p3s_expect(r.srv, "AUTH PLAIN AGFsaWNlAHMzY3JldCBwdw==");
    p3s_send(r.srv, "+OK logged in\r\n");
    p3s_expect(r.srv, "CAPA");
    p3s_send(r.srv, "+OK\r\nTOP\r\nUIDL\r\nLOGIN-DELAY 600\r\nEXPIRE NEVER\r\n.\r\n");
    script_quit(r.srv, "+OK bye\r\n");

    /* No --allow-cleartext: PLAIN is allowed because the link is TLS. A long
     * timeout: TLS on both sides under valgrind (the valgrind setup) is slow. */
    char port[16];
    snprintf(port, sizeof port, "%u", (unsigned)r.port);
    const char *const argv[] = {prog, "--host", "127.0.0.1", "--port", port, "--user", "alice",
                                "--password-env", "P3TEST_PW", "--tls", "stls", "--ca-file",
                                p3s_cert("ca.pem"), "--timeout", "30", NULL};
    run_program(&r, PASSWORD, argv);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    ck_assert_int_eq(p3s_tls_handshake_done(r.srv), 1);
    ck_assert_str_eq(r.stdout_text, "tls: yes\n"
                                    "before login:\n"
                                    "  capabilities: TOP UIDL SASL RESP-CODES LOGIN-DELAY "
                                    "EXPIRE IMPLEMENTATION\n"
                                    "  sasl: PLAIN LOGIN\n"
                                    "  login-delay: 900 s\n"
                                    "  expire: 31 days\n"
                                    "  implementation: Scripted-Server 1.0\n"
                                    "logged in as alice\n"
                                    "after login:\n"
                                    "  capabilities: TOP UIDL LOGIN-DELAY EXPIRE\n"
                                    "  sasl: (none)\n"
                                    "  login-delay: 600 s\n"
                                    "  expire: never\n"
                                    "  implementation: none\n");
    ck_assert_str_eq(r.stderr_text, "");
    run_free(&r);
}
END_TEST

/* Plain TCP, a server offering only USER, no --allow-cleartext: the login fails
 * with POP3A_ERR_CLEARTEXT and neither USER nor PASS is sent; then the example
 * hangs up (exit 1). */
START_TEST(plain_link_without_opt_in_sends_no_password)
{
    run r;
    run_init(&r);
    p3s_send(r.srv, "+OK test POP3 server ready\r\n");
    p3s_expect(r.srv, "CAPA");
    p3s_send(r.srv, "+OK\r\nUSER\r\n.\r\n");
    p3s_expect_eof(r.srv);

    char port[16];
    snprintf(port, sizeof port, "%u", (unsigned)r.port);
    const char *const argv[] = {prog, "--host", "127.0.0.1", "--port", port, "--user", "alice",
                                "--password-env", "P3TEST_PW", "--tls", "none", NULL};
    run_program(&r, PASSWORD, argv);
    EXIT_IS(&r, 1);
    SCRIPT_DONE(&r);
    ck_assert_uint_eq(p3s_bytes_unread(r.srv), 0);
    ck_assert_msg(strstr(r.stderr_text, "capabilities: login: POP3A_ERR_CLEARTEXT") ==
                      r.stderr_text, "stderr: %s", r.stderr_text);
    ck_assert_ptr_nonnull(strstr(r.stdout_text, "tls: no\n"));
    run_free(&r);
}
END_TEST

/* The password is never taken from argv: without a source, exit 2 before connecting. */
START_TEST(missing_password_source_is_a_usage_error)
{
    run r;
    run_init(&r);
    const char *const extra[] = {"--password-env", "P3TEST_UNSET_VARIABLE", NULL};
    unsetenv("P3TEST_UNSET_VARIABLE");
    run_example(&r, prog, PASSWORD, extra);
    EXIT_IS(&r, 2);
    ck_assert_int_eq(p3s_connected(r.srv), 0);
    ck_assert_msg(strstr(r.stderr_text, "P3TEST_UNSET_VARIABLE: variable not set") != NULL,
                  "stderr: %s", r.stderr_text);
    run_free(&r);
}
END_TEST

/* --password-file: its first line is the password (the newline is not). A
 * file others may read still works, with a warning. */
START_TEST(password_file_first_line_is_the_password)
{
    run r;
    run_init(&r);
    const char *file = path_in(r.out, "pw");
    FILE *f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    fputs(PASSWORD "\nsecond line\n", f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(file, 0644), 0);
    script_login(r.srv, 0); /* ...PASS s3cret pw */
    p3s_expect(r.srv, "CAPA");
    p3s_send(r.srv, "+OK\r\nUSER\r\n.\r\n");
    script_quit(r.srv, "+OK bye\r\n");

    char port[16];
    snprintf(port, sizeof port, "%u", (unsigned)r.port);
    const char *const argv[] = {prog, "--host", "127.0.0.1", "--port", port, "--user", "alice",
                                "--password-file", file, "--tls", "none", "--allow-cleartext",
                                "--timeout", child_timeout_arg(), NULL};
    run_program(&r, NULL, argv);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    ck_assert_msg(strstr(r.stderr_text, "capabilities: warning: ") == r.stderr_text &&
                      strstr(r.stderr_text, "can be read by other users") != NULL,
                  "stderr: %s", r.stderr_text);
    run_free(&r);
}
END_TEST

/* The options every example shares (example_common.c): a bad value, a missing
 * value, two password sources. Exit 2, no connection, the option named. */
START_TEST(bad_shared_options_are_usage_errors)
{
    static const struct {
        const char *extra[4];
        const char *says;
    } cases[] = {
        {{"--tls", "smtp", NULL}, "--tls: bad value \"smtp\""},
        {{"--port", "70000", NULL}, "--port: bad value \"70000\""},
        {{"--timeout", "soon", NULL}, "--timeout: bad value \"soon\""},
        {{"--password-file", "/dev/null", NULL}, "one of --password-env or --password-file"},
        {{"--ca-file", NULL}, "--ca-file: missing value"},
    };
    run r;
    run_init(&r);
    run_example(&r, prog, PASSWORD, cases[_i].extra);
    EXIT_IS(&r, 2);
    ck_assert_int_eq(p3s_connected(r.srv), 0);
    ck_assert_msg(strstr(r.stderr_text, "capabilities: ") == r.stderr_text &&
                      strstr(r.stderr_text, cases[_i].says) != NULL,
                  "stderr: %s", r.stderr_text);
    run_free(&r);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, stls_sasl_login_prints_capabilities_then_quits);
    tcase_add_test(tc, plain_link_without_opt_in_sends_no_password);
    tcase_add_test(tc, missing_password_source_is_a_usage_error);
    tcase_add_test(tc, password_file_first_line_is_the_password);
    tcase_add_loop_test(tc, bad_shared_options_are_usage_errors, 0, 5);
}

int main(int argc, char **argv)
{
    return example_test_main(argc, argv, "capabilities", &prog, 1, add_tests);
}
