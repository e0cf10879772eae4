/*
 * Greeting, CAPA and every login mechanism against Dovecot (issue 4): each one
 * must succeed with the right secret, fail as POP3A_ERR_AUTH with the server's
 * words with a wrong one, and never put a secret into the trace.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "itest.h"

#define USER "alice"
#define PASSWORD "alicepw"

/* Dovecot 2.3 before login (README "Dovecot 2.3.19 facts"). */
#define PRELOGIN_FLAGS                                                                      \
    (POP3A_CAPA_TOP | POP3A_CAPA_UIDL | POP3A_CAPA_RESP_CODES | POP3A_CAPA_PIPELINING |     \
     POP3A_CAPA_AUTH_RESP_CODE | POP3A_CAPA_STLS | POP3A_CAPA_USER | POP3A_CAPA_SASL)
/* CAPA's SASL list plus USER. APOP has no CAPA tag (RFC 2449): the greeting's
 * timestamp offers it, checked separately. */
#define HARNESS_MECHS                                                                       \
    (POP3A_MECH_USER | POP3A_MECH_PLAIN | POP3A_MECH_LOGIN | POP3A_MECH_CRAM_MD5 |          \
     POP3A_MECH_SCRAM_SHA_1 | POP3A_MECH_SCRAM_SHA_256 | POP3A_MECH_XOAUTH2 |               \
     POP3A_MECH_OAUTHBEARER)

typedef struct {
    unsigned mech;
    const char *sent; /* the command line that starts it, as traced */
} mech_case;

static const mech_case password_mechs[] = {
    {POP3A_MECH_USER, "USER " USER},
    {POP3A_MECH_APOP, "APOP " USER " "},
    {POP3A_MECH_PLAIN, "AUTH PLAIN"},
    {POP3A_MECH_LOGIN, "AUTH LOGIN"},
    {POP3A_MECH_CRAM_MD5, "AUTH CRAM-MD5"},
    {POP3A_MECH_SCRAM_SHA_1, "AUTH SCRAM-SHA-1"},
    {POP3A_MECH_SCRAM_SHA_256, "AUTH SCRAM-SHA-256"},
};
#define N_PASSWORD_MECHS ((int)(sizeof password_mechs / sizeof *password_mechs))

static const mech_case cleartext_mechs[] = {
    {POP3A_MECH_USER, "USER " USER},
    {POP3A_MECH_PLAIN, "AUTH PLAIN"},
    {POP3A_MECH_LOGIN, "AUTH LOGIN"},
};

static const mech_case oauth_mechs[] = {
    {POP3A_MECH_XOAUTH2, "AUTH XOAUTH2"},
    {POP3A_MECH_OAUTHBEARER, "AUTH OAUTHBEARER"},
};

/* Lines that start a login attempt, whatever the mechanism. */
static int login_attempts(const it_trace *t)
{
    return it_trace_sent_count(t, "USER ") + it_trace_sent_count(t, "APOP ") +
           it_trace_sent_count(t, "AUTH ");
}

static char *b64(const void *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    ck_assert(out != NULL);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

/* The secret must not show up in any trace line: neither as is, nor in the
 * base64 forms PLAIN and LOGIN would put on the wire. */
static void assert_no_secret(it_session *s, const char *user, const char *secret)
{
    char plain[512];
    size_t ulen = strlen(user), slen = strlen(secret);
    ck_assert(ulen + slen + 2 <= sizeof plain);
    plain[0] = '\0';
    memcpy(plain + 1, user, ulen);
    plain[1 + ulen] = '\0';
    memcpy(plain + 2 + ulen, secret, slen);
    char *plain64 = b64(plain, ulen + slen + 2);
    char *secret64 = b64(secret, slen);
    int leaked = it_trace_has(&s->trace, secret) || it_trace_has(&s->trace, plain64) ||
                 it_trace_has(&s->trace, secret64);
    free(plain64);
    free(secret64);
    ck_assert_msg(!leaked, "secret in the trace:\n%s", it_trace_text(&s->trace));
}

/* Logged in for real: the transaction state answers STAT. */
static void assert_transaction(it_session *s)
{
    pop3a_future *st = it_run(s, pop3a_stat(s->client, it_done, s));
    IT_ASSERT_STATUS(st, POP3A_OK);
    uint32_t count = 0;
    uint64_t octets = 0;
    ck_assert_int_eq(pop3a_future_stat(st, &count, &octets), 0);
    ck_assert_msg(count > 0, "alice's maildrop is empty");
}

static void connect_stls(it_session *s)
{
    it_session_init(s, NULL, POP3A_TLS_STLS);
    ck_assert_int_eq(it_connect(s, it_cfg()->host, it_cfg()->port), POP3A_OK);
    ck_assert_int_eq(pop3a_client_is_tls(s->client), 1);
}

/* ------------------------------------------------------ greeting and CAPA */

START_TEST(greeting_and_capa_before_login)
{
    it_session s;
    it_session_init(&s, NULL, POP3A_TLS_NONE);
    pop3a_status st = it_connect(&s, it_cfg()->host, it_cfg()->port);
    ck_assert_msg(st == POP3A_OK, "connect: %s %s", pop3a_status_name(st),
                  pop3a_future_text(s.last));
    ck_assert(it_trace_has(&s.trace, "< +OK Dovecot ready."));

    const pop3a_capa *capa = pop3a_client_capa(s.client);
    ck_assert(pop3a_future_capa(s.last) != NULL);
    unsigned flags = pop3a_capa_flags(capa), mechs = pop3a_capa_mechs(capa);
    ck_assert_msg((flags & PRELOGIN_FLAGS) == PRELOGIN_FLAGS, "CAPA flags %#x, want %#x", flags,
                  PRELOGIN_FLAGS);
    ck_assert_msg((mechs & HARNESS_MECHS) == HARNESS_MECHS, "mechanisms %#x, want %#x", mechs,
                  HARNESS_MECHS);
    ck_assert_int_eq(pop3a_client_is_tls(s.client), 0);

    /* RFC 1939 section 7: the APOP timestamp is a msg-id, <...@...>. */
    const char *ts = pop3a_client_apop_timestamp(s.client);
    ck_assert_msg(ts && ts[0] == '<' && ts[strlen(ts) - 1] == '>' && strchr(ts, '@'),
                  "APOP timestamp %s", ts ? ts : "(none)");
    ck_assert(it_trace_has(&s.trace, ts));
    ck_assert_int_eq(it_quit(&s), POP3A_OK);
    it_session_free(&s);
}
END_TEST

START_TEST(capa_after_stls_is_asked_again_and_lacks_stls)
{
    it_session s;
    connect_stls(&s);
    /* RFC 2595 section 4: the pre-TLS capabilities are forgotten and asked again. */
    ck_assert_int_eq(it_trace_sent_count(&s.trace, "STLS"), 1);
    ck_assert_int_eq(it_trace_sent_count(&s.trace, "CAPA"), 2);
    unsigned flags = pop3a_capa_flags(pop3a_client_capa(s.client));
    unsigned want = PRELOGIN_FLAGS & ~(unsigned)POP3A_CAPA_STLS;
    ck_assert_msg((flags & want) == want, "CAPA flags %#x after STLS, want %#x", flags, want);
    ck_assert_msg(!(flags & POP3A_CAPA_STLS), "STLS still offered inside TLS");
    ck_assert_int_eq(pop3a_client_tls_verify_result(s.client), 0);
    it_session_free(&s);
}
END_TEST

/* ----------------------------------------------------------------- logins */

START_TEST(login_with_each_password_mechanism_over_stls)
{
    const mech_case *mc = &password_mechs[_i];
    it_session s;
    connect_stls(&s);
    pop3a_status st = it_login(&s, USER, PASSWORD, mc->mech);
    ck_assert_msg(st == POP3A_OK, "%s: %s \"%s\"\n%s", mc->sent, pop3a_status_name(st),
                  pop3a_future_text(s.last), it_trace_text(&s.trace));
    ck_assert_msg(it_trace_sent_count(&s.trace, mc->sent) == 1 && login_attempts(&s.trace) == 1,
                  "want exactly one \"%s\":\n%s", mc->sent, it_trace_text(&s.trace));
    assert_transaction(&s);
    assert_no_secret(&s, USER, PASSWORD);
    ck_assert_int_eq(it_quit(&s), POP3A_OK);
    it_session_free(&s);
}
END_TEST

START_TEST(cleartext_mechanism_over_plain_tcp_with_opt_in)
{
    const mech_case *mc = &cleartext_mechs[_i];
    it_session s;
    it_session_init(&s, NULL, POP3A_TLS_NONE);
    ck_assert_int_eq(pop3a_options_allow_cleartext(s.opts, 1), 0);
    ck_assert_int_eq(it_connect(&s, it_cfg()->host, it_cfg()->port), POP3A_OK);
    pop3a_status st = it_login(&s, USER, PASSWORD, mc->mech);
    ck_assert_msg(st == POP3A_OK, "%s: %s \"%s\"", mc->sent, pop3a_status_name(st),
                  pop3a_future_text(s.last));
    ck_assert_int_eq(it_trace_sent_count(&s.trace, mc->sent), 1);
    assert_transaction(&s);
    assert_no_secret(&s, USER, PASSWORD); /* redacted in the trace even in clear */
    it_session_free(&s);
}
END_TEST

START_TEST(cleartext_mechanisms_refused_locally_over_plain_tcp)
{
    /* Dovecot would accept (loopback counts as secured for it), so this is the
     * client's own policy at work: nothing may leave. */
    it_session s;
    it_session_init(&s, NULL, POP3A_TLS_NONE);
    ck_assert_int_eq(it_connect(&s, it_cfg()->host, it_cfg()->port), POP3A_OK);
    unsigned mask = POP3A_MECH_USER | POP3A_MECH_PLAIN | POP3A_MECH_LOGIN;
    pop3a_status st = it_login(&s, USER, PASSWORD, mask);
    ck_assert_msg(st == POP3A_ERR_CLEARTEXT, "got %s", pop3a_status_name(st));
    ck_assert_msg(login_attempts(&s.trace) == 0 && it_trace_sent_count(&s.trace, "PASS") == 0,
                  "a login was sent:\n%s", it_trace_text(&s.trace));
    it_session_free(&s);
}
END_TEST

START_TEST(default_login_over_stls_picks_scram_sha_256)
{
    it_session s;
    connect_stls(&s);
    ck_assert_int_eq(it_login(&s, USER, PASSWORD, 0), POP3A_OK);
    ck_assert_msg(it_trace_sent_count(&s.trace, "AUTH SCRAM-SHA-256") == 1 &&
                      login_attempts(&s.trace) == 1,
                  "want one AUTH SCRAM-SHA-256:\n%s", it_trace_text(&s.trace));
    assert_transaction(&s);
    assert_no_secret(&s, USER, PASSWORD);
    it_session_free(&s);
}
END_TEST

START_TEST(default_login_over_plain_tcp_uses_no_cleartext_mechanism)
{
    it_session s;
    it_session_init(&s, NULL, POP3A_TLS_NONE);
    ck_assert_int_eq(it_connect(&s, it_cfg()->host, it_cfg()->port), POP3A_OK);
    ck_assert_int_eq(it_login(&s, USER, PASSWORD, 0), POP3A_OK);
    ck_assert_msg(it_trace_sent_count(&s.trace, "AUTH SCRAM-SHA-256") == 1 &&
                      login_attempts(&s.trace) == 1,
                  "want one AUTH SCRAM-SHA-256:\n%s", it_trace_text(&s.trace));
    it_session_free(&s);
}
END_TEST

/* A refusal is POP3A_ERR_AUTH with Dovecot's words, "[AUTH] Authentication
 * failed." (RFC 3206 section 4: AUTH means the credentials were wrong). */
static void assert_auth_refusal(it_session *s, const char *what)
{
    pop3a_future *f = s->last;
    ck_assert_msg(pop3a_future_status(f) == POP3A_ERR_AUTH, "%s: %s \"%s\"", what,
                  pop3a_status_name(pop3a_future_status(f)), pop3a_future_text(f));
    const char *text = pop3a_future_text(f);
    ck_assert_msg(strstr(text, "Authentication failed") != NULL, "%s: text \"%s\"", what, text);
    if (strstr(text, "[AUTH]"))
        ck_assert_msg(pop3a_future_resp_code(f) == POP3A_RESP_AUTH, "%s: resp code %d for \"%s\"",
                      what, (int)pop3a_future_resp_code(f), text);
}

START_TEST(wrong_password_with_each_mechanism_is_auth_error_with_server_text)
{
    const mech_case *mc = &password_mechs[_i];
    it_session s;
    connect_stls(&s);
    (void)it_login(&s, USER, "wrong-secret", mc->mech);
    assert_auth_refusal(&s, mc->sent);
    ck_assert_int_eq(login_attempts(&s.trace), 1);
    assert_no_secret(&s, USER, "wrong-secret");
    /* Still in the AUTHORIZATION state (RFC 1939 section 4): the right secret works. */
    ck_assert_int_eq(it_login(&s, USER, PASSWORD, mc->mech), POP3A_OK);
    assert_transaction(&s);
    it_session_free(&s);
}
END_TEST

START_TEST(wrong_password_default_login_tries_every_mechanism_then_fails)
{
    it_session s;
    connect_stls(&s);
    (void)it_login(&s, USER, "wrong-secret", 0);
    assert_auth_refusal(&s, "default login");
    /* SCRAM-SHA-256 > SCRAM-SHA-1 > CRAM-MD5 > APOP > PLAIN > LOGIN > USER, each once. */
    for (int i = 0; i < N_PASSWORD_MECHS; i++)
        ck_assert_msg(it_trace_sent_count(&s.trace, password_mechs[i].sent) == 1,
                      "\"%s\" not tried exactly once:\n%s", password_mechs[i].sent,
                      it_trace_text(&s.trace));
    assert_no_secret(&s, USER, "wrong-secret");
    it_session_free(&s);
}
END_TEST

START_TEST(oauth_login_with_each_mechanism)
{
    const mech_case *mc = &oauth_mechs[_i];
    it_session s;
    connect_stls(&s);
    pop3a_future *f = it_run(&s, pop3a_login_oauth(s.client, USER, it_cfg()->oauth_token,
                                                   mc->mech, it_done, &s));
    IT_ASSERT_STATUS(f, POP3A_OK);
    ck_assert_int_eq(it_trace_sent_count(&s.trace, mc->sent), 1);
    ck_assert_int_eq(login_attempts(&s.trace), 1);
    assert_transaction(&s);
    assert_no_secret(&s, USER, it_cfg()->oauth_token);
    it_session_free(&s);
}
END_TEST

START_TEST(oauth_bad_token_fails_with_the_servers_json)
{
    const mech_case *mc = &oauth_mechs[_i];
    /* Same claims, broken signature: only the server can tell. */
    char token[sizeof it_cfg()->oauth_token];
    strcpy(token, it_cfg()->oauth_token);
    size_t n = strlen(token);
    ck_assert(n > 10);
    token[n - 3] = token[n - 3] == 'A' ? 'B' : 'A';

    it_session s;
    connect_stls(&s);
    pop3a_future *f =
        it_run(&s, pop3a_login_oauth(s.client, USER, token, mc->mech, it_done, &s));
    IT_ASSERT_STATUS(f, POP3A_ERR_AUTH);
    /* RFC 7628 section 3.2.2: the error challenge is JSON with a "status". */
    const char *text = pop3a_future_text(f);
    ck_assert_msg(strstr(text, "\"status\"") != NULL, "%s: text \"%s\"\n%s", mc->sent, text,
                  it_trace_text(&s.trace));
    ck_assert_int_eq(it_trace_sent_count(&s.trace, mc->sent), 1);
    assert_no_secret(&s, USER, token);
    printf("%s with a bad token: %s \"%s\"\n", mc->sent, pop3a_status_name(POP3A_ERR_AUTH),
           text);
    it_session_free(&s);
}
END_TEST

Suite *it_suite_login(void)
{
    Suite *s = suite_create("login");
    TCase *tc = tcase_create("capa");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, greeting_and_capa_before_login);
    tcase_add_test(tc, capa_after_stls_is_asked_again_and_lacks_stls);
    suite_add_tcase(s, tc);

    tc = tcase_create("mechanisms");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, login_with_each_password_mechanism_over_stls, 0, N_PASSWORD_MECHS);
    tcase_add_loop_test(tc, cleartext_mechanism_over_plain_tcp_with_opt_in, 0,
                        (int)(sizeof cleartext_mechs / sizeof *cleartext_mechs));
    tcase_add_test(tc, cleartext_mechanisms_refused_locally_over_plain_tcp);
    tcase_add_test(tc, default_login_over_stls_picks_scram_sha_256);
    tcase_add_test(tc, default_login_over_plain_tcp_uses_no_cleartext_mechanism);
    tcase_add_loop_test(tc, oauth_login_with_each_mechanism, 0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("refusals");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, wrong_password_with_each_mechanism_is_auth_error_with_server_text,
                        0, N_PASSWORD_MECHS);
    tcase_add_test(tc, wrong_password_default_login_tries_every_mechanism_then_fails);
    tcase_add_loop_test(tc, oauth_bad_token_fails_with_the_servers_json, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
