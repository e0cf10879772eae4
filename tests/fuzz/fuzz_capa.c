/*
 * Differential fuzzer for the CAPA decoder (lib/protocol/capa.c).
 *
 * The input is a CAPA reply body: lines ended by LF (a CR before it is
 * removed, as the reply parser does). Every line goes to pop3a_capa_add_line
 * and to a reference written here from RFC 2449 section 6 and capa.h: keyword
 * first, case-insensitive; the known keywords set their flags; SASL lists
 * mechanisms (unknown ones ignored, "-PLUS" variants of SCRAM kept apart);
 * LOGIN-DELAY and EXPIRE take a count (EXPIRE also NEVER); IMPLEMENTATION
 * keeps printable text, at most 255 bytes. The resulting sets must be equal,
 * and a deep copy must equal the original.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capa.h"
#include "fuzz_common.h"

typedef struct {
    unsigned flags, mechs, plus_mechs;
    int64_t login_delay, expire;
    char impl[256];
    int has_impl;
} ref_capa;

static int is_sep(char c)
{
    return c == ' ' || c == '\t';
}

static int upper(int c)
{
    return c >= 'a' && c <= 'z' ? c - 32 : c;
}

static int token_eq(const char *t, size_t n, const char *word)
{
    if (n != strlen(word))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (upper((unsigned char)t[i]) != (unsigned char)word[i])
            return 0;
    return 1;
}

/* Next token at *pos: skip separators, take the non-separators. */
static size_t take_token(const char *s, size_t len, size_t *pos, const char **tok)
{
    while (*pos < len && is_sep(s[*pos]))
        (*pos)++;
    size_t start = *pos;
    while (*pos < len && !is_sep(s[*pos]))
        (*pos)++;
    *tok = s + start;
    return *pos - start;
}

static const struct {
    unsigned bit;
    const char *name;
} mechs[] = {
    {POP3A_MECH_PLAIN, "PLAIN"},
    {POP3A_MECH_LOGIN, "LOGIN"},
    {POP3A_MECH_CRAM_MD5, "CRAM-MD5"},
    {POP3A_MECH_SCRAM_SHA_1, "SCRAM-SHA-1"},
    {POP3A_MECH_SCRAM_SHA_256, "SCRAM-SHA-256"},
    {POP3A_MECH_XOAUTH2, "XOAUTH2"},
    {POP3A_MECH_OAUTHBEARER, "OAUTHBEARER"},
    {POP3A_MECH_EXTERNAL, "EXTERNAL"},
};

static unsigned mech_bit(const char *t, size_t n)
{
    for (size_t i = 0; i < sizeof mechs / sizeof mechs[0]; i++)
        if (token_eq(t, n, mechs[i].name))
            return mechs[i].bit;
    return 0;
}

static int64_t count_value(const char *t, size_t n)
{
    /* Leading zeros are allowed: compare significant digits with the limit. */
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (t[i] < '0' || t[i] > '9')
            return -1;
    while (n > 1 && t[0] == '0') {
        t++;
        n--;
    }
    if (n > 10 || (n == 10 && memcmp(t, "4294967295", 10) > 0))
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (t[i] - '0');
    return v;
}

static void ref_sasl(ref_capa *r, const char *s, size_t len, size_t pos)
{
    const char *t;
    size_t n;
    r->flags |= POP3A_CAPA_SASL;
    while ((n = take_token(s, len, &pos, &t)) > 0) {
        if (n > 5 && token_eq(t + n - 5, 5, "-PLUS")) {
            r->plus_mechs |=
                mech_bit(t, n - 5) & (POP3A_MECH_SCRAM_SHA_1 | POP3A_MECH_SCRAM_SHA_256);
            continue;
        }
        r->mechs |= mech_bit(t, n);
    }
}

static void ref_implementation(ref_capa *r, const char *s, size_t len, size_t pos)
{
    while (pos < len && is_sep(s[pos]))
        pos++;
    size_t end = len;
    while (end > pos && is_sep(s[end - 1]))
        end--;
    size_t n = end - pos;
    if (n > 255)
        n = 255;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[pos + i];
        r->impl[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    r->impl[n] = '\0';
    r->has_impl = 1;
    r->flags |= POP3A_CAPA_IMPLEMENTATION;
}

static void ref_line(ref_capa *r, const char *s, size_t len)
{
    static const struct {
        const char *kw;
        unsigned flag;
    } simple[] = {
        {"TOP", POP3A_CAPA_TOP},
        {"UIDL", POP3A_CAPA_UIDL},
        {"STLS", POP3A_CAPA_STLS},
        {"PIPELINING", POP3A_CAPA_PIPELINING},
        {"RESP-CODES", POP3A_CAPA_RESP_CODES},
        {"AUTH-RESP-CODE", POP3A_CAPA_AUTH_RESP_CODE},
        {"UTF8", POP3A_CAPA_UTF8},
        {"LANG", POP3A_CAPA_LANG},
    };
    size_t pos = 0;
    const char *kw, *t;
    size_t kn = take_token(s, len, &pos, &kw), n;
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        if (token_eq(kw, kn, simple[i].kw)) {
            r->flags |= simple[i].flag;
            return;
        }
    }
    if (token_eq(kw, kn, "USER")) {
        r->flags |= POP3A_CAPA_USER;
        r->mechs |= POP3A_MECH_USER;
    } else if (token_eq(kw, kn, "SASL")) {
        ref_sasl(r, s, len, pos);
    } else if (token_eq(kw, kn, "LOGIN-DELAY")) {
        n = take_token(s, len, &pos, &t);
        r->flags |= POP3A_CAPA_LOGIN_DELAY;
        r->login_delay = count_value(t, n);
    } else if (token_eq(kw, kn, "EXPIRE")) {
        n = take_token(s, len, &pos, &t);
        r->flags |= POP3A_CAPA_EXPIRE;
        r->expire = token_eq(t, n, "NEVER") ? (int64_t)UINT32_MAX : count_value(t, n);
    } else if (token_eq(kw, kn, "IMPLEMENTATION")) {
        ref_implementation(r, s, len, pos);
    }
}

static void compare(const struct pop3a_capa *c, const ref_capa *r, const char *what)
{
    FUZZ_CHECK(c->flags == r->flags, "%s: flags %#x, reference %#x", what, c->flags, r->flags);
    FUZZ_CHECK(c->mechs == r->mechs, "%s: mechs %#x, reference %#x", what, c->mechs, r->mechs);
    FUZZ_CHECK(c->plus_mechs == r->plus_mechs, "%s: plus_mechs %#x, reference %#x", what,
               c->plus_mechs, r->plus_mechs);
    FUZZ_CHECK(c->login_delay == r->login_delay, "%s: login_delay differs", what);
    FUZZ_CHECK(c->expire == r->expire, "%s: expire differs", what);
    FUZZ_CHECK((c->implementation != NULL) == r->has_impl, "%s: implementation presence", what);
    if (r->has_impl)
        FUZZ_CHECK(strcmp(c->implementation, r->impl) == 0, "%s: implementation \"%s\" vs \"%s\"",
                   what, c->implementation, r->impl);
    FUZZ_CHECK(pop3a_capa_flags(c) == c->flags && pop3a_capa_mechs(c) == c->mechs &&
                   pop3a_capa_login_delay(c) == c->login_delay &&
                   pop3a_capa_expire(c) == c->expire &&
                   pop3a_capa_implementation(c) == c->implementation,
               "%s: public accessors disagree with the set", what);
}

static void check_mech_names(void)
{
    for (size_t i = 0; i < sizeof mechs / sizeof mechs[0]; i++) {
        const char *name = pop3a_mech_name(mechs[i].bit);
        FUZZ_CHECK(name && strcmp(name, mechs[i].name) == 0, "mech name of %#x", mechs[i].bit);
        FUZZ_CHECK(pop3a_mech_from_name(name, strlen(name)) == mechs[i].bit, "mech round trip");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = data ? (const char *)data : "";
    struct pop3a_capa capa;
    ref_capa ref;
    memset(&ref, 0, sizeof ref);
    ref.login_delay = ref.expire = -1;
    pop3a_capa_init(&capa);

    size_t start = 0;
    while (start < size) {
        const char *nl = memchr(s + start, '\n', size - start);
        size_t end = nl ? (size_t)(nl - s) : size;
        size_t len = end - start;
        if (len > 0 && s[start + len - 1] == '\r')
            len--;
        /* An exact-size copy: a read past the line is an ASan report. */
        char *line = malloc(len ? len : 1);
        if (!line)
            break;
        memcpy(line, s + start, len);
        FUZZ_CHECK(pop3a_capa_add_line(&capa, line, len) == 0, "add_line failed");
        ref_line(&ref, line, len);
        free(line);
        start = end + 1;
    }
    compare(&capa, &ref, "parsed");

    struct pop3a_capa copy;
    pop3a_capa_init(&copy);
    FUZZ_CHECK(pop3a_capa_copy(&copy, &capa) == 0, "copy failed");
    compare(&copy, &ref, "copy");
    FUZZ_CHECK(capa.implementation == NULL || copy.implementation != capa.implementation,
               "copy shares the implementation string");
    pop3a_capa_clear(&copy);
    pop3a_capa_clear(&capa);
    FUZZ_CHECK(capa.flags == 0 && capa.implementation == NULL, "clear left state behind");
    check_mech_names();
    return 0;
}
