/*
 * The public header must compile on its own as strict C99 (-std=c99 -pedantic
 * -Werror): users are not forced onto C11 nor onto libevent/OpenSSL headers.
 * Linking the exported functions also proves the declarations match the library.
 */
#include <pop3async/pop3async.h>

#include <stdio.h>

/* A callback of each type, declared the way a user would. */
static void on_done(pop3a_client *client, pop3a_future *future, void *arg)
{
    (void)client;
    (void)future;
    (void)arg;
}

static int on_chunk(pop3a_client *client, pop3a_future *future, const char *data, size_t len,
                    int final, void *arg)
{
    (void)client;
    (void)future;
    (void)data;
    (void)len;
    (void)final;
    (void)arg;
    return POP3A_CHUNK_CONTINUE;
}

int main(void)
{
    pop3a_done_cb done = on_done;
    pop3a_chunk_cb chunk = on_chunk;
    pop3a_future *(*retr)(pop3a_client *, uint32_t, pop3a_chunk_cb, pop3a_done_cb, void *) =
        pop3a_retr;
    unsigned mechs = POP3A_MECH_USER | POP3A_MECH_APOP;
    pop3a_status st = POP3A_ERR_UNSUPPORTED;
    if (!done || !chunk || !retr || mechs != 3u)
        return 1;
    const char *name = pop3a_status_name(st);
    const char *text = pop3a_strerror(st);
    if (!name || !text)
        return 1;
    printf("%s: %s\n", name, text);
    return 0;
}
