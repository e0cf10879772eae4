/*
 * capabilities: connect (STLS or implicit TLS), log in with the strongest
 * mechanism both sides allow, and print what the server says it can do (RFC
 * 2449 CAPA) before and after login, then QUIT.
 *
 *   cc -o capabilities capabilities.c example_common.c \
 *      $(pkg-config --cflags --libs libpop3async libevent_core)
 *   POP3_PASSWORD=... ./capabilities --host pop.example.org --tls stls \
 *      --user alice --password-env POP3_PASSWORD
 *
 * The order of calls is the one every program using the library follows:
 * options -> client -> pop3a_connect; each later command is submitted from the
 * done callback of the one before; the loop (event_base_dispatch) drives it all.
 * Capabilities are printed twice because a server may announce different ones
 * once it knows who you are (RFC 2449 section 5: LOGIN-DELAY and EXPIRE often
 * say "USER" before login and the real value after).
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <pop3async/pop3async.h>

#include "example_common.h"

struct session {
    struct ex_opts opts;
    char *password;
    struct event_base *base;
    int failed;
    int quit_done; /* the session ended with QUIT answered */
};

/* Bit -> name tables for the two masks of a pop3a_capa. */
struct bit_name {
    unsigned bit;
    const char *name;
};
static const struct bit_name capa_names[] = {
    {POP3A_CAPA_TOP, "TOP"}, {POP3A_CAPA_UIDL, "UIDL"}, {POP3A_CAPA_USER, "USER"},
    {POP3A_CAPA_SASL, "SASL"}, {POP3A_CAPA_STLS, "STLS"},
    {POP3A_CAPA_PIPELINING, "PIPELINING"}, {POP3A_CAPA_RESP_CODES, "RESP-CODES"},
    {POP3A_CAPA_AUTH_RESP_CODE, "AUTH-RESP-CODE"}, {POP3A_CAPA_LOGIN_DELAY, "LOGIN-DELAY"},
    {POP3A_CAPA_EXPIRE, "EXPIRE"}, {POP3A_CAPA_UTF8, "UTF8"},
    {POP3A_CAPA_IMPLEMENTATION, "IMPLEMENTATION"}, {POP3A_CAPA_LANG, "LANG"}};
static const struct bit_name mech_names[] = { /* strongest first, as login picks */
    {POP3A_MECH_SCRAM_SHA_256, "SCRAM-SHA-256"}, {POP3A_MECH_SCRAM_SHA_1, "SCRAM-SHA-1"},
    {POP3A_MECH_CRAM_MD5, "CRAM-MD5"}, {POP3A_MECH_PLAIN, "PLAIN"},
    {POP3A_MECH_LOGIN, "LOGIN"}, {POP3A_MECH_XOAUTH2, "XOAUTH2"},
    {POP3A_MECH_OAUTHBEARER, "OAUTHBEARER"}, {POP3A_MECH_EXTERNAL, "EXTERNAL"}};

/* The names of the bits set in mask, space-separated, and a newline. */
static void print_bits(const struct bit_name *table, size_t n, unsigned mask)
{
    int any = 0;
    for (size_t k = 0; k < n; k++)
        if (mask & table[k].bit)
            printf("%s%s", any++ ? " " : "", table[k].name);
    fputs(any ? "\n" : "(none)\n", stdout);
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* One block of output:
 *   before login:
 *     capabilities: TOP UIDL SASL STLS
 *     sasl: SCRAM-SHA-256 PLAIN
 *     login-delay: 900 s | none        expire: 31 days | never | none
 *     implementation: Dovecot | none
 */
static void print_capa(const char *when, const pop3a_capa *capa)
{
    int64_t delay = pop3a_capa_login_delay(capa), expire = pop3a_capa_expire(capa);
    const char *impl = pop3a_capa_implementation(capa);
    printf("%s:\n  capabilities: ", when);
    print_bits(capa_names, COUNT(capa_names), pop3a_capa_flags(capa));
    /* pop3a_capa_mechs also sets POP3A_MECH_USER for the USER tag: not SASL. */
    printf("  sasl: ");
    print_bits(mech_names, COUNT(mech_names), pop3a_capa_mechs(capa) & ~(unsigned)POP3A_MECH_USER);
    if (delay >= 0)
        printf("  login-delay: %" PRId64 " s\n", delay);
    else
        printf("  login-delay: none\n");
    if (expire == (int64_t)UINT32_MAX)
        printf("  expire: never\n");
    else if (expire >= 0)
        printf("  expire: %" PRId64 " days\n", expire);
    else
        printf("  expire: none\n");
    printf("  implementation: %s\n", impl ? impl : "none");
}

/* ------------------------------------------------------------- the session */

/* The end, good or bad: stop the loop. main frees the client. */
static void fail(struct session *s)
{
    s->failed = 1;
    event_base_loopbreak(s->base);
}

static void on_quit(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct session *s = arg;
    (void)c;
    if (pop3a_future_status(fut) != POP3A_OK) {
        ex_report_future(&s->opts, "QUIT", fut);
        fail(s);
    }
    s->quit_done = 1;
    /* After QUIT the server closes the connection and the loop ends by itself;
     * stopping it here just does not wait for that. */
    event_base_loopbreak(s->base);
}

static void on_capa(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct session *s = arg;
    /* The answer is in the future (valid during this callback) and, as the
     * client's current set, in pop3a_client_capa(c). A server may refuse CAPA:
     * not a reason to fail. */
    if (pop3a_future_status(fut) == POP3A_OK)
        print_capa("after login", pop3a_future_capa(fut));
    else
        printf("after login: CAPA refused: %s\n", pop3a_future_text(fut));
    if (!pop3a_quit(c, on_quit, s)) {
        ex_report_submit(&s->opts, "QUIT", c);
        fail(s);
    }
}

static void on_login(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct session *s = arg;
    if (pop3a_future_status(fut) != POP3A_OK) { /* AUTH, CLEARTEXT, or the link */
        ex_report_future(&s->opts, "login", fut);
        fail(s);
        return;
    }
    printf("logged in as %s\n", s->opts.user);
    if (!pop3a_capa_refresh(c, on_capa, s)) {
        ex_report_submit(&s->opts, "CAPA", c);
        fail(s);
    }
}

static void on_connect(pop3a_client *c, pop3a_future *fut, void *arg)
{
    struct session *s = arg;
    if (pop3a_future_status(fut) != POP3A_OK) {
        /* The client's error detail has the OpenSSL reason of a refused certificate. */
        ex_report(&s->opts, "connect", pop3a_status_name(pop3a_future_status(fut)),
                  pop3a_future_text(fut), pop3a_client_errstr(c));
        fail(s);
        return;
    }
    /* With STLS the library has already upgraded the link and read CAPA again:
     * these are the capabilities offered over TLS, the ones login chooses from. */
    printf("tls: %s\n", pop3a_client_is_tls(c) ? "yes" : "no");
    print_capa("before login", pop3a_client_capa(c));
    /* mechs 0: the strongest mechanism that the server offers and the cleartext
     * policy allows (SCRAM-SHA-256 first, USER/PASS last), falling back on refusal. */
    if (!pop3a_login(c, s->opts.user, s->password, 0, on_login, s)) {
        ex_report_submit(&s->opts, "login", c);
        fail(s);
    }
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *to)
{
    fputs("usage: capabilities OPTIONS\n", to);
    ex_usage_options(to);
    fputs("Prints whether the link is TLS and the server's capabilities before and after\n"
          "login. Exit status: 0 done, 1 failure, 2 usage error.\n",
          to);
}

int main(int argc, char **argv)
{
    static struct session s;
    ex_opts_init(&s.opts, "capabilities");
    for (int i = 1; i < argc; i++) {
        int rc = ex_parse_option(&s.opts, argc, argv, &i);
        if (rc < 0)
            return EX_EXIT_USAGE;
        if (rc == 0 && !strcmp(argv[i], "--help"))
            return usage(stdout), 0;
        if (rc == 0) {
            fprintf(stderr, "capabilities: %s: unknown option\n", argv[i]);
            return usage(stderr), EX_EXIT_USAGE;
        }
    }
    if (ex_check_options(&s.opts, 1) != 0)
        return usage(stderr), EX_EXIT_USAGE;
    s.password = ex_password(&s.opts);
    if (!s.password)
        return EX_EXIT_USAGE;
    signal(SIGPIPE, SIG_IGN); /* a server that hangs up must give EPIPE, not kill us */

    pop3a_client *client = NULL;
    s.base = event_base_new();
    if (s.base)
        client = ex_client_new(s.base, &s.opts);
    if (!client)
        s.failed = 1;
    else if (!pop3a_connect(client, s.opts.host, (uint16_t)s.opts.port, on_connect, &s)) {
        ex_report_submit(&s.opts, "connect", client);
        s.failed = 1;
    } else {
        event_base_dispatch(s.base);
        s.failed |= !s.quit_done; /* the loop ran out of events without an answer */
    }
    ex_client_free(s.base, client);
    if (s.base)
        event_base_free(s.base);
    ex_password_free(s.password);
    return s.failed ? EX_EXIT_FAIL : 0;
}
