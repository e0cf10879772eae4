/* An OpenSSL socket BIO that can never raise SIGPIPE: it sends with
 * send(MSG_NOSIGNAL) where OpenSSL's own socket BIO calls write(2), so a peer
 * that resets the connection costs the caller an error, not the process. It
 * remembers the last hard socket error, which libevent's OpenSSL bufferevent
 * turns into an EOF when dirty shutdowns are allowed. */
#ifndef POP3A_SOCK_BIO_H
#define POP3A_SOCK_BIO_H

#include <openssl/bio.h>

/* A BIO over the connected socket fd, which it never closes (the bufferevent
 * owns it). NULL when out of memory. */
BIO *pop3a_sock_bio_new(int fd);

/* Puts such a BIO, for the socket fd, under ssl (both directions), replacing
 * what it had. 0, or -1 when out of memory (ssl is left as it was). */
int pop3a_sock_bio_attach(SSL *ssl, int fd);

/* The errno of the last send or recv that failed for good (ECONNRESET,
 * EPIPE, ...) on bio, 0 for none or for a BIO of another kind. */
int pop3a_sock_bio_error(BIO *bio);

#endif
