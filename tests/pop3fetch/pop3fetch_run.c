/* The pop3fetch test harness (pop3fetch_run.h). */
#include "pop3fetch_run.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "test_util.h"

const char *pop3fetch_path;

void script_list(p3s *s, const msg *m, size_t n)
{
    char line[64];
    p3s_expect(s, "LIST");
    p3s_send(s, "+OK\r\n");
    for (size_t i = 0; i < n; i++) {
        snprintf(line, sizeof line, "%zu %zu\r\n", i + 1, m[i].body_len);
        p3s_send(s, line);
    }
    p3s_send(s, ".\r\n");
}

void script_listings(p3s *s, const msg *m, size_t n, const char *const *uids)
{
    char line[256];
    p3s_expect(s, "UIDL");
    p3s_send(s, "+OK\r\n");
    for (size_t i = 0; i < n; i++) {
        if (uids)
            snprintf(line, sizeof line, "%zu %s\r\n", i + 1, uids[i]);
        else
            snprintf(line, sizeof line, "%zu uid-%zu\r\n", i + 1, i + 1);
        p3s_send(s, line);
    }
    p3s_send(s, ".\r\n");
    script_list(s, m, n);
}

void script_session_start(p3s *s, const msg *m, size_t n)
{
    script_login(s, 0);
    script_listings(s, m, n, NULL);
}

const char *short_timeout_arg(void)
{
    static char seconds[16];
    snprintf(seconds, sizeof seconds, "%u", tu_time_scale());
    return seconds;
}

unsigned beyond_short_timeout_ms(void)
{
    return 3000 * tu_time_scale();
}

void fresh_server(run *r)
{
    p3s_free(r->srv);
    r->srv = p3s_new(r->base);
    ck_assert_ptr_nonnull(r->srv);
    r->port = p3s_listen(r->srv, "127.0.0.1");
    ck_assert_uint_ne(r->port, 0);
}

void run_pop3fetch_args(run *r, const char *const *args)
{
    const char *argv[64];
    size_t argc = 0;
    argv[argc++] = pop3fetch_path;
    for (size_t i = 0; args[i] && argc < 63; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    run_child(r, argv);
}

void run_pop3fetch(run *r, const char *const *extra)
{
    char port[16], state[128];
    const char *args[64];
    size_t n = 0;
    int delivery = 0;
    snprintf(port, sizeof port, "%u", (unsigned)r->port);
    snprintf(state, sizeof state, "%s/state.sqlite", r->work);
    const char *const common[] = {"--host", "127.0.0.1", "--port", port, "--user", "alice",
                                  "--password-env", "P3TEST_PW", "--tls", "none",
                                  "--allow-cleartext", "--timeout", child_timeout_arg(), "--state", state,
                                  NULL};
    for (size_t i = 0; common[i]; i++)
        args[n++] = common[i];
    for (size_t i = 0; extra && extra[i] && n < 60; i++) {
        delivery |= !strcmp(extra[i], "--maildir") || !strcmp(extra[i], "--mbox") ||
                    !strcmp(extra[i], "--mda");
        args[n++] = extra[i];
    }
    if (!delivery) {
        args[n++] = "--maildir";
        args[n++] = r->out;
    }
    args[n] = NULL;
    setenv("P3TEST_PW", PASSWORD, 1);
    run_pop3fetch_args(r, args);
}

char *lf_body(const msg *m, size_t *len)
{
    char *out = malloc(m->body_len + 1);
    size_t n = 0;
    ck_assert_ptr_nonnull(out);
    for (size_t i = 0; i < m->body_len; i++)
        if (!(m->body[i] == '\r' && i + 1 < m->body_len && m->body[i + 1] == '\n'))
            out[n++] = m->body[i];
    out[n] = '\0';
    *len = n;
    return out;
}

size_t maildir_count(const run *r, const char *sub)
{
    DIR *d = opendir(path_in(r->out, sub));
    struct dirent *e;
    size_t n = 0;
    while (d && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

void assert_maildir(const run *r, const msg *m, size_t n)
{
    char dir[256];
    int *used = calloc(n ? n : 1, sizeof *used);
    snprintf(dir, sizeof dir, "%s/new", r->out);
    ck_assert_uint_eq(maildir_count(r, "new"), n);
    ck_assert_uint_eq(maildir_count(r, "tmp"), 0);
    DIR *d = opendir(dir);
    struct dirent *e;
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        size_t len, want_len;
        if (e->d_name[0] == '.')
            continue;
        char *got = read_file(path_in(dir, e->d_name), &len);
        size_t k = 0;
        for (; k < n; k++) {
            char *want = lf_body(&m[k], &want_len);
            int same = !used[k] && want_len == len && memcmp(want, got, len) == 0;
            free(want);
            if (same)
                break;
        }
        ck_assert_msg(k < n, "new/%s (%zu bytes) is none of the expected messages", e->d_name,
                      len);
        used[k] = 1;
        free(got);
    }
    closedir(d);
    free(used);
}

void summary_prefix(char *out, size_t size, size_t n_new, uint64_t bytes, size_t deleted)
{
    snprintf(out, size, "alice@127.0.0.1: %zu new, %" PRIu64 " bytes, %zu deleted, ", n_new,
             bytes, deleted);
}

uint64_t wire_bytes(const msg *m, size_t n)
{
    uint64_t b = 0;
    for (size_t i = 0; i < n; i++)
        b += m[i].body_len;
    return b;
}

/* WORK/config with `mode`, from printf-style text; returns its path. */
const char *write_config(const run *r, mode_t mode, const char *text)
{
    static char path[160];
    snprintf(path, sizeof path, "%s/config", r->work);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    ck_assert_int_eq(chmod(path, mode), 0);
    return path;
}

void state_uids(const run *r, char *out, size_t size)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    size_t n = 0;
    out[0] = '\0';
    if (sqlite3_open_v2(path_in(r->work, "state.sqlite"), &db, SQLITE_OPEN_READONLY, NULL) ==
            SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT uid FROM uidl ORDER BY uid", -1, &q, NULL) == SQLITE_OK)
        while (sqlite3_step(q) == SQLITE_ROW && n < size)
            n += (size_t)snprintf(out + n, size - n, "%s%s", n ? " " : "",
                                  (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(db);
}
