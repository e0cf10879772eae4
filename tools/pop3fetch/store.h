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

struct event_base;

/* What commit returns when the outcome comes later (an MDA still running):
 * then the store's notify callback says STORE_EV_COMMITTED or _FAILED. */
#define STORE_PENDING 1

enum {
    STORE_EV_READY,     /* no longer backlogged: writes may go on */
    STORE_EV_COMMITTED, /* the pending commit succeeded */
    STORE_EV_FAILED     /* the open or committing message failed (reason in err) */
};
typedef void (*store_notify_fn)(void *arg, int event);

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
    int open;       /* between begin and the end of commit, or abort */
    char err[512];  /* why the last call failed */
    /* Asynchronous stores (the MDA) work from the event loop: they tell how
     * it went through notify, and set backlogged while they hold more than
     * the caller should add to (it pauses the transfer until READY). */
    int async, backlogged;
    store_notify_fn notify;
    void *notify_arg;
};

/* Opens the delivery of an account (creates a missing Maildir); an MDA runs
 * on `base`. NULL with a message in err. */
struct store *store_open(const struct settings *s, struct event_base *base, char *err,
                         size_t errsz);

int store_begin(struct store *st, const char *tag);
/* Bytes as the server sent them (CRLF); converted when the store wants LF. */
int store_write(struct store *st, const char *data, size_t len);
/* 0, -1, or STORE_PENDING (async stores). */
int store_commit(struct store *st);
/* Drops the open message, if any. */
void store_abort(struct store *st);
int store_sync(struct store *st);
int store_has(struct store *st, const char *tag);
void store_close(struct store *st);

/* Backends. */
struct store *store_maildir_open(const char *dir, char *err, size_t errsz);
struct store *store_mbox_open(const char *path, char *err, size_t errsz);
struct store *store_mda_open(struct event_base *base, const char *cmd, int crlf,
                             long timeout_s, char *err, size_t errsz);

/* For async backends: reports an event to the caller (a pending commit
 * ends the message). The callee may close the store: return right after. */
void store_notify(struct store *st, int event);

/* Helpers for backends: write all of buf to fd (EINTR, short writes). */
int store_write_fd(int fd, const char *buf, size_t len);
/* Sets st->err to "what: strerror(errno)" and returns -1. */
int store_fail_errno(struct store *st, const char *what, const char *path);

#endif
