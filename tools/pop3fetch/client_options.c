/* Connection options (client_options.h). */
#include "client_options.h"

#include <ctype.h>
#include <stdlib.h>

#include "progress.h"

/* arg: the account's settings. The library has redacted secrets already. */
static void on_trace(pop3a_client *c, pop3a_trace_dir dir, const char *line, size_t len,
                     void *arg)
{
    const struct settings *s = arg;
    (void)c;
    say(1, "pop3fetch: %s: %s %.*s\n", s->name,
        dir == POP3A_TRACE_SENT ? ">" : dir == POP3A_TRACE_RECEIVED ? "<" : "*", (int)len, line);
}

int fingerprint_parse(const char *text, uint8_t pin[32])
{
    size_t n = 0;
    for (const char *p = text; *p; p++) {
        if (*p == ':')
            continue;
        if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) || n == 32)
            return -1;
        char hex[3] = {p[0], p[1], 0};
        pin[n++] = (uint8_t)strtoul(hex, NULL, 16);
        p++;
    }
    return n == 32 ? 0 : -1;
}

pop3a_options *client_options(const struct settings *s, int trace, int one_at_a_time)
{
    pop3a_options *o = pop3a_options_new();
    uint8_t pin[32];
    uint32_t ms = s->timeout_s > 0 ? (uint32_t)s->timeout_s * 1000u : 0;
    if (!o)
        return NULL;
    if (pop3a_options_set_tls(o, (pop3a_tls_mode)s->tls, NULL) != 0 ||
        (s->ca_file && pop3a_options_set_ca(o, s->ca_file, NULL) != 0) ||
        pop3a_options_allow_cleartext(o, s->allow_cleartext) != 0 ||
        pop3a_options_set_timeouts(o, ms, ms) != 0 ||
        (trace && pop3a_options_set_trace(o, on_trace, (void *)s) != 0) ||
        (one_at_a_time && pop3a_options_set_pipelining(o, 1) != 0) ||
        (s->proxy && pop3a_options_set_proxy(o, s->proxy) != 0) ||
        (s->fingerprint && (fingerprint_parse(s->fingerprint, pin) != 0 ||
                            pop3a_options_set_tls_pin_sha256(o, pin) != 0))) {
        pop3a_options_free(o);
        return NULL;
    }
    return o;
}
