/* Terminal progress line (progress.h). */
#include "progress.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/event.h>

#include "account.h"

#define REDRAW_MS 100 /* at most 10 redraws a second */

static struct {
    struct event *timer;
    struct account **accounts;
    size_t n;
    int drawn; /* a progress line is on the screen */
    int syslog; /* say() goes to syslog (--syslog) */
    struct timeval t0;
} P;

static void clear_line(void)
{
    if (P.drawn)
        fputs("\r\033[K", stderr);
    P.drawn = 0;
}

void say_use_syslog(void)
{
    openlog("pop3fetch", LOG_PID, LOG_MAIL);
    P.syslog = 1;
}

/* One syslog record per line, without its newline; errors and warnings (what
 * goes to stderr otherwise) at LOG_WARNING, summaries at LOG_INFO. */
static void say_syslog(int to_stderr, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void say_syslog(int to_stderr, const char *fmt, va_list ap)
{
    char line[4096];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    syslog(to_stderr ? LOG_WARNING : LOG_INFO, "%s", line);
}

void say(int to_stderr, const char *fmt, ...)
{
    va_list ap;
    if (P.syslog) {
        va_start(ap, fmt);
        say_syslog(to_stderr, fmt, ap);
        va_end(ap);
        return;
    }
    clear_line();
    va_start(ap, fmt);
    vfprintf(to_stderr ? stderr : stdout, fmt, ap);
    va_end(ap);
    fflush(to_stderr ? stderr : stdout);
}

static size_t width(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
        return ws.ws_col;
    return 80;
}

/* "name 3/10 40K/1.2M", per running account, plus the total rate. */
static void draw(evutil_socket_t fd, short what, void *arg)
{
    char line[1024];
    size_t n = 0, cols = width();
    uint64_t bytes = 0;
    struct timeval now;
    (void)fd;
    (void)what;
    (void)arg;
    for (size_t i = 0; i < P.n; i++) {
        struct account_progress p;
        account_get_progress(P.accounts[i], &p);
        bytes += p.bytes_done;
        if (!p.started || p.finished || n >= sizeof line - 80)
            continue;
        n += (size_t)snprintf(line + n, sizeof line - n, "%s%s %" PRIu32 "/%" PRIu32 " %" PRIu64
                              "K/%" PRIu64 "K", n ? " | " : "", account_name(P.accounts[i]),
                              p.msgs_done, p.msgs_total, p.bytes_done / 1024,
                              p.bytes_total / 1024);
    }
    gettimeofday(&now, NULL);
    double s = (double)(now.tv_sec - P.t0.tv_sec) + (now.tv_usec - P.t0.tv_usec) / 1e6;
    char rate[48];
    snprintf(rate, sizeof rate, "  %.1f MB/s", s > 0 ? (double)bytes / s / 1e6 : 0.0);
    if (n + strlen(rate) + 1 > cols) /* cut to one screen line */
        n = cols > strlen(rate) + 4 ? cols - strlen(rate) - 4 : 0;
    line[n] = '\0';
    fprintf(stderr, "\r\033[K%s%s", line, rate);
    fflush(stderr);
    P.drawn = 1;
}

int progress_start(struct event_base *base, struct account **accounts, size_t n, int enabled)
{
    static const struct timeval tick = {0, REDRAW_MS * 1000};
    if (!enabled || !isatty(STDERR_FILENO))
        return 0;
    P.accounts = accounts;
    P.n = n;
    gettimeofday(&P.t0, NULL);
    P.timer = event_new(base, -1, EV_PERSIST, draw, NULL);
    if (!P.timer || event_add(P.timer, &tick) != 0)
        return -1;
    return 0;
}

void progress_stop(void)
{
    if (P.timer)
        event_free(P.timer);
    P.timer = NULL;
    clear_line();
}
