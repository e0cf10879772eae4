/*
 * Unit tests of lib/security/tls.c and lib/security/options.c: real TLS handshakes in memory (an
 * OpenSSL server and the library's client SSL joined by a BIO pair), against
 * certificates made at start-up by tests/support/make-test-certs.
 *
 * The script is found through argv[1], else $POP3A_MAKE_TEST_CERTS, else next
 * to this source file. Certificates go to $POP3A_TEST_CERT_DIR when set (kept),
 * else to a fresh temporary directory (removed at exit).
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "options.h"
#include "tls.h"

static char cert_dir[4096];

static const char *cert_path(const char *name)
{
    static char path[2][4200];
    static int which;
    which ^= 1;
    snprintf(path[which], sizeof path[which], "%s/%s", cert_dir, name);
    return path[which];
}

/* ------------------------------------------------------------ test server */

typedef struct {
    char sni[256]; /* the server name the client sent, "" for none */
    int sni_calls;
} server_seen;

static int record_sni(SSL *ssl, int *alert, void *arg)
{
    server_seen *seen = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    seen->sni_calls++;
    snprintf(seen->sni, sizeof seen->sni, "%s", name != NULL ? name : "");
    return SSL_TLSEXT_ERR_OK;
}

/* A server presenting <name>.pem/<name>.key, at most TLS version max (0 = any). */
static SSL_CTX *server_ctx(const char *name, int max_version, server_seen *seen)
{
    char pem[64], key[64];
    snprintf(pem, sizeof pem, "%s.pem", name);
    snprintf(key, sizeof key, "%s.key", name);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(SSL_CTX_use_certificate_chain_file(ctx, cert_path(pem)), 1);
    ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(ctx, cert_path(key), SSL_FILETYPE_PEM), 1);
    if (max_version != 0)
        ck_assert_int_eq(SSL_CTX_set_max_proto_version(ctx, max_version), 1);
    if (seen != NULL) {
        memset(seen, 0, sizeof *seen);
        SSL_CTX_set_tlsext_servername_callback(ctx, record_sni);
        SSL_CTX_set_tlsext_servername_arg(ctx, seen);
    }
    return ctx;
}

/* Options trusting only the test CA. */
static void test_options(pop3a_options *o)
{
    pop3a_options_defaults(o);
    ck_assert_int_eq(pop3a_options_set_ca(o, cert_path("ca.pem"), NULL), 0);
}

/* One in-memory connection: the library's client SSL against a server SSL. */
typedef struct {
    SSL_CTX *client_ctx;
    SSL *client, *server;
    int client_failed;   /* handshake failed on the client side */
    int server_failed;
    char reason[512];    /* pop3a_tls_describe_failure right after a client failure */
    char err[512];       /* errors from pop3a_tls_* setup calls */
} conn;

static int step_failed(SSL *ssl, int rc)
{
    if (rc == 1)
        return 0;
    int e = SSL_get_error(ssl, rc);
    return e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
}

/* Drives both ends until both finish or one fails. */
static void drive_handshake(conn *c)
{
    int client_done = 0, server_done = 0;
    for (int round = 0; round < 50 && !(client_done && server_done); round++) {
        if (!client_done) {
            int rc = SSL_do_handshake(c->client);
            if (step_failed(c->client, rc)) {
                c->client_failed = 1;
                pop3a_tls_describe_failure(c->client, ERR_peek_error(), c->reason,
                                           sizeof c->reason);
                return;
            }
            client_done = rc == 1;
        }
        if (!server_done) {
            int rc = SSL_do_handshake(c->server);
            if (step_failed(c->server, rc)) {
                c->server_failed = 1;
                ERR_clear_error();
                return;
            }
            server_done = rc == 1;
        }
    }
    ck_assert_msg(client_done && server_done, "handshake did not finish");
}

/* Joins c->client to a new SSL of server with a BIO pair; runs the handshake. */
static void pair_up(conn *c, SSL_CTX *server)
{
    c->server = SSL_new(server);
    ck_assert_ptr_nonnull(c->server);
    BIO *client_bio = NULL, *server_bio = NULL;
    ck_assert_int_eq(BIO_new_bio_pair(&client_bio, 0, &server_bio, 0), 1);
    SSL_set_bio(c->client, client_bio, client_bio);
    SSL_set_bio(c->server, server_bio, server_bio);
    SSL_set_connect_state(c->client);
    SSL_set_accept_state(c->server);
    drive_handshake(c);
}

/* Builds the client from o for host and runs the handshake against server. */
static void connect_to(conn *c, SSL_CTX *server, const pop3a_options *o, const char *host)
{
    memset(c, 0, sizeof *c);
    c->client_ctx = pop3a_tls_ctx_new(o, c->err, sizeof c->err);
    ck_assert_msg(c->client_ctx != NULL, "ctx: %s", c->err);
    c->client = pop3a_tls_ssl_new(c->client_ctx, o, host, c->err, sizeof c->err);
    ck_assert_msg(c->client != NULL, "ssl: %s", c->err);
    pair_up(c, server);
}

static void conn_free(conn *c)
{
    SSL_free(c->client);
    SSL_free(c->server);
    SSL_CTX_free(c->client_ctx);
}

/* The handshake worked and pop3a_tls_check_peer accepts the server. */
static void expect_accepted(conn *c, const pop3a_options *o)
{
    ck_assert_msg(!c->client_failed, "client failed: %s", c->reason);
    ck_assert(!c->server_failed);
    char err[512] = "";
    ck_assert_msg(pop3a_tls_check_peer(c->client, o, err, sizeof err) == 0, "check: %s", err);
}

/* The client refused the handshake with a verify error `code`. */
static void expect_verify_failure(conn *c, long code)
{
    ck_assert_msg(c->client_failed, "the client accepted a bad certificate");
    ck_assert_int_eq(SSL_get_verify_result(c->client), code);
    ck_assert_msg(strstr(c->reason, X509_verify_cert_error_string(code)) != NULL,
                  "reason \"%s\"", c->reason);
}

static void hex_to_pin(const char *hex, uint8_t pin[32])
{
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;
        ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
        pin[i] = (uint8_t)v;
    }
}

/* leaf.sha256 was written by the script with the openssl CLI. */
static void leaf_pin(uint8_t pin[32])
{
    char hex[80] = "";
    FILE *f = fopen(cert_path("leaf.sha256"), "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(hex, sizeof hex, f));
    fclose(f);
    ck_assert_uint_ge(strlen(hex), 64);
    hex_to_pin(hex, pin);
}

/* SHA-256 over a PEM certificate's DER, computed here without X509_digest. */
static void pem_sha256(const char *name, uint8_t out[32])
{
    FILE *f = fopen(cert_path(name), "r");
    ck_assert_ptr_nonnull(f);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_ptr_nonnull(x);
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    ck_assert_int_gt(len, 0);
    unsigned int mdlen = 0;
    ck_assert_int_eq(EVP_Digest(der, (size_t)len, out, &mdlen, EVP_sha256(), NULL), 1);
    OPENSSL_free(der);
    X509_free(x);
}

/* One handshake set-up: a server presenting a test certificate, the client's
 * options (trusting the test CA unless the test changes them) and the
 * connection between them. */
typedef struct {
    server_seen seen;
    SSL_CTX *server;
    pop3a_options o;
    conn c;
} trial;

/* cert: the server's <cert>.pem/.key; max_version as for server_ctx. */
static void trial_start(trial *t, const char *cert, int max_version)
{
    memset(t, 0, sizeof *t);
    t->server = server_ctx(cert, max_version, &t->seen);
    test_options(&t->o);
}

/* Connects (again) to the trial's server as `host`, with its options now. */
static void trial_connect(trial *t, const char *host)
{
    conn_free(&t->c);
    connect_to(&t->c, t->server, &t->o, host);
}

static void trial_end(trial *t)
{
    conn_free(&t->c);
    SSL_CTX_free(t->server);
    pop3a_options_release(&t->o);
}

/* pop3a_tls_check_peer refuses the server; its message is left in err. */
static void expect_peer_refused(trial *t, char *err, size_t cap)
{
    err[0] = '\0';
    ck_assert_int_eq(pop3a_tls_check_peer(t->c.client, &t->o, err, cap), -1);
}

/* --------------------------------------------------------- verification */

/* RFC 6066 section 3: no SNI for an address; the address is checked against
 * the iPAddress SANs. */
static const struct {
    const char *host;
    const char *want_sni;
} good_hosts[] = {
    {"localhost", "localhost"},
    {"127.0.0.1", ""},
    {"::1", ""},
};

START_TEST(good_certificate_is_accepted)
{
    trial t;
    trial_start(&t, "leaf", 0);
    trial_connect(&t, good_hosts[_i].host);
    expect_accepted(&t.c, &t.o);
    ck_assert_int_eq(SSL_get_verify_result(t.c.client), X509_V_OK);
    ck_assert_msg(strcmp(t.seen.sni, good_hosts[_i].want_sni) == 0, "%s: SNI \"%s\", want \"%s\"",
                  good_hosts[_i].host, t.seen.sni, good_hosts[_i].want_sni);
    ck_assert_int_ge(SSL_version(t.c.client), TLS1_2_VERSION);
    trial_end(&t);
}
END_TEST

START_TEST(trailing_dot_is_stripped_from_sni)
{
    trial t;
    trial_start(&t, "leaf", 0);
    trial_connect(&t, "localhost.");
    ck_assert_str_eq(t.seen.sni, "localhost");
    trial_end(&t);
}
END_TEST

/* Each bad server is refused in the handshake with its own verify error. */
static const struct {
    const char *what;
    const char *cert;
    const char *host;
    int trust_test_ca; /* 0: no CA option, so the system store */
    long code;
} bad_servers[] = {
    {"certificate for another host", "wronghost", "localhost", 1, X509_V_ERR_HOSTNAME_MISMATCH},
    {"certificate for another IP", "leaf", "127.0.0.2", 1, X509_V_ERR_IP_ADDRESS_MISMATCH},
    {"expired certificate", "expired", "localhost", 1, X509_V_ERR_CERT_HAS_EXPIRED},
    {"self-signed certificate", "selfsigned", "localhost", 1,
     X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT},
    /* The system store does not know the test CA. */
    {"default trust store", "leaf", "localhost", 0,
     X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
};

START_TEST(bad_certificate_is_refused)
{
    trial t;
    trial_start(&t, bad_servers[_i].cert, 0);
    if (!bad_servers[_i].trust_test_ca) {
        pop3a_options_release(&t.o);
        pop3a_options_defaults(&t.o);
    }
    trial_connect(&t, bad_servers[_i].host);
    ck_assert_msg(t.c.client_failed, "%s: the client accepted it", bad_servers[_i].what);
    expect_verify_failure(&t.c, bad_servers[_i].code);
    trial_end(&t);
}
END_TEST

/* The verify name replaces the host for the check and for SNI. */
START_TEST(verify_name_overrides_the_host)
{
    trial t;
    trial_start(&t, "leaf", 0);
    ck_assert_int_eq(pop3a_options_set_verify_name(&t.o, "localhost"), 0);
    trial_connect(&t, "192.0.2.7");
    expect_accepted(&t.c, &t.o);
    ck_assert_str_eq(t.seen.sni, "localhost");

    ck_assert_int_eq(pop3a_options_set_verify_name(&t.o, "mail.example.invalid"), 0);
    trial_connect(&t, "localhost");
    expect_verify_failure(&t.c, X509_V_ERR_HOSTNAME_MISMATCH);
    trial_end(&t);
}
END_TEST

/* RFC 8996: the default context offers nothing below TLS 1.2. A client that
 * allows TLS 1.1 gets through to the same server, so the refusal is ours. */
START_TEST(server_limited_to_tls11_is_refused)
{
    trial t;
    trial_start(&t, "leaf", TLS1_1_VERSION);
    SSL_CTX_set_security_level(t.server, 0);
    t.c.client_ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_security_level(t.c.client_ctx, 0);
    ck_assert_int_eq(SSL_CTX_set_min_proto_version(t.c.client_ctx, TLS1_1_VERSION), 1);
    t.c.client = SSL_new(t.c.client_ctx);
    pair_up(&t.c, t.server);
    ck_assert_msg(!t.c.client_failed && !t.c.server_failed, "control handshake failed");
    ck_assert_int_eq(SSL_version(t.c.client), TLS1_1_VERSION);

    trial_connect(&t, "localhost");
    ck_assert(t.c.client_failed || t.c.server_failed);
    ck_assert_int_eq(SSL_get_min_proto_version(t.c.client), TLS1_2_VERSION);
    trial_end(&t);
}
END_TEST

/* -------------------------------------------------------------------- pins */

/* Pins the client to the leaf certificate's SHA-256, with the last bit
 * flipped when `spoil` is set. */
static void pin_leaf(trial *t, int spoil)
{
    uint8_t pin[32];
    leaf_pin(pin);
    if (spoil)
        pin[31] ^= 0x01;
    ck_assert_int_eq(pop3a_options_set_tls_pin_sha256(&t->o, pin), 0);
}

START_TEST(matching_pin_is_accepted)
{
    trial t;
    trial_start(&t, "leaf", 0);
    pin_leaf(&t, 0);
    trial_connect(&t, "localhost");
    expect_accepted(&t.c, &t.o);
    trial_end(&t);
}
END_TEST

START_TEST(mismatching_pin_is_refused)
{
    trial t;
    trial_start(&t, "leaf", 0);
    pin_leaf(&t, 1);
    trial_connect(&t, "localhost");
    ck_assert(!t.c.client_failed); /* the chain is fine; the pin is checked after */
    char err[256];
    expect_peer_refused(&t, err, sizeof err);
    ck_assert_ptr_nonnull(strstr(err, "pinned"));
    trial_end(&t);
}
END_TEST

/* ---------------------------------------------------------------- insecure */

START_TEST(insecure_skip_verify_accepts_self_signed)
{
    trial t;
    trial_start(&t, "selfsigned", 0);
    ck_assert_int_eq(pop3a_options_set_tls_insecure_skip_verify(&t.o, 1), 0);
    trial_connect(&t, "localhost");
    expect_accepted(&t.c, &t.o);
    ck_assert_str_eq(t.seen.sni, "localhost"); /* SNI still sent */
    trial_end(&t);
}
END_TEST

/* The documented combination: no chain check, trust by pin only. */
START_TEST(insecure_skip_verify_still_enforces_pin)
{
    trial t;
    trial_start(&t, "selfsigned", 0);
    ck_assert_int_eq(pop3a_options_set_tls_insecure_skip_verify(&t.o, 1), 0);
    pin_leaf(&t, 0); /* the leaf's, not the self-signed one's */
    trial_connect(&t, "localhost");
    char err[256];
    expect_peer_refused(&t, err, sizeof err);

    uint8_t pin[32];
    pem_sha256("selfsigned.pem", pin);
    ck_assert_int_eq(pop3a_options_set_tls_pin_sha256(&t.o, pin), 0);
    trial_connect(&t, "localhost");
    expect_accepted(&t.c, &t.o);
    trial_end(&t);
}
END_TEST

/* Clients made from one options object share one default context (each costs
 * ~26 KiB and a trust-store load); a TLS setter starts a new one, and a plain
 * (TLS_NONE) object builds none. */
START_TEST(clients_of_one_options_object_share_the_default_context)
{
    pop3a_options *o = pop3a_options_new();
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(pop3a_options_set_ca(o, cert_path("ca.pem"), NULL), 0);
    pop3a_options a, b, c;
    ck_assert_int_eq(pop3a_options_copy(&a, o), 0);
    pop3a_tls_share_default_ctx(&a, o);
    ck_assert_int_eq(pop3a_options_copy(&b, o), 0);
    pop3a_tls_share_default_ctx(&b, o);
    ck_assert_ptr_nonnull(a.default_ctx);
    ck_assert_ptr_eq(a.default_ctx, b.default_ctx);
    char err[128];
    SSL_CTX *used = pop3a_tls_ctx_new(&b, err, sizeof err); /* what connect uses */
    ck_assert_ptr_eq(used, a.default_ctx);
    SSL_CTX_free(used);

    /* New trust anchors: later clients get a context built from them. */
    ck_assert_int_eq(pop3a_options_set_ca(o, cert_path("ca.pem"), NULL), 0);
    ck_assert_int_eq(pop3a_options_copy(&c, o), 0);
    pop3a_tls_share_default_ctx(&c, o);
    ck_assert_ptr_nonnull(c.default_ctx);
    ck_assert_ptr_ne(c.default_ctx, a.default_ctx);
    pop3a_options_release(&c);

    ck_assert_int_eq(pop3a_options_set_tls(o, POP3A_TLS_NONE, NULL), 0);
    ck_assert_int_eq(pop3a_options_copy(&c, o), 0);
    pop3a_tls_share_default_ctx(&c, o);
    ck_assert_ptr_null(c.default_ctx);
    pop3a_options_release(&c);
    pop3a_options_release(&a);
    pop3a_options_release(&b);
    pop3a_options_free(o);
}
END_TEST

/* ---------------------------------------------------------- caller's ctx */

START_TEST(callers_context_is_shared_and_still_verified)
{
    SSL_CTX *mine = SSL_CTX_new(TLS_client_method());
    ck_assert_ptr_nonnull(mine);
    ck_assert_int_eq(SSL_CTX_load_verify_locations(mine, cert_path("ca.pem"), NULL), 1);
    SSL_CTX_set_verify(mine, SSL_VERIFY_NONE, NULL); /* the library must verify anyway */
    pop3a_options o;
    pop3a_options_defaults(&o);
    ck_assert_int_eq(pop3a_options_set_tls(&o, POP3A_TLS_STLS, mine), 0);
    SSL_CTX_free(mine); /* the options hold their own reference */

    char err[256] = "";
    SSL_CTX *got = pop3a_tls_ctx_new(&o, err, sizeof err);
    ck_assert_ptr_eq(got, mine);
    SSL_CTX_free(got);

    SSL_CTX *bad = server_ctx("selfsigned", 0, NULL);
    conn c;
    connect_to(&c, bad, &o, "localhost");
    expect_verify_failure(&c, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
    conn_free(&c);
    SSL_CTX_free(bad);

    SSL_CTX *good = server_ctx("leaf", 0, NULL);
    connect_to(&c, good, &o, "localhost");
    expect_accepted(&c, &o);
    conn_free(&c);
    SSL_CTX_free(good);
    pop3a_options_release(&o);
}
END_TEST

/* Issue 14 s5: an idle session keeps no 16 KiB read and write buffers, with
 * the library's context and with a caller's (the mode is set on the SSL). */
START_TEST(ssl_releases_idle_buffers)
{
    trial t;
    trial_start(&t, "leaf", 0);
    trial_connect(&t, "localhost");
    expect_accepted(&t.c, &t.o);
    ck_assert_uint_ne(SSL_get_mode(t.c.client) & SSL_MODE_RELEASE_BUFFERS, 0);
    trial_end(&t);

    SSL_CTX *mine = SSL_CTX_new(TLS_client_method());
    ck_assert_ptr_nonnull(mine);
    SSL_CTX_clear_mode(mine, SSL_MODE_RELEASE_BUFFERS);
    pop3a_options o;
    pop3a_options_defaults(&o);
    ck_assert_int_eq(pop3a_options_set_tls(&o, POP3A_TLS_IMPLICIT, mine), 0);
    char err[256] = "";
    SSL *ssl = pop3a_tls_ssl_new(mine, &o, "localhost", err, sizeof err);
    ck_assert_msg(ssl != NULL, "ssl: %s", err);
    ck_assert_uint_ne(SSL_get_mode(ssl) & SSL_MODE_RELEASE_BUFFERS, 0);
    SSL_free(ssl);
    SSL_CTX_free(mine);
    pop3a_options_release(&o);
}
END_TEST

/* ------------------------------------------------------------ client cert */

START_TEST(client_certificate_is_presented)
{
    trial t;
    trial_start(&t, "leaf", 0);
    ck_assert_int_eq(SSL_CTX_load_verify_locations(t.server, cert_path("ca.pem"), NULL), 1);
    SSL_CTX_set_verify(t.server, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    ck_assert_int_eq(
        pop3a_options_set_client_cert(&t.o, cert_path("client.pem"), cert_path("client.key")),
        0);
    trial_connect(&t, "localhost");
    expect_accepted(&t.c, &t.o);
    /* TLS 1.3: the server checks the client certificate after the client is done. */
    X509 *peer = SSL_get0_peer_certificate(t.c.server);
    ck_assert_ptr_nonnull(peer);
    char cn[64] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
    ck_assert_str_eq(cn, "pop3a-test-client");
    ck_assert_int_eq(SSL_get_verify_result(t.c.server), X509_V_OK);
    trial_end(&t);
}
END_TEST

START_TEST(client_key_not_matching_certificate_is_an_error)
{
    pop3a_options o;
    test_options(&o);
    ck_assert_int_eq(
        pop3a_options_set_client_cert(&o, cert_path("client.pem"), cert_path("leaf.key")), 0);
    char err[256] = "";
    ck_assert_ptr_null(pop3a_tls_ctx_new(&o, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "client key"));
    pop3a_options_release(&o);
}
END_TEST

START_TEST(missing_ca_file_is_an_error)
{
    pop3a_options o;
    pop3a_options_defaults(&o);
    ck_assert_int_eq(pop3a_options_set_ca(&o, cert_path("no-such-ca.pem"), NULL), 0);
    char err[256] = "";
    ck_assert_ptr_null(pop3a_tls_ctx_new(&o, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "CA"));
    ck_assert_int_eq(ERR_peek_error(), 0); /* queue consumed */
    pop3a_options_release(&o);
}
END_TEST

START_TEST(empty_host_is_an_error)
{
    pop3a_options o;
    test_options(&o);
    char err[256] = "";
    SSL_CTX *ctx = pop3a_tls_ctx_new(&o, err, sizeof err);
    ck_assert_ptr_nonnull(ctx);
    ck_assert_ptr_null(pop3a_tls_ssl_new(ctx, &o, "", err, sizeof err));
    ck_assert_str_ne(err, "");
    SSL_CTX_free(ctx);
    pop3a_options_release(&o);
}
END_TEST

START_TEST(describe_failure_without_cause_says_so)
{
    pop3a_options o;
    test_options(&o);
    char err[256] = "";
    SSL_CTX *ctx = pop3a_tls_ctx_new(&o, err, sizeof err);
    SSL *ssl = pop3a_tls_ssl_new(ctx, &o, "localhost", err, sizeof err);
    ERR_clear_error();
    pop3a_tls_describe_failure(ssl, 0, err, sizeof err);
    ck_assert_ptr_nonnull(strstr(err, "TLS handshake failed"));
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    pop3a_options_release(&o);
}
END_TEST

/* -------------------------------------------------------- channel binding */

/* RFC 9266: both ends derive the same 32 bytes. */
START_TEST(tls_exporter_binding_matches_server_on_tls13)
{
    trial t;
    trial_start(&t, "leaf", 0);
    trial_connect(&t, "localhost");
    expect_accepted(&t.c, &t.o);
    SSL *client = t.c.client;
    ck_assert_int_eq(SSL_version(client), TLS1_3_VERSION);
    unsigned char mine[64], theirs[32];
    ck_assert_uint_eq(pop3a_tls_channel_binding(client, "tls-exporter", mine, sizeof mine), 32);
    ck_assert_int_eq(SSL_export_keying_material(t.c.server, theirs, 32,
                                                "EXPORTER-Channel-Binding", 24, NULL, 0, 0),
                     1);
    ck_assert_int_eq(memcmp(mine, theirs, 32), 0);
    ck_assert_uint_eq(pop3a_tls_channel_binding(client, "tls-exporter", mine, 31), 0);
    ck_assert_uint_eq(pop3a_tls_channel_binding(client, "tls-unique", mine, sizeof mine), 0);
    trial_end(&t);
}
END_TEST

/* RFC 5929 section 4.1: the leaf is ECDSA-with-SHA256, so the binding is the
 * SHA-256 of its DER: the fingerprint the script computed. tls-exporter is
 * not offered on TLS 1.2. */
START_TEST(server_end_point_binding_is_certificate_hash_on_tls12)
{
    trial t;
    trial_start(&t, "leaf", TLS1_2_VERSION);
    trial_connect(&t, "localhost");
    expect_accepted(&t.c, &t.o);
    SSL *client = t.c.client;
    ck_assert_int_eq(SSL_version(client), TLS1_2_VERSION);
    unsigned char got[64];
    uint8_t want[32];
    leaf_pin(want);
    ck_assert_uint_eq(pop3a_tls_channel_binding(client, "tls-server-end-point", got, sizeof got),
                      32);
    ck_assert_int_eq(memcmp(got, want, 32), 0);
    ck_assert_uint_eq(pop3a_tls_channel_binding(client, "tls-exporter", got, sizeof got), 0);
    trial_end(&t);
}
END_TEST

/* ----------------------------------------------------------------- options */

START_TEST(options_defaults_are_secure)
{
    pop3a_options *o = pop3a_options_new();
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(o->tls_mode, POP3A_TLS_IMPLICIT);
    ck_assert_int_eq(o->insecure_skip_verify, 0);
    ck_assert_int_eq(o->allow_cleartext, 0);
    ck_assert_int_eq(o->has_pin, 0);
    ck_assert_ptr_null(o->ssl_ctx);
    ck_assert_uint_eq(o->connect_ms, POP3A_DEFAULT_CONNECT_MS);
    ck_assert_uint_eq(o->idle_ms, POP3A_DEFAULT_IDLE_MS);
    ck_assert_uint_eq(o->pipeline_window, POP3A_DEFAULT_WINDOW);
    ck_assert_uint_eq(o->max_line, POP3A_DEFAULT_MAX_LINE);
    ck_assert_uint_eq(o->max_listing, POP3A_DEFAULT_MAX_LISTING);
    pop3a_options_free(o);
    pop3a_options_free(NULL);
}
END_TEST

START_TEST(options_setters_reject_bad_values)
{
    pop3a_options *o = pop3a_options_new();
    ck_assert_int_eq(pop3a_options_set_tls(o, (pop3a_tls_mode)7, NULL), -1);
    ck_assert_int_eq(pop3a_options_set_max_line(o, 511), -1);
    ck_assert_int_eq(pop3a_options_set_max_line(o, 512), 0);
    ck_assert_uint_eq(o->max_line, 512);
    ck_assert_int_eq(pop3a_options_set_pipelining(o, 0), -1);
    ck_assert_int_eq(pop3a_options_set_pipelining(o, 1), 0);
    ck_assert_int_eq(pop3a_options_set_max_listing(o, 0), -1);
    ck_assert_int_eq(pop3a_options_set_ca(o, "", NULL), -1);
    ck_assert_int_eq(pop3a_options_set_verify_name(o, ""), -1);
    ck_assert_int_eq(pop3a_options_set_client_cert(o, NULL, "key.pem"), -1);
    ck_assert_int_eq(pop3a_options_set_timeouts(o, 0, 5), 0);
    ck_assert_uint_eq(o->connect_ms, POP3A_DEFAULT_CONNECT_MS); /* 0 keeps */
    ck_assert_uint_eq(o->idle_ms, 5);
    ck_assert_int_eq(pop3a_options_set_tls_insecure_skip_verify(o, 42), 0);
    ck_assert_int_eq(o->insecure_skip_verify, 1);
    pop3a_options_free(o);
}
END_TEST

START_TEST(options_setters_refuse_null_options)
{
    uint8_t pin[32] = {0};
    ck_assert_int_eq(pop3a_options_set_tls(NULL, POP3A_TLS_NONE, NULL), -1);
    ck_assert_int_eq(pop3a_options_set_ca(NULL, "a", NULL), -1);
    ck_assert_int_eq(pop3a_options_set_verify_name(NULL, "a"), -1);
    ck_assert_int_eq(pop3a_options_set_tls_pin_sha256(NULL, pin), -1);
    ck_assert_int_eq(pop3a_options_set_client_cert(NULL, "a", "b"), -1);
    ck_assert_int_eq(pop3a_options_set_tls_insecure_skip_verify(NULL, 1), -1);
    ck_assert_int_eq(pop3a_options_set_timeouts(NULL, 1, 1), -1);
    ck_assert_int_eq(pop3a_options_set_pipelining(NULL, 1), -1);
    ck_assert_int_eq(pop3a_options_allow_cleartext(NULL, 1), -1);
    ck_assert_int_eq(pop3a_options_set_max_line(NULL, 1000), -1);
    ck_assert_int_eq(pop3a_options_set_max_listing(NULL, 1), -1);
    ck_assert_int_eq(pop3a_options_set_trace(NULL, NULL, NULL), -1);
}
END_TEST

START_TEST(options_copy_is_deep)
{
    pop3a_options *o = pop3a_options_new();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    uint8_t pin[32];
    memset(pin, 0xab, sizeof pin);
    ck_assert_int_eq(pop3a_options_set_tls(o, POP3A_TLS_STLS, ctx), 0);
    ck_assert_int_eq(pop3a_options_set_ca(o, "ca.pem", "/etc/ssl/certs"), 0);
    ck_assert_int_eq(pop3a_options_set_verify_name(o, "mail.example.com"), 0);
    ck_assert_int_eq(pop3a_options_set_client_cert(o, "c.pem", "c.key"), 0);
    ck_assert_int_eq(pop3a_options_set_tls_pin_sha256(o, pin), 0);

    pop3a_options copy;
    ck_assert_int_eq(pop3a_options_copy(&copy, o), 0);
    pop3a_options_free(o); /* the copy must not depend on the original */
    SSL_CTX_free(ctx);     /* nor on the caller's reference */

    ck_assert_int_eq(copy.tls_mode, POP3A_TLS_STLS);
    ck_assert_ptr_eq(copy.ssl_ctx, ctx);
    ck_assert_str_eq(copy.ca_file, "ca.pem");
    ck_assert_str_eq(copy.ca_dir, "/etc/ssl/certs");
    ck_assert_str_eq(copy.verify_name, "mail.example.com");
    ck_assert_str_eq(copy.cert_file, "c.pem");
    ck_assert_str_eq(copy.key_file, "c.key");
    ck_assert_int_eq(copy.has_pin, 1);
    ck_assert_int_eq(memcmp(copy.pin, pin, 32), 0);
    SSL_CTX *again = SSL_CTX_new(TLS_client_method());
    ck_assert_int_eq(pop3a_options_set_tls(&copy, POP3A_TLS_NONE, again), 0); /* drops ctx */
    SSL_CTX_free(again);
    ck_assert_int_eq(pop3a_options_set_tls_pin_sha256(&copy, NULL), 0);
    ck_assert_int_eq(copy.has_pin, 0);
    pop3a_options_release(&copy);
    ck_assert_ptr_null(copy.ca_file);
}
END_TEST

/* ------------------------------------------------------------------ set-up */

static int run_script(const char *script, const char *dir)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execlp("bash", "bash", script, dir, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static const char *find_script(int argc, char **argv)
{
    static char beside[4096];
    if (argc > 1)
        return argv[1];
    const char *env = getenv("POP3A_MAKE_TEST_CERTS");
    if (env != NULL && env[0] != '\0')
        return env;
    /* __FILE__ is tests/unit/test_tls.c as the compiler saw it. */
    snprintf(beside, sizeof beside, "%s", __FILE__);
    char *slash = strrchr(beside, '/');
    if (slash == NULL)
        return NULL;
    snprintf(slash, sizeof beside - (size_t)(slash - beside), "/../support/make-test-certs");
    return access(beside, R_OK) == 0 ? beside : NULL;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static Suite *tls_suite(void)
{
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("verify");
    tcase_add_loop_test(tc, good_certificate_is_accepted, 0,
                        sizeof good_hosts / sizeof good_hosts[0]);
    tcase_add_test(tc, trailing_dot_is_stripped_from_sni);
    tcase_add_test(tc, ssl_releases_idle_buffers);
    tcase_add_loop_test(tc, bad_certificate_is_refused, 0,
                        sizeof bad_servers / sizeof bad_servers[0]);
    tcase_add_test(tc, verify_name_overrides_the_host);
    tcase_add_test(tc, server_limited_to_tls11_is_refused);
    tcase_add_test(tc, matching_pin_is_accepted);
    tcase_add_test(tc, mismatching_pin_is_refused);
    tcase_add_test(tc, insecure_skip_verify_accepts_self_signed);
    tcase_add_test(tc, insecure_skip_verify_still_enforces_pin);
    tcase_add_test(tc, callers_context_is_shared_and_still_verified);
    tcase_add_test(tc, clients_of_one_options_object_share_the_default_context);
    tcase_add_test(tc, client_certificate_is_presented);
    tcase_add_test(tc, client_key_not_matching_certificate_is_an_error);
    tcase_add_test(tc, missing_ca_file_is_an_error);
    tcase_add_test(tc, empty_host_is_an_error);
    tcase_add_test(tc, describe_failure_without_cause_says_so);
    tcase_add_test(tc, tls_exporter_binding_matches_server_on_tls13);
    tcase_add_test(tc, server_end_point_binding_is_certificate_hash_on_tls12);
    suite_add_tcase(s, tc);

    tc = tcase_create("options");
    tcase_add_test(tc, options_defaults_are_secure);
    tcase_add_test(tc, options_setters_reject_bad_values);
    tcase_add_test(tc, options_setters_refuse_null_options);
    tcase_add_test(tc, options_copy_is_deep);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    const char *script = find_script(argc, argv);
    if (script == NULL) {
        fprintf(stderr, "test_tls: make-test-certs not found (argv[1] or "
                        "POP3A_MAKE_TEST_CERTS)\n");
        return 77; /* meson: skipped */
    }
    const char *fixed = getenv("POP3A_TEST_CERT_DIR");
    int temporary = fixed == NULL || fixed[0] == '\0';
    if (temporary) {
        const char *tmp = getenv("TMPDIR");
        snprintf(cert_dir, sizeof cert_dir, "%s/pop3a-tls-XXXXXX",
                 tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
        if (mkdtemp(cert_dir) == NULL) {
            perror("test_tls: mkdtemp");
            return EXIT_FAILURE;
        }
    } else {
        snprintf(cert_dir, sizeof cert_dir, "%s", fixed);
    }
    if (run_script(script, cert_dir) != 0) {
        fprintf(stderr, "test_tls: %s %s failed\n", script, cert_dir);
        if (temporary)
            remove_dir(cert_dir);
        return EXIT_FAILURE;
    }

    SRunner *sr = srunner_create(tls_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (temporary)
        remove_dir(cert_dir);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
