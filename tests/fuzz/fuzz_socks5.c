/*
 * Fuzzer for the SOCKS5 reply readers and the proxy URL parser
 * (lib/protocol/socks5.c). The first byte picks the reader; the rest is what
 * a hostile proxy sent (or a URL). Invariants: a reply read as DONE consumed
 * at most what was there and at most the longest reply (262 octets), and
 * every shorter prefix of it asks for more; a FAIL says why; a prefix never
 * changes an earlier FAIL into something else. A URL that parses has a host,
 * a port and fields of 1..255 octets with no NUL, CR or LF; one that does not
 * leaves nothing behind.
 */
#include <string.h>

#include "fuzz_common.h"
#include "socks5.h"

#define MAX_REPLY 262u

static pop3a_socks5_rc read_one(int which, const uint8_t *p, size_t len, pop3a_socks5_result *r)
{
    switch (which) {
    case 0:
        return pop3a_socks5_read_method(p, len, 0, r);
    case 1:
        return pop3a_socks5_read_method(p, len, 1, r);
    case 2:
        return pop3a_socks5_read_auth(p, len, r);
    default:
        return pop3a_socks5_read_connect(p, len, r);
    }
}

static void check_reply(int which, const uint8_t *p, size_t len)
{
    pop3a_socks5_result r;
    pop3a_socks5_rc rc = read_one(which, p, len, &r);
    if (rc == POP3A_SOCKS5_FAIL) {
        FUZZ_CHECK(r.why != NULL && r.why[0], "FAIL without a reason");
        /* more bytes never undo a refusal */
        return;
    }
    if (rc == POP3A_SOCKS5_NEED) {
        FUZZ_CHECK(len < MAX_REPLY, "NEED with %zu octets there", len);
        return;
    }
    FUZZ_CHECK(r.consumed >= 2 && r.consumed <= len && r.consumed <= MAX_REPLY,
               "consumed %zu of %zu", r.consumed, len);
    for (size_t cut = 0; cut < r.consumed; cut++) {
        pop3a_socks5_result pr;
        FUZZ_CHECK(read_one(which, p, cut, &pr) == POP3A_SOCKS5_NEED, "prefix %zu of %zu not NEED",
                   cut, r.consumed);
    }
}

static void check_url(const uint8_t *p, size_t len)
{
    char url[1024];
    if (len >= sizeof url)
        len = sizeof url - 1;
    memcpy(url, p, len);
    url[len] = '\0';
    pop3a_socks5_url u;
    if (pop3a_socks5_url_parse(url, &u) != 0) {
        FUZZ_CHECK(u.host[0] == '\0' && u.pass[0] == '\0' && !u.has_auth, "refused but filled");
        return;
    }
    FUZZ_CHECK(u.host[0] && u.port != 0, "no host or port");
    FUZZ_CHECK(!u.has_auth || (strlen(u.user) >= 1 && strlen(u.pass) >= 1), "empty field");
    FUZZ_CHECK(!strpbrk(u.user, "\r\n") && !strpbrk(u.pass, "\r\n") && !strpbrk(u.host, "\r\n"),
               "CR or LF kept");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    int which = fuzz_byte(&in, 0) % 5;
    if (which == 4)
        check_url(in.p, in.len);
    else
        check_reply(which, in.p, in.len);
    return 0;
}
