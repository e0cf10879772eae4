/*
 * The example fetcher (examples/fetch-all) run as a child process against the
 * scripted server, which listens on 127.0.0.1 in this process. The loop serves
 * the script while a timer polls waitpid(WNOHANG) (no SIGCHLD handler, so Check's
 * forking and valgrind are unaffected).
 *
 * Usage: test_fetch_all /path/to/fetch-all
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "script_server.h"

extern char **environ;

#define PASSWORD "s3cret pw" /* a space: PASS takes the rest of the line */
#define CHILD_WAIT_MS 15000
#define MAX_MSGS 8

static const char *fetch_all_path;

/* ---------------------------------------------------------------- mailbox */

/* A message as the server sends it (dot-stuffed, with terminator) and the bytes
 * the fetcher must store. */
typedef struct {
    char *wire, *body;
    size_t wire_len, body_len;
} msg;

static void append(char **buf, size_t *len, const char *s, size_t n)
{
    *buf = realloc(*buf, *len + n + 1);
    ck_assert_ptr_nonnull(*buf);
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
}

/* Builds a message from its body lines (CRLF added), stuffing a leading dot as
 * RFC 1939 section 3 says. */
static void msg_from_lines(msg *m, const char *const *lines, size_t n)
{
    *m = (msg){0};
    append(&m->wire, &m->wire_len, "", 0);
    append(&m->body, &m->body_len, "", 0);
    for (size_t i = 0; i < n; i++) {
        if (lines[i][0] == '.')
            append(&m->wire, &m->wire_len, ".", 1);
        append(&m->wire, &m->wire_len, lines[i], strlen(lines[i]));
        append(&m->wire, &m->wire_len, "\r\n", 2);
        append(&m->body, &m->body_len, lines[i], strlen(lines[i]));
        append(&m->body, &m->body_len, "\r\n", 2);
    }
    append(&m->wire, &m->wire_len, ".\r\n", 3);
}

/* 1: plain; 2: stuffed dots everywhere; 3: empty; 4: ~360 KiB, larger than the
 * fetcher's write buffer, with a stuffed line every 7. */
static size_t make_mailbox(msg *m)
{
    static const char *const plain[] = {"Subject: one", "", "Hello, world."};
    static const char *const dots[] = {"Subject: dots", "", ".starts with a dot", ".",
                                       "..", "...x", "end."};
    msg_from_lines(&m[0], plain, 3);
    msg_from_lines(&m[1], dots, 7);
    msg_from_lines(&m[2], NULL, 0);
    m[3] = (msg){0};
    append(&m[3].wire, &m[3].wire_len, "", 0);
    append(&m[3].body, &m[3].body_len, "", 0);
    for (int i = 0; i < 6000; i++) {
        char line[80];
        int n = snprintf(line, sizeof line, "%sline %05d of a long message, some filler text",
                         i % 7 == 0 ? "." : "", i);
        if (i % 7 == 0)
            append(&m[3].wire, &m[3].wire_len, ".", 1);
        append(&m[3].wire, &m[3].wire_len, line, (size_t)n);
        append(&m[3].wire, &m[3].wire_len, "\r\n", 2);
        append(&m[3].body, &m[3].body_len, line, (size_t)n);
        append(&m[3].body, &m[3].body_len, "\r\n", 2);
    }
    append(&m[3].wire, &m[3].wire_len, ".\r\n", 3);
    return 4;
}

static void free_mailbox(msg *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].wire);
        free(m[i].body);
    }
}

/* ------------------------------------------------------------------ script */

static void script_login(p3s *s, int pipelining)
{
    p3s_send(s, "+OK test POP3 server ready\r\n");
    p3s_expect(s, "CAPA");
    p3s_send(s, pipelining ? "+OK\r\nUSER\r\nPIPELINING\r\n.\r\n" : "+OK\r\nUSER\r\n.\r\n");
    p3s_expect(s, "USER alice");
    p3s_send(s, "+OK\r\n");
    p3s_expect(s, "PASS " PASSWORD);
    p3s_send(s, "+OK logged in\r\n");
}

static void script_stat(p3s *s, const msg *m, size_t n)
{
    char line[64];
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += m[i].body_len;
    snprintf(line, sizeof line, "+OK %zu %zu\r\n", n, total);
    p3s_expect(s, "STAT");
    p3s_send(s, line);
}

static void script_retr(p3s *s, size_t number, const msg *m)
{
    char line[32];
    snprintf(line, sizeof line, "RETR %zu", number);
    p3s_expect(s, line);
    p3s_send(s, "+OK message follows\r\n");
    p3s_send_bytes(s, m->wire, m->wire_len);
}

/* ------------------------------------------------------------------- a run */

typedef struct {
    struct event_base *base;
    p3s *srv;
    uint16_t port;
    char work[64]; /* temp dir holding out/, stdout, stderr */
    char out[80];
    pid_t pid;
    int exit_code; /* -1: killed or timed out */
    int exited;
    char *stdout_text, *stderr_text;
    /* DELE checks: when the server has consumed line dele_line + k - 1 ("DELE k"),
     * <k>.eml must already be there. */
    size_t dele_line, dele_count, dele_checked;
    int dele_before_file;
} run;

static void run_init(run *r)
{
    *r = (run){.exit_code = -1};
    signal(SIGPIPE, SIG_IGN);
    r->base = event_base_new();
    ck_assert_ptr_nonnull(r->base);
    r->srv = p3s_new(r->base);
    ck_assert_ptr_nonnull(r->srv);
    r->port = p3s_listen(r->srv, "127.0.0.1");
    ck_assert_uint_ne(r->port, 0);
    const char *tmp = getenv("TMPDIR");
    snprintf(r->work, sizeof r->work, "%s/fetch-all-XXXXXX", tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(r->work));
    snprintf(r->out, sizeof r->out, "%s/out", r->work);
    ck_assert_int_eq(mkdir(r->out, 0700), 0);
}

/* dir/name in one of a few static buffers, so two can be used in one call. */
static char *path_in(const char *dir, const char *name)
{
    static char buf[4][1024];
    static int next;
    char *p = buf[next++ % 4];
    int n = snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    ck_assert(n > 0 && (size_t)n < sizeof buf[0]);
    return p;
}

static char *read_file(const char *path, size_t *len)
{
    char *data = NULL;
    size_t n = 0;
    char chunk[8192];
    ssize_t got;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    append(&data, &n, "", 0);
    while ((got = read(fd, chunk, sizeof chunk)) > 0)
        append(&data, &n, chunk, (size_t)got);
    close(fd);
    if (len)
        *len = n;
    return data;
}

static void check_deles(run *r)
{
    size_t lines = p3s_lines_received(r->srv);
    while (r->dele_line && r->dele_checked < r->dele_count &&
           lines >= r->dele_line + r->dele_checked) {
        char name[32];
        struct stat st;
        snprintf(name, sizeof name, "%zu.eml", r->dele_checked + 1);
        if (stat(path_in(r->out, name), &st) != 0)
            r->dele_before_file = 1;
        r->dele_checked++;
    }
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
    run *r = arg;
    int status;
    (void)fd;
    (void)what;
    check_deles(r);
    if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
        r->exited = 1;
        r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        event_base_loopbreak(r->base);
    }
}

/* Runs fetch-all with the usual connection arguments plus `extra` (NULL-ended),
 * the password in P3TEST_PW unless `password` is NULL, and serves the script
 * until the child exits, then until the server has read everything it sent. */
static void run_fetch(run *r, const char *password, const char *const *extra)
{
    char port[16];
    const char *argv[40] = {fetch_all_path, "--host", "127.0.0.1", "--port", port,
                            "--user", "alice", "--password-env", "P3TEST_PW",
                            "--out", r->out, "--tls", "none", "--allow-cleartext",
                            "--timeout", "5"};
    size_t argc = 16;
    snprintf(port, sizeof port, "%u", (unsigned)r->port);
    for (size_t i = 0; extra && extra[i]; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    if (password)
        setenv("P3TEST_PW", password, 1);
    else
        unsetenv("P3TEST_PW");

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, path_in(r->work, "stdout"),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, path_in(r->work, "stderr"),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int rc = posix_spawn(&r->pid, fetch_all_path, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    ck_assert_msg(rc == 0, "posix_spawn %s: %s", fetch_all_path, strerror(rc));

    struct event *poll_ev = event_new(r->base, -1, EV_PERSIST, on_poll, r);
    struct timeval tick = {0, 2000};
    event_add(poll_ev, &tick);
    for (int waited = 0; !r->exited && waited < CHILD_WAIT_MS; waited += 100) {
        struct timeval slice = {0, 100000};
        event_base_loopexit(r->base, &slice);
        event_base_dispatch(r->base);
    }
    event_free(poll_ev);
    if (!r->exited) {
        kill(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
    }
    /* The child has gone: let the server read its last bytes and the FIN. */
    for (int waited = 0; p3s_connected(r->srv) && !p3s_peer_closed(r->srv) && waited < 2000;
         waited += 10) {
        struct timeval slice = {0, 10000};
        event_base_loopexit(r->base, &slice);
        event_base_dispatch(r->base);
    }
    check_deles(r);
    r->stdout_text = read_file(path_in(r->work, "stdout"), NULL);
    r->stderr_text = read_file(path_in(r->work, "stderr"), NULL);
    ck_assert_msg(r->exited, "fetch-all did not exit within %d ms", CHILD_WAIT_MS);
    ck_assert_ptr_nonnull(r->stdout_text);
    ck_assert_ptr_nonnull(r->stderr_text);
}

/* Removes everything the run made. */
static void run_free(run *r)
{
    DIR *d = opendir(r->out);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            unlink(path_in(r->out, e->d_name)) != 0)
            rmdir(path_in(r->out, e->d_name));
    }
    if (d)
        closedir(d);
    rmdir(r->out);
    unlink(path_in(r->work, "stdout"));
    unlink(path_in(r->work, "stderr"));
    rmdir(r->work);
    free(r->stdout_text);
    free(r->stderr_text);
    p3s_free(r->srv);
    event_base_free(r->base);
}

#define SCRIPT_DONE(r)                                                                      \
    do {                                                                                    \
        ck_assert_msg(p3s_error((r)->srv) == NULL, "script: %s", p3s_error((r)->srv));      \
        ck_assert_msg(p3s_done((r)->srv), "script did not run to its end");                 \
    } while (0)

#define EXIT_IS(r, code)                                                                    \
    ck_assert_msg((r)->exit_code == (code), "exit %d, want %d; stderr: %s",                 \
                  (r)->exit_code, (code), (r)->stderr_text)

/* The names in out/, sorted, space-separated. */
static void list_out(const run *r, char *buf, size_t size)
{
    struct dirent **names;
    int n = scandir(r->out, &names, NULL, alphasort);
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.' || strlen(names[i]->d_name) > 2) {
            if (strcmp(names[i]->d_name, "..") != 0) {
                strncat(buf, buf[0] ? " " : "", size - strlen(buf) - 1);
                strncat(buf, names[i]->d_name, size - strlen(buf) - 1);
            }
        }
        free(names[i]);
    }
    free(n >= 0 ? names : NULL);
}

static void assert_file(const run *r, size_t number, const msg *m)
{
    char name[32];
    size_t len;
    snprintf(name, sizeof name, "%zu.eml", number);
    char *data = read_file(path_in(r->out, name), &len);
    ck_assert_msg(data != NULL, "%s missing", name);
    ck_assert_msg(len == m->body_len && memcmp(data, m->body, len) == 0,
                  "%s: %zu bytes differ from the %zu expected", name, len, m->body_len);
    free(data);
}

static void expected_stdout(const msg *m, size_t n, char *buf, size_t size)
{
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(buf + strlen(buf), size - strlen(buf), "%zu %zu\n", i + 1, m[i].body_len);
}

/* ------------------------------------------------------------------- tests */

/* Both with PIPELINING (all RETRs, then QUIT, in one go) and without, with the
 * replies cut into odd-sized writes. No --delete: a DELE would break the script. */
START_TEST(stores_every_message_unstuffed_then_quits)
{
    int pipelining = _i;
    msg m[MAX_MSGS];
    size_t n = make_mailbox(m);
    run r;
    char want[256], names[256];
    run_init(&r);
    script_login(r.srv, pipelining);
    script_stat(r.srv, m, n);
    if (!pipelining)
        p3s_write_chunk(r.srv, 1009, 0);
    for (size_t i = 0; i < n; i++)
        script_retr(r.srv, i + 1, &m[i]);
    p3s_expect(r.srv, "QUIT");
    p3s_send(r.srv, "+OK bye\r\n");
    p3s_close(r.srv);

    run_fetch(&r, PASSWORD, NULL);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    ck_assert_uint_eq(p3s_bytes_unread(r.srv), 0);
    expected_stdout(m, n, want, sizeof want);
    ck_assert_str_eq(r.stdout_text, want);
    ck_assert_str_eq(r.stderr_text, "");
    for (size_t i = 0; i < n; i++)
        assert_file(&r, i + 1, &m[i]);
    list_out(&r, names, sizeof names);
    ck_assert_str_eq(names, "1.eml 2.eml 3.eml 4.eml"); /* no temp file left */
    run_free(&r);
    free_mailbox(m, n);
}
END_TEST

START_TEST(delete_sends_dele_only_once_the_file_is_stored)
{
    int pipelining = _i;
    msg m[MAX_MSGS];
    size_t n = make_mailbox(m);
    run r;
    char want[256], line[32];
    run_init(&r);
    script_login(r.srv, pipelining);
    script_stat(r.srv, m, n);
    for (size_t i = 0; i < n; i++)
        script_retr(r.srv, i + 1, &m[i]);
    r.dele_line = 3 + 1 + n + 1; /* CAPA USER PASS, STAT, the RETRs, then DELE 1 */
    r.dele_count = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(line, sizeof line, "DELE %zu", i + 1);
        p3s_expect(r.srv, line);
        p3s_delay(r.srv, 20); /* time for the poll to look at the file system */
        p3s_send(r.srv, "+OK marked\r\n");
    }
    p3s_expect(r.srv, "QUIT");
    p3s_send(r.srv, "+OK 4 messages deleted\r\n");
    p3s_close(r.srv);

    const char *const extra[] = {"--delete", NULL};
    run_fetch(&r, PASSWORD, extra);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    ck_assert_uint_eq(r.dele_checked, n);
    ck_assert_msg(!r.dele_before_file, "DELE arrived before its message file existed");
    expected_stdout(m, n, want, sizeof want);
    ck_assert_str_eq(r.stdout_text, want);
    for (size_t i = 0; i < n; i++)
        assert_file(&r, i + 1, &m[i]);
    run_free(&r);
    free_mailbox(m, n);
}
END_TEST

START_TEST(drop_mid_retr_fails_and_leaves_no_file_for_that_message)
{
    msg m[MAX_MSGS];
    size_t n = make_mailbox(m);
    run r;
    char want[64], names[256];
    run_init(&r);
    script_login(r.srv, 0);
    script_stat(r.srv, m, n);
    script_retr(r.srv, 1, &m[0]);
    p3s_expect(r.srv, "RETR 2");
    p3s_send(r.srv, "+OK message follows\r\nSubject: dots\r\n\r\n..starts with a do");
    p3s_close(r.srv);

    const char *const extra[] = {"--delete", NULL};
    run_fetch(&r, PASSWORD, extra);
    EXIT_IS(&r, 1);
    SCRIPT_DONE(&r);
    snprintf(want, sizeof want, "1 %zu\n", m[0].body_len);
    ck_assert_str_eq(r.stdout_text, want);
    ck_assert_msg(strstr(r.stderr_text, "fetch-all: RETR 2: POP3A_ERR_EOF") != NULL,
                  "stderr: %s", r.stderr_text);
    assert_file(&r, 1, &m[0]);
    list_out(&r, names, sizeof names);
    ck_assert_str_eq(names, "1.eml"); /* neither 2.eml nor .2.eml.tmp */
    run_free(&r);
    free_mailbox(m, n);
}
END_TEST

/* RETR 2 (the last) refused after message 1 is stored: its DELE waits for the
 * end of its batch, which never comes, and the fetcher ends without QUIT, which
 * would commit any deletion (RFC 1939 section 6). With PIPELINING every byte the
 * client may send is scripted, so a DELE or QUIT would show as unread. */
START_TEST(retr_error_with_delete_never_quits)
{
    msg m[MAX_MSGS];
    size_t n = make_mailbox(m);
    run r;
    run_init(&r);
    script_login(r.srv, 1);
    script_stat(r.srv, m, 2);
    script_retr(r.srv, 1, &m[0]);
    p3s_expect(r.srv, "RETR 2");
    p3s_send(r.srv, "-ERR [SYS/TEMP] message 2 is locked\r\n");

    const char *const extra[] = {"--delete", NULL};
    run_fetch(&r, PASSWORD, extra);
    EXIT_IS(&r, 1);
    SCRIPT_DONE(&r);
    ck_assert_msg(p3s_bytes_unread(r.srv) == 0, "%zu bytes after the refusal (DELE? QUIT?)",
                  p3s_bytes_unread(r.srv));
    ck_assert_int_eq(p3s_peer_closed(r.srv), 1);
    ck_assert_msg(strstr(r.stderr_text, "RETR 2: POP3A_ERR_SERVER [SYS/TEMP] message 2 is locked"),
                  "stderr: %s", r.stderr_text);
    assert_file(&r, 1, &m[0]);
    run_free(&r);
    free_mailbox(m, n);
}
END_TEST

/* More messages than one DELE batch (64), the 66th refused. The first 64 are
 * stored, then marked with DELE, each only once its file exists; the 65th is
 * stored but its batch never completes, so it is not marked; and no QUIT. */
START_TEST(delete_marks_stored_batches_only)
{
    enum { N = 70, BATCH = 64, REFUSED = 66 };
    msg m[MAX_MSGS];
    size_t n = make_mailbox(m);
    run r;
    char line[64];
    run_init(&r);
    script_login(r.srv, 1);
    p3s_expect(r.srv, "STAT");
    snprintf(line, sizeof line, "+OK %d %d\r\n", N, N * 100);
    p3s_send(r.srv, line);
    for (size_t i = 1; i <= BATCH; i++)
        script_retr(r.srv, i, &m[(i - 1) % n]);
    for (size_t i = BATCH + 1; i <= N; i++) {
        snprintf(line, sizeof line, "RETR %zu", i);
        p3s_expect(r.srv, line);
    }
    r.dele_line = 3 + 1 + N + 1; /* CAPA USER PASS, STAT, the RETRs, then DELE 1 */
    r.dele_count = BATCH;
    for (size_t i = 1; i <= BATCH; i++) {
        snprintf(line, sizeof line, "DELE %zu", i);
        p3s_expect(r.srv, line);
    }
    p3s_send(r.srv, "+OK message follows\r\n");
    p3s_send_bytes(r.srv, m[(BATCH) % n].wire, m[(BATCH) % n].wire_len);
    p3s_delay(r.srv, 100); /* time for a DELE 65 to go out, were it sent */
    p3s_send(r.srv, "-ERR no such message\r\n");

    const char *const extra[] = {"--delete", NULL};
    run_fetch(&r, PASSWORD, extra);
    EXIT_IS(&r, 1);
    SCRIPT_DONE(&r);
    ck_assert_msg(p3s_bytes_unread(r.srv) == 0, "%zu bytes after DELE %d (DELE %d? QUIT?)",
                  p3s_bytes_unread(r.srv), BATCH, BATCH + 1);
    ck_assert_uint_eq(r.dele_checked, BATCH);
    ck_assert_msg(!r.dele_before_file, "DELE arrived before its message file existed");
    snprintf(line, sizeof line, "RETR %d: POP3A_ERR_SERVER", REFUSED);
    ck_assert_msg(strstr(r.stderr_text, line) != NULL, "stderr: %s", r.stderr_text);
    for (size_t i = 1; i < REFUSED; i++)
        assert_file(&r, i, &m[(i - 1) % n]);
    run_free(&r);
    free_mailbox(m, n);
}
END_TEST

/* A server that advertises PIPELINING and drops the connection in the middle
 * of the pipelined RETRs: fetch-all keeps message 1, reconnects once with
 * pipelining off (PASS after USER's reply, then one command at a time) and
 * fetches 2..4. With --delete (_i = 1) the second session marks message 1
 * again, since the first one's marks were never committed (no QUIT). */
START_TEST(drop_while_pipelining_retries_once_without)
{
    int delete_after = _i;
    msg m[MAX_MSGS];
    size_t n = make_mailbox(m);
    run r;
    char want[256], names[256], line[32];
    run_init(&r);
    p3s *again = p3s_new(r.base);
    ck_assert_ptr_nonnull(again);
    p3s_hand_over(r.srv, again);
    script_login(r.srv, 1);
    script_stat(r.srv, m, n);
    script_retr(r.srv, 1, &m[0]);
    for (size_t i = 2; i <= n; i++) {
        snprintf(line, sizeof line, "RETR %zu", i);
        p3s_expect(r.srv, line);
    }
    p3s_send(r.srv, "+OK message follows\r\nSubject: cut\r\n");
    p3s_close(r.srv);

    script_login(again, 1); /* PIPELINING still offered; not used */
    script_stat(again, m, n);
    if (delete_after) {
        p3s_expect(again, "DELE 1");
        p3s_send(again, "+OK marked\r\n");
    }
    for (size_t i = 2; i <= n; i++) {
        snprintf(line, sizeof line, "RETR %zu", i);
        p3s_expect(again, line);
        p3s_expect_silence(again, 50); /* nothing pipelined behind it */
        p3s_send(again, "+OK message follows\r\n");
        p3s_send_bytes(again, m[i - 1].wire, m[i - 1].wire_len);
    }
    for (size_t i = 2; delete_after && i <= n; i++) {
        snprintf(line, sizeof line, "DELE %zu", i);
        p3s_expect(again, line);
        p3s_send(again, "+OK marked\r\n");
    }
    p3s_expect(again, "QUIT");
    p3s_send(again, "+OK bye\r\n");
    p3s_close(again);

    const char *const extra[] = {delete_after ? "--delete" : NULL, NULL};
    run_fetch(&r, PASSWORD, extra);
    ck_assert_msg(p3s_error(again) == NULL, "second script: %s", p3s_error(again));
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    ck_assert_msg(p3s_done(again), "second script did not run to its end");
    ck_assert_msg(strstr(r.stderr_text, "retrying once without pipelining") != NULL,
                  "stderr: %s", r.stderr_text);
    expected_stdout(m, n, want, sizeof want);
    ck_assert_str_eq(r.stdout_text, want);
    for (size_t i = 0; i < n; i++)
        assert_file(&r, i + 1, &m[i]);
    list_out(&r, names, sizeof names);
    ck_assert_str_eq(names, "1.eml 2.eml 3.eml 4.eml");
    p3s_free(again);
    run_free(&r);
    free_mailbox(m, n);
}
END_TEST

/* Without PIPELINING a drop is not the server's pipelining failing: no retry. */
START_TEST(drop_without_pipelining_is_not_retried)
{
    msg m[MAX_MSGS];
    size_t n = make_mailbox(m);
    run r;
    run_init(&r);
    p3s *again = p3s_new(r.base);
    ck_assert_ptr_nonnull(again);
    p3s_hand_over(r.srv, again);
    script_login(r.srv, 0);
    script_stat(r.srv, m, n);
    p3s_expect(r.srv, "RETR 1");
    p3s_close(r.srv);

    run_fetch(&r, PASSWORD, NULL);
    EXIT_IS(&r, 1);
    SCRIPT_DONE(&r);
    ck_assert_msg(!p3s_connected(again), "fetch-all reconnected");
    ck_assert_msg(strstr(r.stderr_text, "RETR 1: POP3A_ERR_EOF") != NULL, "stderr: %s",
                  r.stderr_text);
    p3s_free(again);
    run_free(&r);
    free_mailbox(m, n);
}
END_TEST

/* The temp name of message 2 is taken by a directory: open fails, the fetcher
 * stops, message 1 is kept and nothing further is sent (no DELE 1: without
 * pipelining it would follow RETR 2's reply, which the abort cut off). */
START_TEST(unwritable_message_stops_before_any_dele)
{
    msg m[MAX_MSGS];
    size_t n = make_mailbox(m);
    run r;
    char names[256];
    run_init(&r);
    ck_assert_int_eq(mkdir(path_in(r.out, ".2.eml.tmp"), 0700), 0);
    script_login(r.srv, 0);
    script_stat(r.srv, m, n);
    script_retr(r.srv, 1, &m[0]);
    script_retr(r.srv, 2, &m[1]);

    const char *const extra[] = {"--delete", NULL};
    run_fetch(&r, PASSWORD, extra);
    EXIT_IS(&r, 1);
    ck_assert_msg(p3s_error(r.srv) == NULL, "script: %s", p3s_error(r.srv));
    ck_assert_uint_eq(p3s_bytes_unread(r.srv), 0);
    ck_assert_msg(strstr(r.stderr_text, "/.2.eml.tmp: ") != NULL, "stderr: %s", r.stderr_text);
    assert_file(&r, 1, &m[0]);
    list_out(&r, names, sizeof names);
    ck_assert_str_eq(names, ".2.eml.tmp 1.eml");
    run_free(&r);
    free_mailbox(m, n);
}
END_TEST

START_TEST(pass_refused_fails_with_the_server_text)
{
    run r;
    char names[256];
    run_init(&r);
    p3s_send(r.srv, "+OK test POP3 server ready\r\n");
    p3s_expect(r.srv, "CAPA");
    p3s_send(r.srv, "+OK\r\nUSER\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n.\r\n");
    p3s_expect(r.srv, "USER alice");
    p3s_send(r.srv, "+OK\r\n");
    p3s_expect(r.srv, "PASS wrong");
    p3s_send(r.srv, "-ERR [AUTH] invalid user or password\r\n");

    run_fetch(&r, "wrong", NULL);
    EXIT_IS(&r, 1);
    SCRIPT_DONE(&r);
    ck_assert_msg(strstr(r.stderr_text, "fetch-all: login: POP3A_ERR_AUTH") == r.stderr_text,
                  "stderr: %s", r.stderr_text);
    ck_assert_msg(strstr(r.stderr_text, "invalid user or password") != NULL, "stderr: %s",
                  r.stderr_text);
    ck_assert_str_eq(r.stdout_text, "");
    list_out(&r, names, sizeof names);
    ck_assert_str_eq(names, "");
    run_free(&r);
}
END_TEST

/* --tls stls and a server without STLS: a hard error before any credential. */
START_TEST(stls_required_but_missing_sends_no_password)
{
    run r;
    run_init(&r);
    p3s_send(r.srv, "+OK test POP3 server ready\r\n");
    p3s_expect(r.srv, "CAPA");
    p3s_send(r.srv, "+OK\r\nUSER\r\n.\r\n");

    const char *const extra[] = {"--tls", "stls", NULL};
    run_fetch(&r, PASSWORD, extra);
    EXIT_IS(&r, 1);
    SCRIPT_DONE(&r);
    /* At most a polite QUIT; never "USER alice". */
    ck_assert_msg(p3s_bytes_unread(r.srv) == 0 || p3s_bytes_unread(r.srv) == strlen("QUIT\r\n"),
                  "%zu bytes after CAPA", p3s_bytes_unread(r.srv));
    ck_assert_msg(strstr(r.stderr_text, "fetch-all: connect: POP3A_ERR_TLS_REQUIRED") != NULL,
                  "stderr: %s", r.stderr_text);
    run_free(&r);
}
END_TEST

/* A server that accepts and never greets: --timeout 1 bounds the wait. */
START_TEST(silent_server_times_out_after_the_given_timeout)
{
    run r;
    struct timespec t0, t1;
    const char *const extra[] = {"--timeout", "1", NULL};
    run_init(&r);
    p3s_expect_silence(r.srv, 10000);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run_fetch(&r, PASSWORD, extra);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    EXIT_IS(&r, 1);
    ck_assert_msg(strstr(r.stderr_text, "fetch-all: connect: POP3A_ERR_TIMEOUT") != NULL,
                  "stderr: %s", r.stderr_text);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    ck_assert_msg(secs > 0.8 && secs < 4.0, "gave up after %.2f s, want about 1", secs);
    run_free(&r);
}
END_TEST

/* Usage errors exit 2 before connecting; the password is never echoed. */
START_TEST(usage_errors_exit_2_without_connecting)
{
    static const struct {
        const char *password; /* NULL: variable unset */
        const char *extra[3];
    } cases[] = {
        {NULL, {NULL}},
        {"", {NULL}},
        {PASSWORD, {"--tls", "smtp", NULL}},
        {PASSWORD, {"--port", "70000", NULL}},
        {PASSWORD, {"--timeout", "soon", NULL}},
        {PASSWORD, {"--bogus", NULL}},
        {PASSWORD, {"--out", NULL}}, /* the last option lacks its value */
    };
    run r;
    run_init(&r);
    run_fetch(&r, cases[_i].password, cases[_i].extra);
    EXIT_IS(&r, 2);
    ck_assert_int_eq(p3s_connected(r.srv), 0);
    ck_assert_msg(strstr(r.stderr_text, "fetch-all: ") == r.stderr_text, "stderr: %s",
                  r.stderr_text);
    ck_assert_ptr_null(strstr(r.stderr_text, PASSWORD));
    run_free(&r);
}
END_TEST

/* ------------------------------------------------------------------ TLS */

/* The server side of --tls implicit (_i 0: POP3S from the first byte) or --tls
 * stls (_i 1: STLS, then CAPA again, RFC 2595 section 4), up to the handshake. */
static void script_tls_start(p3s *s, int stls)
{
    SSL_CTX *ctx = p3s_tls_server_ctx("leaf");
    ck_assert_ptr_nonnull(ctx);
    if (!stls) {
        p3s_tls_implicit(s, ctx);
    } else {
        p3s_send(s, "+OK test POP3 server ready\r\n");
        p3s_expect(s, "CAPA");
        p3s_send(s, "+OK\r\nSTLS\r\nUSER\r\n.\r\n");
        p3s_expect(s, "STLS");
        p3s_send(s, "+OK Begin TLS\r\n");
        p3s_start_tls(s, ctx);
    }
    SSL_CTX_free(ctx);
}

/* A verified TLS session with the test CA: every message stored, QUIT sent. */
START_TEST(tls_with_ca_file_fetches_every_message)
{
    int stls = _i;
    msg m[MAX_MSGS];
    size_t n = make_mailbox(m);
    run r;
    char want[256];
    run_init(&r);
    script_tls_start(r.srv, stls);
    if (stls) { /* CAPA again under TLS; the greeting came before STLS */
        p3s_expect(r.srv, "CAPA");
        p3s_send(r.srv, "+OK\r\nUSER\r\nPIPELINING\r\n.\r\n");
        p3s_expect(r.srv, "USER alice");
        p3s_send(r.srv, "+OK\r\n");
        p3s_expect(r.srv, "PASS " PASSWORD);
        p3s_send(r.srv, "+OK logged in\r\n");
    } else {
        script_login(r.srv, 1);
    }
    script_stat(r.srv, m, n);
    for (size_t i = 0; i < n; i++)
        script_retr(r.srv, i + 1, &m[i]);
    p3s_expect(r.srv, "QUIT");
    p3s_send(r.srv, "+OK bye\r\n");
    p3s_close(r.srv);

    const char *const extra[] = {"--tls", stls ? "stls" : "implicit", "--ca-file",
                                 p3s_cert("ca.pem"), NULL};
    run_fetch(&r, PASSWORD, extra);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    ck_assert_int_eq(p3s_tls_handshake_done(r.srv), 1);
    expected_stdout(m, n, want, sizeof want);
    ck_assert_str_eq(r.stdout_text, want);
    ck_assert_str_eq(r.stderr_text, "");
    for (size_t i = 0; i < n; i++)
        assert_file(&r, i + 1, &m[i]);
    run_free(&r);
    free_mailbox(m, n);
}
END_TEST

/* Without --ca-file the system store does not know the test CA: the connect
 * fails with POP3A_ERR_TLS and no credential is sent. */
START_TEST(tls_without_ca_file_fails_before_the_password)
{
    int stls = _i;
    run r;
    run_init(&r);
    script_tls_start(r.srv, stls);
    p3s_expect_eof(r.srv);

    const char *const extra[] = {"--tls", stls ? "stls" : "implicit", NULL};
    run_fetch(&r, PASSWORD, extra);
    EXIT_IS(&r, 1);
    SCRIPT_DONE(&r);
    ck_assert_msg(strstr(r.stderr_text, "fetch-all: connect: POP3A_ERR_TLS") == r.stderr_text,
                  "stderr: %s", r.stderr_text);
    ck_assert_int_eq(p3s_tls_handshake_done(r.srv), 0);
    /* Nothing (implicit) or just "CAPA\r\nSTLS\r\n" in clear: never USER or PASS. */
    ck_assert_uint_eq(p3s_bytes_received(r.srv), stls ? 12u : 0u);
    ck_assert_str_eq(r.stdout_text, "");
    ck_assert_ptr_null(strstr(r.stderr_text, PASSWORD));
    run_free(&r);
}
END_TEST

START_TEST(help_prints_usage_and_exits_0)
{
    run r;
    const char *const extra[] = {"--help", NULL};
    run_init(&r);
    run_fetch(&r, PASSWORD, extra);
    EXIT_IS(&r, 0);
    ck_assert_msg(strstr(r.stdout_text, "usage: fetch-all --host H") == r.stdout_text,
                  "stdout: %s", r.stdout_text);
    ck_assert_int_eq(p3s_connected(r.srv), 0);
    run_free(&r);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s /path/to/fetch-all\n", argv[0]);
        return 2;
    }
    fetch_all_path = argv[1];
    if (!p3s_certs_make()) {
        fprintf(stderr, "test_fetch_all: make-test-certs not found or failed "
                        "(set POP3A_MAKE_TEST_CERTS)\n");
        return 1;
    }
    Suite *s = suite_create("fetch_all");
    TCase *tc = tcase_create("fetch_all");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, stores_every_message_unstuffed_then_quits, 0, 2);
    tcase_add_loop_test(tc, delete_sends_dele_only_once_the_file_is_stored, 0, 2);
    tcase_add_test(tc, drop_mid_retr_fails_and_leaves_no_file_for_that_message);
    tcase_add_test(tc, retr_error_with_delete_never_quits);
    tcase_add_test(tc, delete_marks_stored_batches_only);
    tcase_add_loop_test(tc, drop_while_pipelining_retries_once_without, 0, 2);
    tcase_add_test(tc, drop_without_pipelining_is_not_retried);
    tcase_add_test(tc, unwritable_message_stops_before_any_dele);
    tcase_add_test(tc, pass_refused_fails_with_the_server_text);
    tcase_add_test(tc, stls_required_but_missing_sends_no_password);
    tcase_add_test(tc, silent_server_times_out_after_the_given_timeout);
    tcase_add_loop_test(tc, usage_errors_exit_2_without_connecting, 0, 7);
    tcase_add_test(tc, help_prints_usage_and_exits_0);
    tcase_add_loop_test(tc, tls_with_ca_file_fetches_every_message, 0, 2);
    tcase_add_loop_test(tc, tls_without_ca_file_fails_before_the_password, 0, 2);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV); /* CK_VERBOSITY, default normal */
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    p3s_certs_remove();
    return failed == 0 ? 0 : 1;
}
