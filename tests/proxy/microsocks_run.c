/* Starting and stopping microsocks for the proxy tests (microsocks_run.h). */
#include "microsocks_run.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MICROSOCKS "/usr/bin/microsocks"

/* A port the kernel had free a moment ago (microsocks cannot be given 0). */
static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    uint16_t port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int accepts(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

int ms_start(ms_proxy *p, const char *user, const char *pass)
{
    if (access(MICROSOCKS, X_OK) != 0) {
        fprintf(stderr, "%s not found: install microsocks (tools/install-deps)\n", MICROSOCKS);
        return -1;
    }
    p->port = free_port();
    if (p->port == 0)
        return -1;
    char port[8];
    snprintf(port, sizeof port, "%u", p->port);
    p->pid = fork();
    if (p->pid < 0)
        return -1;
    if (p->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (user)
            execl(MICROSOCKS, "microsocks", "-i", "127.0.0.1", "-p", port, "-u", user, "-P",
                  pass, (char *)NULL);
        else
            execl(MICROSOCKS, "microsocks", "-i", "127.0.0.1", "-p", port, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 300; i++) { /* 3 s */
        if (accepts(p->port))
            return 0;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "microsocks did not start on port %u\n", p->port);
    ms_stop(p);
    return -1;
}

void ms_stop(ms_proxy *p)
{
    if (p->pid <= 0)
        return;
    kill(p->pid, SIGTERM);
    while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    p->pid = 0;
}
