/*
 * SOCKS5 (RFC 1928) with username/password authentication (RFC 1929), the
 * pure part: the proxy URL, the request bytes, and the proxy's replies read
 * and checked. Bytes in, results out; the engine (engine/socks5_step.c) does
 * the I/O.
 */
#ifndef POP3A_SOCKS5_H
#define POP3A_SOCKS5_H

#include <stddef.h>
#include <stdint.h>

/* RFC 1929 s2: a length octet, so at most 255 octets each. */
#define POP3A_SOCKS5_MAX_FIELD 255u
/* The longest request we build: the connect request with a 255-octet name
 * (4 + 1 + 255 + 2), or the RFC 1929 request (3 + 255 + 255). */
#define POP3A_SOCKS5_MAX_REQUEST 513u

typedef struct pop3a_socks5_url {
    int remote_dns; /* socks5h: the proxy resolves the target's name */
    char host[256]; /* the proxy's host (brackets of an IPv6 literal removed) */
    uint16_t port;
    int has_auth;
    char user[256];
    char pass[256];
} pop3a_socks5_url;

/* Parses "socks5://[user:pass@]host:port" or "socks5h://...". Strict: the
 * scheme, a port 1..65535, no CR, LF, NUL or space anywhere, user and pass
 * 1..255 octets each, percent-encoding (%XX) decoded in them. 0, or -1 with
 * out cleared. */
int pop3a_socks5_url_parse(const char *url, pop3a_socks5_url *out);

/* Request bytes into buf (POP3A_SOCKS5_MAX_REQUEST octets); each returns the
 * length. The method offer: no authentication, plus username/password when
 * with_auth. */
size_t pop3a_socks5_greeting(uint8_t *buf, int with_auth);
/* RFC 1929 s2: VER 1, ULEN, UNAME, PLEN, PASSWD. 0 when a field is empty or
 * too long. */
size_t pop3a_socks5_auth_request(uint8_t *buf, const char *user, const char *pass);
/* CONNECT to a name (ATYP 3): 0 when the name is empty or too long. */
size_t pop3a_socks5_connect_name(uint8_t *buf, const char *host, uint16_t port);
/* CONNECT to an address: family 4 (4 octets) or 6 (16 octets), port in host order. */
size_t pop3a_socks5_connect_addr(uint8_t *buf, int family, const uint8_t *addr, uint16_t port);

/* Reading a reply: NEED more octets, DONE (consumed says how many were the
 * reply's), or FAIL with a text for the user. */
typedef enum { POP3A_SOCKS5_NEED = 0, POP3A_SOCKS5_DONE = 1, POP3A_SOCKS5_FAIL = -1 } pop3a_socks5_rc;

typedef struct pop3a_socks5_result {
    size_t consumed;  /* DONE: octets of the reply */
    int method;       /* the method reply's choice: 0 or 2 */
    int reply_code;   /* the connect reply's REP, also when refused */
    const char *why;  /* FAIL: what went wrong (static text) */
} pop3a_socks5_result;

/* The method selection (RFC 1928 s3): VER 5 and a method we offered. */
pop3a_socks5_rc pop3a_socks5_read_method(const uint8_t *p, size_t len, int offered_auth,
                                         pop3a_socks5_result *r);
/* The RFC 1929 status: VER 1, STATUS 0 for success. */
pop3a_socks5_rc pop3a_socks5_read_auth(const uint8_t *p, size_t len, pop3a_socks5_result *r);
/* The connect reply (RFC 1928 s6): VER 5, REP, RSV 0, a known ATYP, its
 * address and port. A refusal (REP 1..8, or another) is FAIL with its text. */
pop3a_socks5_rc pop3a_socks5_read_connect(const uint8_t *p, size_t len, pop3a_socks5_result *r);

/* The text for a REP code (RFC 1928 s6). */
const char *pop3a_socks5_reply_text(int rep);

#endif
