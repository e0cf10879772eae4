/*
 * A message cut short by the server never completes as OK (issue 14 s7).
 *
 * The broken server of the issue dot-stuffs per write chunk: a body line that is
 * just "." going out at a chunk boundary is not stuffed, so the message seems to
 * end there and the rest follows the false terminator. Two signals catch it:
 * bytes after the terminator that are no reply to a command we sent, and the
 * size the server announced. In every case the chunk callback's final must
 * never fire for the cut message, or a fetcher would store it as complete.
 */
#include <inttypes.h>

#include "session_test.h"

/* The message as the server holds it: line k is the "." line it fails to stuff. */
static const char *const lines[] = {"Subject: cut\r\n", "\r\n", "line one\r\n",
                                    "line three\r\n"};
enum { N_LINES = sizeof lines / sizeof lines[0] };

/* The wire of a RETR reply whose unstuffed "." line comes after `k` lines: the
 * real terminator at the end. `status` is the status line (CRLF included). */
static size_t cut_wire(char *out, size_t size, const char *status, size_t k, size_t *false_end)
{
    size_t n = (size_t)snprintf(out, size, "%s", status);
    for (size_t i = 0; i <= N_LINES; i++) {
        if (i == k) {
            n += (size_t)snprintf(out + n, size - n, ".\r\n");
            *false_end = n;
        }
        if (i < N_LINES)
            n += (size_t)snprintf(out + n, size - n, "%s", lines[i]);
    }
    n += (size_t)snprintf(out + n, size - n, ".\r\n");
    ck_assert_uint_lt(n, size);
    return n;
}

/* What the session had when the cut message's RETR was submitted. */
typedef enum {
    ALONE,     /* nothing behind the RETR: nothing is owed when its terminator comes */
    QUEUED,    /* RETR 2 behind it, no PIPELINING: RETR 2 is written at the terminator */
    PIPELINED, /* RETR 2 written together with it */
    N_MODES
} cut_mode;

static const char *const mode_names[] = {"alone", "queued", "pipelined"};

/*
 * _i = mode * N_LINES_PLUS + k: the "." line after k lines. For every offset p
 * the server writes the reply in two writes, split at p, 5 ms apart (less than
 * the library's settle time, so the second write is "more of the message").
 */
enum { N_POSITIONS = N_LINES + 1 };

START_TEST(premature_terminator_never_completes)
{
    cut_mode mode = (cut_mode)(_i / N_POSITIONS);
    size_t k = (size_t)(_i % N_POSITIONS), false_end = 0;
    char wire[256];
    size_t len = cut_wire(wire, sizeof wire, "+OK\r\n", k, &false_end);
    for (size_t p = 1; p < len; p++) {
        tu_env e;
        env_init_login_script(&e, mode == PIPELINED ? CAPA_PIPELINING : CAPA_BASIC);
        p3s_expect(e.srv, "RETR 1");
        if (mode == PIPELINED)
            p3s_expect(e.srv, "RETR 2");
        p3s_send_bytes(e.srv, wire, p);
        p3s_delay(e.srv, 5);
        p3s_send_bytes(e.srv, wire + p, len - p);
        tu_rec retr, retr2;
        RECS_INIT(NULL, 2, &retr, &retr2);
        session_logged_in(&e);
        ck_assert_ptr_nonnull(pop3a_retr(e.client, 1, tu_chunk, tu_done, &retr));
        if (mode != ALONE)
            ck_assert_ptr_nonnull(pop3a_retr(e.client, 2, tu_chunk, tu_done, &retr2));
        WAIT_DONE(&e, retr);
        SCRIPT_OK(e.srv);
        ck_assert_msg(retr.final_count == 0 && retr.status == POP3A_ERR_PROTOCOL,
                      "%s, dot after %zu lines, split at %zu: final %d, status %s (%s)",
                      mode_names[mode], k, p, retr.final_count,
                      pop3a_status_name(retr.status), retr.text);
        ASSERT_ONCE(retr);
        ck_assert_msg(strstr(retr.text, "cut short") || strstr(retr.text, "status line"),
                      "text: %s", retr.text);
        ck_assert_uint_le(retr.body_len, false_end);
        if (mode != ALONE) {
            ASSERT_ONCE(retr2);
            ASSERT_STATUS(retr2, POP3A_ERR_PROTOCOL);
        }
        ck_assert_int_eq(e.close_calls, 1);
        ck_assert_int_eq(e.close_why, POP3A_ERR_PROTOCOL);
        tu_rec_clear(&retr);
        tu_rec_clear(&retr2);
        tu_env_free(&e);
    }
}
END_TEST

/* --------------------------------------------------------------- the sizes */

/* The two sizes, read in the done callback (a future is freed after it). */
typedef struct {
    tu_rec rec;
    int has_announced;
    uint64_t announced;
    uint64_t received;
} sized_rec;

static void sized_done(pop3a_client *client, pop3a_future *future, void *arg)
{
    sized_rec *r = arg;
    r->has_announced = pop3a_future_announced_octets(future, &r->announced) == 0;
    r->received = pop3a_future_received_octets(future);
    tu_done(client, future, &r->rec);
}

static int sized_chunk(pop3a_client *client, pop3a_future *future, const char *data, size_t len,
                       int final, void *arg)
{
    return tu_chunk(client, future, data, len, final, &((sized_rec *)arg)->rec);
}

static void sized_init(sized_rec *r, int id)
{
    memset(r, 0, sizeof *r);
    tu_rec_init(&r->rec, id, NULL);
}

static pop3a_future *retr_sized(tu_env *e, uint32_t msg, sized_rec *r)
{
    return pop3a_retr(e->client, msg, sized_chunk, sized_done, r);
}

#define MSG1 "Subject: one\r\n\r\nhello\r\n"         /* 23 octets */
#define MSG2 "Subject: two\r\n\r\n..dot line\r\nend\r\n" /* 33 on the wire, 32 unstuffed */

/* A server whose sizes were right for message 1 announces 37 octets for
 * message 2 and ends it after 16 (the "." line went out unstuffed): RETR 2 fails
 * at once, both sizes on the future, no final chunk; the rest of the message
 * then arrives as data nobody asked for, and the connection goes. */
START_TEST(short_message_fails_once_sizes_have_matched)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    p3s_expect(e.srv, "RETR 1");
    send_multiline(e.srv, "+OK 23 octets\r\n", MSG1);
    p3s_expect(e.srv, "RETR 2");
    p3s_send(e.srv, "+OK 37 octets\r\nSubject: two\r\n\r\n.\r\n");
    p3s_delay(e.srv, 5);
    p3s_send(e.srv, "second half\r\n.\r\n");
    sized_rec r1, r2;
    sized_init(&r1, 2);
    sized_init(&r2, 3);
    session_logged_in(&e);
    ck_assert_ptr_nonnull(retr_sized(&e, 1, &r1));
    ck_assert_ptr_nonnull(retr_sized(&e, 2, &r2));
    WAIT_DONE(&e, r2.rec);
    ASSERT_ONCE_OK(r1.rec);
    ASSERT_BODY(r1.rec, MSG1);
    ck_assert(r1.has_announced && r1.announced == 23 && r1.received == 23);
    ASSERT_ONCE_STATUS(r2.rec, POP3A_ERR_PROTOCOL);
    ck_assert_int_eq(r2.rec.final_count, 0);
    ck_assert_str_eq(r2.rec.text, "message cut short: 16 of the 37 octets announced");
    ck_assert(r2.has_announced && r2.announced == 37 && r2.received == 16);
    WAIT_COUNT(&e, &e.close_calls, 1);
    ck_assert_int_eq(e.close_why, POP3A_ERR_PROTOCOL);
    SCRIPT_DONE(e.srv);
    tu_rec_clear(&r1.rec);
    tu_rec_clear(&r2.rec);
    tu_env_free(&e);
}
END_TEST

/* A body of the announced size completes at once: with RETR 2 pipelined behind
 * it and never answered, RETR 1 still completes (it needs no proof from the
 * next reply). Dot-stuffing does not count; a bare LF counts as CRLF, or as
 * sent (_i 1: the server counts the LF as one octet). */
START_TEST(announced_size_completes_without_waiting)
{
    static const char body[] = "a\nb\r\n.x\r\n"; /* wire: "a\nb\r\n..x\r\n" */
    tu_env e;
    env_init_login_script(&e, CAPA_PIPELINING);
    p3s_expect(e.srv, "RETR 1");
    p3s_expect(e.srv, "RETR 2");
    send_multiline(e.srv, _i == 0 ? "+OK 10 octets\r\n" : "+OK 9 octets\r\n",
                   "a\nb\r\n..x\r\n");
    sized_rec r1, r2;
    sized_init(&r1, 2);
    sized_init(&r2, 3);
    session_logged_in(&e);
    ck_assert_ptr_nonnull(retr_sized(&e, 1, &r1));
    ck_assert_ptr_nonnull(retr_sized(&e, 2, &r2));
    WAIT_DONE(&e, r1.rec);
    ASSERT_ONCE_OK(r1.rec);
    ASSERT_BODY(r1.rec, body);
    ck_assert_uint_eq(r1.announced, _i == 0 ? 10 : 9);
    ck_assert_uint_eq(r1.received, 10);
    ck_assert_int_eq(r2.rec.done_calls, 0);
    SCRIPT_OK(e.srv);
    tu_rec_clear(&r1.rec);
    tu_env_free(&e);
}
END_TEST

/* Without "+OK nnn octets", this session's LIST gives the size: message 1
 * matches it, message 2 is short and fails. TOP never compares (it sends part
 * of a message). */
START_TEST(list_sizes_vouch_for_retr)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    p3s_expect(e.srv, "LIST");
    p3s_send(e.srv, "+OK 2 messages\r\n1 23\r\n2 40\r\n.\r\n");
    p3s_expect(e.srv, "TOP 1 0");
    send_multiline(e.srv, "+OK\r\n", "Subject: one\r\n\r\n");
    p3s_expect(e.srv, "RETR 1");
    send_multiline(e.srv, "+OK message follows\r\n", MSG1);
    p3s_expect(e.srv, "RETR 2");
    send_multiline(e.srv, "+OK message follows\r\n", MSG2);
    tu_rec list;
    sized_rec top, r1, r2;
    tu_rec_init(&list, 1, NULL);
    sized_init(&top, 2);
    sized_init(&r1, 3);
    sized_init(&r2, 4);
    session_logged_in(&e);
    ck_assert_ptr_nonnull(pop3a_list(e.client, 0, tu_done, &list));
    ck_assert_ptr_nonnull(pop3a_top(e.client, 1, 0, sized_chunk, sized_done, &top));
    ck_assert_ptr_nonnull(retr_sized(&e, 1, &r1));
    ck_assert_ptr_nonnull(retr_sized(&e, 2, &r2));
    WAIT_DONE_AND_SCRIPT(&e, r2.rec);
    ASSERT_ONCE_OK(top.rec);
    ck_assert_int_eq(top.has_announced, 0);
    ASSERT_ONCE_OK(r1.rec);
    ck_assert(r1.has_announced && r1.announced == 23);
    ASSERT_ONCE_STATUS(r2.rec, POP3A_ERR_PROTOCOL);
    ck_assert_int_eq(r2.rec.final_count, 0);
    ck_assert(r2.has_announced && r2.announced == 40 && r2.received == 32);
    tu_rec_clear(&top.rec);
    tu_rec_clear(&r1.rec);
    tu_rec_clear(&r2.rec);
    tu_env_free(&e);
}
END_TEST

/* The policy, for a first message whose announced size is too large and that is
 * in fact whole (the NOOP's reply behind it proves its terminator):
 * _i 0 AUTO: no size has matched yet, so it is not refused: OK;
 * _i 1 STRICT: refused;
 * _i 2 OFF: OK. */
START_TEST(size_policy_for_a_server_without_a_track_record)
{
    static const pop3a_size_check modes[] = {POP3A_SIZE_CHECK_AUTO, POP3A_SIZE_CHECK_STRICT,
                                             POP3A_SIZE_CHECK_OFF};
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    ck_assert_int_eq(pop3a_options_set_size_check(e.opts, modes[_i]), 0);
    p3s_expect(e.srv, "RETR 1");
    send_multiline(e.srv, "+OK 500 octets\r\n", MSG1);
    p3s_expect(e.srv, "NOOP");
    p3s_send(e.srv, "+OK\r\n");
    sized_rec r1;
    tu_rec noop;
    sized_init(&r1, 2);
    tu_rec_init(&noop, 3, NULL);
    session_logged_in(&e);
    ck_assert_ptr_nonnull(retr_sized(&e, 1, &r1));
    ck_assert_ptr_nonnull(pop3a_noop(e.client, tu_done, &noop));
    WAIT_DONE_AND_SCRIPT(&e, noop);
    ASSERT_ONCE_STATUS(r1.rec, _i == 1 ? POP3A_ERR_PROTOCOL : POP3A_OK);
    ck_assert_int_eq(r1.rec.final_count, _i == 1 ? 0 : 1);
    ck_assert(r1.announced == 500 && r1.received == 23);
    ASSERT_ONCE_OK(noop);
    tu_rec_clear(&r1.rec);
    tu_env_free(&e);
}
END_TEST

START_TEST(size_check_option_rejects_unknown_modes)
{
    pop3a_options *o = pop3a_options_new();
    ck_assert_int_eq(pop3a_options_set_size_check(o, (pop3a_size_check)3), -1);
    ck_assert_int_eq(pop3a_options_set_size_check(NULL, POP3A_SIZE_CHECK_OFF), -1);
    ck_assert_int_eq(pop3a_options_set_size_check(o, POP3A_SIZE_CHECK_STRICT), 0);
    pop3a_options_free(o);
}
END_TEST

/* A held body (no size) with nothing owed after it: the server closing the
 * connection with no byte more proves nothing was cut; it completes OK before
 * the close callback. */
START_TEST(held_body_completes_at_eof)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    p3s_expect(e.srv, "RETR 1");
    send_multiline(e.srv, "+OK\r\n", MSG1);
    p3s_close(e.srv);
    tu_rec retr;
    tu_rec_init(&retr, 2, NULL);
    session_logged_in(&e);
    ck_assert_ptr_nonnull(pop3a_retr(e.client, 1, tu_chunk, tu_done, &retr));
    WAIT_DONE_AND_SCRIPT(&e, retr);
    ASSERT_ONCE_OK(retr);
    ASSERT_BODY(retr, MSG1);
    tu_rec_clear(&retr);
    tu_env_free(&e);
}
END_TEST

/* A held body's final chunk and done come before the next future's: the
 * completion order stays the submission order while RETR 2 is already written. */
START_TEST(held_body_completes_before_the_next)
{
    tu_env e;
    env_init_login_script(&e, CAPA_BASIC);
    p3s_expect(e.srv, "RETR 1");
    send_multiline(e.srv, "+OK\r\n", MSG1);
    p3s_expect(e.srv, "RETR 2");
    send_multiline(e.srv, "+OK\r\n", MSG2);
    p3s_expect(e.srv, "QUIT");
    p3s_send(e.srv, "+OK bye\r\n");
    tu_order order = {0};
    tu_rec r1, r2, quit;
    RECS_INIT(&order, 0, &r1, &r2, &quit);
    session_logged_in(&e);
    ck_assert_ptr_nonnull(pop3a_retr(e.client, 1, tu_chunk, tu_done, &r1));
    ck_assert_ptr_nonnull(pop3a_retr(e.client, 2, tu_chunk, tu_done, &r2));
    ck_assert_ptr_nonnull(pop3a_quit(e.client, tu_done, &quit));
    WAIT_DONE_AND_SCRIPT(&e, quit);
    ASSERT_COMPLETED_IN_ORDER(order, 3);
    ASSERT_ONCE_OK(r1);
    ASSERT_BODY(r1, MSG1);
    ASSERT_ONCE_OK(r2);
    ASSERT_BODY(r2, "Subject: two\r\n\r\n.dot line\r\nend\r\n");
    ASSERT_ONCE_OK(quit);
    tu_rec_clear(&r1);
    tu_rec_clear(&r2);
    tu_env_free(&e);
}
END_TEST

static Suite *cut_message_suite(void)
{
    Suite *s = suite_create("cut_message");
    TCase *tc = tcase_create("premature_terminator");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, premature_terminator_never_completes, 0, N_MODES * N_POSITIONS);
    suite_add_tcase(s, tc);
    tc = tcase_create("sizes");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, short_message_fails_once_sizes_have_matched);
    tcase_add_loop_test(tc, announced_size_completes_without_waiting, 0, 2);
    tcase_add_test(tc, list_sizes_vouch_for_retr);
    tcase_add_loop_test(tc, size_policy_for_a_server_without_a_track_record, 0, 3);
    tcase_add_test(tc, size_check_option_rejects_unknown_modes);
    suite_add_tcase(s, tc);
    tc = tcase_create("hold");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, held_body_completes_at_eof);
    tcase_add_test(tc, held_body_completes_before_the_next);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(cut_message_suite());
}
