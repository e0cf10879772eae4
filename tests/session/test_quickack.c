/*
 * Delayed-ACK stalls (issue 14 s3): the client re-arms TCP_QUICKACK after every
 * read and sets TCP_NODELAY on its socket. Checked at the system-call level, not
 * by timing: this executable interposes setsockopt, read, readv and recv (as an
 * LD_PRELOAD shim would; a definition in the executable wins over libc's for
 * the library and libevent too), logs them per socket, and the test reads the
 * log of the client's socket.
 *
 * The scripted server listens on loopback TCP with Nagle on and writes each
 * RETR reply's status line and body in two writes: the server that stalls a
 * delayed-ACK client for ~40 ms per command.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "session_test.h"

/* ------------------------------------------------------- the system calls */

typedef enum { EV_DATA_READ, EV_QUICKACK, EV_NODELAY } sys_event;

enum { MAX_EVENTS = 8192 };
static struct {
    sys_event kind;
    int fd;
} events[MAX_EVENTS];
static size_t n_events;

static void note(sys_event kind, int fd)
{
    if (n_events < MAX_EVENTS) {
        events[n_events].kind = kind;
        events[n_events].fd = fd;
        n_events++;
    }
}

static void *next_fn(const char *name)
{
    void *fn = dlsym(RTLD_NEXT, name);
    if (!fn)
        abort();
    return fn;
}

int setsockopt(int fd, int level, int name, const void *value, socklen_t len)
{
    static int (*next)(int, int, int, const void *, socklen_t);
    if (!next)
        next = (int (*)(int, int, int, const void *, socklen_t))next_fn("setsockopt");
    int rc = next(fd, level, name, value, len);
    int on = value && len >= sizeof(int) && *(const int *)value != 0;
    if (rc == 0 && level == IPPROTO_TCP && on) {
        if (name == TCP_NODELAY)
            note(EV_NODELAY, fd);
#ifdef TCP_QUICKACK
        if (name == TCP_QUICKACK)
            note(EV_QUICKACK, fd);
#endif
    }
    return rc;
}

ssize_t read(int fd, void *buf, size_t n)
{
    static ssize_t (*next)(int, void *, size_t);
    if (!next)
        next = (ssize_t (*)(int, void *, size_t))next_fn("read");
    ssize_t got = next(fd, buf, n);
    if (got > 0)
        note(EV_DATA_READ, fd);
    return got;
}

ssize_t readv(int fd, const struct iovec *iov, int n)
{
    static ssize_t (*next)(int, const struct iovec *, int);
    if (!next)
        next = (ssize_t (*)(int, const struct iovec *, int))next_fn("readv");
    ssize_t got = next(fd, iov, n);
    if (got > 0)
        note(EV_DATA_READ, fd);
    return got;
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    static ssize_t (*next)(int, void *, size_t, int);
    if (!next)
        next = (ssize_t (*)(int, void *, size_t, int))next_fn("recv");
    ssize_t got = next(fd, buf, n, flags);
    if (got > 0)
        note(EV_DATA_READ, fd);
    return got;
}

/* ------------------------------------------------------------------- test */

#define MSG "Subject: ack\r\n\r\nhello\r\n" /* 23 octets */
enum { N_MSGS = 10 };

START_TEST(quickack_is_rearmed_after_every_read)
{
    tu_env e;
    tu_env_init(&e);
    uint16_t port = p3s_listen(e.srv, "127.0.0.1");
    ck_assert_uint_ne(port, 0);
    script_login(e.srv, CAPA_BASIC);
    char line[32];
    for (int i = 1; i <= N_MSGS; i++) {
        snprintf(line, sizeof line, "RETR %d", i);
        p3s_expect(e.srv, line);
        p3s_send(e.srv, "+OK 23 octets\r\n");
        p3s_delay(e.srv, 1); /* two writes: status line, then body */
        p3s_send(e.srv, MSG ".\r\n");
    }
    p3s_expect(e.srv, "QUIT");
    p3s_send(e.srv, "+OK bye\r\n");
    e.client = pop3a_client_new(e.base, NULL, e.opts);
    ck_assert_ptr_nonnull(e.client);
    tu_rec conn, login, quit, retr[N_MSGS];
    RECS_INIT(NULL, 0, &conn, &login, &quit);
    n_events = 0;
    ck_assert_ptr_nonnull(pop3a_connect(e.client, "127.0.0.1", port, tu_done, &conn));
    ck_assert_ptr_nonnull(
        pop3a_login(e.client, "alice", "alicepw", POP3A_MECH_USER, tu_done, &login));
    for (int i = 0; i < N_MSGS; i++) {
        tu_rec_init(&retr[i], 10 + i, NULL);
        ck_assert_ptr_nonnull(pop3a_retr(e.client, (uint32_t)i + 1, tu_chunk, tu_done, &retr[i]));
    }
    ck_assert_ptr_nonnull(pop3a_quit(e.client, tu_done, &quit));
    WAIT_DONE_AND_SCRIPT(&e, quit);
    ASSERT_ONCE_OK(login);
    for (int i = 0; i < N_MSGS; i++) {
        ASSERT_ONCE_OK(retr[i]);
        ASSERT_BODY(retr[i], MSG);
        tu_rec_clear(&retr[i]);
    }
    ck_assert_uint_lt(n_events, MAX_EVENTS);

    /* The client's socket is the one TCP_NODELAY was set on (the server sets no
     * TCP option). */
    int fd = -1;
    for (size_t i = 0; i < n_events && fd < 0; i++)
        if (events[i].kind == EV_NODELAY)
            fd = events[i].fd;
    ck_assert_msg(fd >= 0, "TCP_NODELAY was never set");
    /* Every read that brought data is followed by TCP_QUICKACK before the next
     * one: each reply here is far below the 4 KiB libevent reads at a time, so
     * a read callback sees one data read. */
    size_t reads = 0, acks = 0;
    int owed = 0;
    for (size_t i = 0; i < n_events; i++) {
        if (events[i].fd != fd)
            continue;
        if (events[i].kind == EV_DATA_READ) {
            ck_assert_msg(!owed, "read %zu: no TCP_QUICKACK after the read before it", reads);
            owed = 1;
            reads++;
        } else if (events[i].kind == EV_QUICKACK) {
            owed = 0;
            acks++;
        }
    }
    ck_assert_msg(!owed, "no TCP_QUICKACK after the last read");
    /* Greeting, CAPA, USER, PASS, each RETR's status line and body (read
     * together at best), QUIT: at least that many reads, each acknowledged. */
    ck_assert_uint_ge(reads, 4 + N_MSGS + 1);
    ck_assert_uint_ge(acks, reads);
    tu_env_free(&e);
}
END_TEST

static Suite *quickack_suite(void)
{
    Suite *s = suite_create("quickack");
    TCase *tc = tcase_create("quickack");
    tcase_set_timeout(tc, 30);
#ifdef TCP_QUICKACK
    tcase_add_test(tc, quickack_is_rearmed_after_every_read);
#endif
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(quickack_suite());
}
