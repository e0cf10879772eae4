/*
 * parsebench: the reply parser alone (lib/protocol/parser.c), on an in-memory stream of
 * RETR replies, next to memcpy of the same bytes (issue 5, case 4).
 *
 *   parsebench [MESSAGE-SIZE [TOTAL-MIB [RUNS]]]   defaults 20480 256 5
 *
 * The stream is "+OK n octets" + dot-stuffed body + ".\r\n", repeated until
 * TOTAL-MIB. Body lines are 40..76 octets plus CRLF and one in eight starts with
 * "." (so goes out as "..", RFC 1939 section 3). It is fed as 256 KiB reads,
 * as the library reads from the socket, re-arming the parser for each reply the
 * way the engine does; DATA spans are summed and checked against what was
 * generated. Prints the median of RUNS for the parser and for memcpy (GB/s =
 * 10^9 wire octets per second) and their ratio; exits 1 if the parser's output
 * is wrong.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "parser.h"

#define READ_SIZE (256u * 1024u)
#define MAX_RUNS 101

struct stream {
    char *wire;
    size_t len;
    size_t messages;
    unsigned long long body_octets; /* after unstuffing, all messages */
};

static unsigned lcg(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return (*state >> 16) & 0x7fff;
}

/* Appends one reply; returns its unstuffed body size, 0 if it did not fit. */
static size_t append_reply(struct stream *s, size_t cap, size_t size, unsigned *rng)
{
    size_t start = s->len, plain = 0;
    char *w = s->wire;
    int n = snprintf(w + s->len, cap - s->len, "+OK %zu octets\r\n", size);
    if (n < 0 || (size_t)n >= cap - s->len)
        return 0;
    s->len += (size_t)n;
    while (plain < size) {
        size_t room = size - plain, k = 40 + lcg(rng) % 37;
        if (k + 2 + 4 > room)
            k = room - 2; /* the last line takes the rest: no tail of 1 octet */
        int dot = k > 0 && lcg(rng) % 8 == 0;
        if (s->len + k + 4 + 3 > cap) {
            s->len = start;
            return 0;
        }
        if (dot)
            w[s->len++] = '.'; /* the stuffing octet */
        for (size_t i = 0; i < k; i++)
            w[s->len++] = (dot && i == 0) ? '.' : (char)('a' + lcg(rng) % 26);
        w[s->len++] = '\r';
        w[s->len++] = '\n';
        plain += k + 2;
    }
    memcpy(w + s->len, ".\r\n", 3);
    s->len += 3;
    return plain;
}

static int build_stream(struct stream *s, size_t total, size_t msg_size)
{
    unsigned rng = 42;
    size_t body;
    s->wire = malloc(total);
    s->len = 0;
    s->messages = 0;
    s->body_octets = 0;
    if (!s->wire)
        return -1;
    while ((body = append_reply(s, total, msg_size, &rng)) != 0) {
        s->messages++;
        s->body_octets += body;
    }
    return s->messages ? 0 : -1;
}

/* One pass of the parser over the stream; returns the DATA octets seen, and the
 * number of complete replies in *ends. */
static unsigned long long parse_stream(const struct stream *s, size_t *ends)
{
    pop3a_parser p;
    pop3a_pev ev;
    unsigned long long data = 0;
    size_t pos = 0;
    *ends = 0;
    pop3a_parser_init(&p, 0);
    while (pos < s->len) {
        size_t read_end = pos + READ_SIZE < s->len ? pos + READ_SIZE : s->len;
        do {
            if (pop3a_parser_expecting(&p) == POP3A_EXPECT_NONE)
                pop3a_parser_expect(&p, POP3A_EXPECT_BODY);
            pos += pop3a_parser_feed(&p, s->wire + pos, read_end - pos, &ev);
            if (ev.kind == POP3A_PEV_DATA)
                data += ev.len;
            else if (ev.kind == POP3A_PEV_END)
                (*ends)++;
            else if (ev.kind == POP3A_PEV_ERROR) {
                fprintf(stderr, "parsebench: parser error: %s\n", ev.data);
                pop3a_parser_free(&p);
                return 0;
            }
        } while (pos < read_end || ev.kind != POP3A_PEV_NEED_MORE);
    }
    pop3a_parser_free(&p);
    return data;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    size_t msg_size = argc > 1 ? bench_number(argv[1], "MESSAGE-SIZE", 64, 1u << 30) : 20480;
    size_t total = (argc > 2 ? bench_number(argv[2], "TOTAL-MIB", 1, 16384) : 256) << 20;
    unsigned runs = argc > 3 ? (unsigned)bench_number(argv[3], "RUNS", 1, MAX_RUNS) : 5;
    double t_parse[MAX_RUNS], t_copy[MAX_RUNS];
    struct stream s;
    if (build_stream(&s, total, msg_size) != 0) {
        fputs("parsebench: cannot build the stream\n", stderr);
        return 1;
    }
    char *dst = malloc(s.len);
    if (!dst)
        return 1;
    /* Fault the pages in before timing (not 0: malloc + memset 0 may become calloc,
     * which leaves them untouched), and one untimed pass of each warms the caches. */
    memset(dst, 1, s.len);
    int ok = 1;
    for (unsigned r = 0; r <= runs; r++) {
        unsigned slot = r == 0 ? 0 : r - 1; /* run 0 is the warm-up, overwritten */
        size_t ends;
        double t0 = bench_now();
        unsigned long long data = parse_stream(&s, &ends);
        t_parse[slot] = bench_now() - t0;
        if (data != s.body_octets || ends != s.messages)
            ok = 0;
        t0 = bench_now();
        memcpy(dst, s.wire, s.len);
        t_copy[slot] = bench_now() - t0;
        /* keep the copy observable so it cannot be optimised away */
        if (dst[r % s.len] != s.wire[r % s.len])
            ok = 0;
    }
    double gp = (double)s.len / median(t_parse, runs) / 1e9;
    double gm = (double)s.len / median(t_copy, runs) / 1e9;
    printf("stream_octets %zu messages %zu message_size %zu runs %u\n", s.len, s.messages,
           msg_size, runs);
    printf("parser_gbps %.3f memcpy_gbps %.3f ratio %.3f\n", gp, gm, gp / gm);
    if (!ok)
        fputs("parsebench: parser output does not match the stream\n", stderr);
    free(dst);
    free(s.wire);
    return ok ? 0 : 1;
}
