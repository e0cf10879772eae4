/*
 * An op is what a future does on the wire: which lines it writes and how it
 * reads their replies. Each op is one row of this table, in its own file: a
 * plain command (cmd_op.c), the connect op (connect.c), the login op
 * (login.c). The engine core (client.c, io.c, future.c, submit.c) drives every
 * future through its row and never names a particular op, so a new multi-step
 * op (a proxy handshake, say) is a new file, not an edit of the core. The same
 * idea as curl's struct Curl_handler and hiredis' reply callbacks.
 */
#ifndef POP3A_OP_H
#define POP3A_OP_H

#include <stddef.h>

#include "parser.h"
#include "pop3async/pop3async.h"

typedef struct pop3a_op {
    const char *name; /* "connect": says what was cancelled ("connect cancelled") */
    /* Bytes of the op's own state, allocated zeroed with each future of the op
     * (f->op_state) and freed with it; 0 for none. A RETR pays nothing for the
     * connect op's addresses or the login op's secrets. */
    size_t state_size;
    /* A multi-step op runs alone and writes its own lines; once started, a
     * cancel drops the connection (half set up or half logged in, the session
     * is of no use: the server may be waiting for PASS). */
    int multi_step;
    /* POP3A_OK when f may start in the session's current state, else the status
     * it fails with without writing anything. */
    pop3a_status (*may_start)(const pop3a_client *c, const pop3a_future *f);
    void (*start)(pop3a_client *c, pop3a_future *f);
    /* A parser event for a reply f owes: tag says which of f's lines it answers
     * (pop3a_write_line's), reply_done that the reply is complete. Returns 0,
     * or -1 when the client was freed or the connection failed. */
    int (*on_reply)(pop3a_client *c, pop3a_future *f, int tag, const pop3a_pev *ev,
                    int reply_done);
    /* A transport event (BEV_EVENT_* bits) while f is the active head: returns
     * 1 when it was f's to handle. NULL: the engine handles them all. */
    int (*on_event)(pop3a_client *c, pop3a_future *f, short what);
    /* Releases what the op's state holds (wiping secrets). Runs when f
     * completes and again when it is freed, so it must be idempotent. NULL:
     * nothing to release. */
    void (*cleanup)(pop3a_future *f);
} pop3a_op;

/* cmd_op.c: a plain command, one line written and one reply read. */
extern const pop3a_op pop3a_cmd_op;

#endif
