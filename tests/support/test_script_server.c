/*
 * Tests of the scripted server itself, with a bare bufferevent as the client, so
 * the session tests can trust what it reports. No libpop3async here. The TLS
 * steps are in test_script_server_tls.c.
 */
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "script_server.h"
#include "test_script_server_fixture.h"

/* The script ran to its end without a mismatch. */
#define ASSERT_SCRIPT_PASSED(srv)                                                          \
    do {                                                                                   \
        ck_assert_msg(p3s_error(srv) == NULL, "%s", p3s_error(srv));                       \
        ck_assert(p3s_done(srv));                                                          \
    } while (0)

/* The script failed, and its error mentions `needle`. */
#define ASSERT_SCRIPT_FAILED_WITH(srv, needle)                                             \
    do {                                                                                   \
        ck_assert_ptr_nonnull(p3s_error(srv));                                             \
        ck_assert_msg(strstr(p3s_error(srv), (needle)) != NULL, "%s", p3s_error(srv));     \
    } while (0)

/* Pairs the fixture's client with the script, writes `len` bytes of `input`
 * as the client, and runs until the script is done or failed. */
static void client_says(fixture *f, const char *input, size_t len)
{
    fx_attach(f, p3s_pair(f->srv));
    bufferevent_write(f->bev, input, len);
    fx_run(f, 2000);
}

/* Pairs the fixture's client with the script, runs the script to its end
 * (asserted) and lets the client read for settle_ms more. */
static void serve_to_end(fixture *f, unsigned settle_ms)
{
    fx_attach(f, p3s_pair(f->srv));
    fx_run(f, 2000);
    ck_assert(p3s_done(f->srv));
    fx_run_for(f, settle_ms);
}

/* The client closes its end; the script runs until it is done or failed. */
static void client_hangs_up(fixture *f)
{
    bufferevent_free(f->bev);
    f->bev = NULL;
    fx_run(f, 2000);
}

START_TEST(script_sends_and_matches_lines)
{
    fixture f;
    fx_init(&f);
    p3s_send(f.srv, "+OK hello\r\n");
    p3s_expect(f.srv, "CAPA");
    p3s_expect_prefix(f.srv, "USER ");
    p3s_send(f.srv, "+OK\r\n");
    client_says(&f, "CAPA\r\nUSER bob\r\n", 16);
    ASSERT_SCRIPT_PASSED(f.srv);
    fx_run_for(&f, 20);
    ck_assert(got_equals(&f.p, "+OK hello\r\n+OK\r\n"));
    ck_assert_uint_eq(p3s_lines_received(f.srv), 2);
    ck_assert_uint_eq(p3s_bytes_received(f.srv), 16);
    fx_free(&f);
}
END_TEST

START_TEST(script_reports_first_mismatch)
{
    fixture f;
    fx_init(&f);
    p3s_expect(f.srv, "STAT");
    p3s_expect(f.srv, "QUIT");
    client_says(&f, "LIST\r\nNOOP\r\n", 12);
    ASSERT_SCRIPT_FAILED_WITH(f.srv, "expected \"STAT\", got \"LIST\"");
    ck_assert(!p3s_done(f.srv));
    fx_free(&f);
}
END_TEST

/* Client lines the script refuses even where the text would match. */
static const struct {
    const char *expect, *input;
    size_t len;
    const char *error;
} refused_lines[] = {
    {"NOOP", "NOOP\n", 5, "bare LF"},
    {"PASS ab", "PASS a\0b\r\n", 10, "\\x00"},
};

START_TEST(script_rejects_bare_lf_and_embedded_nul)
{
    fixture f;
    fx_init(&f);
    p3s_expect(f.srv, refused_lines[_i].expect);
    client_says(&f, refused_lines[_i].input, refused_lines[_i].len);
    ASSERT_SCRIPT_FAILED_WITH(f.srv, refused_lines[_i].error);
    fx_free(&f);
}
END_TEST

START_TEST(chunked_writes_arrive_in_separate_reads)
{
    fixture f;
    fx_init(&f);
    p3s_write_chunk(f.srv, 3, 2);
    p3s_send(f.srv, "+OK 123456789 abcdef\r\n"); /* 22 bytes: 8 writes */
    serve_to_end(&f, 30);
    ck_assert(got_equals(&f.p, "+OK 123456789 abcdef\r\n"));
    ck_assert_int_ge(f.p.reads, 8);
    fx_free(&f);
}
END_TEST

START_TEST(chunked_writes_without_gap_still_split)
{
    fixture f;
    fx_init(&f);
    p3s_write_chunk(f.srv, 1, 0);
    p3s_send(f.srv, "+OK\r\n");
    serve_to_end(&f, 20);
    ck_assert(got_equals(&f.p, "+OK\r\n"));
    ck_assert_int_ge(f.p.reads, 3); /* one loop turn apart: mostly one byte per read */
    fx_free(&f);
}
END_TEST

START_TEST(close_gives_eof_after_pending_output)
{
    fixture f;
    fx_init(&f);
    p3s_write_chunk(f.srv, 4, 1);
    p3s_send(f.srv, "+OK some body\r\n");
    p3s_close(f.srv);
    serve_to_end(&f, 30);
    ck_assert(got_equals(&f.p, "+OK some body\r\n"));
    ck_assert_int_eq(f.p.eof, 1);
    fx_free(&f);
}
END_TEST

START_TEST(delay_holds_the_next_step)
{
    fixture f;
    fx_init(&f);
    p3s_send(f.srv, "A");
    p3s_delay(f.srv, 150);
    p3s_send(f.srv, "B");
    fx_attach(&f, p3s_pair(f.srv));
    fx_run_for(&f, 60);
    ck_assert(got_equals(&f.p, "A"));
    ck_assert(!p3s_done(f.srv));
    fx_run(&f, 2000);
    fx_run_for(&f, 10);
    ck_assert(got_equals(&f.p, "AB"));
    fx_free(&f);
}
END_TEST

START_TEST(silence_step_catches_early_line)
{
    fixture f;
    fx_init(&f);
    p3s_expect(f.srv, "RETR 1");
    p3s_expect_silence(f.srv, 50);
    p3s_send(f.srv, "+OK\r\n");
    p3s_expect(f.srv, "RETR 2");
    client_says(&f, "RETR 1\r\nRETR 2\r\n", 16);
    ASSERT_SCRIPT_FAILED_WITH(f.srv, "silence");
    fx_free(&f);

    /* And passes when the client waits. */
    fx_init(&f);
    p3s_expect(f.srv, "RETR 1");
    p3s_expect_silence(f.srv, 50);
    p3s_send(f.srv, "+OK\r\n");
    client_says(&f, "RETR 1\r\n", 8);
    ASSERT_SCRIPT_PASSED(f.srv);
    fx_free(&f);
}
END_TEST

START_TEST(expect_eof_sees_client_close)
{
    fixture f;
    fx_init(&f);
    p3s_expect(f.srv, "QUIT");
    p3s_expect_eof(f.srv);
    fx_attach(&f, p3s_pair(f.srv));
    bufferevent_write(f.bev, "QUIT\r\n", 6);
    fx_run_for(&f, 20);
    ck_assert(!p3s_done(f.srv));
    client_hangs_up(&f);
    ASSERT_SCRIPT_PASSED(f.srv);
    ck_assert(p3s_peer_closed(f.srv));
    fx_free(&f);
}
END_TEST

START_TEST(expect_reports_eof)
{
    fixture f;
    fx_init(&f);
    p3s_expect(f.srv, "STAT");
    fx_attach(&f, p3s_pair(f.srv));
    client_hangs_up(&f);
    ASSERT_SCRIPT_FAILED_WITH(f.srv, "EOF");
    fx_free(&f);
}
END_TEST

START_TEST(stop_reading_blocks_client_writes)
{
    fixture f;
    fx_init(&f);
    p3s_stop_reading(f.srv);
    fx_attach(&f, p3s_pair(f.srv));
    fx_run_for(&f, 10);
    static char big[1 << 20];
    memset(big, 'x', sizeof big);
    for (int i = 0; i < 16; i++)
        bufferevent_write(f.bev, big, sizeof big);
    fx_run_for(&f, 100);
    /* The kernel holds a few hundred KiB at most; the rest must still be queued. */
    ck_assert_uint_gt(evbuffer_get_length(bufferevent_get_output(f.bev)), 8u << 20);
    ck_assert_uint_eq(p3s_bytes_received(f.srv), 0);
    fx_free(&f);
}
END_TEST

static void listen_and_talk(const char *addr)
{
    fixture f;
    fx_init(&f);
    uint16_t port = p3s_listen(f.srv, addr);
    ck_assert_uint_ne(port, 0);
    p3s_send(f.srv, "+OK ready\r\n");
    p3s_expect(f.srv, "QUIT");
    struct bufferevent *bev = bufferevent_socket_new(f.base, -1, BEV_OPT_CLOSE_ON_FREE);
    fx_attach(&f, bev);
    char where[64];
    snprintf(where, sizeof where, strchr(addr, ':') ? "[%s]:%u" : "%s:%u", addr, port);
    struct sockaddr_storage ss;
    int sslen = (int)sizeof ss;
    ck_assert_int_eq(evutil_parse_sockaddr_port(where, (struct sockaddr *)&ss, &sslen), 0);
    ck_assert_int_eq(bufferevent_socket_connect(bev, (struct sockaddr *)&ss, sslen), 0);
    bufferevent_write(bev, "QUIT\r\n", 6);
    fx_run(&f, 2000);
    ASSERT_SCRIPT_PASSED(f.srv);
    ck_assert(p3s_connected(f.srv));
    fx_run_for(&f, 20);
    ck_assert(got_equals(&f.p, "+OK ready\r\n"));
    fx_free(&f);
}

START_TEST(listen_accepts_ipv4)
{
    listen_and_talk("127.0.0.1");
}
END_TEST

START_TEST(listen_accepts_ipv6)
{
    listen_and_talk("::1");
}
END_TEST

static char *shout(const char *line, size_t len, void *arg)
{
    int *calls = arg;
    (*calls)++;
    if (len == 0)
        return NULL;
    char *out = malloc(len + 8);
    ck_assert_ptr_nonnull(out);
    memcpy(out, "+ ", 2);
    for (size_t i = 0; i < len; i++)
        out[2 + i] = (char)(line[i] >= 'a' && line[i] <= 'z' ? line[i] - 32 : line[i]);
    memcpy(out + 2 + len, "\r\n", 3);
    return out;
}

/* p3s_respond sends what the function computed; NULL is a script error. */
START_TEST(respond_sends_the_computed_answer)
{
    fixture f;
    int calls = 0;
    fx_init(&f);
    p3s_respond(f.srv, shout, &calls);
    p3s_respond(f.srv, shout, &calls);
    client_says(&f, "abc\r\n\r\n", 7);
    fx_run_for(&f, 20);
    ck_assert_int_eq(calls, 2);
    ck_assert(got_equals(&f.p, "+ ABC\r\n"));
    ASSERT_SCRIPT_FAILED_WITH(f.srv, "respond: refused");
    fx_free(&f);
}
END_TEST

static Suite *script_server_suite(void)
{
    Suite *s = suite_create("script_server");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, script_sends_and_matches_lines);
    tcase_add_test(tc, script_reports_first_mismatch);
    tcase_add_loop_test(tc, script_rejects_bare_lf_and_embedded_nul, 0,
                        (int)(sizeof refused_lines / sizeof refused_lines[0]));
    tcase_add_test(tc, chunked_writes_arrive_in_separate_reads);
    tcase_add_test(tc, chunked_writes_without_gap_still_split);
    tcase_add_test(tc, close_gives_eof_after_pending_output);
    tcase_add_test(tc, delay_holds_the_next_step);
    tcase_add_test(tc, silence_step_catches_early_line);
    tcase_add_test(tc, expect_eof_sees_client_close);
    tcase_add_test(tc, expect_reports_eof);
    tcase_add_test(tc, stop_reading_blocks_client_writes);
    tcase_add_test(tc, listen_accepts_ipv4);
    tcase_add_test(tc, listen_accepts_ipv6);
    tcase_add_test(tc, respond_sends_the_computed_answer);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(script_server_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
