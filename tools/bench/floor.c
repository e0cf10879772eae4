/*
 * floor: the fastest a POP3 download can be on this machine, as a yardstick for
 * examples/fetch-all (issue 5). It logs in, asks STAT, writes every "RETR n" and
 * the QUIT in one write(2) (RFC 2449 section 6.6 PIPELINING, which the server
 * must advertise; not checked here), then only counts multi-line terminators in
 * what comes back. Nothing is unstuffed, parsed or stored.
 *
 *   floor [--user-pass] [--tls CA-FILE] HOST PORT USER PASSWORD-ENV
 *                                                       prints "messages N bytes B"
 *
 * The login is AUTH SCRAM-SHA-256 (RFC 5034, RFC 7677), the mechanism fetch-all
 * and mpop pick against the bench's Dovecot, so that "wall / floor" compares data
 * paths and not login costs (a SCRAM login costs the server a PBKDF2 of thousands
 * of iterations when it stores plain passwords). The SCRAM messages come from the
 * library's own pure SASL module (lib/security/sasl.h, which also checks the server's
 * signature); the I/O stays raw and blocking. --user-pass logs in with USER and
 * PASS instead (RFC 1939), as the floor did at first.
 *
 * --tls CA-FILE (issue 14 s6): implicit TLS (POP3S) on blocking OpenSSL, the
 * certificate verified against CA-FILE and HOST; read-ahead on, so a read(2)
 * takes as many records as OpenSSL's buffer holds. The yardstick for a client
 * over TLS: what the server's side of TLS leaves for any client.
  *
 * A terminator is "\n.\r\n": the CRLF ending the last body line (or the status
 * line of an empty body) followed by ".\r\n" (RFC 1939 section 3). A body line
 * that starts with "." is stuffed to "..", so it never looks like one. The
 * command batch is written blocking; 2000 commands are ~20 KB, far below the
 * loopback socket buffers, so the server's replies cannot deadlock the write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "base64.h"
#include "bench_util.h"
#include "pop3async/pop3async.h" /* POP3A_MECH_SCRAM_SHA_256 */
#include "sasl.h"

#define READ_SIZE (256u * 1024u) /* as large as the library's largest single read */
#define LINE_MAX_LEN 1024u
#define AUTH_LINE_MAX 255u /* RFC 5034 section 4: AUTH with its initial response */
#define SASL_ROUNDS_MAX 4 /* SCRAM needs 2 challenges; more is a broken server */

/* --tls: the connection's SSL; NULL for plain TCP. */
static SSL *tls;

static ssize_t link_read(int fd, void *buf, size_t len)
{
    if (!tls)
        return read(fd, buf, len);
    int n = SSL_read(tls, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    return n > 0 ? n : -1;
}

static int link_write_all(int fd, const void *buf, size_t len)
{
    if (!tls)
        return bench_write_all(fd, buf, len);
    size_t done;
    return SSL_write_ex(tls, buf, len, &done) == 1 && done == len ? 0 : -1;
}

/* Implicit TLS on fd, verified against ca_file and host; -1 on failure. */
static int start_tls(int fd, const char *ca_file, const char *host)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
        SSL_CTX_free(ctx);
        return -1;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    tls = SSL_new(ctx);
    SSL_CTX_free(ctx); /* the SSL holds its own reference */
    if (!tls || SSL_set1_host(tls, host) != 1 || SSL_set_fd(tls, fd) != 1 ||
        SSL_connect(tls) != 1) {
        fprintf(stderr, "floor: TLS handshake with %s failed\n", host);
        return -1;
    }
    return 0;
}

/* Reads one reply line (status line) into line; -1 on EOF or a -ERR reply. Only
 * used before the pipelined part, when nothing follows the line on the wire. */
static int read_status(int fd, char *line, size_t cap)
{
    size_t used = 0;
    while (used + 1 < cap) {
        ssize_t n = link_read(fd, line + used, cap - 1 - used);
        if (n <= 0) {
            snprintf(line, cap, "connection closed\n"); /* for the caller's message */
            return -1;
        }
        used += (size_t)n;
        if (memchr(line, '\n', used))
            break;
    }
    line[used] = '\0';
    return line[0] == '+' ? 0 : -1;
}

static int command(int fd, const char *cmd, const char *arg, char *line, size_t cap)
{
    char out[LINE_MAX_LEN];
    int n = snprintf(out, sizeof out, "%s%s%s\r\n", cmd, arg ? " " : "", arg ? arg : "");
    if (n < 0 || (size_t)n >= sizeof out || link_write_all(fd, out, (size_t)n) != 0)
        return -1;
    if (read_status(fd, line, cap) != 0) {
        fprintf(stderr, "floor: %s: %s", cmd, line);
        return -1;
    }
    return 0;
}

static int login_user_pass(int fd, const char *user, const char *password, char *line,
                           size_t cap)
{
    return command(fd, "USER", user, line, cap) == 0 &&
                   command(fd, "PASS", password, line, cap) == 0
               ? 0
               : -1;
}

enum { SASL_FAILED = -1, SASL_DONE = 0, SASL_CHALLENGE = 1 };

/* Sends one line of an AUTH exchange and reads the reply: a "+ " challenge (its
 * base64 text is left in line, CRLF cut off), +OK, or a failure. */
static int sasl_send(int fd, const char *what, const char *text, char *line, size_t cap)
{
    char out[LINE_MAX_LEN];
    int n = snprintf(out, sizeof out, "%s\r\n", text);
    if (n < 0 || (size_t)n >= sizeof out || link_write_all(fd, out, (size_t)n) != 0 ||
        read_status(fd, line, cap) != 0) {
        fprintf(stderr, "floor: %s: %s", what, line);
        return SASL_FAILED;
    }
    if (line[1] != ' ')
        return strncmp(line, "+OK", 3) == 0 ? SASL_DONE : SASL_FAILED;
    size_t len = strcspn(line + 2, "\r\n");
    memmove(line, line + 2, len);
    line[len] = '\0';
    return SASL_CHALLENGE;
}

/* A SASL response as base64 text in out (wiped and freed); -1 if it does not fit. */
static int encode_response(unsigned char *raw, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    char *b64 = pop3a_b64_encode(raw, len, &n);
    pop3a_sasl_response_free(raw, len);
    int rc = b64 && n < cap ? 0 : -1;
    if (rc == 0)
        memcpy(out, b64, n + 1);
    free(b64);
    return rc;
}

/*
 * RFC 5034 section 4: "AUTH SCRAM-SHA-256 <client-first>", answered by a
 * challenge (server-first); the client-final goes back as a line of its own; the
 * server proves itself in a second challenge (v=), which gets an empty response;
 * then +OK. A server that says +OK without proving itself fails the login
 * (pop3a_sasl_finish).
 */
static int login_scram(int fd, const char *user, const char *password, char *line, size_t cap)
{
    pop3a_sasl *sasl = pop3a_sasl_new(POP3A_MECH_SCRAM_SHA_256, user, password, NULL, NULL);
    char b64[LINE_MAX_LEN], auth[LINE_MAX_LEN];
    unsigned char *raw = NULL;
    size_t raw_len = 0;
    int st = SASL_FAILED, rounds = 0;
    if (sasl && pop3a_sasl_start(sasl, &raw, &raw_len) == POP3A_SASL_CONTINUE &&
        encode_response(raw, raw_len, b64, sizeof b64) == 0) {
        int n = snprintf(auth, sizeof auth, "AUTH SCRAM-SHA-256 %s", b64);
        /* The bench's user names are short; longer ones would need AUTH alone and
         * the initial response after an empty challenge. */
        st = n > 0 && (size_t)n <= AUTH_LINE_MAX ? sasl_send(fd, "AUTH", auth, line, cap)
                                                  : SASL_FAILED;
    }
    while (st == SASL_CHALLENGE && rounds++ < SASL_ROUNDS_MAX) {
        size_t challenge_len = 0;
        unsigned char *challenge = pop3a_b64_decode(line, strlen(line), &challenge_len);
        int ok = challenge &&
                 pop3a_sasl_step(sasl, challenge, challenge_len, &raw, &raw_len) ==
                     POP3A_SASL_CONTINUE &&
                 encode_response(raw, raw_len, b64, sizeof b64) == 0;
        free(challenge);
        st = ok ? sasl_send(fd, "SCRAM", b64, line, cap) : SASL_FAILED;
    }
    int rc = st == SASL_DONE && pop3a_sasl_finish(sasl) == 0 ? 0 : -1;
    const char *why = sasl ? pop3a_sasl_error(sasl) : "out of memory";
    if (rc != 0 && why[0])
        fprintf(stderr, "floor: SCRAM: %s\n", why);
    pop3a_sasl_free(sasl);
    return rc;
}

/* "RETR 1\r\n" .. "RETR count\r\n" "QUIT\r\n" in one malloc'd buffer (caller frees). */
static char *retr_batch(unsigned long count, size_t *len)
{
    size_t cap = count * 20 + 8, used = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    for (unsigned long i = 1; i <= count; i++)
        used += (size_t)snprintf(buf + used, cap - used, "RETR %lu\r\n", i);
    used += (size_t)snprintf(buf + used, cap - used, "QUIT\r\n");
    *len = used;
    return buf;
}

/*
 * Counts "\n.\r\n" until `count` were seen and the server closed (after QUIT).
 * The last 3 bytes of each read are kept in front of the next one so a terminator
 * split across reads is still seen, once.
 */
static int count_terminators(int fd, unsigned long count, unsigned long *seen,
                             unsigned long long *bytes)
{
    char *buf = malloc(READ_SIZE + 3);
    size_t keep = 0;
    if (!buf)
        return -1;
    *seen = 0;
    *bytes = 0;
    for (;;) {
        ssize_t n = link_read(fd, buf + keep, READ_SIZE);
        if (n <= 0)
            break;
        *bytes += (unsigned long long)n;
        size_t len = keep + (size_t)n;
        const char *p = buf, *end = buf + len;
        while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
            if (end - p < 4)
                break;
            if (p[1] == '.' && p[2] == '\r' && p[3] == '\n')
                (*seen)++;
            p++;
        }
        keep = len < 3 ? len : 3;
        memmove(buf, end - keep, keep);
    }
    free(buf);
    return *seen == count ? 0 : -1;
}

int main(int argc, char **argv)
{
    char line[LINE_MAX_LEN];
    unsigned long count = 0, seen = 0;
    unsigned long long octets = 0, bytes = 0;
    size_t batch_len = 0;
    int user_pass = argc > 1 && strcmp(argv[1], "--user-pass") == 0;
    argv += user_pass;
    argc -= user_pass;
    const char *ca_file = NULL;
    if (argc > 2 && strcmp(argv[1], "--tls") == 0) {
        ca_file = argv[2];
        argv += 2;
        argc -= 2;
    }
    if (argc != 5) {
        fputs("usage: floor [--user-pass] [--tls CA-FILE] HOST PORT USER PASSWORD-ENV\n",
              stderr);
        return 2;
    }
    const char *password = getenv(argv[4]);
    if (!password) {
        fprintf(stderr, "floor: %s is not set\n", argv[4]);
        return 2;
    }
    int fd = bench_connect(argv[1], argv[2]);
    if (fd < 0)
        return 1;
    if (ca_file && start_tls(fd, ca_file, argv[1]) != 0) {
        SSL_free(tls);
        close(fd);
        return 1;
    }
    int (*login)(int, const char *, const char *, char *, size_t) =
        user_pass ? login_user_pass : login_scram;
    if (read_status(fd, line, sizeof line) != 0 ||
        login(fd, argv[3], password, line, sizeof line) != 0 ||
        command(fd, "STAT", NULL, line, sizeof line) != 0 ||
        sscanf(line, "+OK %lu %llu", &count, &octets) != 2) {
        fputs("floor: login or STAT failed\n", stderr);
        SSL_free(tls);
        close(fd);
        return 1;
    }
    char *batch = retr_batch(count, &batch_len);
    int rc = batch && link_write_all(fd, batch, batch_len) == 0 ? 0 : -1;
    free(batch);
    if (rc == 0)
        rc = count_terminators(fd, count, &seen, &bytes);
    SSL_free(tls);
    close(fd);
    printf("messages %lu bytes %llu\n", seen, bytes);
    if (rc != 0)
        fprintf(stderr, "floor: %lu of %lu messages\n", seen, count);
    return rc == 0 ? 0 : 1;
}
