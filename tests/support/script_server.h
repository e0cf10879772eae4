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
 */
#ifndef POP3A_TEST_SCRIPT_SERVER_H
#define POP3A_TEST_SCRIPT_SERVER_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct bufferevent;

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

/* ------------------------------------------------------------ script steps */

/* Write these bytes (copied). Later p3s_delay/p3s_close steps wait until they are
 * all handed to the kernel; p3s_expect steps do not. */
void p3s_send(p3s *s, const char *text);
void p3s_send_bytes(p3s *s, const void *data, size_t len);
/* The next line from the client must equal `line` (given without CRLF). A line the
 * client ends with a bare LF is a mismatch too: RFC 1939 section 3 says CRLF. */
void p3s_expect(p3s *s, const char *line);
void p3s_expect_prefix(p3s *s, const char *prefix);
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
