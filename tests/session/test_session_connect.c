/*
 * pop3a_connect over TCP on loopback (IPv4, IPv6, a host name), and many clients
 * sharing one event_base.
 */
#include <stdio.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/dns.h>

#include "session_test.h"

/* Datagram sockets open in this process: a resolver (evdns) opens one per
 * name server when it is set up, before any lookup. */
static int datagram_sockets(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++) {
        int type;
        socklen_t len = sizeof type;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_DGRAM)
            n++;
    }
    return n;
}

/* Makes the client from e->opts and submits pop3a_connect(host, port) on `conn`. */
static void client_connect(tu_env *e, const char *host, uint16_t port, tu_rec *conn)
{
    e->client = pop3a_client_new(e->base, NULL, e->opts);
    ck_assert_ptr_nonnull(e->client);
    ck_assert_ptr_nonnull(pop3a_connect(e->client, host, port, tu_done, conn));
}

/* Starts e's scripted server listening on 127.0.0.1; its port. */
static uint16_t listen_loopback(tu_env *e)
{
    uint16_t port = p3s_listen(e->srv, "127.0.0.1");
    ck_assert_uint_ne(port, 0);
    return port;
}

/* Greeting, CAPA, QUIT against a listening scripted server reached by `host`.
 * Returns how many datagram sockets the client had opened meanwhile. */
static int connect_and_quit(const char *listen_addr, const char *host)
{
    int udp_before = datagram_sockets();
    tu_env e;
    tu_env_init(&e);
    uint16_t port = p3s_listen(e.srv, listen_addr);
    ck_assert_uint_ne(port, 0);
    tu_script_greeting_capa(e.srv, PLAIN_GREETING, CAPA_BASIC);
    p3s_expect(e.srv, "QUIT");
    p3s_send(e.srv, "+OK bye\r\n");
    p3s_expect_eof(e.srv);
    tu_rec conn, quit;
    RECS_INIT(NULL, 0, &conn, &quit);
    client_connect(&e, host, port, &conn);
    ck_assert_ptr_nonnull(pop3a_quit(e.client, tu_done, &quit));
    WAIT_DONE_AND_SCRIPT(&e, quit);
    ASSERT_ONCE_OK(conn);
    ck_assert_int_eq(conn.has_capa, 1);
    ck_assert_uint_eq(conn.capa_flags & POP3A_CAPA_UIDL, POP3A_CAPA_UIDL);
    ck_assert_int_eq(pop3a_client_is_tls(e.client), 0);
    ASSERT_ONCE_OK(quit);
    int udp_opened = datagram_sockets() - udp_before; /* the client still exists */
    tu_env_free(&e);
    return udp_opened;
}

/* An address literal is used as it is: no resolver is set up for it (that
 * reads /etc/resolv.conf and opens a socket per name server). By name it goes
 * through evdns (/etc/hosts); every address is tried in order, so that works
 * whichever family "localhost" lists first, and the resolver's socket shows
 * that the literal cases would see one. */
static const struct {
    const char *listen_addr, *host;
    int by_name; /* a resolver is expected */
} connect_cases[] = {
    {"127.0.0.1", "127.0.0.1", 0},
    {"::1", "::1", 0},
    {"127.0.0.1", "localhost", 1},
};

START_TEST(connect_ipv4_ipv6_literal_or_by_name)
{
    int udp_opened = connect_and_quit(connect_cases[_i].listen_addr, connect_cases[_i].host);
    if (connect_cases[_i].by_name)
        ck_assert_int_ge(udp_opened, 1);
    else
        ck_assert_int_eq(udp_opened, 0);
}
END_TEST

/* Nobody listening: the connect future fails (IO), nothing hangs. */
START_TEST(connect_refused_fails)
{
    tu_env e;
    tu_env_init(&e);
    /* Take a free port, then let it go. */
    p3s *tmp = p3s_new(e.base);
    uint16_t port = p3s_listen(tmp, "127.0.0.1");
    ck_assert_uint_ne(port, 0);
    p3s_free(tmp);
    tu_rec conn;
    tu_rec_init(&conn, 0, NULL);
    client_connect(&e, "127.0.0.1", port, &conn);
    WAIT_DONE(&e, conn);
    ASSERT_ONCE_STATUS(conn, POP3A_ERR_IO);
    ck_assert_int_eq(pop3a_client_error(e.client), POP3A_ERR_IO);
    tu_env_free(&e);
}
END_TEST

/* A name the resolver answers at once (here from its hosts file), whose only
 * address fails at once (a TCP connect to a multicast address: ENETUNREACH):
 * the connect op fails inside the lookup call. It completes once, with IO, and
 * nothing touches it afterwards (ASan / valgrind: no use after free). */
START_TEST(connect_answered_and_failed_inside_the_lookup)
{
    tu_env e;
    tu_env_init(&e);
    char hosts[] = "/tmp/pop3a-hosts-XXXXXX";
    int fd = mkstemp(hosts);
    ck_assert_int_ge(fd, 0);
    static const char line[] = "224.0.0.1 unreachable.test\n";
    ck_assert_int_eq(write(fd, line, sizeof line - 1), (int)(sizeof line - 1));
    close(fd);
    struct evdns_base *dns = evdns_base_new(e.base, 0);
    ck_assert_ptr_nonnull(dns);
    ck_assert_int_eq(evdns_base_load_hosts(dns, hosts), 0);
    unlink(hosts);
    e.client = pop3a_client_new(e.base, dns, e.opts);
    ck_assert_ptr_nonnull(e.client);
    tu_rec conn;
    tu_rec_init(&conn, 0, NULL);
    ck_assert_ptr_nonnull(pop3a_connect(e.client, "unreachable.test", 110, tu_done, &conn));
    WAIT_DONE(&e, conn);
    run_for(e.base, 20);
    ASSERT_ONCE_STATUS(conn, POP3A_ERR_IO);
    pop3a_client_free(e.client);
    e.client = NULL;
    evdns_base_free(dns, 0);
    tu_env_free(&e);
}
END_TEST

static unsigned long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long)ts.tv_sec * 1000u + (unsigned long)(ts.tv_nsec / 1000000);
}

/* A loopback address and port that never answers a connect: a listening
 * socket whose accept queue is full drops further SYNs, with no RST. Returns
 * the listener; *filler is the connection that fills the queue. */
static int black_hole(const char *addr, uint16_t port, int *filler)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    ck_assert_int_eq(inet_pton(AF_INET, addr, &sa.sin_addr), 1);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(l, 0);
    ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(l, 0), 0); /* a queue of one */
    *filler = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(*filler, 0);
    ck_assert_int_eq(connect(*filler, (struct sockaddr *)&sa, sizeof sa), 0);
    return l;
}

/* A name whose first address never answers (a black-holed route) and whose
 * second is the server (issue 13 finding 3): the addresses race (RFC 8305),
 * the second starting 250 ms after the first, and the connect succeeds then,
 * long before the connect timeout. Before, the first address took all of it
 * and the connect failed with TIMEOUT. */
START_TEST(connect_moves_past_a_black_holed_address)
{
    tu_env e;
    tu_env_init(&e);
    unsigned connect_ms = 3000 * tu_time_scale();
    pop3a_options_set_timeouts(e.opts, connect_ms, 60000);
    uint16_t port = listen_loopback(&e);
    int filler;
    int hole = black_hole("127.0.0.2", port, &filler);
    char hosts[] = "/tmp/pop3a-hosts-XXXXXX";
    int fd = mkstemp(hosts);
    ck_assert_int_ge(fd, 0);
    static const char lines[] = "127.0.0.2 twoaddr.test\n127.0.0.1 twoaddr.test\n";
    ck_assert_int_eq(write(fd, lines, sizeof lines - 1), (int)(sizeof lines - 1));
    close(fd);
    struct evdns_base *dns = evdns_base_new(e.base, 0);
    ck_assert_ptr_nonnull(dns);
    ck_assert_int_eq(evdns_base_load_hosts(dns, hosts), 0);
    unlink(hosts);
    tu_script_greeting_capa(e.srv, PLAIN_GREETING, CAPA_BASIC);
    e.client = pop3a_client_new(e.base, dns, e.opts);
    ck_assert_ptr_nonnull(e.client);
    tu_rec conn;
    tu_rec_init(&conn, 0, NULL);
    unsigned long t0 = now_ms();
    ck_assert_ptr_nonnull(pop3a_connect(e.client, "twoaddr.test", port, tu_done, &conn));
    WAIT_DONE(&e, conn);
    unsigned long took = now_ms() - t0;
    ASSERT_ONCE_OK(conn);
    /* The black hole was tried first, and the second address 250 ms later. */
    ck_assert_uint_ge(took, 240);
    ck_assert_uint_lt(took, connect_ms / 2);
    pop3a_client_free(e.client);
    e.client = NULL;
    evdns_base_free(dns, 0);
    close(filler);
    close(hole);
    tu_env_free(&e);
}
END_TEST

/* TCP accepted but no greeting: pop3a_connect's timeout covers it. */
START_TEST(connect_greeting_never_comes)
{
    tu_env e;
    tu_env_init(&e);
    pop3a_options_set_timeouts(e.opts, 250, 5000);
    uint16_t port = listen_loopback(&e);
    tu_rec conn;
    tu_rec_init(&conn, 0, NULL);
    client_connect(&e, "127.0.0.1", port, &conn);
    WAIT_DONE(&e, conn);
    ck_assert(p3s_connected(e.srv));
    ASSERT_ONCE_STATUS(conn, POP3A_ERR_TIMEOUT);
    tu_env_free(&e);
}
END_TEST

/* The connect future completes only once greeting and CAPA are both in. */
START_TEST(connect_waits_for_greeting_and_capa)
{
    tu_env e;
    tu_env_init(&e);
    uint16_t port = listen_loopback(&e);
    p3s_delay(e.srv, 150);
    p3s_send(e.srv, PLAIN_GREETING);
    p3s_expect(e.srv, "CAPA");
    p3s_delay(e.srv, 150);
    p3s_send(e.srv, "+OK\r\nUSER\r\n.\r\n");
    tu_rec conn;
    tu_rec_init(&conn, 0, NULL);
    client_connect(&e, "127.0.0.1", port, &conn);
    run_for(e.base, 100);
    ck_assert_int_eq(conn.done_calls, 0);
    ck_assert_int_eq(p3s_lines_received(e.srv), 0);
    run_for(e.base, 120); /* greeting sent, CAPA answer still delayed */
    ck_assert_int_eq(conn.done_calls, 0);
    WAIT_DONE(&e, conn);
    SCRIPT_DONE(e.srv);
    ASSERT_OK(conn);
    ck_assert_uint_eq(pop3a_capa_flags(pop3a_client_capa(e.client)), POP3A_CAPA_USER);
    tu_env_free(&e);
}
END_TEST

/* ------------------------------------------------------------- many clients */

#define MANY 100

typedef struct {
    p3s *srv;
    pop3a_client *client;
    tu_rec conn, login, stat, retr, quit;
    char body[64];
} one_session;

/* 100 clients on one event_base, each with its own scripted server, all in
 * flight at once; every one completes its whole session correctly. */
START_TEST(hundred_clients_one_event_base)
{
    tu_ignore_sigpipe();
    struct event_base *base = event_base_new();
    ck_assert_ptr_nonnull(base);
    pop3a_options *opts = pop3a_options_new();
    pop3a_options_set_tls(opts, POP3A_TLS_NONE, NULL);
    pop3a_options_allow_cleartext(opts, 1);
    pop3a_options_set_timeouts(opts, 5000, 5000);
    one_session *s = calloc(MANY, sizeof *s);
    ck_assert_ptr_nonnull(s);
    tu_order order = {0};
    for (int i = 0; i < MANY; i++) {
        one_session *o = &s[i];
        snprintf(o->body, sizeof o->body, "Subject: %d\r\n\r\nbody of session %d\r\n", i, i);
        o->srv = p3s_new(base);
        ck_assert_ptr_nonnull(o->srv);
        script_login(o->srv, CAPA_BASIC);
        char line[64];
        p3s_expect(o->srv, "STAT");
        snprintf(line, sizeof line, "+OK 1 %zu\r\n", strlen(o->body));
        p3s_send(o->srv, line);
        p3s_expect(o->srv, "RETR 1");
        p3s_write_chunk(o->srv, (size_t)(i % 7) + 1, 0);
        send_multiline(o->srv, "+OK\r\n", o->body);
        p3s_write_chunk(o->srv, 0, 0);
        p3s_expect(o->srv, "QUIT");
        p3s_send(o->srv, "+OK\r\n");
        o->client = pop3a_client_new(base, NULL, opts);
        ck_assert_ptr_nonnull(o->client);
        tu_rec_init(&o->conn, i, NULL);
        tu_rec_init(&o->login, i, NULL);
        tu_rec_init(&o->stat, i, NULL);
        tu_rec_init(&o->retr, i, NULL);
        tu_rec_init(&o->quit, i, &order);
        ck_assert_ptr_nonnull(pop3a_attach(o->client, p3s_pair(o->srv), tu_done, &o->conn));
        ck_assert_ptr_nonnull(
            pop3a_login(o->client, "alice", "alicepw", POP3A_MECH_USER, tu_done, &o->login));
        ck_assert_ptr_nonnull(pop3a_stat(o->client, tu_done, &o->stat));
        ck_assert_ptr_nonnull(pop3a_retr(o->client, 1, tu_chunk, tu_done, &o->retr));
        ck_assert_ptr_nonnull(pop3a_quit(o->client, tu_done, &o->quit));
    }
    ck_assert_int_eq(run_until_count(base, &order.n, MANY, 20000), 0);
    for (int i = 0; i < MANY; i++) {
        one_session *o = &s[i];
        ck_assert_msg(p3s_error(o->srv) == NULL, "session %d: %s", i, p3s_error(o->srv));
        ASSERT_OK(o->conn);
        ASSERT_OK(o->login);
        ASSERT_OK(o->stat);
        ASSERT_ONCE_OK(o->retr);
        ASSERT_BODY(o->retr, o->body);
        ASSERT_OK(o->quit);
        tu_rec_clear(&o->retr);
        pop3a_client_free(o->client);
    }
    run_for(base, 1);
    for (int i = 0; i < MANY; i++)
        p3s_free(s[i].srv);
    free(s);
    pop3a_options_free(opts);
    event_base_free(base);
}
END_TEST

static Suite *connect_suite(void)
{
    Suite *s = suite_create("session_connect");
    TCase *tc = tcase_create("connect");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, connect_ipv4_ipv6_literal_or_by_name, 0,
                        (int)(sizeof connect_cases / sizeof connect_cases[0]));
    tcase_add_test(tc, connect_refused_fails);
    tcase_add_test(tc, connect_answered_and_failed_inside_the_lookup);
    tcase_add_test(tc, connect_greeting_never_comes);
    tcase_add_test(tc, connect_moves_past_a_black_holed_address);
    tcase_add_test(tc, connect_waits_for_greeting_and_capa);
    suite_add_tcase(s, tc);
    TCase *many = tcase_create("many");
    tcase_set_timeout(many, 60);
    tcase_add_test(many, hundred_clients_one_event_base);
    suite_add_tcase(s, many);
    return s;
}

int main(void)
{
    return run_suite(connect_suite());
}
