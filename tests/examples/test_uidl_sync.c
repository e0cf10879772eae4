/*
 * examples/uidl-sync against the scripted server: only UIDLs missing from the
 * state file are fetched, each stored under its escaped UIDL and only then
 * appended to the state; a second run fetches nothing; a cut-off last state
 * line is ended rather than glued to; a lost connection records only what was
 * stored.
 *
 * Usage: test_uidl_sync /path/to/uidl-sync
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetch_all_run.h"

static const char *prog;

/* The UIDLs of messages 1..4 of make_mailbox; the third has bytes that must
 * not reach a file name as they are. */
static const char *const uids[] = {"uid-one", "uid-two", "../a/b.c", "uid-four"};
static const char *const files[] = {"uid-one.eml", "uid-two.eml", "%2E%2E%2Fa%2Fb%2Ec.eml",
                                    "uid-four.eml"};

static void script_uidl(p3s *s)
{
    char listing[256] = "+OK\r\n";
    for (size_t i = 0; i < 4; i++)
        snprintf(listing + strlen(listing), sizeof listing - strlen(listing), "%zu %s\r\n",
                 i + 1, uids[i]);
    strcat(listing, ".\r\n");
    p3s_expect(s, "UIDL");
    p3s_send(s, listing);
}

static void write_state(const run *r, const char *text)
{
    FILE *f = fopen(path_in(r->work, "state"), "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static void assert_state(const run *r, const char *want)
{
    char *got = read_file(path_in(r->work, "state"), NULL);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, want);
    free(got);
}

/* out/<files[k]> holds exactly m's body. */
static void assert_stored(const run *r, size_t k, const msg *m)
{
    size_t len;
    char *data = read_file(path_in(r->out, files[k]), &len);
    ck_assert_msg(data != NULL, "%s missing", files[k]);
    ck_assert_msg(len == m->body_len && memcmp(data, m->body, len) == 0,
                  "%s: %zu bytes differ from the %zu expected", files[k], len, m->body_len);
    free(data);
}

/* run_free_mailbox, and the state file it does not know about. */
static void finish(run *r, msg *m, size_t n)
{
    unlink(path_in(r->work, "state"));
    run_free_mailbox(r, m, n);
}

static void run_sync(run *r)
{
    const char *const extra[] = {"--state", path_in(r->work, "state"), "--out", r->out, NULL};
    run_example(r, prog, PASSWORD, extra);
}

/* The state knows message 2: messages 1, 3 (empty, odd UIDL) and 4 are fetched,
 * in listing order, each appended to the state. A second session with the same
 * listing fetches nothing (no RETR is scripted: one would fail the script). */
START_TEST(fetches_only_new_messages_and_a_second_run_nothing)
{
    msg m[MAX_MSGS];
    size_t n = make_mailbox(m);
    run r;
    char names[512], want[256];
    run_init(&r);
    p3s *again = p3s_new(r.base);
    ck_assert_ptr_nonnull(again);
    p3s_hand_over(r.srv, again);
    script_login(r.srv, 0);
    script_uidl(r.srv);
    script_retr(r.srv, 1, &m[0]);
    script_retr(r.srv, 3, &m[2]);
    script_retr(r.srv, 4, &m[3]);
    script_quit(r.srv, "+OK bye\r\n");
    script_login(again, 0);
    script_uidl(again);
    script_quit(again, "+OK bye\r\n");
    write_state(&r, "uid-two\n");

    run_sync(&r);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    snprintf(want, sizeof want, "uid-one %zu %s\n../a/b.c 0 %s\nuid-four %zu %s\n"
             "3 new, 1 already seen\n", m[0].body_len, files[0], files[2], m[3].body_len,
             files[3]);
    ck_assert_str_eq(r.stdout_text, want);
    assert_stored(&r, 0, &m[0]);
    assert_stored(&r, 2, &m[2]);
    assert_stored(&r, 3, &m[3]);
    list_out(&r, names, sizeof names);
    snprintf(want, sizeof want, "%s %s %s", files[2], files[3], files[0]);
    ck_assert_str_eq(names, want); /* no uid-two.eml, no temp file */
    assert_state(&r, "uid-two\nuid-one\n../a/b.c\nuid-four\n");

    run_sync(&r);
    serve_until_closed(&r, again);
    EXIT_IS(&r, 0);
    ck_assert_msg(p3s_error(again) == NULL && p3s_done(again), "second run: %s",
                  p3s_error(again));
    ck_assert_uint_eq(p3s_bytes_unread(again), 0);
    ck_assert_str_eq(r.stdout_text, "0 new, 4 already seen\n");
    assert_state(&r, "uid-two\nuid-one\n../a/b.c\nuid-four\n");
    p3s_free(again);
    finish(&r, m, n);
}
END_TEST

/* A state file whose last line lost its end in a crash ("uid-tw"): it matches
 * no UIDL, so message 2 is fetched again, and the line is ended before the
 * next append instead of becoming "uid-twuid-two". */
START_TEST(cut_off_state_line_is_ended_not_glued_to)
{
    msg m[MAX_MSGS];
    size_t n = make_mailbox(m);
    run r;
    run_init(&r);
    script_login(r.srv, 0);
    script_uidl(r.srv);
    script_retr(r.srv, 2, &m[1]);
    script_quit(r.srv, "+OK bye\r\n");
    write_state(&r, "uid-one\n../a/b.c\nuid-four\nuid-tw");

    run_sync(&r);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    assert_stored(&r, 1, &m[1]);
    assert_state(&r, "uid-one\n../a/b.c\nuid-four\nuid-tw\nuid-two\n");
    finish(&r, m, n);
}
END_TEST

/* The connection drops in the middle of RETR 3: message 1 is stored and in the
 * state; message 3 is neither (no file, no temp file, no state line), so the
 * next run fetches it. No QUIT. */
START_TEST(lost_connection_records_only_what_was_stored)
{
    msg m[MAX_MSGS];
    size_t n = make_mailbox(m);
    run r;
    char names[256];
    run_init(&r);
    script_login(r.srv, 0);
    script_uidl(r.srv);
    script_retr(r.srv, 1, &m[0]);
    p3s_expect(r.srv, "RETR 3");
    p3s_send(r.srv, "+OK message follows\r\nSubject: cut\r\n\r\nhalf a li");
    p3s_close(r.srv);
    write_state(&r, "uid-two\n");

    run_sync(&r);
    EXIT_IS(&r, 1);
    SCRIPT_DONE(&r);
    ck_assert_uint_eq(p3s_bytes_unread(r.srv), 0);
    ck_assert_msg(strstr(r.stderr_text, "uidl-sync: RETR 3: POP3A_ERR_EOF") == r.stderr_text,
                  "stderr: %s", r.stderr_text);
    assert_stored(&r, 0, &m[0]);
    list_out(&r, names, sizeof names);
    ck_assert_str_eq(names, files[0]);
    assert_state(&r, "uid-two\nuid-one\n");
    finish(&r, m, n);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, fetches_only_new_messages_and_a_second_run_nothing);
    tcase_add_test(tc, cut_off_state_line_is_ended_not_glued_to);
    tcase_add_test(tc, lost_connection_records_only_what_was_stored);
}

int main(int argc, char **argv)
{
    return example_test_main(argc, argv, "uidl_sync", &prog, 0, add_tests);
}
