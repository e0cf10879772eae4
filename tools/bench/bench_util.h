/*
 * Small helpers shared by the benchmark programs in tools/bench/: a monotonic
 * clock, this process's resident set size, and blocking socket I/O for the
 * programs that do not use libevent.
 */
#ifndef POP3A_BENCH_UTIL_H
#define POP3A_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Seconds on CLOCK_MONOTONIC. */
double bench_now(void);
/* VmRSS / VmHWM of this process in KiB, from /proc/self/status; -1 if unknown. */
long bench_rss_kib(void);
long bench_peak_rss_kib(void);
/* A TCP connection to host:port (numeric IPv4/IPv6 or a name); -1 and a message
 * on stderr on failure. */
int bench_connect(const char *host, const char *port);
/* Writes all of buf; -1 on error. */
int bench_write_all(int fd, const void *buf, size_t len);
/* Parses a decimal in [min, max] or exits with a usage message naming `what`. */
unsigned long bench_number(const char *s, const char *what, unsigned long min,
                           unsigned long max);

#endif
