/*
 * SASLprep (RFC 4013), the string preparation SCRAM applies to user names and
 * passwords, as far as it goes without Unicode tables: the mapping and
 * prohibition steps and a strict UTF-8 check; no NFKC normalisation or bidi
 * check. Printable ASCII, by far the common case, is handled exactly.
 */
#include "saslprep.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "alloc.h"

typedef struct {
    uint32_t lo, hi;
} cp_range;

/* RFC 3454 table B.1, "commonly mapped to nothing" (RFC 4013 section 2.1). */
static const cp_range mapped_to_nothing[] = {
    {0x00AD, 0x00AD}, {0x034F, 0x034F}, {0x1806, 0x1806}, {0x180B, 0x180D},
    {0x200B, 0x200D}, {0x2060, 0x2060}, {0xFE00, 0xFE0F}, {0xFEFF, 0xFEFF},
};

/* RFC 3454 table C.1.2, non-ASCII spaces, mapped to U+0020 (RFC 4013 section 2.1). */
static const cp_range non_ascii_space[] = {
    {0x00A0, 0x00A0}, {0x1680, 0x1680}, {0x2000, 0x200B},
    {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000},
};

/* RFC 4013 section 2.3: tables C.2.1, C.2.2, C.3, C.5, C.6, C.7, C.8, C.9
 * merged into ranges (C.4's non-characters are tested in is_prohibited, C.1.2
 * was mapped away already). */
static const cp_range prohibited[] = {
    {0x0000, 0x001F},   {0x007F, 0x009F},   {0x0340, 0x0341},   {0x06DD, 0x06DD},
    {0x070F, 0x070F},   {0x180E, 0x180E},   {0x200C, 0x200F},   {0x2028, 0x202E},
    {0x2060, 0x2063},   {0x206A, 0x206F},   {0x2FF0, 0x2FFB},   {0xD800, 0xDFFF},
    {0xE000, 0xF8FF},   {0xFDD0, 0xFDEF},   {0xFFF9, 0xFFFD},   {0x1D173, 0x1D17A},
    {0xE0001, 0xE0001}, {0xE0020, 0xE007F}, {0xF0000, 0xFFFFD}, {0x100000, 0x10FFFD},
};

static int in_table(const cp_range *t, size_t n, uint32_t cp)
{
    for (size_t i = 0; i < n; i++) {
        if (cp >= t[i].lo && cp <= t[i].hi)
            return 1;
    }
    return 0;
}

static int is_prohibited(uint32_t cp)
{
    if ((cp & 0xFFFEu) == 0xFFFEu) /* C.4: U+xxFFFE and U+xxFFFF in every plane */
        return 1;
    return in_table(prohibited, sizeof prohibited / sizeof prohibited[0], cp);
}

/* Decodes one UTF-8 sequence (RFC 3629): its length, or 0 for a truncated,
 * overlong or surrogate sequence or one beyond U+10FFFF. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len;
    uint32_t c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        len = 2;
        c &= 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3;
        c &= 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4;
        c &= 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min_for_len[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

/*
 * SASLprep (RFC 4013) without Unicode data tables. Done: the mapping step
 * (section 2.1) and the prohibited-output check (section 2.3); unassigned code
 * points are allowed, as RFC 5802 section 2.2 treats the strings as queries.
 * Not done: NFKC normalisation (section 2.2) and the bidi check (section 2.4),
 * which need the Unicode tables. For printable ASCII, every step is the
 * identity, so ASCII names and passwords are prepared exactly. Non-ASCII text
 * is passed through as typed: that is exact for text already in NFKC (most
 * typed text), and it is what servers that skip SASLprep compute; for other
 * text the proof is merely wrong and the server refuses the login.
 */
int pop3a_saslprep(const char *in, char **out)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t n = strlen(in);
    char *res = pop3a_malloc(n + 1); /* mapping never lengthens: owner *out */
    if (res == NULL)
        return -2;
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = utf8_decode(s + i, n - i, &cp);
        if (len == 0)
            goto invalid;
        if (in_table(mapped_to_nothing, sizeof mapped_to_nothing / sizeof mapped_to_nothing[0],
                     cp)) {
            /* dropped */
        } else if (in_table(non_ascii_space,
                            sizeof non_ascii_space / sizeof non_ascii_space[0], cp)) {
            res[w++] = ' ';
        } else if (is_prohibited(cp)) {
            goto invalid;
        } else {
            memcpy(res + w, s + i, len);
            w += len;
        }
        i += len;
    }
    res[w] = '\0';
    *out = res;
    return 0;
invalid:
    OPENSSL_cleanse(res, n + 1);
    pop3a_free(res);
    return -1;
}

