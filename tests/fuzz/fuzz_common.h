/*
 * Shared bits of the fuzz targets: the libFuzzer entry point's prototype (so
 * -Wmissing-prototypes is happy in the gcc replay build), a cursor that takes
 * fuzzer-chosen parameters off the front of the input, and a small PRNG that
 * turns a fuzzer-chosen seed into split points.
 *
 * Every target is built twice: with -fsanitize=fuzzer for fuzzing (clang), and
 * with replay_main.c for the `fuzz-replay` suite (any compiler), which runs the
 * seed corpus and the regression inputs through the same entry point.
 */
#ifndef POP3A_FUZZ_COMMON_H
#define POP3A_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failed invariant: print why and abort, so libFuzzer keeps the input and
 * the replay driver fails the test. */
#define FUZZ_CHECK(cond, ...)                                                                 \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                                     \
            fputc('\n', stderr);                                                              \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

typedef struct {
    const uint8_t *p;
    size_t len;
} fuzz_input;

/* The next byte of the input, or `dflt` when it is used up. */
static inline uint8_t fuzz_byte(fuzz_input *in, uint8_t dflt)
{
    if (in->len == 0)
        return dflt;
    in->len--;
    return *in->p++;
}

static inline uint32_t fuzz_u32(fuzz_input *in)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = (v << 8) | fuzz_byte(in, 0);
    return v;
}

/* xorshift32: deterministic split sizes from a seed the fuzzer picked. */
typedef struct {
    uint32_t s;
} fuzz_rng;

static inline void fuzz_rng_init(fuzz_rng *r, uint32_t seed)
{
    r->s = seed ? seed : 0x9e3779b9u;
}

static inline uint32_t fuzz_rng_next(fuzz_rng *r)
{
    uint32_t x = r->s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    r->s = x;
    return x;
}

/* Length of the next piece, 1..remaining: mostly tiny (splits inside line
 * ends and terminators), sometimes large. */
static inline size_t fuzz_piece_len(fuzz_rng *r, size_t remaining)
{
    uint32_t x = fuzz_rng_next(r);
    size_t n;
    switch (x & 3u) {
    case 0:
        n = 1;
        break;
    case 1:
        n = 1 + ((x >> 2) % 4u);
        break;
    case 2:
        n = 1 + ((x >> 2) % 64u);
        break;
    default:
        n = remaining;
        break;
    }
    return n < remaining ? n : remaining;
}

#endif
