/*
 * The plain-command op (op.h): one command line, written as submitted, and its
 * one reply decoded into the future (STAT's numbers, a LIST/UIDL/CAPA listing,
 * a RETR/TOP body through the chunk callback).
 */
#include <stdio.h>
#include <string.h>

#include "client_internal.h"
#include "listing.h"
#include "session.h"

/* Lines of an over-long listing read and dropped before giving up on the
 * connection: a second or so of reading, not forever. */
#define POP3A_LISTING_DRAIN_MAX 1000000u

static pop3a_status cmd_may_start(const pop3a_client *c, const pop3a_future *f)
{
    if (!(pop3a_cmd_get(f->cmd)->states & c->state))
        return POP3A_ERR_STATE;
    if (f->cmd == POP3A_CMD_PASS && !c->tls_up && !c->opts.allow_cleartext)
        return POP3A_ERR_CLEARTEXT; /* secure by default */
    return POP3A_OK;
}

static void cmd_start(pop3a_client *c, pop3a_future *f)
{
    if (f->cmd == POP3A_CMD_QUIT)
        c->quit_started = 1; /* nothing may follow it on this connection */
    const pop3a_cmd_info *info = pop3a_cmd_get(f->cmd);
    /* f->msg is set exactly when the command carries a message number. */
    pop3a_expect expect = f->msg ? info->reply_arg : info->reply;
    if (pop3a_write_line(c, f, f->line, f->line_len, f->trace_line, expect, 0) != 0)
        pop3a_fail_connection(c, POP3A_ERR_NOMEM, "cannot queue a command");
}

static int single_line_result(pop3a_client *c, pop3a_future *f, const pop3a_pev *ev)
{
    uint32_t n;
    uint64_t size;
    const char *uid;
    size_t uid_len;
    switch (f->cmd) {
    case POP3A_CMD_STAT:
        if (pop3a_parse_stat(ev->data, ev->len, &f->stat_count, &f->stat_octets) != 0)
            return -1;
        f->has_stat = 1;
        return 0;
    case POP3A_CMD_LIST:
        if (pop3a_parse_list_line(ev->data, ev->len, &n, &size) != 0 || n != f->msg)
            return -1;
        return pop3a_future_add_entry(f, n, size, NULL, 0) ? -1 : 0;
    case POP3A_CMD_UIDL:
        if (pop3a_parse_uidl_line(ev->data, ev->len, &n, &uid, &uid_len) != 0 || n != f->msg)
            return -1;
        return pop3a_future_add_entry(f, n, 0, uid, uid_len) ? -1 : 0;
    default:
        return 0;
    }
}

/* One LIST or UIDL entry, counted in f->lines against the listing cap. */
static pop3a_status listing_entry(pop3a_client *c, pop3a_future *f, const pop3a_pev *ev)
{
    if (++f->lines > pop3a_listing_cap(c))
        return POP3A_ERR_PROTOCOL;
    uint32_t n;
    uint64_t size = 0;
    const char *uid = NULL;
    size_t uid_len = 0;
    int bad;
    if (f->cmd == POP3A_CMD_UIDL)
        bad = pop3a_parse_uidl_line(ev->data, ev->len, &n, &uid, &uid_len);
    else
        bad = pop3a_parse_list_line(ev->data, ev->len, &n, &size);
    if (bad)
        return POP3A_ERR_PROTOCOL;
    if (pop3a_future_add_entry(f, n, size, uid, uid_len) != 0)
        return POP3A_ERR_NOMEM;
    return POP3A_OK;
}

/* One line of a LIST, UIDL or CAPA listing. Past its cap (or after a
 * malformed line) the future is marked failed and the rest of the reply is read
 * and dropped, so the session stays usable. But a server that sends an endless
 * listing would keep us reading forever (the idle timeout never fires while
 * lines arrive), so after POP3A_LISTING_DRAIN_MAX more lines the connection is
 * ended. */
static int listing_line(pop3a_client *c, pop3a_future *f, const pop3a_pev *ev)
{
    int capa = f->cmd == POP3A_CMD_CAPA;
    size_t cap = capa ? POP3A_MAX_CAPA_LINES : pop3a_listing_cap(c);
    if (f->local_status != POP3A_OK) {
        /* Already failed: read the rest of the reply and drop it. */
        if (++f->lines > cap && f->lines - cap > POP3A_LISTING_DRAIN_MAX) {
            pop3a_fail_connection(c, POP3A_ERR_PROTOCOL, "endless listing from the server");
            return -1;
        }
        return 0;
    }
    pop3a_status st = capa ? pop3a_capa_reply_line(f, ev) : listing_entry(c, f, ev);
    if (st == POP3A_ERR_PROTOCOL) {
        const char *why = f->lines > cap ? "listing longer than the configured maximum"
                                         : "malformed listing line";
        pop3a_future_set_text(f, why, strlen(why));
    }
    f->local_status = st;
    return 0;
}

/* QUIT answered: RFC 1939 s6, the server closes after the UPDATE state. */
static int quit_done(pop3a_client *c, pop3a_future *f, pop3a_status st)
{
    pop3a_close_quietly(c);
    if (pop3a_complete(c, f, st) < 0)
        return -1;
    if (c->close_cb)
        c->close_cb(c, POP3A_OK, c->close_arg);
    return c->freeing ? -1 : 0;
}

static int cmd_on_reply(pop3a_client *c, pop3a_future *f, int tag, const pop3a_pev *ev,
                        int reply_done)
{
    (void)tag; /* one line, one reply */
    switch (ev->kind) {
    case POP3A_PEV_OK:
    case POP3A_PEV_ERR:
        f->resp_code = ev->code;
        if (pop3a_future_set_text(f, ev->data, ev->len) != 0)
            f->local_status = POP3A_ERR_NOMEM;
        f->text_is_ok_line = ev->kind == POP3A_PEV_OK;
        if (ev->kind == POP3A_PEV_ERR) {
            if (f->cmd == POP3A_CMD_QUIT)
                return quit_done(c, f, POP3A_ERR_SERVER);
            return pop3a_complete(c, f, POP3A_ERR_SERVER);
        }
        if (f->cmd == POP3A_CMD_CAPA)
            pop3a_capa_reply_begin(f);
        if (f->cmd == POP3A_CMD_RETR || f->cmd == POP3A_CMD_TOP)
            pop3a_body_begin(c, f, ev->data, ev->len);
        if (f->cmd == POP3A_CMD_PASS) /* RFC 1939 s7: the maildrop is ours now */
            c->state = POP3A_ST_TRANSACTION;
        if (!reply_done)
            return 0; /* a multi-line section follows */
        if (f->local_status == POP3A_OK && single_line_result(c, f, ev) != 0)
            f->local_status = POP3A_ERR_PROTOCOL;
        if (f->cmd == POP3A_CMD_QUIT)
            return quit_done(c, f, f->local_status);
        return pop3a_complete(c, f, f->local_status);
    case POP3A_PEV_LINE:
        return listing_line(c, f, ev);
    case POP3A_PEV_DATA:
        return pop3a_body_chunk(c, f, ev->data, ev->len, 0);
    case POP3A_PEV_END:
        if (f->local_status == POP3A_OK &&
            (f->cmd == POP3A_CMD_RETR || f->cmd == POP3A_CMD_TOP)) {
            if (c->opts.trace) {
                char note[64];
                int n = snprintf(note, sizeof note, "(%llu body octets)",
                                 (unsigned long long)f->octets);
                pop3a_trace(c, POP3A_TRACE_INFO, note, (size_t)n);
            }
            return pop3a_body_end(c, f); /* final chunk and completion, or not yet */
        }
        if (f->cmd == POP3A_CMD_LIST && f->local_status == POP3A_OK)
            pop3a_body_note_list(c, f);
        if (f->cmd == POP3A_CMD_CAPA && f->local_status == POP3A_OK) {
            f->has_capa = 1;
            if (pop3a_capa_reply_adopt(c, f) != 0)
                f->local_status = POP3A_ERR_NOMEM;
        }
        return pop3a_complete(c, f, f->local_status);
    default:
        /* A SASL continuation to a plain command. */
        pop3a_fail_connection(c, POP3A_ERR_PROTOCOL, "unexpected SASL continuation");
        return -1;
    }
}


const pop3a_op pop3a_cmd_op = {
    .name = "command",
    .may_start = cmd_may_start,
    .start = cmd_start,
    .on_reply = cmd_on_reply,
};
