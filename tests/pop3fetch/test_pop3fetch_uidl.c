/*
 * pop3fetch and the UIDL listing: servers without it, listings with server
 * bugs (a repeated unique-id, one over 70 octets, entries LIST lacks), and
 * the Maildir files a killed run delivered but did not record. No mail may
 * be lost: a bad listing means fetching everything by message number.
 *
 * Usage: test_pop3fetch_uidl /path/to/pop3fetch
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "pop3fetch_run.h"

static void script_retr_quit(p3s *s, const msg *m, size_t n)
{
    script_retr_all(s, m, n);
    script_quit(s, "+OK bye\r\n");
}

/* UIDL refused (RFC 1939 section 7: optional): every message is fetched,
 * and the warning comes once. */
START_TEST(server_without_uidl_fetches_everything)
{
    msg m[MAX_MSGS];
    run r;
    size_t n = make_mailbox(m);
    run_init(&r);
    script_login(r.srv, 0);
    p3s_expect(r.srv, "UIDL");
    p3s_send(r.srv, "-ERR command not implemented\r\n");
    script_list(r.srv, m, n);
    script_retr_quit(r.srv, m, n);
    run_pop3fetch(&r, NULL);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    assert_maildir(&r, m, n);
    const char *w = "warning: the server has no UIDL: fetching every message";
    STDERR_HAS(&r, w);
    ck_assert_ptr_null(strstr(strstr(r.stderr_text, w) + 1, w));
    run_free_mailbox(&r, m, n);
}
END_TEST

/* Rows: a UIDL listing with a server bug, and the warning it must give. */
static const struct {
    const char *uids[4];
    size_t n_uids; /* entries in the UIDL listing */
    const char *warning;
} bad_listings[] = {
    {{"a", "b", "a", "c"}, 4, "the UIDL listing repeats a unique-id"},
    {{"a", "b", "c", "0123456789012345678901234567890123456789012345678901234567890123456789x"},
     4, "UIDL: malformed listing line"},
    {{"a", "b", "c"}, 3, "the UIDL listing has another number of messages than LIST"},
};

/* Everything is fetched by number and nothing recorded: the next run, with
 * a sane listing, fetches all of them again (duplicates, never a loss). */
START_TEST(bad_uidl_listing_falls_back_to_message_numbers)
{
    msg m[MAX_MSGS];
    run r;
    char line[160];
    size_t n = make_mailbox(m);
    run_init(&r);
    script_login(r.srv, 0);
    p3s_expect(r.srv, "UIDL");
    p3s_send(r.srv, "+OK\r\n");
    for (size_t i = 0; i < bad_listings[_i].n_uids; i++) {
        snprintf(line, sizeof line, "%zu %s\r\n", i + 1, bad_listings[_i].uids[i]);
        p3s_send(r.srv, line);
    }
    p3s_send(r.srv, ".\r\n");
    script_list(r.srv, m, n);
    script_retr_quit(r.srv, m, n);
    run_pop3fetch(&r, NULL);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    STDERR_HAS(&r, bad_listings[_i].warning);
    STDERR_HAS(&r, "going by message numbers this session");
    assert_maildir(&r, m, n);

    /* nothing was recorded: with a sane listing all four come again */
    fresh_server(&r);
    script_session_start(r.srv, m, n);
    script_retr_quit(r.srv, m, n);
    run_pop3fetch(&r, NULL);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    ck_assert_uint_eq(maildir_count(&r, "new"), 2 * n);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* The Maildir tag of alice's message with this unique-id (store_maildir.c):
 * SHA-256 of "alice@127.0.0.1:<port>\n<uid>", first 8 octets in hex. */
static void tag_of(const run *r, const char *uid, char out[17])
{
    char key[128];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len;
    snprintf(key, sizeof key, "alice@127.0.0.1:%u\n%s", (unsigned)r->port, uid);
    ck_assert_int_eq(EVP_Digest(key, strlen(key), md, &len, EVP_sha256(), NULL), 1);
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* A run killed after delivering messages 1 and 2 into new/ (and cur/, where
 * a mail reader moves them) but before recording them: the next run
 * records them from their tags and fetches only 3 and 4. */
START_TEST(maildir_files_of_a_killed_run_are_recorded_not_fetched_again)
{
    msg m[MAX_MSGS];
    run r;
    char name[256], tag[17];
    size_t n = make_mailbox(m);
    run_init(&r);
    for (int i = 0; i < 2; i++) {
        const char *sub = i ? "cur" : "new";
        snprintf(name, sizeof name, "%s/%s", r.out, sub);
        ck_assert_int_eq(mkdir(name, 0700), 0);
        tag_of(&r, i ? "uid-2" : "uid-1", tag);
        snprintf(name, sizeof name, "%s/%s/1700000000.M1P1Q%d.host,F=%s%s", r.out, sub, i + 1,
                 tag, i ? ":2,S" : "");
        int fd = creat(name, 0600);
        ck_assert_int_ge(fd, 0);
        close(fd);
    }
    script_session_start(r.srv, m, n);
    script_retr(r.srv, 3, &m[2]);
    script_retr(r.srv, 4, &m[3]);
    script_quit(r.srv, "+OK bye\r\n");
    run_pop3fetch(&r, NULL);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    ck_assert_msg(strncmp(r.stdout_text, "alice@127.0.0.1: 2 new, ", 24) == 0, "stdout: %s",
                  r.stdout_text);

    fresh_server(&r); /* all four are in the state now */
    script_session_start(r.srv, m, n);
    script_quit(r.srv, "+OK bye\r\n");
    run_pop3fetch(&r, NULL);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* --all ignores the state (and the tags): everything again. */
START_TEST(all_fetches_what_the_state_knows)
{
    msg m[MAX_MSGS];
    run r;
    size_t n = make_mailbox(m);
    run_init(&r);
    script_session_start(r.srv, m, n);
    script_retr_quit(r.srv, m, n);
    run_pop3fetch(&r, NULL);
    EXIT_IS(&r, 0);
    fresh_server(&r);
    script_session_start(r.srv, m, n);
    script_retr_quit(r.srv, m, n);
    const char *const extra[] = {"--all", NULL};
    run_pop3fetch(&r, extra);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    ck_assert_uint_eq(maildir_count(&r, "new"), 2 * n);
    run_free_mailbox(&r, m, n);
}
END_TEST

/* A UIDL gone from the server is forgotten after a clean session, so the
 * state does not grow forever; should the server list it again, it is new.
 * (mbox: a Maildir would find the delivered file by its tag.) */
START_TEST(uidls_gone_from_the_server_are_forgotten)
{
    msg m[MAX_MSGS];
    run r;
    char box[160];
    size_t n = make_mailbox(m);
    static const char *const second[] = {"uid-2"};
    run_init(&r);
    snprintf(box, sizeof box, "%s/mbox", r.work);
    const char *const extra[] = {"--mbox", box, NULL};
    script_session_start(r.srv, m, 2);
    script_retr_quit(r.srv, m, 2);
    run_pop3fetch(&r, extra);
    EXIT_IS(&r, 0);

    fresh_server(&r); /* uid-1 is gone */
    script_login(r.srv, 0);
    script_listings(r.srv, &m[1], 1, second);
    script_quit(r.srv, "+OK bye\r\n");
    run_pop3fetch(&r, extra);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);

    fresh_server(&r); /* uid-1 is back: fetched as new; uid-2 is known */
    script_session_start(r.srv, m, 2);
    script_retr(r.srv, 1, &m[0]);
    script_quit(r.srv, "+OK bye\r\n");
    run_pop3fetch(&r, extra);
    EXIT_IS(&r, 0);
    SCRIPT_DONE(&r);
    ck_assert_msg(strncmp(r.stdout_text, "alice@127.0.0.1: 1 new, ", 24) == 0, "stdout: %s",
                  r.stdout_text);
    run_free_mailbox(&r, m, n);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, server_without_uidl_fetches_everything);
    tcase_add_loop_test(tc, bad_uidl_listing_falls_back_to_message_numbers, 0,
                        sizeof bad_listings / sizeof bad_listings[0]);
    tcase_add_test(tc, maildir_files_of_a_killed_run_are_recorded_not_fetched_again);
    tcase_add_test(tc, all_fetches_what_the_state_knows);
    tcase_add_test(tc, uidls_gone_from_the_server_are_forgotten);
}

int main(int argc, char **argv)
{
    return example_test_main(argc, argv, "pop3fetch_uidl", &pop3fetch_path, 0, add_tests);
}
