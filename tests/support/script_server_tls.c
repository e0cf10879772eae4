/*
 * Scripted POP3 peer, the TLS layer (OpenSSL, server side): see script_server.h.
 *
 * With TLS the socket code is unchanged: bytes read go into the SSL's memory
 * read BIO and SSL_read() fills `in` with plaintext; plaintext from `out` goes
 * through SSL_write() (one record per chunk in chunk mode) and the records
 * collect in `wire` until send() takes them.
 *
 * Here: the TLS script steps (implicit TLS, p3s_start_tls, the close with or
 * without close_notify, client certificates), the record path between the
 * socket and the script, and what the TLS results report.
 */
#include "script_server_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

static void p3s_tls_pump(p3s *s);

/* ------------------------------------------------------------ script steps */

void p3s_start_tls(p3s *s, SSL_CTX *server_ctx)
{
    if (!server_ctx || SSL_CTX_up_ref(server_ctx) != 1) {
        p3s_fail(s, "p3s_start_tls: no server context");
        return;
    }
    step *st = p3s_push(s, STEP_START_TLS);
    if (st)
        st->ctx = server_ctx;
    else
        SSL_CTX_free(server_ctx);
}

void p3s_tls_close_dirty(p3s *s)
{
    p3s_push(s, STEP_CLOSE_DIRTY);
}

void p3s_tls_implicit(p3s *s, SSL_CTX *server_ctx)
{
    if (s->fd >= 0 || s->implicit_ctx || !server_ctx || SSL_CTX_up_ref(server_ctx) != 1) {
        p3s_fail(s, "p3s_tls_implicit: connection already made or no server context");
        return;
    }
    s->implicit_ctx = server_ctx;
}

void p3s_tls_record_size(p3s *s, size_t n)
{
    s->tls_record = n < P3S_TLS_RECORD ? n : P3S_TLS_RECORD;
}

void p3s_request_client_cert(p3s *s, const char *ca_file)
{
    free(s->client_ca);
    s->client_ca = strdup(ca_file);
    if (!s->client_ca)
        p3s_fail(s, "out of memory copying the client CA file name");
}

/* ----------------------------------------------------------------- writing */

/* Moves what the SSL produced (records, alerts, close_notify) to `wire`. */
static void p3s_tls_collect(p3s *s)
{
    char buf[4096];
    int n;
    while (s->wbio && (n = BIO_read(s->wbio, buf, (int)sizeof buf)) > 0)
        evbuffer_add(s->wire, buf, (size_t)n);
}

/* Sends `wire` as far as the socket takes it: 0 when all of it is written. */
static int p3s_send_wire(p3s *s)
{
    while (evbuffer_get_length(s->wire) > 0) {
        size_t want = evbuffer_get_length(s->wire);
        const unsigned char *p = evbuffer_pullup(s->wire, (ev_ssize_t)want);
        ssize_t n = send(s->fd, p, want, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            event_add(s->ev_write, NULL);
            return -1;
        }
        if (n < 0) {
            p3s_drop_output(s);
            return -1;
        }
        evbuffer_drain(s->wire, (size_t)n);
    }
    return 0;
}

/* TLS: plaintext goes out once the handshake is complete, one record per write
 * (per chunk in chunk mode, so the client sees the reply split across reads). */
void p3s_flush_tls(p3s *s)
{
    while (s->fd >= 0 && p3s_send_wire(s) == 0) {
        size_t want = evbuffer_get_length(s->out);
        if (s->gap_pending || !s->tls_ready || s->tls_failed || want == 0)
            return;
        size_t cap = s->chunk        ? s->chunk
                     : s->tls_record ? s->tls_record
                                     : P3S_TLS_RECORD;
        if (want > cap)
            want = cap;
        ERR_clear_error();
        int n = SSL_write(s->ssl, evbuffer_pullup(s->out, (ev_ssize_t)want), (int)want);
        if (n <= 0) {
            snprintf(s->tls_error, sizeof s->tls_error, "SSL_write failed (error %d)",
                     SSL_get_error(s->ssl, n));
            ERR_clear_error();
            s->tls_failed = 1;
            p3s_drop_output(s);
            return;
        }
        evbuffer_drain(s->out, (size_t)n);
        p3s_tls_collect(s);
        if (s->chunk && evbuffer_get_length(s->out) > 0) {
            (void)p3s_send_wire(s);
            s->gap_pending = 1;
            p3s_arm_timer(s->ev_gap, s->gap_ms);
            return;
        }
    }
}

/* ----------------------------------------------------------------- reading */

/* TLS: the socket's bytes feed the SSL; whatever it decrypts lands in `in`. */
void p3s_read_tls(p3s *s)
{
    char buf[P3S_TLS_RECORD];
    ssize_t n;
    while ((n = recv(s->fd, buf, sizeof buf, 0)) > 0) {
        if (!s->tls_failed) /* after a failure the bytes are only drained */
            BIO_write(s->rbio, buf, (int)n);
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        s->peer_eof = 1;
        event_del(s->ev_read);
    }
    p3s_tls_pump(s);
    p3s_flush(s);
}

/* ---------------------------------------------------------------------- TLS */

/* Records the first TLS failure with OpenSSL's reason; the queue is cleared so
 * the client under test (same thread) never sees the server's errors. */
static void p3s_tls_failed(p3s *s, const char *what, int ssl_error)
{
    char reason[256] = "";
    unsigned long e = ERR_peek_error();
    if (e)
        ERR_error_string_n(e, reason, sizeof reason);
    ERR_clear_error();
    if (!s->tls_failed)
        snprintf(s->tls_error, sizeof s->tls_error, "%s (SSL error %d)%s%s", what, ssl_error,
                 reason[0] ? ": " : "", reason);
    s->tls_failed = 1;
    s->write_failed = 1;
    evbuffer_drain(s->out, evbuffer_get_length(s->out));
}

static void p3s_tls_note_client_cert(p3s *s)
{
    X509 *peer = SSL_get0_peer_certificate(s->ssl);
    if (!peer || SSL_get_verify_result(s->ssl) != X509_V_OK)
        return;
    s->client_verified = 1;
    X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, s->client_subject,
                              (int)sizeof s->client_subject);
}

/* Runs the handshake, then reads every record available into `in`. */
static void p3s_tls_pump(p3s *s)
{
    if (!s->ssl || s->tls_failed)
        return;
    if (!s->tls_ready) {
        ERR_clear_error();
        int rc = SSL_do_handshake(s->ssl);
        if (rc != 1) {
            int err = SSL_get_error(s->ssl, rc);
            if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
                ERR_clear_error();
            else
                p3s_tls_failed(s, "handshake failed", err);
            p3s_tls_collect(s); /* the next flight, or an alert */
            return;
        }
        s->tls_ready = 1;
        p3s_tls_note_client_cert(s);
    }
    char buf[P3S_TLS_RECORD];
    for (;;) {
        ERR_clear_error();
        int n = SSL_read(s->ssl, buf, (int)sizeof buf);
        if (n > 0) {
            evbuffer_add(s->in, buf, (size_t)n);
            s->bytes_in += (size_t)n;
            continue;
        }
        int err = SSL_get_error(s->ssl, n);
        if (err == SSL_ERROR_ZERO_RETURN)
            s->tls_close_notify = 1;
        else if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
            p3s_tls_failed(s, "reading a record failed", err);
        ERR_clear_error();
        break;
    }
    p3s_tls_collect(s);
}

/* Asks for and verifies a client certificate on this SSL (RFC 8446 s4.3.2). */
static int p3s_tls_want_client_cert(p3s *s, SSL *ssl)
{
    X509_STORE *store = X509_STORE_new();
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(s->client_ca);
    int ok = store && names && X509_STORE_load_file(store, s->client_ca) == 1 &&
             SSL_set1_verify_cert_store(ssl, store) == 1;
    X509_STORE_free(store);
    if (!ok) {
        sk_X509_NAME_pop_free(names, X509_NAME_free);
        return -1;
    }
    SSL_set_client_CA_list(ssl, names); /* takes names */
    SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    return 0;
}

/* Puts an SSL (server side) between the socket and the script. */
int p3s_tls_begin(p3s *s, SSL_CTX *ctx)
{
    if (s->ssl) {
        p3s_fail(s, "step %zu: TLS is already active", s->cur);
        return -1;
    }
    if (!s->wire)
        s->wire = evbuffer_new();
    SSL *ssl = s->wire ? SSL_new(ctx) : NULL;
    BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
    if (!ssl || !rbio || !wbio || (s->client_ca && p3s_tls_want_client_cert(s, ssl) != 0)) {
        SSL_free(ssl);
        BIO_free(rbio);
        BIO_free(wbio);
        ERR_clear_error();
        p3s_fail(s, "step %zu: cannot set up TLS", s->cur);
        return -1;
    }
    BIO_set_mem_eof_return(rbio, -1); /* empty means "wait", not EOF */
    SSL_set_bio(ssl, rbio, wbio);
    SSL_set_accept_state(ssl);
    s->ssl = ssl;
    s->rbio = rbio;
    s->wbio = wbio;
    return 0;
}

/* ------------------------------------------------------------------ closing */

/* CLOSE (with close_notify when TLS is up) and CLOSE_DIRTY: 1 once the FIN is
 * sent, 0 while output is still pending. */
int p3s_run_close(p3s *s, int clean)
{
    if (evbuffer_get_length(s->out) > 0)
        return 0;
    if (clean && s->ssl && s->tls_ready && !s->tls_failed && !s->tls_shutdown_sent) {
        ERR_clear_error();
        SSL_shutdown(s->ssl); /* queues close_notify (RFC 8446 s6.1) */
        ERR_clear_error();
        s->tls_shutdown_sent = 1;
        p3s_tls_collect(s);
        p3s_flush(s);
    }
    if (p3s_output_pending(s))
        return 0;
    shutdown(s->fd, SHUT_WR);
    s->wr_shut = 1;
    return 1;
}

/* ----------------------------------------------------------------- results */

int p3s_tls_handshake_done(const p3s *s)
{
    return s->tls_ready;
}

const char *p3s_tls_error(const p3s *s)
{
    return s->tls_failed ? s->tls_error : NULL;
}

int p3s_tls_close_notify_received(const p3s *s)
{
    return s->tls_close_notify;
}

int p3s_tls_client_verified(const p3s *s)
{
    return s->client_verified;
}

const char *p3s_tls_client_subject(const p3s *s)
{
    return s->client_subject;
}

SSL *p3s_tls_ssl(const p3s *s)
{
    return s->tls_ready && !s->tls_failed ? s->ssl : NULL;
}
