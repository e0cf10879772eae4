/*
 * Delivery: one interface over Maildir, mbox and an MDA. A message is
 * begin, write* (bytes as the server sent them, CRLF), then commit or abort.
 * commit makes the message itself durable; sync makes every committed one
 * durable (for Maildir, their names: one directory fsync for a batch).
 * Only after sync may the caller record the UIDL and send DELE.
 */
#ifndef POP3FETCH_STORE_H
#define POP3FETCH_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "settings.h"

/* Length of a delivery tag: hex of a hash of account and UIDL. */
#define STORE_TAG_LEN 16

struct store;

struct store_ops {
    /* tag: STORE_TAG_LEN hex chars identifying the message, or NULL */
    int (*begin)(struct store *st, const char *tag);
    /* data already converted to the store's line ends */
    int (*write)(struct store *st, const char *data, size_t len);
    int (*commit)(struct store *st);
    void (*abort)(struct store *st);
    int (*sync)(struct store *st);
    /* 1 when a message with this tag is already delivered, 0 if not, -1 error */
    int (*has)(struct store *st, const char *tag);
    void (*close)(struct store *st);
};

struct store {
    const struct store_ops *ops;
    int to_lf;      /* CRLF -> LF on the way in */
    int pending_cr; /* to_lf: the last octet written was a CR, held back */
    int open;       /* between begin and commit/abort */
    char err[512];  /* why the last call failed */
};

/* Opens the delivery of an account (creates a missing Maildir). NULL with a
 * message in err. */
struct store *store_open(const struct settings *s, char *err, size_t errsz);

int store_begin(struct store *st, const char *tag);
/* Bytes as the server sent them (CRLF); converted when the store wants LF. */
int store_write(struct store *st, const char *data, size_t len);
int store_commit(struct store *st);
/* Drops the open message, if any. */
void store_abort(struct store *st);
int store_sync(struct store *st);
int store_has(struct store *st, const char *tag);
void store_close(struct store *st);

/* Backends. */
struct store *store_maildir_open(const char *dir, char *err, size_t errsz);
struct store *store_mbox_open(const char *path, char *err, size_t errsz);
struct store *store_mda_open(const char *cmd, int crlf, long timeout_s, char *err,
                             size_t errsz);

/* Helpers for backends: write all of buf to fd (EINTR, short writes). */
int store_write_fd(int fd, const char *buf, size_t len);
/* Sets st->err to "what: strerror(errno)" and returns -1. */
int store_fail_errno(struct store *st, const char *what, const char *path);

#endif
