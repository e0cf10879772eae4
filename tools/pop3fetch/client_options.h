/* The library's connection options for an account's settings. */
#ifndef POP3FETCH_CLIENT_OPTIONS_H
#define POP3FETCH_CLIENT_OPTIONS_H

#include <stdint.h>

#include <pop3async/pop3async.h>

#include "settings.h"

/* TLS mode, CA, pin, cleartext policy, timeouts; with `trace` the protocol
 * trace on stderr; `one_at_a_time` turns pipelining off. NULL out of memory
 * (or a fingerprint settings_finish would have refused). */
pop3a_options *client_options(const struct settings *s, int trace, int one_at_a_time);
/* "ab:cd:..." or "abcd...": 32 octets of hex into pin. 0 or -1. */
int fingerprint_parse(const char *text, uint8_t pin[32]);

#endif
