/*
 * Differential fuzzer for the STAT / LIST / UIDL decoders (lib/protocol/listing.c).
 *
 * A reference written here splits the text into fields the way listing.h
 * documents (runs of spaces or tabs separate; text after the last field is
 * ignored), and decides "fits in 32/64 bits" by comparing digit strings with
 * the decimal limits (no arithmetic that could itself overflow). The library
 * must agree on success, on every value and on where the uid is. A decoded
 * entry, printed back in canonical form ("n size", no padding, no leading
 * zeros), must decode to the same values.
 *
 * Input: any bytes; each decoder sees all of them.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_common.h"
#include "listing.h"

typedef struct {
    const char *p;
    size_t len;
} field;

static int is_sep(char c)
{
    return c == ' ' || c == '\t';
}

/* The k-th field (0-based), or an empty one past the end. */
static field nth_field(const char *s, size_t len, int k)
{
    size_t i = 0;
    for (int f = 0;; f++) {
        while (i < len && is_sep(s[i]))
            i++;
        size_t start = i;
        while (i < len && !is_sep(s[i]))
            i++;
        if (f == k) {
            field out = {s + start, i - start};
            return out;
        }
        if (start == i)
            break;
    }
    field none = {s + len, 0};
    return none;
}

/* Decimal digits only, value <= the limit given as a digit string. Fills
 * *out by plain accumulation only once the range is known to be safe. */
static int ref_number(field f, const char *limit, uint64_t *out)
{
    if (f.len == 0)
        return -1;
    for (size_t i = 0; i < f.len; i++)
        if (f.p[i] < '0' || f.p[i] > '9')
            return -1;
    size_t z = 0;
    while (z + 1 < f.len && f.p[z] == '0')
        z++;
    const char *d = f.p + z;
    size_t n = f.len - z, ln = strlen(limit);
    if (n > ln || (n == ln && memcmp(d, limit, n) > 0))
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (uint64_t)(d[i] - '0');
    *out = v;
    return 0;
}

static const char U32_MAX_DIGITS[] = "4294967295";
static const char U64_MAX_DIGITS[] = "18446744073709551615";

static int ref_msg(field f, uint32_t *out)
{
    uint64_t v;
    if (ref_number(f, U32_MAX_DIGITS, &v) != 0 || v == 0)
        return -1; /* RFC 1939 s3: messages are numbered from 1 */
    *out = (uint32_t)v;
    return 0;
}

static void check_u64(const char *s, size_t len)
{
    field f = {s, len};
    uint64_t want = 0, got = 0;
    int rw = ref_number(f, U64_MAX_DIGITS, &want);
    int rg = pop3a_parse_u64(s, len, &got);
    FUZZ_CHECK(rg == rw, "parse_u64: library %d, reference %d", rg, rw);
    if (rg == 0)
        FUZZ_CHECK(got == want, "parse_u64: %" PRIu64 " vs %" PRIu64, got, want);
}

/* STAT ("count octets") and LIST ("msg size") lines have the same shape: a
 * 32-bit number, then a 64-bit one; only STAT's first may be 0. */
typedef int (*pair_parse_fn)(const char *s, size_t len, uint32_t *first, uint64_t *second);

static int ref_first(field f, int zero_ok, uint32_t *out)
{
    uint64_t v;
    if (!zero_ok)
        return ref_msg(f, out);
    if (ref_number(f, U32_MAX_DIGITS, &v) != 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static void check_pair(const char *what, pair_parse_fn parse, int zero_ok, const char *s,
                       size_t len)
{
    uint32_t first = 0;
    uint64_t second = 0;
    int rw = ref_first(nth_field(s, len, 0), zero_ok, &first) == 0 &&
                     ref_number(nth_field(s, len, 1), U64_MAX_DIGITS, &second) == 0
                 ? 0
                 : -1;
    uint32_t g1 = 0xdeadbeef;
    uint64_t g2 = 0xdeadbeef;
    int rg = parse(s, len, &g1, &g2);
    FUZZ_CHECK(rg == rw, "%s: library %d, reference %d", what, rg, rw);
    if (rg != 0) {
        FUZZ_CHECK(g1 == 0xdeadbeef && g2 == 0xdeadbeef, "%s: outputs touched on error", what);
        return;
    }
    FUZZ_CHECK(g1 == first && g2 == second, "%s: values differ", what);
    char canon[64];
    int n = snprintf(canon, sizeof canon, "%" PRIu32 " %" PRIu64, g1, g2);
    uint32_t c1;
    uint64_t c2;
    FUZZ_CHECK(parse(canon, (size_t)n, &c1, &c2) == 0 && c1 == g1 && c2 == g2,
               "%s: canonical form \"%s\" does not round-trip", what, canon);
}

/* RFC 1939 s7: a unique-id is 1 to 70 characters in 0x21..0x7E. */
static int ref_uid_ok(field f)
{
    if (f.len == 0 || f.len > 70)
        return 0;
    for (size_t i = 0; i < f.len; i++) {
        unsigned char c = (unsigned char)f.p[i];
        if (c < 0x21 || c > 0x7e)
            return 0;
    }
    return 1;
}

static void check_uidl(const char *s, size_t len)
{
    uint32_t msg = 0;
    field uid = nth_field(s, len, 1);
    int rw = ref_msg(nth_field(s, len, 0), &msg) == 0 && ref_uid_ok(uid) ? 0 : -1;
    uint32_t gm = 0xdeadbeef;
    const char *gu = NULL;
    size_t gl = 12345;
    int rg = pop3a_parse_uidl_line(s, len, &gm, &gu, &gl);
    FUZZ_CHECK(rg == rw, "UIDL: library %d, reference %d", rg, rw);
    if (rg != 0) {
        FUZZ_CHECK(gm == 0xdeadbeef && gu == NULL && gl == 12345, "UIDL: outputs touched");
        return;
    }
    FUZZ_CHECK(gm == msg, "UIDL: message number differs");
    FUZZ_CHECK(gu == uid.p && gl == uid.len, "UIDL: uid is not the second field");
    char canon[96];
    int n = snprintf(canon, sizeof canon, "%" PRIu32 " %.*s", gm, (int)gl, gu);
    uint32_t m2;
    const char *u2;
    size_t l2;
    FUZZ_CHECK(pop3a_parse_uidl_line(canon, (size_t)n, &m2, &u2, &l2) == 0 && m2 == gm &&
                   l2 == gl && memcmp(u2, gu, gl) == 0,
               "UIDL: canonical form does not round-trip");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = data ? (const char *)data : "";
    check_u64(s, size);
    check_pair("STAT", pop3a_parse_stat, 1, s, size);
    check_pair("LIST", pop3a_parse_list_line, 0, s, size);
    check_uidl(s, size);
    return 0;
}
