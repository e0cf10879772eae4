/* The capability set from a CAPA reply (RFC 2449 section 6). Pure.
 *
 * The functions name `struct pop3a_capa` rather than the public typedef so this
 * header does not depend on how the public header spells the type. */
#ifndef POP3A_CAPA_H
#define POP3A_CAPA_H

#include <stddef.h>
#include <stdint.h>

#include "pop3async/pop3async.h"

struct pop3a_capa {
    unsigned flags;        /* POP3A_CAPA_* */
    unsigned mechs;        /* POP3A_MECH_* from SASL (plus USER when USER is listed) */
    unsigned plus_mechs;   /* SCRAM bits also offered as "-PLUS" (channel binding) */
    int64_t login_delay;   /* seconds (RFC 2449 s6.5); -1 absent or unreadable */
    int64_t expire;        /* days (RFC 2449 s6.7); UINT32_MAX for NEVER; -1 absent or
                              unreadable. A LOGIN-DELAY/EXPIRE line with a bad number
                              still sets its POP3A_CAPA_* flag. */
    char *implementation;  /* malloc'd or NULL; control characters replaced by '?',
                              at most 255 bytes */
};

/* A CAPA reply has a dozen lines; a server sending thousands is hostile. */
#define POP3A_MAX_CAPA_LINES 1000u

void pop3a_capa_init(struct pop3a_capa *capa);
void pop3a_capa_clear(struct pop3a_capa *capa); /* frees and re-inits */
/* Adds one CAPA line (no line end; may hold NUL bytes). Keywords are
 * case-insensitive; unknown capabilities and SASL mechanisms are ignored; a
 * later line replaces an earlier one's value. USER also sets POP3A_MECH_USER in
 * mechs; APOP is not a CAPA line (the engine adds POP3A_MECH_APOP from the
 * greeting). Returns 0, or -1 on out-of-memory (capa unchanged for that line). */
int pop3a_capa_add_line(struct pop3a_capa *capa, const char *line, size_t len);
/* Deep copy into an init'ed dst (its old contents are freed); 0, or -1 on
 * out-of-memory with dst unchanged. */
int pop3a_capa_copy(struct pop3a_capa *dst, const struct pop3a_capa *src);

/* SASL mechanism names <-> POP3A_MECH_* bits ("SCRAM-SHA-256", case-insensitive,
 * exact: "SCRAM-SHA-256-PLUS" or "DIGEST-MD5" give 0). */
unsigned pop3a_mech_from_name(const char *name, size_t len);
const char *pop3a_mech_name(unsigned mech_bit); /* NULL for USER/APOP/unknown */

#endif
