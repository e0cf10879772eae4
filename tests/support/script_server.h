/*
 * A scripted POP3 peer for session tests.
 *
 * It runs on the same event_base as the client under test (single-threaded, no
 * locks): steps are queued before dispatch and then run in order on the one
 * connection, driven by the loop. The server speaks raw bytes on a non-blocking
 * socket, not through a bufferevent, so a test controls exactly how replies are
 * cut into writes (p3s_write_chunk) and whether the server reads at all
 * (p3s_stop_reading).
 *
 * A mismatch stops the script and is kept as the first error; tests assert
 * p3s_error() == NULL and p3s_done() at the end.
 *
 * TLS (OpenSSL, server side) sits between the socket and the script: raw bytes
 * go through memory BIOs, so the step machine still sees plaintext lines and
 * sends plaintext bytes, and the socket code stays the same. It starts at the
 * first byte (p3s_tls_implicit: POP3S) or at a script step (p3s_start_tls:
 * after the "+OK" to STLS, RFC 2595 section 4).
 */
#ifndef POP3A_TEST_SCRIPT_SERVER_H
#define POP3A_TEST_SCRIPT_SERVER_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct bufferevent;
struct ssl_ctx_st; /* SSL_CTX */
struct ssl_st;     /* SSL */

typedef struct p3s p3s;

/* NULL on out-of-memory. */
p3s *p3s_new(struct event_base *base);

/* A connected AF_UNIX socketpair: the server keeps one end and the other is returned
 * as a new bufferevent (BEV_OPT_CLOSE_ON_FREE) for pop3a_attach, which takes
 * ownership. NULL on error. At most one of p3s_pair / p3s_listen per server. */
struct bufferevent *p3s_pair(p3s *s);

/* Listens on `addr` ("127.0.0.1", "::1") with a port the kernel picks and returns that
 * port (host order), or 0 on error. Accepts one connection, then stops listening. */
uint16_t p3s_listen(p3s *s, const char *addr);
/* After its own connection, the listening server `s` accepts one more and runs
 * `next`'s script on it (a client that reconnects to the same port). `next` is
 * a fresh server (no p3s_pair / p3s_listen of its own); free both. `next` may
 * hand over in turn: s then accepts one connection per server of the chain. */
void p3s_hand_over(p3s *s, p3s *next);

/* ------------------------------------------------------------ script steps */

/* Write these bytes (copied). Later p3s_delay/p3s_close steps wait until they are
 * all handed to the kernel; p3s_expect steps do not. */
void p3s_send(p3s *s, const char *text);
void p3s_send_bytes(p3s *s, const void *data, size_t len);
/* The next line from the client must equal `line` (given without CRLF). A line the
 * client ends with a bare LF is a mismatch too: RFC 1939 section 3 says CRLF. */
void p3s_expect(p3s *s, const char *line);
void p3s_expect_prefix(p3s *s, const char *prefix);
/* The next `len` octets from the client must be exactly these (copied): for a
 * binary exchange before POP3, as when the server plays a SOCKS5 proxy. */
void p3s_expect_bytes(p3s *s, const void *data, size_t len);
/* Wait `ms` milliseconds (after earlier sends have been written) before the next step. */
void p3s_delay(p3s *s, unsigned ms);
/* Half-close: pending output is written, then FIN. The server keeps draining what
 * the client sends so the kernel never answers with RST. */
void p3s_close(p3s *s);
/* From now on write `n` bytes per write() with `gap_ms` between writes (0: one loop
 * turn), so the client sees the reply split across reads. n == 0 restores
 * write-everything. */
void p3s_write_chunk(p3s *s, size_t n, unsigned gap_ms);
/* Never read again: the socket receive buffer fills and client writes block. */
void p3s_stop_reading(p3s *s);

/* Extra steps. */
/* For `ms` milliseconds not one byte may arrive (nor be waiting already). Used to
 * check that the client does not send the next command before a reply. */
void p3s_expect_silence(p3s *s, unsigned ms);
/* The client closes its side (read returns 0) with no further line. */
void p3s_expect_eof(p3s *s);

/* --------------------------------------------------------------------- TLS */

/* Server context presenting <name>.pem / <name>.key from the test certificates
 * ("leaf", "expired", "wronghost", "selfsigned"); NULL on error (no certificates
 * made yet, unreadable files). The caller frees it with SSL_CTX_free. */
struct ssl_ctx_st *p3s_tls_server_ctx(const char *name);

/* TLS from the first byte (implicit POP3S, RFC 8314): call before the connection
 * exists (before p3s_pair, or before the loop accepts after p3s_listen). The
 * context is up-ref'd. Sends queued earlier wait for the handshake. */
void p3s_tls_implicit(p3s *s, struct ssl_ctx_st *server_ctx);
/* Step: once earlier sends are written (the "+OK" to STLS), the server starts a
 * TLS handshake with this context (up-ref'd). Bytes the client sent in clear
 * after its last expected line and before the handshake fail the script: they
 * would be a pipelined command after STLS. Later sends wait for the handshake. */
void p3s_start_tls(p3s *s, struct ssl_ctx_st *server_ctx);
/* Step: like p3s_close (FIN after pending output) but without a TLS close_notify,
 * as servers that just drop the connection do. p3s_close sends close_notify first
 * when TLS is up. Without TLS both are the same. */
void p3s_tls_close_dirty(p3s *s);
/* From now on at most `n` octets of plaintext per TLS record (0: the 16 KiB
 * maximum), all written at once: many small records waiting in the client's
 * socket together, as a server that writes small records sends them. */
void p3s_tls_record_size(p3s *s, size_t n);
/* Ask for a client certificate in the next handshakes and verify it against the
 * PEM CA file (copied); a client without one fails the handshake. */
void p3s_request_client_cert(p3s *s, const char *ca_file);

/* 1 once a TLS handshake completed on the server side. */
int p3s_tls_handshake_done(const p3s *s);
/* Why the server's TLS failed (handshake or record error), or NULL. Not a script
 * error: tests of refused certificates expect the handshake to fail. */
const char *p3s_tls_error(const p3s *s);
/* 1 when the client sent a TLS close_notify. */
int p3s_tls_close_notify_received(const p3s *s);
/* 1 when the client presented a certificate that verified (p3s_request_client_cert);
 * its subject's CN is then in p3s_tls_client_subject, else "". */
int p3s_tls_client_verified(const p3s *s);
const char *p3s_tls_client_subject(const p3s *s);
/* The server's SSL while TLS is up (e.g. for channel binding data), else NULL. */
struct ssl_st *p3s_tls_ssl(const p3s *s);

/* ----------------------------------------------------- computed responses */

/* Gets one client line (CRLF removed, not NUL-terminated: len counts) and returns
 * what to send: a malloc'd NUL-terminated string, CRLF included, sent as is and
 * freed by the server. NULL fails the script ("respond: refused ..."). */
typedef char *(*p3s_respond_fn)(const char *line, size_t len, void *arg);
/* Step: read one line and send fn's answer (for SASL exchanges a test computes:
 * SCRAM proofs, echoed nonces). */
void p3s_respond(p3s *s, p3s_respond_fn fn, void *arg);

/* -------------------------------------------------------- test certificates */

/* Runs tests/support/make-test-certs ($POP3A_MAKE_TEST_CERTS, else the copy next
 * to this source file) into $POP3A_TEST_CERT_DIR when set (kept), else into a
 * fresh temporary directory that p3s_certs_remove deletes. Returns the
 * directory (static storage), or NULL when the script is missing or failed. Call
 * it once, in main before the tests fork. */
const char *p3s_certs_make(void);
/* Path of a file in that directory ("ca.pem"); one of a few static buffers, so a
 * handful can be used in one expression. */
const char *p3s_cert(const char *file);
/* Deletes a temporary certificate directory; a fixed one is kept. */
void p3s_certs_remove(void);

/* ------------------------------------------------------------------ results */

/* Every step ran and every byte queued by p3s_send was written. */
int p3s_done(const p3s *s);
/* First mismatch ("step 3: expected \"STAT\", got \"LIST\""), or NULL. */
const char *p3s_error(const p3s *s);
/* Lines consumed by expect steps (matched or not). */
size_t p3s_lines_received(const p3s *s);
/* Every byte read from the client, consumed or not. */
size_t p3s_bytes_received(const p3s *s);
/* Bytes read but not consumed by any expect step (e.g. lines after the script). */
size_t p3s_bytes_unread(const p3s *s);
/* 1 once the client has closed its side. */
int p3s_peer_closed(const p3s *s);
/* 1 once a connection exists (pair made or listen accepted). */
int p3s_connected(const p3s *s);

/* Closes the connection if still open; NULL is a no-op. */
void p3s_free(p3s *s);

#endif
