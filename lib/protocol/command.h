/*
 * The POP3 command table and command-line serialisation. Pure: no I/O.
 *
 * To add a command: a row in command.c's table, an enumerator here, a submit
 * function in the public header (client.c), and a test.
 */
#ifndef POP3A_COMMAND_H
#define POP3A_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "parser.h"

typedef enum {
    POP3A_CMD_USER = 0,
    POP3A_CMD_PASS,
    POP3A_CMD_APOP,
    POP3A_CMD_AUTH,     /* AUTH mech [initial-response] */
    POP3A_CMD_SASL_RESP,/* a bare SASL response line (base64, "*" or empty) */
    POP3A_CMD_STLS,
    POP3A_CMD_CAPA,
    POP3A_CMD_STAT,
    POP3A_CMD_LIST,
    POP3A_CMD_UIDL,
    POP3A_CMD_RETR,
    POP3A_CMD_TOP,
    POP3A_CMD_DELE,
    POP3A_CMD_NOOP,
    POP3A_CMD_RSET,
    POP3A_CMD_QUIT,
    POP3A_CMD_UTF8,
    POP3A_CMD_COUNT
} pop3a_cmd;

/* RFC 2449 section 4: a command line is at most 255 octets including CRLF. */
#define POP3A_CMD_LINE_MAX 255

typedef struct {
    const char *name;        /* as sent, e.g. "RETR"; NULL for SASL_RESP */
    unsigned states;         /* POP3A_ST_* bits in which the command is allowed */
    pop3a_expect reply;      /* reply kind without arguments */
    pop3a_expect reply_arg;  /* reply kind with arguments (LIST n is single-line) */
    unsigned char min_args;
    unsigned char max_args;
    signed char secret_from; /* first argument redacted in traces; -1 none */
    unsigned char pipelinable; /* may be sent while other replies are outstanding
                                  (RFC 2449 s6.6); 0 for commands that change the
                                  session state or must end a batch */
} pop3a_cmd_info;

/* The table row of cmd; NULL when cmd is out of range. */
const pop3a_cmd_info *pop3a_cmd_get(pop3a_cmd cmd);

/* 0 when `s` contains no CR, LF or NUL (and is not NULL); -1 otherwise. A NUL
 * inside a C string ends it, so what follows a NUL is never seen, let alone
 * sent; callers holding counted data must check for NUL themselves. */
int pop3a_arg_ok(const char *s);

/*
 * Writes "NAME[ arg]...\r\n" into out (at least POP3A_CMD_LINE_MAX + 1 bytes,
 * NUL-terminated for convenience). Returns the line length, or -1 when an argument
 * is NULL or empty, contains CR, LF or NUL, contains a space where the protocol
 * splits on spaces (only the last argument of USER and PASS may hold spaces:
 * RFC 1939 lets servers take the rest of the line), the argument count is wrong,
 * or the line would exceed POP3A_CMD_LINE_MAX. SASL_RESP takes one argument that
 * may be empty. Nothing is written on error.
 */
int pop3a_cmd_format(char *out, pop3a_cmd cmd, const char *const *args, size_t nargs);

/*
 * The same line for a trace, with secret arguments (secret_from on) replaced by
 * "****" and no CRLF. A SASL response is shown only when it is "*" (cancel) or
 * empty. Never fails: a NULL argument shows as empty, an argument is cut at a CR
 * or LF, the line at POP3A_CMD_LINE_MAX bytes. Returns the length written into
 * out (POP3A_CMD_LINE_MAX + 1 bytes, NUL-terminated).
 */
size_t pop3a_cmd_redacted(char *out, pop3a_cmd cmd, const char *const *args, size_t nargs);

#endif
