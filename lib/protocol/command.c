/*
 * The POP3 command table and command-line serialisation (RFC 1939, 2449, 2595,
 * 5034, 6856). Pure: no I/O, no allocation.
 */
#include "command.h"

#include <string.h>

#include "session.h"

#define ST_AUTH POP3A_ST_AUTHORIZATION
#define ST_TRANS POP3A_ST_TRANSACTION

/*
 * One row per pop3a_cmd, in enum order (checked by the unit test).
 *
 * States: RFC 1939 s4-s6 (USER PASS APOP QUIT in AUTHORIZATION; STAT LIST UIDL
 * RETR TOP DELE NOOP RSET QUIT in TRANSACTION), RFC 2449 s5 (CAPA in both),
 * RFC 2595 s4 (STLS in AUTHORIZATION), RFC 5034 s4 (AUTH and its responses in
 * AUTHORIZATION), RFC 6856 s2 (UTF8 in AUTHORIZATION).
 *
 * Pipelinable: RFC 2449 s6.6 lets a client send commands without waiting, but a
 * command that changes the session state (USER PASS APOP AUTH STLS UTF8 QUIT)
 * must be the last in a batch, and CAPA's answer changes after login or STLS, so
 * all of those are marked 0 and the engine decides any exception.
 *
 * Replies: LIST and UIDL are multi-line only without an argument (RFC 1939 s5,
 * s7); RETR and TOP carry a body; AUTH and the SASL responses may get a "+ "
 * continuation (RFC 5034 s4).
 */
static const pop3a_cmd_info cmd_table[POP3A_CMD_COUNT] = {
    [POP3A_CMD_USER] = {"USER", ST_AUTH, POP3A_EXPECT_STATUS, POP3A_EXPECT_STATUS, 1, 1, -1, 0},
    [POP3A_CMD_PASS] = {"PASS", ST_AUTH, POP3A_EXPECT_STATUS, POP3A_EXPECT_STATUS, 1, 1, 0, 0},
    /* APOP name digest: the digest is derived from the secret, keep it out of traces. */
    [POP3A_CMD_APOP] = {"APOP", ST_AUTH, POP3A_EXPECT_STATUS, POP3A_EXPECT_STATUS, 2, 2, 1, 0},
    /* AUTH mech [initial-response]: RFC 5034 s4 allows the initial response. */
    [POP3A_CMD_AUTH] = {"AUTH", ST_AUTH, POP3A_EXPECT_SASL, POP3A_EXPECT_SASL, 1, 2, 1, 0},
    [POP3A_CMD_SASL_RESP] = {NULL, ST_AUTH, POP3A_EXPECT_SASL, POP3A_EXPECT_SASL, 1, 1, 0, 0},
    [POP3A_CMD_STLS] = {"STLS", ST_AUTH, POP3A_EXPECT_STATUS, POP3A_EXPECT_STATUS, 0, 0, -1, 0},
    [POP3A_CMD_CAPA] = {"CAPA", ST_AUTH | ST_TRANS, POP3A_EXPECT_LINES, POP3A_EXPECT_LINES, 0, 0,
                        -1, 0},
    [POP3A_CMD_STAT] = {"STAT", ST_TRANS, POP3A_EXPECT_STATUS, POP3A_EXPECT_STATUS, 0, 0, -1, 1},
    [POP3A_CMD_LIST] = {"LIST", ST_TRANS, POP3A_EXPECT_LINES, POP3A_EXPECT_STATUS, 0, 1, -1, 1},
    [POP3A_CMD_UIDL] = {"UIDL", ST_TRANS, POP3A_EXPECT_LINES, POP3A_EXPECT_STATUS, 0, 1, -1, 1},
    [POP3A_CMD_RETR] = {"RETR", ST_TRANS, POP3A_EXPECT_BODY, POP3A_EXPECT_BODY, 1, 1, -1, 1},
    [POP3A_CMD_TOP] = {"TOP", ST_TRANS, POP3A_EXPECT_BODY, POP3A_EXPECT_BODY, 2, 2, -1, 1},
    [POP3A_CMD_DELE] = {"DELE", ST_TRANS, POP3A_EXPECT_STATUS, POP3A_EXPECT_STATUS, 1, 1, -1, 1},
    [POP3A_CMD_NOOP] = {"NOOP", ST_TRANS, POP3A_EXPECT_STATUS, POP3A_EXPECT_STATUS, 0, 0, -1, 1},
    [POP3A_CMD_RSET] = {"RSET", ST_TRANS, POP3A_EXPECT_STATUS, POP3A_EXPECT_STATUS, 0, 0, -1, 1},
    [POP3A_CMD_QUIT] = {"QUIT", ST_AUTH | ST_TRANS, POP3A_EXPECT_STATUS, POP3A_EXPECT_STATUS, 0, 0,
                        -1, 0},
    [POP3A_CMD_UTF8] = {"UTF8", ST_AUTH, POP3A_EXPECT_STATUS, POP3A_EXPECT_STATUS, 0, 0, -1, 0},
};

/* Shown in traces instead of a secret argument. */
static const char redaction[] = "****";

const pop3a_cmd_info *pop3a_cmd_get(pop3a_cmd cmd)
{
    if ((unsigned)cmd >= POP3A_CMD_COUNT)
        return NULL;
    return &cmd_table[cmd];
}

int pop3a_arg_ok(const char *s)
{
    /* A NUL cannot sit inside a C string: it ends it, so only CR and LF can smuggle
     * a second command onto the line. */
    if (s == NULL)
        return -1;
    return strpbrk(s, "\r\n") == NULL ? 0 : -1;
}

/* RFC 1939 s3: arguments are separated by single spaces, so a space inside one
 * would split it; only the last argument of USER and PASS may hold spaces, since
 * servers take the rest of the line there (RFC 1939 s7, PASS). */
static int space_allowed(pop3a_cmd cmd, size_t index, size_t nargs)
{
    return (cmd == POP3A_CMD_USER || cmd == POP3A_CMD_PASS) && index + 1 == nargs;
}

/* An empty argument would leave a trailing space, which servers read as an empty
 * argument or refuse; only a SASL response may be empty (an empty line). */
static int empty_allowed(pop3a_cmd cmd)
{
    return cmd == POP3A_CMD_SASL_RESP;
}

static int arg_valid(pop3a_cmd cmd, const char *arg, size_t index, size_t nargs)
{
    if (pop3a_arg_ok(arg) != 0)
        return 0;
    if (arg[0] == '\0' && !empty_allowed(cmd))
        return 0;
    if (!space_allowed(cmd, index, nargs) && strchr(arg, ' ') != NULL)
        return 0;
    return 1;
}

/* Length of the line without CRLF, or 0 with *ok = 0 when an argument is bad. */
static size_t checked_length(pop3a_cmd cmd, const pop3a_cmd_info *info, const char *const *args,
                             size_t nargs, int *ok)
{
    size_t len = info->name != NULL ? strlen(info->name) : 0;

    *ok = 0;
    if (nargs < info->min_args || nargs > info->max_args)
        return 0;
    if (nargs > 0 && args == NULL)
        return 0;
    for (size_t i = 0; i < nargs; i++) {
        if (!arg_valid(cmd, args[i], i, nargs))
            return 0;
        /* A SASL response is the whole line: no name, no separator (RFC 5034 s4). */
        len += strlen(args[i]) + (info->name != NULL ? 1 : 0);
        if (len > POP3A_CMD_LINE_MAX)
            return 0; /* early exit also keeps len from overflowing */
    }
    *ok = 1;
    return len;
}

int pop3a_cmd_format(char *out, pop3a_cmd cmd, const char *const *args, size_t nargs)
{
    const pop3a_cmd_info *info = pop3a_cmd_get(cmd);
    size_t len;
    size_t pos = 0;
    int ok;

    if (info == NULL || out == NULL)
        return -1;
    len = checked_length(cmd, info, args, nargs, &ok);
    /* RFC 2449 s4: at most 255 octets including the CRLF. */
    if (!ok || len + 2 > POP3A_CMD_LINE_MAX)
        return -1;

    if (info->name != NULL) {
        size_t n = strlen(info->name);
        memcpy(out, info->name, n);
        pos = n;
    }
    for (size_t i = 0; i < nargs; i++) {
        size_t n = strlen(args[i]);
        if (info->name != NULL)
            out[pos++] = ' ';
        memcpy(out + pos, args[i], n);
        pos += n;
    }
    out[pos++] = '\r';
    out[pos++] = '\n';
    out[pos] = '\0';
    return (int)pos;
}

/* Appends up to n bytes of s, keeping room for the terminating NUL. */
static size_t append_capped(char *out, size_t pos, const char *s, size_t n)
{
    size_t room = POP3A_CMD_LINE_MAX - pos;

    if (n > room)
        n = room;
    memcpy(out + pos, s, n);
    return pos + n;
}

/* A SASL "*" (cancel, RFC 5034 s4) or empty response says nothing secret and
 * helps reading a trace; any other response may carry a password (PLAIN,
 * LOGIN) or a proof, so it is hidden. */
static int sasl_resp_shown(const char *arg)
{
    return arg[0] == '\0' || strcmp(arg, "*") == 0;
}

static const char *trace_arg(pop3a_cmd cmd, const pop3a_cmd_info *info, const char *arg,
                             size_t index)
{
    if (arg == NULL)
        return "";
    if (info->secret_from < 0 || index < (size_t)info->secret_from)
        return arg;
    if (cmd == POP3A_CMD_SASL_RESP && sasl_resp_shown(arg))
        return arg;
    return redaction;
}

size_t pop3a_cmd_redacted(char *out, pop3a_cmd cmd, const char *const *args, size_t nargs)
{
    const pop3a_cmd_info *info = pop3a_cmd_get(cmd);
    size_t pos = 0;

    if (out == NULL)
        return 0;
    out[0] = '\0';
    if (info == NULL)
        return 0;
    if (info->name != NULL)
        pos = append_capped(out, pos, info->name, strlen(info->name));
    for (size_t i = 0; args != NULL && i < nargs; i++) {
        const char *shown = trace_arg(cmd, info, args[i], i);
        if (info->name != NULL)
            pos = append_capped(out, pos, " ", 1);
        /* Stop at a line end so a bad argument cannot forge a trace line; the
         * secret check above already ran on the whole argument. */
        pos = append_capped(out, pos, shown, strcspn(shown, "\r\n"));
    }
    out[pos] = '\0';
    return pos;
}
