/*
 * fetch-all's durability order, seen from its system calls: with the
 * syscall_log shim preloaded, every DELE k must come after message k's data
 * was fsynced, its temp file renamed to k.eml, and the directory fsynced after
 * that rename; a mail is never deleted on the server before it is on disk.
 * Without --delete, one directory fsync after the last rename covers all.
 *
 * Usage: test_fetch_all_durability /path/to/fetch-all /path/to/syscall_log.so
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetch_all_run.h"

static const char *shim_path;



enum { MAX_LOGGED = 256 };

/* What the log says happened to each message, in order. */
typedef struct {
    int data_synced[MAX_LOGGED + 1]; /* fsync of .k.eml.tmp */
    int renamed[MAX_LOGGED + 1];     /* .k.eml.tmp -> k.eml, after the data fsync */
    int durable[MAX_LOGGED + 1];     /* a directory fsync came after the rename */
    int deleted[MAX_LOGGED + 1];     /* DELE k was sent */
    int dir_syncs, renames, quits;
    int renames_after_last_dir_sync;
    char violation[256]; /* the first out-of-order event, or "" */
} durability;

static void violate(durability *d, const char *what, unsigned k)
{
    if (!d->violation[0])
        snprintf(d->violation, sizeof d->violation, "%s (message %u)", what, k);
}

static void replay_line(durability *d, const char *line)
{
    unsigned k;
    char tail;
    if (sscanf(line, "fsync .%u.eml.tm%c", &k, &tail) == 2 && k <= MAX_LOGGED) {
        d->data_synced[k] = 1;
    } else if (strncmp(line, "fsync-dir ", 10) == 0) {
        d->dir_syncs++;
        d->renames_after_last_dir_sync = 0;
        for (unsigned i = 1; i <= MAX_LOGGED; i++)
            d->durable[i] |= d->renamed[i];
    } else if (sscanf(line, "rename .%u.eml.tmp", &k) == 1 && k <= MAX_LOGGED) {
        if (!d->data_synced[k])
            violate(d, "renamed before its data was fsynced", k);
        d->renamed[k] = 1;
        d->renames++;
        d->renames_after_last_dir_sync++;
    } else if (sscanf(line, "send DELE %u", &k) == 1 && k <= MAX_LOGGED) {
        if (!d->durable[k])
            violate(d, "DELE sent before the file and its name were on disk", k);
        d->deleted[k] = 1;
    } else if (strcmp(line, "send QUIT") == 0) {
        d->quits++;
    }
}

static void replay_log(durability *d, const char *path)
{
    memset(d, 0, sizeof *d);
    char *log = read_file(path, NULL);
    ck_assert_msg(log != NULL, "no system call log at %s (shim not loaded?)", path);
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n"))
        replay_line(d, line);
    free(log);
}

/* Runs fetch-all over `count` messages (the mailbox's four, repeated) with the
 * shim, pipelined, and replays its log. */
static void fetch_logged(size_t count, int delete_after, durability *d)
{
    msg m[MAX_MSGS];
    size_t n = make_mailbox(m);
    run r;
    char line[64], log_path[128];
    run_init(&r);
    script_login(r.srv, 1);
    p3s_expect(r.srv, "STAT");
    snprintf(line, sizeof line, "+OK %zu %zu\r\n", count, count * 100);
    p3s_send(r.srv, line);
    for (size_t i = 1; i <= count; i++) {
        snprintf(line, sizeof line, "RETR %zu", i);
        p3s_expect(r.srv, line);
    }
    for (size_t i = 1; i <= count; i++) {
        p3s_send(r.srv, "+OK message follows\r\n");
        p3s_send_bytes(r.srv, m[(i - 1) % n].wire, m[(i - 1) % n].wire_len);
    }
    for (size_t i = 1; delete_after && i <= count; i++) {
        snprintf(line, sizeof line, "DELE %zu", i);
        p3s_expect(r.srv, line);
        p3s_send(r.srv, "+OK marked\r\n");
    }
    p3s_expect(r.srv, "QUIT");
    p3s_send(r.srv, "+OK bye\r\n");
    p3s_close(r.srv);

    snprintf(log_path, sizeof log_path, "%s/syscalls.log", r.work);
    setenv("POP3A_SYSCALL_LOG", log_path, 1);
    preload_shim(shim_path);
    const char *const extra[] = {delete_after ? "--delete" : NULL, NULL};
    run_fetch(&r, PASSWORD, extra);
    preload_shim(NULL);
    unsetenv("POP3A_SYSCALL_LOG");
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    replay_log(d, log_path);
    remove(log_path);
    for (size_t i = 1; i <= count; i++)
        assert_file(&r, i, &m[(i - 1) % n]);
    run_free(&r);
    free_mailbox(m, n);
}

/* 70 messages: two DELE batches (64, then 6), each behind a directory fsync. */
START_TEST(every_dele_follows_data_name_and_directory_fsync)
{
    durability d;
    fetch_logged(70, 1, &d);
    ck_assert_msg(!d.violation[0], "%s", d.violation);
    ck_assert_int_eq(d.renames, 70);
    for (unsigned k = 1; k <= 70; k++)
        ck_assert_msg(d.deleted[k], "no DELE %u", k);
    /* One directory fsync per batch of 64, not one per message. */
    ck_assert_int_eq(d.dir_syncs, 2);
    ck_assert_int_eq(d.quits, 1);
}
END_TEST

/* Without --delete nothing waits on the names: one directory fsync at the end,
 * after the last rename, and no DELE at all. */
START_TEST(without_delete_one_directory_fsync_after_the_last_rename)
{
    durability d;
    fetch_logged(12, 0, &d);
    ck_assert_msg(!d.violation[0], "%s", d.violation);
    ck_assert_int_eq(d.renames, 12);
    ck_assert_int_eq(d.dir_syncs, 1);
    ck_assert_int_eq(d.renames_after_last_dir_sync, 0);
    for (unsigned k = 1; k <= 12; k++) {
        ck_assert_msg(d.data_synced[k], "message %u's data never fsynced", k);
        ck_assert_msg(!d.deleted[k], "DELE %u without --delete", k);
    }
}
END_TEST

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s /path/to/fetch-all /path/to/syscall_log.so\n", argv[0]);
        return 2;
    }
    fetch_all_path = argv[1];
    shim_path = argv[2];
    Suite *s = suite_create("fetch_all_durability");
    TCase *tc = tcase_create("durability");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, every_dele_follows_data_name_and_directory_fsync);
    tcase_add_test(tc, without_delete_one_directory_fsync_after_the_last_rename);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
