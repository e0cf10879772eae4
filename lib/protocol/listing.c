/*
 * Decoders for STAT, LIST and UIDL numbers (RFC 1939 s5, s7). Pure.
 *
 * RFC 1939 separates fields by a single space; servers have been seen padding
 * with more, so runs of spaces (and tabs, which no field can contain) separate
 * fields here. Anything after the last field and a separator is ignored
 * (RFC 1939 s5: "...may be followed by other information"). A number is plain
 * decimal digits: no sign, no "0x", checked for overflow, so a server sending
 * "+OK 33852 -1972428639" gets an error, not a wrapped count.
 */
#include "listing.h"

/* RFC 1939 s7: a unique-id is 1 to 70 characters in the range 0x21..0x7E. */
#define UID_MAX_LEN 70

static int is_separator(char c)
{
    return c == ' ' || c == '\t';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static void skip_separators(pop3a_fields *f)
{
    while (f->p < f->end && is_separator(*f->p))
        f->p++;
}

void pop3a_fields_init(pop3a_fields *f, const char *text, size_t len)
{
    f->p = text;
    f->end = text + len;
}

size_t pop3a_fields_next(pop3a_fields *f, const char **field)
{
    const char *start;

    skip_separators(f);
    start = f->p;
    while (f->p < f->end && !is_separator(*f->p))
        f->p++;
    *field = start;
    return (size_t)(f->p - start);
}

size_t pop3a_fields_rest(pop3a_fields *f, const char **rest)
{
    const char *end = f->end;

    skip_separators(f);
    while (end > f->p && is_separator(end[-1]))
        end--;
    *rest = f->p;
    f->p = f->end;
    return (size_t)(end - *rest);
}

int pop3a_parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;

    if (s == NULL || len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned d;
        if (!is_digit(s[i]))
            return -1;
        d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int field_u64(pop3a_fields *c, uint64_t *out)
{
    const char *f;
    size_t n = pop3a_fields_next(c, &f);

    return pop3a_parse_u64(f, n, out);
}

int pop3a_parse_u32(const char *s, size_t len, uint32_t *out)
{
    uint64_t v;

    if (pop3a_parse_u64(s, len, &v) != 0 || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int field_u32(pop3a_fields *c, uint32_t *out)
{
    const char *f;
    size_t n = pop3a_fields_next(c, &f);

    return pop3a_parse_u32(f, n, out);
}

/* Message numbers start at 1 (RFC 1939 s3). */
static int field_msg(pop3a_fields *c, uint32_t *out)
{
    uint32_t v;

    if (field_u32(c, &v) != 0 || v == 0)
        return -1;
    *out = v;
    return 0;
}

static int init_cursor(pop3a_fields *c, const char *text, size_t len)
{
    if (text == NULL)
        return -1;
    pop3a_fields_init(c, text, len);
    return 0;
}

int pop3a_parse_stat(const char *text, size_t len, uint32_t *count, uint64_t *octets)
{
    pop3a_fields c;
    uint32_t n;
    uint64_t size;

    /* A maildrop may be empty: "+OK 0 0" (RFC 1939 s5, STAT). */
    if (init_cursor(&c, text, len) != 0 || field_u32(&c, &n) != 0 || field_u64(&c, &size) != 0)
        return -1;
    *count = n;
    *octets = size;
    return 0;
}

int pop3a_parse_list_line(const char *line, size_t len, uint32_t *msg, uint64_t *size)
{
    pop3a_fields c;
    uint32_t n;
    uint64_t octets;

    if (init_cursor(&c, line, len) != 0 || field_msg(&c, &n) != 0 || field_u64(&c, &octets) != 0)
        return -1;
    *msg = n;
    *size = octets;
    return 0;
}

static int uid_valid(const char *uid, size_t len)
{
    if (len == 0 || len > UID_MAX_LEN)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)uid[i];
        if (ch < 0x21 || ch > 0x7E)
            return 0;
    }
    return 1;
}

int pop3a_parse_uidl_line(const char *line, size_t len, uint32_t *msg, const char **uid,
                          size_t *uid_len)
{
    pop3a_fields c;
    uint32_t n;
    const char *f;
    size_t flen;

    if (init_cursor(&c, line, len) != 0 || field_msg(&c, &n) != 0)
        return -1;
    flen = pop3a_fields_next(&c, &f);
    if (!uid_valid(f, flen))
        return -1;
    *msg = n;
    *uid = f;
    *uid_len = flen;
    return 0;
}
