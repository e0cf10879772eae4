/* The example test harness (fetch_all_run.h). */
#include "fetch_all_run.h"
#include "test_util.h"

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
#include <unistd.h>

#include <event2/event.h>

extern char **environ;

const char *fetch_all_path;

/* ---------------------------------------------------------------- mailbox */

/* The allocation behind a buffer holding `used` bytes (NUL included): powers of
 * two, so that building the ~300 KiB message line by line copies it a few
 * times, not once per line (which took seconds under ASan and valgrind). */
static size_t room(size_t used)
{
    size_t cap = 64;
    while (cap < used)
        cap *= 2;
    return cap;
}

static void append(char **buf, size_t *len, const char *s, size_t n)
{
    if (!*buf || room(*len + n + 1) > room(*len + 1))
        *buf = realloc(*buf, room(*len + n + 1));
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
size_t make_mailbox(msg *m)
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

void free_mailbox(msg *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].wire);
        free(m[i].body);
    }
}

/* ------------------------------------------------------------------ script */

void script_login_capa(p3s *s, const char *capa_reply)
{
    p3s_send(s, "+OK test POP3 server ready\r\n");
    p3s_expect(s, "CAPA");
    p3s_send(s, capa_reply);
    p3s_expect(s, "USER alice");
    p3s_send(s, "+OK\r\n");
    p3s_expect(s, "PASS " PASSWORD);
    p3s_send(s, "+OK logged in\r\n");
}

void script_login(p3s *s, int pipelining)
{
    script_login_capa(s, pipelining ? "+OK\r\nUSER\r\nPIPELINING\r\n.\r\n"
                                    : "+OK\r\nUSER\r\n.\r\n");
}

void script_stat(p3s *s, const msg *m, size_t n)
{
    char line[64];
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += m[i].body_len;
    snprintf(line, sizeof line, "+OK %zu %zu\r\n", n, total);
    p3s_expect(s, "STAT");
    p3s_send(s, line);
}

void script_retr(p3s *s, size_t number, const msg *m)
{
    char line[32];
    snprintf(line, sizeof line, "RETR %zu", number);
    p3s_expect(s, line);
    p3s_send(s, "+OK message follows\r\n");
    p3s_send_bytes(s, m->wire, m->wire_len);
}

void script_retr_all(p3s *s, const msg *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        script_retr(s, i + 1, &m[i]);
}

void script_quit(p3s *s, const char *reply)
{
    p3s_expect(s, "QUIT");
    p3s_send(s, reply);
    p3s_close(s);
}

/* ------------------------------------------------------------------- a run */

void run_init(run *r)
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
char *path_in(const char *dir, const char *name)
{
    static char buf[4][1024];
    static int next;
    char *p = buf[next++ % 4];
    int n = snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    ck_assert(n > 0 && (size_t)n < sizeof buf[0]);
    return p;
}

char *read_file(const char *path, size_t *len)
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
    if (r->tick)
        r->tick(r);
    if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
        r->exited = 1;
        r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        event_base_loopbreak(r->base);
    }
}

/* The words of $POP3A_CHILD_WRAPPER (the valgrind test setup sets it, so that
 * the example itself runs under valgrind too) into words[], split at spaces in
 * buf (a copy); returns how many. */
static size_t wrapper_words(char *buf, size_t size, const char **words, size_t max)
{
    const char *w = getenv("POP3A_CHILD_WRAPPER");
    size_t n = 0;
    if (!w || !w[0])
        return 0;
    ck_assert_msg(strlen(w) < size, "POP3A_CHILD_WRAPPER too long");
    strcpy(buf, w);
    for (char *t = strtok(buf, " "); t && n < max; t = strtok(NULL, " "))
        words[n++] = t;
    return n;
}

void serve_until_closed(run *r, p3s *s)
{
    for (int waited = 0; p3s_connected(s) && !p3s_peer_closed(s) && waited < 2000;
         waited += 10) {
        struct timeval slice = {0, 10000};
        event_base_loopexit(r->base, &slice);
        event_base_dispatch(r->base);
    }
}

const char *child_timeout_arg(void)
{
    static char seconds[16];
    snprintf(seconds, sizeof seconds, "%u", 5 * tu_time_scale());
    return seconds;
}

void run_program(run *r, const char *password, const char *const *args)
{
    if (password)
        setenv("P3TEST_PW", password, 1);
    else
        unsetenv("P3TEST_PW");
    run_child(r, args);
}

void run_child(run *r, const char *const *args)
{
    const char *argv[96];
    char wrapper[512];
    size_t argc = wrapper_words(wrapper, sizeof wrapper, argv, 32);
    for (size_t i = 0; args[i] && argc < 95; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    r->exited = 0;
    r->exit_code = -1;
    free(r->stdout_text);
    free(r->stderr_text);
    r->stdout_text = r->stderr_text = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, path_in(r->work, "stdout"),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, path_in(r->work, "stderr"),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int rc = posix_spawnp(&r->pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    ck_assert_msg(rc == 0, "posix_spawn %s: %s", argv[0], strerror(rc));

    struct event *poll_ev = event_new(r->base, -1, EV_PERSIST, on_poll, r);
    struct timeval tick = {0, 2000};
    event_add(poll_ev, &tick);
    const unsigned wait_ms = CHILD_WAIT_MS * tu_time_scale();
    for (unsigned waited = 0; !r->exited && waited < wait_ms; waited += 100) {
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
    serve_until_closed(r, r->srv);
    check_deles(r);
    r->stdout_text = read_file(path_in(r->work, "stdout"), NULL);
    r->stderr_text = read_file(path_in(r->work, "stderr"), NULL);
    ck_assert_msg(r->exited, "%s did not exit within %u ms", args[0], wait_ms);
    ck_assert_ptr_nonnull(r->stdout_text);
    ck_assert_ptr_nonnull(r->stderr_text);
}

void run_example(run *r, const char *prog, const char *password, const char *const *extra)
{
    char port[16];
    const char *const usual[] = {prog, "--host", "127.0.0.1", "--port", port, "--user",
                                 "alice", "--password-env", "P3TEST_PW", "--tls", "none",
                                 "--allow-cleartext", "--timeout", child_timeout_arg(), NULL};
    const char *argv[64];
    size_t argc = 0;
    snprintf(port, sizeof port, "%u", (unsigned)r->port);
    for (size_t i = 0; usual[i]; i++)
        argv[argc++] = usual[i];
    for (size_t i = 0; extra && extra[i] && argc < 63; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    run_program(r, password, argv);
}

void run_fetch(run *r, const char *password, const char *const *extra)
{
    const char *argv[64] = {"--out", r->out};
    size_t argc = 2;
    for (size_t i = 0; extra && extra[i] && argc < 63; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    run_example(r, fetch_all_path, password, argv);
}

size_t run_init_mailbox(run *r, msg *m, int pipelining)
{
    size_t n = make_mailbox(m);
    run_init(r);
    script_login(r->srv, pipelining);
    script_stat(r->srv, m, n);
    return n;
}

void run_free_mailbox(run *r, msg *m, size_t n)
{
    run_free(r);
    free_mailbox(m, n);
}

/* rm -r: a fetcher may leave subdirectories (a Maildir) and state files. */
static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[1024];
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0)
            remove_tree(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* Removes everything the run made. */
void run_free(run *r)
{
    remove_tree(r->work);
    free(r->stdout_text);
    free(r->stderr_text);
    p3s_free(r->srv);
    event_base_free(r->base);
}

/* The names in out/, sorted, space-separated. */
void list_out(const run *r, char *buf, size_t size)
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

void assert_file(const run *r, size_t number, const msg *m)
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

void expected_stdout(const msg *m, size_t n, char *buf, size_t size)
{
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(buf + strlen(buf), size - strlen(buf), "%zu %zu\n", i + 1, m[i].body_len);
}

void assert_all_stored(const run *r, const msg *m, size_t n)
{
    char want[256];
    expected_stdout(m, n, want, sizeof want);
    ck_assert_str_eq(r->stdout_text, want);
    for (size_t i = 0; i < n; i++)
        assert_file(r, i + 1, &m[i]);
}

int example_test_main(int argc, char **argv, const char *name, const char **prog, int certs,
                      void (*add)(TCase *tc))
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s /path/to/the/example\n", argv[0]);
        return 2;
    }
    *prog = argv[1];
    if (certs && !p3s_certs_make()) {
        fprintf(stderr, "%s: make-test-certs not found or failed (set POP3A_MAKE_TEST_CERTS)\n",
                argv[0]);
        return 1;
    }
    Suite *s = suite_create(name);
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, 60);
    add(tc);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV); /* CK_VERBOSITY, default normal */
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (certs)
        p3s_certs_remove();
    return failed == 0 ? 0 : 1;
}

/* See fetch_all_run.h. */
void preload_shim(const char *shim_path)
{
    static char *saved_asan;
    if (shim_path) {
        const char *asan = getenv("ASAN_OPTIONS");
        saved_asan = asan ? strdup(asan) : NULL;
        char opts[512];
        snprintf(opts, sizeof opts, "%s%sverify_asan_link_order=0", asan ? asan : "",
                 asan && *asan ? ":" : "");
        setenv("ASAN_OPTIONS", opts, 1);
        setenv("LD_PRELOAD", shim_path, 1);
        return;
    }
    unsetenv("LD_PRELOAD");
    if (saved_asan)
        setenv("ASAN_OPTIONS", saved_asan, 1);
    else
        unsetenv("ASAN_OPTIONS");
    free(saved_asan);
    saved_asan = NULL;
}
