/*
 * failalloc: an LD_PRELOAD shim that makes the N-th malloc, calloc or realloc
 * of a process fail (return NULL with errno ENOMEM), once, whoever calls it:
 * the library, libevent, OpenSSL, libc. For tools/alloc-sweep/alloc-sweep.
 *
 *   POP3A_FAIL_ALLOC=N        the N-th call (from 1) fails; unset: none does
 *   POP3A_COUNT_ALLOC=FILE    at exit, the number of calls is written to FILE
 *
 * Calls are counted from the shim's constructor on, which runs before main.
 * The real allocator is glibc's __libc_* (no dlsym, which allocates itself).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);

static unsigned long calls; /* counted so far */
static unsigned long fail_at; /* 0: never */
static int counting;

__attribute__((constructor)) static void failalloc_init(void)
{
    const char *n = getenv("POP3A_FAIL_ALLOC");
    fail_at = n ? strtoul(n, NULL, 10) : 0;
    counting = 1;
}

__attribute__((destructor)) static void failalloc_report(void)
{
    const char *file = getenv("POP3A_COUNT_ALLOC");
    if (!file)
        return;
    char line[32];
    int len = snprintf(line, sizeof line, "%lu\n", calls);
    /* Raw system calls: stdio would allocate. */
    long fd = syscall(SYS_openat, AT_FDCWD, file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        syscall(SYS_write, fd, line, (size_t)len);
        syscall(SYS_close, fd);
    }
}

/* 1 when this call is the one to fail. Single-threaded callers only (the
 * library's examples are). */
static int this_one_fails(void)
{
    if (!counting)
        return 0;
    return ++calls == fail_at;
}

void *malloc(size_t size)
{
    if (this_one_fails()) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    if (this_one_fails()) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    if (this_one_fails()) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_realloc(p, size);
}
