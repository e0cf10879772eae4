/*
 * One account's settings, from the command line or the config file. Both go
 * through settings_set() with the same key names (the long flags, '-' written
 * '_'), so the flags and the config keys cannot drift apart.
 */
#ifndef POP3FETCH_SETTINGS_H
#define POP3FETCH_SETTINGS_H

#include <stddef.h>

typedef enum { DELIVER_UNSET = 0, DELIVER_MAILDIR, DELIVER_MBOX, DELIVER_MDA } deliver_kind;

/* Booleans and numbers are -1 while unset, so [defaults] fill only the gaps. */
struct settings {
    char *name; /* [account NAME], or user@host on the command line */
    char *host, *user;
    long port; /* -1: 995 for implicit TLS, 110 otherwise */
    char *password_file, *password_env, *password_cmd, *oauth_token_cmd;
    int tls; /* pop3a_tls_mode, -1 unset (implicit) */
    char *ca_file, *fingerprint;
    /* SOCKS5 proxy URL; proxy_env names a variable holding one. Credentials
     * in the URL only from the config file or the variable, never argv. */
    char *proxy, *proxy_env;
    int allow_cleartext;
    deliver_kind deliver;
    char *target; /* the Maildir directory, the mbox file or the MDA command */
    int delete_after, all, mda_crlf;
    char *state;
    long timeout_s, poll_s;
};

/* Every field unset. */
void settings_init(struct settings *s);
void settings_free(struct settings *s);

/* Sets `key` (e.g. "password_file") from its text. 0, or -1 with a message in
 * err for an unknown key or a bad value. */
int settings_set(struct settings *s, const char *key, const char *value, char *err,
                 size_t errsz);
/* 1 when `key` is a boolean (a command-line flag without a value). */
int settings_key_is_bool(const char *key);
/* 1 when the pair names a secret source (password_*, oauth_token_cmd,
 * proxy_env) or holds one (a proxy URL with USER:PASS@). */
int settings_pair_is_secret(const char *key, const char *value);
/* 1 when a proxy URL carries credentials (USER:PASS@ after the scheme). */
int proxy_url_has_credentials(const char *url);

/* Copies into s every field s lacks and `from` has. 0, or -1 out of memory. */
int settings_inherit(struct settings *s, const struct settings *from);
/* Fills the defaults (port, TLS, keep) and checks the account is complete:
 * host, user, exactly one secret source and one delivery, at most one of
 * proxy and proxy_env (whose variable is read now into proxy), a proxy URL
 * the library takes. 0, or -1 with err (which never holds the proxy URL). */
int settings_finish(struct settings *s, char *err, size_t errsz);

#endif
