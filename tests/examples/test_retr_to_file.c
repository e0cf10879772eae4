/*
 * examples/retr-to-file against the scripted server: the file holds exactly the
 * body; into a FIFO read slowly by the test, the download really pauses (and
 * still delivers every byte); a refused RETR leaves no file.
 *
 * Usage: test_retr_to_file /path/to/retr-to-file
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch_all_run.h"

static const char *prog;

/* Login, then RETR `number` answered with m. */
static void script_retr_session(run *r, size_t number, const msg *m)
{
    script_login(r->srv, 0);
    script_retr(r->srv, number, m);
    script_quit(r->srv, "+OK bye\r\n");
}

/* The summary line on stderr: "...: message N: X octets written, paused P times". */
static unsigned pauses_reported(const run *r, size_t body_len)
{
    char want[96];
    unsigned pauses;
    snprintf(want, sizeof want, "retr-to-file: message 4: %zu octets written, paused ",
             body_len);
    ck_assert_msg(strncmp(r->stderr_text, want, strlen(want)) == 0, "stderr: %s",
                  r->stderr_text);
    ck_assert_int_eq(sscanf(r->stderr_text + strlen(want), "%u times\n", &pauses), 1);
    return pauses;
}

/* The ~360 KiB message 4 (a stuffed line every 7) into a regular file, the
 * reply cut into odd-sized writes. */
START_TEST(regular_file_holds_exactly_the_body)
{
    msg m[MAX_MSGS];
    size_t n = make_mailbox(m), len;
    run r;
    run_init(&r);
    p3s_write_chunk(r.srv, 3001, 0);
    script_retr_session(&r, 4, &m[3]);

    const char *const extra[] = {"--msg", "4", "--out", path_in(r.out, "4.eml"), NULL};
    run_example(&r, prog, PASSWORD, extra);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    char *data = read_file(path_in(r.out, "4.eml"), &len);
    ck_assert_ptr_nonnull(data);
    ck_assert_msg(len == m[3].body_len && memcmp(data, m[3].body, len) == 0,
                  "%zu bytes differ from the %zu expected", len, m[3].body_len);
    free(data);
    pauses_reported(&r, m[3].body_len);
    ck_assert_str_eq(r.stdout_text, "");
    run_free_mailbox(&r, m, n);
}
END_TEST

/* --out -: the body on stdout, byte for byte (the summary stays on stderr). */
START_TEST(dash_writes_the_body_to_stdout)
{
    msg m[MAX_MSGS];
    size_t n = make_mailbox(m), len;
    run r;
    run_init(&r);
    script_retr_session(&r, 2, &m[1]);

    const char *const extra[] = {"--msg", "2", "--out", "-", NULL};
    run_example(&r, prog, PASSWORD, extra);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    char *out = read_file(path_in(r.work, "stdout"), &len);
    ck_assert_ptr_nonnull(out);
    ck_assert_msg(len == m[1].body_len && memcmp(out, m[1].body, len) == 0,
                  "stdout: %zu bytes differ from the %zu expected", len, m[1].body_len);
    free(out);
    ck_assert_ptr_nonnull(strstr(r.stderr_text, "retr-to-file: message 2: "));
    run_free_mailbox(&r, m, n);
}
END_TEST

/* Without --msg or --out: exit 2 before connecting. */
START_TEST(missing_msg_or_out_is_a_usage_error)
{
    static const char *const cases[][3] = {{"--out", "x.eml", NULL}, {"--msg", "1", NULL},
                                           {"--msg", "0", NULL}};
    run r;
    run_init(&r);
    run_example(&r, prog, PASSWORD, cases[_i]);
    EXIT_IS(&r, 2);
    ck_assert_int_eq(p3s_connected(r.srv), 0);
    ck_assert_msg(strstr(r.stderr_text, "retr-to-file: ") == r.stderr_text, "stderr: %s",
                  r.stderr_text);
    run_free(&r);
}
END_TEST

/* The reading end of the FIFO, and what came out of it. */
typedef struct {
    int fd;
    char *got;
    size_t len;
    size_t per_tick; /* octets read per poll of the harness (every 2 ms) */
} slow_reader;

static void read_some(slow_reader *sr, size_t max)
{
    ssize_t n;
    sr->got = realloc(sr->got, sr->len + max);
    ck_assert_ptr_nonnull(sr->got);
    while (max > 0 && (n = read(sr->fd, sr->got + sr->len, max)) > 0) {
        sr->len += (size_t)n;
        max -= (size_t)n;
    }
}

static void slow_read_tick(run *r)
{
    slow_reader *sr = r->tick_arg;
    read_some(sr, sr->per_tick);
}

/* 2 KiB every 2 ms is about 1 MB/s, far slower than the loopback socket: the
 * 64 KiB of the pipe fill up, writes return EAGAIN, the writer's backlog passes
 * its high-water mark and the chunk callback must pause the RETR. All bytes
 * still arrive, in order. */
START_TEST(slow_pipe_reader_pauses_the_download)
{
    msg m[MAX_MSGS];
    size_t n = make_mailbox(m);
    run r;
    slow_reader sr = {.per_tick = 2048};
    run_init(&r);
    script_retr_session(&r, 4, &m[3]);
    const char *fifo = path_in(r.out, "fifo");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    /* Open the reading end first (non-blocking: does not wait for a writer), so
     * that the example's open for writing does not block. */
    sr.fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    ck_assert_int_ge(sr.fd, 0);
    r.tick = slow_read_tick;
    r.tick_arg = &sr;

    const char *const extra[] = {"--msg", "4", "--out", fifo, NULL};
    run_example(&r, prog, PASSWORD, extra);
    read_some(&sr, 1 << 20); /* what is left in the pipe once the writer exited */
    close(sr.fd);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    ck_assert_msg(sr.len == m[3].body_len && memcmp(sr.got, m[3].body, sr.len) == 0,
                  "%zu bytes read differ from the %zu expected", sr.len, m[3].body_len);
    unsigned pauses = pauses_reported(&r, m[3].body_len);
    ck_assert_msg(pauses >= 1, "never paused: stderr %s", r.stderr_text);
    free(sr.got);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* -ERR to RETR: exit 1 with the server's text; no file is left behind. */
START_TEST(refused_retr_leaves_no_file)
{
    run r;
    struct stat st;
    run_init(&r);
    script_login(r.srv, 0);
    p3s_expect(r.srv, "RETR 9");
    p3s_send(r.srv, "-ERR no such message\r\n");
    p3s_expect_eof(r.srv);

    const char *const extra[] = {"--msg", "9", "--out", path_in(r.out, "9.eml"), NULL};
    run_example(&r, prog, PASSWORD, extra);
    EXIT_IS(&r, 1);
    SCRIPT_DONE(&r);
    ck_assert_msg(strstr(r.stderr_text, "retr-to-file: RETR 9: POP3A_ERR_SERVER no such message"),
                  "stderr: %s", r.stderr_text);
    ck_assert_int_ne(stat(path_in(r.out, "9.eml"), &st), 0);
    run_free(&r);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, regular_file_holds_exactly_the_body);
    tcase_add_test(tc, slow_pipe_reader_pauses_the_download);
    tcase_add_test(tc, refused_retr_leaves_no_file);
    tcase_add_test(tc, dash_writes_the_body_to_stdout);
    tcase_add_loop_test(tc, missing_msg_or_out_is_a_usage_error, 0, 3);
}

int main(int argc, char **argv)
{
    return example_test_main(argc, argv, "retr_to_file", &prog, 0, add_tests);
}
