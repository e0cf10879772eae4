/*
 * The reply-parser test driver, shared by the test_parser_*.c files: it feeds an
 * input three ways (whole, split in two at every byte offset, one byte at a time)
 * and writes each way's events as a transcript; every way must give the same one
 * (consecutive DATA spans are merged: only body data may be cut differently).
 */
#ifndef PARSER_DRIVER_H
#define PARSER_DRIVER_H

#include <check.h>
#include <stddef.h>

#include "parser.h"

/* ck_assert records a checkpoint (a write to a temp file) on every call: in loops that
 * run millions of times, only call into Check when something is wrong. */
#define REQUIRE(cond, ...)                                                                 \
    do {                                                                                   \
        if (!(cond))                                                                       \
            ck_abort_msg(__VA_ARGS__);                                                     \
    } while (0)

/* A growing byte string, always NUL-terminated. Zero-initialise; free(buf). */
typedef struct {
    char *buf;
    size_t len;
    size_t cap;
} strbuf;

void sb_add(strbuf *sb, const char *s, size_t n);
void sb_str(strbuf *sb, const char *s);

/* Feeds a parser and records its events as a transcript. */
typedef struct {
    pop3a_parser p;
    const pop3a_expect *expects; /* armed in order, each time the parser is idle */
    size_t n_expects;
    size_t next_expect;
    strbuf out;      /* transcript so far */
    strbuf data;     /* DATA bytes not yet written to out (merged spans) */
    int data_open;
    int stopped;     /* a PEV_ERROR was seen */
    const char *error_reason;
    size_t n_data_events;
} driver;

void driver_init(driver *d, size_t max_line, const pop3a_expect *expects, size_t n);
void driver_feed(driver *d, const char *chunk, size_t len);
/* Returns the transcript (caller frees) and frees everything else. */
char *driver_finish(driver *d);

enum { FEED_WHOLE = -1, FEED_BYTEWISE = -2 };

/* how: FEED_WHOLE, FEED_BYTEWISE, or an offset to split the input in two. */
char *transcript(const char *in, size_t len, size_t max_line, const pop3a_expect *ex,
                 size_t n_ex, long how);

/* One input and the transcript it must give, however it is cut. */
typedef struct {
    const char *name; /* the behaviour the row pins down: named in failure messages */
    const char *in;
    size_t len;       /* from sizeof, so NULs inside `in` count */
    size_t max_line;  /* 0: the parser's default cap */
    const char *want;
    const pop3a_expect *expects;
    size_t n_expects;
} parser_case;

/* Feeds the case whole, split at every offset and byte by byte; fails on the first
 * way whose transcript differs from c->want. */
void check_parser_case(const parser_case *c);

#define EXPECTS(...) ((const pop3a_expect[]){__VA_ARGS__})
#define N_EXPECTS(...) (sizeof(EXPECTS(__VA_ARGS__)) / sizeof(pop3a_expect))
/* Table rows, at file scope (the expects list is a static compound literal). `in`
 * must be a string literal: its length comes from sizeof, so NULs count. */
#define CASE_CAPPED(name, in, max_line, want, ...)                                         \
    {(name), (in), sizeof(in) - 1, (max_line), (want), EXPECTS(__VA_ARGS__),               \
     N_EXPECTS(__VA_ARGS__)}
#define CASE(name, in, want, ...) CASE_CAPPED(name, in, 0, want, __VA_ARGS__)

#define N_ROWS(table) (sizeof(table) / sizeof((table)[0]))

#define STATUS POP3A_EXPECT_STATUS
#define LINES POP3A_EXPECT_LINES
#define BODY POP3A_EXPECT_BODY
#define SASL POP3A_EXPECT_SASL

/* Runs a whole Check suite; the exit status for main(). */
int run_suite(Suite *s);

#endif
