/*
 * storefloor: what storing messages as files costs on this machine, without any
 * network, as a yardstick for examples/fetch-all's file side (issue 5 bulk cases).
 *
 *   storefloor [--minimal] DIR COUNT SIZE
 *
 * Default: the system calls fetch-all makes without --delete. Per message: open
 * a temp file, write the body in one write(2), fsync it, close it, rename it to
 * <n>.eml, and print "<n> <bytes>" to stdout, which is line-buffered on a
 * terminal and fully buffered otherwise (in the bench it is not a terminal, so
 * the lines go out in a few large writes). Then ONE fsync of the directory for
 * the whole run.
 *
 * --minimal: the least any one-file-per-message store can do. Per message:
 * create <n>.eml (O_CREAT|O_EXCL), one write, close; no fsync, no temp file, no
 * rename, no line per message. Prints "files N bytes B" once at the end.
 *
 * DIR must hold no <n>.eml of an earlier run (the bench empties it between
 * runs); nothing is removed here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"

typedef int store_fn(int dir_fd, unsigned long n, const char *body, size_t size);

/* As fetch-all's spool_open/spool_commit: the data durable before the name. */
static int store_as_fetch_all(int dir_fd, unsigned long n, const char *body, size_t size)
{
    char tmp[48], final_name[48];
    snprintf(tmp, sizeof tmp, ".%lu.eml.tmp", n);
    snprintf(final_name, sizeof final_name, "%lu.eml", n);
    int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    int rc = bench_write_all(fd, body, size) == 0 && fsync(fd) == 0 ? 0 : -1;
    if (close(fd) != 0 || rc != 0 || renameat(dir_fd, tmp, dir_fd, final_name) != 0)
        return -1;
    printf("%lu %zu\n", n, size);
    return 0;
}

static int store_minimal(int dir_fd, unsigned long n, const char *body, size_t size)
{
    char name[48];
    snprintf(name, sizeof name, "%lu.eml", n);
    int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int rc = bench_write_all(fd, body, size);
    return close(fd) == 0 && rc == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    int minimal = argc > 1 && strcmp(argv[1], "--minimal") == 0;
    argv += minimal;
    argc -= minimal;
    if (argc != 4) {
        fputs("usage: storefloor [--minimal] DIR COUNT SIZE\n", stderr);
        return 2;
    }
    unsigned long count = bench_number(argv[2], "COUNT", 1, 10000000);
    size_t size = bench_number(argv[3], "SIZE", 1, 1u << 30);
    store_fn *store = minimal ? store_minimal : store_as_fetch_all;
    int dir_fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char *body = malloc(size);
    if (dir_fd < 0 || !body) {
        perror(argv[1]);
        return 1;
    }
    memset(body, 'x', size);
    if (isatty(STDOUT_FILENO)) /* as fetch-all */
        setvbuf(stdout, NULL, _IOLBF, 0);
    unsigned long stored = 0;
    while (stored < count && store(dir_fd, stored + 1, body, size) == 0)
        stored++;
    int failed = stored < count;
    if (failed)
        perror("storefloor");
    /* fetch-all's sync_names: EINVAL where directories cannot be synced. */
    else if (!minimal && fsync(dir_fd) != 0 && errno != EINVAL) {
        perror("storefloor: fsync of the directory");
        failed = 1;
    }
    if (minimal && !failed)
        printf("files %lu bytes %llu\n", stored, (unsigned long long)stored * size);
    free(body);
    close(dir_fd);
    return fflush(stdout) == 0 && !failed ? 0 : 1;
}
