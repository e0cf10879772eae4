/*
 * A command line, formatted in one place for every writer: plain commands at
 * submit time (submit.c) and the multi-step ops as they go (pop3a_write_cmd).
 * Nothing with CR, LF or NUL is formatted (pop3a_cmd_format), and a line that
 * holds a secret gets a redacted twin for the trace callback, made only when
 * tracing is on.
 */
#include <openssl/crypto.h>

#include "client_internal.h"

int pop3a_cmd_line_make(pop3a_cmd_line *l, const pop3a_client *c, pop3a_cmd cmd,
                        const char *const *args, size_t nargs)
{
    int n = pop3a_cmd_format(l->line, cmd, args, nargs);
    l->has_trace = 0;
    if (n < 0) {
        l->len = 0;
        return -1;
    }
    l->len = (size_t)n;
    if (c->opts.trace && pop3a_cmd_get(cmd)->secret_from >= 0) {
        pop3a_cmd_redacted(l->trace, cmd, args, nargs);
        l->has_trace = 1;
    }
    return 0;
}

void pop3a_cmd_line_wipe(pop3a_cmd_line *l)
{
    OPENSSL_cleanse(l->line, sizeof l->line); /* may hold a password */
}

int pop3a_write_cmd(pop3a_client *c, pop3a_future *f, pop3a_cmd cmd, const char *const *args,
                    size_t nargs, int tag)
{
    pop3a_cmd_line l;
    if (pop3a_cmd_line_make(&l, c, cmd, args, nargs) != 0)
        return -2;
    const pop3a_cmd_info *info = pop3a_cmd_get(cmd);
    pop3a_expect expect = nargs ? info->reply_arg : info->reply;
    int rc = pop3a_write_line(c, f, l.line, l.len, l.has_trace ? l.trace : NULL, expect, tag);
    pop3a_cmd_line_wipe(&l);
    return rc;
}
