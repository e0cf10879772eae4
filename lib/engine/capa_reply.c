/*
 * Reading a CAPA reply (RFC 2449 s5), one way for both ops that ask for it:
 * the connect op (after the greeting and again after STLS) and
 * pop3a_capa_refresh (cmd_op.c). What each does when the reply is too long
 * differs (see their callers); how it is read and counted does not.
 */
#include "client_internal.h"

void pop3a_capa_reply_begin(pop3a_future *f)
{
    pop3a_capa_clear(&f->capa);
    f->lines = 0;
}

pop3a_status pop3a_capa_reply_line(pop3a_future *f, const pop3a_pev *ev)
{
    /* A dozen lines is normal; a server sending thousands is hostile. */
    if (++f->lines > POP3A_MAX_CAPA_LINES)
        return POP3A_ERR_PROTOCOL;
    if (pop3a_capa_add_line(&f->capa, ev->data, ev->len) != 0)
        return POP3A_ERR_NOMEM;
    return POP3A_OK;
}

int pop3a_capa_reply_adopt(pop3a_client *c, const pop3a_future *f)
{
    pop3a_capa_clear(&c->capa);
    return pop3a_capa_copy(&c->capa, &f->capa);
}
