/*
 * storefloor: what storing messages as files costs on this machine, without any
 * network, as a yardstick for examples/fetch-all's file side (issue 5 bulk cases).
 *
 *   storefloor DIR COUNT SIZE      prints "files N bytes B"
 *
 * Does per message exactly the system calls fetch-all's spool does: open a temp
 * file, write the body in one write(2), fsync it, close, rename it to <n>.eml,
 * fsync the directory, and print a "<n> <bytes>" line to a line-buffered stdout.
 * The files are removed again at the end (not timed by the caller's wall clock
 * if it only looks at the printed line count; the driver measures the whole run).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"

static int store_one(int dir_fd, unsigned long n, const char *body, size_t size)
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
    fsync(dir_fd); /* EINVAL where directories cannot be synced: ignored, as fetch-all does */
    printf("%lu %zu\n", n, size);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fputs("usage: storefloor DIR COUNT SIZE\n", stderr);
        return 2;
    }
    unsigned long count = bench_number(argv[2], "COUNT", 1, 10000000);
    size_t size = bench_number(argv[3], "SIZE", 1, 1u << 30);
    int dir_fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char *body = malloc(size);
    if (dir_fd < 0 || !body) {
        perror(argv[1]);
        return 1;
    }
    memset(body, 'x', size);
    setvbuf(stdout, NULL, _IOLBF, 0); /* as fetch-all: a line per stored message */
    unsigned long stored = 0;
    while (stored < count && store_one(dir_fd, stored + 1, body, size) == 0)
        stored++;
    free(body);
    close(dir_fd);
    if (stored < count) {
        perror("storefloor");
        return 1;
    }
    return 0;
}
