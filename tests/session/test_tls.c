/*
 * TLS at the session level: pop3a_connect over TCP to the scripted server with
 * server-side TLS, implicit (RFC 8314) and STLS (RFC 2595), with certificates
 * made at start-up by tests/support/make-test-certs. Every refused certificate
 * must fail the connect with POP3A_ERR_TLS before a single credential is sent.
 */
#include <stdio.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "session_test.h"

#define GREETING "+OK POP3 ready\r\n"
#define CAPA_PLAIN_STLS "SASL PLAIN\r\nSTLS\r\nUSER\r\n"
#define PASSWORD "pw-never-in-clear"

typedef struct {
    tu_env e;
    tu_trace trace;
    tu_rec conn, login, quit;
    uint16_t port;
} tls_env;

static void on_close(pop3a_client *client, pop3a_status why, void *arg)
{
    tu_env *e = arg;
    e->close_calls++;
    e->close_why = why;
}

/* Options for `mode` that trust only the test CA, deny cleartext, trace. The
 * server listens on listen_addr (implicit TLS from the first byte when
 * implicit_cert names a certificate); with listen_addr NULL it waits for
 * p3s_pair (pop3a_attach). */
static void env_init(tls_env *t, pop3a_tls_mode mode, const char *listen_addr,
                     const char *implicit_cert)
{
    memset(t, 0, sizeof *t);
    tu_env_init(&t->e);
    ck_assert_int_eq(pop3a_options_set_tls(t->e.opts, mode, NULL), 0);
    ck_assert_int_eq(pop3a_options_allow_cleartext(t->e.opts, 0), 0);
    ck_assert_int_eq(pop3a_options_set_ca(t->e.opts, p3s_cert("ca.pem"), NULL), 0);
    ck_assert_int_eq(pop3a_options_set_trace(t->e.opts, tu_trace_cb, &t->trace), 0);
    if (implicit_cert) {
        SSL_CTX *ctx = p3s_tls_server_ctx(implicit_cert);
        ck_assert_ptr_nonnull(ctx);
        p3s_tls_implicit(t->e.srv, ctx);
        SSL_CTX_free(ctx);
    }
    if (listen_addr) {
        t->port = p3s_listen(t->e.srv, listen_addr);
        ck_assert_uint_ne(t->port, 0);
    }
    tu_rec_init(&t->conn, 0, NULL);
    tu_rec_init(&t->login, 1, NULL);
    tu_rec_init(&t->quit, 2, NULL);
}

/* Makes the client from the options (set them first) and connects to host. */
static void env_connect(tls_env *t, const char *host)
{
    t->e.client = pop3a_client_new(t->e.base, NULL, t->e.opts);
    ck_assert_ptr_nonnull(t->e.client);
    pop3a_client_set_close_cb(t->e.client, on_close, &t->e);
    ck_assert_ptr_nonnull(pop3a_connect(t->e.client, host, t->port, tu_done, &t->conn));
}

/* env_connect, then alice's pop3a_login (any mechanism) queued behind it. */
static void connect_and_login(tls_env *t, const char *host)
{
    env_connect(t, host);
    ck_assert_ptr_nonnull(pop3a_login(t->e.client, "alice", PASSWORD, 0, tu_done, &t->login));
}

/* Implicit TLS with the good leaf certificate, the server asking the client for
 * its certificate; the client has one to present when `present` is set. */
static void env_init_client_cert(tls_env *t, int present)
{
    env_init(t, POP3A_TLS_IMPLICIT, "127.0.0.1", "leaf");
    p3s_request_client_cert(t->e.srv, p3s_cert("ca.pem"));
    if (present)
        ck_assert_int_eq(pop3a_options_set_client_cert(t->e.opts, p3s_cert("client.pem"),
                                                       p3s_cert("client.key")),
                         0);
}

/* The connection is TLS and its certificate chain verified. */
#define ASSERT_VERIFIED_TLS(client)                                                         \
    do {                                                                                    \
        ck_assert_int_eq(pop3a_client_is_tls(client), 1);                                   \
        ck_assert_int_eq(pop3a_client_tls_verify_result(client), X509_V_OK);                \
    } while (0)

static void env_free(tls_env *t)
{
    tu_env_free(&t->e);
    tu_trace_clear(&t->trace);
}

/* The server side of STLS up to the handshake (RFC 2595 section 4). */
static void script_stls(p3s *s, const char *cert, const char *capa_before)
{
    SSL_CTX *ctx = p3s_tls_server_ctx(cert);
    ck_assert_ptr_nonnull(ctx);
    tu_script_greeting_capa(s, GREETING, capa_before);
    p3s_expect(s, "STLS");
    p3s_send(s, "+OK Begin TLS negotiation\r\n");
    p3s_start_tls(s, ctx);
    SSL_CTX_free(ctx);
}

/* Nothing that could carry a credential went out. */
static void assert_no_credentials(const tls_env *t)
{
    ck_assert_msg(!tu_trace_has(&t->trace, "> USER") && !tu_trace_has(&t->trace, "> PASS") &&
                      !tu_trace_has(&t->trace, "> AUTH") && !tu_trace_has(&t->trace, "> APOP"),
                  "trace:\n%s", t->trace.log);
}

/* ----------------------------------------------------------- good certs */

/* Implicit TLS to an IPv4 literal, an IPv6 literal and a name: the leaf names
 * all three. PLAIN is then allowed without allow_cleartext. */
START_TEST(implicit_tls_with_good_certificate_logs_in)
{
    static const char *const where[][2] = {
        {"127.0.0.1", "127.0.0.1"}, {"::1", "::1"}, {"127.0.0.1", "localhost"}};
    tls_env t;
    env_init(&t, POP3A_TLS_IMPLICIT, where[_i][0], "leaf");
    tu_script_greeting_capa(t.e.srv, GREETING, "SASL PLAIN\r\n");
    /* RFC 4616: NUL alice NUL pw-never-in-clear */
    p3s_expect(t.e.srv, "AUTH PLAIN AGFsaWNlAHB3LW5ldmVyLWluLWNsZWFy");
    p3s_send(t.e.srv, "+OK Logged in.\r\n");
    p3s_expect(t.e.srv, "QUIT");
    p3s_send(t.e.srv, "+OK bye\r\n");
    p3s_close(t.e.srv);
    connect_and_login(&t, where[_i][1]);
    WAIT_DONE(&t.e, t.conn);
    ASSERT_OK(t.conn);
    ASSERT_VERIFIED_TLS(t.e.client);
    ck_assert_ptr_nonnull(pop3a_quit(t.e.client, tu_done, &t.quit));
    WAIT_DONE_AND_SCRIPT(&t.e, t.quit);
    ASSERT_OK(t.login);
    ASSERT_OK(t.quit);
    ck_assert_int_eq(p3s_tls_handshake_done(t.e.srv), 1);
    ck_assert_ptr_null(strstr(t.trace.log, PASSWORD));
    env_free(&t);
}
END_TEST

/* STLS: CAPA is asked again under TLS and what the server said in clear is
 * forgotten (it may have been forged): PLAIN and STLS go, SCRAM-SHA-256 comes. */
START_TEST(stls_with_good_certificate_asks_capa_again)
{
    tls_env t;
    env_init(&t, POP3A_TLS_STLS, "127.0.0.1", NULL);
    script_stls(t.e.srv, "leaf", CAPA_PLAIN_STLS);
    p3s_expect(t.e.srv, "CAPA");
    p3s_send(t.e.srv, "+OK\r\nSASL SCRAM-SHA-256\r\nUIDL\r\n.\r\n");
    p3s_expect(t.e.srv, "QUIT");
    p3s_send(t.e.srv, "+OK bye\r\n");
    p3s_close(t.e.srv);
    env_connect(&t, "127.0.0.1");
    WAIT_DONE(&t.e, t.conn);
    ASSERT_ONCE_OK(t.conn);
    ASSERT_VERIFIED_TLS(t.e.client);
    const pop3a_capa *capa = pop3a_client_capa(t.e.client);
    ck_assert_uint_eq(pop3a_capa_mechs(capa), POP3A_MECH_SCRAM_SHA_256);
    ck_assert_uint_eq(pop3a_capa_flags(capa), POP3A_CAPA_SASL | POP3A_CAPA_UIDL);
    ck_assert_uint_eq(t.conn.capa_mechs, POP3A_MECH_SCRAM_SHA_256);
    ck_assert_int_eq(t.conn.capa_flags & POP3A_CAPA_STLS, 0);
    ck_assert_ptr_nonnull(pop3a_quit(t.e.client, tu_done, &t.quit));
    WAIT_DONE_AND_SCRIPT(&t.e, t.quit);
    ASSERT_OK(t.quit);
    env_free(&t);
}
END_TEST

/* STLS, then -ERR to CAPA under TLS (a server without CAPA there): the session
 * has no capabilities, none of those said in clear (which may be forged):
 * PIPELINING and PLAIN stay out. */
START_TEST(stls_then_capa_refused_keeps_nothing_said_in_clear)
{
    tls_env t;
    env_init(&t, POP3A_TLS_STLS, "127.0.0.1", NULL);
    script_stls(t.e.srv, "leaf", "PIPELINING\r\n" CAPA_PLAIN_STLS);
    p3s_expect(t.e.srv, "CAPA");
    p3s_send(t.e.srv, "-ERR no CAPA here\r\n");
    p3s_expect(t.e.srv, "QUIT");
    p3s_send(t.e.srv, "+OK bye\r\n");
    p3s_close(t.e.srv);
    env_connect(&t, "127.0.0.1");
    WAIT_DONE(&t.e, t.conn);
    ASSERT_ONCE_OK(t.conn);
    ASSERT_VERIFIED_TLS(t.e.client);
    const pop3a_capa *capa = pop3a_client_capa(t.e.client);
    ck_assert_uint_eq(pop3a_capa_flags(capa), 0);
    ck_assert_uint_eq(pop3a_capa_mechs(capa), 0);
    ck_assert_uint_eq(t.conn.capa_flags, 0);
    ck_assert_uint_eq(t.conn.capa_mechs, 0);
    ck_assert_ptr_nonnull(pop3a_quit(t.e.client, tu_done, &t.quit));
    WAIT_DONE_AND_SCRIPT(&t.e, t.quit);
    ASSERT_OK(t.quit);
    env_free(&t);
}
END_TEST

/* ------------------------------------------------------------ bad certs */

/* The host names the server: a DNS name is checked against the DNS names of the
 * certificate, an IP literal against its IP addresses (RFC 6125). */
static const struct {
    const char *cert, *listen, *host;
    long verify_result;
} bad_certs[] = {
    {"expired", "127.0.0.1", "127.0.0.1", X509_V_ERR_CERT_HAS_EXPIRED},
    {"wronghost", "127.0.0.1", "localhost", X509_V_ERR_HOSTNAME_MISMATCH},
    {"wronghost", "::1", "::1", X509_V_ERR_IP_ADDRESS_MISMATCH},
    {"selfsigned", "127.0.0.1", "127.0.0.1", X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT},
};

/* Each refused certificate, implicit (_i even) and STLS (_i odd): the connect
 * fails with POP3A_ERR_TLS and OpenSSL's reason, the queued login never goes
 * out. */
START_TEST(bad_certificate_fails_before_any_credential)
{
    const char *cert = bad_certs[_i / 2].cert;
    int stls = _i % 2;
    tls_env t;
    env_init(&t, stls ? POP3A_TLS_STLS : POP3A_TLS_IMPLICIT, bad_certs[_i / 2].listen,
             stls ? NULL : cert);
    if (stls)
        script_stls(t.e.srv, cert, CAPA_PLAIN_STLS);
    p3s_expect_eof(t.e.srv);
    connect_and_login(&t, bad_certs[_i / 2].host);
    WAIT_DONE_AND_SCRIPT(&t.e, t.login);
    ASSERT_ONCE_STATUS(t.conn, POP3A_ERR_TLS);
    ASSERT_ONCE_STATUS(t.login, POP3A_ERR_TLS);
    ck_assert_int_eq(pop3a_client_error(t.e.client), POP3A_ERR_TLS);
    ck_assert_int_eq(pop3a_client_tls_verify_result(t.e.client), bad_certs[_i / 2].verify_result);
    const char *reason = X509_verify_cert_error_string(bad_certs[_i / 2].verify_result);
    ck_assert_msg(strstr(pop3a_client_errstr(t.e.client), reason) != NULL,
                  "errstr \"%s\", want \"%s\"", pop3a_client_errstr(t.e.client), reason);
    ck_assert_int_eq(pop3a_client_is_tls(t.e.client), 0);
    ck_assert_int_eq(p3s_tls_handshake_done(t.e.srv), 0);
    /* Only "CAPA\r\nSTLS\r\n" in clear for STLS; nothing at all for implicit TLS. */
    ck_assert_uint_eq(p3s_bytes_received(t.e.srv), stls ? 12u : 0u);
    assert_no_credentials(&t);
    env_free(&t);
}
END_TEST

/* ------------------------------------------------------ pins and options */

static void leaf_pin(uint8_t pin[32])
{
    FILE *f = fopen(p3s_cert("leaf.sha256"), "r");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 32; i++) {
        unsigned byte;
        ck_assert_int_eq(fscanf(f, "%2x", &byte), 1);
        pin[i] = (uint8_t)byte;
    }
    fclose(f);
}

/* The right pin connects and logs in (USER/PASS is fine under TLS); a pin one
 * bit off fails with POP3A_ERR_TLS although the chain verified (the verify
 * result is still 0), and nothing is sent. */
START_TEST(pinned_certificate_must_match)
{
    int wrong = _i;
    uint8_t pin[32];
    leaf_pin(pin);
    if (wrong)
        pin[31] ^= 1;
    tls_env t;
    env_init(&t, POP3A_TLS_IMPLICIT, "127.0.0.1", "leaf");
    ck_assert_int_eq(pop3a_options_set_tls_pin_sha256(t.e.opts, pin), 0);
    if (!wrong) {
        tu_script_greeting_capa(t.e.srv, GREETING, "USER\r\n");
        script_user_pass(t.e.srv, "alice", "+OK\r\n", PASSWORD, "+OK Logged in.\r\n");
    }
    p3s_expect_eof(t.e.srv);
    connect_and_login(&t, "127.0.0.1");
    WAIT_DONE(&t.e, t.login);
    if (!wrong) {
        ASSERT_OK(t.conn);
        ASSERT_OK(t.login);
        ck_assert_int_eq(pop3a_client_is_tls(t.e.client), 1);
        pop3a_client_free(t.e.client);
        t.e.client = NULL;
        ck_assert(tu_trace_has(&t.trace, "> PASS ****"));
    } else {
        ASSERT_STATUS(t.conn, POP3A_ERR_TLS);
        ASSERT_ONCE_STATUS(t.login, POP3A_ERR_TLS);
        ck_assert_int_eq(pop3a_client_tls_verify_result(t.e.client), X509_V_OK);
        ck_assert_msg(strstr(pop3a_client_errstr(t.e.client), "pin") != NULL, "errstr: %s",
                      pop3a_client_errstr(t.e.client));
        ck_assert_uint_eq(p3s_bytes_received(t.e.srv), 0);
        assert_no_credentials(&t);
    }
    WAIT_SCRIPT(&t.e);
    SCRIPT_DONE(t.e.srv);
    env_free(&t);
}
END_TEST

/* insecure_skip_verify: a self-signed certificate and no trust anchor at all. */
START_TEST(insecure_skip_verify_accepts_self_signed)
{
    tls_env t;
    env_init(&t, POP3A_TLS_IMPLICIT, "127.0.0.1", "selfsigned");
    ck_assert_int_eq(pop3a_options_set_tls_insecure_skip_verify(t.e.opts, 1), 0);
    tu_script_greeting_capa(t.e.srv, GREETING, "USER\r\n");
    env_connect(&t, "127.0.0.1");
    WAIT_DONE_AND_SCRIPT(&t.e, t.conn);
    ASSERT_OK(t.conn);
    ck_assert_int_eq(pop3a_client_is_tls(t.e.client), 1);
    env_free(&t);
}
END_TEST

/* verify_name: connect to 127.0.0.1, check the certificate for example.invalid. */
START_TEST(verify_name_overrides_the_host)
{
    tls_env t;
    env_init(&t, POP3A_TLS_IMPLICIT, "127.0.0.1", "wronghost");
    ck_assert_int_eq(pop3a_options_set_verify_name(t.e.opts, "example.invalid"), 0);
    tu_script_greeting_capa(t.e.srv, GREETING, "USER\r\n");
    env_connect(&t, "127.0.0.1");
    WAIT_DONE_AND_SCRIPT(&t.e, t.conn);
    ASSERT_OK(t.conn);
    ck_assert_int_eq(pop3a_client_tls_verify_result(t.e.client), X509_V_OK);
    env_free(&t);
}
END_TEST

/* ---------------------------------------------------------- STLS refusals */

/* STLS required: no STLS in CAPA (_i 0) or -ERR to STLS (_i 1) is
 * POP3A_ERR_TLS_REQUIRED and the session never goes on in clear. */
START_TEST(stls_missing_or_refused_is_tls_required)
{
    tls_env t;
    env_init(&t, POP3A_TLS_STLS, "127.0.0.1", NULL);
    if (_i == 0) {
        tu_script_greeting_capa(t.e.srv, GREETING, "SASL PLAIN\r\nUSER\r\n");
    } else {
        tu_script_greeting_capa(t.e.srv, GREETING, CAPA_PLAIN_STLS);
        p3s_expect(t.e.srv, "STLS");
        p3s_send(t.e.srv, "-ERR TLS not available right now\r\n");
    }
    p3s_expect_eof(t.e.srv);
    connect_and_login(&t, "127.0.0.1");
    WAIT_DONE_AND_SCRIPT(&t.e, t.login);
    ASSERT_STATUS(t.conn, POP3A_ERR_TLS_REQUIRED);
    ASSERT_ONCE_STATUS(t.login, POP3A_ERR_TLS_REQUIRED);
    ck_assert_uint_eq(p3s_bytes_unread(t.e.srv), 0);
    assert_no_credentials(&t);
    env_free(&t);
}
END_TEST

/* Bytes after the "+OK" to STLS in the same write were not protected by TLS
 * (curl CVE-2021-22947): a protocol error, and no handshake is even tried. */
START_TEST(bytes_injected_after_stls_reply_are_a_protocol_error)
{
    tls_env t;
    env_init(&t, POP3A_TLS_STLS, "127.0.0.1", NULL);
    SSL_CTX *ctx = p3s_tls_server_ctx("leaf");
    tu_script_greeting_capa(t.e.srv, GREETING, CAPA_PLAIN_STLS);
    p3s_expect(t.e.srv, "STLS");
    p3s_send(t.e.srv, "+OK Begin TLS\r\n+OK\r\n");
    p3s_start_tls(t.e.srv, ctx);
    SSL_CTX_free(ctx);
    p3s_expect_eof(t.e.srv);
    connect_and_login(&t, "127.0.0.1");
    WAIT_DONE_AND_SCRIPT(&t.e, t.login);
    ASSERT_STATUS(t.conn, POP3A_ERR_PROTOCOL);
    ck_assert_int_eq(p3s_tls_handshake_done(t.e.srv), 0);
    ck_assert_ptr_null(p3s_tls_error(t.e.srv));         /* not even a ClientHello came */
    ck_assert_uint_eq(p3s_bytes_received(t.e.srv), 12); /* CAPA, STLS */
    assert_no_credentials(&t);
    env_free(&t);
}
END_TEST

/* ------------------------------------------------------- TLS shutdown */

/* +OK to QUIT, then the server drops the connection without close_notify
 * (common): the QUIT succeeded and the close is not an error. _i: implicit/STLS. */
START_TEST(dirty_close_after_quit_is_not_an_error)
{
    tls_env t;
    env_init(&t, _i ? POP3A_TLS_STLS : POP3A_TLS_IMPLICIT, "127.0.0.1", _i ? NULL : "leaf");
    if (_i) {
        script_stls(t.e.srv, "leaf", CAPA_PLAIN_STLS);
        p3s_expect(t.e.srv, "CAPA");
        p3s_send(t.e.srv, "+OK\r\nUSER\r\n.\r\n");
    } else {
        tu_script_greeting_capa(t.e.srv, GREETING, "USER\r\n");
    }
    p3s_expect(t.e.srv, "QUIT");
    p3s_send(t.e.srv, "+OK bye\r\n");
    p3s_tls_close_dirty(t.e.srv);
    env_connect(&t, "127.0.0.1");
    ck_assert_ptr_nonnull(pop3a_quit(t.e.client, tu_done, &t.quit));
    WAIT_DONE(&t.e, t.quit);
    WAIT_COUNT(&t.e, &t.e.close_calls, 1);
    WAIT_SCRIPT(&t.e);
    SCRIPT_DONE(t.e.srv);
    ASSERT_OK(t.conn);
    ASSERT_ONCE_OK(t.quit);
    ck_assert_str_eq(t.quit.text, "bye");
    run_for(t.e.base, 30);
    ck_assert_int_eq(t.e.close_calls, 1);
    ck_assert_msg(t.e.close_why == POP3A_OK, "close callback: %s",
                  pop3a_status_name(t.e.close_why));
    env_free(&t);
}
END_TEST

/* A connection cut without close_notify in the middle of RETR: the reply is
 * incomplete (no "."), an EOF, not a TLS problem; no final chunk. (OpenSSL 3
 * calls it "unexpected eof while reading", an SSL error, unless told to
 * ignore it.) */
START_TEST(dirty_close_mid_retr_is_eof_without_final)
{
    tls_env t;
    tu_rec retr;
    tu_rec_init(&retr, 3, NULL);
    env_init(&t, POP3A_TLS_IMPLICIT, "127.0.0.1", "leaf");
    tu_script_greeting_capa(t.e.srv, GREETING, "SASL PLAIN\r\n");
    p3s_expect_prefix(t.e.srv, "AUTH PLAIN ");
    p3s_send(t.e.srv, "+OK\r\n");
    p3s_expect(t.e.srv, "RETR 1");
    p3s_send(t.e.srv, "+OK 500 octets\r\nSubject: cut\r\n\r\nfirst line\r\n");
    p3s_tls_close_dirty(t.e.srv);
    connect_and_login(&t, "127.0.0.1");
    ck_assert_ptr_nonnull(pop3a_retr(t.e.client, 1, tu_chunk, tu_done, &retr));
    WAIT_DONE_AND_SCRIPT(&t.e, retr);
    ASSERT_OK(t.login);
    ASSERT_ONCE(retr);
    ck_assert_msg(retr.status == POP3A_ERR_EOF, "retr: %s, errstr \"%s\"",
                  pop3a_status_name(retr.status), pop3a_client_errstr(t.e.client));
    ck_assert_int_eq(retr.final_count, 0);
    ck_assert_int_eq(t.e.close_calls, 1);
    ck_assert_int_eq(t.e.close_why, POP3A_ERR_EOF);
    tu_rec_clear(&retr);
    env_free(&t);
}
END_TEST

/* ------------------------------------------------- client certificates */

/* The server asks for a client certificate: presented when set (the server
 * verifies it), then SASL EXTERNAL with the user name as authorization
 * identity (RFC 4422 appendix A). */
START_TEST(client_certificate_is_presented_and_external_logs_in)
{
    tls_env t;
    env_init_client_cert(&t, 1);
    tu_script_greeting_capa(t.e.srv, GREETING, "SASL EXTERNAL PLAIN\r\n");
    p3s_expect(t.e.srv, "AUTH EXTERNAL YWxpY2U="); /* "alice" */
    p3s_send(t.e.srv, "+OK Logged in.\r\n");
    env_connect(&t, "127.0.0.1");
    ck_assert_ptr_nonnull(
        pop3a_login(t.e.client, "alice", "", POP3A_MECH_EXTERNAL, tu_done, &t.login));
    WAIT_DONE_AND_SCRIPT(&t.e, t.login);
    ASSERT_OK(t.conn);
    ASSERT_OK(t.login);
    ck_assert_int_eq(p3s_tls_client_verified(t.e.srv), 1);
    ck_assert_str_eq(p3s_tls_client_subject(t.e.srv), "pop3a-test-client");
    env_free(&t);
}
END_TEST

/* SASL EXTERNAL with an empty authorization identity: "AUTH EXTERNAL =" (RFC
 * 5034 section 4: "=" is the empty initial response) asks to be logged in as
 * the certificate says (RFC 4422 appendix A). */
START_TEST(external_with_empty_identity_sends_equals)
{
    tls_env t;
    env_init_client_cert(&t, 1);
    tu_script_greeting_capa(t.e.srv, GREETING, "SASL EXTERNAL\r\n");
    p3s_expect(t.e.srv, "AUTH EXTERNAL =");
    p3s_send(t.e.srv, "+OK Logged in.\r\n");
    env_connect(&t, "127.0.0.1");
    pop3a_future *f = pop3a_login(t.e.client, "", "", POP3A_MECH_EXTERNAL, tu_done, &t.login);
    ck_assert_msg(f != NULL, "pop3a_login(user \"\", EXTERNAL): %s",
                  pop3a_status_name(pop3a_client_error(t.e.client)));
    WAIT_DONE_AND_SCRIPT(&t.e, t.login);
    ASSERT_OK(t.login);
    env_free(&t);
}
END_TEST

/* No client certificate while the server requires one: the handshake fails. */
START_TEST(missing_client_certificate_fails_the_handshake)
{
    tls_env t;
    env_init_client_cert(&t, 0);
    tu_script_greeting_capa(t.e.srv, GREETING, "SASL EXTERNAL\r\n");
    env_connect(&t, "127.0.0.1");
    ck_assert_ptr_nonnull(
        pop3a_login(t.e.client, "alice", "", POP3A_MECH_EXTERNAL, tu_done, &t.login));
    WAIT_DONE(&t.e, t.login);
    ASSERT_ONCE_STATUS(t.conn, POP3A_ERR_TLS);
    ASSERT_ONCE_STATUS(t.login, POP3A_ERR_TLS);
    ck_assert_int_eq(p3s_tls_client_verified(t.e.srv), 0);
    ck_assert_ptr_nonnull(p3s_tls_error(t.e.srv));
    ck_assert_uint_eq(p3s_bytes_received(t.e.srv), 0);
    env_free(&t);
}
END_TEST

/* ------------------------------------------------ a caller's transport */

static void on_caller_tls_event(struct bufferevent *bev, short what, void *arg)
{
    int *state = arg;
    *state = (what & BEV_EVENT_CONNECTED) ? 1 : -1;
}

/* What a daemon that makes its own TLS does: a context trusting the test CA,
 * verifying the chain but told no host name (optionally only SNI), a TLS
 * filter over the scripted server's socket (implicit TLS with `cert`), and the
 * handshake finished before pop3a_attach. */
static struct bufferevent *caller_tls_bev(tls_env *t, const char *cert, const char *sni)
{
    SSL_CTX *server = p3s_tls_server_ctx(cert);
    ck_assert_ptr_nonnull(server);
    p3s_tls_implicit(t->e.srv, server);
    SSL_CTX_free(server);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(SSL_CTX_load_verify_locations(ctx, p3s_cert("ca.pem"), NULL), 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL *ssl = SSL_new(ctx);
    SSL_CTX_free(ctx);
    ck_assert_ptr_nonnull(ssl);
    if (sni)
        ck_assert_int_eq(SSL_set_tlsext_host_name(ssl, sni), 1);
    struct bufferevent *bev =
        bufferevent_openssl_filter_new(t->e.base, p3s_pair(t->e.srv), ssl,
                                       BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
    ck_assert_ptr_nonnull(bev);
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    int state = 0;
    bufferevent_setcb(bev, NULL, NULL, on_caller_tls_event, &state);
    bufferevent_enable(bev, EV_READ);
    ck_assert_int_eq(run_until(t->e.base, &state, WAIT_MS), 0);
    ck_assert_int_eq(state, 1);
    bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
    return bev;
}

/* Attaches bev with the options as they are (set them first). */
static void env_attach(tls_env *t, struct bufferevent *bev)
{
    t->e.client = pop3a_client_new(t->e.base, NULL, t->e.opts);
    ck_assert_ptr_nonnull(t->e.client);
    pop3a_client_set_close_cb(t->e.client, on_close, &t->e);
    ck_assert_ptr_nonnull(pop3a_attach(t->e.client, bev, tu_done, &t->conn));
    ck_assert_ptr_nonnull(pop3a_login(t->e.client, "alice", PASSWORD, 0, tu_done, &t->login));
}

/* A caller's TLS transport whose CA-valid certificate names another host: the
 * name from the options (_i 0: verify_name; _i 1: none, the caller's SNI) is
 * checked after the handshake, and the connect fails with POP3A_ERR_TLS
 * before the greeting is even read. */
START_TEST(attached_tls_with_certificate_for_another_name_is_refused)
{
    tls_env t;
    env_init(&t, POP3A_TLS_IMPLICIT, NULL, NULL);
    if (_i == 0)
        ck_assert_int_eq(pop3a_options_set_verify_name(t.e.opts, "localhost"), 0);
    struct bufferevent *bev = caller_tls_bev(&t, "wronghost", _i == 0 ? NULL : "localhost");
    tu_script_greeting_capa(t.e.srv, GREETING, "SASL PLAIN\r\nUSER\r\n");
    env_attach(&t, bev);
    WAIT_DONE(&t.e, t.login);
    ASSERT_ONCE_STATUS(t.conn, POP3A_ERR_TLS);
    ASSERT_ONCE_STATUS(t.login, POP3A_ERR_TLS);
    ck_assert_int_eq(pop3a_client_tls_verify_result(t.e.client), X509_V_ERR_HOSTNAME_MISMATCH);
    ck_assert_msg(strstr(t.conn.text, "localhost") != NULL, "text: %s", t.conn.text);
    ck_assert_int_eq(pop3a_client_is_tls(t.e.client), 0);
    ck_assert_uint_eq(p3s_bytes_received(t.e.srv), 0);
    assert_no_credentials(&t);
    env_free(&t);
}
END_TEST

/* Nothing names the server (no verify_name, no SNI, no host on the caller's
 * SSL): there is nothing to check the certificate against, so it is refused. */
START_TEST(attached_tls_without_any_name_is_refused)
{
    tls_env t;
    env_init(&t, POP3A_TLS_IMPLICIT, NULL, NULL);
    struct bufferevent *bev = caller_tls_bev(&t, "leaf", NULL);
    tu_script_greeting_capa(t.e.srv, GREETING, "USER\r\n");
    env_attach(&t, bev);
    WAIT_DONE(&t.e, t.login);
    ASSERT_ONCE_STATUS(t.conn, POP3A_ERR_TLS);
    ck_assert_msg(strstr(t.conn.text, "no host name") != NULL, "text: %s", t.conn.text);
    ck_assert_uint_eq(p3s_bytes_received(t.e.srv), 0);
    env_free(&t);
}
END_TEST

/* The name matches (_i 0: verify_name "localhost" on the leaf; _i 1: the
 * caller's SNI "example.invalid" on the wronghost certificate; _i 2:
 * verify_name "localhost.", the same DNS name): the session runs under TLS
 * and PLAIN needs no allow_cleartext. */
START_TEST(attached_tls_with_matching_name_logs_in)
{
    static const char *const verify_name[] = {"localhost", NULL, "localhost."};
    tls_env t;
    env_init(&t, POP3A_TLS_IMPLICIT, NULL, NULL);
    if (verify_name[_i])
        ck_assert_int_eq(pop3a_options_set_verify_name(t.e.opts, verify_name[_i]), 0);
    struct bufferevent *bev =
        caller_tls_bev(&t, _i != 1 ? "leaf" : "wronghost", _i != 1 ? NULL : "example.invalid");
    tu_script_greeting_capa(t.e.srv, GREETING, "SASL PLAIN\r\n");
    p3s_expect(t.e.srv, "AUTH PLAIN AGFsaWNlAHB3LW5ldmVyLWluLWNsZWFy");
    p3s_send(t.e.srv, "+OK Logged in.\r\n");
    env_attach(&t, bev);
    WAIT_DONE_AND_SCRIPT(&t.e, t.login);
    ASSERT_ONCE_OK(t.conn);
    ASSERT_ONCE_OK(t.login);
    ASSERT_VERIFIED_TLS(t.e.client);
    env_free(&t);
}
END_TEST

/* A plain bufferevent while the options say implicit TLS: refused with
 * POP3A_ERR_TLS_REQUIRED before a byte is read or written, and the
 * bufferevent is freed (the library owns it). */
START_TEST(attached_plain_transport_with_implicit_tls_is_refused)
{
    tls_env t;
    env_init(&t, POP3A_TLS_IMPLICIT, NULL, NULL);
    tu_script_greeting_capa(t.e.srv, GREETING, "USER\r\n");
    env_attach(&t, p3s_pair(t.e.srv));
    WAIT_DONE(&t.e, t.login);
    ASSERT_ONCE_STATUS(t.conn, POP3A_ERR_TLS_REQUIRED);
    ASSERT_ONCE_STATUS(t.login, POP3A_ERR_TLS_REQUIRED);
    WAIT_PEER_CLOSED(&t.e, t.e.srv);
    ck_assert_uint_eq(p3s_bytes_received(t.e.srv), 0);
    assert_no_credentials(&t);
    env_free(&t);
}
END_TEST

static Suite *tls_suite(void)
{
    Suite *s = suite_create("session_tls");
    TCase *tc = tcase_create("certificates");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, implicit_tls_with_good_certificate_logs_in, 0, 3);
    tcase_add_test(tc, stls_with_good_certificate_asks_capa_again);
    tcase_add_test(tc, stls_then_capa_refused_keeps_nothing_said_in_clear);
    tcase_add_loop_test(tc, bad_certificate_fails_before_any_credential, 0,
                        2 * (int)(sizeof bad_certs / sizeof bad_certs[0]));
    tcase_add_loop_test(tc, pinned_certificate_must_match, 0, 2);
    tcase_add_test(tc, insecure_skip_verify_accepts_self_signed);
    tcase_add_test(tc, verify_name_overrides_the_host);
    suite_add_tcase(s, tc);

    tc = tcase_create("attach");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, attached_tls_with_certificate_for_another_name_is_refused, 0, 2);
    tcase_add_test(tc, attached_tls_without_any_name_is_refused);
    tcase_add_loop_test(tc, attached_tls_with_matching_name_logs_in, 0, 3);
    tcase_add_test(tc, attached_plain_transport_with_implicit_tls_is_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("stls");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, stls_missing_or_refused_is_tls_required, 0, 2);
    tcase_add_test(tc, bytes_injected_after_stls_reply_are_a_protocol_error);
    suite_add_tcase(s, tc);

    tc = tcase_create("shutdown");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, dirty_close_after_quit_is_not_an_error, 0, 2);
    tcase_add_test(tc, dirty_close_mid_retr_is_eof_without_final);
    suite_add_tcase(s, tc);

    tc = tcase_create("client_cert");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, client_certificate_is_presented_and_external_logs_in);
    tcase_add_test(tc, external_with_empty_identity_sends_equals);
    tcase_add_test(tc, missing_client_certificate_fails_the_handshake);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite_with_certs(tls_suite, "test_tls");
}
