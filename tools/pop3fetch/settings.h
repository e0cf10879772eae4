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
/* 1 when the key names a secret source (password_* or oauth_token_cmd). */
int settings_key_is_secret(const char *key);

/* Copies into s every field s lacks and `from` has. 0, or -1 out of memory. */
int settings_inherit(struct settings *s, const struct settings *from);
/* Fills the defaults (port, TLS, keep) and checks the account is complete:
 * host, user, exactly one secret source and one delivery. 0, or -1 with err. */
int settings_finish(struct settings *s, char *err, size_t errsz);

#endif
