/* The torture sessions, server side (torture_script.h). */
#include "torture_script.h"

#include <stdio.h>
#include <string.h>

const char *const torture_bodies[N_MSGS + 1] = {
    NULL,
    "From: a@example.org\r\nSubject: one\r\n\r\nfirst body\r\n..dot-stuffed line\r\n",
    "From: b@example.org\r\nSubject: two\r\n\r\nsecond body\r\n",
    "From: c@example.org\r\nSubject: three\r\n\r\nthird\r\nbody\r\n",
};

/* STLS answered, then the handshake (RFC 2595 section 4). */
static void script_stls(p3s *s, SSL_CTX *tls)
{
    p3s_expect(s, "STLS");
    p3s_send(s, "+OK Begin TLS negotiation\r\n");
    p3s_start_tls(s, tls);
}

static void script_user_pass(p3s *s)
{
    p3s_expect(s, "USER alice");
    p3s_send(s, "+OK\r\n");
    p3s_expect(s, "PASS " SASL_SRV_SECRET);
    p3s_send(s, "+OK maildrop locked\r\n");
}

/* AUTH SCRAM-* with its two challenges (scram set up), then logged in. */
static void script_scram(p3s *s, scram_srv *scram)
{
    p3s_respond(s, scram_first, scram);
    p3s_respond(s, scram_final, scram);
    p3s_expect(s, "");
    p3s_send(s, "+OK Logged in.\r\n");
}

/* STLS, CAPA again under TLS, SCRAM-SHA-256 (the full path of issue 11). */
static void script_stls_scram(p3s *s, scram_srv *scram, SSL_CTX *tls)
{
    p3s_send(s, "+OK POP3 torture ready <1896.697170952@dbc.mr.net>\r\n");
    p3s_expect(s, "CAPA");
    p3s_send(s, "+OK\r\nSASL SCRAM-SHA-256\r\nSTLS\r\nPIPELINING\r\nTOP\r\nUIDL\r\n.\r\n");
    script_stls(s, tls);
    p3s_expect(s, "CAPA");
    p3s_send(s, "+OK\r\nSASL SCRAM-SHA-256\r\nPIPELINING\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n"
                "IMPLEMENTATION torture\r\n.\r\n");
    scram_init(scram, 0, "y,,", s); /* TLS, but no -PLUS offered: RFC 5802 s6 */
    script_scram(s, scram);
}

/* POP3S from the first byte, APOP with the greeting's timestamp. */
static void script_pop3s_apop(p3s *s, scram_srv *scram, SSL_CTX *tls)
{
    p3s_tls_implicit(s, tls);
    p3s_send(s, "+OK POP3 torture ready <1896.697170952@dbc.mr.net>\r\n");
    p3s_expect(s, "CAPA");
    p3s_send(s, "+OK\r\nPIPELINING\r\nTOP\r\nUIDL\r\n.\r\n");
    p3s_expect_prefix(s, "APOP alice ");
    p3s_send(s, "+OK maildrop locked\r\n");
}

/* POP3S, SCRAM-SHA-256-PLUS bound to the TLS session (tls-exporter, RFC 9266). */
static void script_pop3s_scram_plus(p3s *s, scram_srv *scram, SSL_CTX *tls)
{
    p3s_tls_implicit(s, tls);
    p3s_send(s, "+OK POP3 torture ready\r\n");
    p3s_expect(s, "CAPA");
    p3s_send(s, "+OK\r\nSASL SCRAM-SHA-256 SCRAM-SHA-256-PLUS\r\nPIPELINING\r\nTOP\r\nUIDL\r\n"
                ".\r\n");
    scram_init(scram, 0, "p=tls-exporter,,", s);
    scram->mech = "SCRAM-SHA-256-PLUS";
    script_scram(s, scram);
}

/* Plain text allowed, no PIPELINING (one command at a time), USER/PASS. */
static void script_plain_user(p3s *s, scram_srv *scram, SSL_CTX *tls)
{
    (void)tls;
    p3s_send(s, "+OK POP3 torture ready\r\n");
    p3s_expect(s, "CAPA");
    p3s_send(s, "+OK\r\nUSER\r\nTOP\r\nUIDL\r\n.\r\n");
    script_user_pass(s);
}

/* STLS on a transport the caller made, then USER/PASS (PASS pipelined). */
static void script_stls_user(p3s *s, scram_srv *scram, SSL_CTX *tls)
{
    p3s_send(s, "+OK POP3 torture ready\r\n");
    p3s_expect(s, "CAPA");
    p3s_send(s, "+OK\r\nSTLS\r\nPIPELINING\r\n.\r\n");
    script_stls(s, tls);
    p3s_expect(s, "CAPA");
    p3s_send(s, "+OK\r\nUSER\r\nPIPELINING\r\nTOP\r\nUIDL\r\n.\r\n");
    script_user_pass(s);
}

/* SOCKS5 with user/password (RFC 1928, RFC 1929) to mail.example by name,
 * then the plain session through the tunnel. */
static void script_socks5_user(p3s *s, scram_srv *scram, SSL_CTX *tls)
{
    p3s_expect_bytes(s, "\x05\x02\x00\x02", 4);
    p3s_send_bytes(s, "\x05\x02", 2);
    p3s_expect_bytes(s, "\x01\x05proxy\x06secret", 14);
    p3s_send_bytes(s, "\x01\x00", 2);
    p3s_expect_bytes(s, "\x05\x01\x00\x03\x0c" "mail.example" "\x00\x6e", 19);
    p3s_send_bytes(s, "\x05\x00\x00\x01\x7f\x00\x00\x01\x04\x38", 10);
    script_plain_user(s, scram, tls);
}

const scenario torture_scenarios[] = {
    {"STLS + SCRAM-SHA-256", POP3A_TLS_STLS, POP3A_MECH_SCRAM_SHA_256, 0, 0, script_stls_scram},
    {"POP3S + APOP", POP3A_TLS_IMPLICIT, POP3A_MECH_APOP, 0, 0, script_pop3s_apop},
    {"POP3S + SCRAM-SHA-256-PLUS", POP3A_TLS_IMPLICIT, POP3A_MECH_SCRAM_SHA_256, 0, 0,
     script_pop3s_scram_plus},
    {"plain + USER/PASS", POP3A_TLS_NONE, POP3A_MECH_USER, 0, 0, script_plain_user},
    {"SOCKS5 + USER/PASS", POP3A_TLS_NONE, POP3A_MECH_USER, 1, 0, script_socks5_user},
    {"attach + STLS + USER/PASS", POP3A_TLS_STLS, POP3A_MECH_USER, 0, 1, script_stls_user},
};

/* "<cmd> m" for each message in turn, each answered with `reply` (then the
 * message itself, dot-stuffed as stored, and its terminator when `body`). */
static void expect_per_message(p3s *s, const char *cmd, const char *reply, int body)
{
    char line[32];
    for (int m = 1; m <= N_MSGS; m++) {
        snprintf(line, sizeof line, "%s %d", cmd, m);
        p3s_expect(s, line);
        p3s_send(s, reply);
        if (body) {
            p3s_send(s, torture_bodies[m]);
            p3s_send(s, ".\r\n");
        }
    }
}

const size_t torture_n_scenarios = sizeof torture_scenarios / sizeof torture_scenarios[0];

void torture_script(p3s *s, scram_srv *scram, const scenario *sc, SSL_CTX *tls)
{
    sc->script_login(s, scram, tls);
    char line[128];
    p3s_expect(s, "LIST");
    p3s_send(s, "+OK 3 messages\r\n");
    for (int m = 1; m <= N_MSGS; m++) {
        snprintf(line, sizeof line, "%d %zu\r\n", m, strlen(torture_bodies[m]) - 1);
        p3s_send(s, line);
    }
    p3s_send(s, ".\r\n");
    p3s_expect(s, "UIDL");
    p3s_send(s, "+OK\r\n1 uid-one\r\n2 uid-two\r\n3 uid-three\r\n.\r\n");
    expect_per_message(s, "RETR", "+OK message follows\r\n", 1);
    p3s_expect(s, "TOP 1 0");
    p3s_send(s, "+OK\r\nFrom: a@example.org\r\nSubject: one\r\n\r\n.\r\n");
    expect_per_message(s, "DELE", "+OK marked\r\n", 0);
    p3s_expect(s, "QUIT");
    p3s_send(s, "+OK bye\r\n");
    p3s_close(s);
}
