/*
 * SOCKS5 (RFC 1928) and its username/password authentication (RFC 1929):
 * the proxy URL, the requests, and every reply checked before it is believed.
 * A proxy is one more peer that may be hostile: each reply has a fixed or
 * announced length, and anything else is a failure, never a guess.
 */
#include "socks5.h"

#include <string.h>

enum { VER5 = 5, AUTH_VER = 1, METHOD_NONE = 0, METHOD_USERPASS = 2, CMD_CONNECT = 1 };
enum { ATYP_V4 = 1, ATYP_NAME = 3, ATYP_V6 = 4 };

/* ------------------------------------------------------------------- URL */

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Copies [s, s+n) into out (256 octets) decoding %XX: 0, or -1 for a bad
 * escape, an empty or over-long result, or a decoded NUL, CR or LF. */
static int decode_field(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int ch = (unsigned char)s[i];
        if (ch == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            ch = hi * 16 + lo;
            i += 2;
        }
        if (ch == 0 || ch == '\r' || ch == '\n' || o >= POP3A_SOCKS5_MAX_FIELD)
            return -1;
        out[o++] = (char)ch;
    }
    if (o == 0)
        return -1;
    out[o] = '\0';
    return 0;
}

static int parse_port(const char *s, uint16_t *port)
{
    unsigned long v = 0;
    if (!*s || strlen(s) > 5)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (unsigned long)(*s - '0');
    }
    if (v == 0 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

/* host:port, or [v6]:port. */
static int parse_hostport(const char *s, pop3a_socks5_url *out)
{
    const char *host = s, *host_end, *colon;
    if (*s == '[') {
        host = s + 1;
        host_end = strchr(host, ']');
        if (!host_end || host_end[1] != ':')
            return -1;
        colon = host_end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || memchr(s, ':', (size_t)(colon - s)))
            return -1; /* an IPv6 literal needs its brackets */
        host_end = colon;
    }
    size_t n = (size_t)(host_end - host);
    if (n == 0 || n > 255 || memchr(host, '[', n) || memchr(host, ']', n))
        return -1;
    memcpy(out->host, host, n);
    out->host[n] = '\0';
    return parse_port(colon + 1, &out->port);
}

int pop3a_socks5_url_parse(const char *url, pop3a_socks5_url *out)
{
    memset(out, 0, sizeof *out);
    if (!url)
        return -1;
    /* Nothing that could split a line or hide a second argument. */
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return -1;
    const char *rest;
    if (strncmp(url, "socks5h://", 10) == 0) {
        out->remote_dns = 1;
        rest = url + 10;
    } else if (strncmp(url, "socks5://", 9) == 0) {
        rest = url + 9;
    } else {
        return -1;
    }
    if (strpbrk(rest, "/?#"))
        goto bad;
    const char *at = strrchr(rest, '@');
    if (at) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        if (!colon || decode_field(rest, (size_t)(colon - rest), out->user) != 0 ||
            decode_field(colon + 1, (size_t)(at - colon - 1), out->pass) != 0)
            goto bad;
        out->has_auth = 1;
        rest = at + 1;
    }
    if (parse_hostport(rest, out) != 0)
        goto bad;
    return 0;
bad:
    memset(out, 0, sizeof *out); /* no half-parsed password left behind */
    return -1;
}

/* -------------------------------------------------------------- requests */

size_t pop3a_socks5_greeting(uint8_t *buf, int with_auth)
{
    buf[0] = VER5;
    buf[1] = with_auth ? 2 : 1;
    buf[2] = METHOD_NONE;
    if (!with_auth)
        return 3;
    buf[3] = METHOD_USERPASS;
    return 4;
}

size_t pop3a_socks5_auth_request(uint8_t *buf, const char *user, const char *pass)
{
    size_t ul = strlen(user), pl = strlen(pass);
    if (ul == 0 || pl == 0 || ul > POP3A_SOCKS5_MAX_FIELD || pl > POP3A_SOCKS5_MAX_FIELD)
        return 0;
    buf[0] = AUTH_VER;
    buf[1] = (uint8_t)ul;
    memcpy(buf + 2, user, ul);
    buf[2 + ul] = (uint8_t)pl;
    memcpy(buf + 3 + ul, pass, pl);
    return 3 + ul + pl;
}

static size_t connect_head(uint8_t *buf, int atyp)
{
    buf[0] = VER5;
    buf[1] = CMD_CONNECT;
    buf[2] = 0;
    buf[3] = (uint8_t)atyp;
    return 4;
}

static size_t put_port(uint8_t *buf, size_t n, uint16_t port)
{
    buf[n] = (uint8_t)(port >> 8);
    buf[n + 1] = (uint8_t)port;
    return n + 2;
}

size_t pop3a_socks5_connect_name(uint8_t *buf, const char *host, uint16_t port)
{
    size_t hl = strlen(host);
    if (hl == 0 || hl > 255)
        return 0;
    size_t n = connect_head(buf, ATYP_NAME);
    buf[n++] = (uint8_t)hl;
    memcpy(buf + n, host, hl);
    return put_port(buf, n + hl, port);
}

size_t pop3a_socks5_connect_addr(uint8_t *buf, int family, const uint8_t *addr, uint16_t port)
{
    size_t alen = family == 6 ? 16 : 4;
    size_t n = connect_head(buf, family == 6 ? ATYP_V6 : ATYP_V4);
    memcpy(buf + n, addr, alen);
    return put_port(buf, n + alen, port);
}

/* --------------------------------------------------------------- replies */

static pop3a_socks5_rc fail(pop3a_socks5_result *r, const char *why)
{
    r->why = why;
    return POP3A_SOCKS5_FAIL;
}

pop3a_socks5_rc pop3a_socks5_read_method(const uint8_t *p, size_t len, int offered_auth,
                                         pop3a_socks5_result *r)
{
    memset(r, 0, sizeof *r);
    if (len >= 1 && p[0] != VER5)
        return fail(r, "the proxy does not speak SOCKS5 (bad version in its method reply)");
    if (len < 2)
        return POP3A_SOCKS5_NEED;
    if (p[1] == 0xff)
        return fail(r, "the proxy accepts none of our authentication methods"
                       " (does it need a user name and password?)");
    if (p[1] != METHOD_NONE && !(p[1] == METHOD_USERPASS && offered_auth))
        return fail(r, "the proxy chose an authentication method we did not offer");
    r->method = p[1];
    r->consumed = 2;
    return POP3A_SOCKS5_DONE;
}

pop3a_socks5_rc pop3a_socks5_read_auth(const uint8_t *p, size_t len, pop3a_socks5_result *r)
{
    memset(r, 0, sizeof *r);
    if (len >= 1 && p[0] != AUTH_VER)
        return fail(r, "bad version in the proxy's authentication reply");
    if (len < 2)
        return POP3A_SOCKS5_NEED;
    if (p[1] != 0)
        return fail(r, "the proxy refused the user name and password");
    r->consumed = 2;
    return POP3A_SOCKS5_DONE;
}

const char *pop3a_socks5_reply_text(int rep)
{
    switch (rep) {
    case 0:
        return "succeeded";
    case 1:
        return "general SOCKS server failure";
    case 2:
        return "connection not allowed by the proxy's ruleset";
    case 3:
        return "network unreachable (from the proxy)";
    case 4:
        return "host unreachable (from the proxy)";
    case 5:
        return "connection refused by the target (through the proxy)";
    case 6:
        return "TTL expired (at the proxy)";
    case 7:
        return "command not supported by the proxy";
    case 8:
        return "address type not supported by the proxy";
    default:
        return "unknown SOCKS5 reply code";
    }
}

pop3a_socks5_rc pop3a_socks5_read_connect(const uint8_t *p, size_t len, pop3a_socks5_result *r)
{
    memset(r, 0, sizeof *r);
    if (len >= 1 && p[0] != VER5)
        return fail(r, "bad version in the proxy's connect reply");
    if (len >= 2) {
        r->reply_code = p[1];
        /* A refusal says so in its second octet: no need to wait for the
         * rest, which a refusing proxy may not send at all. */
        if (p[1] != 0)
            return fail(r, pop3a_socks5_reply_text(p[1]));
    }
    if (len >= 3 && p[2] != 0)
        return fail(r, "bad reserved octet in the proxy's connect reply");
    if (len < 5)
        return POP3A_SOCKS5_NEED;
    size_t need;
    switch (p[3]) {
    case ATYP_V4:
        need = 4 + 4 + 2;
        break;
    case ATYP_V6:
        need = 4 + 16 + 2;
        break;
    case ATYP_NAME:
        if (p[4] == 0)
            return fail(r, "empty bound name in the proxy's connect reply");
        need = 4 + 1 + p[4] + 2;
        break;
    default:
        return fail(r, "unknown address type in the proxy's connect reply");
    }
    if (len < need)
        return POP3A_SOCKS5_NEED;
    r->consumed = need;
    return POP3A_SOCKS5_DONE;
}
