/*
 * The data path end to end: bodies with unusual bytes and line ends, lines longer
 * than the status-line cap, empty bodies, cancelled commands whose replies must
 * be skipped, and the batch RETR helper's argument handling.
 */
#include <stdio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "session_test.h"

/* Greets with `greeting`, logs in, sends one RETR 1 reply built from `wire`,
 * returns the recorder filled. */
static void retr_one_greeted(const char *greeting, const void *wire, size_t wire_len,
                             tu_rec *retr, void (*tune)(tu_env *))
{
    tu_env e;
    tu_env_init(&e);
    tu_script_greeting_capa(e.srv, greeting, CAPA_BASIC);
    script_user_pass(e.srv, "alice", "+OK\r\n", "alicepw", "+OK Logged in.\r\n");
    if (tune)
        tune(&e);
    p3s_expect(e.srv, "RETR 1");
    p3s_send_bytes(e.srv, wire, wire_len);
    tu_rec_init(retr, 2, NULL);
    session_logged_in(&e);
    ck_assert_ptr_nonnull(pop3a_retr(e.client, 1, tu_chunk, tu_done, retr));
    WAIT_DONE(&e, *retr);
    SCRIPT_DONE(e.srv);
    ASSERT_ONCE(*retr);
    tu_env_free(&e);
}

static void retr_one(const void *wire, size_t wire_len, tu_rec *retr, void (*tune)(tu_env *))
{
    retr_one_greeted(PLAIN_GREETING, wire, wire_len, retr, tune);
}

/* NUL and 8-bit bytes pass through untouched (RFC 1939 section 3 forbids neither
 * in practice; 8BITMIME mail carries them). */
START_TEST(body_with_nul_and_8bit_bytes)
{
    static const char wire[] = "+OK\r\nA\0B\xff\xfe\r\n..\x80\0\r\n.\r\n";
    static const char want[] = "A\0B\xff\xfe\r\n.\x80\0\r\n";
    tu_rec retr;
    retr_one(wire, sizeof wire - 1, &retr, NULL);
    ASSERT_OK(retr);
    ck_assert_uint_eq(retr.body_len, sizeof want - 1);
    ck_assert(memcmp(retr.body, want, sizeof want - 1) == 0);
    ck_assert_int_eq(retr.final_count, 1);
    ck_assert_uint_eq(retr.octets, sizeof want - 1);
    tu_rec_clear(&retr);
}
END_TEST

/* A server ending lines with bare LF (its greeting says so), terminator
 * included: tolerated, and the line ends are kept as sent. */
START_TEST(body_with_bare_lf_line_ends)
{
    static const char wire[] = "+OK\nSubject: lf\n\n..dot\nend\n.\n";
    tu_rec retr;
    retr_one_greeted("+OK POP3 ready\n", wire, sizeof wire - 1, &retr, NULL);
    ASSERT_OK(retr);
    ASSERT_BODY(retr, "Subject: lf\n\n.dot\nend\n");
    tu_rec_clear(&retr);
}
END_TEST

/* A CRLF server (its greeting ends in CRLF) sending mail with stray LFs: "\n.\n"
 * inside the body is data, so the whole message arrives and the session goes on;
 * it used to end the message there and fail the session on the rest. Written in
 * n-byte pieces for n = 1..7 and whole (_i 0), so every boundary is crossed. */
START_TEST(crlf_server_body_with_stray_lf_dot_lf)
{
    static const char body[] = "Subject: x\r\n\r\nhas\n.\nstray LFs\n.\r\nand \n..\r\n";
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    p3s_expect(e.srv, "RETR 1");
    p3s_write_chunk(e.srv, (size_t)_i, 0);
    p3s_send(e.srv, "+OK 42 octets\r\n");
    p3s_send(e.srv, body);
    p3s_send(e.srv, ".\r\n");
    p3s_write_chunk(e.srv, 0, 0);
    p3s_expect(e.srv, "NOOP");
    p3s_send(e.srv, "+OK\r\n");
    tu_rec retr, noop;
    RECS_INIT(NULL, 2, &retr, &noop);
    session_logged_in(&e);
    ck_assert_ptr_nonnull(pop3a_retr(e.client, 1, tu_chunk, tu_done, &retr));
    ck_assert_ptr_nonnull(pop3a_noop(e.client, tu_done, &noop));
    WAIT_DONE_AND_SCRIPT(&e, noop);
    ASSERT_ONCE_OK(retr);
    /* The dot after a stray LF is not at a line start, so it was never stuffed. */
    ASSERT_BODY(retr, body);
    ASSERT_ONCE_OK(noop);
    ck_assert_int_eq(e.close_calls, 0);
    tu_rec_clear(&retr);
    tu_env_free(&e);
}
END_TEST

/* "+OK\r\n.\r\n": an empty message, final once with nothing before it. */
START_TEST(empty_body)
{
    static const char wire[] = "+OK 0 octets\r\n.\r\n";
    tu_rec retr;
    retr_one(wire, sizeof wire - 1, &retr, NULL);
    ASSERT_OK(retr);
    ASSERT_BODY(retr, "");
    ck_assert_uint_eq(retr.octets, 0);
    tu_rec_clear(&retr);
}
END_TEST

static void small_line_cap(tu_env *e)
{
    pop3a_options_set_max_line(e->opts, 512);
}

/* The line cap is for status and listing lines; body lines are streamed, so a
 * 100 KiB body line is fine even with a 512-byte cap. */
START_TEST(body_line_longer_than_line_cap)
{
    enum { LONG = 100 * 1024 };
    char *wire = malloc(LONG + 32);
    ck_assert_ptr_nonnull(wire);
    size_t n = 0;
    memcpy(wire, "+OK\r\n", 5);
    n = 5;
    memset(wire + n, 'q', LONG);
    n += LONG;
    memcpy(wire + n, "\r\n.\r\n", 5);
    n += 5;
    tu_rec retr;
    retr_one(wire, n, &retr, small_line_cap);
    ASSERT_OK(retr);
    ck_assert_uint_eq(retr.body_len, LONG + 2);
    ck_assert_int_eq(retr.final_count, 1);
    ck_assert(retr.body[0] == 'q' && retr.body[LONG - 1] == 'q' && retr.body[LONG] == '\r');
    free(wire);
    tu_rec_clear(&retr);
}
END_TEST

/* A 2 MiB body is read in large reads, not libevent 2.1's 4 KiB per event:
 * every read yields at least one chunk, so 4 KiB reads would mean 512 chunks
 * or more. The same bytes come out either way; this is about the CPU a bulk
 * fetch spends per read and per loop turn (doc/PERFORMANCE.md). */
START_TEST(big_body_arrives_in_few_large_chunks)
{
    enum { LINE = 80, LINES = 2 * 1024 * 1024 / LINE };
    size_t n = 0;
    char *wire = malloc((size_t)LINES * LINE + 32);
    ck_assert_ptr_nonnull(wire);
    memcpy(wire, "+OK\r\n", 5);
    n = 5;
    for (int i = 0; i < LINES; i++, n += LINE) {
        memset(wire + n, 'a' + i % 26, LINE - 2);
        memcpy(wire + n + LINE - 2, "\r\n", 2);
    }
    memcpy(wire + n, ".\r\n", 3);
    n += 3;
    tu_rec retr;
    retr_one(wire, n, &retr, NULL);
    ASSERT_OK(retr);
    ck_assert_uint_eq(retr.body_len, (size_t)LINES * LINE);
    ck_assert(memcmp(retr.body, wire + 5, retr.body_len) == 0);
    ck_assert_msg(retr.chunk_calls < 128, "%d chunks for 2 MiB: reads are small",
                  retr.chunk_calls);
    free(wire);
    tu_rec_clear(&retr);
}
END_TEST

/* Runs the loop until the server has read more than `lines` lines (at most
 * 400 ms): the command behind them is on the wire, not just queued. */
static int wait_lines_received(tu_env *e, size_t lines)
{
    for (int i = 0; i < 200; i++) {
        run_for(e->base, 2);
        if (p3s_lines_received(e->srv) > lines)
            return 1;
    }
    return 0;
}

/* Contract 5, sent command: a cancelled STAT and LIST have their replies read and
 * dropped; the NOOP after them gets its own reply, not theirs. */
START_TEST(cancel_sent_commands_skips_their_replies)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    p3s_expect(e.srv, "STAT");
    p3s_delay(e.srv, 100);
    p3s_send(e.srv, "+OK 7 700\r\n");
    p3s_expect(e.srv, "LIST");
    p3s_delay(e.srv, 100);
    p3s_send(e.srv, "+OK\r\n1 100\r\n2 600\r\n.\r\n");
    p3s_expect(e.srv, "NOOP");
    p3s_send(e.srv, "+OK noop reply\r\n");
    tu_order order = {0};
    tu_rec stat, list, noop;
    RECS_INIT(&order, 2, &stat, &list, &noop);
    session_logged_in(&e);
    pop3a_future *fs = pop3a_stat(e.client, tu_done, &stat);
    ck_assert_ptr_nonnull(fs);
    size_t before = p3s_lines_received(e.srv);
    ck_assert_msg(wait_lines_received(&e, before), "STAT never reached the server");
    pop3a_future_cancel(fs);
    pop3a_future *fl = pop3a_list(e.client, 0, tu_done, &list);
    ck_assert_ptr_nonnull(fl);
    ck_assert_ptr_nonnull(pop3a_noop(e.client, tu_done, &noop));
    WAIT_COUNT(&e, &stat.done_calls, 1);
    ck_assert_msg(wait_lines_received(&e, before + 1), "LIST never reached the server");
    pop3a_future_cancel(fl);
    WAIT_DONE(&e, noop);
    SCRIPT_DONE(e.srv);
    ASSERT_ONCE_STATUS(stat, POP3A_ERR_CANCELLED);
    ASSERT_ONCE_STATUS(list, POP3A_ERR_CANCELLED);
    ASSERT_ONCE_OK(noop);
    ck_assert_str_eq(noop.text, "noop reply");
    ck_assert_int_eq(order.seq[0], 2);
    ck_assert_int_eq(order.seq[1], 3);
    ck_assert_int_eq(order.seq[2], 4);
    tu_env_free(&e);
}
END_TEST

/* pop3a_retr_many stops at a bad message number: what came before it is queued
 * (and runs), the rest is not, and the reason is INVALID. */
START_TEST(retr_many_stops_at_invalid_number)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    p3s_expect(e.srv, "RETR 4");
    p3s_send(e.srv, "+OK\r\nfour\r\n.\r\n");
    p3s_expect(e.srv, "NOOP");
    p3s_send(e.srv, "+OK\r\n");
    tu_rec all, noop;
    RECS_INIT(NULL, 2, &all, &noop);
    session_logged_in(&e);
    static const uint32_t msgs[] = {4, 0, 5};
    ck_assert_uint_eq(pop3a_retr_many(e.client, msgs, 3, tu_chunk, tu_done, &all), 1);
    ck_assert_int_eq(pop3a_client_error(e.client), POP3A_ERR_INVALID);
    ck_assert_uint_eq(pop3a_retr_many(e.client, msgs, 0, tu_chunk, tu_done, &all), 0);
    ck_assert_ptr_nonnull(pop3a_noop(e.client, tu_done, &noop));
    WAIT_DONE(&e, noop);
    SCRIPT_DONE(e.srv);
    ck_assert_int_eq(all.done_calls, 1);
    ASSERT_OK(all);
    ASSERT_BODY(all, "four\r\n");
    tu_rec_clear(&all);
    tu_env_free(&e);
}
END_TEST

/* Every byte of a whole session in its own write: greeting, CAPA, login,
 * STAT, LIST, RETR all reassembled from 1-byte reads. */
START_TEST(whole_session_one_byte_at_a_time)
{
    tu_env e;
    tu_env_init(&e);
    p3s_write_chunk(e.srv, 1, 0);
    script_login(e.srv, CAPA_BASIC);
    p3s_expect(e.srv, "STAT");
    p3s_send(e.srv, "+OK 2 16\r\n");
    p3s_expect(e.srv, "LIST");
    p3s_send(e.srv, "+OK\r\n1 8\r\n2 8\r\n.\r\n");
    p3s_expect(e.srv, "RETR 2");
    p3s_send(e.srv, "+OK\r\n..a\r\n..\r\n.\r\n");
    tu_rec conn, login, stat, list, retr;
    RECS_INIT(NULL, 0, &conn, &login, &stat, &list, &retr);
    session_login(&e, &conn, &login);
    ck_assert_uint_eq(conn.capa_flags & POP3A_CAPA_UIDL, POP3A_CAPA_UIDL);
    ck_assert_ptr_nonnull(pop3a_stat(e.client, tu_done, &stat));
    ck_assert_ptr_nonnull(pop3a_list(e.client, 0, tu_done, &list));
    ck_assert_ptr_nonnull(pop3a_retr(e.client, 2, tu_chunk, tu_done, &retr));
    WAIT_DONE(&e, retr);
    ASSERT_OK(stat);
    ASSERT_OK(list);
    ASSERT_OK(retr);
    SCRIPT_DONE(e.srv);
    ck_assert_uint_eq(stat.stat_count, 2);
    ck_assert_uint_eq(list.count, 2);
    ck_assert_uint_eq(list.entry_size[1], 8);
    ASSERT_OK(retr);
    ASSERT_BODY(retr, ".a\r\n.\r\n");
    tu_rec_clear(&retr);
    tu_env_free(&e);
}
END_TEST

/* A long listing (5000 entries) is parsed whole. */
START_TEST(long_listing)
{
    enum { N = 5000 };
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    p3s_expect(e.srv, "UIDL");
    p3s_send(e.srv, "+OK\r\n");
    for (int i = 1; i <= N; i++) {
        char line[64];
        snprintf(line, sizeof line, "%d uid-%08d\r\n", i, i * 7);
        p3s_send(e.srv, line);
    }
    p3s_send(e.srv, ".\r\n");
    tu_rec uidl;
    tu_rec_init(&uidl, 2, NULL);
    session_logged_in(&e);
    pop3a_future *f = pop3a_uidl(e.client, 0, tu_done, &uidl);
    ck_assert_ptr_nonnull(f);
    pop3a_future_ref(f);
    WAIT_DONE(&e, uidl);
    ASSERT_OK(uidl);
    ck_assert_uint_eq(pop3a_future_count(f), N);
    uint32_t msg = 0;
    uint64_t size = 0;
    const char *uid = NULL;
    ck_assert_int_eq(pop3a_future_entry(f, N - 1, &msg, &size, &uid), 0);
    ck_assert_uint_eq(msg, N);
    ck_assert_str_eq(uid, "uid-00035000");
    pop3a_future_unref(f);
    tu_env_free(&e);
}
END_TEST

/* Cancels its own future at the first chunk and then asks to pause: the cancel
 * wins (contract 5: the rest is read and dropped), so nobody is left having to
 * resume a transfer it already gave up on. */
static int cancel_then_pause(pop3a_client *client, pop3a_future *future, const char *data,
                             size_t len, int final, void *arg)
{
    tu_rec *r = arg;
    int rc = tu_chunk(client, future, data, len, final, arg);
    if (r->chunk_calls > 1)
        return rc;
    pop3a_future_cancel(future);
    return POP3A_CHUNK_PAUSE;
}

START_TEST(cancel_then_pause_in_chunk_callback_does_not_stall)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    char *body = make_body(400);
    script_chunked_retr_1_then_noop(e.srv, 700, "+OK\r\n", body, "+OK after\r\n");
    tu_rec retr, noop;
    RECS_INIT(NULL, 2, &retr, &noop);
    session_logged_in(&e);
    ck_assert_ptr_nonnull(pop3a_retr(e.client, 1, cancel_then_pause, tu_done, &retr));
    ck_assert_ptr_nonnull(pop3a_noop(e.client, tu_done, &noop));
    WAIT_DONE_AND_SCRIPT(&e, noop);
    ASSERT_ONCE_STATUS(retr, POP3A_ERR_CANCELLED);
    ck_assert_int_eq(retr.chunk_calls, 1);
    ASSERT_ONCE_OK(noop);
    ck_assert_str_eq(noop.text, "after");
    free(body);
    tu_rec_clear(&retr);
    tu_env_free(&e);
}
END_TEST

/* A filter that passes every byte through unchanged. */
static enum bufferevent_filter_result pass_through(struct evbuffer *src, struct evbuffer *dst,
                                                   ev_ssize_t limit,
                                                   enum bufferevent_flush_mode mode, void *ctx)
{
    (void)limit;
    (void)mode;
    (void)ctx;
    evbuffer_add_buffer(dst, src);
    return BEV_OK;
}

/* pop3a_attach takes any connected bufferevent, a filter over a socket too: the
 * bytes must come through the filter (the large-read shortcut is for plain
 * socket bufferevents only). */
START_TEST(attach_filter_bufferevent)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    char *body = make_body(3000);
    script_retr_1(e.srv, 1000, "+OK\r\n", body);
    p3s_write_chunk(e.srv, 0, 0);
    p3s_expect(e.srv, "QUIT");
    p3s_send(e.srv, "+OK bye\r\n");
    e.client = pop3a_client_new(e.base, NULL, e.opts);
    ck_assert_ptr_nonnull(e.client);
    struct bufferevent *filter = bufferevent_filter_new(
        p3s_pair(e.srv), pass_through, pass_through, BEV_OPT_CLOSE_ON_FREE, NULL, NULL);
    ck_assert_ptr_nonnull(filter);
    tu_rec conn, login, retr, quit;
    RECS_INIT(NULL, 0, &conn, &login, &retr, &quit);
    ck_assert_ptr_nonnull(pop3a_attach(e.client, filter, tu_done, &conn));
    ck_assert_ptr_nonnull(
        pop3a_login(e.client, "alice", "alicepw", POP3A_MECH_USER, tu_done, &login));
    ck_assert_ptr_nonnull(pop3a_retr(e.client, 1, tu_chunk, tu_done, &retr));
    ck_assert_ptr_nonnull(pop3a_quit(e.client, tu_done, &quit));
    WAIT_DONE_AND_SCRIPT(&e, quit);
    ASSERT_ONCE_OK(conn);
    ASSERT_ONCE_OK(login);
    ASSERT_ONCE_OK(retr);
    ASSERT_BODY(retr, body);
    ASSERT_ONCE_OK(quit);
    free(body);
    tu_rec_clear(&retr);
    tu_env_free(&e);
}
END_TEST

static Suite *transfer_suite(void)
{
    Suite *s = suite_create("session_transfer");
    TCase *tc = tcase_create("transfer");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, body_with_nul_and_8bit_bytes);
    tcase_add_test(tc, body_with_bare_lf_line_ends);
    tcase_add_loop_test(tc, crlf_server_body_with_stray_lf_dot_lf, 0, 8);
    tcase_add_test(tc, empty_body);
    tcase_add_test(tc, body_line_longer_than_line_cap);
    tcase_add_test(tc, big_body_arrives_in_few_large_chunks);
    tcase_add_test(tc, cancel_sent_commands_skips_their_replies);
    tcase_add_test(tc, retr_many_stops_at_invalid_number);
    tcase_add_test(tc, whole_session_one_byte_at_a_time);
    tcase_add_test(tc, long_listing);
    tcase_add_test(tc, cancel_then_pause_in_chunk_callback_does_not_stall);
    tcase_add_test(tc, attach_filter_bufferevent);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(transfer_suite());
}
