/*
 * Pure, incremental POP3 reply parser: bytes in, events out. No I/O, no libevent,
 * so it can be tested at every split point and fuzzed.
 *
 * The caller arms the parser with what the next reply is (pop3a_parser_expect),
 * then feeds input. Each pop3a_parser_feed call consumes some bytes and yields at
 * most one event; call again with the rest. Event data points either into the
 * input just fed or into the parser's own line buffer, and is valid until the next
 * feed/expect/free call.
 *
 * After any complete reply (status line without a multi-line section, SASL
 * continuation, or multi-line terminator) the parser is idle (EXPECT_NONE) again;
 * a byte arriving while idle is a protocol error (a reply to no command).
 *
 * Line ends are a property of the session: the first status line read after init
 * (the greeting) decides them. After a CRLF greeting, only CRLF ends a listing
 * line and only CRLF "." CRLF ends a multi-line reply; a bare LF there is data
 * (mail with stray LFs exists, and taking "\n.\n" as the end would cut the message).
 * After a bare-LF greeting a bare LF ends lines too, as it always did. Status lines
 * themselves are taken with either line end.
 */
#ifndef POP3A_PARSER_H
#define POP3A_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include "pop3async/pop3async.h"

typedef enum {
    POP3A_EXPECT_NONE = 0, /* idle: nothing is owed to us */
    POP3A_EXPECT_STATUS,   /* one status line (+OK/-ERR) */
    POP3A_EXPECT_LINES,    /* status; after +OK a multi-line listing, line by line */
    POP3A_EXPECT_BODY,     /* status; after +OK a multi-line body, as data spans */
    POP3A_EXPECT_SASL      /* status, or a "+ base64" continuation (RFC 5034) */
} pop3a_expect;

typedef enum {
    POP3A_PEV_NEED_MORE = 0, /* every byte fed was consumed; no event yet */
    POP3A_PEV_OK,            /* +OK: data/len = text after "+OK" and its space, no line end */
    POP3A_PEV_ERR,           /* -ERR: likewise */
    POP3A_PEV_CONTINUE,      /* SASL "+" or "+ " continuation: data = what follows */
    POP3A_PEV_LINE,          /* one listing line, dot-unstuffed, line end removed */
    POP3A_PEV_DATA,          /* body bytes, dot-unstuffed, line ends kept as sent */
    POP3A_PEV_END,           /* the "." terminator of a multi-line reply */
    POP3A_PEV_ERROR          /* protocol error, data = reason (static); parser stays failed */
} pop3a_pev_kind;

/* How the server ends its lines (see the top of this file). */
typedef enum {
    POP3A_LINE_ENDS_UNDECIDED = 0, /* no status line read yet */
    POP3A_LINE_ENDS_CRLF,          /* RFC 1939 s3: only CRLF ends a line */
    POP3A_LINE_ENDS_LF             /* the server's lines end in bare LF: LF ends one too */
} pop3a_line_ends;

typedef struct {
    pop3a_pev_kind kind;
    const char *data;
    size_t len;
    pop3a_resp_code code; /* OK/ERR: the [CODE] at the start of the text, if any */
} pop3a_pev;

/* Internal layout is private to parser.c; it is here so callers can embed it. */
typedef struct {
    pop3a_expect expect;
    int phase;        /* parser.c: where inside the reply we are */
    pop3a_line_ends line_ends; /* decided by the first status line */
    int failed;       /* a PEV_ERROR was returned; every later feed returns it again */
    const char *fail_reason;
    char *line;       /* partial status/listing line across feeds; malloc'd lazily */
    size_t line_len;
    size_t line_cap;
    size_t max_line;  /* longest status or listing line accepted, excluding line end */
    char pending[4];  /* body bytes held back at a read boundary: "." or ".\r" at a
                       * line start, whose meaning depends on the next byte */
    size_t pending_len;
} pop3a_parser;

/* max_line: cap on a status/listing line (0 = 8192). */
void pop3a_parser_init(pop3a_parser *p, size_t max_line);
void pop3a_parser_free(pop3a_parser *p); /* frees the line buffer; p can be reused after init */

/* Arms the parser for the next reply. Only valid when idle: arming in the middle of
 * a reply fails the parser (the next feed returns PEV_ERROR); a failed parser stays
 * failed. */
void pop3a_parser_expect(pop3a_parser *p, pop3a_expect e);
pop3a_expect pop3a_parser_expecting(const pop3a_parser *p);
/* 1 when idle and nothing is held back (a reply boundary). */
int pop3a_parser_idle(const pop3a_parser *p);
/* The session's line ends, once the first status line has decided them. */
pop3a_line_ends pop3a_parser_line_ends(const pop3a_parser *p);

/*
 * Consume up to len bytes of `in`, yield at most one event in *ev. Returns how many
 * bytes were consumed (may be 0 when an event was produced from held-back state,
 * never 0 with PEV_NEED_MORE unless len is 0). On PEV_ERROR the parser is dead.
 * After PEV_END (and after a status-only reply) the bytes that follow are not
 * consumed: they belong to the next reply, for which the parser must be re-armed.
 * Body DATA spans point into `in` except a lone "\r" handed out of p->pending
 * (with 0 consumed) when a held ".\r" turns out to be a stuffed dot.
 */
size_t pop3a_parser_feed(pop3a_parser *p, const char *in, size_t len, pop3a_pev *ev);

/* The resp code of a status text such as "[IN-USE] locked" (RFC 2449 s8, RFC 3206).
 * Case-insensitive; hierarchical codes map to their known parent (SYS/TEMP/x ->
 * SYS_TEMP). A well-formed unknown code is OTHER; text that starts with "[" but is
 * not a resp-code by the RFC 2449 grammar (no "]", a space inside, an empty level)
 * is NONE. */
pop3a_resp_code pop3a_resp_code_parse(const char *text, size_t len);

#endif
