/* Helpers of the pop3fetch integration cases (test_dovecot_pop3fetch.h). */
#include "test_dovecot_pop3fetch.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *env_or_fail(const char *name)
{
    const char *v = getenv(name);
    ck_assert_msg(v && v[0], "%s is not set (meson sets it)", name);
    return v;
}

/* dovecot-env fill BASE USER COUNT SEED SPEC */
void fill(const char *user, const char *count, const char *seed, const char *spec)
{
    char dir[] = "/tmp/pop3a-it-fill.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    const char *argv[] = {env_or_fail("POP3A_DOVECOT_ENV"), "fill", it_cfg()->manifest_dir,
                          user, count, seed, spec, NULL};
    int rc = it_run_child(argv, dir, 60);
    it_remove_tree(dir);
    ck_assert_msg(rc == 0, "dovecot-env fill %s failed (%d)", user, rc);
}

void run_init(fetch_run *r)
{
    *r = (fetch_run){0};
    snprintf(r->dir, sizeof r->dir, "/tmp/pop3a-it-p3f.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(r->dir));
    snprintf(r->out, sizeof r->out, "%s/out", r->dir);
    snprintf(r->state, sizeof r->state, "%s/state.sqlite", r->dir);
}

void run_free(fetch_run *r)
{
    free(r->stdout_text);
    free(r->stderr_text);
    it_remove_tree(r->dir);
}

/* pop3fetch with `args` (NULL-ended), the password in P3IT_PW. */
void run_pop3fetch(fetch_run *r, const char *password, const char *const *args)
{
    const char *argv[48];
    char path[200];
    size_t n = 0, len;
    argv[n++] = env_or_fail("POP3A_POP3FETCH");
    for (size_t i = 0; args[i] && n < 47; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    setenv("P3IT_PW", password, 1);
    r->rc = it_run_child(argv, r->dir, WAIT_S);
    unsetenv("P3IT_PW");
    free(r->stdout_text);
    free(r->stderr_text);
    snprintf(path, sizeof path, "%s/stdout", r->dir);
    r->stdout_text = it_read_file(path, &len);
    snprintf(path, sizeof path, "%s/stderr", r->dir);
    r->stderr_text = it_read_file(path, &len);
}

size_t fetch_user_args(const fetch_run *r, const char *user, const char *const *extra,
                       const char **args, size_t max)
{
    static char port[16];
    size_t n = 0;
    snprintf(port, sizeof port, "%u", (unsigned)it_cfg()->port);
    const char *const common[] = {"--host", it_cfg()->host, "--port", port, "--ca-file",
                                  it_cfg()->ca, "--user", user, "--password-env", "P3IT_PW",
                                  "--state", r->state, NULL};
    for (size_t i = 0; common[i] && n + 1 < max; i++)
        args[n++] = common[i];
    for (size_t i = 0; extra && extra[i] && n + 1 < max; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    return n;
}

void fetch_user(fetch_run *r, const char *user, const char *password, const char *const *extra)
{
    const char *args[40];
    fetch_user_args(r, user, extra, args, 40);
    run_pop3fetch(r, password, args);
}

/* The summary line of an account starts "<name>: <n> new, <bytes> bytes, <d> deleted, ". */
void assert_summary(const char *text, const char *name, size_t n, uint64_t bytes,
                    size_t deleted)
{
    char want[160];
    snprintf(want, sizeof want, "%s: %zu new, %" PRIu64 " bytes, %zu deleted, ", name, n,
             bytes, deleted);
    ck_assert_msg(strstr(text, want) != NULL, "want \"%s\" in: %s", want, text);
}

/* CRLF -> LF in place; returns the new length. */
size_t to_lf(char *p, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (!(p[i] == '\r' && i + 1 < len && p[i + 1] == '\n'))
            p[n++] = p[i];
    return n;
}

/* Every file of `dir` equals one message of man[0..n) (after CRLF -> LF when
 * `lf`), each message exactly once. */
void assert_files_match(const char *dir, const it_manifest *man, size_t n, int lf)
{
    char path[700];
    int *seen = calloc(n ? n : 1, sizeof *seen);
    size_t files = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    ck_assert_msg(d != NULL, "%s missing", dir);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        size_t got_len, k;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *got = it_read_file(path, &got_len);
        for (k = 0; k < n; k++) {
            size_t want_len;
            char *want = it_read_file(man->msgs[k].path, &want_len);
            if (lf)
                want_len = to_lf(want, want_len);
            int same = !seen[k] && want_len == got_len && memcmp(want, got, got_len) == 0;
            free(want);
            if (same)
                break;
        }
        ck_assert_msg(k < n, "%s (%zu octets) matches no message of the manifest", path,
                      got_len);
        seen[k] = 1;
        files++;
        free(got);
    }
    closedir(d);
    free(seen);
    ck_assert_uint_eq(files, n);
}

void assert_maildir(const char *maildir, const it_manifest *man, size_t n)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/tmp", maildir);
    assert_files_match(dir, man, 0, 1); /* empty */
    snprintf(dir, sizeof dir, "%s/new", maildir);
    assert_files_match(dir, man, n, 1);
}

uint64_t manifest_bytes(const it_manifest *man, size_t n)
{
    uint64_t b = 0;
    for (size_t i = 0; i < n; i++)
        b += man->msgs[i].octets;
    return b;
}
