/* Account settings: one key table for flags and config keys (settings.h). */
#include "settings.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pop3async/pop3async.h>

#include "client_options.h"

typedef enum { K_STR, K_BOOL, K_LONG, K_TLS, K_DELIVER } key_type;

struct key {
    const char *name;
    key_type type;
    size_t offset;
    long max; /* K_LONG: 1..max */
    deliver_kind kind; /* K_DELIVER */
};

#define F(field) offsetof(struct settings, field)
static const struct key keys[] = {
    {"host", K_STR, F(host), 0, 0},
    {"port", K_LONG, F(port), 65535, 0},
    {"user", K_STR, F(user), 0, 0},
    {"password_file", K_STR, F(password_file), 0, 0},
    {"password_env", K_STR, F(password_env), 0, 0},
    {"password_cmd", K_STR, F(password_cmd), 0, 0},
    {"oauth_token_cmd", K_STR, F(oauth_token_cmd), 0, 0},
    {"tls", K_TLS, F(tls), 0, 0},
    {"ca_file", K_STR, F(ca_file), 0, 0},
    {"fingerprint", K_STR, F(fingerprint), 0, 0},
    {"proxy", K_STR, F(proxy), 0, 0},
    {"proxy_env", K_STR, F(proxy_env), 0, 0},
    {"allow_cleartext", K_BOOL, F(allow_cleartext), 0, 0},
    {"maildir", K_DELIVER, F(target), 0, DELIVER_MAILDIR},
    {"mbox", K_DELIVER, F(target), 0, DELIVER_MBOX},
    {"mda", K_DELIVER, F(target), 0, DELIVER_MDA},
    {"mda_crlf", K_BOOL, F(mda_crlf), 0, 0},
    {"delete", K_BOOL, F(delete_after), 0, 0},
    {"all", K_BOOL, F(all), 0, 0},
    {"state", K_STR, F(state), 0, 0},
    /* seconds: the library takes milliseconds in 32 bits */
    {"timeout", K_LONG, F(timeout_s), 4000000, 0},
    {"poll", K_LONG, F(poll_s), 4000000, 0},
};
#undef F
#define N_KEYS (sizeof keys / sizeof keys[0])

static const struct key *find_key(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

void settings_init(struct settings *s)
{
    *s = (struct settings){.port = -1, .tls = -1, .allow_cleartext = -1, .delete_after = -1,
                           .all = -1, .mda_crlf = -1, .timeout_s = -1, .poll_s = -1};
}

void settings_free(struct settings *s)
{
    free(s->name);
    for (size_t i = 0; i < N_KEYS; i++)
        if (keys[i].type == K_STR || keys[i].type == K_DELIVER) {
            char **p = (char **)((char *)s + keys[i].offset);
            free(*p);
            *p = NULL; /* maildir/mbox/mda share one field */
        }
    settings_init(s);
}

int settings_key_is_bool(const char *key)
{
    const struct key *k = find_key(key);
    return k && k->type == K_BOOL;
}

int proxy_url_has_credentials(const char *url)
{
    const char *host = strstr(url, "://");
    return host && strchr(host, '@') != NULL;
}

int settings_pair_is_secret(const char *key, const char *value)
{
    return strncmp(key, "password_", 9) == 0 || strcmp(key, "oauth_token_cmd") == 0 ||
           strcmp(key, "proxy_env") == 0 ||
           (strcmp(key, "proxy") == 0 && proxy_url_has_credentials(value));
}

static int parse_long(const char *v, long max, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < 1 || n > max)
        return -1;
    *out = n;
    return 0;
}

int settings_set(struct settings *s, const char *key, const char *value, char *err,
                 size_t errsz)
{
    const struct key *k = find_key(key);
    void *field = k ? (char *)s + k->offset : NULL;
    if (!k) {
        snprintf(err, errsz, "unknown key \"%s\"", key);
        return -1;
    }
    switch (k->type) {
    case K_BOOL:
        if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0)
            break;
        *(int *)field = value[0] == 't';
        return 0;
    case K_LONG:
        if (parse_long(value, k->max, field) != 0)
            break;
        return 0;
    case K_TLS:
        if (strcmp(value, "implicit") == 0)
            s->tls = POP3A_TLS_IMPLICIT;
        else if (strcmp(value, "stls") == 0)
            s->tls = POP3A_TLS_STLS;
        else if (strcmp(value, "none") == 0)
            s->tls = POP3A_TLS_NONE;
        else
            break;
        return 0;
    case K_DELIVER:
        if (s->deliver != DELIVER_UNSET && s->deliver != k->kind) {
            snprintf(err, errsz, "%s: only one of maildir, mbox and mda", key);
            return -1;
        }
        s->deliver = k->kind;
        /* fall through */
    case K_STR:
        if (!value[0])
            break;
        free(*(char **)field);
        *(char **)field = strdup(value);
        if (!*(char **)field) {
            snprintf(err, errsz, "out of memory");
            return -1;
        }
        return 0;
    }
    snprintf(err, errsz, "%s: bad value \"%s\"%s", key, value,
             k->type == K_BOOL ? " (true or false)"
             : k->type == K_TLS ? " (implicit, stls or none)"
             : k->type == K_LONG ? " (a positive number)" : "");
    return -1;
}

int settings_inherit(struct settings *s, const struct settings *from)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct key *k = &keys[i];
        char *dst = (char *)s + k->offset;
        const char *src = (const char *)from + k->offset;
        if (k->type == K_DELIVER) {
            if (k->kind != DELIVER_MAILDIR) /* one shared field: copy it once */
                continue;
            if (s->deliver == DELIVER_UNSET && from->deliver != DELIVER_UNSET) {
                s->deliver = from->deliver;
                if (!(s->target = strdup(from->target)))
                    return -1;
            }
        } else if (k->type == K_STR) {
            if (!*(char **)dst && *(char *const *)src &&
                !(*(char **)dst = strdup(*(char *const *)src)))
                return -1;
        } else if (k->type == K_LONG) {
            if (*(long *)dst < 0)
                *(long *)dst = *(const long *)src;
        } else if (*(int *)dst < 0) {
            *(int *)dst = *(const int *)src;
        }
    }
    return 0;
}

/* "~/x" -> "$HOME/x" for paths, as a shell would (the config file has none). */
static int expand_home(char **path)
{
    const char *home = getenv("HOME");
    if (!*path || strncmp(*path, "~/", 2) != 0 || !home || !home[0])
        return 0;
    size_t n = strlen(home) + strlen(*path);
    char *p = malloc(n);
    if (!p)
        return -1;
    snprintf(p, n, "%s%s", home, *path + 1);
    free(*path);
    *path = p;
    return 0;
}

/* proxy_env's variable into proxy, then the library's own check of the URL,
 * so a bad one is a configuration error before any connection. The URL is
 * never quoted back: it may hold the proxy's password. */
static int finish_proxy(struct settings *s, char *err, size_t errsz)
{
    if (s->proxy && s->proxy_env) {
        snprintf(err, errsz, "only one of proxy and proxy_env");
        return -1;
    }
    if (s->proxy_env) {
        const char *v = getenv(s->proxy_env);
        if (!v || !v[0]) {
            snprintf(err, errsz, "proxy_env %s: not set or empty", s->proxy_env);
            return -1;
        }
        if (!(s->proxy = strdup(v))) {
            snprintf(err, errsz, "out of memory");
            return -1;
        }
    }
    if (!s->proxy)
        return 0;
    pop3a_options *probe = pop3a_options_new();
    int bad = !probe || pop3a_options_set_proxy(probe, s->proxy) != 0;
    pop3a_options_free(probe);
    if (bad)
        snprintf(err, errsz, "%s: not a socks5h:// or socks5:// URL with a port",
                 s->proxy_env ? "proxy_env" : "proxy");
    return bad ? -1 : 0;
}

int settings_finish(struct settings *s, char *err, size_t errsz)
{
    int secrets = !!s->password_file + !!s->password_env + !!s->password_cmd +
                  !!s->oauth_token_cmd;
    uint8_t pin[32];
    if (s->fingerprint && fingerprint_parse(s->fingerprint, pin) != 0) {
        snprintf(err, errsz, "fingerprint: want 64 hex digits (the certificate's SHA-256)");
        return -1;
    }
    if (!s->host || !s->user) {
        snprintf(err, errsz, "host and user are required");
        return -1;
    }
    if (secrets != 1) {
        snprintf(err, errsz, "%s one of password_file, password_env, password_cmd and "
                 "oauth_token_cmd", secrets ? "only" : "needs");
        return -1;
    }
    if (s->deliver == DELIVER_UNSET) {
        snprintf(err, errsz, "needs one of maildir, mbox and mda");
        return -1;
    }
    if (finish_proxy(s, err, errsz) != 0)
        return -1;
    if ((s->deliver != DELIVER_MDA && expand_home(&s->target) != 0) ||
        expand_home(&s->state) != 0 || expand_home(&s->password_file) != 0 ||
        expand_home(&s->ca_file) != 0) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    if (s->tls < 0)
        s->tls = s->port < 0 || s->port == 995 ? POP3A_TLS_IMPLICIT : POP3A_TLS_STLS;
    if (s->port < 0)
        s->port = s->tls == POP3A_TLS_IMPLICIT ? 995 : 110;
    if (s->allow_cleartext < 0)
        s->allow_cleartext = 0;
    if (s->delete_after < 0)
        s->delete_after = 0;
    if (s->all < 0)
        s->all = 0;
    if (s->mda_crlf < 0)
        s->mda_crlf = 1;
    if (!s->name) {
        size_t n = strlen(s->user) + strlen(s->host) + 2;
        if (!(s->name = malloc(n))) {
            snprintf(err, errsz, "out of memory");
            return -1;
        }
        snprintf(s->name, n, "%s@%s", s->user, s->host);
    }
    return 0;
}
