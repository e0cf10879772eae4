/* Unit tests of lib/protocol/command.c: the command table, serialisation and redaction. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "session.h"

#define OUT_SIZE (POP3A_CMD_LINE_MAX + 1)
#define SENTINEL 0x5A

/* Heap buffers of exactly OUT_SIZE so ASan/valgrind catch any write past the end. */
static char *sentinel_buffer(void)
{
    char *out = malloc(OUT_SIZE);
    ck_assert_ptr_nonnull(out);
    memset(out, SENTINEL, OUT_SIZE);
    return out;
}

static int untouched(const char *out)
{
    for (size_t i = 0; i < OUT_SIZE; i++) {
        if ((unsigned char)out[i] != SENTINEL)
            return 0;
    }
    return 1;
}

/* A string of n copies of c, malloc'd. */
static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* Valid arguments for every command at its maximum argument count. */
static const char *const valid_args[POP3A_CMD_COUNT][2] = {
    [POP3A_CMD_USER] = {"alice"},
    [POP3A_CMD_PASS] = {"alicepw"},
    [POP3A_CMD_APOP] = {"alice", "c4c9334bac560ecc979e58001b3e22fb"},
    [POP3A_CMD_AUTH] = {"PLAIN", "AGFsaWNlAGFsaWNlcHc="},
    [POP3A_CMD_SASL_RESP] = {"AGFsaWNlAGFsaWNlcHc="},
    [POP3A_CMD_LIST] = {"1"},
    [POP3A_CMD_UIDL] = {"1"},
    [POP3A_CMD_RETR] = {"1"},
    [POP3A_CMD_TOP] = {"1", "10"},
    [POP3A_CMD_DELE] = {"1"},
};

/* ------------------------------------------------------------------ table */

START_TEST(every_command_has_a_row_and_out_of_range_has_none)
{
    for (int c = 0; c < POP3A_CMD_COUNT; c++) {
        const pop3a_cmd_info *info = pop3a_cmd_get((pop3a_cmd)c);
        ck_assert_ptr_nonnull(info);
        ck_assert_uint_le(info->min_args, info->max_args);
        ck_assert_uint_le(info->max_args, 2);
        ck_assert_int_lt(info->secret_from, (int)info->max_args);
        ck_assert_uint_ne(info->states, 0);
        ck_assert_int_ne(info->reply, POP3A_EXPECT_NONE);
        ck_assert_int_ne(info->reply_arg, POP3A_EXPECT_NONE);
    }
    ck_assert_ptr_null(pop3a_cmd_get(POP3A_CMD_COUNT));
    ck_assert_ptr_null(pop3a_cmd_get((pop3a_cmd)-1));
}
END_TEST

START_TEST(table_names_are_the_wire_keywords)
{
    static const char *const names[POP3A_CMD_COUNT] = {
        "USER", "PASS", "APOP", "AUTH", NULL, "STLS", "CAPA", "STAT", "LIST",
        "UIDL", "RETR", "TOP",  "DELE", "NOOP", "RSET", "QUIT", "UTF8",
    };
    for (int c = 0; c < POP3A_CMD_COUNT; c++) {
        const char *name = pop3a_cmd_get((pop3a_cmd)c)->name;
        if (names[c] == NULL)
            ck_assert_ptr_null(name);
        else
            ck_assert_str_eq(name, names[c]);
    }
}
END_TEST

START_TEST(states_follow_rfc1939_2449_2595_6856)
{
    const unsigned auth = POP3A_ST_AUTHORIZATION, trans = POP3A_ST_TRANSACTION;
    static const pop3a_cmd auth_only[] = {POP3A_CMD_USER, POP3A_CMD_PASS, POP3A_CMD_APOP,
                                          POP3A_CMD_AUTH, POP3A_CMD_SASL_RESP, POP3A_CMD_STLS,
                                          POP3A_CMD_UTF8};
    static const pop3a_cmd trans_only[] = {POP3A_CMD_STAT, POP3A_CMD_LIST, POP3A_CMD_UIDL,
                                           POP3A_CMD_RETR, POP3A_CMD_TOP,  POP3A_CMD_DELE,
                                           POP3A_CMD_NOOP, POP3A_CMD_RSET};

    for (size_t i = 0; i < sizeof auth_only / sizeof auth_only[0]; i++)
        ck_assert_uint_eq(pop3a_cmd_get(auth_only[i])->states, auth);
    for (size_t i = 0; i < sizeof trans_only / sizeof trans_only[0]; i++)
        ck_assert_uint_eq(pop3a_cmd_get(trans_only[i])->states, trans);
    ck_assert_uint_eq(pop3a_cmd_get(POP3A_CMD_CAPA)->states, auth | trans);
    ck_assert_uint_eq(pop3a_cmd_get(POP3A_CMD_QUIT)->states, auth | trans);
}
END_TEST

START_TEST(list_and_uidl_are_multiline_only_without_argument)
{
    for (int c = 0; c < POP3A_CMD_COUNT; c++) {
        const pop3a_cmd_info *info = pop3a_cmd_get((pop3a_cmd)c);
        pop3a_expect bare = POP3A_EXPECT_STATUS, with_arg = POP3A_EXPECT_STATUS;

        switch ((pop3a_cmd)c) {
        case POP3A_CMD_LIST:
        case POP3A_CMD_UIDL:
            bare = POP3A_EXPECT_LINES;
            break;
        case POP3A_CMD_CAPA:
            bare = with_arg = POP3A_EXPECT_LINES;
            break;
        case POP3A_CMD_RETR:
        case POP3A_CMD_TOP:
            bare = with_arg = POP3A_EXPECT_BODY;
            break;
        case POP3A_CMD_AUTH:
        case POP3A_CMD_SASL_RESP:
            bare = with_arg = POP3A_EXPECT_SASL;
            break;
        default:
            break;
        }
        ck_assert_msg(info->reply == bare, "reply of command %d", c);
        ck_assert_msg(info->reply_arg == with_arg, "reply_arg of command %d", c);
    }
}
END_TEST

START_TEST(argument_counts_and_secrets)
{
    static const struct {
        pop3a_cmd cmd;
        int min, max, secret;
    } rows[] = {
        {POP3A_CMD_USER, 1, 1, -1}, {POP3A_CMD_PASS, 1, 1, 0},      {POP3A_CMD_APOP, 2, 2, 1},
        {POP3A_CMD_AUTH, 1, 2, 1},  {POP3A_CMD_SASL_RESP, 1, 1, 0}, {POP3A_CMD_STLS, 0, 0, -1},
        {POP3A_CMD_CAPA, 0, 0, -1}, {POP3A_CMD_STAT, 0, 0, -1},     {POP3A_CMD_LIST, 0, 1, -1},
        {POP3A_CMD_UIDL, 0, 1, -1}, {POP3A_CMD_RETR, 1, 1, -1},     {POP3A_CMD_TOP, 2, 2, -1},
        {POP3A_CMD_DELE, 1, 1, -1}, {POP3A_CMD_NOOP, 0, 0, -1},     {POP3A_CMD_RSET, 0, 0, -1},
        {POP3A_CMD_QUIT, 0, 0, -1}, {POP3A_CMD_UTF8, 0, 0, -1},
    };
    ck_assert_uint_eq(sizeof rows / sizeof rows[0], POP3A_CMD_COUNT);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const pop3a_cmd_info *info = pop3a_cmd_get(rows[i].cmd);
        ck_assert_int_eq(info->min_args, rows[i].min);
        ck_assert_int_eq(info->max_args, rows[i].max);
        ck_assert_int_eq(info->secret_from, rows[i].secret);
    }
}
END_TEST

START_TEST(only_transaction_commands_are_pipelinable)
{
    for (int c = 0; c < POP3A_CMD_COUNT; c++) {
        int expected = c == POP3A_CMD_STAT || c == POP3A_CMD_LIST || c == POP3A_CMD_UIDL ||
                       c == POP3A_CMD_RETR || c == POP3A_CMD_TOP || c == POP3A_CMD_DELE ||
                       c == POP3A_CMD_NOOP || c == POP3A_CMD_RSET;
        ck_assert_msg(pop3a_cmd_get((pop3a_cmd)c)->pipelinable == expected,
                      "pipelinable of command %d", c);
    }
}
END_TEST

/* ----------------------------------------------------------------- format */

static void expect_line(pop3a_cmd cmd, const char *const *args, size_t nargs, const char *line)
{
    char *out = sentinel_buffer();
    int n = pop3a_cmd_format(out, cmd, args, nargs);

    ck_assert_msg(n == (int)strlen(line), "\"%s\": length %d", line, n);
    ck_assert_str_eq(out, line);
    free(out);
}

static void expect_refused(pop3a_cmd cmd, const char *const *args, size_t nargs)
{
    char *out = sentinel_buffer();

    ck_assert_int_eq(pop3a_cmd_format(out, cmd, args, nargs), -1);
    ck_assert_msg(untouched(out), "command %d wrote into out on error", (int)cmd);
    free(out);
}

/* One command with its arguments, and the line it must give. */
typedef struct {
    pop3a_cmd cmd;
    size_t nargs;
    const char *args[2];
    const char *line;
} cmd_row;

static const cmd_row format_rows[] = {
    {POP3A_CMD_USER, 1, {"alice"}, "USER alice\r\n"},
    {POP3A_CMD_PASS, 1, {"alicepw"}, "PASS alicepw\r\n"},
    {POP3A_CMD_APOP, 2, {"mrose", "c4c9334bac560ecc979e58001b3e22fb"},
     "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"},
    {POP3A_CMD_AUTH, 1, {"CRAM-MD5"}, "AUTH CRAM-MD5\r\n"},
    {POP3A_CMD_AUTH, 2, {"PLAIN", "="}, "AUTH PLAIN =\r\n"},
    {POP3A_CMD_SASL_RESP, 1, {"dGVzdA=="}, "dGVzdA==\r\n"},
    {POP3A_CMD_SASL_RESP, 1, {"*"}, "*\r\n"},
    {POP3A_CMD_SASL_RESP, 1, {""}, "\r\n"},
    {POP3A_CMD_STLS, 0, {NULL}, "STLS\r\n"},
    {POP3A_CMD_CAPA, 0, {NULL}, "CAPA\r\n"},
    {POP3A_CMD_STAT, 0, {NULL}, "STAT\r\n"},
    {POP3A_CMD_LIST, 0, {NULL}, "LIST\r\n"},
    {POP3A_CMD_LIST, 1, {"2"}, "LIST 2\r\n"},
    {POP3A_CMD_UIDL, 0, {NULL}, "UIDL\r\n"},
    {POP3A_CMD_UIDL, 1, {"4294967295"}, "UIDL 4294967295\r\n"},
    {POP3A_CMD_RETR, 1, {"1"}, "RETR 1\r\n"},
    {POP3A_CMD_TOP, 2, {"1", "0"}, "TOP 1 0\r\n"},
    {POP3A_CMD_DELE, 1, {"17"}, "DELE 17\r\n"},
    {POP3A_CMD_NOOP, 0, {NULL}, "NOOP\r\n"},
    {POP3A_CMD_RSET, 0, {NULL}, "RSET\r\n"},
    {POP3A_CMD_QUIT, 0, {NULL}, "QUIT\r\n"},
    {POP3A_CMD_UTF8, 0, {NULL}, "UTF8\r\n"},
    /* Spaces inside an argument: only USER and PASS take them. */
    {POP3A_CMD_USER, 1, {"John Smith"}, "USER John Smith\r\n"},
    {POP3A_CMD_PASS, 1, {" pass word "}, "PASS  pass word \r\n"},
};

START_TEST(every_command_formats_as_expected)
{
    const cmd_row *r = &format_rows[_i];
    expect_line(r->cmd, r->nargs ? r->args : NULL, r->nargs, r->line);
}
END_TEST

/* Every command whose bit is not in `skip`, at its maximum argument count with
 * valid arguments but `bad` in one slot, for each slot in turn: all refused,
 * nothing written. */
#define CMD_BIT(c) (1u << (c))

static void expect_refused_in_every_slot(const char *bad, unsigned skip)
{
    for (int c = 0; c < POP3A_CMD_COUNT; c++) {
        const pop3a_cmd_info *info = pop3a_cmd_get((pop3a_cmd)c);
        if (skip & CMD_BIT(c))
            continue;
        for (size_t slot = 0; slot < info->max_args; slot++) {
            const char *args[2] = {valid_args[c][0], valid_args[c][1]};
            args[slot] = bad;
            expect_refused((pop3a_cmd)c, args, info->max_args);
        }
    }
}

/* CR or LF at the start, middle or end of every argument of every command. */
START_TEST(cr_or_lf_in_any_argument_is_refused_and_nothing_written)
{
    static const char *const injected[] = {
        "\r", "\n", "\r\n", "x\r\nDELE 1", "\rx", "x\n", "1\r\nQUIT",
    };
    for (size_t k = 0; k < sizeof injected / sizeof injected[0]; k++)
        expect_refused_in_every_slot(injected[k], 0);
}
END_TEST

/* A NUL ends a C string: what follows it can never reach the wire. An argument
 * that starts with NUL is empty, which only a SASL response may be. */
START_TEST(nul_in_any_argument_cuts_it_and_leading_nul_is_refused)
{
    for (int c = 0; c < POP3A_CMD_COUNT; c++) {
        const pop3a_cmd_info *info = pop3a_cmd_get((pop3a_cmd)c);
        for (size_t bad = 0; bad < info->max_args; bad++) {
            const char *args[2] = {valid_args[c][0], valid_args[c][1]};
            char *out = sentinel_buffer();
            int n;

            args[bad] = "\0\r\nDELE 1";
            n = pop3a_cmd_format(out, (pop3a_cmd)c, args, info->max_args);
            if (c == POP3A_CMD_SASL_RESP) {
                ck_assert_int_eq(n, 2);
                ck_assert_str_eq(out, "\r\n");
            } else {
                ck_assert_int_eq(n, -1);
                ck_assert(untouched(out));
            }

            memset(out, SENTINEL, OUT_SIZE);
            args[bad] = "7\0\r\nDELE 1";
            n = pop3a_cmd_format(out, (pop3a_cmd)c, args, info->max_args);
            ck_assert_int_gt(n, 0);
            ck_assert_ptr_null(strstr(out, "DELE 1"));
            ck_assert_ptr_eq(strchr(out, '\r'), out + n - 2); /* the one CRLF, at the end */
            free(out);
        }
    }
}
END_TEST

START_TEST(arg_ok_refuses_null_cr_and_lf)
{
    ck_assert_int_eq(pop3a_arg_ok("alice"), 0);
    ck_assert_int_eq(pop3a_arg_ok(""), 0);
    ck_assert_int_eq(pop3a_arg_ok("with space"), 0);
    ck_assert_int_eq(pop3a_arg_ok(NULL), -1);
    ck_assert_int_eq(pop3a_arg_ok("a\rb"), -1);
    ck_assert_int_eq(pop3a_arg_ok("a\nb"), -1);
    ck_assert_int_eq(pop3a_arg_ok("\r\n"), -1);
    ck_assert_int_eq(pop3a_arg_ok("ab\n"), -1);
}
END_TEST

START_TEST(null_argument_is_refused)
{
    expect_refused_in_every_slot(NULL, 0);
    for (int c = 0; c < POP3A_CMD_COUNT; c++) {
        const pop3a_cmd_info *info = pop3a_cmd_get((pop3a_cmd)c);
        if (info->min_args > 0)
            expect_refused((pop3a_cmd)c, NULL, info->min_args);
    }
}
END_TEST

START_TEST(wrong_argument_count_is_refused)
{
    const char *many[3] = {"1", "2", "3"};

    for (int c = 0; c < POP3A_CMD_COUNT; c++) {
        const pop3a_cmd_info *info = pop3a_cmd_get((pop3a_cmd)c);
        if (info->min_args > 0)
            expect_refused((pop3a_cmd)c, many, info->min_args - 1u);
        expect_refused((pop3a_cmd)c, many, info->max_args + 1u);
    }
}
END_TEST

START_TEST(empty_argument_is_refused_except_sasl_response)
{
    expect_refused_in_every_slot("", CMD_BIT(POP3A_CMD_SASL_RESP));
}
END_TEST

START_TEST(spaces_only_in_user_and_pass)
{
    /* That USER and PASS take spaces is in format_rows. */
    const unsigned user_pass = CMD_BIT(POP3A_CMD_USER) | CMD_BIT(POP3A_CMD_PASS);
    expect_refused_in_every_slot("1 2", user_pass);
    expect_refused_in_every_slot(" ", user_pass);
}
END_TEST

START_TEST(unknown_command_or_null_out_is_refused)
{
    char *out = sentinel_buffer();

    ck_assert_int_eq(pop3a_cmd_format(out, POP3A_CMD_COUNT, NULL, 0), -1);
    ck_assert_int_eq(pop3a_cmd_format(out, (pop3a_cmd)-1, NULL, 0), -1);
    ck_assert(untouched(out));
    ck_assert_int_eq(pop3a_cmd_format(NULL, POP3A_CMD_NOOP, NULL, 0), -1);
    free(out);
}
END_TEST

/* RFC 2449 s4: 255 octets including CRLF is the longest command line. */
START_TEST(line_of_255_octets_passes_and_256_is_refused)
{
    /* "USER " + n + CRLF = n + 7 octets. */
    char *name = repeat('u', 248);
    char *longer = repeat('u', 249);
    char *out = sentinel_buffer();
    const char *a[2];

    a[0] = name;
    ck_assert_int_eq(pop3a_cmd_format(out, POP3A_CMD_USER, a, 1), 255);
    ck_assert_uint_eq(strlen(out), 255);
    ck_assert_int_eq(memcmp(out + 253, "\r\n", 2), 0);
    a[0] = longer;
    expect_refused(POP3A_CMD_USER, a, 1);
    free(name);
    free(longer);

    /* A SASL response has no keyword: n + CRLF. */
    name = repeat('A', 253);
    longer = repeat('A', 254);
    a[0] = name;
    ck_assert_int_eq(pop3a_cmd_format(out, POP3A_CMD_SASL_RESP, a, 1), 255);
    a[0] = longer;
    expect_refused(POP3A_CMD_SASL_RESP, a, 1);
    free(name);
    free(longer);

    /* Two arguments: "AUTH PLAIN " + n + CRLF = n + 13. */
    name = repeat('B', 242);
    longer = repeat('B', 243);
    a[0] = "PLAIN";
    a[1] = name;
    ck_assert_int_eq(pop3a_cmd_format(out, POP3A_CMD_AUTH, a, 2), 255);
    a[1] = longer;
    expect_refused(POP3A_CMD_AUTH, a, 2);
    free(name);
    free(longer);

    /* The first argument alone over the limit stops the scan early. */
    name = repeat('m', 4096);
    a[0] = name;
    a[1] = "x";
    expect_refused(POP3A_CMD_APOP, a, 2);
    free(name);
    free(out);
}
END_TEST

/* ---------------------------------------------------------------- redacted */

static void expect_trace(pop3a_cmd cmd, const char *const *args, size_t nargs, const char *line)
{
    char *out = sentinel_buffer();
    size_t n = pop3a_cmd_redacted(out, cmd, args, nargs);

    ck_assert_str_eq(out, line);
    ck_assert_msg(n == strlen(line), "\"%s\": length %zu", line, n);
    free(out);
}

/* The trace line has no line end; line: what the trace shows. */
static const cmd_row redaction_rows[] = {
    {POP3A_CMD_USER, 1, {"alice"}, "USER alice"},
    {POP3A_CMD_PASS, 1, {"s3cr3t"}, "PASS ****"},
    {POP3A_CMD_APOP, 2, {"mrose", "c4c9334bac560ecc979e58001b3e22fb"}, "APOP mrose ****"},
    {POP3A_CMD_AUTH, 2, {"PLAIN", "AGFsaWNlAGFsaWNlcHc="}, "AUTH PLAIN ****"},
    {POP3A_CMD_AUTH, 1, {"PLAIN", "AGFsaWNlAGFsaWNlcHc="}, "AUTH PLAIN"},
    {POP3A_CMD_SASL_RESP, 1, {"AGFsaWNlAGFsaWNlcHc="}, "****"},
    {POP3A_CMD_SASL_RESP, 1, {"*"}, "*"},
    {POP3A_CMD_SASL_RESP, 1, {""}, ""},
    {POP3A_CMD_SASL_RESP, 1, {"="}, "****"},
    {POP3A_CMD_SASL_RESP, 1, {"**"}, "****"},
    {POP3A_CMD_TOP, 2, {"3", "10"}, "TOP 3 10"},
    {POP3A_CMD_QUIT, 0, {NULL}, "QUIT"},
};

START_TEST(redaction_hides_every_secret)
{
    const cmd_row *r = &redaction_rows[_i];
    expect_trace(r->cmd, r->nargs ? r->args : NULL, r->nargs, r->line);
}
END_TEST

/* Whatever the secret holds (spaces, line ends, its own "****"), it never shows. */
START_TEST(redaction_never_shows_the_secret)
{
    static const char *const secrets[] = {
        "hunter2", "pass word", "pw\r\nUSER x", "", "\r\n", "****x", "*",
    };
    for (size_t k = 0; k < sizeof secrets / sizeof secrets[0]; k++) {
        const char *pass[1] = {secrets[k]};
        const char *apop[2] = {"alice", secrets[k]};
        const char *auth[2] = {"PLAIN", secrets[k]};
        char *out = sentinel_buffer();

        pop3a_cmd_redacted(out, POP3A_CMD_PASS, pass, 1);
        ck_assert_str_eq(out, "PASS ****");
        pop3a_cmd_redacted(out, POP3A_CMD_APOP, apop, 2);
        ck_assert_str_eq(out, "APOP alice ****");
        pop3a_cmd_redacted(out, POP3A_CMD_AUTH, auth, 2);
        ck_assert_str_eq(out, "AUTH PLAIN ****");
        free(out);
    }
}
END_TEST

START_TEST(redaction_has_no_line_end_and_stays_in_bounds)
{
    char *huge = repeat('u', 1000);
    const char *a[2] = {huge, NULL};
    char *out = sentinel_buffer();
    size_t n;

    n = pop3a_cmd_redacted(out, POP3A_CMD_USER, a, 1);
    ck_assert_uint_eq(n, POP3A_CMD_LINE_MAX);
    ck_assert_uint_eq(strlen(out), n);

    a[0] = "bob\r\nPASS x";
    n = pop3a_cmd_redacted(out, POP3A_CMD_USER, a, 1);
    ck_assert_str_eq(out, "USER bob");
    ck_assert_ptr_null(strpbrk(out, "\r\n"));

    /* NULL arguments and an unknown command do not crash. */
    a[0] = "mrose";
    n = pop3a_cmd_redacted(out, POP3A_CMD_APOP, a, 2);
    ck_assert_str_eq(out, "APOP mrose ");
    n = pop3a_cmd_redacted(out, POP3A_CMD_COUNT, a, 1);
    ck_assert_uint_eq(n, 0);
    ck_assert_str_eq(out, "");
    ck_assert_uint_eq(pop3a_cmd_redacted(NULL, POP3A_CMD_NOOP, NULL, 0), 0);
    free(out);
    free(huge);
}
END_TEST

static Suite *command_suite(void)
{
    Suite *s = suite_create("command");
    TCase *table = tcase_create("table");
    TCase *format = tcase_create("format");
    TCase *redact = tcase_create("redacted");

    tcase_add_test(table, every_command_has_a_row_and_out_of_range_has_none);
    tcase_add_test(table, table_names_are_the_wire_keywords);
    tcase_add_test(table, states_follow_rfc1939_2449_2595_6856);
    tcase_add_test(table, list_and_uidl_are_multiline_only_without_argument);
    tcase_add_test(table, argument_counts_and_secrets);
    tcase_add_test(table, only_transaction_commands_are_pipelinable);
    suite_add_tcase(s, table);

    tcase_add_loop_test(format, every_command_formats_as_expected, 0,
                        sizeof format_rows / sizeof format_rows[0]);
    tcase_add_test(format, cr_or_lf_in_any_argument_is_refused_and_nothing_written);
    tcase_add_test(format, nul_in_any_argument_cuts_it_and_leading_nul_is_refused);
    tcase_add_test(format, arg_ok_refuses_null_cr_and_lf);
    tcase_add_test(format, null_argument_is_refused);
    tcase_add_test(format, wrong_argument_count_is_refused);
    tcase_add_test(format, empty_argument_is_refused_except_sasl_response);
    tcase_add_test(format, spaces_only_in_user_and_pass);
    tcase_add_test(format, unknown_command_or_null_out_is_refused);
    tcase_add_test(format, line_of_255_octets_passes_and_256_is_refused);
    suite_add_tcase(s, format);

    tcase_add_loop_test(redact, redaction_hides_every_secret, 0,
                        sizeof redaction_rows / sizeof redaction_rows[0]);
    tcase_add_test(redact, redaction_never_shows_the_secret);
    tcase_add_test(redact, redaction_has_no_line_end_and_stays_in_bounds);
    suite_add_tcase(s, redact);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(command_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
