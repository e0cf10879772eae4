/*
 * pop3fetch against servers that misbehave: the scenarios of the hostile
 * suite (doc/ROBUSTNESS.md) that make sense for a whole fetch, each a row.
 * Every row runs with --delete and asserts the exit status (sysexits), the
 * summary line (status and counts), the messages delivered (byte-exact),
 * that no DELE and no QUIT went out after a failure (the server deletes
 * nothing: the script is all the client sent), and that the state holds the
 * UIDLs of exactly the delivered messages. Floods also bound pop3fetch's
 * peak RSS (not under valgrind or ASan, whose own memory would be measured).
 *
 * Usage: test_pop3fetch_hostile /path/to/pop3fetch
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3fetch_run.h"

#define FLOOD_MIB 32

static void login_listed(p3s *s, const msg *m)
{
    script_session_start(s, m, 2);
}

/* Messages 1 and 2 deleted, then QUIT answered with quit_reply. */
static void deleted_and_quit(p3s *s, const char *quit_reply)
{
    p3s_expect(s, "DELE 1");
    p3s_send(s, "+OK\r\n");
    p3s_expect(s, "DELE 2");
    p3s_send(s, "+OK\r\n");
    script_quit(s, quit_reply);
}

/* ------------------------------------------------------------ greeting */

static void greeting_err(p3s *s, const msg *m)
{
    (void)m;
    p3s_send(s, "-ERR [SYS/TEMP] too many connections\r\n");
}

static void greeting_not_pop3(p3s *s, const msg *m)
{
    (void)m;
    p3s_send(s, "HTTP/1.1 400 Bad Request\r\n");
}

static void greeting_never_comes(p3s *s, const msg *m)
{
    (void)m;
    p3s_delay(s, beyond_short_timeout_ms());
}

static void greeting_endless_line(p3s *s, const msg *m)
{
    static char chunk[1 << 20];
    (void)m;
    memset(chunk, 'x', sizeof chunk);
    p3s_send(s, "+OK ");
    for (int i = 0; i < FLOOD_MIB; i++) /* without LF */
        p3s_send_bytes(s, chunk, sizeof chunk);
}

static void capa_1001_lines(p3s *s, const msg *m)
{
    (void)m;
    p3s_send(s, "+OK ready\r\n");
    p3s_expect(s, "CAPA");
    p3s_send(s, "+OK\r\n");
    for (int i = 0; i < 1001; i++)
        p3s_send(s, "X-FILLER\r\n");
    p3s_send(s, ".\r\n");
}

static void silent_after_greeting(p3s *s, const msg *m)
{
    (void)m;
    p3s_send(s, "+OK ready\r\n");
    p3s_expect(s, "CAPA");
    p3s_delay(s, beyond_short_timeout_ms());
}

static void no_capa(p3s *s, const msg *m)
{
    script_login_capa(s, "-ERR unknown command\r\n");
    script_listings(s, m, 2, NULL);
    script_retr_all(s, m, 2);
    deleted_and_quit(s, "+OK bye\r\n");
}

static void nul_in_status(p3s *s, const msg *m)
{
    (void)m;
    p3s_send(s, "+OK ready\r\n");
    p3s_expect(s, "CAPA");
    p3s_send(s, "+OK\r\nUSER\r\n.\r\n");
    p3s_expect(s, "USER alice");
    p3s_send_bytes(s, "+OK hel\0lo\r\n", 12);
}

/* ---------------------------------------------------------------- TLS */

static void stls_greeting(p3s *s, int offer)
{
    p3s_send(s, "+OK ready\r\n");
    p3s_expect(s, "CAPA");
    p3s_send(s, offer ? "+OK\r\nUSER\r\nSTLS\r\n.\r\n" : "+OK\r\nUSER\r\n.\r\n");
}

static void stls_injected(p3s *s, const msg *m)
{
    (void)m;
    stls_greeting(s, 1);
    p3s_expect(s, "STLS");
    p3s_send(s, "+OK Begin TLS\r\n+OK fake\r\n"); /* CVE-2021-22947 */
}

static void stls_not_offered(p3s *s, const msg *m)
{
    (void)m;
    stls_greeting(s, 0); /* CVE-2021-22946: no downgrade */
}

static void stls_garbage_handshake(p3s *s, const msg *m)
{
    (void)m;
    stls_greeting(s, 1);
    p3s_expect(s, "STLS");
    p3s_send(s, "+OK Begin TLS\r\n");
    p3s_send(s, "this is not a TLS handshake at all, just text\r\n");
}

/* --------------------------------------------------------------- SASL */

static void sasl_greeting(p3s *s)
{
    p3s_send(s, "+OK ready\r\n");
    p3s_expect(s, "CAPA");
    p3s_send(s, "+OK\r\nSASL LOGIN\r\n.\r\n");
    p3s_expect(s, "AUTH LOGIN");
}

static void sasl_challenge_after_cancel(p3s *s, const msg *m)
{
    (void)m;
    sasl_greeting(s);
    p3s_send(s, "+ !!!not base64!!!\r\n");
    p3s_expect(s, "*");
    p3s_send(s, "+ VXNlcm5hbWU6\r\n"); /* a challenge instead of -ERR */
}

static void sasl_continuation_to_uidl(p3s *s, const msg *m)
{
    (void)m;
    script_login(s, 0);
    p3s_expect(s, "UIDL");
    p3s_send(s, "+ aGVsbG8=\r\n");
}

/* ----------------------------------------------------------- listings */

static void hang_up_after_login(p3s *s, const msg *m)
{
    (void)m;
    script_login(s, 0);
    p3s_expect(s, "UIDL");
    p3s_close(s);
}

static void list_after_uidl(p3s *s, const char *list_reply)
{
    script_login(s, 0);
    p3s_expect(s, "UIDL");
    p3s_send(s, "+OK\r\n1 a\r\n.\r\n");
    p3s_expect(s, "LIST");
    p3s_send(s, list_reply);
}

static void list_refused(p3s *s, const msg *m)
{
    (void)m;
    list_after_uidl(s, "-ERR [SYS/PERM] listing broken\r\n");
}

static void list_malformed(p3s *s, const msg *m)
{
    (void)m;
    list_after_uidl(s, "+OK\r\n1 lots\r\n.\r\n");
}

static void list_size_beyond_64_bits(p3s *s, const msg *m)
{
    (void)m;
    list_after_uidl(s, "+OK\r\n1 18446744073709551616\r\n.\r\n");
}

static void list_message_zero(p3s *s, const msg *m)
{
    (void)m;
    list_after_uidl(s, "+OK\r\n0 100\r\n.\r\n");
}

static void endless_uidl_line(p3s *s, const msg *m)
{
    static char line[20000];
    (void)m;
    memset(line, 'x', sizeof line - 1);
    script_login(s, 0);
    p3s_expect(s, "UIDL");
    p3s_send(s, "+OK\r\n1 ");
    p3s_send(s, line);
}

static void reply_to_unsent_command(p3s *s, const msg *m)
{
    (void)m;
    script_login(s, 0);
    p3s_expect(s, "UIDL");
    /* LIST is not sent yet (no PIPELINING): its "reply" comes early */
    p3s_send(s, "+OK\r\n1 a\r\n.\r\n+OK early\r\n");
}

/* --------------------------------------------------------- the messages */

static void retr_refused(p3s *s, const msg *m)
{
    login_listed(s, m);
    script_retr(s, 1, &m[0]);
    p3s_expect(s, "RETR 2");
    p3s_send(s, "-ERR no such message\r\n");
}

static void body_after_err(p3s *s, const msg *m)
{
    login_listed(s, m);
    script_retr(s, 1, &m[0]);
    p3s_expect(s, "RETR 2");
    p3s_send(s, "-ERR no such message\r\nSubject: ghost\r\n\r\nnot mail\r\n.\r\n");
}

/* RETR 2 sends the first `cut` octets of message 2's wire form. */
static void retr_2_cut(p3s *s, const msg *m, size_t cut)
{
    login_listed(s, m);
    script_retr(s, 1, &m[0]);
    p3s_expect(s, "RETR 2");
    p3s_send(s, "+OK message follows\r\n");
    p3s_send_bytes(s, m[1].wire, cut);
}

static size_t first_line_end(const msg *m)
{
    return (size_t)(strstr(m->wire, "\r\n") + 2 - m->wire);
}

static void terminator_missing_then_close(p3s *s, const msg *m)
{
    retr_2_cut(s, m, m[1].wire_len - 3); /* all but ".\r\n" */
    p3s_close(s);
}

static void terminator_missing_then_silence(p3s *s, const msg *m)
{
    retr_2_cut(s, m, m[1].wire_len - 2); /* up to the "." of the terminator */
    p3s_delay(s, beyond_short_timeout_ms());
}

static void drop_mid_retr(p3s *s, const msg *m)
{
    retr_2_cut(s, m, first_line_end(&m[1]));
    p3s_close(s);
}

static void premature_terminator(p3s *s, const msg *m)
{
    size_t cut = first_line_end(&m[1]);
    retr_2_cut(s, m, cut);
    p3s_send(s, ".\r\n"); /* LIST said more: message 2 was cut short */
    p3s_delay(s, 5);
    p3s_send_bytes(s, m[1].wire + cut, m[1].wire_len - cut);
}

static void shorter_than_list(p3s *s, const msg *m)
{
    size_t cut = first_line_end(&m[1]);
    retr_2_cut(s, m, cut);
    p3s_send(s, ".\r\n");
    p3s_close(s);
}

/* Message 2 is FLOOD_MIB MiB of lines: streamed, not held. */
static void big_message(msg *m)
{
    size_t line = 1000, n = ((size_t)FLOOD_MIB << 20) / line;
    free_mailbox(&m[1], 1);
    m[1].body_len = n * line;
    m[1].wire_len = m[1].body_len + 3;
    m[1].body = malloc(m[1].body_len + 1);
    m[1].wire = malloc(m[1].wire_len + 1);
    ck_assert(m[1].body && m[1].wire);
    memset(m[1].body, 'y', m[1].body_len);
    for (size_t i = 0; i < n; i++)
        memcpy(m[1].body + i * line + line - 2, "\r\n", 2);
    m[1].body[m[1].body_len] = '\0';
    memcpy(m[1].wire, m[1].body, m[1].body_len);
    memcpy(m[1].wire + m[1].body_len, ".\r\n", 4);
}

static void flood_message(p3s *s, const msg *m)
{
    login_listed(s, m);
    script_retr_all(s, m, 2);
    deleted_and_quit(s, "+OK bye\r\n");
}

/* ------------------------------------------------------------- the end */

static void dele_refused(p3s *s, const msg *m)
{
    login_listed(s, m);
    script_retr_all(s, m, 2);
    p3s_expect(s, "DELE 1");
    p3s_send(s, "-ERR cannot\r\n"); /* without PIPELINING DELE 2 waits for this */
}

static void quit_refused(p3s *s, const msg *m)
{
    login_listed(s, m);
    script_retr_all(s, m, 2);
    deleted_and_quit(s, "-ERR some deleted messages not removed\r\n");
}

static void junk_after_quit(p3s *s, const msg *m)
{
    login_listed(s, m);
    script_retr_all(s, m, 2);
    deleted_and_quit(s, "+OK bye\r\n+OK extra\r\ngarbage");
}

#define NONE_DELIVERED 0, ""
#define FIRST_DELIVERED 1, "uid-1"
#define BOTH_DELIVERED 2, "uid-1 uid-2"

static const struct {
    const char *name;
    void (*script)(p3s *s, const msg *m);
    void (*prepare)(msg *m); /* changes the mailbox first, when set */
    const char *tls;         /* --tls, NULL: none */
    int short_timeout;       /* short_timeout_arg(): the timeout is what is tested */
    int exit_code;
    const char *what, *error; /* in the summary: "<what> at HOST:PORT: <error>"; NULL: success */
    size_t delivered;  /* messages 1..delivered are in the Maildir, and no others */
    const char *state; /* the UIDLs recorded, sorted */
    size_t max_rss_mib; /* pop3fetch's peak RSS bound, 0: not measured */
} cases[] = {
    {"greeting -ERR", greeting_err, NULL, NULL, 0, 75,
     "connect", "POP3A_ERR_SERVER [SYS/TEMP] too many", NONE_DELIVERED, 0},
    {"greeting not POP3", greeting_not_pop3, NULL, NULL, 0, 76,
     "connect", "POP3A_ERR_PROTOCOL", NONE_DELIVERED, 0},
    {"greeting never comes", greeting_never_comes, NULL, NULL, 1, 75,
     "connect", "POP3A_ERR_TIMEOUT", NONE_DELIVERED, 0},
    {"endless greeting", greeting_endless_line, NULL, NULL, 0, 76,
     "connect", "POP3A_ERR_PROTOCOL", NONE_DELIVERED, 24},
    {"1001 CAPA lines", capa_1001_lines, NULL, NULL, 0, 76,
     "connect", "POP3A_ERR_PROTOCOL", NONE_DELIVERED, 0},
    {"silence after CAPA", silent_after_greeting, NULL, NULL, 1, 75,
     "connect", "POP3A_ERR_TIMEOUT", NONE_DELIVERED, 0},
    {"no CAPA", no_capa, NULL, NULL, 0, 0, NULL, NULL, BOTH_DELIVERED, 0},
    {"NUL in status", nul_in_status, NULL, NULL, 0, 76,
     "login", "POP3A_ERR_PROTOCOL", NONE_DELIVERED, 0},
    {"STLS reply with injected data", stls_injected, NULL, "stls", 0, 76,
     "connect", "POP3A_ERR_PROTOCOL", NONE_DELIVERED, 0},
    {"STLS not offered", stls_not_offered, NULL, "stls", 0, 69,
     "connect", "POP3A_ERR_TLS_REQUIRED", NONE_DELIVERED, 0},
    {"text instead of a TLS handshake", stls_garbage_handshake, NULL, "stls", 0, 69,
     "connect", "POP3A_ERR_TLS", NONE_DELIVERED, 0},
    {"SASL challenge after our *", sasl_challenge_after_cancel, NULL, NULL, 0, 76,
     "login", "POP3A_ERR_PROTOCOL", NONE_DELIVERED, 0},
    {"SASL continuation to UIDL", sasl_continuation_to_uidl, NULL, NULL, 0, 76,
     "LIST", "POP3A_ERR_PROTOCOL", NONE_DELIVERED, 0},
    {"hang-up after login", hang_up_after_login, NULL, NULL, 0, 75,
     "UIDL", "POP3A_ERR_EOF", NONE_DELIVERED, 0},
    {"LIST -ERR", list_refused, NULL, NULL, 0, 69,
     "LIST", "POP3A_ERR_SERVER [SYS/PERM] listing broken", NONE_DELIVERED, 0},
    {"LIST garbage", list_malformed, NULL, NULL, 0, 76,
     "LIST", "POP3A_ERR_PROTOCOL malformed listing line", NONE_DELIVERED, 0},
    {"LIST size beyond 64 bits", list_size_beyond_64_bits, NULL, NULL, 0, 76,
     "LIST", "POP3A_ERR_PROTOCOL", NONE_DELIVERED, 0},
    {"LIST message 0", list_message_zero, NULL, NULL, 0, 76,
     "LIST", "POP3A_ERR_PROTOCOL", NONE_DELIVERED, 0},
    {"endless UIDL line", endless_uidl_line, NULL, NULL, 0, 76,
     "LIST", "POP3A_ERR_PROTOCOL", NONE_DELIVERED, 0},
    {"reply to a command not sent", reply_to_unsent_command, NULL, NULL, 0, 76,
     "LIST", "POP3A_ERR_PROTOCOL", NONE_DELIVERED, 0},
    {"RETR -ERR", retr_refused, NULL, NULL, 0, 69,
     "RETR 2", "POP3A_ERR_SERVER no such message", FIRST_DELIVERED, 0},
    {"body after -ERR", body_after_err, NULL, NULL, 0, 69,
     "RETR 2", "POP3A_ERR_SERVER no such message", FIRST_DELIVERED, 0},
    {"terminator missing, then close", terminator_missing_then_close, NULL, NULL, 0, 75,
     "RETR 2", "POP3A_ERR_EOF", FIRST_DELIVERED, 0},
    {"terminator missing, then silence", terminator_missing_then_silence, NULL, NULL, 1, 75,
     "RETR 2", "POP3A_ERR_TIMEOUT", FIRST_DELIVERED, 0},
    {"drop mid-RETR", drop_mid_retr, NULL, NULL, 0, 75,
     "RETR 2", "POP3A_ERR_EOF", FIRST_DELIVERED, 0},
    {"premature terminator", premature_terminator, NULL, NULL, 0, 76,
     "RETR 2", "POP3A_ERR_PROTOCOL", FIRST_DELIVERED, 0},
    {"shorter than LIST said", shorter_than_list, NULL, NULL, 0, 76,
     "RETR 2", "POP3A_ERR_PROTOCOL", FIRST_DELIVERED, 0},
    {"DELE -ERR", dele_refused, NULL, NULL, 0, 69,
     "DELE 1", "POP3A_ERR_SERVER cannot", BOTH_DELIVERED, 0},
    {"QUIT -ERR", quit_refused, NULL, NULL, 0, 69,
     "QUIT", "POP3A_ERR_SERVER some deleted", BOTH_DELIVERED, 0},
    {"junk after the QUIT reply", junk_after_quit, NULL, NULL, 0, 0, NULL, NULL, BOTH_DELIVERED, 0},
    {"32 MiB message", flood_message, big_message, NULL, 0, 0, NULL, NULL, BOTH_DELIVERED,
     24},
};

/* pop3fetch's peak RSS (VmHWM, reset by exec), read on every poll of the
 * child; the last reading before it exits wins, since the first ones may
 * still see the forked copy of this process. */
static size_t peak_rss_kib;

static void watch_rss(run *r)
{
    char path[64], line[128];
    snprintf(path, sizeof path, "/proc/%d/status", (int)r->pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            peak_rss_kib = strtoul(line + 6, NULL, 10);
    if (f)
        fclose(f);
}

/* Whether pop3fetch's own RSS can be measured: not under valgrind (its RSS
 * is valgrind's) nor ASan (shadow memory and quarantine). */
static int rss_measurable(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return 0;
#endif
    const char *wrapper = getenv("POP3A_CHILD_WRAPPER");
    return !wrapper || !wrapper[0];
}

START_TEST(misbehaving_server)
{
    msg m[MAX_MSGS];
    run r;
    char want[256], uids[256];
    size_t n = make_mailbox(m);
    if (cases[_i].prepare)
        cases[_i].prepare(m);
    run_init(&r);
    cases[_i].script(r.srv, m);
    /* A short timeout only where the timeout is what is tested; the others
     * keep the harness's (both stretched under valgrind and ASan). */
    const char *const extra[] = {"--timeout", cases[_i].short_timeout ? short_timeout_arg() : child_timeout_arg(),
                                 "--tls", cases[_i].tls ? cases[_i].tls : "none", "--delete",
                                 NULL};
    if (cases[_i].max_rss_mib && rss_measurable())
        r.tick = watch_rss;
    run_pop3fetch(&r, extra);
    ck_assert_msg(r.exit_code == cases[_i].exit_code, "%s: exit %d, want %d; stderr: %s",
                  cases[_i].name, r.exit_code, cases[_i].exit_code, r.stderr_text);
    serve_until_closed(&r, r.srv);
    ck_assert_msg(p3s_error(r.srv) == NULL, "%s: script: %s", cases[_i].name,
                  p3s_error(r.srv));
    if (cases[_i].error) {
        snprintf(want, sizeof want, "%s at 127.0.0.1:%u: %s", cases[_i].what, (unsigned)r.port,
                 cases[_i].error);
        STDERR_HAS(&r, "alice@127.0.0.1: error: ");
        STDERR_HAS(&r, want);
        snprintf(want, sizeof want, "; %zu new, %" PRIu64 " bytes, 0 deleted, ",
                 cases[_i].delivered, wire_bytes(m, cases[_i].delivered));
        STDERR_HAS(&r, want);
        ck_assert_str_eq(r.stdout_text, "");
        /* Nothing after the script: no DELE of anything not delivered and
         * recorded, no QUIT after a failure (the server deletes nothing).
         * Not for the TLS ClientHello, which the script does not read. */
        if (cases[_i].script != quit_refused && cases[_i].script != stls_garbage_handshake)
            ck_assert_msg(p3s_bytes_unread(r.srv) == 0, "%s: %zu bytes after the script",
                          cases[_i].name, p3s_bytes_unread(r.srv));
    } else {
        SCRIPT_DONE(&r);
        summary_prefix(want, sizeof want, 2, wire_bytes(m, 2), 2);
        ck_assert_msg(strncmp(r.stdout_text, want, strlen(want)) == 0, "%s: stdout: %s",
                      cases[_i].name, r.stdout_text);
    }
    assert_maildir(&r, m, cases[_i].delivered);
    state_uids(&r, uids, sizeof uids);
    ck_assert_msg(strcmp(uids, cases[_i].state) == 0, "%s: state holds \"%s\", want \"%s\"",
                  cases[_i].name, uids, cases[_i].state);
    if (r.tick) {
        ck_assert_msg(peak_rss_kib > 0, "%s: no VmHWM read", cases[_i].name);
        ck_assert_msg(peak_rss_kib <= cases[_i].max_rss_mib * 1024,
                      "%s: pop3fetch peaked at %zu KiB RSS", cases[_i].name, peak_rss_kib);
    }
    run_free_mailbox(&r, m, n);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_loop_test(tc, misbehaving_server, 0, sizeof cases / sizeof cases[0]);
}

int main(int argc, char **argv)
{
    return example_test_main(argc, argv, "pop3fetch_hostile", &pop3fetch_path, 0, add_tests);
}
