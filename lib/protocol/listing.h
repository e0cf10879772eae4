/* Decoders for the numbers POP3 replies carry: STAT's "+OK n size", LIST's
 * "n size" and UIDL's "n uid" lines (RFC 1939 section 5, 7). Pure. A value that
 * does not fit (msg > UINT32_MAX or 0, size > UINT64_MAX, a sign, no digits) is an
 * error (-1), never a wrap-around. Runs of spaces or tabs before and between fields
 * are tolerated, and text after the last field and a separator (RFC 1939 allows
 * it) is ignored; anything glued to a field ("12x") makes it invalid. STAT's
 * count may be 0; a message number must be 1..UINT32_MAX. On error the outputs
 * are left untouched. */
#ifndef POP3A_LISTING_H
#define POP3A_LISTING_H

#include <stddef.h>
#include <stdint.h>

int pop3a_parse_stat(const char *text, size_t len, uint32_t *count, uint64_t *octets);
int pop3a_parse_list_line(const char *line, size_t len, uint32_t *msg, uint64_t *size);
/* uid points into line; RFC 1939: 1 to 70 characters in 0x21..0x7E. */
int pop3a_parse_uidl_line(const char *line, size_t len, uint32_t *msg, const char **uid,
                          size_t *uid_len);
/* Unsigned decimal with overflow check; count fields may be 0. Returns 0 or -1
 * with *out untouched. No sign, no spaces, at least one digit. */
int pop3a_parse_u64(const char *s, size_t len, uint64_t *out);
/* The same, at most UINT32_MAX. */
int pop3a_parse_u32(const char *s, size_t len, uint32_t *out);

/* The fields of a reply line, as every POP3 reply with fields is read here
 * (STAT, LIST, UIDL, CAPA): runs of spaces or tabs separate them. RFC 1939 and
 * RFC 2449 say one space; servers have been seen padding. text need not be
 * NUL-terminated and may hold NUL bytes. */
typedef struct {
    const char *p;
    const char *end;
} pop3a_fields;

void pop3a_fields_init(pop3a_fields *f, const char *text, size_t len);
/* The next field (the bytes up to a separator or the end) in *field and its
 * length; 0 when no field is left. */
size_t pop3a_fields_next(pop3a_fields *f, const char **field);
/* Everything left, without leading or trailing separators (free text such as
 * CAPA's IMPLEMENTATION); the fields are used up afterwards. */
size_t pop3a_fields_rest(pop3a_fields *f, const char **rest);

#endif
