/*
 * pop3fetch's mbox and MDA deliveries, byte for byte: mboxrd quoting across
 * chunk boundaries, locks held by others, a failed write truncated back,
 * the MDA's bytes as received (or LF with mda_crlf = false), its timeout.
 *
 * Usage: test_pop3fetch_delivery /path/to/pop3fetch
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pop3fetch_run.h"

/* A message whose CRLF text has no line starting with '.', so the wire form
 * is the text plus the terminator. */
static void make_msg(msg *m, const char *text)
{
    size_t n = strlen(text);
    m->body = strdup(text);
    m->body_len = n;
    m->wire = malloc(n + 4);
    ck_assert_ptr_nonnull(m->wire);
    memcpy(m->wire, text, n);
    memcpy(m->wire + n, ".\r\n", 4);
    m->wire_len = n + 3;
}

/* Lines that are ^>*From  get one more '>' (mboxrd); others stay. A lone CR
 * is kept; CRLF becomes LF. */
static const char *const quoting_text =
    "From: someone\r\nSubject: a\r\n\r\nFrom here\r\n>From there\r\n>>From x\r\n"
    "Fromage\r\nFrom\r\n >From not at the start\r\na\rb\r\n>\r\nFrom \r\n";
static const char *const quoting_mbox =
    "From: someone\nSubject: a\n\n>From here\n>>From there\n>>>From x\n"
    "Fromage\nFrom\n >From not at the start\na\rb\n>\n>From \n";
static const char *const plain_text = "Subject: b\r\n\r\nbody\r\n";
static const char *const plain_mbox = "Subject: b\n\nbody\n";

/* The mbox holds `old` and then each expected message after a From_ line,
 * ending in a newline, then an empty line. */
static void assert_mbox(const char *path, const char *old, const char *const *want, size_t n)
{
    size_t len, pos = strlen(old);
    char *box = read_file(path, &len);
    ck_assert_ptr_nonnull(box);
    ck_assert_msg(len >= pos && memcmp(box, old, pos) == 0, "old content changed: %s", box);
    for (size_t i = 0; i < n; i++) {
        size_t w = strlen(want[i]);
        ck_assert_msg(strncmp(box + pos, "From MAILER-DAEMON ", 19) == 0,
                      "message %zu: no From_ line: %s", i + 1, box + pos);
        pos = (size_t)(strchr(box + pos, '\n') - box) + 1;
        ck_assert_msg(len - pos >= w && memcmp(box + pos, want[i], w) == 0,
                      "message %zu: got \"%s\", want \"%s\"", i + 1, box + pos, want[i]);
        pos += w;
        if (w && want[i][w - 1] != '\n')
            ck_assert_int_eq(box[pos++], '\n');
        ck_assert_int_eq(box[pos++], '\n');
    }
    ck_assert_uint_eq(pos, len);
    free(box);
}

/* Served three octets at a time, so "From " and the CRLFs are cut across
 * chunks; appended after what the mbox held. */
START_TEST(mbox_quotes_from_lines_across_chunks)
{
    msg m[2];
    run r;
    char box[160];
    const char *old = "From old Mon Jan  1 00:00:00 2024\nold\n\n";
    make_msg(&m[0], quoting_text);
    make_msg(&m[1], plain_text);
    run_init(&r);
    snprintf(box, sizeof box, "%s/mbox", r.work);
    FILE *f = fopen(box, "w");
    fputs(old, f);
    fclose(f);
    script_session_start(r.srv, m, 2);
    p3s_write_chunk(r.srv, 3, 0);
    script_retr_all(r.srv, m, 2);
    script_quit(r.srv, "+OK bye\r\n");
    const char *const extra[] = {"--mbox", box, NULL};
    run_pop3fetch(&r, extra);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    const char *const want[] = {quoting_mbox, plain_mbox};
    assert_mbox(box, old, want, 2);
    run_free_mailbox(&r, m, 2);
}
END_TEST

/* Another process holds the dotlock (0) or an fcntl lock (1): nothing is
 * written, nothing deleted, exit 74 naming the lock. */
START_TEST(mbox_lock_held_by_another_fails_without_deleting)
{
    int fcntl_lock = _i;
    msg m[2];
    run r;
    char box[160], lock[170];
    make_msg(&m[0], plain_text);
    run_init(&r);
    snprintf(box, sizeof box, "%s/mbox", r.work);
    snprintf(lock, sizeof lock, "%s.lock", box);
    int fd = open(fcntl_lock ? box : lock, O_RDWR | O_CREAT, 0600);
    ck_assert_int_ge(fd, 0);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl_lock)
        ck_assert_int_eq(fcntl(fd, F_SETLK, &fl), 0);
    script_login(r.srv, 0);
    script_listings(r.srv, m, 1, NULL);
    script_retr(r.srv, 1, &m[0]);
    const char *const extra[] = {"--mbox", box, "--delete", NULL};
    run_pop3fetch(&r, extra);
    close(fd);
    EXIT_IS(&r, 74);
    SCRIPT_DONE(&r);
    ck_assert_uint_eq(p3s_bytes_unread(r.srv), 0); /* no DELE, no QUIT */
    STDERR_HAS(&r, fcntl_lock ? "is locked by another process" : "is locked (");
    STDERR_HAS(&r, "(nothing deleted on the server)");
    size_t len;
    char *data = read_file(box, &len);
    ck_assert_uint_eq(len, 0);
    free(data);
    run_free_mailbox(&r, m, 1);
}
END_TEST

/* The file system fills up in the middle of a message: the mbox is cut
 * back to what it held before it, byte for byte. */
START_TEST(mbox_write_failure_truncates_back)
{
    msg m[MAX_MSGS];
    run r;
    char box[160];
    size_t n = make_mailbox(m); /* the 4th is ~360 KiB */
    run_init(&r);
    if (mount("tmpfs", r.out, "tmpfs", 0, "size=64k,mode=0700") != 0) {
        run_free_mailbox(&r, m, n);
        ck_abort_msg("cannot mount a tmpfs (not root?): %s", strerror(errno));
    }
    snprintf(box, sizeof box, "%s/mbox", r.out);
    script_login(r.srv, 0);
    script_listings(r.srv, m, n, NULL);
    script_retr_all(r.srv, m, 3);
    p3s_expect(r.srv, "RETR 4");
    p3s_send(r.srv, "+OK message follows\r\n");
    p3s_send_bytes(r.srv, m[3].wire, m[3].wire_len);
    const char *const extra[] = {"--mbox", box, NULL};
    run_pop3fetch(&r, extra);
    EXIT_IS(&r, 74);
    STDERR_HAS(&r, "No space left on device");
    char *want[3];
    size_t k;
    for (k = 0; k < 3; k++)
        want[k] = lf_body(&m[k], &(size_t){0});
    assert_mbox(box, "", (const char *const *)want, 3);
    for (k = 0; k < 3; k++)
        free(want[k]);
    umount(r.out);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* The MDA gets each message as the server sent it (CRLF), or with LF when
 * mda_crlf = false (a config key). */
START_TEST(mda_gets_the_bytes_as_received)
{
    int lf = _i;
    msg m[2];
    run r;
    char out[160], cmd[200], config[160];
    make_msg(&m[0], quoting_text);
    make_msg(&m[1], plain_text);
    run_init(&r);
    snprintf(out, sizeof out, "%s/delivered", r.work);
    snprintf(cmd, sizeof cmd, "cat >> %s", out);
    script_session_start(r.srv, m, 2);
    script_retr_all(r.srv, m, 2);
    script_quit(r.srv, "+OK bye\r\n");
    if (lf) {
        snprintf(config, sizeof config, "%s/config", r.work);
        FILE *f = fopen(config, "w");
        fprintf(f, "[account x]\nhost = 127.0.0.1\nport = %u\nuser = alice\n"
                "password_env = P3TEST_PW\ntls = none\nallow_cleartext = true\n"
                "mda = %s\nmda_crlf = false\nstate = %s/s.sqlite\n",
                (unsigned)r.port, cmd, r.work);
        fclose(f);
        chmod(config, 0600);
        setenv("P3TEST_PW", PASSWORD, 1);
        const char *const args[] = {"--config", config, NULL};
        run_pop3fetch_args(&r, args);
    } else {
        const char *const extra[] = {"--mda", cmd, NULL};
        run_pop3fetch(&r, extra);
    }
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    size_t len;
    char *got = read_file(out, &len), want[512];
    snprintf(want, sizeof want, "%s%s", lf ? "" : quoting_text, lf ? "" : plain_text);
    if (lf) {
        /* quoting_mbox without the '>' quoting: the MDA gets no mbox format */
        size_t a, b;
        char *x = lf_body(&m[0], &a), *y = lf_body(&m[1], &b);
        snprintf(want, sizeof want, "%s%s", x, y);
        free(x);
        free(y);
    }
    ck_assert_uint_eq(len, strlen(want));
    ck_assert_mem_eq(got, want, len);
    free(got);
    run_free_mailbox(&r, m, 2);
}
END_TEST

/* An MDA that never finishes is killed after --timeout: 74, nothing deleted. */
START_TEST(mda_timeout_fails_the_delivery)
{
    msg m[2];
    run r;
    make_msg(&m[0], plain_text);
    run_init(&r);
    script_login(r.srv, 0);
    script_listings(r.srv, m, 1, NULL);
    script_retr(r.srv, 1, &m[0]);
    const char *const extra[] = {"--mda", "sleep 60", "--timeout", short_timeout_arg(),
                                 "--delete", NULL};
    char want[64];
    run_pop3fetch(&r, extra);
    EXIT_IS(&r, 74);
    SCRIPT_DONE(&r);
    ck_assert_uint_eq(p3s_bytes_unread(r.srv), 0);
    snprintf(want, sizeof want, "MDA \"sleep 60\" took more than %s s", short_timeout_arg());
    STDERR_HAS(&r, want);
    run_free_mailbox(&r, m, 1);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, mbox_quotes_from_lines_across_chunks);
    tcase_add_loop_test(tc, mbox_lock_held_by_another_fails_without_deleting, 0, 2);
    tcase_add_test(tc, mbox_write_failure_truncates_back);
    tcase_add_loop_test(tc, mda_gets_the_bytes_as_received, 0, 2);
    tcase_add_test(tc, mda_timeout_fails_the_delivery);
}

int main(int argc, char **argv)
{
    return example_test_main(argc, argv, "pop3fetch_delivery", &pop3fetch_path, 0, add_tests);
}
