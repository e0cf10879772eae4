/*
 * The capability set from a CAPA reply (RFC 2449 s6, plus RFC 2595 STLS,
 * RFC 5034 SASL, RFC 6856 UTF8). Pure.
 *
 * Each CAPA line is a keyword, case-insensitive (RFC 2449 s6), then arguments
 * separated by spaces; runs of spaces or tabs are tolerated. Unknown keywords
 * and unknown SASL mechanisms are ignored, as RFC 2449 s6 requires of clients.
 *
 * A LOGIN-DELAY or EXPIRE line whose number is missing or unreadable still sets
 * its flag (the server did announce the policy) but leaves the value at -1
 * ("unknown"); a later line in the same reply replaces an earlier one.
 */
#include "capa.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "listing.h"

/* Cap on the IMPLEMENTATION text we keep; it is only informative (RFC 2449 s6.9). */
#define IMPLEMENTATION_MAX 255

static char ascii_upper(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

/* Case-insensitive comparison of a counted token with a NUL-terminated name. */
static int token_is(const char *tok, size_t len, const char *name)
{
    size_t n = strlen(name);

    if (len != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (ascii_upper(tok[i]) != name[i])
            return 0;
    }
    return 1;
}

/* --------------------------------------------------------------- mechanisms */

static const struct {
    unsigned bit;
    const char *name;
} mech_names[] = {
    {POP3A_MECH_PLAIN, "PLAIN"},
    {POP3A_MECH_LOGIN, "LOGIN"},
    {POP3A_MECH_CRAM_MD5, "CRAM-MD5"},
    {POP3A_MECH_SCRAM_SHA_1, "SCRAM-SHA-1"},
    {POP3A_MECH_SCRAM_SHA_256, "SCRAM-SHA-256"},
    {POP3A_MECH_XOAUTH2, "XOAUTH2"},
    {POP3A_MECH_OAUTHBEARER, "OAUTHBEARER"},
    {POP3A_MECH_EXTERNAL, "EXTERNAL"},
};

#define MECH_COUNT (sizeof mech_names / sizeof mech_names[0])

unsigned pop3a_mech_from_name(const char *name, size_t len)
{
    if (name == NULL)
        return 0;
    for (size_t i = 0; i < MECH_COUNT; i++) {
        if (token_is(name, len, mech_names[i].name))
            return mech_names[i].bit;
    }
    return 0;
}

const char *pop3a_mech_name(unsigned mech_bit)
{
    for (size_t i = 0; i < MECH_COUNT; i++) {
        if (mech_names[i].bit == mech_bit)
            return mech_names[i].name;
    }
    return NULL;
}

/* --------------------------------------------------------------- the set */

void pop3a_capa_init(struct pop3a_capa *capa)
{
    capa->flags = 0;
    capa->mechs = 0;
    capa->plus_mechs = 0;
    capa->login_delay = -1;
    capa->expire = -1;
    capa->implementation = NULL;
}

void pop3a_capa_clear(struct pop3a_capa *capa)
{
    pop3a_free(capa->implementation);
    pop3a_capa_init(capa);
}

/* A LOGIN-DELAY or EXPIRE count: decimal digits, at most UINT32_MAX; else -1. */
static int64_t parse_count(const char *tok, size_t len)
{
    uint32_t v;

    return pop3a_parse_u32(tok, len, &v) == 0 ? (int64_t)v : -1;
}

/* RFC 2449 s6.5: LOGIN-DELAY seconds [USER]. The USER tag (delay varies per user,
 * only shown before login) changes nothing for us. */
static void add_login_delay(struct pop3a_capa *capa, pop3a_fields *c)
{
    const char *tok;
    size_t len = pop3a_fields_next(c, &tok);

    capa->flags |= POP3A_CAPA_LOGIN_DELAY;
    capa->login_delay = parse_count(tok, len);
}

/* RFC 2449 s6.7: EXPIRE days|NEVER [USER]. The value is the retention period in
 * days, as sent (0: messages go once retrieved); NEVER is UINT32_MAX. */
static void add_expire(struct pop3a_capa *capa, pop3a_fields *c)
{
    const char *tok;
    size_t len = pop3a_fields_next(c, &tok);

    capa->flags |= POP3A_CAPA_EXPIRE;
    capa->expire = token_is(tok, len, "NEVER") ? (int64_t)UINT32_MAX : parse_count(tok, len);
}

/* RFC 2449 s6.3, RFC 5034: SASL mech... ; unknown mechanisms are skipped. */
static void add_sasl(struct pop3a_capa *capa, pop3a_fields *c)
{
    const char *tok;
    size_t len;

    capa->flags |= POP3A_CAPA_SASL;
    while ((len = pop3a_fields_next(c, &tok)) > 0) {
        /* RFC 5802 s6: "SCRAM-SHA-256-PLUS" is the channel-bound variant. */
        static const char plus[] = "-PLUS";
        size_t pl = sizeof plus - 1;
        if (len > pl && strncasecmp(tok + len - pl, plus, pl) == 0) {
            unsigned bit = pop3a_mech_from_name(tok, len - pl);
            capa->plus_mechs |= bit & (POP3A_MECH_SCRAM_SHA_1 | POP3A_MECH_SCRAM_SHA_256);
            continue;
        }
        capa->mechs |= pop3a_mech_from_name(tok, len);
    }
}

/* RFC 2449 s6.9: IMPLEMENTATION text. Kept for display, so control characters
 * (a terminal escape, a NUL) become '?', and at most IMPLEMENTATION_MAX bytes. */
static int add_implementation(struct pop3a_capa *capa, pop3a_fields *c)
{
    const char *text;
    size_t len = pop3a_fields_rest(c, &text);
    char *copy;

    if (len > IMPLEMENTATION_MAX)
        len = IMPLEMENTATION_MAX;
    copy = pop3a_malloc(len + 1); /* owned by capa, freed in pop3a_capa_clear */
    if (copy == NULL)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        copy[i] = (ch < 0x20 || ch == 0x7F) ? '?' : (char)ch;
    }
    copy[len] = '\0';
    pop3a_free(capa->implementation);
    capa->implementation = copy;
    capa->flags |= POP3A_CAPA_IMPLEMENTATION;
    return 0;
}

/* Capabilities that take no argument we use (any arguments are ignored). */
static const struct {
    const char *name;
    unsigned flag;
} simple_capas[] = {
    {"TOP", POP3A_CAPA_TOP},                       /* RFC 2449 s6.1 */
    {"UIDL", POP3A_CAPA_UIDL},                     /* RFC 2449 s6.8 */
    {"STLS", POP3A_CAPA_STLS},                     /* RFC 2595 s4 */
    {"PIPELINING", POP3A_CAPA_PIPELINING},         /* RFC 2449 s6.6 */
    {"RESP-CODES", POP3A_CAPA_RESP_CODES},         /* RFC 2449 s6.4 */
    {"AUTH-RESP-CODE", POP3A_CAPA_AUTH_RESP_CODE}, /* RFC 3206 */
    {"UTF8", POP3A_CAPA_UTF8},                     /* RFC 6856 s2: UTF8 [USER] */
    {"LANG", POP3A_CAPA_LANG},                     /* RFC 6856 */
};

#define SIMPLE_COUNT (sizeof simple_capas / sizeof simple_capas[0])

static unsigned simple_flag(const char *kw, size_t len)
{
    for (size_t i = 0; i < SIMPLE_COUNT; i++) {
        if (token_is(kw, len, simple_capas[i].name))
            return simple_capas[i].flag;
    }
    return 0;
}

int pop3a_capa_add_line(struct pop3a_capa *capa, const char *line, size_t len)
{
    pop3a_fields c;
    const char *kw;
    size_t kw_len;
    unsigned flag;

    if (capa == NULL || line == NULL)
        return 0;
    pop3a_fields_init(&c, line, len);
    kw_len = pop3a_fields_next(&c, &kw);

    if ((flag = simple_flag(kw, kw_len)) != 0) {
        capa->flags |= flag;
    } else if (token_is(kw, kw_len, "USER")) {
        /* RFC 2449 s6.2: USER/PASS is offered. */
        capa->flags |= POP3A_CAPA_USER;
        capa->mechs |= POP3A_MECH_USER;
    } else if (token_is(kw, kw_len, "SASL")) {
        add_sasl(capa, &c);
    } else if (token_is(kw, kw_len, "LOGIN-DELAY")) {
        add_login_delay(capa, &c);
    } else if (token_is(kw, kw_len, "EXPIRE")) {
        add_expire(capa, &c);
    } else if (token_is(kw, kw_len, "IMPLEMENTATION")) {
        return add_implementation(capa, &c);
    }
    return 0;
}

int pop3a_capa_copy(struct pop3a_capa *dst, const struct pop3a_capa *src)
{
    char *impl = NULL;

    if (dst == src)
        return 0;
    if (src->implementation != NULL) {
        size_t n = strlen(src->implementation) + 1;
        impl = pop3a_malloc(n); /* owned by dst */
        if (impl == NULL)
            return -1;
        memcpy(impl, src->implementation, n);
    }
    pop3a_capa_clear(dst);
    *dst = *src;
    dst->implementation = impl;
    return 0;
}

/* ------------------------------------------------------- public accessors */

POP3A_EXPORT unsigned pop3a_capa_flags(const struct pop3a_capa *capa)
{
    return capa != NULL ? capa->flags : 0;
}

POP3A_EXPORT unsigned pop3a_capa_mechs(const struct pop3a_capa *capa)
{
    return capa != NULL ? capa->mechs : 0;
}

POP3A_EXPORT int64_t pop3a_capa_login_delay(const struct pop3a_capa *capa)
{
    return capa != NULL ? capa->login_delay : -1;
}

POP3A_EXPORT int64_t pop3a_capa_expire(const struct pop3a_capa *capa)
{
    return capa != NULL ? capa->expire : -1;
}

POP3A_EXPORT const char *pop3a_capa_implementation(const struct pop3a_capa *capa)
{
    return capa != NULL ? capa->implementation : NULL;
}
