/*
 * runmeasure: runs a program and reports its wall time and rusage, for the
 * benchmark driver (bench.py).
 *
 *   runmeasure RESULT-FILE PROGRAM [ARG...]
 *
 * Writes "exit E wall S utime S stime S maxrss_kib K" to RESULT-FILE once the
 * child is gone; stdin/stdout/stderr are the child's. Exits 0 when it could run
 * the child (whatever the child's status), 127 otherwise.
 *
 * Why not measure from python: on Linux a child's ru_maxrss includes the memory
 * of the process it was forked from (the high-water mark survives exec), so a
 * client spawned by a 14 MiB python process never reports less than 14 MiB. This
 * wrapper is small, and uses vfork so the child borrows its few pages.
 */
#define _GNU_SOURCE 1 /* vfork */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

static double tv_seconds(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    struct rusage ru;
    int status = 0;
    if (argc < 3) {
        fputs("usage: runmeasure RESULT-FILE PROGRAM [ARG...]\n", stderr);
        return 127;
    }
    FILE *result = fopen(argv[1], "w");
    if (!result) {
        perror(argv[1]);
        return 127;
    }
    double t0 = bench_now();
    pid_t pid = vfork();
    if (pid == 0) {
        execv(argv[2], argv + 2);
        _exit(127);
    }
    if (pid < 0 || wait4(pid, &status, 0, &ru) != pid) {
        perror("runmeasure");
        return 127;
    }
    double wall = bench_now() - t0;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    fprintf(result, "exit %d wall %.6f utime %.6f stime %.6f maxrss_kib %ld\n", code, wall,
            tv_seconds(ru.ru_utime), tv_seconds(ru.ru_stime), ru.ru_maxrss);
    return fclose(result) == 0 ? 0 : 127;
}
