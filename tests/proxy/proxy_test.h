/*
 * Shared bits of the proxy tests: a client configured for a SOCKS5 proxy and
 * the POP3 exchange that follows the tunnel (greeting, CAPA, QUIT).
 */
#ifndef POP3A_PROXY_TEST_H
#define POP3A_PROXY_TEST_H

#include "session_test.h"

/* Makes e->client with `proxy_url` set and submits pop3a_connect(host, port). */
static inline void proxy_connect(tu_env *e, const char *proxy_url, const char *host,
                                 uint16_t port, tu_rec *conn)
{
    ck_assert_int_eq(pop3a_options_set_proxy(e->opts, proxy_url), 0);
    e->client = pop3a_client_new(e->base, NULL, e->opts);
    ck_assert_ptr_nonnull(e->client);
    ck_assert_ptr_nonnull(pop3a_connect(e->client, host, port, tu_done, conn));
}

/* The POP3 part of a script once the tunnel is up: greeting, CAPA, QUIT. */
static inline void script_pop3_quit(p3s *s)
{
    tu_script_greeting_capa(s, PLAIN_GREETING, CAPA_BASIC);
    p3s_expect(s, "QUIT");
    p3s_send(s, "+OK bye\r\n");
    p3s_expect_eof(s);
}

#endif
