/* Unit tests of lib/base64.c, lib/security/sasl.c and lib/security/sasl_scram.c: strict base64,
 * every SASL mechanism's bytes, the published vectors (RFC 2195, RFC 5802,
 * RFC 7677) and the checks that make a hostile server fail the login. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "pop3async/pop3async.h"
#include "sasl.h"
#include "sasl_scram.h"
#include "saslprep.h"

/* ------------------------------------------------------------------ helpers */

#define ck_assert_bytes_eq(got, got_len, want, want_len)                                 \
    do {                                                                                 \
        ck_assert_uint_eq((got_len), (want_len));                                        \
        ck_assert_msg(memcmp((got), (want), (want_len)) == 0, "bytes differ: \"%.*s\"",  \
                      (int)(got_len), (const char *)(got));                              \
    } while (0)

/* Runs start and checks the initial response is exactly want. */
static void expect_start(pop3a_sasl *s, const char *want, size_t want_len)
{
    unsigned char *out = NULL;
    size_t len = 99;
    ck_assert_int_eq(pop3a_sasl_start(s, &out, &len), POP3A_SASL_CONTINUE);
    ck_assert_ptr_nonnull(out);
    ck_assert_bytes_eq(out, len, want, want_len);
    pop3a_sasl_response_free(out, len);
}

/* Feeds one challenge (a C string) and checks the response is exactly want. */
static void expect_step(pop3a_sasl *s, const char *challenge, const char *want,
                        size_t want_len)
{
    unsigned char *out = NULL;
    size_t len = 99;
    pop3a_sasl_rc rc =
        pop3a_sasl_step(s, (const unsigned char *)challenge, strlen(challenge), &out, &len);
    ck_assert_msg(rc == POP3A_SASL_CONTINUE, "step failed: %s", pop3a_sasl_error(s));
    ck_assert_ptr_nonnull(out);
    ck_assert_bytes_eq(out, len, want, want_len);
    pop3a_sasl_response_free(out, len);
}

/* Feeds one challenge and checks that it is refused. */
static void expect_step_error(pop3a_sasl *s, const char *challenge)
{
    unsigned char *out = (unsigned char *)"untouched";
    size_t len = 99;
    ck_assert_int_eq(
        pop3a_sasl_step(s, (const unsigned char *)challenge, strlen(challenge), &out, &len),
        POP3A_SASL_ERROR);
    ck_assert_ptr_null(out);
    ck_assert_uint_eq(len, 0);
    ck_assert_str_ne(pop3a_sasl_error(s), "");
}

/* pop3a_sasl_start refuses to begin: nothing handed out. */
static void expect_start_error(pop3a_sasl *s)
{
    unsigned char *out = NULL;
    size_t len = 0;
    ck_assert_int_eq(pop3a_sasl_start(s, &out, &len), POP3A_SASL_ERROR);
    ck_assert_ptr_null(out);
}

/* A mechanism that must be created (no channel binding, random nonce). */
static pop3a_sasl *new_mech(unsigned mech, const char *user, const char *secret)
{
    pop3a_sasl *s = pop3a_sasl_new(mech, user, secret, NULL, NULL);
    ck_assert_ptr_nonnull(s);
    return s;
}

#define S(lit) lit, sizeof(lit) - 1

/* ------------------------------------------------------------------- base64 */

static const struct {
    const char *raw, *b64;
} rfc4648_vectors[] = {
    /* RFC 4648 section 10 */
    {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

START_TEST(base64_encodes_rfc4648_vectors)
{
    size_t len = 99;
    char *enc = pop3a_b64_encode((const unsigned char *)rfc4648_vectors[_i].raw,
                                 strlen(rfc4648_vectors[_i].raw), &len);
    ck_assert_ptr_nonnull(enc);
    ck_assert_str_eq(enc, rfc4648_vectors[_i].b64);
    ck_assert_uint_eq(len, strlen(rfc4648_vectors[_i].b64));
    free(enc);
}
END_TEST

START_TEST(base64_decodes_rfc4648_vectors)
{
    size_t len = 99;
    const char *b64 = rfc4648_vectors[_i].b64;
    unsigned char *dec = pop3a_b64_decode(b64, strlen(b64), &len);
    ck_assert_ptr_nonnull(dec);
    ck_assert(pop3a_b64_valid(b64, strlen(b64)));
    ck_assert_bytes_eq(dec, len, rfc4648_vectors[_i].raw, strlen(rfc4648_vectors[_i].raw));
    ck_assert_int_eq(dec[len], '\0');
    free(dec);
}
END_TEST

START_TEST(base64_round_trips_every_byte_and_length)
{
    unsigned char raw[256];
    for (int i = 0; i < 256; i++)
        raw[i] = (unsigned char)(255 - i);
    for (size_t n = 0; n <= sizeof raw; n++) {
        size_t elen = 0, dlen = 0;
        char *enc = pop3a_b64_encode(raw, n, &elen);
        ck_assert_ptr_nonnull(enc);
        ck_assert_uint_eq(elen, (n + 2) / 3 * 4);
        unsigned char *dec = pop3a_b64_decode(enc, elen, &dlen);
        ck_assert_ptr_nonnull(dec);
        ck_assert_bytes_eq(dec, dlen, raw, n);
        free(enc);
        free(dec);
    }
}
END_TEST

/* Longer than the chunk the implementation hands to OpenSSL at once. */
START_TEST(base64_round_trips_input_larger_than_one_chunk)
{
    size_t n = 200001;
    unsigned char *raw = malloc(n);
    ck_assert_ptr_nonnull(raw);
    for (size_t i = 0; i < n; i++)
        raw[i] = (unsigned char)(i * 7 + i / 251);
    size_t elen = 0, dlen = 0;
    char *enc = pop3a_b64_encode(raw, n, &elen);
    ck_assert_ptr_nonnull(enc);
    ck_assert_uint_eq(strlen(enc), elen);
    unsigned char *dec = pop3a_b64_decode(enc, elen, &dlen);
    ck_assert_ptr_nonnull(dec);
    ck_assert_bytes_eq(dec, dlen, raw, n);
    free(raw);
    free(enc);
    free(dec);
}
END_TEST

static const char *const bad_base64[] = {
    "Zg=",       /* length not a multiple of 4 */
    "Zg",        /* missing padding */
    "Zg==\r\n",  /* line end */
    " Zg==",     /* leading space (OpenSSL would skip it) */
    "Zg== ",     /* trailing space */
    "Zm 9v",     /* inner space */
    "Z===",      /* three pad characters */
    "====",      /* nothing but padding */
    "Z=g=",      /* padding in the middle */
    "Zg=a",      /* data after padding */
    "Zg==Zm9v",  /* padding before more quanta */
    "Zh==",      /* non-zero pad bits */
    "Zm9=",      /* non-zero pad bits */
    "Zm9v!A==",  /* character outside the alphabet */
    "Zm9v-_==",  /* base64url alphabet is not base64 */
};

START_TEST(base64_rejects_malformed_input)
{
    size_t len = 99;
    const char *in = bad_base64[_i];
    ck_assert_msg(pop3a_b64_decode(in, strlen(in), &len) == NULL, "accepted \"%s\"", in);
    /* A NULL for this input is bad input, never taken for out of memory. */
    ck_assert_msg(!pop3a_b64_valid(in, strlen(in)), "\"%s\" called valid", in);
}
END_TEST

START_TEST(base64_rejects_embedded_nul)
{
    size_t len = 99;
    ck_assert_ptr_null(pop3a_b64_decode("Zm\0v", 4, &len));
    ck_assert(!pop3a_b64_valid("Zm\0v", 4));
}
END_TEST

START_TEST(base64_empty_input_decodes_to_empty_buffer)
{
    size_t len = 99;
    unsigned char *dec = pop3a_b64_decode("", 0, &len);
    ck_assert_ptr_nonnull(dec);
    ck_assert_uint_eq(len, 0);
    free(dec);
}
END_TEST

/* -------------------------------------------------------------------- PLAIN */

/* RFC 2195's user and secrets, for the mechanisms without a nonce. */
static pop3a_sasl *tim_plain(void)
{
    return new_mech(POP3A_MECH_PLAIN, "tim", "tanstaaf");
}

static pop3a_sasl *tim_login(void)
{
    return new_mech(POP3A_MECH_LOGIN, "tim", "tanstaaf");
}

static pop3a_sasl *tim_cram_md5(void)
{
    return new_mech(POP3A_MECH_CRAM_MD5, "tim", "tanstaaftanstaaf");
}

START_TEST(plain_sends_empty_authzid_user_and_password)
{
    pop3a_sasl *s = tim_plain();
    ck_assert_int_eq(pop3a_sasl_client_first(s), 1);
    ck_assert_str_eq(pop3a_sasl_mech_name(s), "PLAIN");
    expect_start(s, S("\0tim\0tanstaaf"));
    ck_assert_int_eq(pop3a_sasl_finish(s), 0);
    pop3a_sasl_free(s);
}
END_TEST

START_TEST(plain_refuses_a_challenge_after_the_initial_response)
{
    pop3a_sasl *s = tim_plain();
    expect_start(s, S("\0tim\0tanstaaf"));
    expect_step_error(s, "more?");
    ck_assert_int_eq(pop3a_sasl_finish(s), -1);
    pop3a_sasl_free(s);
}
END_TEST

/* RFC 5034 section 4: AUTH without an initial response gets "+ " first. */
START_TEST(plain_answers_empty_challenge_with_initial_response)
{
    pop3a_sasl *s = tim_plain();
    expect_step(s, "", S("\0tim\0tanstaaf"));
    ck_assert_int_eq(pop3a_sasl_finish(s), 0);
    pop3a_sasl_free(s);
}
END_TEST

START_TEST(plain_refuses_nonempty_challenge_before_initial_response)
{
    pop3a_sasl *s = tim_plain();
    expect_step_error(s, "Zm9v");
    pop3a_sasl_free(s);
}
END_TEST

START_TEST(start_twice_is_an_error)
{
    pop3a_sasl *s = tim_plain();
    expect_start(s, S("\0tim\0tanstaaf"));
    expect_start_error(s);
    pop3a_sasl_free(s);
}
END_TEST

/* -------------------------------------------------------------------- LOGIN */

/* Two prompts and the answer each must get: the standard ones, the same in
 * other case, and prompts the mechanism does not know (user, then password).
 * pending_after_first: finish must still fail after the first answer. */
static const struct {
    const char *prompt1, *answer1, *prompt2, *answer2;
    int pending_after_first;
} login_prompts[] = {
    {"Username:", "tim", "Password:", "tanstaaf", 1},
    {"PASSWORD:", "tanstaaf", "user name", "tim", 0},
    {"Who are you?", "tim", "Prove it", "tanstaaf", 0},
};

START_TEST(login_answers_two_prompts)
{
    pop3a_sasl *s = tim_login();
    ck_assert_int_eq(pop3a_sasl_client_first(s), 0);
    expect_step(s, login_prompts[_i].prompt1, login_prompts[_i].answer1,
                strlen(login_prompts[_i].answer1));
    if (login_prompts[_i].pending_after_first)
        ck_assert_int_eq(pop3a_sasl_finish(s), -1); /* password not sent yet */
    expect_step(s, login_prompts[_i].prompt2, login_prompts[_i].answer2,
                strlen(login_prompts[_i].answer2));
    ck_assert_int_eq(pop3a_sasl_finish(s), 0);
    pop3a_sasl_free(s);
}
END_TEST

START_TEST(login_refuses_a_third_challenge)
{
    pop3a_sasl *s = tim_login();
    expect_step(s, "Username:", S("tim"));
    expect_step(s, "Password:", S("tanstaaf"));
    expect_step_error(s, "Password:");
    ck_assert_int_eq(pop3a_sasl_finish(s), -1);
    pop3a_sasl_free(s);
}
END_TEST

START_TEST(login_start_is_an_error)
{
    pop3a_sasl *s = tim_login();
    expect_start_error(s);
    pop3a_sasl_free(s);
}
END_TEST

/* ----------------------------------------------------------------- CRAM-MD5 */

START_TEST(cram_md5_matches_rfc2195_example)
{
    pop3a_sasl *s = tim_cram_md5();
    ck_assert_int_eq(pop3a_sasl_client_first(s), 0);
    ck_assert_int_eq(pop3a_sasl_finish(s), -1);
    expect_step(s, "<1896.697170952@postoffice.reston.mci.net>",
                S("tim b913a602c7eda7a495b4e6e7334d3890"));
    ck_assert_int_eq(pop3a_sasl_finish(s), 0);
    pop3a_sasl_free(s);
}
END_TEST

START_TEST(cram_md5_refuses_empty_and_second_challenge)
{
    pop3a_sasl *s = tim_cram_md5();
    expect_step_error(s, "");
    pop3a_sasl_free(s);

    s = tim_cram_md5();
    expect_step(s, "<1896.697170952@postoffice.reston.mci.net>",
                S("tim b913a602c7eda7a495b4e6e7334d3890"));
    expect_step_error(s, "<again@host>");
    ck_assert_int_eq(pop3a_sasl_finish(s), -1);
    pop3a_sasl_free(s);
}
END_TEST

/* -------------------------------------------------------------------- SCRAM */

/* RFC 5802 section 5. */
#define SHA1_NONCE "fyko+d2lbbFgONRv9qkxdawL"
#define SHA1_SERVER_FIRST "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
#define SHA1_CLIENT_FINAL                                                                   \
    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
#define SHA1_SERVER_FINAL "v=rmF9pqV8S7suAoZWja4dJRkFsKQ="

/* RFC 7677 section 3. */
#define SHA256_NONCE "rOprNGfwEbeRWgbNEkqO"
#define SHA256_SERVER_FIRST                                                                 \
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define SHA256_CLIENT_FINAL                                                                 \
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9" \
    "zjfMHgsqmmiz7AndVQ="
#define SHA256_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static pop3a_sasl *scram_sha1_started(void)
{
    pop3a_sasl *s = pop3a_sasl_new(POP3A_MECH_SCRAM_SHA_1, "user", "pencil", NULL, SHA1_NONCE);
    ck_assert_ptr_nonnull(s);
    expect_start(s, S("n,,n=user,r=" SHA1_NONCE));
    return s;
}

/* Started and past the server-first message: the client-final was sent. */
static pop3a_sasl *scram_sha1_proved(void)
{
    pop3a_sasl *s = scram_sha1_started();
    expect_step(s, SHA1_SERVER_FIRST, S(SHA1_CLIENT_FINAL));
    return s;
}

START_TEST(scram_sha1_matches_rfc5802_example)
{
    pop3a_sasl *s = scram_sha1_started();
    ck_assert_str_eq(pop3a_sasl_mech_name(s), "SCRAM-SHA-1");
    expect_step(s, SHA1_SERVER_FIRST, S(SHA1_CLIENT_FINAL));
    ck_assert_int_eq(pop3a_sasl_finish(s), -1); /* server not yet verified */
    expect_step(s, SHA1_SERVER_FINAL, S(""));
    ck_assert_int_eq(pop3a_sasl_finish(s), 0);
    pop3a_sasl_free(s);
}
END_TEST

START_TEST(scram_sha256_matches_rfc7677_example)
{
    pop3a_sasl *s =
        pop3a_sasl_new(POP3A_MECH_SCRAM_SHA_256, "user", "pencil", NULL, SHA256_NONCE);
    ck_assert_str_eq(pop3a_sasl_mech_name(s), "SCRAM-SHA-256");
    expect_start(s, S("n,,n=user,r=" SHA256_NONCE));
    expect_step(s, SHA256_SERVER_FIRST, S(SHA256_CLIENT_FINAL));
    expect_step(s, SHA256_SERVER_FINAL, S(""));
    ck_assert_int_eq(pop3a_sasl_finish(s), 0);
    pop3a_sasl_free(s);
}
END_TEST

START_TEST(scram_rejects_wrong_server_signature)
{
    pop3a_sasl *s = scram_sha1_proved();
    /* One bit off in the last data character. */
    expect_step_error(s, "v=rmF9pqV8S7suAoZWja4dJRkFsKM=");
    ck_assert_int_eq(pop3a_sasl_finish(s), -1);
    pop3a_sasl_free(s);
}
END_TEST

START_TEST(scram_rejects_signature_of_wrong_length)
{
    pop3a_sasl *s = scram_sha1_proved();
    expect_step_error(s, "v=rmF9pqV8S7suAoZWja4dJRkF"); /* 18 bytes, not 20 */
    pop3a_sasl_free(s);
}
END_TEST

/* The server says +OK without ever sending v=: it never proved anything. */
START_TEST(scram_finish_without_server_signature_fails)
{
    pop3a_sasl *s = scram_sha1_proved();
    ck_assert_int_eq(pop3a_sasl_finish(s), -1);
    ck_assert_ptr_nonnull(strstr(pop3a_sasl_error(s), "signature"));
    pop3a_sasl_free(s);
}
END_TEST

static const char *const bad_iterations[] = {
    "0", "65537", "1000001", "4294967297", "99999999999", "-1", "+5", "04096", "4096x", "", "abc",
};

START_TEST(scram_rejects_absurd_iteration_count)
{
    char msg[256];
    snprintf(msg, sizeof msg, "r=" SHA1_NONCE "srv,s=QSXCR+Q6sek8bf92,i=%s", bad_iterations[_i]);
    pop3a_sasl *s = scram_sha1_started();
    expect_step_error(s, msg);
    ck_assert_int_eq(pop3a_sasl_finish(s), -1);
    pop3a_sasl_free(s);
}
END_TEST

START_TEST(scram_accepts_iteration_count_of_one)
{
    pop3a_sasl *s = scram_sha1_started();
    unsigned char *out = NULL;
    size_t len = 0;
    const char *msg = "r=" SHA1_NONCE "srv,s=QSXCR+Q6sek8bf92,i=1";
    ck_assert_int_eq(pop3a_sasl_step(s, (const unsigned char *)msg, strlen(msg), &out, &len),
                     POP3A_SASL_CONTINUE);
    ck_assert_ptr_nonnull(strstr((const char *)out, ",p="));
    pop3a_sasl_response_free(out, len);
    pop3a_sasl_free(s);
}
END_TEST

static const char *const bad_server_first[] = {
    /* The server nonce must extend ours. */
    "r=Xyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096", /* differs */
    "r=" SHA1_NONCE ",s=QSXCR+Q6sek8bf92,i=4096", /* exactly ours: the server added nothing */
    "r=fyko,s=QSXCR+Q6sek8bf92,i=4096",           /* shorter than ours */
    "m=ext,r=" SHA1_NONCE "srv,s=QSXCR+Q6sek8bf92,i=4096", /* mandatory extension */
    "s=QSXCR+Q6sek8bf92,r=" SHA1_NONCE "srv,i=4096",       /* attributes out of order */
    "r=" SHA1_NONCE "srv,s=QSXCR+Q6sek8bf9,i=4096",        /* salt is bad base64 */
    "r=" SHA1_NONCE "srv,s=,i=4096",                       /* empty salt */
    "r=" SHA1_NONCE "srv,s=QSXCR+Q6sek8bf92",              /* no iteration count */
    "r=" SHA1_NONCE "s\x01v,s=QSXCR+Q6sek8bf92,i=4096",    /* control char in nonce */
    "",
    "garbage",
};

START_TEST(scram_rejects_malformed_server_first)
{
    pop3a_sasl *s = scram_sha1_started();
    expect_step_error(s, bad_server_first[_i]);
    pop3a_sasl_free(s);
}
END_TEST

START_TEST(scram_reports_server_error_attribute)
{
    pop3a_sasl *s = scram_sha1_proved();
    expect_step_error(s, "e=invalid-proof");
    ck_assert_ptr_nonnull(strstr(pop3a_sasl_error(s), "invalid-proof"));
    ck_assert_int_eq(pop3a_sasl_finish(s), -1);
    pop3a_sasl_free(s);

    s = scram_sha1_started();
    expect_step_error(s, "e=unknown-user");
    ck_assert_ptr_nonnull(strstr(pop3a_sasl_error(s), "unknown-user"));
    pop3a_sasl_free(s);
}
END_TEST

START_TEST(scram_refuses_challenge_after_completion)
{
    pop3a_sasl *s = scram_sha1_proved();
    expect_step(s, SHA1_SERVER_FINAL, S(""));
    expect_step_error(s, SHA1_SERVER_FINAL);
    pop3a_sasl_free(s);
}
END_TEST

START_TEST(scram_escapes_comma_and_equals_in_user_name)
{
    pop3a_sasl *s = pop3a_sasl_new(POP3A_MECH_SCRAM_SHA_256, "a,b=c", "pencil", NULL, "abc");
    expect_start(s, S("n,,n=a=2Cb=3Dc,r=abc"));
    pop3a_sasl_free(s);
}
END_TEST

START_TEST(scram_random_nonce_is_printable_and_fresh)
{
    char first[128] = "";
    for (int round = 0; round < 2; round++) {
        pop3a_sasl *s = pop3a_sasl_new(POP3A_MECH_SCRAM_SHA_1, "user", "pencil", NULL, NULL);
        unsigned char *out = NULL;
        size_t len = 0;
        ck_assert_int_eq(pop3a_sasl_start(s, &out, &len), POP3A_SASL_CONTINUE);
        ck_assert_int_eq(strncmp((const char *)out, "n,,n=user,r=", 12), 0);
        const char *nonce = (const char *)out + 12;
        ck_assert_uint_ge(strlen(nonce), 16);
        for (const char *p = nonce; *p != '\0'; p++)
            ck_assert(*p >= 0x21 && *p <= 0x7e && *p != ',');
        if (round == 0)
            snprintf(first, sizeof first, "%s", nonce);
        else
            ck_assert_str_ne(first, nonce);
        pop3a_sasl_response_free(out, len);
        pop3a_sasl_free(s);
    }
}
END_TEST

START_TEST(scram_rejects_fixed_nonce_with_comma)
{
    pop3a_sasl *s = pop3a_sasl_new(POP3A_MECH_SCRAM_SHA_1, "user", "pencil", NULL, "ab,c");
    expect_start_error(s);
    pop3a_sasl_free(s);
}
END_TEST

/* RFC 5802 section 6 / RFC 9266: with binding data the gs2 header is
 * "p=tls-exporter,," and c= carries the header plus the data. */
START_TEST(scram_plus_binds_channel_data)
{
    static const unsigned char data[] = {0x00, 0x01, 0xfe, 0xff};
    pop3a_sasl_cb cb = {"tls-exporter", data, sizeof data};
    pop3a_sasl *s = pop3a_sasl_new(POP3A_MECH_SCRAM_SHA_256, "user", "pencil", &cb, "abc");
    ck_assert_str_eq(pop3a_sasl_mech_name(s), "SCRAM-SHA-256-PLUS");
    expect_start(s, S("p=tls-exporter,,n=user,r=abc"));

    /* c= is base64("p=tls-exporter,," 00 01 fe ff); the proof was computed
     * independently (Python hashlib/hmac) for these inputs. */
    expect_step(s, "r=abcdef,s=QSXCR+Q6sek8bf92,i=16",
                S("c=cD10bHMtZXhwb3J0ZXIsLAAB/v8=,r=abcdef,"
                  "p=Y7ex7OvFPBYm6pmIjEjpLFF87dJNJWX50DBe0uaEZIw="));
    pop3a_sasl_free(s);
}
END_TEST

START_TEST(scram_without_server_plus_sends_y_flag)
{
    pop3a_sasl_cb cb = {NULL, NULL, 0};
    pop3a_sasl *s = pop3a_sasl_new(POP3A_MECH_SCRAM_SHA_1, "user", "pencil", &cb, "abc");
    ck_assert_str_eq(pop3a_sasl_mech_name(s), "SCRAM-SHA-1");
    expect_start(s, S("y,,n=user,r=abc"));
    expect_step(s, "r=abcdef,s=QSXCR+Q6sek8bf92,i=16",
                S("c=eSws,r=abcdef,p=GXt9SJY8JxOZ7ywsc/Z7AGdGVV4="));
    pop3a_sasl_free(s);
}
END_TEST

START_TEST(scram_rejects_bad_channel_binding_type)
{
    static const unsigned char data[] = {1};
    pop3a_sasl_cb cb = {"tls exporter", data, 1};
    pop3a_sasl *s = pop3a_sasl_new(POP3A_MECH_SCRAM_SHA_1, "user", "pencil", &cb, "abc");
    expect_start_error(s);
    pop3a_sasl_free(s);
}
END_TEST

/* ----------------------------------------------------------------- SASLprep */

static const struct {
    const char *in, *want;
} saslprep_maps[] = {
    /* ASCII passes through. */
    {"user", "user"},
    {"USER", "USER"},
    {"p a$$ ~w0rd", "p a$$ ~w0rd"},
    {"", ""},
    /* RFC 4013 section 3 examples that need no normalisation tables. */
    {"I\xC2\xADX", "IX"},                /* U+00AD mapped to nothing */
    {"a\xC2\xA0" "b", "a b"},            /* U+00A0 NO-BREAK SPACE */
    {"a\xE3\x80\x80" "b", "a b"},        /* U+3000 IDEOGRAPHIC SPACE */
    {"a\xEF\xBB\xBF" "b", "ab"},         /* U+FEFF */
    {"caf\xC3\xA9", "caf\xC3\xA9"},      /* precomposed e-acute kept */
};

START_TEST(saslprep_maps_as_rfc4013_says)
{
    char *out = NULL;
    ck_assert_int_eq(pop3a_saslprep(saslprep_maps[_i].in, &out), 0);
    ck_assert_str_eq(out, saslprep_maps[_i].want);
    free(out);
}
END_TEST

static const char *const saslprep_refused[] = {
    "\x07",                  /* RFC 4013 example 6: U+0007 */
    "a\x7f",                 /* DEL */
    "a\xC2\x85",             /* U+0085, C.2.2 */
    "\xEE\x80\x80",          /* U+E000 private use */
    "\xEF\xBF\xBF",          /* U+FFFF non-character */
    "\xE2\x80\x8E",          /* U+200E LRM, C.8 */
    "\xC3",                  /* truncated */
    "\xC0\xAF",              /* overlong */
    "\xED\xA0\x80",          /* surrogate */
    "\xF4\x90\x80\x80",      /* beyond U+10FFFF */
    "\xFF",
};

START_TEST(saslprep_rejects_prohibited_and_invalid_input)
{
    char *out = NULL;
    ck_assert_msg(pop3a_saslprep(saslprep_refused[_i], &out) == -1, "row %d accepted", _i);
    ck_assert_ptr_null(out);
}
END_TEST

START_TEST(scram_rejects_password_with_control_character)
{
    pop3a_sasl *s = pop3a_sasl_new(POP3A_MECH_SCRAM_SHA_256, "user", "pen\x07" "cil", NULL, "a");
    expect_start_error(s);
    ck_assert_ptr_nonnull(strstr(pop3a_sasl_error(s), "SASLprep"));
    pop3a_sasl_free(s);
}
END_TEST

/* The prepared password is what PBKDF2 sees: a soft hyphen makes no difference. */
START_TEST(scram_uses_prepared_password)
{
    pop3a_sasl *s =
        pop3a_sasl_new(POP3A_MECH_SCRAM_SHA_1, "user", "pen\xC2\xAD" "cil", NULL, SHA1_NONCE);
    expect_start(s, S("n,,n=user,r=" SHA1_NONCE));
    expect_step(s, SHA1_SERVER_FIRST, S(SHA1_CLIENT_FINAL));
    expect_step(s, SHA1_SERVER_FINAL, S(""));
    ck_assert_int_eq(pop3a_sasl_finish(s), 0);
    pop3a_sasl_free(s);
}
END_TEST

/* ------------------------------------------------------------------ XOAUTH2 */

#define GOOGLE_ERROR                                                                       \
    "{\"status\":\"401\",\"schemes\":\"bearer\",\"scope\":\"https://mail.google.com/\"}"

START_TEST(xoauth2_sends_user_and_bearer_token)
{
    pop3a_sasl *s = pop3a_sasl_new(POP3A_MECH_XOAUTH2, "someuser@example.com",
                                   "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg", NULL, NULL);
    ck_assert_int_eq(pop3a_sasl_client_first(s), 1);
    expect_start(s, S("user=someuser@example.com\001auth=Bearer "
                      "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\001\001"));
    ck_assert_int_eq(pop3a_sasl_finish(s), 0);
    pop3a_sasl_free(s);
}
END_TEST

/* Outlook's two-line form: "AUTH XOAUTH2", "+", then the response. */
START_TEST(xoauth2_answers_empty_challenge_with_initial_response)
{
    pop3a_sasl *s = pop3a_sasl_new(POP3A_MECH_XOAUTH2, "u@example.com", "tok", NULL, NULL);
    expect_step(s, "", S("user=u@example.com\001auth=Bearer tok\001\001"));
    ck_assert_int_eq(pop3a_sasl_finish(s), 0);
    pop3a_sasl_free(s);
}
END_TEST

START_TEST(xoauth2_error_challenge_gets_empty_response_and_keeps_json)
{
    pop3a_sasl *s = pop3a_sasl_new(POP3A_MECH_XOAUTH2, "u@example.com", "tok", NULL, NULL);
    expect_start(s, S("user=u@example.com\001auth=Bearer tok\001\001"));
    expect_step(s, GOOGLE_ERROR, S(""));
    ck_assert_str_eq(pop3a_sasl_error(s), GOOGLE_ERROR);
    ck_assert_int_eq(pop3a_sasl_finish(s), -1);
    pop3a_sasl_free(s);
}
END_TEST

/* A control character in the user or the token could end a field early. */
static const struct {
    const char *user, *token;
} xoauth2_bad_credentials[] = {
    {"u\001auth=Bearer evil", "tok"},
    {"u\n", "tok"},
    {"u", "to\001k"},
};

START_TEST(xoauth2_refuses_control_characters)
{
    pop3a_sasl *s = pop3a_sasl_new(POP3A_MECH_XOAUTH2, xoauth2_bad_credentials[_i].user,
                                   xoauth2_bad_credentials[_i].token, NULL, NULL);
    expect_start_error(s);
    pop3a_sasl_free(s);
}
END_TEST

/* -------------------------------------------------------------- OAUTHBEARER */

#define RFC7628_ERROR                                                                      \
    "{\"status\":\"invalid_token\",\"scope\":\"example_scope\",\"openid-configuration\":" \
    "\"https://example.com/.well-known/openid-configuration\"}"

START_TEST(oauthbearer_sends_gs2_header_and_bearer_token)
{
    pop3a_sasl *s = pop3a_sasl_new(POP3A_MECH_OAUTHBEARER, "user@example.com",
                                   "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==", NULL, NULL);
    expect_start(s, S("n,a=user@example.com,\001auth=Bearer "
                      "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\001\001"));
    ck_assert_int_eq(pop3a_sasl_finish(s), 0);
    pop3a_sasl_free(s);
}
END_TEST

START_TEST(oauthbearer_escapes_user_and_omits_empty_authzid)
{
    pop3a_sasl *s = pop3a_sasl_new(POP3A_MECH_OAUTHBEARER, "a,b=c", "tok", NULL, NULL);
    expect_start(s, S("n,a=a=2Cb=3Dc,\001auth=Bearer tok\001\001"));
    pop3a_sasl_free(s);
    s = pop3a_sasl_new(POP3A_MECH_OAUTHBEARER, NULL, "tok", NULL, NULL);
    expect_start(s, S("n,,\001auth=Bearer tok\001\001"));
    pop3a_sasl_free(s);
}
END_TEST

/* RFC 7628 section 3.2.3: the client answers an error with a lone ^A. */
START_TEST(oauthbearer_error_challenge_gets_ctrl_a_and_keeps_json)
{
    pop3a_sasl *s = pop3a_sasl_new(POP3A_MECH_OAUTHBEARER, "user@example.com", "tok", NULL, NULL);
    expect_start(s, S("n,a=user@example.com,\001auth=Bearer tok\001\001"));
    expect_step(s, RFC7628_ERROR, S("\001"));
    ck_assert_str_eq(pop3a_sasl_error(s), RFC7628_ERROR);
    ck_assert_int_eq(pop3a_sasl_finish(s), -1);
    expect_step_error(s, RFC7628_ERROR); /* only one error challenge */
    pop3a_sasl_free(s);
}
END_TEST

START_TEST(oauth_error_text_has_control_characters_replaced)
{
    pop3a_sasl *s = pop3a_sasl_new(POP3A_MECH_OAUTHBEARER, "u", "tok", NULL, NULL);
    expect_start(s, S("n,a=u,\001auth=Bearer tok\001\001"));
    unsigned char *out = NULL;
    size_t len = 0;
    ck_assert_int_eq(pop3a_sasl_step(s, (const unsigned char *)"{\r\n\0}", 5, &out, &len),
                     POP3A_SASL_CONTINUE);
    ck_assert_str_eq(pop3a_sasl_error(s), "{???}");
    pop3a_sasl_response_free(out, len);
    pop3a_sasl_free(s);
}
END_TEST

/* ----------------------------------------------------------------- EXTERNAL */

START_TEST(external_sends_empty_or_authzid)
{
    pop3a_sasl *s = pop3a_sasl_new(POP3A_MECH_EXTERNAL, NULL, NULL, NULL, NULL);
    ck_assert_int_eq(pop3a_sasl_client_first(s), 1);
    expect_start(s, S(""));
    ck_assert_int_eq(pop3a_sasl_finish(s), 0);
    pop3a_sasl_free(s);

    s = pop3a_sasl_new(POP3A_MECH_EXTERNAL, "admin", NULL, NULL, NULL);
    expect_start(s, S("admin"));
    expect_step_error(s, "more?");
    pop3a_sasl_free(s);
}
END_TEST

/* ------------------------------------------------------------------ general */

START_TEST(new_refuses_non_sasl_or_multiple_mechanisms)
{
    ck_assert_ptr_null(pop3a_sasl_new(POP3A_MECH_USER, "u", "p", NULL, NULL));
    ck_assert_ptr_null(pop3a_sasl_new(POP3A_MECH_APOP, "u", "p", NULL, NULL));
    ck_assert_ptr_null(pop3a_sasl_new(0, "u", "p", NULL, NULL));
    ck_assert_ptr_null(
        pop3a_sasl_new(POP3A_MECH_PLAIN | POP3A_MECH_LOGIN, "u", "p", NULL, NULL));
    ck_assert_ptr_null(pop3a_sasl_new(1u << 20, "u", "p", NULL, NULL));
}
END_TEST

/* Cleartext: the secret (or a bearer token) crosses the wire as it is. */
static const struct {
    unsigned mech;
    int cleartext;
} cleartext_flags[] = {
    {POP3A_MECH_USER, 1},          {POP3A_MECH_PLAIN, 1},         {POP3A_MECH_LOGIN, 1},
    {POP3A_MECH_XOAUTH2, 1},       {POP3A_MECH_OAUTHBEARER, 1},   {POP3A_MECH_APOP, 0},
    {POP3A_MECH_CRAM_MD5, 0},      {POP3A_MECH_SCRAM_SHA_1, 0},   {POP3A_MECH_SCRAM_SHA_256, 0},
    {POP3A_MECH_EXTERNAL, 0},
};

START_TEST(cleartext_mechanisms_are_flagged)
{
    ck_assert_msg(pop3a_sasl_is_cleartext(cleartext_flags[_i].mech) ==
                      cleartext_flags[_i].cleartext,
                  "mechanism 0x%x: cleartext %d, want %d", cleartext_flags[_i].mech,
                  pop3a_sasl_is_cleartext(cleartext_flags[_i].mech), cleartext_flags[_i].cleartext);
}
END_TEST

START_TEST(error_is_empty_before_anything_fails)
{
    pop3a_sasl *s = pop3a_sasl_new(POP3A_MECH_SCRAM_SHA_1, "u", "p", NULL, NULL);
    ck_assert_str_eq(pop3a_sasl_error(s), "");
    pop3a_sasl_free(s);
    pop3a_sasl_free(NULL);
    pop3a_sasl_response_free(NULL, 0);
}
END_TEST

static Suite *sasl_suite(void)
{
    Suite *s = suite_create("sasl");
    TCase *tc = tcase_create("base64");
    size_t nvec = sizeof rfc4648_vectors / sizeof rfc4648_vectors[0];
    tcase_add_loop_test(tc, base64_encodes_rfc4648_vectors, 0, (int)nvec);
    tcase_add_loop_test(tc, base64_decodes_rfc4648_vectors, 0, (int)nvec);
    tcase_add_test(tc, base64_round_trips_every_byte_and_length);
    tcase_add_test(tc, base64_round_trips_input_larger_than_one_chunk);
    tcase_add_loop_test(tc, base64_rejects_malformed_input, 0,
                        (int)(sizeof bad_base64 / sizeof bad_base64[0]));
    tcase_add_test(tc, base64_rejects_embedded_nul);
    tcase_add_test(tc, base64_empty_input_decodes_to_empty_buffer);
    suite_add_tcase(s, tc);

    tc = tcase_create("simple");
    tcase_add_test(tc, plain_sends_empty_authzid_user_and_password);
    tcase_add_test(tc, plain_refuses_a_challenge_after_the_initial_response);
    tcase_add_test(tc, plain_answers_empty_challenge_with_initial_response);
    tcase_add_test(tc, plain_refuses_nonempty_challenge_before_initial_response);
    tcase_add_test(tc, start_twice_is_an_error);
    tcase_add_loop_test(tc, login_answers_two_prompts, 0,
                        (int)(sizeof login_prompts / sizeof login_prompts[0]));
    tcase_add_test(tc, login_refuses_a_third_challenge);
    tcase_add_test(tc, login_start_is_an_error);
    tcase_add_test(tc, cram_md5_matches_rfc2195_example);
    tcase_add_test(tc, cram_md5_refuses_empty_and_second_challenge);
    tcase_add_test(tc, external_sends_empty_or_authzid);
    tcase_add_test(tc, new_refuses_non_sasl_or_multiple_mechanisms);
    tcase_add_loop_test(tc, cleartext_mechanisms_are_flagged, 0,
                        (int)(sizeof cleartext_flags / sizeof cleartext_flags[0]));
    tcase_add_test(tc, error_is_empty_before_anything_fails);
    suite_add_tcase(s, tc);

    tc = tcase_create("scram");
    tcase_add_test(tc, scram_sha1_matches_rfc5802_example);
    tcase_add_test(tc, scram_sha256_matches_rfc7677_example);
    tcase_add_test(tc, scram_rejects_wrong_server_signature);
    tcase_add_test(tc, scram_rejects_signature_of_wrong_length);
    tcase_add_test(tc, scram_finish_without_server_signature_fails);
    tcase_add_loop_test(tc, scram_rejects_absurd_iteration_count, 0,
                        (int)(sizeof bad_iterations / sizeof bad_iterations[0]));
    tcase_add_test(tc, scram_accepts_iteration_count_of_one);
    tcase_add_loop_test(tc, scram_rejects_malformed_server_first, 0,
                        (int)(sizeof bad_server_first / sizeof bad_server_first[0]));
    tcase_add_test(tc, scram_reports_server_error_attribute);
    tcase_add_test(tc, scram_refuses_challenge_after_completion);
    tcase_add_test(tc, scram_escapes_comma_and_equals_in_user_name);
    tcase_add_test(tc, scram_random_nonce_is_printable_and_fresh);
    tcase_add_test(tc, scram_rejects_fixed_nonce_with_comma);
    tcase_add_test(tc, scram_plus_binds_channel_data);
    tcase_add_test(tc, scram_without_server_plus_sends_y_flag);
    tcase_add_test(tc, scram_rejects_bad_channel_binding_type);
    tcase_add_test(tc, scram_rejects_password_with_control_character);
    tcase_add_test(tc, scram_uses_prepared_password);
    suite_add_tcase(s, tc);

    tc = tcase_create("saslprep");
    tcase_add_loop_test(tc, saslprep_maps_as_rfc4013_says, 0,
                        (int)(sizeof saslprep_maps / sizeof saslprep_maps[0]));
    tcase_add_loop_test(tc, saslprep_rejects_prohibited_and_invalid_input, 0,
                        (int)(sizeof saslprep_refused / sizeof saslprep_refused[0]));
    suite_add_tcase(s, tc);

    tc = tcase_create("oauth");
    tcase_add_test(tc, xoauth2_sends_user_and_bearer_token);
    tcase_add_test(tc, xoauth2_answers_empty_challenge_with_initial_response);
    tcase_add_test(tc, xoauth2_error_challenge_gets_empty_response_and_keeps_json);
    tcase_add_loop_test(
        tc, xoauth2_refuses_control_characters, 0,
        (int)(sizeof xoauth2_bad_credentials / sizeof xoauth2_bad_credentials[0]));
    tcase_add_test(tc, oauthbearer_sends_gs2_header_and_bearer_token);
    tcase_add_test(tc, oauthbearer_escapes_user_and_omits_empty_authzid);
    tcase_add_test(tc, oauthbearer_error_challenge_gets_ctrl_a_and_keeps_json);
    tcase_add_test(tc, oauth_error_text_has_control_characters_replaced);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sasl_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
