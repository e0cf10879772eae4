/*
 * Submitting plain commands: check the arguments (nothing with CR, LF or NUL is
 * ever queued), format the line once, and queue the future. Work starts on a
 * later loop turn (client.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "alloc.h"
#include "client_internal.h"

static pop3a_future *submit(pop3a_client *c, pop3a_cmd cmd, const char *const *args, size_t nargs,
                            uint32_t msg, pop3a_chunk_cb chunk, pop3a_done_cb done, void *arg)
{
    if (!pop3a_may_submit(c))
        return NULL;
    pop3a_cmd_line l;
    if (pop3a_cmd_line_make(&l, c, cmd, args, nargs) != 0) {
        pop3a_set_error(c, POP3A_ERR_INVALID,
                        "bad argument for %s (CR, LF, NUL, space or too long)",
                        pop3a_cmd_get(cmd)->name);
        return NULL;
    }
    pop3a_future *f = pop3a_future_alloc(c, &pop3a_cmd_op, done, arg);
    if (f)
        f->line = pop3a_malloc(l.len);
    if (f && f->line && l.has_trace) {
        f->trace_line = pop3a_strdup(l.trace);
        if (!f->trace_line) {
            pop3a_free(f->line);
            f->line = NULL;
        }
    }
    if (!f || !f->line) {
        pop3a_cmd_line_wipe(&l);
        pop3a_future_release(f);
        pop3a_set_error(c, POP3A_ERR_NOMEM, NULL);
        return NULL;
    }
    memcpy(f->line, l.line, l.len);
    f->line_len = l.len;
    pop3a_cmd_line_wipe(&l);
    f->cmd = cmd;
    f->msg = msg;
    f->chunk_cb = chunk;
    pop3a_enqueue(c, f);
    return f;
}

static pop3a_future *submit0(pop3a_client *c, pop3a_cmd cmd, pop3a_done_cb done, void *arg)
{
    return submit(c, cmd, NULL, 0, 0, NULL, done, arg);
}

/* A command whose only argument is a message number; 0 means "no argument" when
 * optional (LIST, UIDL), and is invalid otherwise (RFC 1939: numbers start at 1). */
static pop3a_future *submit_msg(pop3a_client *c, pop3a_cmd cmd, uint32_t msg, int optional,
                                pop3a_chunk_cb chunk, pop3a_done_cb done, void *arg)
{
    if (msg == 0 && optional)
        return submit(c, cmd, NULL, 0, 0, chunk, done, arg);
    if (msg == 0) {
        if (c)
            pop3a_set_error(c, POP3A_ERR_INVALID, "message numbers start at 1");
        return NULL;
    }
    char num[16];
    snprintf(num, sizeof num, "%u", msg);
    const char *args[] = {num};
    return submit(c, cmd, args, 1, msg, chunk, done, arg);
}

POP3A_EXPORT pop3a_future *pop3a_user(pop3a_client *c, const char *user, pop3a_done_cb done,
                                      void *arg)
{
    const char *args[] = {user};
    return submit(c, POP3A_CMD_USER, args, 1, 0, NULL, done, arg);
}

POP3A_EXPORT pop3a_future *pop3a_pass(pop3a_client *c, const char *password, pop3a_done_cb done,
                                      void *arg)
{
    const char *args[] = {password};
    return submit(c, POP3A_CMD_PASS, args, 1, 0, NULL, done, arg);
}

POP3A_EXPORT pop3a_future *pop3a_stat(pop3a_client *c, pop3a_done_cb done, void *arg)
{
    return submit0(c, POP3A_CMD_STAT, done, arg);
}

POP3A_EXPORT pop3a_future *pop3a_list(pop3a_client *c, uint32_t msg, pop3a_done_cb done, void *arg)
{
    return submit_msg(c, POP3A_CMD_LIST, msg, 1, NULL, done, arg);
}

POP3A_EXPORT pop3a_future *pop3a_uidl(pop3a_client *c, uint32_t msg, pop3a_done_cb done, void *arg)
{
    return submit_msg(c, POP3A_CMD_UIDL, msg, 1, NULL, done, arg);
}

POP3A_EXPORT pop3a_future *pop3a_retr(pop3a_client *c, uint32_t msg, pop3a_chunk_cb chunk,
                                      pop3a_done_cb done, void *arg)
{
    return submit_msg(c, POP3A_CMD_RETR, msg, 0, chunk, done, arg);
}

POP3A_EXPORT pop3a_future *pop3a_top(pop3a_client *c, uint32_t msg, uint32_t lines,
                                     pop3a_chunk_cb chunk, pop3a_done_cb done, void *arg)
{
    if (msg == 0) {
        if (c)
            pop3a_set_error(c, POP3A_ERR_INVALID, "message numbers start at 1");
        return NULL;
    }
    char num[16], nlines[16];
    snprintf(num, sizeof num, "%u", msg);
    snprintf(nlines, sizeof nlines, "%u", lines);
    const char *args[] = {num, nlines};
    return submit(c, POP3A_CMD_TOP, args, 2, msg, chunk, done, arg);
}

POP3A_EXPORT pop3a_future *pop3a_dele(pop3a_client *c, uint32_t msg, pop3a_done_cb done, void *arg)
{
    return submit_msg(c, POP3A_CMD_DELE, msg, 0, NULL, done, arg);
}

POP3A_EXPORT pop3a_future *pop3a_noop(pop3a_client *c, pop3a_done_cb done, void *arg)
{
    return submit0(c, POP3A_CMD_NOOP, done, arg);
}

POP3A_EXPORT pop3a_future *pop3a_rset(pop3a_client *c, pop3a_done_cb done, void *arg)
{
    return submit0(c, POP3A_CMD_RSET, done, arg);
}

POP3A_EXPORT pop3a_future *pop3a_capa_refresh(pop3a_client *c, pop3a_done_cb done, void *arg)
{
    return submit0(c, POP3A_CMD_CAPA, done, arg);
}

POP3A_EXPORT pop3a_future *pop3a_utf8(pop3a_client *c, pop3a_done_cb done, void *arg)
{
    return submit0(c, POP3A_CMD_UTF8, done, arg);
}

POP3A_EXPORT pop3a_future *pop3a_quit(pop3a_client *c, pop3a_done_cb done, void *arg)
{
    return submit0(c, POP3A_CMD_QUIT, done, arg);
}

/* A batch needs its list; an empty one is fine (nothing to queue). */
static int batch_list_ok(pop3a_client *c, const uint32_t *msgs, size_t n)
{
    if (msgs || !n)
        return 1;
    if (c)
        pop3a_set_error(c, POP3A_ERR_INVALID, "no message list");
    return 0;
}

POP3A_EXPORT size_t pop3a_retr_many(pop3a_client *c, const uint32_t *msgs, size_t n,
                                    pop3a_chunk_cb chunk, pop3a_done_cb done, void *arg)
{
    size_t queued = 0;
    if (batch_list_ok(c, msgs, n))
        while (queued < n && pop3a_retr(c, msgs[queued], chunk, done, arg))
            queued++;
    return queued;
}

POP3A_EXPORT size_t pop3a_dele_many(pop3a_client *c, const uint32_t *msgs, size_t n,
                                    pop3a_done_cb done, void *arg)
{
    size_t queued = 0;
    if (batch_list_ok(c, msgs, n))
        while (queued < n && pop3a_dele(c, msgs[queued], done, arg))
            queued++;
    return queued;
}
