/*
 * Hostile servers, part 4: the server closes at every byte offset of a whole
 * recorded session (greeting, CAPA, USER/PASS, STAT, LIST, UIDL, RETR x2,
 * DELE, QUIT). At each cut, with every command submitted up front:
 *  - the futures whose replies arrived whole succeed, with the right results;
 *  - every other one fails with POP3A_ERR_EOF, exactly once;
 *  - a cut RETR never delivers its final chunk, nor more body than was sent;
 *  - the close callback runs once; nothing crashes or leaks (asan/valgrind
 *    setups).
 * Once without PIPELINING (one command at a time) and once with it (USER and
 * PASS, then the transaction commands, in flight together).
 */
#include <stdio.h>

#include "hostile.h"

typedef struct {
    const char *cmd; /* what the client sends first; NULL for the greeting */
    const char *reply;
    int future; /* which future this reply belongs to */
} segment;

enum { F_CONN, F_LOGIN, F_STAT, F_LIST, F_UIDL, F_RETR1, F_RETR2, F_DELE, F_QUIT, F_COUNT };

#define BODY1 "Subject: one\r\n\r\n.dotted\r\nbody\r\n"
#define BODY2 "Subject: two\r\n\r\nbody two\r\n"

static const segment session[] = {
    {NULL, "+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>\r\n", F_CONN},
    {"CAPA", NULL, F_CONN}, /* reply filled in per variant */
    {"USER alice", "+OK\r\n", F_LOGIN},
    {"PASS alicepw", "+OK Logged in.\r\n", F_LOGIN},
    {"STAT", "+OK 2 320\r\n", F_STAT},
    {"LIST", "+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n", F_LIST},
    {"UIDL", "+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n", F_UIDL},
    {"RETR 1", "+OK 120 octets\r\nSubject: one\r\n\r\n..dotted\r\nbody\r\n.\r\n", F_RETR1},
    {"RETR 2", "+OK\r\n" BODY2 ".\r\n", F_RETR2},
    {"DELE 1", "+OK message 1 deleted\r\n", F_DELE},
    {"QUIT", "+OK bye\r\n", F_QUIT},
};
enum { NSEG = sizeof session / sizeof session[0] };

static const char CAPA_PLAIN[] = "+OK\r\nTOP\r\nUIDL\r\nUSER\r\n.\r\n";
static const char CAPA_PIPE[] = "+OK\r\nTOP\r\nUIDL\r\nUSER\r\nPIPELINING\r\n.\r\n";

static const char *reply_of(int i, int pipelined)
{
    if (session[i].reply)
        return session[i].reply;
    return pipelined ? CAPA_PIPE : CAPA_PLAIN;
}

static size_t session_length(int pipelined)
{
    size_t n = 0;
    for (int i = 0; i < NSEG; i++)
        n += strlen(reply_of(i, pipelined));
    return n;
}

/* The script for a cut after `cut` bytes of the server's side. Sets which
 * futures got all their replies, and how many body bytes of each RETR were
 * sent (as raw reply bytes, an upper bound of what may be delivered). */
static void script_cut(p3s *s, size_t cut, int pipelined, int whole[F_COUNT])
{
    size_t sent = 0;
    for (int f = 0; f < F_COUNT; f++)
        whole[f] = 1;
    for (int i = 0; i < NSEG; i++) {
        const char *reply = reply_of(i, pipelined);
        size_t len = strlen(reply);
        if (session[i].cmd)
            p3s_expect(s, session[i].cmd);
        if (sent + len <= cut) {
            p3s_send(s, reply);
            sent += len;
            continue;
        }
        if (cut > sent)
            p3s_send_bytes(s, reply, cut - sent);
        for (int j = i; j < NSEG; j++)
            whole[session[j].future] = 0;
        p3s_close(s);
        return;
    }
    p3s_expect_eof(s); /* the whole session: the client hangs up after QUIT */
}

static void submit_all(tu_env *e, tu_rec r[F_COUNT])
{
    for (int i = 0; i < F_COUNT; i++)
        tu_rec_init(&r[i], i, NULL);
    ck_assert_ptr_nonnull(tu_env_attach(e, &r[F_CONN]));
    ck_assert_ptr_nonnull(
        pop3a_login(e->client, "alice", "alicepw", POP3A_MECH_USER, tu_done, &r[F_LOGIN]));
    ck_assert_ptr_nonnull(pop3a_stat(e->client, tu_done, &r[F_STAT]));
    ck_assert_ptr_nonnull(pop3a_list(e->client, 0, tu_done, &r[F_LIST]));
    ck_assert_ptr_nonnull(pop3a_uidl(e->client, 0, tu_done, &r[F_UIDL]));
    ck_assert_ptr_nonnull(pop3a_retr(e->client, 1, tu_chunk, tu_done, &r[F_RETR1]));
    ck_assert_ptr_nonnull(pop3a_retr(e->client, 2, tu_chunk, tu_done, &r[F_RETR2]));
    ck_assert_ptr_nonnull(pop3a_dele(e->client, 1, tu_done, &r[F_DELE]));
    ck_assert_ptr_nonnull(pop3a_quit(e->client, tu_done, &r[F_QUIT]));
}

static void check_results(size_t cut, const tu_rec r[F_COUNT], const int whole[F_COUNT])
{
    for (int f = 0; f < F_COUNT; f++) {
        ck_assert_msg(r[f].done_calls == 1, "cut %zu: future %d: %d done calls", cut, f,
                      r[f].done_calls);
        ck_assert_msg(r[f].chunk_after_done == 0 && r[f].chunk_after_final == 0,
                      "cut %zu: future %d: chunk after final/done", cut, f);
        pop3a_status want = whole[f] ? POP3A_OK : POP3A_ERR_EOF;
        ck_assert_msg(r[f].status == want, "cut %zu: future %d: %s (\"%s\"), want %s", cut, f,
                      (int)r[f].status < 0 ? "none" : pop3a_status_name(r[f].status), r[f].text,
                      pop3a_status_name(want));
    }
    /* A cut message never looks complete; a whole one is exact. */
    if (whole[F_RETR1]) {
        ck_assert_int_eq(r[F_RETR1].final_count, 1);
        ck_assert_str_eq(r[F_RETR1].body, BODY1);
    } else {
        ck_assert_msg(r[F_RETR1].final_count == 0, "cut %zu: cut RETR 1 got final", cut);
        ck_assert_uint_le(r[F_RETR1].body_len, strlen(BODY1));
        ck_assert(r[F_RETR1].body_len == 0 ||
                  memcmp(r[F_RETR1].body, BODY1, r[F_RETR1].body_len) == 0);
    }
    if (whole[F_RETR2]) {
        ck_assert_int_eq(r[F_RETR2].final_count, 1);
        ck_assert_str_eq(r[F_RETR2].body, BODY2);
    } else {
        ck_assert_msg(r[F_RETR2].final_count == 0, "cut %zu: cut RETR 2 got final", cut);
        ck_assert_uint_le(r[F_RETR2].body_len, strlen(BODY2));
    }
    if (whole[F_STAT])
        ck_assert(r[F_STAT].stat_count == 2 && r[F_STAT].stat_octets == 320);
    if (whole[F_LIST])
        ck_assert(r[F_LIST].count == 2 && r[F_LIST].entry_size[1] == 200);
    if (whole[F_UIDL])
        ck_assert_str_eq(r[F_UIDL].entry_uid[1], "QhdPYR:00WBw1Ph7x7");
}

static void run_cut(size_t cut, int pipelined)
{
    tu_env e;
    tu_env_init(&e);
    int whole[F_COUNT];
    script_cut(e.srv, cut, pipelined, whole);
    tu_rec r[F_COUNT];
    submit_all(&e, r);
    ck_assert_msg(run_until_count(e.base, &r[F_QUIT].done_calls, 1, H_WAIT_MS) == 0,
                  "cut %zu: the session did not end", cut);
    run_for(e.base, 2); /* a late second callback would show up here */
    const char *err = p3s_error(e.srv);
    ck_assert_msg(err == NULL, "cut %zu: script: %s", cut, err);
    check_results(cut, r, whole);
    ck_assert_msg(e.close_calls == 1, "cut %zu: %d close callbacks", cut, e.close_calls);
    ck_assert_int_eq(e.close_why, whole[F_QUIT] ? POP3A_OK : POP3A_ERR_EOF);
    for (int f = 0; f < F_COUNT; f++)
        tu_rec_clear(&r[f]);
    tu_env_free(&e);
}

START_TEST(close_at_every_byte_offset_of_a_session)
{
    size_t total = session_length(0);
    for (size_t cut = 0; cut <= total; cut++)
        run_cut(cut, 0);
}
END_TEST

START_TEST(close_at_every_byte_offset_of_a_pipelined_session)
{
    size_t total = session_length(1);
    for (size_t cut = 0; cut <= total; cut++)
        run_cut(cut, 1);
}
END_TEST

int main(void)
{
    tu_ignore_sigpipe();
    Suite *s = suite_create("hostile_truncation");
    TCase *tc = tcase_create("truncation");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, close_at_every_byte_offset_of_a_session);
    tcase_add_test(tc, close_at_every_byte_offset_of_a_pipelined_session);
    suite_add_tcase(s, tc);
    return h_run_suite(s);
}
