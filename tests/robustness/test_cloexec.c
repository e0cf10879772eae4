/*
 * The library's sockets are close-on-exec. A daemon that runs a delivery
 * agent or a password command while sessions are open would otherwise hand
 * every server connection to the child: the server then sees no hang-up
 * until the child exits, and the child can write into a POP3 session
 * (pop3fetch met this). libevent opens its sockets without SOCK_CLOEXEC, so
 * the engine sets the flag itself as each connecting socket is made.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "session_test.h"

/* The fd of this process's socket connected to 127.0.0.1:port, or -1. */
static int socket_to_port(uint16_t port)
{
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    int found = -1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && found < 0) {
        int fd = atoi(de->d_name);
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        if (de->d_name[0] == '.' || fd == dirfd(d))
            continue;
        if (getpeername(fd, (struct sockaddr *)&peer, &len) == 0 && peer.sin_family == AF_INET &&
            ntohs(peer.sin_port) == port)
            found = fd;
    }
    closedir(d);
    return found;
}

START_TEST(connected_socket_is_close_on_exec)
{
    tu_env e;
    tu_env_init(&e);
    uint16_t port = p3s_listen(e.srv, "127.0.0.1");
    ck_assert_uint_ne(port, 0);
    tu_script_greeting_capa(e.srv, PLAIN_GREETING, CAPA_PIPELINING);
    p3s_expect(e.srv, "QUIT");
    p3s_send(e.srv, "+OK bye\r\n");
    e.client = pop3a_client_new(e.base, NULL, e.opts);
    ck_assert_ptr_nonnull(e.client);
    tu_rec conn, quit;
    RECS_INIT(NULL, 0, &conn, &quit);
    ck_assert_ptr_nonnull(pop3a_connect(e.client, "127.0.0.1", port, tu_done, &conn));
    WAIT_DONE(&e, conn);
    ASSERT_ONCE_OK(conn);

    int fd = socket_to_port(port);
    ck_assert_msg(fd >= 0, "no socket connected to port %u", (unsigned)port);
    int flags = fcntl(fd, F_GETFD);
    ck_assert_int_ge(flags, 0);
    ck_assert_msg(flags & FD_CLOEXEC, "the session's socket (fd %d) is inherited by exec", fd);

    ck_assert_ptr_nonnull(pop3a_quit(e.client, tu_done, &quit));
    WAIT_DONE_AND_SCRIPT(&e, quit);
    ASSERT_ONCE_OK(quit);
    tu_env_free(&e);
}
END_TEST

int main(void)
{
    const TTest *tests[] = {connected_socket_is_close_on_exec};
    return run_tests("cloexec", "connect", tests, sizeof tests / sizeof *tests);
}
