/*
 * The order pop3fetch makes mail safe in, from its system calls (the
 * syscall_log LD_PRELOAD shim of the fetch-all tests): each message's data
 * fsync'd, then renamed into new/, then new/ fsync'd, then the state
 * committed (SQLite's fdatasync of its WAL), and only then DELE; QUIT last.
 *
 * Usage: test_pop3fetch_durability /path/to/pop3fetch /path/to/syscall_log.so
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3fetch_run.h"

enum { N = 70, MAX_NAMES = 128 };

/* What the log says, message k being the k-th rename into new/. */
typedef struct {
    char *synced[MAX_NAMES]; /* names whose data was fsync'd */
    size_t n_synced;
    int renames, durable, recorded; /* messages 1..durable had new/ fsync'd after
                                       their rename; 1..recorded a state commit after that */
    int deleted[N + 1];
    int dels, quits, quit_after_all;
    char violation[256];
} order;

static const char *shim_path;

static void violate(order *o, const char *what, int k)
{
    if (!o->violation[0])
        snprintf(o->violation, sizeof o->violation, "%s (message %d)", what, k);
}

static int was_synced(const order *o, const char *name)
{
    for (size_t i = 0; i < o->n_synced; i++)
        if (strcmp(o->synced[i], name) == 0)
            return 1;
    return 0;
}

static void replay_line(order *o, char *line)
{
    char *a = strchr(line, ' ');
    int k;
    if (!a)
        return;
    *a++ = '\0';
    if (strcmp(line, "fsync") == 0 && strstr(a, ",F=") && o->n_synced < MAX_NAMES) {
        o->synced[o->n_synced++] = strdup(a);
    } else if (strcmp(line, "rename") == 0 && strstr(a, ",F=")) {
        *strchr(a, ' ') = '\0';
        o->renames++;
        if (!was_synced(o, a))
            violate(o, "renamed into new/ before its data was fsync'd", o->renames);
    } else if (strcmp(line, "fsync-dir") == 0 && strcmp(a, "new") == 0) {
        o->durable = o->renames;
    } else if (strcmp(line, "fdatasync") == 0 && strncmp(a, "state.sqlite", 12) == 0) {
        o->recorded = o->durable;
    } else if (strcmp(line, "send") == 0 && sscanf(a, "DELE %d", &k) == 1 && k >= 1 && k <= N) {
        if (k > o->recorded)
            violate(o, "DELE before the message's name and UIDL were on disk", k);
        o->deleted[k] = 1;
        o->dels++;
    } else if (strcmp(line, "send") == 0 && strcmp(a, "QUIT") == 0) {
        o->quits++;
        o->quit_after_all = o->dels == N;
    }
}

START_TEST(dele_only_after_data_name_and_state_are_on_disk)
{
    msg m[MAX_MSGS], many[N];
    run r;
    order o = {0};
    char line[64], log_path[160];
    size_t n = make_mailbox(m);
    for (size_t i = 0; i < N; i++)
        many[i] = m[i % n]; /* shallow: m owns the bytes */
    run_init(&r);
    script_login(r.srv, 1);
    script_listings(r.srv, many, N, NULL);
    for (size_t i = 1; i <= N; i++) {
        snprintf(line, sizeof line, "RETR %zu", i);
        p3s_expect(r.srv, line);
    }
    for (size_t i = 0; i < N; i++) {
        p3s_send(r.srv, "+OK message follows\r\n");
        p3s_send_bytes(r.srv, many[i].wire, many[i].wire_len);
    }
    for (size_t i = 1; i <= N; i++) {
        snprintf(line, sizeof line, "DELE %zu", i);
        p3s_expect(r.srv, line);
        p3s_send(r.srv, "+OK marked\r\n");
    }
    script_quit(r.srv, "+OK bye\r\n");

    snprintf(log_path, sizeof log_path, "%s/syscalls.log", r.work);
    setenv("POP3A_SYSCALL_LOG", log_path, 1);
    preload_shim(shim_path);
    const char *const extra[] = {"--delete", NULL};
    run_pop3fetch(&r, extra);
    preload_shim(NULL);
    unsetenv("POP3A_SYSCALL_LOG");
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);

    char *log = read_file(log_path, NULL);
    ck_assert_msg(log != NULL, "no system call log (shim not loaded?)");
    for (char *l = strtok(log, "\n"); l; l = strtok(NULL, "\n"))
        replay_line(&o, l);
    free(log);
    ck_assert_msg(!o.violation[0], "%s", o.violation);
    ck_assert_int_eq(o.renames, N);
    ck_assert_int_eq(o.recorded, N);
    ck_assert_int_eq(o.dels, N);
    for (int k = 1; k <= N; k++)
        ck_assert_msg(o.deleted[k], "DELE %d never sent", k);
    ck_assert_int_eq(o.quits, 1);
    ck_assert_msg(o.quit_after_all, "QUIT before the last DELE");
    assert_maildir(&r, many, N);
    for (size_t i = 0; i < o.n_synced; i++)
        free(o.synced[i]);
    run_free_mailbox(&r, m, n);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, dele_only_after_data_name_and_state_are_on_disk);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s /path/to/pop3fetch /path/to/syscall_log.so\n", argv[0]);
        return 2;
    }
    shim_path = argv[2];
    return example_test_main(argc, argv, "pop3fetch_durability", &pop3fetch_path, 0,
                             add_tests);
}
