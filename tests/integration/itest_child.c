/* Integration suite helpers for tools run as child processes: see itest.h. */
#include "itest.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

pid_t it_spawn_child(const char *const *argv, const char *dir)
{
    char out_path[600], err_path[600];
    snprintf(out_path, sizeof out_path, "%s/stdout", dir);
    snprintf(err_path, sizeof err_path, "%s/stderr", dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    ck_assert_msg(rc == 0, "posix_spawn %s: %s", argv[0], strerror(rc));
    return pid;
}

int it_wait_child(pid_t pid, unsigned wait_s)
{
    int status;
    for (unsigned waited_ms = 0;; waited_ms += 10) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (waited_ms >= wait_s * 1000) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        struct timespec tick = {0, 10 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
}

int it_run_child(const char *const *argv, const char *dir, unsigned wait_s)
{
    return it_wait_child(it_spawn_child(argv, dir), wait_s);
}

void it_remove_tree(const char *dir)
{
    char path[1200];
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0)
            it_remove_tree(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

uint32_t it_messages_on_server(const char *user, const char *password)
{
    it_session s;
    it_session_init(&s, NULL, POP3A_TLS_STLS);
    ck_assert_int_eq(it_connect(&s, it_cfg()->host, it_cfg()->port), POP3A_OK);
    ck_assert_int_eq(it_login(&s, user, password, 0), POP3A_OK);
    pop3a_future *f = it_run(&s, pop3a_stat(s.client, it_done, &s));
    uint32_t count = 0;
    uint64_t octets = 0;
    ck_assert_int_eq(pop3a_future_stat(f, &count, &octets), 0);
    ck_assert_int_eq(it_quit(&s), POP3A_OK);
    it_session_free(&s);
    return count;
}
