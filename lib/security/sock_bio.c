/*
 * The socket BIO of sock_bio.h. OpenSSL's BIO_s_socket writes with write(2),
 * which raises SIGPIPE on a connection the peer has reset and kills a caller
 * that never asked for signals; send(MSG_NOSIGNAL) reports EPIPE instead.
 * Reads use recv(2) and mark EOF the way BIO_s_socket does, since OpenSSL 3
 * asks BIO_eof() to tell a peer's close from an error.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "sock_bio.h"

/* The BIO's data: the fd and the last hard error (one word each). */
typedef struct {
    int fd;
    int error;
} sock_state;

static int sock_write(BIO *b, const char *buf, int len)
{
    sock_state *st = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n = send(st->fd, buf, (size_t)len, MSG_NOSIGNAL);
    if (n < 0) {
        if (BIO_sock_non_fatal_error(errno))
            BIO_set_retry_write(b);
        else
            st->error = errno;
    }
    return (int)n;
}

static int sock_read(BIO *b, char *buf, int len)
{
    sock_state *st = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n = recv(st->fd, buf, (size_t)len, 0);
    if (n == 0)
        BIO_set_flags(b, BIO_FLAGS_IN_EOF);
    if (n < 0) {
        if (BIO_sock_non_fatal_error(errno))
            BIO_set_retry_read(b);
        else
            st->error = errno;
    }
    return (int)n;
}

static int sock_puts(BIO *b, const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return sock_write(b, s, (int)n);
}

static long sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    sock_state *st = BIO_get_data(b);
    (void)num;
    switch (cmd) {
    case BIO_C_GET_FD: /* libevent asks which socket the SSL already has */
        if (ptr)
            *(int *)ptr = st->fd;
        return st->fd;
    case BIO_CTRL_GET_CLOSE:
        return BIO_NOCLOSE;
    case BIO_CTRL_SET_CLOSE: /* the fd is the bufferevent's to close, always */
    case BIO_CTRL_FLUSH:
    case BIO_CTRL_DUP:
        return 1;
    case BIO_CTRL_EOF:
        return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
    default:
        return 0;
    }
}

static int sock_create(BIO *b)
{
    sock_state *st = OPENSSL_zalloc(sizeof *st);
    if (!st)
        return 0;
    st->fd = -1;
    BIO_set_data(b, st);
    return 1;
}

static int sock_destroy(BIO *b)
{
    OPENSSL_free(BIO_get_data(b));
    BIO_set_data(b, NULL);
    return 1;
}

static pthread_mutex_t method_lock = PTHREAD_MUTEX_INITIALIZER;
static BIO_METHOD *method; /* made once, kept for the process's life */
static int method_type;    /* its BIO type, to tell our BIOs from others */

/* Made on first use and, if that failed for lack of memory, tried again next
 * time: a once-only init would leave TLS broken for good after one failure. */
static const BIO_METHOD *sock_method(void)
{
    pthread_mutex_lock(&method_lock);
    if (!method) {
        int index = BIO_get_new_index();
        int type = index > 0 ? (BIO_TYPE_SOURCE_SINK | index) : 0;
        BIO_METHOD *m = type ? BIO_meth_new(type, "pop3a socket (MSG_NOSIGNAL)") : NULL;
        if (m && BIO_meth_set_write(m, sock_write) && BIO_meth_set_read(m, sock_read) &&
            BIO_meth_set_puts(m, sock_puts) && BIO_meth_set_ctrl(m, sock_ctrl) &&
            BIO_meth_set_create(m, sock_create) && BIO_meth_set_destroy(m, sock_destroy)) {
            method_type = type;
            method = m;
        } else
            BIO_meth_free(m);
    }
    pthread_mutex_unlock(&method_lock);
    return method;
}

BIO *pop3a_sock_bio_new(int fd)
{
    const BIO_METHOD *m = sock_method();
    BIO *b = m ? BIO_new(m) : NULL;
    if (!b)
        return NULL;
    ((sock_state *)BIO_get_data(b))->fd = fd;
    BIO_set_init(b, 1);
    return b;
}

int pop3a_sock_bio_attach(SSL *ssl, int fd)
{
    BIO *b = pop3a_sock_bio_new(fd);
    if (!b)
        return -1;
    SSL_set_bio(ssl, b, b); /* one reference for both directions */
    return 0;
}

int pop3a_sock_bio_error(BIO *bio)
{
    if (!bio)
        return 0;
    pthread_mutex_lock(&method_lock); /* another thread may be making the method */
    int ours = method_type && BIO_method_type(bio) == method_type;
    pthread_mutex_unlock(&method_lock);
    if (!ours)
        return 0;
    sock_state *st = BIO_get_data(bio);
    return st ? st->error : 0;
}
