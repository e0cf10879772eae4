/* Integration suite helpers: see itest.h. */
#include "itest.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

static it_config config;

/* ---------------------------------------------------------------- config */

static int copy_env(char *dst, size_t cap, const char *name, int required)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        if (required)
            fprintf(stderr, "itest: %s is not set\n", name);
        dst[0] = '\0';
        return required ? -1 : 0;
    }
    if (strlen(v) >= cap) {
        fprintf(stderr, "itest: %s is too long\n", name);
        return -1;
    }
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static int parse_port(const char *text, uint16_t *port)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || end == text || *end || v == 0 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

static int env_port(const char *name, uint16_t *port)
{
    const char *v = getenv(name);
    if (!v || parse_port(v, port) != 0) {
        fprintf(stderr, "itest: %s is not a port number\n", name);
        return -1;
    }
    return 0;
}

/* "host:port" or "[v6]:port". */
static int parse_server(const char *spec)
{
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec)
        return -1;
    const char *h = spec;
    size_t hlen = (size_t)(colon - spec);
    if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof config.ext_host)
        return -1;
    memcpy(config.ext_host, h, hlen);
    config.ext_host[hlen] = '\0';
    return parse_port(colon + 1, &config.ext_port);
}

static int load_external(const char *server)
{
    if (parse_server(server) != 0) {
        fprintf(stderr, "itest: POP3A_TEST_SERVER=%s: want host:port\n", server);
        return -1;
    }
    if (copy_env(config.ext_user, sizeof config.ext_user, "POP3A_TEST_USER", 1) ||
        copy_env(config.ext_password, sizeof config.ext_password, "POP3A_TEST_PASSWORD", 1) ||
        copy_env(config.ext_ca, sizeof config.ext_ca, "POP3A_TEST_CA", 0))
        return -1;
    /* Port 995 is POP3S (RFC 8314); anywhere else STLS is the secure default. */
    const char *tls = getenv("POP3A_TEST_TLS");
    if (!tls || !*tls)
        config.ext_tls = config.ext_port == 995 ? POP3A_TLS_IMPLICIT : POP3A_TLS_STLS;
    else if (!strcmp(tls, "implicit"))
        config.ext_tls = POP3A_TLS_IMPLICIT;
    else if (!strcmp(tls, "stls"))
        config.ext_tls = POP3A_TLS_STLS;
    else if (!strcmp(tls, "none"))
        config.ext_tls = POP3A_TLS_NONE;
    else {
        fprintf(stderr, "itest: POP3A_TEST_TLS=%s: want implicit, stls or none\n", tls);
        return -1;
    }
    config.external = 1;
    return 0;
}

static int load_dovecot(void)
{
    if (copy_env(config.host, sizeof config.host, "POP3A_DOVECOT_HOST", 1) ||
        copy_env(config.host6, sizeof config.host6, "POP3A_DOVECOT_HOST6", 0) ||
        env_port("POP3A_DOVECOT_PORT", &config.port) ||
        env_port("POP3A_DOVECOT_TLS_PORT", &config.tls_port) ||
        copy_env(config.ca, sizeof config.ca, "POP3A_DOVECOT_CA", 1) ||
        copy_env(config.oauth_token, sizeof config.oauth_token,
                 "POP3A_DOVECOT_OAUTH2_TOKEN_ALICE", 1) ||
        copy_env(config.locked_user, sizeof config.locked_user, "POP3A_TEST_LOCKED_USER", 0))
        return -1;
    if (copy_env(config.manifest_dir, sizeof config.manifest_dir, "POP3A_MANIFEST_DIR", 0) ||
        (!config.manifest_dir[0] &&
         copy_env(config.manifest_dir, sizeof config.manifest_dir, "POP3A_DOVECOT_BASE", 1)))
        return -1;
    return 0;
}

void it_config_load(void)
{
    const char *server = getenv("POP3A_TEST_SERVER");
    int rc = server && *server ? load_external(server) : load_dovecot();
    if (rc != 0) {
        fputs("itest: start the suite through tests/integration/run-suite (or meson test "
              "--suite integration), or set POP3A_TEST_SERVER; see README.md\n",
              stderr);
        exit(77); /* meson: skipped */
    }
}

const it_config *it_cfg(void)
{
    return &config;
}

/* -------------------------------------------------------------- manifest */

char *it_read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "open %s: %s", path, strerror(errno));
    it_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        it_buf_add(&b, chunk, n);
    int err = ferror(fp);
    fclose(fp);
    ck_assert_msg(!err, "read %s failed", path);
    it_buf_add(&b, "", 1); /* NUL after the bytes, not counted */
    *len = b.len - 1;
    return b.p;
}

static int parse_manifest_line(char *line, it_msg *m)
{
    char *fields[4];
    char *save = NULL;
    char *tok = strtok_r(line, "\t\n", &save);
    for (int i = 0; i < 4; i++) {
        if (!tok)
            return -1;
        fields[i] = tok;
        tok = strtok_r(NULL, i == 2 ? "\n" : "\t\n", &save);
    }
    char *end;
    m->index = (uint32_t)strtoul(fields[0], &end, 10);
    if (*end)
        return -1;
    m->octets = strtoull(fields[1], &end, 10);
    if (*end || strlen(fields[2]) >= sizeof m->uidl || strlen(fields[3]) >= sizeof m->path)
        return -1;
    strcpy(m->uidl, fields[2]);
    strcpy(m->path, fields[3]);
    return 0;
}

void it_manifest_load(const char *user, it_manifest *m)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/manifest-%s.tsv", config.manifest_dir, user);
    FILE *fp = fopen(path, "r");
    ck_assert_msg(fp != NULL, "manifest %s: %s (did run-suite fill %s?)", path,
                  strerror(errno), user);
    memset(m, 0, sizeof *m);
    size_t cap = 0;
    char line[2048];
    while (fgets(line, sizeof line, fp)) {
        if (m->n == cap) {
            cap = cap ? cap * 2 : 64;
            m->msgs = realloc(m->msgs, cap * sizeof *m->msgs);
            ck_assert(m->msgs != NULL);
        }
        it_msg *msg = &m->msgs[m->n];
        ck_assert_msg(parse_manifest_line(line, msg) == 0, "%s: bad line %zu", path, m->n + 1);
        ck_assert_msg(msg->index == m->n + 1, "%s: line %zu has index %" PRIu32, path,
                      m->n + 1, msg->index);
        m->total += msg->octets;
        m->n++;
    }
    fclose(fp);
    ck_assert_msg(m->n > 0, "%s is empty", path);
}

void it_manifest_free(it_manifest *m)
{
    free(m->msgs);
    memset(m, 0, sizeof *m);
}

/* ---------------------------------------------------------------- buffer */

void it_buf_add(it_buf *b, const void *data, size_t len)
{
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len)
            cap *= 2;
        char *grown = realloc(b->p, cap);
        if (!grown)
            abort();
        b->p = grown;
        b->cap = cap;
    }
    if (len)
        memcpy(b->p + b->len, data, len);
    b->len += len;
}

void it_buf_free(it_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

int it_buf_equals(const it_buf *b, const char *want, size_t len)
{
    return b->len == len && (len == 0 || memcmp(b->p, want, len) == 0);
}

/* ----------------------------------------------------------------- trace */

void it_trace_cb(pop3a_client *client, pop3a_trace_dir dir, const char *line, size_t len,
                 void *arg)
{
    it_trace *t = arg;
    static const char prefix[][3] = {"> ", "< ", "* "};
    it_buf_add(&t->log, prefix[dir <= POP3A_TRACE_INFO ? dir : POP3A_TRACE_INFO], 2);
    it_buf_add(&t->log, line, len);
    it_buf_add(&t->log, "\n", 1);
    if (dir == POP3A_TRACE_SENT)
        t->sent++;
}

const char *it_trace_text(it_trace *t)
{
    it_buf_add(&t->log, "", 1);
    t->log.len--; /* keep the NUL outside the counted bytes */
    return t->log.p;
}

int it_trace_has(const it_trace *t, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; n <= t->log.len && i <= t->log.len - n; i++)
        if (memcmp(t->log.p + i, needle, n) == 0)
            return 1;
    return 0;
}

int it_trace_sent_count(const it_trace *t, const char *prefix)
{
    size_t n = strlen(prefix);
    int count = 0;
    const char *p = t->log.p, *end = t->log.p + t->log.len;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t line_len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (line_len >= 2 + n && p[0] == '>' && memcmp(p + 2, prefix, n) == 0)
            count++;
        p = nl ? nl + 1 : NULL;
    }
    return count;
}

/* --------------------------------------------------------------- session */

void it_session_init(it_session *s, struct event_base *base, pop3a_tls_mode mode)
{
    memset(s, 0, sizeof *s);
    s->own_base = base == NULL;
    s->base = base ? base : event_base_new();
    ck_assert(s->base != NULL);
    s->opts = pop3a_options_new();
    ck_assert(s->opts != NULL);
    ck_assert_int_eq(pop3a_options_set_tls(s->opts, mode, NULL), 0);
    const char *ca = config.external ? config.ext_ca : config.ca;
    if (mode != POP3A_TLS_NONE && ca[0])
        ck_assert_int_eq(pop3a_options_set_ca(s->opts, ca, NULL), 0);
    ck_assert_int_eq(pop3a_options_set_timeouts(s->opts, 10000, 30000), 0);
    ck_assert_int_eq(pop3a_options_set_trace(s->opts, it_trace_cb, &s->trace), 0);
}

void it_session_start(it_session *s)
{
    s->client = pop3a_client_new(s->base, NULL, s->opts);
    ck_assert(s->client != NULL);
}

void it_session_free(it_session *s)
{
    if (s->last)
        pop3a_future_unref(s->last);
    s->last = NULL;
    pop3a_client_free(s->client);
    s->client = NULL;
    /* Let the library's deferred teardown run before the base goes. */
    if (s->own_base) {
        event_base_loop(s->base, EVLOOP_NONBLOCK);
        event_base_free(s->base);
    }
    pop3a_options_free(s->opts);
    it_buf_free(&s->body);
    it_buf_free(&s->trace.log);
    memset(s, 0, sizeof *s);
}

void it_done(pop3a_client *client, pop3a_future *future, void *arg)
{
    it_session *s = arg;
    s->last = pop3a_future_ref(future);
    s->done = 1;
}

int it_chunk(pop3a_client *client, pop3a_future *future, const char *data, size_t len,
             int final, void *arg)
{
    it_session *s = arg;
    it_buf_add(&s->body, data, len);
    s->finals += final != 0;
    return POP3A_CHUNK_CONTINUE;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    *(int *)arg = 1;
}

int it_loop_until(struct event_base *base, const int *flag, unsigned timeout_ms)
{
    int expired = 0;
    /* A timer of our own: EVLOOP_ONCE then always wakes up in time. */
    struct event *deadline = evtimer_new(base, on_deadline, &expired);
    ck_assert(deadline != NULL);
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
    evtimer_add(deadline, &tv);
    while (!*flag && !expired)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(deadline);
    return *flag ? 0 : -1;
}

pop3a_future *it_run(it_session *s, pop3a_future *submitted)
{
    ck_assert_msg(submitted != NULL, "submit refused: %s (%s)",
                  pop3a_status_name(pop3a_client_error(s->client)),
                  pop3a_client_errstr(s->client));
    if (s->last)
        pop3a_future_unref(s->last);
    s->last = NULL;
    s->done = 0;
    s->body.len = 0;
    s->finals = 0;
    ck_assert_msg(it_loop_until(s->base, &s->done, IT_WAIT_MS) == 0,
                  "no reply within %u ms; trace:\n%s", IT_WAIT_MS, it_trace_text(&s->trace));
    ck_assert(s->last == submitted);
    return s->last;
}

pop3a_status it_connect(it_session *s, const char *host, uint16_t port)
{
    if (!s->client)
        it_session_start(s);
    return pop3a_future_status(it_run(s, pop3a_connect(s->client, host, port, it_done, s)));
}

pop3a_status it_login(it_session *s, const char *user, const char *secret, unsigned mechs)
{
    return pop3a_future_status(
        it_run(s, pop3a_login(s->client, user, secret, mechs, it_done, s)));
}

pop3a_status it_quit(it_session *s)
{
    return pop3a_future_status(it_run(s, pop3a_quit(s->client, it_done, s)));
}

/* ------------------------------------------------------------ comparison */

char *it_expected_top(const char *msg, size_t len, uint32_t lines, size_t *out_len)
{
    /* The header ends at the first empty line; a message with none is all header. */
    size_t body = len;
    if (len >= 2 && msg[0] == '\r' && msg[1] == '\n')
        body = 2;
    else
        for (size_t i = 0; i + 4 <= len; i++)
            if (memcmp(msg + i, "\r\n\r\n", 4) == 0) {
                body = i + 4;
                break;
            }
    size_t end = body;
    for (uint32_t n = 0; n < lines && end < len; n++) {
        const char *nl = memchr(msg + end, '\n', len - end);
        end = nl ? (size_t)(nl - msg) + 1 : len;
    }
    char *out = malloc(end + 1);
    ck_assert(out != NULL);
    memcpy(out, msg, end);
    out[end] = '\0';
    *out_len = end;
    return out;
}

void it_describe_diff(char *out, size_t outsz, const char *got, size_t got_len,
                      const char *want, size_t want_len)
{
    size_t i = 0;
    while (i < got_len && i < want_len && got[i] == want[i])
        i++;
    snprintf(out, outsz, "got %zu octets, want %zu; first difference at offset %zu", got_len,
             want_len, i);
}

int it_machine_has_ipv6_loopback(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}
