/*
 * The one door for the library's own allocations, and for the calls into
 * libevent and OpenSSL that fail when memory runs out.
 *
 * In a normal build these are the plain calls: pop3a_torture_fail() is the
 * constant 0 and the compiler drops it. In the torture build (-DPOP3A_TORTURE,
 * the static library tests/torture links) every use is a numbered failure
 * point and the armed one fails, so that a test can walk a whole session
 * failing each point once (doc/ROBUSTNESS.md, "Torture").
 *
 * The dependency calls go through POP3A_MAY_FAIL: the armed point returns the
 * call's failure value without making the call, which is what the library sees
 * when the dependency itself runs out of memory before doing anything.
 */
#ifndef POP3A_ALLOC_H
#define POP3A_ALLOC_H

#include <stdlib.h>
#include <string.h>

#ifdef POP3A_TORTURE
/* Counts one failure point; 1 when it is the armed one. */
int pop3a_torture_fail(void);
/* Test-only control (tests/torture): fail the point numbered `fail_at` (from 1)
 * from now on, 0 for none; the count restarts at 0. */
void pop3a_torture_arm(unsigned long fail_at);
/* Failure points passed since the last pop3a_torture_arm. */
unsigned long pop3a_torture_count(void);
/* 1 once the armed point has been reached (and failed). */
int pop3a_torture_fired(void);
#else
#define pop3a_torture_fail() 0
#endif

/* `call` unless this is the armed failure point, then `failed` (not evaluated call). */
#define POP3A_MAY_FAIL(call, failed) (pop3a_torture_fail() ? (failed) : (call))

static inline void *pop3a_malloc(size_t n)
{
    return pop3a_torture_fail() ? NULL : malloc(n);
}

static inline void *pop3a_calloc(size_t n, size_t size)
{
    return pop3a_torture_fail() ? NULL : calloc(n, size);
}

static inline void *pop3a_realloc(void *p, size_t n)
{
    return pop3a_torture_fail() ? NULL : realloc(p, n);
}

static inline char *pop3a_strdup(const char *s)
{
    return pop3a_torture_fail() ? NULL : strdup(s);
}

static inline char *pop3a_strndup(const char *s, size_t n)
{
    return pop3a_torture_fail() ? NULL : strndup(s, n);
}

static inline void pop3a_free(void *p)
{
    free(p);
}

#endif
